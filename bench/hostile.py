"""Hostile clients: floods of streams, half-open requests, and comebacks from round 0."""

import asyncio
import collections
import socket
import statistics
import threading
import time
import urllib.parse
from pathlib import Path

from bench.audience import answer_times
from bench.harness import Settings, audit, deployed, fixtures, psql
from bench.live import (
    source_address,
)


async def _hostile(port: int, streams: int, half_open: int, one_address: int) -> dict:
    """Open `streams` event streams from many addresses, `one_address` more from a single
    one, and `half_open` requests that never finish their head; what each was answered."""
    held: list = []
    answered: dict[str, int] = {}

    async def stream(source: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        line = await reader.readline()
        status = line.split()[1].decode() if line else "closed"
        answered[status] = answered.get(status, 0) + 1
        held.append(writer)

    async def half(source: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        held.append(writer)
        return reader

    for start in range(0, streams, 200):
        await asyncio.gather(
            *(stream(source_address(i)) for i in range(start, min(streams, start + 200)))
        )
    from_one = dict(answered)
    answered.clear()
    await asyncio.gather(*(stream("127.254.0.1") for _ in range(one_address)))
    readers = []
    for start in range(0, half_open, 200):
        readers += await asyncio.gather(
            *(half(source_address(i)) for i in range(start, min(half_open, start + 200)))
        )
    return {"many": from_one, "one_address": dict(answered), "held": held, "half": readers}


def hostile_run(settings: Settings, static: Path, tokens: Path) -> dict:
    """2,000 anonymous event streams (from 100 addresses), 200 more from one address and
    1,000 half-open requests against the deployment, and meanwhile /healthz and a player's
    send, set against the same with nobody there."""
    players = tokens.read_text().split()
    figures: dict = {}
    with deployed(settings, STATIC_ROOT=str(static)) as site:
        answer_times(site.url, players, 20)  # warm up; not counted
        figures["alone"] = answer_times(site.url, players, 200)
        loop = asyncio.new_event_loop()
        opened = loop.run_until_complete(_hostile(site.proxy.port, 2000, 1000, 200))
        figures["streams_from_many"] = opened["many"]
        figures["streams_from_one_address"] = opened["one_address"]
        figures["under_attack"] = answer_times(site.url, players, 200)

        async def closed_half_open(seconds: float) -> int:
            async def closed(reader) -> bool:
                try:
                    return await asyncio.wait_for(reader.read(), seconds) == b""
                except ConnectionResetError:
                    return True
                except TimeoutError:
                    return False

            return sum(await asyncio.gather(*(closed(reader) for reader in opened["half"])))

        figures["half_open_closed_within_15_s"] = loop.run_until_complete(closed_half_open(15))
        for writer in opened["held"]:
            writer.close()
        loop.run_until_complete(asyncio.sleep(0.5))
        loop.close()
        # Clients that come back from before the first round (Last-Event-ID: 0) on a long
        # history, a few a second, and meanwhile /healthz and a player's send.
        rounds = int(psql(settings, "SELECT max(number) FROM pot_round", settings.db_name) or 0)
        if rounds < COMEBACK_ROUNDS:
            fixtures(settings, "rounds", str(COMEBACK_ROUNDS - rounds))
        figures["comebacks"] = {}
        for per_second in (2, 5):
            flood = ComebackFlood(site.url, per_second)
            figures["comebacks"][per_second] = {
                "meanwhile": answer_times(site.url, players, 100, seconds=COMEBACK_SECONDS),
                **flood.stop(),
            }
    figures["audit"] = audit(settings)
    return figures


COMEBACK_ROUNDS = 20_000

COMEBACK_SECONDS = 15


class ComebackFlood:
    """`per_second` clients a second on the events with Last-Event-ID: 0, each read until
    its answer ends (or 10 s); how long each took, and what it was answered."""

    def __init__(self, url: str, per_second: int):
        self.url, self.per_second = url, per_second
        self.stopping = threading.Event()
        self.times: list[float] = []
        self.answers: collections.Counter = collections.Counter()
        self.sizes: list[int] = []
        self.threads: list[threading.Thread] = []
        self.firing = threading.Thread(target=self._fire, daemon=True)
        self.firing.start()

    def _fire(self) -> None:
        while not self.stopping.wait(1 / self.per_second):
            comer = threading.Thread(target=self._come_back, daemon=True)
            comer.start()
            self.threads.append(comer)

    def _come_back(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        started = time.perf_counter()
        received = b""
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(
                    f"GET /api/v1/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                while chunk := sock.recv(65536):
                    received += chunk
            status = received.split(b" ", 2)[1].decode() if received else "none"
        except OSError as error:
            status = type(error).__name__
        self.times.append((time.perf_counter() - started) * 1000)
        self.answers[status] += 1
        self.sizes.append(len(received))

    def stop(self) -> dict:
        self.stopping.set()
        self.firing.join()
        for comer in self.threads:
            comer.join(15)
        times = sorted(self.times)
        return {
            "comebacks": len(times),
            "answered": dict(self.answers),
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)], 1) if times else None,
            "bytes_max": max(self.sizes, default=0),
        }
