"""The API's schema beyond what drf-spectacular reads from the views: error bodies, the
413 every body may meet, and the streams (async views it does not read)."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


# Error bodies, for the schema.
class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: `invalid`, `not_found` ...")
    detail = serializers.CharField(help_text="What went wrong, for people.")


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per field, when the problem is in given fields.",
    )


class InsufficientFundsSerializer(ErrorSerializer):
    price = serializers.IntegerField()
    balance = serializers.IntegerField()


class ThrottledSerializer(ErrorSerializer):
    retry_after = serializers.IntegerField(help_text="Seconds to wait before trying again.")


ERRORS = {
    400: OpenApiResponse(ValidationErrorSerializer, description="Invalid input (`invalid`)."),
    401: OpenApiResponse(ErrorSerializer, description="Missing, expired or invalid token."),
    402: OpenApiResponse(InsufficientFundsSerializer, description="`insufficient_funds`."),
    404: OpenApiResponse(ErrorSerializer, description="`not_found`."),
    409: OpenApiResponse(ErrorSerializer, description="Conflict with an earlier request."),
    429: OpenApiResponse(ThrottledSerializer, description="`throttled`: wait `retry_after` s."),
    503: OpenApiResponse(
        ErrorSerializer, description="`busy` or `unavailable`: nothing was kept; send again."
    ),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


def document_body_limit(result, generator, request, public):
    """drf-spectacular post-processing: any operation that reads a body may answer 413,
    as every one does past Django's upload limit (`StrictJSONParser`)."""
    too_large = {
        "description": "`too_large`: the body is over the size the API reads.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"].setdefault("413", too_large)
    return result


def event_stream(names: list[str]) -> dict:
    """A stream of server-sent events: each an `event` name and its `data`, JSON text."""
    return {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "properties": {
                    "event": {"type": "string", "enum": names},
                    "data": {"type": "string", "description": "The event's data, as JSON."},
                },
                "required": ["event", "data"],
            }
        }
    }


ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
MESSAGE_ID = {
    "in": "path",
    "name": "message_id",
    "schema": {"type": "integer"},
    "required": True,
    "description": "Message",
}
# The streams are plain views handing over to the real-time engine (live.views), which
# drf-spectacular does not read: they are described here, as a client sees them.
STREAMS = {
    "/api/v1/messages/{message_id}/stream": {
        "get": {
            "operationId": "messages_stream",
            "summary": "The keeper's reply as it is written (server-sent events)",
            "description": (
                '`event: token` with `data: {"text": "<the next piece>", "offset": <where it '
                'starts, in characters>, "message": <the message\'s id>}`, then one '
                "`event: done` whose data is the message as `GET /api/v1/messages/{id}` shows "
                "it; the stream then ends. A client that comes late first gets the text so far; "
                "a finished reply answers `done` at once. A bearer token, or the session of the "
                "site's pages."
            ),
            "tags": ["chat"],
            "parameters": [MESSAGE_ID],
            "security": [{"jwtAuth": []}],
            "responses": {
                "200": {
                    "description": "The stream of events.",
                    "content": event_stream(["token", "done"]),
                },
                "401": {"description": "Missing, expired or invalid token.", "content": ERROR},
                "404": {"description": "`not_found`: no message of yours.", "content": ERROR},
            },
        }
    },
    "/api/v1/events": {
        "get": {
            "operationId": "events",
            "summary": "The pot and its winners as they change (server-sent events)",
            "description": (
                "Public. First where things stand (the pot), then as they happen: "
                "`event: pot` `{round, amount}` (at most 4 a second, always the latest), "
                "`event: win` `{round, winner, payout, server_seed}` for every win, and "
                "`event: round` `{round, server_seed_hash}` when a round opens. Win and round "
                "events have ids: reconnecting with the last one heard (`Last-Event-ID`), a "
                "client is first told every win and round it missed."
            ),
            "tags": ["pot"],
            "security": [{}],
            "responses": {
                "200": {
                    "description": "The stream of events.",
                    "content": event_stream(["pot", "win", "round"]),
                }
            },
        }
    },
}


def document_streams(result, generator, request, public):
    """drf-spectacular post-processing: the stream endpoints, in the schema."""
    result.setdefault("paths", {}).update(STREAMS)
    return result
