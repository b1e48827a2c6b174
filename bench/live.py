"""The live scenarios of the benchmark (bench/run.py): players chatting with a model that
streams, and an audience watching the pot.

model:    each player sends, follows the reply's stream until it is done, and sends again;
          meanwhile a prober asks GET /api/v1/pot. Figures: messages/s, the send's latency,
          how long after the model's first chunk the player saw the first piece.
audience: many clients hold GET /api/v1/events open while others send; each client notes
          every event it gets. Figures: how long after a win each client heard of it, and
          how old the pot a client showed was.
"""

import asyncio
import itertools
import json
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import uvloop

from bench import http


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# -- model ------------------------------------------------------------------------------

ARRIVALS_SECONDS = 2.0  # players come in over one reply's time, not all at once


@dataclass
class ModelRun:
    sent: int = 0
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() of each send
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    send_ms: list[float] = field(default_factory=list)
    first_piece_at: dict[str, float] = field(default_factory=dict)  # body -> time.time()
    # Each reply's round: from the send's start to its `done`, in seconds.
    cycle_s: list[float] = field(default_factory=list)
    replies_done: int = 0


def _failed(run: ModelRun, kind: str) -> None:
    run.errors += 1
    run.error_kinds[kind] = run.error_kinds.get(kind, 0) + 1


# A reply's stream with no end after this long is counted as failed (the model writes
# for 2 s; the keeper's timeout is 10).
STREAM_GIVEN_UP_SECONDS = 60


async def _player(index, token, web_url, stream_url, run: ModelRun, ends: float, start: float):
    headers = {"Authorization": f"Bearer {token}"}
    # Each player from an address of their own, as players come (the proxy holds at most
    # PROXY_STREAMS_PER_ADDRESS streams from one).
    source = source_address(index * LISTENERS_PER_ADDRESS)
    n = 0
    await asyncio.sleep(start)  # players come in over a while, not all in one instant
    while time.monotonic() < ends:
        n += 1
        body = f"bench player {index} message {n}: what are the odds tonight?"
        started = time.monotonic()
        try:
            status, answer = await http.request(
                "POST",
                f"{web_url}/api/v1/messages",
                headers=headers,
                json_body={"body": body},
                source=source,
            )
        except (OSError, http.HTTPError) as error:
            _failed(run, f"send: {type(error).__name__}")
            await asyncio.sleep(0.1)
            continue
        run.send_ms.append((time.monotonic() - started) * 1000)
        if status != 201:
            _failed(run, f"send: {status}")
            await asyncio.sleep(0.1)
            continue
        run.sent += 1
        run.sent_at.append(started)
        stream = json.loads(answer)["message"]["reply_stream"]
        try:
            # A reply's stream that never ends is counted, not waited for to the end.
            async with asyncio.timeout(STREAM_GIVEN_UP_SECONDS):
                async for name, _ in http.events(
                    f"{stream_url}{stream}", headers=headers, source=source
                ):
                    if name == "token":
                        run.first_piece_at.setdefault(body, time.time())
                    elif name == "done":
                        run.replies_done += 1
                        run.cycle_s.append(time.monotonic() - started)
                        break
        except (OSError, http.HTTPError, ValueError, TimeoutError) as error:
            _failed(run, f"stream: {type(error).__name__}")


async def _model(web_url, stream_url, tokens, players, seconds) -> ModelRun:
    run = ModelRun()
    ends = time.monotonic() + seconds
    arrivals = random.Random(players)  # the same spread every run
    await asyncio.gather(
        *(
            _player(
                i,
                tokens[i % len(tokens)],
                web_url,
                stream_url,
                run,
                ends,
                arrivals.uniform(0, ARRIVALS_SECONDS),
            )
            for i in range(players)
        )
    )
    return run


