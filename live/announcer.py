"""The pot, its wins and its rounds, announced to every real-time engine (docs/LIVE.md): the
only publisher of the events feed.

One announcer speaks for the whole deployment, whatever the number of workers: each
worker runs one, and the one holding the lease (live.models.Lease, in the database, so it
needs nothing else) announces. Every TICK_SECONDS it reads the pot and, if it changed (or
nothing was said for STREAM_HEARTBEAT_SECONDS, or an engine missed the last tick), tells
every engine in one publish: each win and round since its last tick, in order, then the
pot. That publish is a tick (live.models.Tick), numbered, its pot's id naming it; what
each engine called it is kept, so that a client that heard it resumes there.

Twice a second, not four times: on 2 cores, 10,000 listeners of four writes a second cost
the engine 0.4 of a core, and the figure is no more than half a second old either way.
"""

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import get_random_string

from operations import metrics
from pot.selectors import pot_status

from . import engine
from .events import Position, events_between, pot_event
from .models import Engine, Lease, Tick

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
LEAD_SECONDS = 5.0  # a lease lost with its announcer passes to another after this
# One tick tells at most this many rounds' events (an announcer that stalled this long
# says `missed` instead): a chunk every engine takes in one request.
ROUNDS_PER_TICK = 500
PRUNE_EVERY_SECONDS = 60.0
LEASE = "announcer"


@dataclass
class Said:
    """Where the announcer got to: its last tick, and what each engine holds."""

    tick: int
    round: int
    amount: int
    # Engine name -> messages its channel held after the last tick it took.
    held: dict[str, int] = field(default_factory=dict)
    # Publisher address -> engine name, as each named itself.
    names: dict[str, str] = field(default_factory=dict)
    # Engines that missed the last tick (by publisher address): told again soon.
    missed: set[str] = field(default_factory=set)


class Announcer:
    def __init__(self):
        self.token = get_random_string(24)
        self.said: Said | None = None
        self.published_at = 0.0
        self.pruned_at = 0.0
        # Its reads and writes go through a thread of their own, not the worker's:
        # queued behind the worker's claims under load, the pot was announced once a
        # second instead of twice.
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="announcer")

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        tick = loop.time()
        try:
            while not stopping.is_set():
                try:
                    await self.tick()
                except Exception:  # the next tick tries again
                    logger.exception("The announcer failed; trying again")
                    self.said = None  # where it got to is read again
                # Ticks TICK_SECONDS apart, however long a tick took, unless it took longer.
                tick = max(tick + TICK_SECONDS, loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), tick - loop.time())
        finally:
            await self._database(_close)
            self.database.shutdown(wait=False)

    async def tick(self) -> None:
        """One look at the pot, and a tick to every engine if there is news."""
        if not engine.configured():
            return
        if not await self._database(take_lease, holder=self.token):
            if self.said is not None:
                logger.info("Another worker announces the pot now")
            self.said = None
            return
        if self.said is None:
            logger.info("This worker announces the pot to the real-time engines")
            self.said = await self._database(where_announcing_got_to)
        status = await self._database(pot_status)
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self.published_at >= settings.STREAM_HEARTBEAT_SECONDS
        said = self.said
        news = (status.round_number, status.amount) != (said.round, said.amount)
        if not (news or quiet or said.missed):
            return
        number = said.tick + 1
        told = await self._database(
            events_between, Position(said.round), status.round_number, most=ROUNDS_PER_TICK
        )
        chunk = told + pot_event(round=status.round_number, amount=status.amount, tick=number)
        answers = await engine.apublish_to_each("events", chunk)
        # Where a new listener starts (the newest tick alone; the events channel keeps the
        # last hour's, for those that come back).
        await engine.apublish_to_each("now", chunk)
        self.published_at = loop.time()
        recorded = await self._database(
            record_tick,
            tick=Tick(id=number, round=status.round_number, amount=status.amount),
            answers=answers,
            said=said,
        )
        if not recorded:  # another announcer numbered this tick: it leads now
            self.said = None
            return
        if wins := told.count(b"event: win\n"):
            metrics.WINS_ANNOUNCED.inc(wins)
        said.tick, said.round, said.amount = number, status.round_number, status.amount
        if loop.time() - self.pruned_at >= PRUNE_EVERY_SECONDS:
            self.pruned_at = loop.time()
            await self._database(prune_ticks)

    async def _database(self, step, *args, **kwargs):
        return await sync_to_async(_fresh(step), thread_sensitive=False, executor=self.database)(
            *args, **kwargs
        )


