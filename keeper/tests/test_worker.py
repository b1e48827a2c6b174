"""The worker as a real process (`manage.py run_worker`), against a real model server:
killed, paused or stopped mid-reply, stopped while players send, it leaves nothing half
done for good. Every message ends with one reply, written once, and no credit moves twice."""

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from chat.models import Message, Reply
from chat.replies import replies
from chat.services import send_message
from tests.app_process import database_environment
from tests.fake_model import WORDS
from tests.sse import read_events
from wallet.audit import audit_ledger
from wallet.models import Account, Transfer

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.pooler,
]

ROOT = Path(__file__).resolve().parents[2]
# Short, so that a worker that stops renewing loses its replies within a test's time.
TIMINGS = {
    "CHATBOT_TIMEOUT": "4",
    "KEEPER_LEASE_SECONDS": "1.5",
    "KEEPER_RENEW_SECONDS": "0.3",
    "KEEPER_SWEEP_SECONDS": "0.3",
    "KEEPER_POLL_SECONDS": "0.05",
}


def start_worker(
    model_url: str, *, concurrency: int = 16, engine: str = "", **timings: str
) -> subprocess.Popen:
    environment = {
        **os.environ,
        **database_environment(),
        "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "CHATBOT_BACKEND": "openai",
        "CHATBOT_BASE_URL": model_url,
        "LIVE_PUBLISH_URL": engine,
        **TIMINGS,
        **timings,
    }
    command = [sys.executable, "manage.py", "run_worker", "--concurrency", str(concurrency)]
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
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        process.wait(30)


@pytest.fixture
def model(model_server, openai_backend):
    openai_backend.seconds = 2.0  # 12 words over 2 s
    return model_server


def reply_of(message: Message) -> Reply:
    return Reply.objects.get(pk=message.pk)


def written_so_far(message: Message) -> str:
    return max(reply_of(message).text, replies().text_so_far(message.pk) or "", key=len)


def assert_finished_once(player, message: Message, status: str = "done") -> Reply:
    stored = reply_of(message)
    assert (stored.status, stored.lease_until) == (status, None)
    assert Message.objects.filter(player=player).count() == 1
    assert Transfer.objects.filter(kind="message_fee", message=message).count() == 1
    assert Account.objects.get(owner=player).balance == 95
    assert audit_ledger().clean
    return stored


