"""Clients of a cluster's public door (cluster/, bin/cluster): many listeners of the events
in one event loop, as browsers' EventSources are, and players who send and retry a send
that got no answer with its Idempotency-Key."""

import asyncio
import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

from tests.sse import Event, _Body, read_events, take

PASSWORD = "a-long-enough-passphrase"


@dataclass
class Listener:
    number: int
    events: list[Event] = field(default_factory=list)
    last_id: str = ""
    retry: float = 1.0
    connections: int = 0
    ends: list[float] = field(default_factory=list)  # when a stream of it ended, not by it
    statuses: list[int] = field(default_factory=list)  # answers other than 200


class Crowd:
    """`count` listeners of `url` (the events), each coming back as EventSource does: after
    the `retry:` its stream said, with the id of the last event it heard. They listen in a
    thread of their own until `stop()`."""

    def __init__(self, url: str, count: int):
        self.url = httpx.URL(url)
        self.listeners = [Listener(number) for number in range(count)]
        self.stopping = False
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=[self._all()])
        self.thread.start()

    async def _all(self) -> None:
        tasks = []
        for listener in self.listeners:
            tasks.append(asyncio.create_task(self._listen(listener)))
            await asyncio.sleep(0.002)  # not all in the same millisecond
        await asyncio.gather(*tasks)

    async def _listen(self, listener: Listener) -> None:
        while not self.stopping:
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                await self._connection(listener)
            if self.stopping:
                return
            listener.ends.append(time.monotonic())
            await asyncio.sleep(listener.retry)

    async def _connection(self, listener: Listener) -> None:
        listener.connections += 1
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.url.host, self.url.port), 5
        )
        try:
            target, host = self.url.raw_path.decode(), self.url.netloc.decode()
            head = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
            if listener.last_id:
                head += f"Last-Event-ID: {listener.last_id}\r\n"
            writer.write((head + "\r\n").encode())
            await writer.drain()
            body, pending = _Body(), b""
            while not self.stopping:
                try:
                    received = await asyncio.wait_for(reader.read(65536), 0.5)
                except TimeoutError:
                    continue
                data, ended = body.feed(received)
                if body.head is not None and body.status != 200:
                    listener.statuses.append(body.status)
                    return
                pending += data
                *blocks, pending = pending.split(b"\n\n")
                for block in blocks:
                    take(listener, block)
                if ended or not received:
                    return
        finally:
            writer.close()

    def hear(self, last: str, seconds: float = 30) -> None:
        """Wait until every listener has heard the event `last` (by id), or `seconds` pass:
        a client on this loaded machine reads what the kernel holds for it a little late."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(
                last in {event.id for event in listener.events[-50:]}
                for listener in self.listeners
            ):
                return
            time.sleep(0.5)

    def stop(self) -> list[Listener]:
        self.stopping = True
        self.thread.join(30)
        return self.listeners


@dataclass
class Send:
    key: str
    answers: list[int] = field(default_factory=list)  # each try's status (0: no answer)
    message: dict | None = None
    reply: list[Event] = field(default_factory=list)
    comebacks: int = 0  # times its reply's stream was read again before its end


class Players:
    """Players sending through `site` until told to stop. A send with no clear answer (no
    answer at all, 502, 503, 504) is sent again with the same Idempotency-Key, as the API
    asks a client to, until it has one. With `follow`, each reads its reply's stream to its
    end before sending again."""

    RETRIED = {0, 502, 503, 504}

    def __init__(self, site: str, names: list[str], *, follow: bool = False, pause=0.2):
        self.site, self.follow, self.pause = site, follow, pause
        self.tokens = {name: register(site, name) for name in names}
        self.sends: dict[str, list[Send]] = {name: [] for name in names}
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._play, args=[name], daemon=True) for name in names
        ]
        for thread in self.threads:
            thread.start()

    def _play(self, name: str) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[name]}"}
        with httpx.Client(base_url=self.site, headers=headers, timeout=15) as client:
            while not self.stopping.is_set():
                send = Send(key=uuid.uuid4().hex)
                self.sends[name].append(send)
                while True:
                    try:
                        answer = client.post(
                            "/api/v1/messages",
                            json={"body": "again"},
                            headers={"Idempotency-Key": send.key},
                        )
                        status = answer.status_code
                    except httpx.HTTPError:
                        answer, status = None, 0
                    send.answers.append(status)
                    if status not in self.RETRIED:
                        break
                    time.sleep(0.5)
                if status == 201:
                    send.message = answer.json()["message"]
                    if self.follow:
                        self._follow(send, headers)
                if status == 402:
                    return
                time.sleep(self.pause)

    def _follow(self, send: Send, headers: dict) -> None:
        """The reply's stream read to its `done`, within 90 s. As EventSource, a stream
        that ends (or is refused) before it is read again, after the last piece heard."""
        url = self.site + send.message["reply_stream"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            last = next((event.id for event in reversed(send.reply) if event.id), "")
            try:
                read_events(
                    url,
                    headers={**headers, **({"Last-Event-ID": last} if last else {})},
                    until=lambda event: event.name == "done",
                    seconds=max(0.1, deadline - time.monotonic()),
                    into=send.reply,
                )
            except (httpx.HTTPError, AssertionError):  # refused, or no answer: again
                time.sleep(1)
            if any(event.name == "done" for event in send.reply):
                return
            send.comebacks += 1

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(120)

    def all(self) -> list[Send]:
        return [send for sends in self.sends.values() for send in sends]


def register(site: str, username: str) -> str:
    answer = httpx.post(
        f"{site}/api/v1/auth/register",
        json={"username": username, "password": PASSWORD},
        timeout=15,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["access"]
