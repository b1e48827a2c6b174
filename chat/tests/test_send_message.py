import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.errors import IdempotencyConflict, MessageInvalid, PlayerUnavailable
from chat.models import REPLIES_CHANNEL, Message, Reply
from chat.selectors import price_quote
from chat.services import send_message
from pot import fairness
from pot.models import Round
from wallet.audit import audit_ledger
from wallet.errors import InsufficientFunds
from wallet.models import Transfer
from wallet.services import claim_daily

pytestmark = [pytest.mark.django_db, pytest.mark.pooler]

NEVER = Decimal("0.000001")  # practically never wins: the tests pin the outcome


def send(player, body="hello", key=None):
    return send_message(player=player, body=body, idempotency_key=key)


@pytest.fixture
def no_wins(configure):
    return configure(win_chance=NEVER)


@pytest.fixture(autouse=True)
def audit_after_each_test(request):
    yield
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        report = audit_ledger()
        assert report.clean, report.breaches


def test_first_five_messages_of_a_round_cost_5_to_25(player, no_wins, balance):
    prices = [send(player).price for _ in range(5)]
    assert prices == [5, 10, 15, 20, 25]
    assert balance(player) == 100 - 75
    assert balance("pot") == 75


def test_a_fresh_player_can_afford_exactly_five(player, no_wins, balance):
    for _ in range(5):
        send(player)
    with pytest.raises(InsufficientFunds) as refused:
        send(player)
    assert (refused.value.price, refused.value.balance) == (30, 25)


def test_refusal_for_funds_charges_nothing_and_does_not_raise_the_price(player, no_wins, balance):
    for _ in range(5):
        send(player)
    before = (balance(player), balance("pot"), Message.objects.count(), Transfer.objects.count())
    for _ in range(3):
        with pytest.raises(InsufficientFunds):
            send(player)
    after = (balance(player), balance("pot"), Message.objects.count(), Transfer.objects.count())
    assert after == before
    assert price_quote(player=player).price == 30
    player.refresh_from_db()
    assert player.nonce == 5


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 501, "at most 500"),
        ("nul \x00 byte", "cannot be sent"),
    ],
)
def test_invalid_messages_are_refused_before_any_charge(player, balance, body, reason):
    with pytest.raises(MessageInvalid, match=reason):
        send(player, body)
    assert balance(player) == 100
    assert Message.objects.count() == 0
    assert price_quote(player=player).price == 5


def test_message_at_the_length_limit_is_accepted_and_stored_stripped(player, no_wins):
    result = send(player, "  " + "y" * 500 + "  ")
    assert result.message.body == "y" * 500


def test_configured_length_limit_applies(player, configure):
    configure(max_message_chars=10)
    with pytest.raises(MessageInvalid, match="at most 10 characters; this one has 11"):
        send(player, "x" * 11)


def test_lifetime_window_keeps_counting_across_rounds(player, configure):
    configure(pricing_window="lifetime", win_chance=Decimal(1))
    first = send(player)
    assert first.won
    assert first.next_price == 10
    assert send(player).price == 10


def test_round_window_restarts_after_a_win(make_player, configure):
    alice, bob = make_player(), make_player()
    configure(win_chance=NEVER)
    send(alice)
    send(alice)
    configure(win_chance=Decimal(1))
    won = send(bob)
    assert won.won
    assert won.next_price == 5
    configure(win_chance=NEVER)
    assert send(alice).price == 5


def test_day_window_restarts_at_midnight(player, configure):
    configure(pricing_window="day", win_chance=NEVER)
    with time_machine.travel(timezone.now().replace(hour=10), tick=False) as clock:
        assert [send(player).price for _ in range(3)] == [5, 10, 15]
        clock.shift(timedelta(hours=13))  # 23:00, still today
        assert send(player).price == 20
        clock.shift(timedelta(hours=2))  # 01:00 the next day
        assert send(player).price == 5


def test_rake_goes_to_the_house_and_the_rest_to_the_pot(player, configure, balance):
    configure(pot_share_percent=60, win_chance=NEVER)
    house_before = balance("house")
    result = send(player)
    assert result.price == 5
    assert balance("pot") == 3  # 60 % of 5, rounded down
    assert balance("house") == house_before + 2
    assert balance(player) == 95
    kinds = sorted(result.message.transfers.values_list("kind", "amount"))
    assert kinds == [("message_fee", 5), ("rake", 2)]


