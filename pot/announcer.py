"""The pot, its wins and its rounds, announced to the real-time engine (DESIGN section 9),
which holds every listener of `GET /api/v1/events` and of the pages' streams.

One announcer speaks for the whole deployment, whatever the number of workers: each
worker runs one, and the one holding a lease in Redis announces. A few times a second it
reads the pot and tells the engine what changed: every round closed with a win and every
round opened since the last it announced (in order, never dropped: where it got to is
kept in Redis, so the next announcer goes on from there), then the pot's amount, at most
TICK_SECONDS apart; the engine keeps the events for listeners that reconnect.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from django.utils.crypto import get_random_string

from chatpot_project import engine
from chatpot_project.redis_clients import async_client, namespace, redis_url

from .live import PotFigure, events_between, pot_data, read_figure

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.25  # so no listener is sent more than 4 pot figures a second
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
    def __init__(self, database: Callable[..., Awaitable]):
        """`database(step, **kwargs)` runs a step against the database (the worker's one
        database thread), returning None if the database failed."""
        self.database = database
        self.token = get_random_string(24)
        self.latest: PotFigure | None = None
        self.leading = False

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                if await self._lead():
                    await self._announce()
            except Exception:  # the next tick tries again
                logger.exception("The announcer failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), TICK_SECONDS)

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
        figure = await self.database(read_figure)
        if figure is None:
            return
        since = self.latest.round if self.latest else await self._announced_round(figure)
        events = await self.database(events_between, before=since, now=figure.round) or []
        for name, data in events:
            await engine.publish(engine.events_path(), name, data)
            await self._remember(data["round"])
        if figure != self.latest:
            await engine.publish(engine.events_path(), "pot", pot_data(figure))
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


async def announce_once_enabled(database, stopping: asyncio.Event) -> None:
    """The announcer's life in a worker: nothing to do without a real-time engine."""
    if engine.enabled():
        await Announcer(database).run(stopping)
