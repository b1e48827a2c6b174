"""The API's errors: JSON with a stable `code`, each domain error mapped once."""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.errors import ChatPotError
from operations.error_views import TOO_LARGE

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
    """A domain error as the error says it: its status, its data, its headers."""
    return Response(error.data(), status=error.status, headers=error.headers())


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
