"""The worker as a real process (`manage.py run_worker`): killed mid-reply, it leaves
nothing half done for good: the next worker finishes the message, once, and no credit
moves twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bench.fake_model import WORDS
from chat.live import replies
from chat.models import Message
from chat.services import send_message
from chat.worker import Worker
from wallet.audit import audit_ledger
from wallet.models import Account

ROOT = Path(__file__).resolve().parents[2]
CHATBOT_TIMEOUT = 3  # seconds: the killed worker's hold on a reply ends 5 s after it


def database_environment() -> dict[str, str]:
    """The test database, as a process of its own reaches it."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": database["NAME"]}
    user = database["USER"] or "postgres"
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{database['NAME']}"}


def start_worker(model_url: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        **database_environment(),
        "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "CHATBOT_BACKEND": "openai",
        "CHATBOT_BASE_URL": model_url,
        "CHATBOT_TIMEOUT": str(CHATBOT_TIMEOUT),
    }
    command = [sys.executable, "manage.py", "run_worker", "--poll", "0.05", "--recover-every", "1"]
    return subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@pytest.fixture
def model(model_server, openai_backend):
    openai_backend.seconds = 2.0  # 12 words over 2 s
    return model_server


def reply_of(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def written_so_far(message: Message) -> str:
    return max(reply_of(message).reply, replies().text_so_far(message.pk) or "", key=len)


def assert_finished_once(player, message: Message) -> Message:
    stored = reply_of(message)
    assert stored.reply_status == "done"
    assert Message.objects.filter(player=player).count() == 1
    assert Account.objects.get(owner=player).balance == 95
    assert audit_ledger().clean
    return stored


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_mid_reply_is_followed_by_one_that_finishes_it(model, player):
    first = start_worker(model.base_url)
    try:
        message = send_message(player=player, body="tell me a long story").message
        # Some of the reply is written (in Redis, or saved to the message without it), and
        # the worker is still at it.
        partial = wait_for(
            lambda: reply_of(message).reply_status == "streaming" and written_so_far(message),
            10,
            "the first words to be written",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    assert reply_of(message).reply_status == "streaming"  # held by a worker that is gone
    second = start_worker(model.base_url)
    try:
        wait_for(lambda: reply_of(message).reply_status == "done", CHATBOT_TIMEOUT + 15, "done")
    finally:
        stop(second)
    stored = assert_finished_once(player, message)
    assert stored.reply.startswith(partial)  # what was written stands
    assert stored.reply_attempts == 2  # taken over once, by the second worker
    assert len(model.model.requests) == 1  # the model was not asked twice
    assert not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_killed_before_any_text_is_followed_by_one_that_writes_it_all(model, player):
    model.model.behaviour, model.model.first_wait = "slow-start", 30
    first = start_worker(model.base_url)
    try:
        message = send_message(player=player, body="take your time").message
        wait_for(lambda: reply_of(message).reply_status == "streaming", 10, "a worker to take it")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    model.model.behaviour = "stream"
    second = start_worker(model.base_url)
    try:
        wait_for(lambda: reply_of(message).reply_status == "done", CHATBOT_TIMEOUT + 15, "done")
    finally:
        stop(second)
    stored = assert_finished_once(player, message)
    assert stored.reply == " ".join(WORDS[:12])
    assert stored.reply_attempts == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_told_to_stop_finishes_the_replies_it_writes(model, player):
    worker = start_worker(model.base_url)
    try:
        message = send_message(player=player, body="one more thing").message
        wait_for(lambda: reply_of(message).reply_status == "streaming", 10, "a worker to take it")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(CHATBOT_TIMEOUT + 10) == 0
    finally:
        stop(worker)
    stored = assert_finished_once(player, message)
    assert stored.reply == " ".join(WORDS[:12])
    assert stored.reply_attempts == 1


@pytest.mark.django_db
def test_a_reply_whose_task_was_lost_is_enqueued_again(player, configure, replies):
    configure(win_chance=Decimal("0.000001"))
    message = send_message(player=player, body="hello").message
    DBTaskResult.objects.all().delete()  # as if the task had never been stored
    replies()
    assert reply_of(message).reply_status == "pending"
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        Worker(concurrency=4)._recover()
    replies()
    stored = reply_of(message)
    assert stored.reply_status == "done"
    assert stored.reply_attempts == 1
