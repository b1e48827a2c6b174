"""The worker (`manage.py run_worker`): writes the keeper's replies, many at once, on one
event loop (docs/LIVE.md).

The replies waiting are the queue (chat.models.Reply). On PostgreSQL the send notifies
the workers as it commits (NOTIFY on REPLIES_CHANNEL) and a worker claims the reply at
once; it also looks every `sweep_every` seconds, for leases that ran out and for anything
sent while it was not listening. On SQLite it looks every `poll_every` seconds.

The built-in keeper's replies are claimed, written and stored in one transaction. A
model's are claimed, leased and written side by side, up to `concurrency` at once: the
model calls wait on the network together, the database work goes through one thread and
one connection. The worker renews the leases of the replies it writes; one it has lost
(stopped by its player, or claimed by another worker after this one stalled) is
abandoned, and every write it would still make is refused (chat.replies).

Beside the replies, a worker runs its companions until it stops: the pot's announcer
(live.announcer) and the ledger's audit when it is due (wallet.auditing), as
`manage.py run_worker` gives them.
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, close_old_connections, connections
from django.utils import timezone

from chat.models import REPLIES_CHANNEL
from chat.replies import MAX_REPLY_CHARS, Passed, followers, replies, reply_about, reply_finished
from operations import logs, metrics

from . import conf
from .bots import Bot, BuiltinBot, close_model_session, get_bot
from .selectors import any_to_claim
from .services import (
    Claim,
    replies_claim,
    replies_renew,
    replies_write_at_once,
    reply_finish,
    reply_release,
)

logger = logging.getLogger(__name__)


# What runs beside the replies until the worker stops (given the worker's `stopping`).
Companion = Callable[[asyncio.Event], Awaitable[None]]


class Worker:
    def __init__(
        self,
        *,
        concurrency: int,
        timings: conf.Timings | None = None,
        companions: Sequence[Companion] = (),
    ):
        self.concurrency = concurrency
        self.timings = timings or conf.timings()
        self.companions = companions
        self.writing: dict[asyncio.Task, Claim] = {}
        self.stopping = asyncio.Event()
        self.notified = asyncio.Event()

    def stop(self) -> None:
        if not self.stopping.is_set():
            logger.info("The worker is stopping: it finishes the replies it writes")
        self.stopping.set()

    async def drain(self) -> None:
        """Write the replies waiting now, and any that come meanwhile, then return: no
        notification is waited for, no signal handled (`run_worker --batch`, the tests)."""
        try:
            while True:
                taken = await self._take_on(self.concurrency)
                if self.writing:
                    await asyncio.wait(list(self.writing))
                elif not taken or taken < self.concurrency:
                    break
        finally:
            await close_model_session()
            await followers.close()

    async def run(self, *, handle_signals: bool = True) -> None:
        """Write replies until `stop()` (SIGTERM or SIGINT, unless `handle_signals` is off)."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
        notifications = Notifications(self.notified)
        await notifications.listen()
        logger.info(
            "The worker writes up to %s replies at once; it %s",
            self.concurrency,
            "is notified of new ones" if notifications.listening else "looks for new ones",
        )
        renewing = loop.create_task(self._renew_leases())
        beside = [loop.create_task(companion(self.stopping)) for companion in self.companions]
        swept_at = loop.time()
        try:
            claimed_at = -self.timings.claim_every
            while not self.stopping.is_set():
                free = self.concurrency - len(self.writing)
                taken = 0
                if free:
                    # Busy, replies gather between two claims: a claim answers many.
                    if (pause := claimed_at + self.timings.claim_every - loop.time()) > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.stopping.wait(), pause)
                    notified = self.notified.is_set()
                    self.notified.clear()
                    taken = await self._take_on(free, look_first=not notified)
                    if taken:
                        claimed_at = loop.time()
                if loop.time() - swept_at >= self.timings.sweep_every:
                    swept_at = loop.time()
                    # As Django does between requests: a connection too old or broken goes.
                    await sync_to_async(close_old_connections)()
                    if not notifications.listening:
                        await notifications.listen()
                if free and taken and taken >= free:
                    continue  # more may be waiting
                await self._idle(
                    until_a_slot_frees=not free,
                    seconds=(
                        self.timings.sweep_every
                        if notifications.listening
                        else self.timings.poll_every
                    ),
                )
        finally:
            renewing.cancel()
            await self._finish_writing()
            await asyncio.gather(*beside, return_exceptions=True)
            await notifications.close()
            await close_model_session()
            await followers.close()
            await sync_to_async(connections.close_all)()
            if handle_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

    async def _take_on(self, free: int, *, look_first: bool = False) -> int | None:
        """Claim up to `free` replies and set about writing them; how many were taken, or
        None if the database failed. `look_first`: only claim if there is something to
        claim (a look costs no lock; on SQLite a claim locks the database)."""
        bot = get_bot()
        if look_first and not await self._database(any_to_claim, now=timezone.now()):
            return 0
        if bot.instant:
            answered = await self._database(replies_write_at_once, limit=free)
            if answered:
                try:
                    await replies().all_at_once(answered)
                except Exception:  # stored all the same: the streams read the end there
                    logger.exception("The built-in replies could not be published")
            return None if answered is None else len(answered)
        claims = await self._database(replies_claim, limit=free, history_turns=bot.history_turns)
        for claim in claims or []:
            job = asyncio.get_running_loop().create_task(self._write(bot, claim))
            self.writing[job] = claim
            job.add_done_callback(self._written)
        return None if claims is None else len(claims)

    def _written(self, job: asyncio.Task) -> None:
        self.writing.pop(job, None)

    async def _idle(self, *, until_a_slot_frees: bool, seconds: float) -> None:
        """Wait `seconds`, or until the worker is told to stop, or (when it has a free
        slot) is notified of a new reply, or (when it has none) a reply is written."""
        loop = asyncio.get_running_loop()
        waits = [loop.create_task(self.stopping.wait())]
        if until_a_slot_frees:
            jobs = list(self.writing)
        else:
            waits.append(loop.create_task(self.notified.wait()))
            jobs = []
        await asyncio.wait([*waits, *jobs], timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()

    async def _renew_leases(self) -> None:
        """Renew the leases of the replies being written; abandon those lost."""
        while True:
            await asyncio.sleep(self.timings.renew_every)
            claims = [claim for claim in self.writing.values() if not claim.lost]
            if claims and await self._database(replies_renew, claims=claims):
                for job, claim in list(self.writing.items()):
                    if claim.lost:
                        logger.warning(
                            "The reply to message %s is no longer this worker's to write "
                            "(attempt %s)",
                            claim.message_id,
                            claim.attempt,
                        )
                        job.cancel()

    async def _finish_writing(self) -> None:
        if not self.writing:
            return
        _, late = await asyncio.wait(list(self.writing), timeout=self.timings.grace)
        for job in late:
            job.cancel()
        if late:
            await asyncio.wait(late)

    async def _database(self, step: Callable, **kwargs):
        """A step against the database (and Redis, where a claim reads the text so far), in
        the worker's one database thread: either gone away is waited for, not a reason for
        the worker to die."""
        try:
            return await sync_to_async(step)(**kwargs)
        except (DatabaseError, redis.RedisError):
            logger.exception("The worker's database or Redis failed; trying again")
            await sync_to_async(close_old_connections)()
            await asyncio.sleep(1)
            return None

    async def _write(self, bot: Bot, claim: Claim) -> None:
        """Write one reply: the model's, as far as it gets; the built-in keeper's if the
        model gave nothing, or if the reply has been claimed too often. Its lines say
        whose reply it is, and the request that sent the message."""
        with logs.bound(**reply_about(claim.message)):
            await self._write_bound(bot, claim)

    async def _write_bound(self, bot: Bot, claim: Claim) -> None:
        live = replies()
        writing = Writing(live, claim)
        outcome = "model"
        try:
            if writing.text:
                # An earlier attempt's worker died part-way: what it wrote was shown, and
                # stands, said to be cut short (asked again, a model would not go on from
                # it: the player would see two replies run into one).
                logger.warning(
                    "The reply to message %s was cut short by its worker's end (attempt %s)",
                    claim.message_id,
                    claim.attempt,
                )
                outcome = "interrupted"
            elif claim.exhausted:
                logger.warning(
                    "The reply to message %s was claimed %s times: the built-in keeper answers it",
                    claim.message_id,
                    claim.attempt,
                )
                outcome = "fallback"
            else:
                await self._stream(bot, writing)
            if not writing.text.strip():
                writing.text = BuiltinBot().reply(claim.context)
                outcome = "fallback"
                await writing.flush()
            await self._finish(writing, outcome)
        except Lost:
            pass
        except asyncio.CancelledError:
            if not claim.lost:  # the worker is stopping: keep what there is, or hand it on
                await writing.cancel_passing()
                if writing.text:
                    with contextlib.suppress(Lost):
                        await self._finish(writing, outcome)
                else:
                    await self._database(reply_release, claim=claim)
            raise
        except Exception:  # its lease runs out, and another worker takes it on
            logger.exception("The reply to message %s failed", claim.message_id)
            reply_finished(claim.message, "failed")
        finally:
            await writing.cancel_passing()

    async def _stream(self, bot: Bot, writing: "Writing") -> None:
        """The model's reply as far as it gets within the timeout, passed on as it comes.
        Raises Lost if the reply was stopped or claimed by another worker. Whatever else
        goes wrong (the model's server, the client library, the way to the followers), the
        text so far stands."""
        claim = writing.claim
        metrics.MODEL_REQUESTS.inc()
        try:
            async with asyncio.timeout(self.timings.timeout):
                async for piece in bot.stream(claim.context):
                    piece = piece[: MAX_REPLY_CHARS - len(writing.text)]
                    if not piece:
                        break  # long enough: the rest is not shown
                    writing.text += piece
                    await writing.wrote()
        except Lost:
            raise
        except TimeoutError:
            metrics.MODEL_ERRORS.labels("timeout").inc()
            logger.warning(
                "The model's reply to message %s ran past the keeper's timeout (%s s)",
                claim.message_id,
                self.timings.timeout,
            )
        except Exception as error:
            what = "could not be passed on" if error is writing.failed else "failed"
            if error is not writing.failed:
                metrics.MODEL_ERRORS.labels(type(error).__name__).inc()
            logger.warning(
                "The model's reply to message %s %s (%s): %s",
                claim.message_id,
                what,
                type(error).__name__,
                error,
            )
        await writing.flush()

    async def _finish(self, writing: "Writing", outcome: str) -> None:
        claim = writing.claim
        message = await self._database(
            reply_finish, claim=claim, text=writing.text, interrupted=outcome == "interrupted"
        )
        if message is None:
            raise Lost()
        reply_finished(claim.message, outcome)
        try:
            await writing.live.finished(claim.writer, message)
        except Exception:  # stored all the same: the streams read the end there
            logger.exception("The end of the reply to message %s was not published", message)


class Lost(Exception):
    """The reply is no longer this worker's to write."""


# The model's pieces go on to the followers together, at most this often (the first at
# once): a model writes a word at a time, and each piece passed on costs the worker, Redis,
# the stream process and every follower; ten a second still read as writing.
PASS_ON_SECONDS = 0.1


class Writing:
    """One reply being written: its text so far, and what of it has gone on to its
    followers, and when. What is written waits at most PASS_ON_SECONDS for the next
    passing. Raises Lost once the player stopped the reply or another attempt has it."""

    def __init__(self, live, claim: Claim):
        self.live, self.claim = live, claim
        self.text = claim.kept  # what an earlier attempt passed on already
        self.passed, self.at = len(self.text), 0.0
        self.lock = asyncio.Lock()
        self.later: asyncio.Task | None = None
        # The later passing has begun publishing: it is let finish, never cancelled (a
        # piece cut off there went out all the same, and would go out again).
        self.later_publishing = False
        self.failed: BaseException | None = None

    async def wrote(self) -> None:
        """More text: it goes on now if the last passing is old enough, else soon."""
        if self.failed is not None:
            raise self.failed
        if not self.at and not self.passed:  # the reply's first piece
            sent = self.claim.message.created_at
            metrics.FIRST_PIECE.observe((timezone.now() - sent).total_seconds())
        if time.monotonic() - self.at >= PASS_ON_SECONDS:
            await self.pass_on()
        elif self.later is None or self.later.done():
            self.later_publishing = False
            self.later = asyncio.ensure_future(self._pass_on_later())

    async def _pass_on_later(self) -> None:
        await asyncio.sleep(max(0.0, self.at + PASS_ON_SECONDS - time.monotonic()))
        self.later_publishing = True
        try:
            await self.pass_on()
        except Exception as error:  # the writing loop raises it
            self.failed = error

    async def pass_on(self) -> None:
        async with self.lock:  # one passing at a time, in order
            text = self.text
            if len(text) <= self.passed:
                return
            claim = self.claim
            passed = await self.live.piece(claim.writer, self.passed, text[self.passed :])
            if passed is Passed.REFUSED:
                claim.lost = True
            if passed is not Passed.ON:
                raise Lost()  # the player stopped it (and kept the text), or it was taken
            self.passed, self.at = len(text), time.monotonic()

    async def flush(self) -> None:
        """Everything written goes on, as far as the way to the followers allows: the
        reply is stored all the same, and the streams read its end there."""
        await self.cancel_passing()
        failed, self.failed = self.failed, None
        if isinstance(failed, Lost):
            raise failed
        try:
            await self.pass_on()
        except Lost:
            raise
        except Exception:
            logger.exception("The reply to message %s was not passed on", self.claim.message_id)

    async def cancel_passing(self) -> None:
        """No passing later: one still waiting is called off, one publishing is let end."""
        if self.later is not None and not self.later.done():
            if not self.later_publishing:
                self.later.cancel()
            await asyncio.gather(self.later, return_exceptions=True)


class Notifications:
    """The send's notifications of new replies (PostgreSQL's LISTEN, on a connection of
    its own), each setting `arrived`. Where the database cannot notify, or the connection
    is lost, it does not listen, and the worker looks for new replies instead."""

    def __init__(self, arrived: asyncio.Event):
        self.arrived = arrived
        self.connection = None

    @property
    def listening(self) -> bool:
        return self.connection is not None

    async def listen(self) -> None:
        if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
            return
        try:
            self.connection = await sync_to_async(_listening_connection)()
        except Exception:
            logger.warning("The worker cannot listen for new replies; it looks", exc_info=True)
            return
        if self.connection is None:
            return
        asyncio.get_running_loop().add_reader(self.connection.fileno(), self._read)
        self.arrived.set()  # anything sent before it listened is looked for now

    def _read(self) -> None:
        try:
            self.connection.poll()
        except Exception:
            logger.warning("The worker stopped listening for new replies", exc_info=True)
            self._drop()
            self.arrived.set()
            return
        if self.connection.notifies:
            self.connection.notifies.clear()
            self.arrived.set()

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        try:
            asyncio.get_running_loop().remove_reader(connection.fileno())
        finally:
            connection.close()

    async def close(self) -> None:
        if self.connection is not None:
            self._drop()


def _listening_connection():
    """A connection of the default database's, listening on REPLIES_CHANNEL (psycopg2's
    driver; None with another). Through a pooler in transaction mode, which passes no
    notification on, it is one to the database server itself (DATABASE_LISTEN_ADDRESS), or
    none."""
    database = connections[DEFAULT_DB_ALIAS]
    params = database.get_connection_params()
    if settings.DATABASE_POOLER == "transaction":
        if not settings.DATABASE_LISTEN_ADDRESS:
            return None
        host, _, port = settings.DATABASE_LISTEN_ADDRESS.rpartition(":")
        params = {**params, "host": host, "port": int(port)}
    connection = database.get_new_connection(params)
    if not hasattr(connection, "poll"):
        connection.close()
        return None
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {REPLIES_CHANNEL}")
    return connection
