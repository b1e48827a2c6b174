"""Reading server-sent events in a test, as a client would."""

import contextlib
import json
import time
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