def _fresh(step):
    """`step` with the thread's connection as Django keeps a request's: one too old or
    broken is replaced first, one that fails is closed."""

    def fresh(*args, **kwargs):
        close_old_connections()
        try:
            return step(*args, **kwargs)
        except DatabaseError:
            close_old_connections()
            raise

    return fresh


def _close() -> None:
    from django.db import connections

    connections.close_all()


def take_lease(*, holder: str) -> bool:
    """Take the announcer's lease, or keep it: whether `holder` announces now."""
    now = timezone.now()
    until = now + timedelta(seconds=LEAD_SECONDS)
    free_or_ours = Q(holder=holder) | Q(until__lt=now)
    if Lease.objects.filter(free_or_ours, name=LEASE).update(holder=holder, until=until):
        return True
    if Lease.objects.filter(name=LEASE).exists():
        # Another announcer holds it. (Asked, not tried: a standby worker's insert that
        # failed twice a second wrote an error to PostgreSQL's log each time.)
        return False
    try:
        with transaction.atomic():
            Lease.objects.create(name=LEASE, holder=holder, until=until)
    except IntegrityError:
        return False  # another announcer holds it
    return True


def where_announcing_got_to() -> Said:
    """The last tick announced (by this announcer or another), or where to start."""
    last = Tick.objects.order_by("-pk").first()
    if last is not None:
        return Said(tick=last.pk, round=last.round, amount=last.amount)
    status = pot_status()
    # Nothing announced yet: the open round is where things stand; its pot is news.
    return Said(tick=0, round=status.round_number, amount=-1)


def record_tick(*, tick: Tick, answers: list, said: Said) -> bool:
    """Keep the tick and what each engine called it; mark where each engine's unbroken run
    of ticks begins. False if the tick's number was taken (another announcer)."""
    tick.deliveries = {}
    started: list[str] = []  # engines whose run starts with this tick
    failed: list[str] = []  # engines (known by name) whose run ends before it
    for answer in answers:
        if isinstance(answer, engine.Failure):
            said.missed.add(answer.base)
            if answer.base in said.names:
                name = said.names.pop(answer.base)
                said.held.pop(name, None)
                failed.append(name)
            continue
        name = said.names[answer.base] = answer.engine
        tick.deliveries[name] = answer.message_id
        held_before = said.held.get(name)
        # New to this announcer, back from missing a tick, or holding fewer messages
        # than before (it restarted, empty): what it holds starts here.
        if answer.base in said.missed or held_before is None or answer.messages < held_before:
            started.append(name)
        said.missed.discard(answer.base)
        said.held[name] = answer.messages
    try:
        with transaction.atomic():
            tick.save(force_insert=True)
            for name in started:
                publisher = next(base for base, known in said.names.items() if known == name)
                Engine.objects.update_or_create(
                    name=name, defaults={"since": tick.pk, "publisher": publisher}
                )
            if failed:
                Engine.objects.filter(name__in=failed).update(since=None)
    except IntegrityError:
        return False
    return True


def prune_ticks() -> None:
    """Ticks no client can resume from any more (live.comeback), the newest kept."""
    horizon = timezone.now() - timedelta(seconds=2 * settings.LIVE_RESUME_SECONDS)
    newest = Tick.objects.order_by("-pk").values_list("pk", flat=True).first()
    Tick.objects.filter(created_at__lt=horizon).exclude(pk=newest).delete()


async def announce(stopping: asyncio.Event) -> None:
    """The announcer's life in a worker."""
    await Announcer().run(stopping)
