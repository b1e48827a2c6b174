"""/healthz for load balancers: is the database reachable? Answered before host checks,
so a balancer probing by IP address gets an answer too."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


def health_response() -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("Health check: the database is unreachable")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


class HealthCheckMiddleware(MiddlewareMixin):
    """Answers /healthz itself; async-capable, so that under ASGI the streams pass by
    without a thread of their own."""

    def process_request(self, request: HttpRequest):
        if request.path in (HEALTH_PATH, HEALTH_PATH + "/") and request.method in ("GET", "HEAD"):
            response = health_response()
            response["Cache-Control"] = "no-store"
            return response
        return None