def test_win_pays_the_whole_pot_and_opens_the_next_round(make_player, configure, balance):
    alice, bob = make_player(), make_player()
    configure(win_chance=NEVER)
    send(alice)
    send(alice)
    first_round = Round.objects.get(outcome="open")
    configure(win_chance=Decimal(1))

    result = send(bob)

    assert result.won
    assert result.payout == 5 + 10 + 5
    assert balance(bob) == 100 - 5 + 20
    assert balance("pot") == 0
    closed = Round.objects.get(pk=first_round.pk)
    assert closed.outcome == "won"
    assert closed.winner == bob
    assert closed.payout == 20
    assert closed.closed_at is not None
    assert closed.message_count == 3
    assert closed.revealed_seed == closed.server_seed
    assert fairness.hash_server_seed(closed.server_seed) == closed.server_seed_hash
    new_round = Round.objects.get(outcome="open")
    assert new_round.number == first_round.number + 1
    assert new_round.revealed_seed is None
    assert new_round.server_seed_hash != closed.server_seed_hash
    assert result.round_number == new_round.number
    assert result.pot == 0
    assert result.closed_round == closed
    call_command("verify_round", str(closed.number))


def test_pot_seed_starts_each_new_round(player, configure, balance):
    configure(pot_seed=25, win_chance=Decimal(1))
    result = send(player)
    assert result.payout == 5  # round 1 was opened before the seed was configured
    assert balance("pot") == 25
    assert result.pot == 25
    new_round = Round.objects.get(outcome="open")
    assert new_round.transfers.get().kind == "pot_seed"
    second = send(player)
    assert second.payout == 25 + 5


def test_every_draw_is_recorded_on_the_message(player, no_wins):
    player.refresh_from_db()
    seed = player.client_seed
    messages = [send(player).message for _ in range(3)]
    assert [m.nonce for m in messages] == [0, 1, 2]
    assert {m.client_seed for m in messages} == {seed}
    open_round = Round.objects.get(outcome="open")
    for message in messages:
        expected = fairness.draw(
            server_seed=open_round.server_seed,
            client_seed=seed,
            nonce=message.nonce,
            win_chance=message.win_chance,
        )
        assert message.roll == expected.roll
        assert message.won == expected.won


def test_result_reports_balance_pot_and_next_price(player, no_wins):
    result = send(player)
    assert (result.price, result.balance, result.pot, result.next_price) == (5, 95, 5, 10)
    assert not result.won
    assert result.payout == 0
    assert result.closed_round is None
    # The reply is a worker's to write, queued with the message: both are stored.
    reply = Reply.objects.get()
    assert (reply.message_id, reply.status, reply.ordinal) == (result.message.pk, "pending", 1)
    assert (reply.attempt, reply.text, reply.lease_until) == (0, "", None)
    assert Message.objects.get().pot_after == 5


def test_same_idempotency_key_charges_once_and_returns_the_same_result(player, no_wins, balance):
    first = send(player, "once", key="k-1")
    again = send(player, "once", key="k-1")
    assert again.replayed
    assert not first.replayed
    assert again.message.pk == first.message.pk
    assert (again.price, again.balance, again.pot, again.next_price) == (
        first.price,
        first.balance,
        first.pot,
        first.next_price,
    )
    assert balance(player) == 95
    assert Message.objects.count() == 1


def test_replay_works_even_when_the_player_can_no_longer_afford_it(player, no_wins):
    for n in range(4):
        send(player, key=f"k-{n}")
    last = send(player, key="k-last")
    assert last.balance == 25
    assert last.next_price == 30
    assert send(player, key="k-last").message.pk == last.message.pk


def test_same_key_with_a_different_body_is_a_conflict(player, no_wins, balance):
    send(player, "first", key="k")
    with pytest.raises(IdempotencyConflict):
        send(player, "second", key="k")
    assert balance(player) == 95


def test_keys_belong_to_one_player(make_player, no_wins):
    alice, bob = make_player(), make_player()
    a = send(alice, key="shared")
    b = send(bob, key="shared")
    assert a.message.pk != b.message.pk
    assert not b.replayed


def test_overlong_idempotency_key_is_refused(player, balance):
    with pytest.raises(MessageInvalid, match="idempotency key"):
        send(player, key="k" * 101)
    assert balance(player) == 100


# What the docs say a send costs: one number each, this test's (docs/ARCHITECTURE.md).
SEND_STATEMENTS, SEND_ROUND_TRIPS = 10, 4
SAID = f"A send without a win is {SEND_STATEMENTS} statements in {SEND_ROUND_TRIPS} round trips"


