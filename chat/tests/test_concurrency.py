"""Many players sending at once, each thread on its own database connection.

Runs on whichever database the suite runs on: .ci/run runs it on PostgreSQL and SQLite.
"""

import threading
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models import Sum

from accounts.services import register_operator
from chat.models import Message
from chat.services import send_message
from pot.models import Round
from wallet.audit import audit_ledger
from wallet.errors import InsufficientFunds
from wallet.models import Account, Transfer
from wallet.services import grant_credits

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.pooler,
]

THREADS = 16
MESSAGES_PER_THREAD = 25
PLAYERS = 6


def run_in_threads(count: int, work) -> list[BaseException]:
    """Run work(index) on `count` threads started together; return what they raised."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def target(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a sender hung"
    return errors


def total_held() -> int:
    return Account.objects.exclude(kind="house").aggregate(total=Sum("balance"))["total"]


def test_concurrent_senders_keep_the_ledger_whole(make_player, configure):
    operator = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    players = [make_player() for _ in range(PLAYERS - 1)]
    for player in players:
        grant_credits(player=player, amount=5_000, actor=operator, memo="load test")
    # One player has nothing (not even a grant, which a win could multiply), so their
    # sends are refused all through the run, interleaved with everyone else's.
    configure(signup_grant=0)
    players.append(make_player())
    configure(win_chance=Decimal("0.08"), pot_seed=10, pot_share_percent=90)
    held_before = total_held()
    first_open = Round.objects.get(outcome="open").number
    sent = Counter()
    refused = Counter()

    def work(index: int) -> None:
        for n in range(MESSAGES_PER_THREAD):
            player = players[(index + n) % PLAYERS]  # every player is used by many threads
            try:
                send_message(player=player, body=f"thread {index} message {n}")
                sent[index] += 1
            except InsufficientFunds:
                refused[index] += 1

    errors = run_in_threads(THREADS, work)

    assert errors == []
    assert sum(sent.values()) + sum(refused.values()) == THREADS * MESSAGES_PER_THREAD
    poor_attempts = sum(
        (index + n) % PLAYERS == PLAYERS - 1
        for index in range(THREADS)
        for n in range(MESSAGES_PER_THREAD)
    )
    assert sum(refused.values()) == poor_attempts
    assert Message.objects.count() == sum(sent.values())

    report = audit_ledger()
    assert report.clean, report.breaches
    assert not Account.objects.filter(kind="player", balance__lt=0).exists()
    # Nothing entered or left the players and the pot except the house's seeds and rakes.
    seeds = Transfer.objects.filter(kind="pot_seed").aggregate(t=Sum("amount"))["t"] or 0
    rakes = Transfer.objects.filter(kind="rake").aggregate(t=Sum("amount"))["t"] or 0
    assert total_held() == held_before + seeds - rakes

    closed = Round.objects.exclude(outcome="open")
    assert closed.count() >= 2, "rounds should have rolled over during the run"
    assert Round.objects.filter(outcome="open").count() == 1
    for pot_round in closed:
        winners = list(pot_round.messages.filter(won=True))
        assert len(winners) == 1
        paid_in = pot_round.transfers.filter(to_account__kind="pot").aggregate(t=Sum("amount"))
        raked = pot_round.transfers.filter(kind="rake").aggregate(t=Sum("amount"))
        assert pot_round.payout == paid_in["t"] - (raked["t"] or 0)
        assert winners[0].payout == pot_round.payout
        assert winners[0].player_id == pot_round.winner_id
    assert Round.objects.get(outcome="open").number == first_open + closed.count()

    # Under contention every player still paid 5, 10, 15 ... within each round,
    # and drew with consecutive nonces.
    by_round = defaultdict(list)
    for player_id, round_id, price in Message.objects.order_by("nonce").values_list(
        "player", "round", "price"
    ):
        by_round[player_id, round_id].append(price)
    for prices in by_round.values():
        assert prices == [5 * (k + 1) for k in range(len(prices))]
    for player in players:
        nonces = list(player.messages.order_by("nonce").values_list("nonce", flat=True))
        assert nonces == list(range(len(nonces)))


def test_same_idempotency_key_sent_concurrently_charges_once(player, configure):
    configure(win_chance=Decimal("0.000001"))
    results = []

    def work(index: int) -> None:
        results.append(send_message(player=player, body="just once", idempotency_key="dup-key"))

    errors = run_in_threads(8, work)

    assert errors == []
    assert len({result.message.pk for result in results}) == 1
    assert sum(not result.replayed for result in results) == 1
    assert {(r.price, r.balance, r.next_price) for r in results} == {(5, 95, 10)}
    assert Message.objects.count() == 1
    assert Account.objects.get(owner=player).balance == 95
    assert audit_ledger().clean


def test_a_message_caught_by_another_win_settles_in_the_next_round(make_player, configure):
    """Between reading the open round and paying into the pot, another player wins it: the
    message is settled again in the next round, under the config of that moment, with the
    same nonce, and charged once."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs row locks: on SQLite one writer holds the whole database")
    import chat.sql

    alice, bob = make_player(), make_player()
    configure(win_chance=Decimal("0.000001"))  # alice loses, wherever she is settled
    original_settle = chat.sql.settle
    interrupted = []

    def let_bob_win_then_settle(changes, **settlement):
        if not interrupted:
            interrupted.append(settlement["pot_round_id"])

            def bob_wins():  # on a connection of its own, so it commits before alice goes on
                try:
                    configure(win_chance=Decimal(1))
                    send_message(player=bob, body="I win round 1")
                    configure(win_chance=Decimal("0.000001"))  # alice is priced and drawn afresh
                finally:
                    connections.close_all()

            winner = threading.Thread(target=bob_wins)
            winner.start()
            winner.join(timeout=30)
        return original_settle(changes, **settlement)

    chat.sql.settle = let_bob_win_then_settle
    try:
        result = send_message(player=alice, body="caught in between")
    finally:
        chat.sql.settle = original_settle

    first, second = Round.objects.order_by("number")[:2]
    assert interrupted == [first.pk]
    assert first.winner == bob
    assert result.message.round == second
    assert result.message.nonce == 0
    assert Message.objects.filter(player=alice).count() == 1
    assert Account.objects.get(owner=alice).balance == 95
    assert audit_ledger().clean
