"""A stand-in for the real-time engine, for `bin/run` and the tests: an ASGI application in
front of Django's that speaks the engine's contract as deploy/nginx.conf.template sets it up
(docs/LIVE.md), as whitenoise stands in for a static file server. Not for production: it
holds its channels in one process's memory (a system check says so when DEBUG is off).

What it does, as nginx with nchan does:
- the publisher, `POST <LIVE_PUBLISH_URL>/events` and `/reply/<m>/player/<p>`, for the
  app's own processes (from this host, with the app's key: it shares the public's port,
  where nginx's has a port of its own): each publish is kept in its channels' buffers and
  written to their listeners at once; the answer is the channel's info (JSON) and the
  engine's name;
- `GET /api/v1/events` with no last event id: held here, from the newest message;
- the other streams (and a comeback to the events) go to Django, told which engine they
  came through (`X-Live-Engine`); an answer with `X-Accel-Redirect` to
  `/internal/live/...` is a hand-over: the listener is held here from there;
- resuming: `after=<id>` (nchan's `time:tag`, or `time:[tag,-]` for a page's two
  channels) starts after that message; an id older than the buffer starts at its oldest.
"""

import asyncio
import collections
import hmac
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from django.conf import settings

from .engine import publisher_key

NAME = "dev"
ENGINE_HEADER = b"x-live-engine"


@dataclass(order=True, frozen=True)
class MessageId:
    time: int
    tag: int

    def __str__(self) -> str:
        return f"{self.time}:{self.tag}"


@dataclass
class Message:
    id: MessageId
    body: bytes
    expires: float
    order: int  # in the order published, across channels


@dataclass
class Channel:
    buffer: int
    timeout: float
    messages: collections.deque = field(default_factory=collections.deque)
    listeners: set = field(default_factory=set)

    def kept(self) -> list[Message]:
        now = time.time()
        while self.messages and (
            self.messages[0].expires <= now or len(self.messages) > self.buffer
        ):
            self.messages.popleft()
        return list(self.messages)


# (how many messages a channel keeps, for how long): as the publisher locations of
# deploy/nginx.conf.template set them.
EVENTS = (1024, 3600.0)
NOW = (1, 3600.0)
REPLY = PLAYER = (512, 300.0)


class Engine:
    """The channels, their buffers and their listeners, in this process."""

    def __init__(self):
        self.channels: dict[str, Channel] = {}
        self.last = MessageId(0, 0)
        self.published = 0

    def channel(self, name: str, kind: tuple[int, float]) -> Channel:
        if (found := self.channels.get(name)) is None:
            found = self.channels[name] = Channel(*kind)
        return found

    def publish(self, names: list[tuple[str, tuple[int, float]]], body: bytes) -> dict:
        now = int(time.time())
        self.last = MessageId(now, self.last.tag + 1 if self.last.time == now else 0)
        self.published += 1
        info = {}
        for name, kind in names:
            channel = self.channel(name, kind)
            message = Message(self.last, body, time.time() + channel.timeout, self.published)
            channel.messages.append(message)
            channel.kept()  # past its buffer or its time, the oldest goes
            for listener in channel.listeners:
                listener.put_nowait(message)
            info = self.info(name)
        return info

    def info(self, name: str) -> dict:
        """What nchan's publisher says of a channel."""
        channel = self.channels[name]
        kept = channel.kept()
        return {
            "messages": len(kept),
            "requested": -1,
            "subscribers": len(channel.listeners),
            "last_message_id": str(kept[-1].id if kept else MessageId(0, 0)),
        }

    def subscribe(
        self, names: list[str], after: str | None, *, oldest: bool = False
    ) -> tuple[asyncio.Queue, list]:
        """A listener of `names`: its queue, and what it is told first: what came after
        `after`, or else each channel's every message kept (`oldest`) or none (newest)."""
        starts = _starts(after, len(names)) if after else [oldest or None] * len(names)
        backlog: dict[int, Message] = {}
        queue: asyncio.Queue = asyncio.Queue()
        for name, start in zip(names, starts, strict=True):
            channel = self.channel(name, _kind(name))
            kept = channel.kept()
            if start is None:  # from the next message on
                chosen = []
            elif start is True:
                chosen = kept
            else:
                chosen = [message for message in kept if message.id > start]
            for message in chosen:
                backlog[message.order] = message
            channel.listeners.add(queue)
        return queue, [backlog[order] for order in sorted(backlog)]

    def leave(self, names: list[str], queue: asyncio.Queue) -> None:
        for name in names:
            channel = self.channels.get(name)
            if channel is not None:
                channel.listeners.discard(queue)


