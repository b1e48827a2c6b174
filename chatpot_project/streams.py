"""Server-sent events from async views (served by the ASGI process, DESIGN section 8)."""

import functools
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from .authentication import PlayerTokenAuthentication

logger = logging.getLogger(__name__)

HEARTBEAT = b": keep-alive\n\n"


def event(name: str, data) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def served_by_asgi(request: HttpRequest) -> bool:
    """A WSGI server cannot stream: Django reads a stream's events to their end before it
    answers. There a stream says what there is now and ends; the client (EventSource)
    comes back a second later, as if it polled. The proxy should send the streams to the
    ASGI process (docs/OPERATIONS.md)."""
    if isinstance(request, ASGIRequest):
        return True
    logger.warning("%s was asked of the WSGI process: it can only answer once", request.path)
    return False


RETRY_SOON = b"retry: 1000\n\n"  # what a stream that ends at once tells EventSource


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


async def stream_player(request: HttpRequest) -> int | None:
    """The key of the player a stream is for: a bearer token's (API clients, checked by
    its signature alone: the stream's own query checks the player is active), or the
    session's (the pages). None when neither names an active player."""
    authentication = PlayerTokenAuthentication()
    if (header := authentication.get_header(request)) is not None:
        raw_token = authentication.get_raw_token(header)
        if raw_token is None:
            return None
        try:
            return authentication.token_player_id(raw_token)
        except (InvalidToken, AuthenticationFailed):
            return None
    user = await request.auser()
    if isinstance(request, ASGIRequest):
        await release_database()  # the session's, read in this request's own thread
    return user.pk if user.is_authenticated and user.is_active else None


@sync_to_async
def release_database() -> None:
    """Close this request's database connection, under ASGI: a stream holds its request
    open for long, and must not hold a connection all that while."""
    connections.close_all()


# The streams' reads go through one thread of their own, its connection kept from one
# stream to the next. Under ASGI each request's sync code runs in a thread of its own,
# which opens a connection for the request and closes it at its end: measured with 128
# players following replies, a stream process spent 9.8 ms of CPU per message, PostgreSQL
# 3.4, much of it opening connections.
_DATABASE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streams-database")


def stream_database(function):
    """`function` (which uses the database), as a coroutine run in the streams' thread."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DatabaseError:
            connections.close_all()  # a broken connection is replaced on the next read
            raise

    return sync_to_async(guarded, thread_sensitive=False, executor=_DATABASE_THREAD)


def close_stream_database() -> None:
    """Close the streams' thread's connection (a server that stops, a test that ends)."""
    _DATABASE_THREAD.submit(connections.close_all).result()
