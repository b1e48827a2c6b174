"""Random sequences of sends, wins, claims, grants and config changes keep every invariant."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from accounts.models import User
from accounts.services import register_operator, register_player
from chat.errors import IdempotencyConflict, MessageInvalid
from chat.models import Message
from chat.selectors import price_quote
from chat.services import send_message
from game.models import GameConfig
from pot.models import Round
from wallet.audit import audit_ledger
from wallet.errors import ClaimTooEarly, InsufficientFunds
from wallet.models import Account
from wallet.services import claim_daily, grant_credits

bodies = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["", "   ", "x" * 501, "what are the odds?"]),
)


def balance_of(player: User) -> int:
    return Account.objects.get(owner=player).balance


class LedgerMachine(RuleBasedStateMachine):
    players = Bundle("players")

    def __init__(self):
        super().__init__()
        self.clock = time_machine.travel(timezone.now(), tick=False)
        self.traveller = self.clock.start()
        self.operator = register_operator(
            username=f"op-{User.objects.count()}",
            email="op@example.com",
            password="a-long-enough-passphrase",
        )
        self.counter = 0

    def teardown(self):
        self.clock.stop()

    @rule(target=players)
    def new_player(self):
        self.counter += 1
        return register_player(
            username=f"p{User.objects.count()}-{self.counter}", password="a-long-enough-passphrase"
        )

    @rule(
        player=players,
        body=bodies,
        key=st.one_of(st.none(), st.sampled_from(["k1", "k2"])),
    )
    def send(self, player, body, key):
        quote = price_quote(player=player)
        messages_before = Message.objects.count()
        try:
            result = send_message(player=player, body=body, idempotency_key=key)
        except (MessageInvalid, InsufficientFunds, IdempotencyConflict) as refused:
            if isinstance(refused, InsufficientFunds):
                assert quote.price > quote.balance
                assert refused.price == quote.price  # noqa: PT017 - the rule checks each outcome
            assert Message.objects.count() == messages_before
            assert balance_of(player) == quote.balance
            return
        if result.replayed:
            assert Message.objects.count() == messages_before
            assert balance_of(player) == quote.balance
            return
        assert result.price == quote.price
        assert result.balance == quote.balance - quote.price + result.payout
        assert balance_of(player) == result.balance
        assert Message.objects.count() == messages_before + 1

    @rule(chance=st.sampled_from(["0.000001", "0.3", "1"]))
    def set_odds(self, chance):
        GameConfig.objects.filter(pk=1).update(win_chance=Decimal(chance))

    @rule(
        share=st.integers(min_value=0, max_value=100),
        seed=st.integers(min_value=0, max_value=30),
        window=st.sampled_from(["round", "day", "lifetime"]),
    )
    def retune(self, share, seed, window):
        GameConfig.objects.filter(pk=1).update(
            pot_share_percent=share, pot_seed=seed, pricing_window=window
        )

    @rule(player=players)
    def claim(self, player):
        before = balance_of(player)
        try:
            result = claim_daily(player=player)
        except ClaimTooEarly as early:
            assert early.retry_after > 0  # noqa: PT017 - the rule checks each outcome
            assert balance_of(player) == before
        else:
            assert result.balance == before + result.amount

    @rule(hours=st.integers(min_value=1, max_value=30))
    def wait(self, hours):
        self.traveller.shift(timedelta(hours=hours))

    @rule(player=players, amount=st.integers(min_value=1, max_value=300))
    def grant(self, player, amount):
        before = balance_of(player)
        grant_credits(player=player, amount=amount, actor=self.operator, memo="property test")
        assert balance_of(player) == before + amount

    @invariant()
    def ledger_is_clean(self):
        report = audit_ledger()
        assert report.clean, report.breaches

    @invariant()
    def one_open_round_holding_the_pot(self):
        open_round = Round.objects.get(outcome="open")
        assert open_round.number == Round.objects.count()


@pytest.mark.django_db
@pytest.mark.slow
def test_random_play_keeps_every_invariant():
    LedgerMachine.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    LedgerMachine.TestCase().runTest()