def _kind(name: str) -> tuple[int, float]:
    if name.startswith("reply."):
        return REPLY
    if name.startswith("player."):
        return PLAYER
    return NOW if name == "now" else EVENTS


_MULTI = re.compile(r"(-?[0-9]+):\[?([0-9-]+|-)(?:\]?,\[?([0-9-]+|-)\]?)?")


def _starts(after: str, count: int) -> list:
    """Where each channel starts: after a message id (None: from the next one on)."""
    found = _MULTI.fullmatch(after)
    if found is None:
        return [None] * count
    when = int(found[1])
    tags = [found[2], found[3] if found[3] is not None else "-"][:count]
    # A channel without a tag of its own starts at that second (nchan's reading).
    return [
        MessageId(when, int(tag)) if tag not in ("-", "-1") else MessageId(when - 1, 32767)
        for tag in tags
    ]


# The engine's internal locations: (channels, where a listener starts without `after`).
INTERNAL = [
    (re.compile(r"/internal/live/events"), lambda found: ["events"], None),
    (re.compile(r"/internal/live/reply/([0-9]+)"), lambda found: [f"reply.{found[1]}"], "oldest"),
    (
        re.compile(r"/internal/live/player/([0-9]+)"),
        lambda found: ["events", f"player.{found[1]}"],
        None,
    ),
]
HANDED_TO_DJANGO = re.compile(r"/api/v1/messages/[0-9]+/stream|/live/|/api/v1/events")
PUBLISHED = [
    (re.compile(r"events"), lambda found: [("events", EVENTS)]),
    (re.compile(r"now"), lambda found: [("now", NOW)]),
    (
        re.compile(r"reply/([0-9]+)/player/([0-9]+)"),
        lambda found: [(f"reply.{found[1]}", REPLY), (f"player.{found[2]}", PLAYER)],
    ),
]
STREAM_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class DevEngine:
    """The stand-in, in front of `django` (an ASGI application)."""

    def __init__(self, django, *, publish_path: str = "/publish"):
        self.django = django
        self.publish_path = publish_path.rstrip("/")
        # The engine's figures beside its publisher, as nchan's stub status says them.
        self.status_path = self.publish_path.removesuffix("/publish") + "/status"
        self.engine = Engine()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.django(scope, receive, send)
            return
        scope = _forwarded(scope)
        path = scope["path"]
        if path.startswith(self.publish_path + "/"):
            await self._publish(scope, receive, send, path[len(self.publish_path) + 1 :])
        elif path == self.status_path and _from_here(scope):
            listeners = len(
                {queue for channel in self.engine.channels.values() for queue in channel.listeners}
            )
            await _answer(send, 200, f"subscribers: {listeners}\n".encode())
        elif path.startswith("/internal/"):  # never the public's
            await _answer(send, 404, b"Not found.\n")
        elif path == "/api/v1/events" and not _last_event_id(scope):
            await self._hold(scope, receive, send, ["now"], "oldest", b"text/event-stream")
        elif HANDED_TO_DJANGO.fullmatch(path):
            await self._ask_django(scope, receive, send)
        else:
            await self.django(scope, receive, send)

    async def _publish(self, scope, receive, send, path: str) -> None:
        key = dict(scope["headers"]).get(b"x-live-key", b"").decode("latin-1")
        keyed = hmac.compare_digest(key, publisher_key())
        if not (_from_here(scope) and scope["method"] in ("GET", "POST") and keyed):
            await _answer(send, 403, b"Forbidden.\n")
            return
        headers = [(b"content-type", b"application/json"), (ENGINE_HEADER, NAME.encode())]
        for pattern, channels in PUBLISHED:
            if (found := pattern.fullmatch(path)) is None:
                continue
            if scope["method"] == "GET":  # the channel's info
                [(name, _)] = channels(found)[:1]
                if name not in self.engine.channels:
                    await _answer(send, 404, b"No such channel.\n")
                    return
                info = self.engine.info(name)
                await _answer(send, 200, json.dumps(info).encode(), headers)
                return
            info = self.engine.publish(channels(found), await _body(receive))
            await _answer(send, 201, json.dumps(info).encode(), headers)
            return
        await _answer(send, 404, b"No such channel.\n")

    async def _ask_django(self, scope, receive, send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != ENGINE_HEADER]
        scope = {**scope, "headers": [*headers, (ENGINE_HEADER, NAME.encode())]}
        answer: dict = {}

        async def intercept(message):
            if message["type"] == "http.response.start":
                found = {name.lower(): value for name, value in message.get("headers", [])}
                if b"x-accel-redirect" in found:
                    answer["redirect"] = found[b"x-accel-redirect"].decode("latin-1")
                    answer["content_type"] = found.get(b"content-type", b"text/event-stream")
                    return
            if "redirect" not in answer:
                await send(message)

        await self.django(scope, receive, intercept)
        if "redirect" in answer:
            location = urllib.parse.urlsplit(answer["redirect"])
            after = urllib.parse.parse_qs(location.query).get("after", [None])[0]
            for pattern, channels, first in INTERNAL:
                if (found := pattern.fullmatch(location.path)) is not None:
                    names = channels(found)
                    await self._hold(
                        scope, receive, send, names, after or first, answer["content_type"]
                    )
                    return
            await _answer(send, 404, b"Not found.\n")

    async def _hold(self, scope, receive, send, names, after, content_type: bytes) -> None:
        oldest = after == "oldest"
        queue, backlog = self.engine.subscribe(names, None if oldest else after, oldest=oldest)
        headers = [(b"content-type", content_type), *STREAM_HEADERS]
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            body = b"".join(message.body for message in backlog)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            while not gone.done():
                coming = asyncio.ensure_future(queue.get())
                await asyncio.wait([coming, gone], return_when=asyncio.FIRST_COMPLETED)
                if not coming.done():
                    coming.cancel()
                    break
                chunk = coming.result().body
                while not queue.empty():  # what came meanwhile, in one write
                    chunk += queue.get_nowait().body
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:
            pass  # the listener went
        finally:
            gone.cancel()
            self.engine.leave(names, queue)


