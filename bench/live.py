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
import re
import statistics
import time
import urllib.parse
from dataclasses import dataclass, field

import httpx


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# -- model ------------------------------------------------------------------------------


@dataclass
class ModelRun:
    sent: int = 0
    errors: int = 0
    send_ms: list[float] = field(default_factory=list)
    first_piece_at: dict[str, float] = field(default_factory=dict)  # body -> time.time()
    replies_done: int = 0
    pot_ms: list[float] = field(default_factory=list)


async def _player(index, token, web, streams, run: ModelRun, ends: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while time.monotonic() < ends:
        n += 1
        body = f"bench player {index} message {n}: what are the odds tonight?"
        started = time.monotonic()
        try:
            answer = await web.post("/api/v1/messages", json={"body": body}, headers=headers)
        except httpx.HTTPError:
            run.errors += 1
            await asyncio.sleep(0.1)
            continue
        run.send_ms.append((time.monotonic() - started) * 1000)
        if answer.status_code != 201:
            run.errors += 1
            await asyncio.sleep(0.1)
            continue
        run.sent += 1
        stream = answer.json()["message"]["reply_stream"]
        try:
            async with streams.stream("GET", stream, headers=headers) as events:
                name = None
                async for line in events.aiter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:") and name == "token":
                        run.first_piece_at.setdefault(body, time.time())
                    elif line.startswith("data:") and name == "done":
                        run.replies_done += 1
                        break
        except httpx.HTTPError:
            run.errors += 1


async def _prober(web, run: ModelRun, ends: float) -> None:
    while time.monotonic() < ends:
        started = time.monotonic()
        answer = await web.get("/api/v1/pot")
        if answer.status_code == 200:
            run.pot_ms.append((time.monotonic() - started) * 1000)
        else:
            run.errors += 1
        await asyncio.sleep(0.1)


async def _model(web_url, stream_url, tokens, players, seconds) -> ModelRun:
    run = ModelRun()
    limits = httpx.Limits(max_connections=players + 8, max_keepalive_connections=players + 8)
    timeout = httpx.Timeout(30)
    async with (
        httpx.AsyncClient(base_url=web_url, limits=limits, timeout=timeout) as web,
        httpx.AsyncClient(base_url=stream_url, limits=limits, timeout=timeout) as streams,
    ):
        ends = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _player(i, tokens[i % len(tokens)], web, streams, run, ends)
                for i in range(players)
            ),
            _prober(web, run, ends),
        )
    return run


def model_scenario(web_url, stream_url, model_url, tokens, players, seconds) -> dict:
    started = time.monotonic()
    run = asyncio.run(_model(web_url, stream_url, tokens, players, seconds))
    took = time.monotonic() - started
    stats = json.loads(httpx.get(f"{model_url}/stats", timeout=10).text)["first_chunk_at"]
    lags = [
        (seen - stats[body]) * 1000 for body, seen in run.first_piece_at.items() if body in stats
    ]
    return {
        "players": players,
        "messages_per_second": run.sent / took,
        "replies_done": run.replies_done,
        "errors": run.errors,
        "send_p50_ms": percentile(run.send_ms, 50),
        "send_p99_ms": percentile(run.send_ms, 99),
        "first_piece_after_model_p50_ms": percentile(lags, 50),
        "first_piece_after_model_p99_ms": percentile(lags, 99),
        "pot_p50_ms": percentile(run.pot_ms, 50),
        "pot_p99_ms": percentile(run.pot_ms, 99),
        "pot_requests": len(run.pot_ms),
    }


# -- audience ---------------------------------------------------------------------------


@dataclass
class Watcher:
    wins: dict[int, float] = field(default_factory=dict)  # round -> time.time() heard
    pots: list[tuple[float, int, int]] = field(default_factory=list)  # (heard, round, amount)
    connected: bool = False


WIN = re.compile(rb'event: win\ndata: \{"round":(\d+),')
POT = re.compile(rb'event: pot\ndata: \{"round":(\d+),"amount":(\d+)\}')


async def _watch(url: str, watcher: Watcher, ends: float) -> None:
    """One client of the events stream, on a bare socket, reading what comes as it comes
    and picking the events out with patterns: a thousand of them must cost the machine
    little, or they would measure themselves."""
    parts = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    pending = b""
    try:
        while (left := ends - time.monotonic()) > 0:
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 16), left)
            except TimeoutError:
                break
            if not chunk:
                break
            now = time.time()
            if not watcher.connected and b" 200 " in chunk.split(b"\r\n", 1)[0]:
                watcher.connected = True
            # Whole events only; a part waits for the rest.
            complete, _, pending = (pending + chunk).rpartition(b"\n\n")
            for match in WIN.finditer(complete):
                watcher.wins.setdefault(int(match[1]), now)
            for match in POT.finditer(complete):
                watcher.pots.append((now, int(match[1]), int(match[2])))
    finally:
        writer.close()


async def _audience(url: str, clients: int, seconds: float, connected: asyncio.Event):
    watchers = [Watcher() for _ in range(clients)]
    ends = time.monotonic() + seconds
    tasks = []
    for watcher in watchers:
        tasks.append(asyncio.create_task(_watch(url, watcher, ends)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)  # a crowd that arrives, not a single blow
    connected.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return watchers


def run_audience(url: str, clients: int, seconds: float, while_connected) -> list[Watcher]:
    """Hold `clients` streams open for `seconds`; once all are open, call
    `while_connected()` (in a thread) to make the load the audience watches."""

    async def main():
        connected = asyncio.Event()
        watching = asyncio.create_task(_audience(url, clients, seconds, connected))
        await connected.wait()
        await asyncio.sleep(1.0)  # every client has its first events
        await asyncio.to_thread(while_connected)
        return await watching

    return asyncio.run(main())


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
    ages = _pot_ages(watchers, pots)
    return {
        "clients": len(watchers),
        "connected": sum(watcher.connected for watcher in watchers),
        "wins": len(wins),
        "wins_missed": missed,
        "win_heard_p50_ms": percentile(win_lags, 50),
        "win_heard_p99_ms": percentile(win_lags, 99),
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
