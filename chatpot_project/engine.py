"""The real-time engine that holds the streams in production: nginx's nchan module
(deploy/nginx.conf.template, DESIGN section 9).

Django decides what is said and who may listen; the engine holds every listener's
connection. The app publishes each event once, to the engine's publisher endpoint (one
HTTP request, however many listen); it hands a listener's connection to the engine with an
`X-Accel-Redirect` to one of the engine's internal locations, once it has decided the
listener may listen. With LIVE_PUBLISH_URL unset there is no engine: the app's own streams
serve the listeners (keeper.streams, pot.streams), as under `bin/run`.

Channels: `events` (the pot, wins and rounds, for everyone), `reply.<message>` (one reply,
for the API's stream of it), `player.<player>` (everything of one player's replies, for
their pages, which also hear `events` on the same connection) and `resume.<token>` (what a
client that came back missed, for it alone). A reply's pieces go to its reply's and its
player's channels in one publish.

What is published is server-sent events, written by the app (chatpot_project.streams.event),
which the engine passes on as they are: so one publish can carry several events (the
announcer's tick: every win and round since the last, then the pot), and each listener
gets them in one write. Measured on 2 cores, an engine that wrote each event apart spent
a core on 10,000 listeners at ten events a second; wins come that fast at 300 messages a
second.
"""

import asyncio
import http.client
import logging
import threading
import urllib.parse
import weakref

import aiohttp
from django.conf import settings
from django.http import HttpResponse

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5


def enabled() -> bool:
    return bool(settings.LIVE_PUBLISH_URLS)


def events_path() -> str:
    return "events"


def reply_path(*, message_id: int, player_id: int) -> str:
    return f"reply/{message_id}/player/{player_id}"


def resume_path(token: str) -> str:
    return f"resume/{token}"


class PublishFailed(Exception):
    """No engine took the events."""


HEADERS = {"Content-Type": "text/event-stream"}


async def publish(path: str, events: bytes) -> None:
    """Publish server-sent events to the engine (the first of LIVE_PUBLISH_URLS that
    answers: with several engines sharing Redis, any one reaches every listener)."""
    body, headers = events, HEADERS
    failures = []
    for base in settings.LIVE_PUBLISH_URLS:
        try:
            async with _session().post(f"{base}/{path}", data=body, headers=headers) as answer:
                if answer.status < 300:
                    return
                failures.append(f"{base}: {answer.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            failures.append(f"{base}: {error!r}")
    raise PublishFailed("; ".join(failures))


def publish_now(path: str, events: bytes) -> None:
    """`publish`, from synchronous code (the web process)."""
    body, headers = events, HEADERS
    failures = []
    for base in settings.LIVE_PUBLISH_URLS:
        url = urllib.parse.urlsplit(f"{base}/{path}")
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_SECONDS)
        try:
            connection.request("POST", url.path, body=body, headers=headers)
            status = connection.getresponse().status
        except OSError as error:
            failures.append(f"{base}: {error!r}")
            continue
        finally:
            connection.close()
        if status < 300:
            return
        failures.append(f"{base}: {status}")
    raise PublishFailed("; ".join(failures))


_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _session() -> aiohttp.ClientSession:
    """This event loop's session, its connections to the engine kept alive."""
    loop = asyncio.get_running_loop()
    with _lock:
        if (session := _sessions.get(loop)) is None or session.closed:
            session = _sessions[loop] = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                connector=aiohttp.TCPConnector(limit=64),
            )
    return session


async def close_session() -> None:
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def hand_over(location: str) -> HttpResponse:
    """Hand the listener's connection to the engine's internal `location` (nginx's
    X-Accel-Redirect); what it already said is kept by the engine for it."""
    response = HttpResponse(status=200, content_type="text/event-stream; charset=utf-8")
    response["X-Accel-Redirect"] = f"/internal/live/{location}"
    return response