def _forwarded(scope) -> dict:
    """As the proxy passes a request on: the client's address added to X-Forwarded-For
    (the app reads it past NUM_PROXIES proxies)."""
    client = (scope.get("client") or ("", 0))[0]
    headers = [(name, value) for name, value in scope["headers"] if name != b"x-forwarded-for"]
    earlier = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
    chain = b", ".join([*earlier, client.encode()]) if client else b", ".join(earlier)
    return {**scope, "headers": [*headers, (b"x-forwarded-for", chain)]} if chain else scope


def _from_here(scope) -> bool:
    """The app's own processes, on this host: the publisher is for them alone."""
    return (scope.get("client") or ("", 0))[0] in ("127.0.0.1", "::1")


def _last_event_id(scope) -> str:
    for name, value in scope["headers"]:
        if name == b"last-event-id":
            return value.decode("latin-1")
    query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("last_event_id") or [""])[0]


async def _body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _answer(send, status: int, body: bytes, headers=None) -> None:
    headers = headers or [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def with_dev_engine(django):
    """Django's ASGI application, behind the stand-in where settings ask for it."""
    if not settings.LIVE_DEV_ENGINE:
        return django
    return DevEngine(django, publish_path=urllib.parse.urlsplit(settings.LIVE_DEV_PUBLISH).path)
