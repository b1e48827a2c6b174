"""The pot and its winners, pushed to every open page (`GET /api/v1/events`).

One ticker per stream process reads the pot a few times a second and tells each of the
process's listeners what changed: the pot's amount (only the latest counts, so at most one
per tick), every round closed with a win (never dropped: the ticker asks for every round
closed since the last it saw), and every round opened. Nothing is added to the send: the
events cost the database a few small reads a second per process, however many watch.
"""

import asyncio
import contextvars
import logging
import weakref
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils.crypto import get_random_string

from chatpot_project import engine
from chatpot_project.streams import event, stream_database

from .models import Round
from .selectors import pot_status

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.25  # so no client is sent more than 4 pot figures a second
IDLE_TICKS = 240  # with nobody listening for this many ticks, the ticker stops


@dataclass(frozen=True)
class PotFigure:
    round: int
    amount: int
    server_seed_hash: str


class Listener:
    """One client's events, as the stream sends them: wins and rounds in order, and the
    pot's latest figure only."""

    def __init__(self):
        self.ordered: list[bytes] = []
        self.pot: bytes = b""
        self.changed = asyncio.Event()

    def add(self, encoded: bytes) -> None:
        self.ordered.append(encoded)
        self.changed.set()

    def set_pot(self, encoded: bytes) -> None:
        self.pot = encoded
        self.changed.set()

    async def next_events(self, timeout: float) -> bytes:
        """What changed since the last call, as one piece of the stream (written at once),
        waiting up to `timeout` seconds for it; b"" if nothing did."""
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except TimeoutError:
            return b""
        self.changed.clear()
        events = b"".join([*self.ordered, self.pot])
        self.ordered, self.pot = [], b""
        return events


class PotTicker:
    def __init__(self):
        self.listeners: set[Listener] = set()
        self.latest: PotFigure | None = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    async def listen(self, *, since: "Seen | None" = None) -> Listener:
        """A new listener, told at once the open round and the pot; or, for a client that
        comes back (`since`: the last of its events it saw), every win and round it
        missed, then the pot."""
        if self.task is None or self.task.done():  # one ticker, however many arrive at once
            self.ready = asyncio.Event()
            # A context of its own: the ticker outlives the request that started it.
            self.task = asyncio.get_running_loop().create_task(
                self._run(), context=contextvars.Context()
            )
        await self.ready.wait()
        listener = Listener()
        if self.latest is not None:
            if since is None:
                listener.add(event("round", round_data(self.latest), id=str(self.latest.round)))
            else:
                missed = await events_between_async(since.round, self.latest.round)
                listener.add(encoded(since.after(missed)))
            listener.set_pot(_pot_event(self.latest))
        self.listeners.add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def _run(self) -> None:
        try:
            self.latest = await read_figure_async()
        except DatabaseError:
            logger.warning("The pot ticker could not read the pot", exc_info=True)
        finally:
            self.ready.set()
        await self._tick_while_listened()

    async def _tick_while_listened(self) -> None:
        idle = 0
        while idle < IDLE_TICKS:
            await asyncio.sleep(TICK_SECONDS)
            idle = 0 if self.listeners else idle + 1
            try:
                figure = await read_figure_async()
                events = await events_between_async(
                    self.latest.round if self.latest else None, figure.round
                )
            except DatabaseError:  # the connection is replaced on the next read
                logger.warning("The pot ticker could not read the pot", exc_info=True)
                continue
            if figure == self.latest:
                continue
            self.latest = figure
            # Encoded once for every listener of the process.
            ordered = encoded(events)
            pot = _pot_event(figure)
            for listener in list(self.listeners):
                if ordered:
                    listener.add(ordered)
                listener.set_pot(pot)


def _pot_event(figure: PotFigure) -> bytes:
    return event("pot", pot_data(figure))


# Each win and round event has an id, so that a client that comes back (EventSource sends
# the last it saw as Last-Event-ID) is told every win it missed: a round's own number, and
# its number and "w" for its win.
def event_id(name: str, data: dict) -> str:
    return f"{data['round']}w" if name == "win" else str(data["round"])


def encoded(events: list[tuple[str, dict]]) -> bytes:
    return b"".join(event(name, data, id=event_id(name, data)) for name, data in events)


@dataclass(frozen=True)
class Seen:
    """The last win or round event a client saw."""

    round: int
    won: bool  # its win, not its opening

    def after(self, events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
        """The events from `events_between(self.round, ...)` the client has not seen."""
        return [
            (name, data)
            for name, data in events
            if not (self.won and name == "win" and data["round"] == self.round)
        ]


def last_event_round(last_event_id: str | None) -> Seen | None:
    """What a client's Last-Event-ID says it saw; None for none, or one not ours."""
    value = (last_event_id or "").strip()
    won = value.endswith("w")
    number = value.removesuffix("w")
    if not (number.isascii() and number.isdigit()) or len(number) > 10:
        return None
    return Seen(int(number), won)


def read_figure() -> PotFigure:
    status = pot_status()
    return PotFigure(status.round_number, status.amount, status.server_seed_hash)


def events_between(before: int | None, now: int) -> list[tuple[str, dict]]:
    """A `win` for every round won since round `before` (its own included), and a `round`
    for every round opened after it, up to round `now`, in order."""
    if before is None or before >= now:
        return []
    events = []
    rounds = (
        Round.objects.filter(number__gte=before, number__lte=now)
        .select_related("winner")
        .order_by("number")
    )
    for closed in rounds:
        if closed.number > before:
            events.append(
                ("round", {"round": closed.number, "server_seed_hash": closed.server_seed_hash})
            )
        if closed.outcome == Round.Outcome.WON:
            events.append(
                (
                    "win",
                    {
                        "round": closed.number,
                        "winner": closed.winner.username,
                        "payout": closed.payout,
                        "server_seed": closed.server_seed,
                    },
                )
            )
    return events


# Through the streams' database thread: a stream process's ticker, and a worker's announcer.
read_figure_async = stream_database(read_figure)
events_between_async = stream_database(events_between)


def pot_data(figure: PotFigure) -> dict:
    return {"round": figure.round, "amount": figure.amount}


def round_data(figure: PotFigure) -> dict:
    return {"round": figure.round, "server_seed_hash": figure.server_seed_hash}


_tickers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ticker() -> PotTicker:
    """The ticker of this process (of its event loop)."""
    loop = asyncio.get_running_loop()
    if (found := _tickers.get(loop)) is None:
        found = _tickers[loop] = PotTicker()
    return found


async def caught_up(location: str, since: Seen | None) -> str:
    """The engine's `location` for a client; for one that comes back (`since`), first
    every win and round it missed and the pot, published for it alone, which the engine
    sends before the rest. (The engine keeps the latest publish too, so nothing published
    while the client is handed over is lost; the client may hear an event twice.)"""
    if since is None:
        return location
    figure = await read_figure_async()
    missed = since.after(await events_between_async(since.round, figure.round))
    token = get_random_string(24)
    try:
        # From the web process: a request of its own, not an event loop's session.
        await asyncio.to_thread(
            engine.publish_now, engine.resume_path(token), encoded(missed) + _pot_event(figure)
        )
    except engine.PublishFailed:
        logger.exception("The real-time engine did not take what a client missed")
        return location
    return f"{location}/resume/{token}"


async def where_things_stand() -> bytes:
    """The open round and the pot, as the events a new listener is told first."""
    figure = await read_figure_async()
    return event("round", round_data(figure), id=str(figure.round)) + _pot_event(figure)
