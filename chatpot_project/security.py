"""Answers for locked-out log-ins: JSON for the API, a page for people."""

import math

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    cool_off = get_cool_off(request)
    retry_after = math.ceil(cool_off.total_seconds()) if cool_off else None
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
