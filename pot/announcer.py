"""The pot, its wins and its rounds, announced to the real-time engine (DESIGN section 9),
which holds every listener of `GET /api/v1/events` and of the pages' streams.

One announcer speaks for the whole deployment, whatever the number of workers: each
worker runs one, and the one holding a lease in Redis announces. Every TICK_SECONDS it
reads the pot and tells the engine what changed, in one publish: every round closed with
a win and every round opened since the last it announced (in order, never dropped: where
it got to is kept in Redis, so the next announcer goes on from there), then the pot's
amount. A listener that comes back is told what it missed by the app
(pot.streams.events_answer), from the rounds themselves.

Twice a second, not four times: on 2 cores, 10,000 listeners of four writes a second cost
the engine 0.4 of a core, and the figure is no more than half a second old either way.
"""

import asyncio
import contextlib
import logging

from django.conf import settings
from django.utils.crypto import get_random_string

from chatpot_project import engine, metrics
from chatpot_project.redis_clients import async_client, namespace, redis_url
from chatpot_project.streams import event

from .live import PotFigure, encoded, events_between_async, pot_data, read_figure_async

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5  # so no listener is sent more than 2 pot figures a second
LEAD_SECONDS = 5.0  # a lease lost with its announcer passes to another after this

# Take the lease, or keep it if it is ours already.
LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""


class Announcer:
    """Its reads go through a database thread of their own (the streams', unused in a
    worker), not the worker's: queued behind the worker's claims under load, the pot was
    announced once a second instead of twice."""

    def __init__(self):
        self.token = get_random_string(24)
        self.latest: PotFigure | None = None
        self.leading = False
        self.published_at = 0.0

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        tick = loop.time()
        while not stopping.is_set():
            try:
                if await self._lead():
                    await self._announce()
            except Exception:  # the next tick tries again
                logger.exception("The announcer failed; trying again")
            # Ticks TICK_SECONDS apart, however long a tick took (a publish to many
            # listeners takes a while), unless it took longer.
            tick = max(tick + TICK_SECONDS, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), tick - loop.time())

    async def _lead(self) -> bool:
        """Whether this announcer speaks now (it holds the lease, renewed on every tick);
        without Redis, there is one worker, and it does."""
        leading = True
        if redis_url():
            leading = bool(
                await async_client().eval(
                    LEAD, 1, _key("lead"), self.token, int(LEAD_SECONDS * 1000)
                )
            )
        if leading and not self.leading:
            logger.info("This worker announces the pot to the real-time engine")
            self.latest = None  # where the last announcer got to is read again
        self.leading = leading
        return leading

    async def _announce(self) -> None:
        figure = await read_figure_async()
        since = self.latest.round if self.latest else await self._announced_round(figure)
        events = await events_between_async(since, figure.round)
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self.published_at >= settings.STREAM_HEARTBEAT_SECONDS
        if figure == self.latest and not events and not quiet:
            return
        # Quiet, the pot again: nothing on the way closes a quiet stream, and the engine
        # always has where things stand for a listener that arrives.
        chunk = encoded(events) + event("pot", pot_data(figure))
        await engine.publish(engine.events_path(), chunk)
        self.published_at = loop.time()
        if wins := sum(1 for name, _ in events if name == "win"):
            metrics.WINS_ANNOUNCED.inc(wins)
        if figure != self.latest:
            await self._remember(figure.round)
            self.latest = figure

    async def _announced_round(self, figure: PotFigure) -> int:
        """The round the last announcer had got to (nothing before it is announced again),
        or, the first time, the open one."""
        if not redis_url():
            return figure.round
        found = await async_client().get(_key("round"))
        return int(found) if found is not None else figure.round

    async def _remember(self, round_number: int) -> None:
        if redis_url():
            await async_client().set(_key("round"), round_number)


def _key(name: str) -> str:
    return f"{namespace()}:announcer:{name}"


async def announce_once_enabled(stopping: asyncio.Event) -> None:
    """The announcer's life in a worker: nothing to do without a real-time engine."""
    if engine.enabled():
        await Announcer().run(stopping)
