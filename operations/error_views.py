"""Django's error pages, answered in JSON on the API's paths: whatever fails before or
outside DRF (a body too large to read, a crash), an API client still gets JSON with a
stable `code`."""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

TOO_LARGE = {"code": "too_large", "detail": "The request body is too large."}

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(TOO_LARGE, status=413)
    return JsonResponse({"code": "invalid", "detail": "The request was malformed."}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse({"code": "permission_denied", "detail": "Not allowed."}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    return JsonResponse(
        {"code": "server_error", "detail": "Something went wrong on our side."}, status=500
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not _is_api(request):
        return csrf.csrf_failure(request, reason)
    return JsonResponse(
        {"code": "permission_denied", "detail": "CSRF verification failed."}, status=403
    )
