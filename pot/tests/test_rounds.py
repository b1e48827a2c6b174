import hashlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from chat.models import Message
from chat.services import send_message
from game.models import GameConfig
from pot.models import Round
from pot.services import new_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def won_round(make_player, configure) -> Round:
    """A round of three losing messages and then a win."""
    alice, bob = make_player(), make_player()
    configure(win_chance=Decimal("0.000001"))
    for n in range(3):
        send_message(player=alice if n % 2 else bob, body=f"message {n}")
    configure(win_chance=Decimal(1))
    return send_message(player=alice, body="the winner").closed_round


def verify(number: int) -> str:
    out = StringIO()
    call_command("verify_round", str(number), stdout=out)
    return out.getvalue()


def test_exactly_one_round_is_open_from_the_start():
    assert Round.objects.filter(outcome="open").count() == 1


def test_database_refuses_a_second_open_round():
    with pytest.raises(IntegrityError), transaction.atomic():
        new_round(number=99)


def test_verify_round_recomputes_every_draw(won_round):
    output = verify(won_round.number)
    assert f"Round {won_round.number} verified" in output
    assert "4 draws recomputed, all match" in output


def test_verify_round_refuses_an_open_round():
    with pytest.raises(CommandError, match="1 problem"):
        call_command("verify_round", "1", stderr=StringIO())


def test_verify_round_reports_an_unknown_round():
    with pytest.raises(CommandError, match="no round 404"):
        call_command("verify_round", "404")


def test_verify_round_catches_a_tampered_roll(won_round):
    message = Message.objects.filter(round=won_round, won=False).first()
    Message.objects.filter(pk=message.pk).update(roll=0.5)
    err = StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("verify_round", str(won_round.number), stderr=err)
    assert f"Message {message.pk}: stored roll 0.5" in err.getvalue()


def test_verify_round_catches_a_false_win(won_round):
    Message.objects.filter(round=won_round, won=False).update(won=True)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_round", str(won_round.number), stderr=err)
    assert "recorded win, the draw says loss" in err.getvalue()


def test_verify_round_catches_a_seed_that_breaks_the_commitment(won_round):
    Round.objects.filter(pk=won_round.pk).update(server_seed="0" * 64)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_round", str(won_round.number), stderr=err)
    assert "does not hash to the published commitment" in err.getvalue()


def test_verify_round_catches_a_seed_outside_its_chain(won_round, player, configure):
    """A seed and commitment replaced together still break the chain's link: to the
    terminal hash for the chain's first round, to the seed before for the next."""
    send_message(player=player, body="wins the next round too")
    second = Round.objects.get(number=won_round.number + 1)
    assert "verified" in verify(won_round.number)
    assert "verified" in verify(second.number)
    other = "1" * 64
    for pot_round in (won_round, second):
        Round.objects.filter(pk=pot_round.pk).update(
            server_seed=other, server_seed_hash=hashlib.sha256(other.encode()).hexdigest()
        )
        err = StringIO()
        with pytest.raises(CommandError):
            call_command("verify_round", str(pot_round.number), stderr=err)
        assert "not its place's link of its seed chain" in err.getvalue()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("win_chance", Decimal(0)),
        ("win_chance", Decimal("1.5")),
        ("price_base", 0),
        ("pot_share_percent", 101),
        ("max_message_chars", 0),
    ],
)
def test_game_config_refuses_values_outside_the_rules(field, value):
    config = GameConfig.load()
    setattr(config, field, value)
    with pytest.raises(ValidationError):
        config.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        config.save()


def test_game_config_defaults_match_the_design():
    config = GameConfig.load()
    assert (config.signup_grant, config.price_base, config.price_step) == (100, 5, 5)
    assert (config.pricing_window, config.pot_share_percent) == ("round", 100)
    assert (config.win_chance, config.pot_seed, config.daily_claim) == (Decimal("0.1"), 0, 50)
    assert config.max_message_chars == 500
