import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from chat.worker import Worker


def _event_loop():
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Command(BaseCommand):
    help = (
        "Run the background tasks (the keeper's replies), many at once, until SIGTERM or "
        "Ctrl-C; tasks still running then get CHATBOT_TIMEOUT (+5 s) to finish."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.WORKER_CONCURRENCY,
            help="Tasks run at once (default: WORKER_CONCURRENCY, %(default)s).",
        )
        parser.add_argument("--queue", action="append", dest="queues", help="Queue to run.")
        parser.add_argument("--poll", type=float, default=0.1, help="Seconds between looks.")
        parser.add_argument(
            "--batch", action="store_true", help="Run the tasks ready now, then exit."
        )
        parser.add_argument(
            "--recover-every",
            type=float,
            default=10.0,
            help="Seconds between looks for replies a worker that died left unfinished.",
        )

    def handle(self, *args, concurrency, queues, poll, batch, recover_every, **options):
        worker = Worker(
            concurrency=max(1, concurrency),
            queues=queues,
            poll_seconds=poll,
            recover_seconds=recover_every,
        )
        with asyncio.Runner(loop_factory=_event_loop) as runner:
            runner.run(worker.drain() if batch else worker.run())
