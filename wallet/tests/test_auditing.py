"""The ledger's audit runs itself: on schedule and after each operator action on money or
fairness, its latest result on the admin's index and in /healthz's detail for staff, a
breach logged at ERROR."""

import asyncio
import logging
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.services import register_operator, set_client_seed
from chat.services import send_message
from pot.services import reset_round
from wallet.auditing import audit_run_due, audit_when_due, latest_audit
from wallet.models import Account, LedgerAudit
from wallet.services import grant_credits

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def operator(db):
    return register_operator(username="boss", password="a-long-enough-passphrase")


def test_the_first_audit_runs_at_once_then_a_day_later(player):
    first = audit_run_due(every=DAY)
    assert (first.reason, first.clean) == ("scheduled", True)
    assert "clean" in first.summary
    assert first.breaches == []
    assert audit_run_due(every=DAY) is None  # not due again yet
    LedgerAudit.objects.update(requested_at=F("requested_at") - DAY)
    assert audit_run_due(every=DAY).reason == "scheduled"
    assert LedgerAudit.objects.count() == 2


def test_every_operator_action_on_money_or_fairness_asks_for_one(player, operator, configure):
    configure(win_chance=Decimal("0.000001"))  # the message feeds round 1's pot, to reset
    audit_run_due(every=DAY)  # the day's first
    send_message(player=player, body="hello")
    grant_credits(player=player, amount=5, actor=operator, memo="sorry")
    set_client_seed(player=player, client_seed="new-seed", actor=operator, reason="asked")
    reset_round(actor=operator, reason="a test")
    set_client_seed(player=player, client_seed="mine")  # the player's own: no audit
    waiting = LedgerAudit.objects.filter(started_at=None).order_by("pk")
    assert [audit.reason for audit in waiting] == [
        f"5 credits granted to {player.username} by boss",
        f"client seed of {player.username} set by boss",
        "round 1 reset by boss",
    ]
    run = audit_run_due(every=DAY)
    assert run.clean
    # One run answers every audit asked for.
    assert not LedgerAudit.objects.filter(finished_at=None).exists()
    assert set(LedgerAudit.objects.values_list("clean", flat=True)) == {True}


def test_an_operator_seed_change_without_a_reason_is_refused(player, operator):
    from accounts.errors import ClientSeedInvalid

    with pytest.raises(ClientSeedInvalid):
        set_client_seed(player=player, client_seed="new-seed", actor=operator, reason=" ")
    player.refresh_from_db()
    assert player.client_seed != "new-seed"
    assert not LedgerAudit.objects.exists()


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_a_breach_is_recorded_and_logged_at_error(player, caplog):
    Account.objects.filter(owner=player).update(balance=F("balance") + 7)  # credits from nowhere
    with caplog.at_level(logging.INFO, logger="wallet.auditing"):
        run = audit_run_due(every=DAY)
    assert run.clean is False
    assert any("sum to 7" in breach for breach in run.breaches)
    [record] = [r for r in caplog.records if r.name == "wallet.auditing"]
    assert record.levelno == logging.ERROR
    assert "sum to 7" in record.getMessage()


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_the_admin_index_shows_the_latest_audit(client, operator, player):
    client.force_login(operator)
    assert "Not run yet" in client.get("/admin/").content.decode()
    audit_run_due(every=DAY)
    html = client.get("/admin/").content.decode()
    assert "Ledger audit" in html
    assert "Clean" in html
    Account.objects.filter(owner=player).update(balance=F("balance") + 7)
    LedgerAudit.objects.create(reason="a grant")
    audit_run_due(every=DAY)
    html = client.get("/admin/").content.decode()
    assert "2 breaches," in html
    assert "sum to 7" in html
    assert "a grant" in html


def test_healthz_detail_is_for_staff(client, operator, player):
    audit_run_due(every=DAY)
    sent = send_message(player=player, body="hello").message  # its reply waits for a worker
    assert client.get("/healthz?detail=1").status_code == 401
    client.force_login(player)
    assert client.get("/healthz?detail=1").status_code == 403
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    client.force_login(operator)
    with time_machine.travel(sent.created_at + timedelta(seconds=42), tick=False):
        detail = client.get("/healthz?detail=1").json()
    assert detail["ledger_audit"]["clean"] is True
    assert detail["ledger_audit"]["reason"] == "scheduled"
    assert detail["replies_waiting"] == {"count": 1, "oldest_seconds": 42}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_worker_runs_what_an_operator_asked_for(player, operator):
    """The worker's auditor, on its own thread, answers within a look."""
    audit_run_due(every=DAY)
    grant_credits(player=player, amount=5, actor=operator, memo="sorry")
    stopping = asyncio.Event()
    done = threading.Event()

    def all_run() -> bool:
        try:
            return not LedgerAudit.objects.filter(finished_at=None).exists()
        finally:
            connection.close()

    async def auditor():
        watching = asyncio.create_task(audit_when_due(stopping))
        while not await asyncio.to_thread(all_run):
            await asyncio.sleep(0.05)
        stopping.set()
        await watching
        done.set()

    asyncio.run(asyncio.wait_for(auditor(), 30))
    assert done.is_set()
    assert latest_audit().reason.startswith("5 credits granted")
    assert latest_audit().finished_at <= timezone.now()


def test_the_workers_audit_can_be_turned_off(settings, player):
    settings.LEDGER_AUDIT_EVERY = 0
    asyncio.run(asyncio.wait_for(audit_when_due(asyncio.Event()), 5))  # returns at once
    assert not LedgerAudit.objects.exists()


def test_of_the_audits_one_run_answered_the_latest_is_the_one_asked_for_last(operator):
    first = LedgerAudit.objects.create(reason="a grant")
    LedgerAudit.objects.create(reason="a pot reset")
    assert first.pk < LedgerAudit.objects.latest("pk").pk
    audit_run_due(every=DAY)  # one run answers both: they finish together
    assert LedgerAudit.objects.filter(clean=True).count() == 2
    assert latest_audit().reason == "a pot reset"
