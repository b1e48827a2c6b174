"""What every API view shares: errors with a stable `code`, and their schema."""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from chat.errors import IdempotencyConflict, PlayerUnavailable, PotBusy
from wallet.errors import ClaimTooEarly, ClaimUnavailable, InsufficientFunds

from .errors import ChatPotError

DOMAIN_STATUS = {
    InsufficientFunds: status.HTTP_402_PAYMENT_REQUIRED,
    ClaimTooEarly: status.HTTP_429_TOO_MANY_REQUESTS,
    IdempotencyConflict: status.HTTP_409_CONFLICT,
    ClaimUnavailable: status.HTTP_409_CONFLICT,
    PotBusy: status.HTTP_503_SERVICE_UNAVAILABLE,
    PlayerUnavailable: status.HTTP_401_UNAUTHORIZED,
}

TOO_LARGE = {"code": "too_large", "detail": "The request body is too large."}

# DRF's own codes, renamed where the API promises another.
CODE_NAMES = {"parse_error": "invalid", "not_found": "not_found", "throttled": "throttled"}


def exception_handler(exc, context):
    if isinstance(exc, ChatPotError):
        return domain_error_response(exc)
    if isinstance(exc, RequestDataTooBig):
        return Response(TOO_LARGE, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": _first_message(exc.detail),
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    elif isinstance(exc, exceptions.Throttled):
        retry_after = math.ceil(exc.wait or 1)
        response.data = {
            "code": "throttled",
            "detail": "Too many requests. Try again later.",
            "retry_after": retry_after,
        }
        response["Retry-After"] = str(retry_after)
    else:
        response.data = {"code": _code_of(exc), "detail": _first_message(exc.detail)}
    return response


def domain_error_response(error: ChatPotError) -> Response:
    data = {"code": error.code, "detail": error.detail}
    response_status = DOMAIN_STATUS.get(type(error), status.HTTP_400_BAD_REQUEST)
    headers = {}
    if isinstance(error, InsufficientFunds):
        data.update(price=error.price, balance=error.balance)
    elif isinstance(error, ClaimTooEarly):
        data.update(code="throttled", retry_after=error.retry_after)
        headers["Retry-After"] = str(error.retry_after)
    return Response(data, status=response_status, headers=headers)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, dict):  # simplejwt's token errors carry their code in a dict
        codes = codes.get("code", exc.default_code)
    if isinstance(codes, list):
        codes = codes[0] if codes else exc.default_code
    code = str(codes)
    return CODE_NAMES.get(code, code)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return _first_message(detail["detail"])
        for field, messages in detail.items():
            message = _first_message(messages)
            return message if field == "non_field_errors" else f"{field}: {message}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


@csrf_exempt  # changes nothing, whatever the method: a POST gets the same 404
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown API paths answer in JSON too."""
    return JsonResponse({"code": "not_found", "detail": "No such API endpoint."}, status=404)


class TextField(serializers.CharField):
    """A string, and only a string: DRF's CharField would turn 0 or true into text."""

    default_error_messages = {"not_text": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_text")
        return super().to_internal_value(data)


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
# The streams are async views (chat.streams, pot.streams), which drf-spectacular does not
# read: they are described here, as a client sees them.
STREAMS = {
    "/api/v1/messages/{message_id}/stream": {
        "get": {
            "operationId": "messages_stream",
            "summary": "The keeper's reply as it is written (server-sent events)",
            "description": (
                '`event: token` with `data: {"text": "<the next piece>"}`, then one '
                "`event: done` whose data is the message as `GET /api/v1/messages/{id}` shows "
                "it; the stream then ends. A client that comes late first gets the text so far "
                "as one `token`; a finished reply answers `done` at once. A comment line "
                "(`: keep-alive`) comes every 15 s while nothing else does. A bearer token, or "
                "the session of the site's pages."
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
                "Public. First the open round and the pot, then as they happen: "
                "`event: pot` `{round, amount}` (at most 4 a second, always the latest), "
                "`event: win` `{round, winner, payout, server_seed}` for every win, and "
                "`event: round` `{round, server_seed_hash}` when a round opens. A comment "
                "line (`: keep-alive`) comes every 15 s while nothing else does."
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
