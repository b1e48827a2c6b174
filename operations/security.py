"""Answers for locked-out log-ins: JSON for the API, a page for people."""

import math
from datetime import timedelta

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from . import metrics

LOCKED_OUT_STATUS = 429


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    metrics.locked_out()
    cool_off = get_cool_off(request)
    retry_after = _time_left(request, credentials, cool_off) if cool_off else None
    detail = "Too many failed log-ins. Try again later."
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": "throttled", "detail": detail, "retry_after": retry_after or 0},
            status=LOCKED_OUT_STATUS,
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"detail": detail, "cool_off": cool_off},
            status=LOCKED_OUT_STATUS,
        )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _time_left(request: HttpRequest, credentials, cool_off: timedelta) -> int:
    """Seconds until the lock-out ends: the cool-off counts from the last failure that was
    counted (failures while locked out are not, AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT)."""
    last_failure = (
        AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    if last_failure is None:
        return math.ceil(cool_off.total_seconds())
    return max(1, math.ceil((last_failure + cool_off - timezone.now()).total_seconds()))