def model_scenario(web_url, stream_url, model_url, tokens, players, seconds) -> dict:
    probe = subprocess.Popen(
        [sys.executable, "-m", "bench.probe", f"{web_url}/api/v1/pot", str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    run = asyncio.run(_model(web_url, stream_url, tokens, players, seconds))
    # The rate once every player has come in (they come in over the first 2 s).
    steady = started + ARRIVALS_SECONDS
    steady_rate = sum(1 for at in run.sent_at if at >= steady) / (started + seconds - steady)
    probed = json.loads(probe.communicate(timeout=seconds + 30)[0])
    with urllib.request.urlopen(f"{model_url}/stats", timeout=10) as answer:  # noqa: S310
        stats = json.loads(answer.read())
    lags = [
        (seen - stats["first_chunk_at"][body]) * 1000
        for body, seen in run.first_piece_at.items()
        if body in stats["first_chunk_at"]
    ]
    return {
        "players": players,
        "sent": run.sent,
        "messages_per_second": steady_rate,
        "replies_done": run.replies_done,
        "errors": run.errors + probed["failures"],
        "error_kinds": run.error_kinds,
        "send_p50_ms": percentile(run.send_ms, 50),
        "send_p99_ms": percentile(run.send_ms, 99),
        "reply_round_trip_p50_s": percentile(run.cycle_s, 50),
        "first_piece_after_model_p50_ms": percentile(lags, 50),
        "first_piece_after_model_p99_ms": percentile(lags, 99),
        "pot_p50_ms": percentile(probed["latencies_ms"], 50),
        "pot_p99_ms": percentile(probed["latencies_ms"], 99),
        "pot_requests": len(probed["latencies_ms"]),
    }


# -- backlog ----------------------------------------------------------------------------


async def _sender(index, token, url, interval, ends, start, sent: list, errors: list):
    """A player who sends a message every `interval` seconds, without waiting for replies."""
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(start)
    n = 0
    while time.monotonic() < ends:
        n += 1
        began = time.monotonic()
        body = f"backlog player {index} message {n}: still there?"
        try:
            status, _ = await http.request(
                "POST", f"{url}/api/v1/messages", headers=headers, json_body={"body": body}
            )
        except (OSError, http.HTTPError) as error:
            errors.append(type(error).__name__)
        else:
            (sent if status == 201 else errors).append(body if status == 201 else status)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))


def backlog_sends(url: str, tokens: list[str], players: int, interval: float, seconds: float):
    """`players` each sending every `interval` seconds for `seconds`: what was sent (the
    bodies) and the errors."""
    sent: list = []
    errors: list = []

    async def everyone():
        ends = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _sender(
                    i,
                    tokens[i % len(tokens)],
                    url,
                    interval,
                    ends,
                    i * interval / players,
                    sent,
                    errors,
                )
                for i in range(players)
            )
        )

    asyncio.run(everyone())
    return sent, errors


# -- audience ---------------------------------------------------------------------------


@dataclass
class Watcher:
    wins: dict[int, float] = field(default_factory=dict)  # round -> time.time() heard
    pots: list[tuple[float, int, int]] = field(default_factory=list)  # (heard, round, amount)
    connected: bool = False


# The engine writes each event's id between its name and its data.
WIN = re.compile(rb'event: win\n(?:id: [^\n]*\n)?data: \{"round":(\d+),')
POT = re.compile(rb'event: pot\n(?:id: [^\n]*\n)?data: \{"round":(\d+),"amount":(\d+)\}')


class _Watching(asyncio.Protocol):
    """One client of the events stream, on a bare connection, picking the events out of
    what comes with patterns as it comes: ten thousand of them must cost the machine
    little, or they would measure themselves (measured: read through asyncio's streams, a
    timeout on each read, the clients took as much CPU as the engine they watched)."""

    def __init__(self, watcher: Watcher, request: bytes):
        self.watcher, self.request = watcher, request
        self.pending = b""
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        watcher = self.watcher
        if not watcher.connected and data.startswith(b"HTTP/1.1 200 "):
            watcher.connected = True
        # Whole events only; a part waits for the rest.
        complete, _, self.pending = (self.pending + data).rpartition(b"\n\n")
        if b"event: win" in complete:
            for match in WIN.finditer(complete):
                watcher.wins.setdefault(int(match[1]), now)
        for match in POT.finditer(complete):
            watcher.pots.append((now, int(match[1]), int(match[2])))

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


# An audience comes from many addresses, a few listeners each (households, offices), as
# the proxy expects (it holds at most PROXY_STREAMS_PER_ADDRESS streams from one):
# loopback has a whole /8 of them.
LISTENERS_PER_ADDRESS = 20


def source_address(index: int) -> str:
    """The loopback address the `index`-th client connects from."""
    address = index // LISTENERS_PER_ADDRESS
    return f"127.{1 + address // 62500}.{1 + address // 250 % 250}.{1 + address % 250}"


