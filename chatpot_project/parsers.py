"""The API's request parser. Its own module: DRF reads it while defining its views, so
it must not import them."""

import json

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose strings can be stored: lone surrogates are refused with a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError("The body holds text that is not valid Unicode.") from None
        return data
