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

    async def listen(self) -> Listener:
        """A new listener, told the open round and the pot at once."""
        if self.task is None or self.task.done():  # one ticker, however many arrive at once
            self.ready = asyncio.Event()
            # A context of its own: the ticker outlives the request that started it.
            self.task = asyncio.get_running_loop().create_task(
                self._run(), context=contextvars.Context()
            )
        await self.ready.wait()
        listener = Listener()
        if self.latest is not None:
            listener.add(event("round", _round_data(self.latest)))
            listener.set_pot(_pot_event(self.latest))
        self.listeners.add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def _run(self) -> None:
        try:
            self.latest = await _read_figure()
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
                figure = await _read_figure()
                events = await _events_between(self.latest, figure)
            except DatabaseError:  # the connection is replaced on the next read
                logger.warning("The pot ticker could not read the pot", exc_info=True)
                continue
            if figure == self.latest:
                continue
            self.latest = figure
            # Encoded once for every listener of the process.
            ordered = b"".join(event(name, data) for name, data in events)
            pot = _pot_event(figure)
            for listener in list(self.listeners):
                if ordered:
                    listener.add(ordered)
                listener.set_pot(pot)


def _pot_event(figure: PotFigure) -> bytes:
    return event("pot", {"round": figure.round, "amount": figure.amount})


def _round_data(figure: PotFigure) -> dict:
    return {"round": figure.round, "server_seed_hash": figure.server_seed_hash}


@stream_database
def _read_figure() -> PotFigure:
    status = pot_status()
    return PotFigure(status.round_number, status.amount, status.server_seed_hash)


@stream_database
def _events_between(before: PotFigure | None, now: PotFigure) -> list[tuple[str, dict]]:
    """A `win` for every round won since `before`, and a `round` for every round opened."""
    if before is None or before.round >= now.round:
        return []
    events = []
    rounds = (
        Round.objects.filter(number__gte=before.round, number__lte=now.round)
        .select_related("winner")
        .order_by("number")
    )
    for closed in rounds:
        if closed.number > before.round:
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


_tickers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ticker() -> PotTicker:
    """The ticker of this process (of its event loop)."""
    loop = asyncio.get_running_loop()
    if (found := _tickers.get(loop)) is None:
        found = _tickers[loop] = PotTicker()
    return found


async def where_things_stand() -> bytes:
    """The open round and the pot, as the events a new listener is told first."""
    figure = await _read_figure()
    return event("round", _round_data(figure)) + _pot_event(figure)
