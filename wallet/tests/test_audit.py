from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F

from accounts.models import User
from accounts.services import set_client_seed
from chat.models import Message
from chat.services import send_message
from pot.models import Round
from wallet.models import Account, Transfer

pytestmark = pytest.mark.django_db


def audit() -> str:
    out = StringIO()
    call_command("audit_ledger", stdout=out)
    return out.getvalue()


def audit_failure() -> tuple[str, str]:
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("audit_ledger", stderr=err)
    return str(failed.value), err.getvalue()


@pytest.fixture
def activity(make_player, configure):
    alice, bob = make_player(), make_player()
    configure(win_chance=Decimal("0.000001"))
    for _ in range(3):
        send_message(player=alice, body="hi")
    configure(win_chance=Decimal(1))
    send_message(player=bob, body="win")
    configure(win_chance=Decimal("0.000001"), pot_share_percent=80)
    send_message(player=alice, body="raked")
    return alice, bob


def test_clean_ledger_passes(activity):
    output = audit()
    assert "Ledger audit: clean" in output
    # Two signup grants of 100, less the 1-credit rake of the last message.
    assert "199 credits in play" in output


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_balance_changed_outside_a_transfer_is_reported(activity):
    alice, _ = activity
    Account.objects.filter(owner=alice).update(balance=F("balance") + 10)
    summary, report = audit_failure()
    assert "breach" in summary
    assert "Balance does not match its transfers" in report
    assert alice.username in report
    assert "The balances sum to 10, not 0" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_message_without_a_fee_is_reported(activity):
    alice, _ = activity
    model = Message.objects.filter(player=alice).first()
    model.pk = None
    model.idempotency_key = ""
    model.save()
    _, report = audit_failure()
    assert f"Message without a fee: message #{model.pk}" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_fee_recorded_twice_is_reported(activity):
    alice, _ = activity
    message = Message.objects.filter(player=alice).first()
    fee = message.transfers.get(kind="message_fee")
    # Bypass the service on purpose: the audit must catch what the services never do.
    Transfer.objects.create(
        from_account=fee.from_account,
        to_account=fee.to_account,
        amount=fee.amount,
        kind="message_fee",
        message=message,
        round=fee.round,
    )
    Account.objects.filter(pk=fee.from_account_id).update(balance=F("balance") - fee.amount)
    Account.objects.filter(pk=fee.to_account_id).update(balance=F("balance") + fee.amount)
    _, report = audit_failure()
    assert f"Message charged more than once: message #{message.pk} (2 fees)" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_pot_that_does_not_match_its_round_is_reported(activity):
    pot = Account.objects.get(kind="pot")
    house = Account.objects.get(kind="house")
    Transfer.objects.create(from_account=house, to_account=pot, amount=3, kind="pot_seed")
    Account.objects.filter(pk=pot.pk).update(balance=F("balance") + 3)
    Account.objects.filter(pk=house.pk).update(balance=F("balance") - 3)
    _, report = audit_failure()
    assert "Some pot transfers name no round" in report
    assert "but the open round's transfers add up to" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_negative_player_is_reported(activity):
    if connection.vendor == "postgresql":
        pytest.skip("the database's check constraint already refuses a negative player")
    alice, _ = activity
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        Account.objects.filter(owner=alice).update(balance=-5)
        cursor.execute("PRAGMA ignore_check_constraints = OFF")
    _, report = audit_failure()
    assert "Negative player balance" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_wrong_payout_is_reported(activity):
    Round.objects.filter(outcome="won").update(payout=F("payout") + 1)
    _, report = audit_failure()
    assert "A round's payout differs from what was paid" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_a_skipped_nonce_is_reported(activity):
    alice, _ = activity
    User.objects.filter(pk=alice.pk).update(nonce=F("nonce") + 1)  # as the replay bug did
    _, report = audit_failure()
    assert "Nonce skipped or repeated" in report
    assert f"{alice.username}'s next nonce is 5, after nonce 3" in report
    send_message(player=alice, body="after the gap")
    _, report = audit_failure()
    message = Message.objects.filter(player=alice).latest("pk")
    assert f"message #{message.pk} drew with nonce 5, after nonce 3" in report


@pytest.mark.no_ledger_audit("breaks the ledger to see the audit report it")
def test_a_miscounted_player_is_reported(activity):
    alice, _ = activity
    User.objects.filter(pk=alice.pk).update(messages_sent=F("messages_sent") + 1)
    _, report = audit_failure()
    assert f"Messages sent miscounted: {alice.username} has sent 5 messages by the count, 4" in (
        report
    )


def test_a_new_client_seed_starts_the_nonces_again_cleanly(activity):
    alice, _ = activity
    set_client_seed(player=alice, client_seed="fresh-seed")
    assert "Ledger audit: clean" in audit()
    send_message(player=alice, body="first with the new seed")
    set_client_seed(player=alice, client_seed="fresh-seed")  # the same seed again: nonce 0
    send_message(player=alice, body="first again")
    assert "Ledger audit: clean" in audit()
