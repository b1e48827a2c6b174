"""Server-sent event streams: what each stream answers (an `Answer`), and the two ways it
is served (DESIGN sections 8 and 9).

With a real-time engine (chatpot_project.engine) the web process only decides: who may
listen, and what a listener who needs no stream is told at once (a finished reply); then
it hands the connection to the engine. Without one (`bin/run`, a PaaS without it) the
app holds the streams itself: `StreamsApp`, a small ASGI application of its own in front
of Django's (chatpot_project.asgi). It holds no thread, no database connection and no
task per listener beyond the stream's own coroutine: Django's request cycle would keep a
thread for every open stream (its thread-sensitive middleware and signal hooks, measured:
2,003 threads at 2,000 streams), so the streams go without it, reading the database
through one thread of their own. A WSGI server cannot stream at all: asked there, a
stream says what there is now and ends, and the client (EventSource) comes back soon.
"""

import asyncio
import functools
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from . import engine, metrics
from .authentication import PlayerTokenAuthentication

logger = logging.getLogger(__name__)

HEARTBEAT = b": keep-alive\n\n"
RETRY_SOON = b"retry: 1000\n\n"  # what a stream that ends at once tells EventSource
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # no proxy on the way holds the events back
]


def event(name: str, data, *, id: str = "") -> bytes:
    line = f"id: {id}\n" if id else ""
    return f"{line}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass
class Listener:
    """Who asks for a stream: the request's headers (lower-case names) and cookies."""

    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    query: str = ""
    # False: the stream is asked of a server that cannot hold it (WSGI).
    held: bool = True

    @property
    def last_event_id(self) -> str | None:
        """The last event the client heard: EventSource's header, or a `last_event_id`
        parameter (a tab that takes the stream over from another)."""
        found = self.headers.get("last-event-id")
        if found is None:
            found = next(iter(parse_qs(self.query).get("last_event_id", [])), None)
        return found

    @classmethod
    def of_request(cls, request: HttpRequest) -> "Listener":
        headers = {name.lower(): value for name, value in request.headers.items()}
        return cls(
            headers=headers,
            cookies=dict(request.COOKIES),
            query=request.META.get("QUERY_STRING", ""),
            held=_held(request),
        )

    @classmethod
    def of_scope(cls, scope: dict) -> "Listener":
        headers = {}
        for name, value in scope["headers"]:
            name = name.decode("latin-1").lower()
            value = value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a cookie header that does not parse names nobody
            cookies = SimpleCookie()
        return cls(
            headers=headers,
            cookies={name: morsel.value for name, morsel in cookies.items()},
            query=scope.get("query_string", b"").decode("latin-1"),
        )


def _held(request: HttpRequest) -> bool:
    if isinstance(request, ASGIRequest):
        return True
    if not engine.enabled():
        logger.warning("%s was asked of the WSGI process: it can only answer once", request.path)
    return False


@dataclass
class Answer:
    """What a stream answers: an error (status and JSON), the events (held open or, if
    `once`, what there is now), or, with the engine, the engine's location to hand the
    connection to."""

    events: AsyncIterator[bytes] | None = None
    status: int = 200
    error: dict | None = None
    engine_location: str = ""

    @classmethod
    def refused(cls, status: int, code: str, detail: str) -> "Answer":
        return cls(status=status, error={"code": code, "detail": detail})


NOT_AUTHENTICATED = ("not_authenticated", "Authentication credentials were not provided.")
NOT_FOUND = ("not_found", "Not found.")


async def player_of(listener: Listener) -> int | None:
    """The key of the player a stream is for: a bearer token's (API clients, checked by
    its signature alone: the stream's own query checks the player is active), or the
    session's (the pages). None when neither names an active player."""
    authorization = listener.headers.get("authorization")
    if authorization is not None:
        authentication = PlayerTokenAuthentication()
        try:
            raw_token = authentication.get_raw_token(authorization.encode("latin-1"))
            if raw_token is None:
                return None
            return authentication.token_player_id(raw_token)
        except (InvalidToken, AuthenticationFailed, UnicodeEncodeError):
            return None
    session_key = listener.cookies.get(settings.SESSION_COOKIE_NAME)
    return await _session_player(session_key) if session_key else None


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


@stream_database
def _session_player(session_key: str) -> int | None:
    """The active player signed in with this session, as Django's auth checks it."""
    from django.contrib import auth
    from django.contrib.sessions.backends.base import SessionBase
    from django.utils.module_loading import import_string

    store: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)

    class SignedIn:  # what django.contrib.auth.get_user reads of a request
        session = store

    user = auth.get_user(SignedIn())
    return user.pk if user.is_authenticated and user.is_active else None


# -- served by Django (the web process, and the WSGI fallback) --------------------------


def as_response(answer: Answer, *, query: str = ""):
    if answer.error is not None:
        response = JsonResponse(answer.error, status=answer.status)
        if answer.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if answer.engine_location:  # the query (a tab's last event heard) goes along
        return engine.hand_over(answer.engine_location + (f"?{query}" if query else ""))
    response = StreamingHttpResponse(answer.events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def stream_view(answering: Callable[..., Awaitable[Answer]]):
    """A Django view of a stream: `answering(listener, **url_kwargs)` decides."""

    @functools.wraps(answering)
    async def view(request: HttpRequest, **kwargs):
        if request.method != "GET":
            detail = f'Method "{request.method}" not allowed.'
            response = JsonResponse({"code": "method_not_allowed", "detail": detail}, status=405)
            response["Allow"] = "GET"
            return response
        listener = Listener.of_request(request)
        return as_response(await answering(listener, **kwargs), query=listener.query)

    return view


# -- served by StreamsApp (no engine: bin/run, a PaaS without it) -----------------------


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern
    answering: Callable[..., Awaitable[Answer]]
    converters: dict[str, Callable[[str], object]] = field(default_factory=dict)


class StreamsApp:
    """The streams as an ASGI application of their own: `routes` are tried on every
    request's path; any other request goes to `django`."""

    def __init__(self, django, routes: list[Route]):
        self.django = django
        self.routes = routes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":  # nothing to set up or tear down
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] == "http":
            for route in self.routes:
                if (found := route.pattern.fullmatch(scope["path"])) is not None:
                    await self._serve(route, found, scope, receive, send)
                    return
        await self.django(scope, receive, send)

    async def _serve(self, route: Route, found: re.Match, scope, receive, send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send_json(send, 405, {"code": "method_not_allowed", "detail": "GET only."})
            return
        kwargs = {
            name: route.converters.get(name, str)(value)
            for name, value in found.groupdict().items()
        }
        answer = await route.answering(Listener.of_scope(scope), **kwargs)
        if answer.error is not None:
            await _send_json(send, answer.status, answer.error)
            return
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        await _stream(answer.events, receive, send)


async def _send_json(send, status: int, body: dict) -> None:
    headers = [(b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="api"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


async def _stream(events: AsyncIterator[bytes], receive, send) -> None:
    """Send the events as they come, until they end or the client goes."""
    gone = asyncio.ensure_future(_disconnected(receive))
    metrics.APP_LISTENERS.inc()
    try:
        while True:
            coming = asyncio.ensure_future(anext(events))
            await asyncio.wait([coming, gone], return_when=asyncio.FIRST_COMPLETED)
            if not coming.done():  # the client went first
                coming.cancel()
                await asyncio.gather(coming, return_exceptions=True)
                return
            try:
                chunk = coming.result()
            except StopAsyncIteration:
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except OSError:
        pass  # the client went
    finally:
        metrics.APP_LISTENERS.dec()
        gone.cancel()
        await events.aclose()


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
