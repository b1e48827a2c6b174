"""The worker (`manage.py run_worker`): runs the tasks enqueued in the database
(django-tasks-db), many at once, on one event loop.

django-tasks-db's own `db_worker` runs one task at a time; a reply streamed from a model
takes seconds, so this worker claims as many ready tasks as it has free slots
(WORKER_CONCURRENCY), in one statement, and runs them side by side: the model calls wait
on the network together, the database work goes through one thread and one connection.
It also takes care of what a worker that died left behind (chat.replies.recover_replies)
and prunes finished task records.
"""

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.tasks import DEFAULT_TASK_QUEUE_NAME
from django.tasks.base import TaskContext, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from .bots import close_model_session, get_bot
from .live import replies
from .models import Message
from .replies import LEASE_MARGIN, recover_replies, replies_at_once
from .tasks import generate_reply

logger = logging.getLogger(__name__)

PRUNE_BATCH = 5000


class WorkerLost(Exception):
    """The worker running this task stopped without finishing it."""


class Worker:
    def __init__(
        self,
        *,
        concurrency: int,
        queues: list[str] | None = None,
        backend: str = "default",
        poll_seconds: float = 0.1,
        recover_seconds: float = 10.0,
        prune_seconds: float = 60.0,
        grace_seconds: float | None = None,
    ):
        self.concurrency = concurrency
        self.queues = queues or [DEFAULT_TASK_QUEUE_NAME]
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.recover_seconds = recover_seconds
        self.prune_seconds = prune_seconds
        self.grace_seconds = (
            settings.CHATBOT_TIMEOUT + 5 if grace_seconds is None else grace_seconds
        )
        self.worker_id = get_random_string(32)
        self.running: set[asyncio.Task] = set()
        self.succeeded: list = []  # task ids, recorded together
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        if not self.stopping.is_set():
            logger.info("Worker %s stopping: finishing the tasks it runs", self.worker_id)
        self.stopping.set()

    async def drain(self) -> None:
        """Run the tasks that are ready, and any they lead to, then return: nothing waits
        for a poll, no signal is handled (for `run_worker --batch` and the tests)."""
        while True:
            claimed, answered = await self._safely(self._claim, self.concurrency) or ([], [])
            if answered:
                await replies().all_at_once(answered)
            if not claimed:
                break
            await asyncio.gather(*(self._run_one(task_result) for task_result in claimed))
            await self._safely(self._record_successes)
        await close_model_session()

    async def run(self, *, handle_signals: bool = True) -> None:
        """Run tasks until `stop()` (SIGTERM or SIGINT, unless `handle_signals` is off)."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
        logger.info(
            "Worker %s running %s tasks at once from %s",
            self.worker_id,
            self.concurrency,
            ",".join(self.queues),
        )
        recover_at = prune_at = 0.0  # both at once on starting
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= recover_at:
                # As Django does between requests: a connection too old or broken goes.
                await sync_to_async(close_old_connections)()
                await self._safely(self._recover)
                recover_at = now + self.recover_seconds
            if now >= prune_at:
                await self._safely(self._prune)
                prune_at = now + self.prune_seconds
            claimed, answered = [], []
            if free := self.concurrency - len(self.running):
                claimed, answered = await self._safely(self._claim, free) or ([], [])
            for task_result in claimed:
                job = asyncio.create_task(self._run_one(task_result))
                self.running.add(job)
                job.add_done_callback(self.running.discard)
            if answered:
                await replies().all_at_once(answered)
            if self.succeeded:
                await self._safely(self._record_successes)
            if not free:
                await self._idle(until_a_slot_frees=True)
            elif len(claimed) + len(answered) < free:  # the queue is empty: let a batch gather
                await self._idle(until_a_slot_frees=False)
        await self._finish_running()
        await close_model_session()
        await sync_to_async(connections.close_all)()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)

    async def _idle(self, *, until_a_slot_frees: bool) -> None:
        """Wait for a poll's time, or until the worker is told to stop, or (when it runs
        all it can) until a task ends."""
        waiting = [asyncio.ensure_future(self.stopping.wait())]
        if until_a_slot_frees:
            waiting += self.running
        done, _ = await asyncio.wait(
            waiting, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        if waiting[0] not in done:
            waiting[0].cancel()

    async def _finish_running(self) -> None:
        if self.running:
            _, late = await asyncio.wait(self.running, timeout=self.grace_seconds)
            for job in late:
                job.cancel()
            if late:
                await asyncio.wait(late)
        if self.succeeded:
            await self._safely(self._record_successes)

    async def _safely(self, step: Callable, *args):
        """A step of the loop against the database: a database that went away is waited
        for, not a reason for the worker to die."""
        try:
            return await sync_to_async(step)(*args)
        except DatabaseError:
            logger.exception("Worker %s: the database failed; trying again", self.worker_id)
            await sync_to_async(close_old_connections)()
            await asyncio.sleep(1)
            return None

    def _claim(self, limit: int) -> tuple[list[DBTaskResult], list[dict]]:
        """Up to `limit` ready tasks, in one transaction. The built-in keeper's replies
        among them are written there and then, and their tasks deleted: the message holds
        the result, and if the worker dies meanwhile the rollback leaves them ready. The
        rest are marked as run by this worker, to be run side by side. Returns those, and
        the messages answered (as the API shows them), to be published once committed."""
        ready = DBTaskResult.objects.ready().filter(
            backend_name=self.backend, queue_name__in=self.queues
        )
        with exclusive_transaction(ready.db):
            claimed = list(ready.select_for_update(skip_locked=True)[:limit])
            at_once, one_by_one = _split(claimed)
            answered = []
            if at_once:
                answered = replies_at_once(
                    {
                        task.args_kwargs["kwargs"]["message_id"]: task.args_kwargs["kwargs"][
                            "ordinal"
                        ]
                        for task in at_once
                    }
                )
                DBTaskResult.objects.filter(pk__in=[task.pk for task in at_once]).delete()
            if one_by_one:
                started = timezone.now()
                DBTaskResult.objects.filter(pk__in=[task.pk for task in one_by_one]).update(
                    status=TaskResultStatus.RUNNING,
                    started_at=started,
                    worker_ids=[self.worker_id],
                )
                for task in one_by_one:
                    task.status, task.started_at = TaskResultStatus.RUNNING, started
                    task.worker_ids = [self.worker_id]
        return one_by_one, answered

    async def _run_one(self, db_result: DBTaskResult) -> None:
        """Run one task and record how it ended, as django-tasks-db's worker does."""
        try:
            task = db_result.task
            result = db_result.task_result
            backend = type(task.get_backend())
            task_started.send(sender=backend, task_result=result)
            context = [TaskContext(task_result=result)] if task.takes_context else []
            value = await task.acall(*context, *result.args, **result.kwargs)
        except asyncio.CancelledError:
            # Stopped by the worker's own end: ready again, for the next worker.
            await self._safely(_make_ready, db_result)
            raise
        except Exception as error:
            await self._safely(db_result.set_failed, error)
            logger.exception("Task %s (%s) failed", db_result.pk, db_result.task_path)
            return
        if value is None:
            self.succeeded.append(db_result.pk)
        else:
            await self._safely(db_result.set_successful, value)
        task_finished.send(sender=backend, task_result=result)

    def _record_successes(self) -> None:
        finished, self.succeeded = self.succeeded, []
        DBTaskResult.objects.filter(pk__in=finished).update(
            status=TaskResultStatus.SUCCESSFUL,
            finished_at=timezone.now(),
            return_value=None,
            exception_class_path="",
            traceback="",
        )

    def _recover(self) -> None:
        """Enqueue again the replies a worker that died left unfinished, or whose task was
        lost; mark the tasks it was running as failed."""
        stuck = recover_replies()
        # The task a worker that died was running for one of them ran no further.
        running = DBTaskResult.objects.running().filter(task_path=generate_reply.module_path)
        for task in running.filter(args_kwargs__kwargs__message_id__in=stuck):
            task.set_failed(WorkerLost())
        for message_id, ordinal in _ordinals(stuck):
            generate_reply.enqueue(message_id=message_id, ordinal=ordinal)
        lost_since = timezone.now() - 2 * (
            timedelta(seconds=settings.CHATBOT_TIMEOUT) + LEASE_MARGIN
        )
        lost = DBTaskResult.objects.running().filter(started_at__lt=lost_since)
        for task in lost[:PRUNE_BATCH]:
            task.set_failed(WorkerLost())

    def _prune(self) -> None:
        kept_since = timezone.now() - timedelta(minutes=settings.WORKER_RESULTS_KEPT_MINUTES)
        old = DBTaskResult.objects.successful().filter(finished_at__lt=kept_since)
        while ids := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
            DBTaskResult.objects.filter(pk__in=ids).delete()


def _split(claimed: list[DBTaskResult]) -> tuple[list, list]:
    """The reply tasks the built-in keeper answers at once, and the tasks run one by one."""
    if not get_bot().instant:
        return [], claimed
    at_once = [task for task in claimed if task.task_path == generate_reply.module_path]
    return at_once, [task for task in claimed if task.task_path != generate_reply.module_path]


def _make_ready(db_result: DBTaskResult) -> None:
    DBTaskResult.objects.filter(pk=db_result.pk).update(
        status=TaskResultStatus.READY, started_at=None
    )


def _ordinals(message_ids: list[int]) -> list[tuple[int, int]]:
    """Each message with its number among its player's messages, as the send gave it."""
    found = []
    for message in Message.objects.filter(pk__in=message_ids).only("pk", "player_id"):
        ordinal = Message.objects.filter(player=message.player_id, pk__lte=message.pk).count()
        found.append((message.pk, ordinal))
    return found
