from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts.services import register_operator
from chat import sql
from chat.selectors import messages_in_window
from chat.services import send_message
from game.models import GameConfig
from pot.models import Round
from pot.services import reset_round
from wallet.audit import audit_ledger
from wallet.models import Account
from wallet.services import grant_credits

pytestmark = [pytest.mark.django_db, pytest.mark.pooler]

NEVER = Decimal("0.000001")


def read_by_hand(player) -> dict:
    with transaction.atomic():
        return sql.open_send(player.pk)


@pytest.mark.no_ledger_audit("runs the send's first statement alone, without its settlement")
@pytest.mark.parametrize("window", GameConfig.PricingWindow.values)
def test_what_the_send_reads_by_hand_is_what_the_orm_reads(player, configure, window):
    configure(win_chance=Decimal("0.123457"), pricing_window=window, pot_share_percent=80)
    send_message(player=player, body="one")
    row = read_by_hand(player)
    config = GameConfig.load()
    pot_round = Round.objects.get(outcome=Round.Outcome.OPEN)
    expected = {
        "player": player,
        "config": config,
        "account": Account.objects.get(owner=player),
        "pot": Account.objects.get(kind=Account.Kind.POT),
        "house": Account.objects.get(kind=Account.Kind.HOUSE),
        "round": pot_round,
    }
    for prefix, (_, names) in sql.OPENED.items():
        found = sql.opened(row, prefix)
        for name in names:
            value = getattr(found, name)
            assert value == getattr(expected[prefix], name), (prefix, name)
            assert type(value) is type(getattr(expected[prefix], name)), (prefix, name)
    assert str(sql.opened(row, "config").win_chance) == "0.123457"
    assert row["n"] == messages_in_window(player=player, config=config, pot_round=pot_round)
    # read after the second advance: the nonce the draw uses, the message's number
    assert (row["nonce"], row["ordinal"]) == (1, 2)


@pytest.mark.no_ledger_audit("runs the send's first statement alone, without its settlement")
def test_an_inactive_player_reads_nothing(player):
    player.is_active = False
    player.save()
    assert read_by_hand(player) is None


def prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares")
def test_the_prepared_statements_stay_the_sends_however_many_players_move_credits(
    make_player, configure
):
    """Only statements of a fixed shape are prepared: resets and grants of any size leave
    the connection's prepared set as the sends left it."""
    operator = register_operator(username="chief", password=None)

    def a_round_of_everything(players: int) -> None:
        crowd = [make_player() for _ in range(players)]
        configure(win_chance=NEVER, pot_share_percent=90)
        for member in crowd:
            send_message(player=member, body="in")
        reset_round(actor=operator, reason=f"{players} contributors")
        for member in crowd:
            grant_credits(player=member, amount=3, actor=operator, memo="thanks")
        configure(win_chance=Decimal(1))
        send_message(player=crowd[0], body="a win")

    a_round_of_everything(2)
    after_the_first = prepared_statements()
    a_round_of_everything(17)
    a_round_of_everything(40)
    assert prepared_statements() == after_the_first
    assert audit_ledger().clean
