"""The Procfile's worker process: the keeper's replies (keeper.worker), and beside them the
pot's announcer (live.announcer) and the ledger's audit when it is due (wallet.auditing)."""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from keeper.worker import Worker
from live.announcer import announce
from operations.metrics import serve_for_worker
from wallet.auditing import audit_when_due

COMPANIONS = (announce, audit_when_due)


def _event_loop():
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Command(BaseCommand):
    help = (
        "Write the keeper's replies, many at once, until SIGTERM or Ctrl-C; replies still "
        "being written then get KEEPER['GRACE'] seconds to finish."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.WORKER_CONCURRENCY,
            help="Replies written at once (default: WORKER_CONCURRENCY, %(default)s).",
        )
        parser.add_argument(
            "--batch", action="store_true", help="Write the replies waiting now, then exit."
        )

    def handle(self, *args, concurrency, batch, **options):
        worker = Worker(concurrency=max(1, concurrency), companions=COMPANIONS)
        if not batch and (address := settings.WORKER_METRICS_LISTEN):
            serve_for_worker(address)
        with asyncio.Runner(loop_factory=_event_loop) as runner:
            runner.run(worker.drain() if batch else worker.run())
