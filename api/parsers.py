"""The API's request parser. Its own module: DRF reads it while defining its views, so
it must not import them."""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose strings can be stored, of a sane size and depth: lone surrogates and deep
    nesting are refused with a 400, an oversized body with a 413, never a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        if request is not None and _too_big(request):
            raise RequestDataTooBig("The request body is too large.")
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise exceptions.ParseError("The JSON is nested too deeply.") from None
        except UnicodeEncodeError:
            raise exceptions.ParseError("The body holds text that is not valid Unicode.") from None
        return data


def _too_big(request) -> bool:
    """The body declares more than Django would read into memory for a form."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # the server refuses a malformed length before it reaches us
    return limit is not None and declared > limit