async def _audience(url: str, watchers: list[Watcher], seconds: float) -> None:
    parts = urllib.parse.urlsplit(url)
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    transports = []
    try:
        for count, watcher in enumerate(watchers, 1):
            transport, _ = await loop.create_connection(
                lambda watcher=watcher: _Watching(watcher, request),
                parts.hostname,
                parts.port,
                local_addr=(source_address(count), 0),
            )
            transports.append(transport)
            if count % 50 == 0:
                await asyncio.sleep(0.05)  # a crowd that arrives, not a single blow
        await asyncio.sleep(seconds)
    finally:
        for transport in transports:
            transport.close()


def run_audience(url: str, clients: int, while_connected, linger: float = 10.0) -> list[Watcher]:
    """Hold `clients` streams open; once all are open (each has had the pot it is first
    told), call `while_connected()` (in a thread) to make the load the audience watches,
    then listen `linger` seconds more for what is still on its way."""

    async def main():
        watchers = [Watcher() for _ in range(clients)]
        arriving = time.monotonic()
        watching = asyncio.create_task(_audience(url, watchers, 3600))
        while not all(watcher.pots for watcher in watchers):
            if time.monotonic() - arriving > 60:
                raise SystemExit("the audience did not all connect in 60 s")
            await asyncio.sleep(0.1)
        await asyncio.to_thread(while_connected)
        await asyncio.sleep(linger)
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        return watchers

    # uvloop: the audience's own reads cost less (measured, 10,000 clients at 4 events a
    # second: 0.24 of a core against 0.28 with asyncio's loop).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def audience_figures(watchers: list[Watcher], wins: dict[int, float], pots) -> dict:
    """`wins`: round -> when it was won (time.time()); `pots`: the pot's true history,
    (since, round, amount), in order."""
    win_lags = [
        (heard - wins[round_]) * 1000
        for watcher in watchers
        for round_, heard in watcher.wins.items()
        if round_ in wins
    ]
    missed = sum(1 for watcher in watchers for round_ in wins if round_ not in watcher.wins)
    # How long after each win its first client heard it: the announcer's and the engine's
    # part, apart from how late the clients, on the same cores, read it.
    first_heard = [
        (min(watcher.wins[round_] for watcher in watchers if round_ in watcher.wins) - at) * 1000
        for round_, at in wins.items()
        if any(round_ in watcher.wins for watcher in watchers)
    ]
    ages = _pot_ages(watchers, pots)
    return {
        "clients": len(watchers),
        "connected": sum(watcher.connected for watcher in watchers),
        "wins": len(wins),
        "wins_missed": missed,
        "win_heard_p50_ms": percentile(win_lags, 50),
        "win_heard_p99_ms": percentile(win_lags, 99),
        "win_first_heard_p50_ms": percentile(first_heard, 50),
        "win_first_heard_p99_ms": percentile(first_heard, 99),
        "pot_age_p50_ms": percentile(ages, 50),
        "pot_age_p99_ms": percentile(ages, 99),
        "pot_events_per_client_per_second": statistics.mean(
            _rate(watcher.pots) for watcher in watchers if watcher.pots
        )
        if any(watcher.pots for watcher in watchers)
        else 0,
    }


def _rate(pots) -> float:
    span = pots[-1][0] - pots[0][0]
    return (len(pots) - 1) / span if span > 0 else 0.0


def _pot_ages(watchers, pots, every: float = 0.1) -> list[float]:
    """How old the pot each client showed was, sampled every `every` seconds: 0 while it
    was still the true figure, else the time since it stopped being true."""
    if not pots:
        return []
    ended = {}  # (round, amount) -> when the pot moved on from it
    for (_, round_, amount), (since, _, _) in itertools.pairwise(pots):
        ended.setdefault((round_, amount), since)
    start, stop = pots[0][0], pots[-1][0]
    ages = []
    for watcher in watchers:
        shown, index = None, 0
        moment = start
        while moment <= stop:
            while index < len(watcher.pots) and watcher.pots[index][0] <= moment:
                shown = watcher.pots[index][1:]
                index += 1
            if shown is not None:
                gone = ended.get(shown)
                ages.append(max(0.0, moment - gone) * 1000 if gone is not None else 0.0)
            moment += every
    return ages
