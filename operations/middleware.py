import logging

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A lost database connection (or Redis, where a request needs it) is the service's
    trouble, not the player's input: answer 503 with a Retry-After (the transaction was
    rolled back; with an Idempotency-Key a retry is always safe), not a 500."""

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, (OperationalError, InterfaceError, redis.RedisError)):
            return None
        logger.warning(
            "Database or Redis unavailable on %s %s: %s", request.method, request.path, exception
        )
        detail = "The service is briefly unavailable. Please try again."
        if request.path.startswith("/api/"):
            response = JsonResponse({"code": "unavailable", "detail": detail}, status=503)
        else:
            response = HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
