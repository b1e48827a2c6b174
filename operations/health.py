"""/healthz for load balancers: is the database reachable? Answered before host checks,
so a balancer probing by IP address gets an answer too. `/healthz?detail=1`, for staff
signed in, adds what each app registered (`detail`): the latest ledger audit
(wallet.metrics) and the keeper's queue (keeper.metrics)."""

import logging
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.deprecation import MiddlewareMixin

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
DETAILS: dict[str, Callable[[], object]] = {}


def detail(name: str, read: Callable[[], object]) -> None:
    """Register what `/healthz?detail=1` says under `name`: `read()`, when asked."""
    DETAILS[name] = read


def database_health() -> tuple[dict, int]:
    """What /healthz says of the database, and its status code."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("Health check: the database is unreachable")
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200


def health_response() -> JsonResponse:
    health, status = database_health()
    return JsonResponse(health, status=status)


class HealthCheckMiddleware(MiddlewareMixin):
    """Answers /healthz itself; async-capable, so that under ASGI the streams pass by
    without a thread of their own."""

    def process_request(self, request: HttpRequest):
        if (
            request.path in (HEALTH_PATH, HEALTH_PATH + "/")
            and request.method in ("GET", "HEAD")
            and "detail" not in request.GET
        ):
            response = health_response()
            response["Cache-Control"] = "no-store"
            return response
        return None


def health_detail(request: HttpRequest) -> JsonResponse:
    """What an operator watches beside the database: the ledger's latest audit and the
    replies waiting for a worker. Staff only."""
    if not (request.user.is_active and request.user.is_staff):
        status = 403 if request.user.is_authenticated else 401
        return JsonResponse({"code": "forbidden", "detail": "Staff only."}, status=status)
    health, status = database_health()
    if status != 200:
        return JsonResponse(health, status=status)
    said = {**health, **{name: read() for name, read in DETAILS.items()}}
    return JsonResponse(said, headers={"Cache-Control": "no-store"})
