"""Server-sent events from async views (served by the ASGI process, DESIGN section 8)."""

import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from .authentication import PlayerTokenAuthentication

HEARTBEAT = b": keep-alive\n\n"


def event(name: str, data) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def event_stream(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    """An open stream of events: never cached, never buffered by a proxy on the way."""
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def api_error(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"code": code, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


async def stream_player(request: HttpRequest):
    """The player a stream is for: a bearer token's (API clients), or the session's (the
    pages). None when neither names an active player."""
    authentication = PlayerTokenAuthentication()
    if (header := authentication.get_header(request)) is not None:
        raw_token = authentication.get_raw_token(header)
        if raw_token is None:
            return None
        try:
            token = authentication.get_validated_token(raw_token)
            return await sync_to_async(authentication.get_user)(token)
        except (InvalidToken, AuthenticationFailed):
            return None
    user = await request.auser()
    return user if user.is_authenticated and user.is_active else None


@sync_to_async
def release_database() -> None:
    """Close this request's database connection: a stream holds its request open for long,
    and must not hold a connection all that while."""
    connections.close_all()