# Transactional, so the durable block is a real transaction, not a test savepoint.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_send_runs_the_statements_the_docs_say(player, no_wins, django_assert_max_num_queries):
    send(player)
    with django_assert_max_num_queries(SEND_STATEMENTS) as captured:
        send(player, key="counted")
    # Statements sent together count one by one; BEGIN and COMMIT count too. On PostgreSQL
    # one more wakes a worker for the reply, in the settlement's round trip.
    statements = [s for query in captured.captured_queries for s in query["sql"].split(";\n")]
    woken = [s for s in statements if s == f"NOTIFY {REPLIES_CHANNEL}"]
    assert len(woken) == (1 if connection.vendor == "postgresql" else 0)
    assert len(statements) - len(woken) == SEND_STATEMENTS
    if connection.vendor == "postgresql":  # the statements of a step go together
        assert len(captured.captured_queries) == SEND_ROUND_TRIPS


def test_the_docs_give_the_sends_statements_as_counted_here():
    docs = Path(__file__).resolve().parents[2] / "docs"
    assert SAID in (docs / "ARCHITECTURE.md").read_text()
    said = re.findall(
        r"(\d+) statements in (\d+) round trips",
        " ".join(
            (docs / name).read_text().replace("\n", " ")
            for name in ("ARCHITECTURE.md", "PERFORMANCE.md")
        ),
    )
    assert set(said) == {(str(SEND_STATEMENTS), str(SEND_ROUND_TRIPS))}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="plans are PostgreSQL's")
@pytest.mark.skipif(
    settings.DATABASE_POOLER == "transaction", reason="nothing is prepared through this pooler"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_send_is_planned_once_not_on_every_message(player, no_wins, configure):
    # PostgreSQL plans a prepared statement afresh for its first five runs, then keeps one
    # plan for all runs, unless that plan would cost more than planning each run anew: the
    # case of a statement that binds what a partial index names (the one open round),
    # once there is a history of closed rounds.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pot_round (number, opened_at, closed_at, outcome, payout, "
            "server_seed_hash, server_seed, message_count, reset_reason) "
            "SELECT 1000 + n, now(), now(), 'reset', 0, md5(n::text), md5(n::text), 0, '' "
            "FROM generate_series(1, 3000) AS n"
        )
        cursor.execute("ANALYZE pot_round")
    configure(price_base=1, price_step=0)
    for _ in range(8):
        send(player)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT left(statement, 80), custom_plans FROM pg_prepared_statements "
            "WHERE name LIKE 'chatpot%%' AND generic_plans + custom_plans >= 8"
        )
        runs = cursor.fetchall()
    assert len(runs) >= 6  # the send's own statements, each run once per message
    assert [statement for statement, custom in runs if custom > 5] == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="plans are PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_through_a_transaction_pooler_the_send_prepares_nothing(player, settings):
    """A transaction-mode pooler (PgBouncer) runs each transaction on whichever server
    connection is free: a statement prepared in one would be unknown to the next."""
    settings.DATABASE_POOLER = "transaction"
    connection.close()  # a connection that has prepared nothing yet
    with CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            send(player)
    sent = [s.lstrip().upper() for q in captured.captured_queries for s in q["sql"].split(";\n")]
    assert sent, "the sends ran no statement"
    assert [sql for sql in sent if sql.startswith(("PREPARE", "EXECUTE"))] == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'chatpot%%'")
        assert cursor.fetchone()[0] == 0


def test_a_player_deactivated_before_the_send_is_refused_and_charged_nothing(player, balance):
    player.is_active = False
    player.save(update_fields=["is_active"])
    with pytest.raises(PlayerUnavailable):
        send(player)
    assert balance(player) == 100
    assert not Message.objects.exists()
    player.refresh_from_db()
    assert (player.nonce, player.messages_sent) == (0, 0)


def test_a_replay_by_a_player_who_can_no_longer_pay_moves_no_counter(player, no_wins):
    for n in range(5):
        send(player, key=f"k-{n}")
    player.refresh_from_db()
    before = (player.nonce, player.messages_sent)
    for _ in range(3):
        assert send(player, key="k-4").replayed
    with pytest.raises(InsufficientFunds):
        send(player, key="k-new")
    player.refresh_from_db()
    assert (player.nonce, player.messages_sent) == before == (5, 5)
    # After a claim, the next message takes the next nonce: the receipts count the messages.
    claim_daily(player=player)
    assert send(player, key="k-5").message.nonce == 5


def test_a_refused_send_queues_no_reply_and_each_message_one(player, no_wins):
    for _ in range(5):
        send(player)
    with pytest.raises(InsufficientFunds):
        send(player)
    with pytest.raises(MessageInvalid):
        send(player, body=" ")
    queued = Reply.objects.order_by("pk").values_list("pk", "ordinal")
    assert list(queued) == [
        (message.pk, n) for n, message in enumerate(Message.objects.order_by("pk"), 1)
    ]