def test_a_worker_killed_mid_reply_is_followed_by_one_that_ends_it_cut_short(
    model, player, asgi_live_server
):
    """What the dead worker wrote was shown: it stands, said to be cut short (not stored as
    a reply written to its end), and the stream that showed it ends once, saying so."""
    engine = asgi_live_server.publish_url
    first = start_worker(model.base_url, engine=engine)
    try:
        message = send_message(player=player, body="tell me a long story").message
        listener = Listener(f"{asgi_live_server.url}/api/v1/messages/{message.pk}/stream", player)
        # Some of the reply is written (in Redis, or saved to the reply without it), and
        # the worker is still at it.
        partial = wait_for(
            lambda: reply_of(message).status == "streaming" and written_so_far(message),
            10,
            "the first words to be written",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    assert reply_of(message).status == "streaming"  # claimed by a worker that is gone
    second = start_worker(model.base_url, engine=engine)
    try:
        wait_for(lambda: reply_of(message).finished, 20, "the reply to end")
        heard = listener.until_done()
    finally:
        stop(second)
    stored = assert_finished_once(player, message, "interrupted")
    assert stored.text.startswith(partial)  # what was written stands
    assert stored.attempt == 2  # taken over once, by the second worker
    assert len(model.model.requests) == 1  # the model was not asked twice
    # The pieces heard, in order and none twice, are the reply as far as they went (one
    # its worker had written as it died may never have gone on); the end says it all.
    tokens, [done] = pieces_and_ends(heard)
    assert stored.text.startswith("".join(token["text"] for token in tokens))
    assert (done["reply_status"], done["reply"]) == ("interrupted", stored.text)


def test_a_worker_killed_before_any_text_is_followed_by_one_that_writes_it_all(model, player):
    model.model.behaviour, model.model.first_wait = "slow-start", 30
    first = start_worker(model.base_url)
    try:
        message = send_message(player=player, body="take your time").message
        wait_for(lambda: reply_of(message).status == "streaming", 10, "a worker to claim it")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    model.model.behaviour = "stream"
    second = start_worker(model.base_url)
    try:
        wait_for(lambda: reply_of(message).status == "done", 20, "the reply to be done")
    finally:
        stop(second)
    stored = assert_finished_once(player, message)
    assert stored.text == " ".join(WORDS[:12])
    assert stored.attempt == 2


def test_a_worker_told_to_stop_finishes_the_replies_it_writes(model, player):
    worker = start_worker(model.base_url)
    try:
        message = send_message(player=player, body="one more thing").message
        wait_for(lambda: reply_of(message).status == "streaming", 10, "a worker to claim it")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        stop(worker)
    stored = assert_finished_once(player, message)
    assert stored.text == " ".join(WORDS[:12])
    assert stored.attempt == 1


class Listener:
    """A client of a reply's stream, through the engine, in a thread of its own."""

    def __init__(self, url: str, player):
        self.events: list = []
        headers = {"Authorization": f"Bearer {RefreshToken.for_user(player).access_token}"}
        self.thread = threading.Thread(
            target=read_events,
            args=[url],
            kwargs={"headers": headers, "seconds": 40, "into": self.events},
            daemon=True,
        )
        self.thread.start()

    def until_done(self, *, then: float = 0.0) -> list:
        wait_for(lambda: any(event.name == "done" for event in self.events), 20, "the end")
        time.sleep(then)  # anything said after it
        return list(self.events)


def pieces_and_ends(events: list) -> tuple[list[dict], list[dict]]:
    """The pieces (each starting where the last ended: none twice, none missed) and the
    ends a stream heard."""
    tokens = [event.data for event in events if event.name == "token"]
    offset = 0
    for token in tokens:
        assert token["offset"] == offset, tokens
        offset += len(token["text"])
    return tokens, [event.data for event in events if event.name == "done"]


def test_a_worker_paused_past_its_lease_writes_and_publishes_nothing_once_resumed(
    model, player, asgi_live_server
):
    model.model.behaviour, model.model.seconds = "endless", 2.0
    engine = asgi_live_server.publish_url
    paused = start_worker(model.base_url, engine=engine)
    other = None
    try:
        message = send_message(player=player, body="talk until I say so").message
        listener = Listener(f"{asgi_live_server.url}/api/v1/messages/{message.pk}/stream", player)
        wait_for(lambda: written_so_far(message), 10, "the first words to be written")
        # Paused past its lease, the first worker's reply is taken over by another, which
        # ends it with what was written. (A pause that lands inside one of its statements
        # holds the reply's row meanwhile: then it is let go on a little and paused again.)
        for _ in range(3):
            paused.send_signal(signal.SIGSTOP)
            other = other or start_worker(model.base_url, engine=engine)
            try:
                wait_for(lambda: reply_of(message).finished, 8, "a takeover")
                break
            except AssertionError:
                paused.send_signal(signal.SIGCONT)
                time.sleep(0.5)
        taken = reply_of(message)
        assert (taken.status, taken.attempt) == ("interrupted", 2)
        text_kept = replies().text_so_far(message.pk)
        paused.send_signal(signal.SIGCONT)  # resumed: it still holds attempt 1
        heard = listener.until_done(then=3.0)
        assert paused.poll() is None  # alive, and it let the reply go
    finally:
        stop(paused)
        if other is not None:
            stop(other)
    stored = assert_finished_once(player, message, "interrupted")
    assert (stored.text, stored.attempt) == (taken.text, 2)
    assert replies().text_so_far(message.pk) == text_kept
    assert stored.text.startswith(WORDS[0])
    # The second worker's end, and nothing from the first after it: not a piece, not an end.
    tokens, ends = pieces_and_ends(heard)
    assert [event.name for event in heard][-1] == "done"
    assert ends == [{**ends[0], "reply": stored.text, "reply_status": "interrupted"}]
    assert "".join(token["text"] for token in tokens) == stored.text


def test_a_backlog_is_written_once_each_by_workers_that_renew_their_leases(
    model_server, openai_backend, make_player, configure
):
    """Players send while no worker runs; then two workers, two replies at a time each,
    work through the backlog. Each reply takes longer than a lease, so only renewals keep
    one worker from taking over the other's replies."""
    openai_backend.seconds = 2.5
    players = [make_player() for _ in range(4)]
    sent = [
        send_message(player=players[n % 4], body=f"backlog message {n}").message for n in range(12)
    ]
    assert set(Reply.objects.values_list("status", flat=True)) == {"pending"}
    workers = [start_worker(model_server.base_url, concurrency=2) for _ in range(2)]
    try:
        wait_for(
            lambda: not Reply.objects.exclude(status="done").exists(),
            90,
            "the backlog to be written",
        )
    finally:
        for worker in workers:
            stop(worker)
    asked = collections.Counter(request.asked for request in openai_backend.requests)
    assert asked == {message.body: 1 for message in sent}  # the model asked once for each
    assert sorted(Reply.objects.values_list("attempt", flat=True)) == [1] * 12
    assert {reply.text for reply in Reply.objects.all()} == {" ".join(WORDS[:12])}
    assert Transfer.objects.filter(kind="message_fee").count() == 12
    assert audit_ledger().clean


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL notifies")
def test_a_worker_is_notified_of_a_new_reply_and_needs_no_look(model, player, make_player):
    # A reply sent before the worker starts is found by its one look at the start; once
    # that reply is written, the worker only listens (it would look again in an hour), so
    # the next reply reaches it by the send's notification or not at all.
    first = send_message(player=make_player(), body="anyone?").message
    worker = start_worker(model.base_url, KEEPER_SWEEP_SECONDS="3600")
    try:
        wait_for(lambda: reply_of(first).status == "done", 20, "the reply found by a look")
        message = send_message(player=player, body="are you there?").message
        wait_for(lambda: reply_of(message).status == "done", 20, "the reply to be done")
    finally:
        stop(worker)
    assert b"is notified of new ones" in worker.stderr.read()  # it listened, not polled
    assert assert_finished_once(player, message).attempt == 1


def test_a_reply_claimed_too_often_is_answered_by_the_builtin_keeper(
    player, openai_backend, replies, configure
):
    message = send_message(player=player, body="how big is the pot?").message
    # Its workers died three times already, before writing anything; the leases ran out.
    Reply.objects.filter(pk=message.pk).update(
        status="streaming", attempt=3, lease_until=timezone.now() - timedelta(seconds=1)
    )
    replies()
    stored = reply_of(message)
    assert (stored.status, stored.attempt) == ("done", 4)
    assert openai_backend.requests == []  # the model was not asked a fourth time
    assert "5" in stored.text  # the built-in keeper, with the pot's figure


def test_a_stopped_workers_untouched_reply_is_handed_on(model, player):
    model.model.behaviour, model.model.first_wait = "slow-start", 30
    message = send_message(player=player, body="hello").message
    worker = start_worker(model.base_url, KEEPER_GRACE_SECONDS="0.5")
    try:
        wait_for(lambda: reply_of(message).status == "streaming", 10, "a worker to claim it")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        stop(worker)
    stored = reply_of(message)
    assert (stored.status, stored.attempt, stored.lease_until) == ("pending", 1, None)


def test_concurrent_claims_never_take_one_reply_twice(make_player, configure):
    """Four threads claim from the same queue at once: each reply goes to one of them."""
    if connection.vendor == "sqlite":
        pytest.skip("needs row locks: on SQLite one writer holds the whole database")
    from django.db import connections

    from keeper.services import replies_claim

    configure(win_chance=Decimal("0.000001"))
    players = [make_player() for _ in range(10)]
    for n in range(40):
        send_message(player=players[n % 10], body=f"claim me {n}")
    claimed: list[int] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        try:
            barrier.wait()
            while found := replies_claim(limit=3, history_turns=0):
                claimed.extend(claim.message_id for claim in found)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == sorted(Message.objects.values_list("pk", flat=True))
    assert set(Reply.objects.values_list("attempt", flat=True)) == {1}
