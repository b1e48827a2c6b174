"""A message's settlement, decided without the database (chat.services.plan_settlement):
what a price is, what the house takes of it, what a win pays, what comes next."""

from decimal import Decimal

import pytest

from chat.models import Message
from chat.services import plan_settlement
from game.models import GameConfig
from pot.models import Round
from wallet.models import Account, Transfer


def config(**values) -> GameConfig:
    defaults = dict(
        price_base=5,
        price_step=5,
        pot_share_percent=80,
        win_chance=Decimal("0.1"),
        pricing_window=GameConfig.PricingWindow.ROUND,
    )
    return GameConfig(**{**defaults, **values})


def test_a_loss_pays_its_price_and_the_house_its_rake():
    plan = plan_settlement(config=config(), n=2, won=False)
    assert (plan.price, plan.rake, plan.payout, plan.next_price) == (15, 3, 0, 20)


def test_a_win_takes_the_whole_pot_with_its_own_share_and_prices_start_again():
    plan = plan_settlement(config=config(), n=2, won=True, pot_balance=100)
    assert (plan.price, plan.rake, plan.payout, plan.next_price) == (15, 3, 112, 5)


@pytest.mark.parametrize(
    ("window", "next_price"),
    [(GameConfig.PricingWindow.DAY, 20), (GameConfig.PricingWindow.LIFETIME, 20)],
)
def test_outside_a_rounds_window_a_win_does_not_start_prices_again(window, next_price):
    plan = plan_settlement(config=config(pricing_window=window), n=2, won=True, pot_balance=0)
    assert plan.next_price == next_price


def test_with_no_share_to_the_pot_the_whole_price_is_the_houses():
    plan = plan_settlement(config=config(pot_share_percent=0), n=0, won=False)
    assert (plan.price, plan.rake) == (5, 5)
    all_to_pot = plan_settlement(config=config(pot_share_percent=100), n=0, won=False)
    assert all_to_pot.rake == 0


def test_a_win_without_the_pots_balance_is_refused():
    with pytest.raises(ValueError, match="balance is needed"):
        plan_settlement(config=config(), n=0, won=True)


def test_its_legs_move_the_fee_the_rake_and_the_payout_and_nothing_else():
    player, pot, house = (
        Account(pk=pk, kind=kind) for pk, kind in [(1, "player"), (2, "pot"), (3, "house")]
    )
    message = Message(round=Round(number=1))
    win = plan_settlement(config=config(), n=0, won=True, pot_balance=50)
    legs = win.legs(account=player, pot=pot, house=house, message=message)
    assert [(leg.source.pk, leg.destination.pk, leg.amount, leg.kind) for leg in legs] == [
        (1, 2, 5, Transfer.Kind.MESSAGE_FEE),
        (2, 3, 1, Transfer.Kind.RAKE),
        (2, 1, 54, Transfer.Kind.POT_WIN),
    ]
    assert all(leg.message is message and leg.round is message.round for leg in legs)
    # The player ends with the pot and their price's share of it, less nothing else.
    assert (
        sum(leg.amount * ((leg.destination is player) - (leg.source is player)) for leg in legs)
        == 49
    )
    loss = plan_settlement(config=config(pot_share_percent=100), n=0, won=False)
    assert [
        leg.kind for leg in loss.legs(account=player, pot=pot, house=house, message=message)
    ] == [Transfer.Kind.MESSAGE_FEE]
