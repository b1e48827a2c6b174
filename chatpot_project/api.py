"""What every API view shares: throttles, and errors with a stable `code`."""

import functools
import math
import os
import threading
import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
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


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown API paths answer in JSON too."""
    return JsonResponse({"code": "not_found", "detail": "No such API endpoint."}, status=404)


@functools.cache
def _redis_url() -> str | None:
    """The cache's Redis, if the cache is Redis."""
    cache_settings = settings.CACHES["default"]
    return cache_settings["LOCATION"] if cache_settings["BACKEND"].endswith("RedisCache") else None


_clients = threading.local()


def _redis() -> "redis.Redis | None":
    """This thread's client of the cache's Redis, holding one connection, as each thread
    holds its own database connection: no pool to take it from and give it back to on
    every command. A process forked from this one makes its own."""
    url = _redis_url()
    if url is None:
        return None
    client = getattr(_clients, "client", None)
    if client is None or _clients.pid != os.getpid():
        client = _clients.client = redis.Redis.from_url(url, single_connection_client=True)
        _clients.pid = os.getpid()
    return client


@functools.cache
def _count_script():
    # INCR, and EXPIRE on the window's first request: one command, atomic in Redis.
    # Each call names the thread's client; the one it is registered with is only a default.
    return _redis().register_script(
        "local count = redis.call('INCR', KEYS[1]) "
        "if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
        "return count"
    )


def _uses_redis() -> bool:
    return _redis_url() is not None


def count_request(key: str, *, timeout: int) -> int:
    """Count one more request under `key`, atomically, in the shared cache.

    With Redis: one script that increments the count and starts the window's expiry,
    in one round trip. Otherwise the cache's own add and incr (the local-memory cache is
    one process's, and atomic within it).
    """
    client = _redis()
    if client is not None:  # the key is the cache's own, made from ours, which is valid
        return _count_script()(keys=[cache.make_key(key)], args=[timeout], client=client)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the window's key expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


class FixedWindowThrottle(BaseThrottle):
    """At most N requests per window, counted in the shared cache with an atomic increment,
    so every process behind the load balancer counts against the same limit."""

    scope = ""

    def __init__(self):
        number, period = self.parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        self.number, self.period = number, period
        self._wait = 0.0

    @staticmethod
    def parse_rate(rate: str) -> tuple[int, int]:
        number, unit = rate.split("/")
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.strip()[0].lower()]
        return int(number), seconds

    def identity(self, request) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        now = time.time()
        window = int(now // self.period)
        key = f"throttle:{self.scope}:{self.identity(request)}:{window}"
        count = count_request(key, timeout=self.period + 1)
        if count > self.number:
            self._wait = (window + 1) * self.period - now
            return False
        return True

    def wait(self) -> float:
        return self._wait


class PerAddressThrottle(FixedWindowThrottle):
    def identity(self, request) -> str:
        return self.get_ident(request)


class RegisterThrottle(PerAddressThrottle):
    scope = "register"


class TokenThrottle(PerAddressThrottle):
    scope = "token"


class SendThrottle(FixedWindowThrottle):
    scope = "send"

    def identity(self, request) -> str:
        return str(request.user.pk)


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
