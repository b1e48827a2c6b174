"""The real-time engine that holds every stream: nginx's nchan module in production
(deploy/nginx.conf.template, run by bin/proxy), and under `bin/run` and the tests its
stand-in (live.devengine), which speaks the same contract (docs/LIVE.md).

Django decides what is said and who may listen; the engine holds the listeners. The app
publishes each chunk of events once to every engine (LIVE_PUBLISH_URLS: one request per
engine, however many listen there), and hands a listener's connection over to the engine
it came through with an `X-Accel-Redirect` to one of the engine's internal locations.

What is published is server-sent events written by the app (live.events), passed on as
they are: one publish can carry several events (a tick of the announcer), which each
listener gets in one write. Measured on 2 cores, an engine that wrote each event apart
spent a core on 10,000 listeners at ten events a second.
"""

import asyncio
import http.client
import json
import logging
import threading
import urllib.parse
import weakref
from dataclasses import dataclass

import aiohttp
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
# Each engine names itself: in its publisher's answers, and to the app on every listener
# it passes on (nginx sets it; a client's own is replaced).
NAME_HEADER = "X-Live-Engine"


def publisher_key() -> str:
    """What the app's publishes carry (X-Live-Key): the stand-in, whose publisher shares the
    public's port, takes no publish without it; nchan's, on a port of its own, ignores it."""
    return salted_hmac("live.engine.publisher", "publish", algorithm="sha256").hexdigest()


def _headers() -> dict[str, str]:
    return {
        "Content-Type": "text/event-stream",
        "Accept": "application/json",
        "X-Live-Key": publisher_key(),
    }


@dataclass(frozen=True)
class Delivery:
    """An engine took a publish: its publisher's address, its name, its own id of the
    message (nchan's "time:tag"), and how many messages the channel holds now."""

    base: str
    engine: str
    message_id: str
    messages: int


@dataclass(frozen=True)
class Failure:
    """An engine (by its publisher's address) did not take a publish, and why."""

    base: str
    why: str

    def __str__(self) -> str:
        return f"{self.base}: {self.why}"


class PublishFailed(Exception):
    """No engine took the events."""


def configured() -> bool:
    return bool(settings.LIVE_PUBLISH_URLS)


def engine_of(request: HttpRequest) -> str | None:
    """The engine a listener came through (its name), or None: asked directly, with no
    engine in front (a platform without one), the app answers what there is now."""
    if not configured():
        return None
    return request.headers.get(NAME_HEADER) or None


def publish(path: str, chunk: bytes) -> list[Delivery]:
    """Publish to every engine, from synchronous code (the web process). What each engine
    took; PublishFailed if there are engines and none took it."""
    answers = [_publish_one(base, path, chunk) for base in settings.LIVE_PUBLISH_URLS]
    return _took(path, answers)


def _publish_one(base: str, path: str, chunk: bytes) -> "Delivery | Failure":
    url = urllib.parse.urlsplit(f"{base}/{path}")
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", url.path, body=chunk, headers=_headers())
        answer = connection.getresponse()
        return _delivery(base, answer.status, answer.headers, answer.read())
    except (OSError, http.client.HTTPException) as error:
        return Failure(base, repr(error))
    finally:
        connection.close()


async def apublish(path: str, chunk: bytes) -> list[Delivery]:
    """`publish`, from an event loop (the worker), to every engine at once."""
    return _took(path, await apublish_to_each(path, chunk))


async def apublish_to_each(path: str, chunk: bytes) -> "list[Delivery | Failure]":
    """What became of the publish at each engine, in the order of LIVE_PUBLISH_URLS."""
    return list(
        await asyncio.gather(
            *(_apublish_one(base, path, chunk) for base in settings.LIVE_PUBLISH_URLS)
        )
    )


async def _apublish_one(base: str, path: str, chunk: bytes) -> "Delivery | Failure":
    try:
        async with _session().post(f"{base}/{path}", data=chunk, headers=_headers()) as answer:
            return _delivery(base, answer.status, answer.headers, await answer.read())
    except (aiohttp.ClientError, TimeoutError) as error:
        return Failure(base, repr(error))


def _delivery(base: str, status: int, headers, body: bytes) -> "Delivery | Failure":
    if status >= 300:
        return Failure(base, f"answered {status}")
    try:
        info = json.loads(body)
        return Delivery(
            base=base,
            engine=headers.get(NAME_HEADER) or base,
            message_id=str(info["last_message_id"]),
            messages=int(info["messages"]),
        )
    except (ValueError, KeyError, TypeError):
        return Failure(base, f"an answer that is not the engine's ({body[:40]!r})")


def _took(path: str, answers: "list[Delivery | Failure]") -> list[Delivery]:
    deliveries = [answer for answer in answers if isinstance(answer, Delivery)]
    failures = [answer for answer in answers if isinstance(answer, Failure)]
    if failures and not deliveries:
        raise PublishFailed(f"{path}: " + "; ".join(map(str, failures)))
    for failure in failures:
        logger.warning("A real-time engine did not take %s: %s", path, failure)
    return deliveries


_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _session() -> aiohttp.ClientSession:
    """This event loop's session, its connections to the engines kept alive: as many as
    the replies a worker writes at once, so a piece waits for none."""
    loop = asyncio.get_running_loop()
    with _lock:
        if (session := _sessions.get(loop)) is None or session.closed:
            session = _sessions[loop] = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=TIMEOUT_SECONDS, sock_read=TIMEOUT_SECONDS
                ),
                connector=aiohttp.TCPConnector(limit_per_host=settings.WORKER_CONCURRENCY),
            )
    return session


async def close_session() -> None:
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def messages_held(publisher: str, path: str) -> int:
    """How many messages the engine's channel holds now (its publisher's channel info; 0
    where it has none, or does not answer)."""
    url = urllib.parse.urlsplit(f"{publisher}/{path}")
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", url.path, headers=_headers())
        answer = connection.getresponse()
        body = answer.read()
        return int(json.loads(body).get("messages", 0)) if answer.status == 200 else 0
    except (OSError, http.client.HTTPException, ValueError, AttributeError):
        return 0
    finally:
        connection.close()


def hand_over(location: str, *, after: str | None = None) -> HttpResponse:
    """Hand the listener's connection to the engine's internal `location` (nginx's
    X-Accel-Redirect), from the message after `after` (the engine's own id) if given."""
    query = f"?after={urllib.parse.quote(after, safe='')}" if after else ""
    response = HttpResponse(status=200, content_type="text/event-stream; charset=utf-8")
    response["X-Accel-Redirect"] = f"/internal/live/{location}{query}"
    response["Cache-Control"] = "no-cache"
    return response
