"""Serializer fields the API's forms share."""

from rest_framework import serializers


class TextField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn 0 or true into text."""

    default_error_messages = {"not_text": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)
