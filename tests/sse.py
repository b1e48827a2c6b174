"""Reading server-sent events in a test, as a client would."""

import contextlib
import json
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Event:
    name: str
    data: dict
    at: float  # time.monotonic() when it arrived
    id: str = ""  # its id, if it had one


def read_events(
    url, *, headers=None, cookies=None, until=None, seconds=10.0, into=None
) -> list[Event]:
    """The events of one stream until it ends, an event `until(event)` is true for comes,
    or `seconds` pass; added to `into` as they come, if given. Comments (heartbeats) are
    skipped."""
    events = [] if into is None else into
    deadline = time.monotonic() + seconds
    client = httpx.Client(cookies=cookies, timeout=httpx.Timeout(seconds))
    with contextlib.suppress(httpx.ReadTimeout):  # `seconds` passed in silence
        _read(client, url, headers, until, deadline, events)
    return events


def _read(client, url, headers, until, deadline, events) -> None:
    # As EventSource asks (the engine answers other kinds of subscriber otherwise).
    headers = {"Accept": "text/event-stream", **(headers or {})}
    with client, client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data, event_id = None, [], ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line == "" and name is not None:
                events.append(Event(name, json.loads("\n".join(data)), time.monotonic(), event_id))
                if until is not None and until(events[-1]):
                    break
                name, data, event_id = None, [], ""
            if time.monotonic() > deadline:
                break


def parse_events(body: bytes) -> list[Event]:
    """The events of a stream's whole body (comments and `retry:` lines skipped)."""
    events = []
    for block in body.decode().split("\n\n"):
        name, data, event_id = None, [], ""
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line.startswith("id:"):
                event_id = line[3:].strip()
        if name is not None:
            events.append(Event(name, json.loads("\n".join(data)), 0.0, event_id))
    return events


class EventSource:
    """A client as a browser's EventSource is one: it listens, and when the stream ends it
    comes back after the `retry:` the stream said, with the id of the last event it heard
    (Last-Event-ID). `listen(seconds)` listens that long, then hangs up, as a tab that goes
    away; the next `listen` comes back where it left.

    `forget_tail` hangs up as a connection that breaks while a write is on its way: the
    events of the last write after a random point never reached the client (an id it
    never heard is not the one it comes back with)."""

    def __init__(
        self,
        url: str,
        *,
        headers: dict | None = None,
        cookies: dict | None = None,
        elsewhere: str = "",
    ):
        """`elsewhere`: where the client goes when `url` is away (as a load balancer
        passes it to another engine)."""
        self.url, self.headers, self.cookies = url, headers or {}, cookies or {}
        self.elsewhere = elsewhere
        self.statuses: list[int] = []  # of each connection's answer
        self.events: list[Event] = []
        self.last_id = ""
        self.retry = 1.0
        self.ended_by_server = 0  # streams the server ended (the app's own answers)
        self.connections = 0
        self.refused = 0  # connections not taken (the server was away)
        self.stopping = False  # a listener in a thread: hang up now

    def listen(self, seconds: float, *, forget_tail: bool = False, random=None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stopping:
            try:
                writes = self._one_connection(deadline)
            except ConnectionRefusedError:  # away: EventSource tries again
                self.refused += 1
                if self.elsewhere:
                    self.url, self.elsewhere = self.elsewhere, self.url
                time.sleep(min(self.retry, max(0.0, deadline - time.monotonic())))
                continue
            if writes is None:  # hung up
                if forget_tail and writes_seen(self._last_writes) and random is not None:
                    self._forget(random)
                return
            self.ended_by_server += 1
            time.sleep(min(self.retry, max(0.0, deadline - time.monotonic())))

    def _one_connection(self, deadline: float):
        """Read one connection until the server ends it (a list of writes) or the deadline
        (None)."""
        self.connections += 1
        self._last_writes: list[list[Event]] = []
        url = urllib.parse.urlsplit(self.url)
        headers = {"Host": url.netloc, "Accept": "text/event-stream", **self.headers}
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        target = url.path + (f"?{url.query}" if url.query else "")
        request = f"GET {target} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        body = _Body()
        with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
            connection.sendall((request + "\r\n").encode())
            connection.settimeout(0.2)
            pending = b""
            while time.monotonic() < deadline and not self.stopping:
                try:
                    received = connection.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return self._last_writes
                data, ended = body.feed(received)
                if body.head is not None and body.status != 200:
                    self.statuses.append(body.status)
                    return self._last_writes  # EventSource gives up; this one comes back
                pending += data
                blocks = pending.split(b"\n\n")
                pending = blocks.pop()
                if blocks:
                    self._last_writes.append([e for b in blocks if (e := take(self, b))])
                if ended or not received:
                    return self._last_writes
        return None

    def _forget(self, random) -> None:
        last = next((write for write in reversed(self._last_writes) if write), [])
        if len(last) < 2:
            return
        cut = random.randrange(1, len(last))
        for event in last[cut:]:
            self.events.remove(event)
        heard = [event.id for event in self.events if event.id]
        self.last_id = heard[-1] if heard else ""


def take(client, block: bytes) -> Event | None:
    """One block of a stream heard by `client` (an EventSource, or any listener with
    `events`, `last_id` and `retry`): its event kept, its id and `retry:` remembered."""
    name, data, event_id = None, [], ""
    for line in block.decode().split("\n"):
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("retry:"):
            client.retry = int(line[6:].strip()) / 1000
    if name is None:
        return None
    found = Event(name, json.loads("\n".join(data)), time.monotonic(), event_id)
    client.events.append(found)
    if event_id:
        client.last_id = event_id
    return found


def writes_seen(writes) -> bool:
    return any(writes)


class _Body:
    """An HTTP/1.1 response's body as it comes: past the head, chunked or not."""

    def __init__(self):
        self.raw = b""
        self.head: bytes | None = None
        self.status = 0
        self.chunked = False
        self.left: int | None = None  # of a body with a Content-Length

    def feed(self, received: bytes) -> tuple[bytes, bool]:
        """The body's bytes in what was received, and whether the body ended."""
        self.raw += received
        if self.head is None:
            if b"\r\n\r\n" not in self.raw:
                return b"", False
            self.head, _, self.raw = self.raw.partition(b"\r\n\r\n")
            self.status = int(self.head.split(b" ", 2)[1])
            head = self.head.lower()
            self.chunked = b"transfer-encoding: chunked" in head
            if (found := re.search(rb"content-length: *([0-9]+)", head)) is not None:
                self.left = int(found[1])
        if not self.chunked:
            data, self.raw = self.raw, b""
            if self.left is not None:
                self.left -= len(data)
                return data, self.left <= 0
            return data, False
        data = b""
        while b"\r\n" in self.raw:
            size_line, _, rest = self.raw.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return data, True
            if len(rest) < size + 2:
                break
            data += rest[:size]
            self.raw = rest[size + 2 :]
        return data, False
