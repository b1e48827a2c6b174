import contextlib
import threading
import time
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.models import Sum

from accounts.services import register_operator
from chat.models import Message
from chat.services import send_message
from pot.errors import ResetRefused
from pot.models import Round
from pot.selectors import reset_plan
from pot.services import reset_round
from wallet.audit import audit_ledger
from wallet.errors import InsufficientFunds
from wallet.models import Account, Transfer
from wallet.services import grant_credits

NEVER = Decimal("0.000001")


@pytest.fixture
def operator(db):
    return register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )


def balance(player) -> int:
    return Account.objects.get(owner=player).balance


@pytest.mark.django_db
def test_reset_refunds_every_contributor_exactly(make_player, configure, operator):
    alice, bob = make_player(), make_player()
    configure(win_chance=Decimal(1), pot_seed=20)
    send_message(player=bob, body="open a seeded round")  # round 1 won, round 2 seeded
    configure(win_chance=NEVER, pot_share_percent=80)
    for player in (alice, alice, bob):
        send_message(player=player, body="feed")
    # alice paid 5 + 10 (pot share 4 + 8), bob 5 (share 4); the seed is 20.
    before = {alice.pk: balance(alice), bob.pk: balance(bob)}
    house_before = Account.objects.get(kind="house").balance
    pot_round = Round.objects.get(outcome="open")
    assert Account.objects.get(kind="pot").balance == 12 + 4 + 20

    plan = reset_round(actor=operator, reason="stuck round after an outage")

    assert {r.username: r.amount for r in plan.refunds} == {alice.username: 12, bob.username: 4}
    assert plan.seed_return == 20
    assert balance(alice) == before[alice.pk] + 12
    assert balance(bob) == before[bob.pk] + 4
    assert (
        Account.objects.get(kind="house").balance == house_before + 20 - 20
    )  # seed back, new seed out
    closed = Round.objects.get(pk=pot_round.pk)
    assert closed.outcome == "reset"
    assert closed.reset_by == operator
    assert closed.reset_reason == "stuck round after an outage"
    assert closed.closed_at is not None
    assert closed.revealed_seed == closed.server_seed
    refunds = Transfer.objects.filter(kind="pot_refund", round=closed)
    assert set(refunds.values_list("actor", flat=True)) == {operator.pk}
    assert all(
        "stuck round after an outage" in memo for memo in refunds.values_list("memo", flat=True)
    )
    new_round = Round.objects.get(outcome="open")
    assert new_round.number == closed.number + 1
    assert Account.objects.get(kind="pot").balance == 20  # the next round's seed
    assert audit_ledger().clean
    call_command("verify_round", str(closed.number))


@pytest.mark.django_db
def test_reset_needs_a_reason_and_a_pot(player, configure, operator):
    with pytest.raises(ResetRefused, match="empty"):
        reset_round(actor=operator, reason="nothing here")
    configure(win_chance=NEVER)
    send_message(player=player, body="hi")
    with pytest.raises(ResetRefused, match="Say why"):
        reset_round(actor=operator, reason="   ")
    assert Round.objects.get(outcome="open").number == 1
    assert balance(player) == 95


@pytest.mark.django_db
def test_plan_previews_what_the_reset_will_do(make_player, configure):
    alice = make_player()
    configure(win_chance=NEVER)
    send_message(player=alice, body="a")
    send_message(player=alice, body="b")
    plan = reset_plan()
    assert plan.amount == 15
    assert [(r.username, r.amount) for r in plan.refunds] == [(alice.username, 15)]
    assert plan.balanced


@pytest.mark.pooler
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reset_while_players_keep_sending(make_player, configure, operator):
    players = [make_player() for _ in range(6)]
    for player in players:
        grant_credits(player=player, amount=3_000, actor=operator, memo="load")
    configure(win_chance=NEVER, pot_share_percent=90, pot_seed=7)
    start = threading.Barrier(9)
    errors, resets = [], []

    def sender(index: int) -> None:
        try:
            start.wait()
            for n in range(30):
                with contextlib.suppress(InsufficientFunds):
                    send_message(player=players[(index + n) % len(players)], body=f"{index}-{n}")
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    def resetter() -> None:
        try:
            start.wait()
            for attempt in range(3):
                time.sleep(0.05)  # let the senders get going between resets
                with contextlib.suppress(ResetRefused):
                    resets.append(reset_round(actor=operator, reason=f"drill {attempt}"))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
    threads.append(threading.Thread(target=resetter))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert resets, "no reset happened during the run"
    report = audit_ledger()
    assert report.clean, report.breaches
    for plan in resets:
        closed = Round.objects.get(pk=plan.round.pk)
        assert closed.outcome == "reset"
        # Each player got back exactly what their messages of that round put into the pot.
        shares = defaultdict(int)
        for message in Message.objects.filter(round=closed).prefetch_related("transfers"):
            fee = sum(t.amount for t in message.transfers.all() if t.kind == "message_fee")
            rake = sum(t.amount for t in message.transfers.all() if t.kind == "rake")
            shares[message.player.account.pk] += fee - rake
        refunded = dict(
            Transfer.objects.filter(round=closed, kind="pot_refund")
            .exclude(to_account__kind="house")
            .values_list("to_account")
            .annotate(total=Sum("amount"))
        )
        assert refunded == {k: v for k, v in shares.items() if v}
