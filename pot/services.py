from collections.abc import Mapping

from django.utils import timezone

from accounts.models import User
from wallet.models import Account, Transfer
from wallet.services import Leg, transfer

from . import fairness
from .models import GameConfig, Round


def new_round(*, number: int) -> Round:
    """Create an open round with a fresh, committed server seed."""
    server_seed = fairness.new_server_seed()
    return Round.objects.create(
        number=number,
        server_seed=server_seed,
        server_seed_hash=fairness.hash_server_seed(server_seed),
    )


def close_round(
    *,
    pot_round: Round,
    outcome: str,
    winner: User | None = None,
    payout: int = 0,
    reset_by: User | None = None,
    reset_reason: str = "",
) -> None:
    """Close the open round, which reveals its seed. The caller holds the pot's lock."""
    pot_round.outcome = outcome
    pot_round.closed_at = timezone.now()
    pot_round.winner = winner
    pot_round.payout = payout
    pot_round.reset_by = reset_by
    pot_round.reset_reason = reset_reason
    pot_round.message_count = pot_round.messages.count()
    pot_round.save(
        update_fields=[
            "outcome",
            "closed_at",
            "winner",
            "payout",
            "reset_by",
            "reset_reason",
            "message_count",
        ]
    )


def start_next_round(*, after: Round, config: GameConfig, locked: Mapping[int, Account]) -> Round:
    """Open the round after `after` and put the configured seed in the pot.

    `locked` must hold the house and the pot when the config seeds rounds.
    """
    next_round = new_round(number=after.number + 1)
    if config.pot_seed:
        by_kind = {account.kind: account for account in locked.values()}
        transfer(
            Leg(
                source=by_kind[Account.Kind.HOUSE],
                destination=by_kind[Account.Kind.POT],
                amount=config.pot_seed,
                kind=Transfer.Kind.POT_SEED,
                round=next_round,
            ),
            locked=locked,
        )
    return next_round
