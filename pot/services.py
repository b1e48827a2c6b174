import logging
from collections.abc import Mapping

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from chat.models import Message
from chatpot_project.rawsql import batch, placeholders
from wallet.errors import PotMovedOn
from wallet.models import Account, Transfer
from wallet.services import Leg, by_kind, lock_accounts, transfer

from . import fairness
from .errors import ResetRefused
from .models import GameConfig, Round
from .selectors import ResetPlan, open_round, reset_plan

logger = logging.getLogger(__name__)


def new_round(*, number: int) -> Round:
    """Create an open round with a fresh, committed server seed."""
    opened = _unsaved_round(number)
    opened.save()
    return opened


def _unsaved_round(number: int) -> Round:
    server_seed = fairness.new_server_seed()
    return Round(
        number=number,
        server_seed=server_seed,
        server_seed_hash=fairness.hash_server_seed(server_seed),
    )


ROUND = Round._meta.db_table


def _db_values(obj, fields) -> list:
    """The fields' values as the database takes them (datetimes adapted per backend)."""
    return [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]


CLOSING_FIELDS = ["outcome", "closed_at", "winner_id", "payout", "reset_by_id", "reset_reason"]
OPENING_FIELDS = [field for field in Round._meta.concrete_fields if not field.primary_key]


def close_round_and_start_next(
    *,
    pot_round: Round,
    outcome: str,
    config: GameConfig,
    locked: Mapping[int, Account],
    winner: User | None = None,
    payout: int = 0,
    reset_by: User | None = None,
    reset_reason: str = "",
) -> Round:
    """Close the open round, which reveals its seed; open the next, with a fresh
    committed seed; point the pot at it and put the configured seed in. The closing, the
    opening and the pot's pointer go to the database in one round trip.

    `locked` must hold the house and the pot.
    """
    pot_round.outcome = outcome
    pot_round.closed_at = timezone.now()
    pot_round.winner = winner
    pot_round.payout = payout
    pot_round.reset_by = reset_by
    pot_round.reset_reason = reset_reason
    closing = [Round._meta.get_field(name) for name in CLOSING_FIELDS]
    assignments = ", ".join(f"{field.column} = %s" for field in closing)
    next_round = _unsaved_round(pot_round.number + 1)
    kinds = by_kind(locked)
    pot = kinds[Account.Kind.POT]
    [(next_round.pk, pot_round.message_count)] = batch(
        [
            (
                f"UPDATE {ROUND} SET {assignments}, message_count = "  # noqa: S608
                f"(SELECT COUNT(*) FROM {Message._meta.db_table} WHERE round_id = %s) "
                "WHERE id = %s",
                [*_db_values(pot_round, closing), pot_round.pk, pot_round.pk],
            ),
            (
                f"INSERT INTO {ROUND} ({', '.join(f.column for f in OPENING_FIELDS)}) "  # noqa: S608
                f"VALUES ({placeholders(len(OPENING_FIELDS))})",
                _db_values(next_round, OPENING_FIELDS),
            ),
            (
                f"UPDATE {Account._meta.db_table} SET round_id = "  # noqa: S608
                f"(SELECT id FROM {ROUND} WHERE number = %s) WHERE id = %s "
                f"RETURNING round_id, (SELECT message_count FROM {ROUND} WHERE id = %s)",
                [next_round.number, pot.pk, pot_round.pk],
            ),
        ]
    )
    next_round._state.adding, next_round._state.db = False, connection.alias  # as save() does
    pot.round_id = next_round.pk
    if config.pot_seed:
        transfer(
            Leg(
                source=kinds[Account.Kind.HOUSE],
                destination=pot,
                amount=config.pot_seed,
                kind=Transfer.Kind.POT_SEED,
                round=next_round,
            ),
            locked=locked,
        )
    return next_round


RESET_ATTEMPTS = 20


def reset_round(*, actor: User, reason: str) -> ResetPlan:
    """Close the open round as reset: refund each contributor exactly what they put into
    its pot, return the house's seed, reveal the seed and open the next round."""
    reason = (reason or "").strip()
    if not reason:
        raise ResetRefused("Say why the pot is being reset; the reason is kept with the round.")
    for _ in range(RESET_ATTEMPTS):
        try:
            return _reset(actor=actor, reason=reason)
        except PotMovedOn:
            continue  # someone won or joined the round meanwhile: look again
    raise ResetRefused("The pot is too busy to reset right now; try again in a moment.")


@transaction.atomic(durable=True)
def _reset(*, actor: User, reason: str) -> ResetPlan:
    pot_round = open_round()
    contributors = [refund.account_id for refund in reset_plan(pot_round).refunds]
    # The lock order of every money path: players, the house, the pot.
    locked = lock_accounts(ids=contributors, kinds=[Account.Kind.HOUSE, Account.Kind.POT])
    kinds = by_kind(locked)
    pot, house = kinds[Account.Kind.POT], kinds[Account.Kind.HOUSE]
    plan = reset_plan(pot_round)  # final: with the pot locked, nobody adds to it
    if pot.round_id != pot_round.pk or any(r.account_id not in locked for r in plan.refunds):
        raise PotMovedOn()
    if plan.amount == 0:
        raise ResetRefused(
            f"The pot of round {pot_round.number} is empty: there is nothing to reset."
        )
    if not plan.balanced:
        raise RuntimeError(
            f"Round {pot_round.number}: the pot holds {plan.amount} but its contributions add "
            "up otherwise; run audit_ledger before resetting."
        )
    memo = f"Pot reset: {reason}"[:200]
    legs = [
        Leg(
            source=pot,
            destination=locked[refund.account_id],
            amount=refund.amount,
            kind=Transfer.Kind.POT_REFUND,
            round=pot_round,
            actor=actor,
            memo=memo,
        )
        for refund in plan.refunds
    ]
    if plan.seed_return:
        legs.append(
            Leg(
                source=pot,
                destination=house,
                amount=plan.seed_return,
                kind=Transfer.Kind.POT_REFUND,
                round=pot_round,
                actor=actor,
                memo=memo,
            )
        )
    transfer(*legs, locked=locked)
    close_round_and_start_next(
        pot_round=pot_round,
        outcome=Round.Outcome.RESET,
        config=GameConfig.load(),
        locked=locked,
        reset_by=actor,
        reset_reason=reason,
    )
    logger.info(
        "Round %s reset by %s (%s): %s credits refunded to %s players, %s to the house",
        pot_round.number,
        actor,
        reason,
        plan.amount - plan.seed_return,
        len(plan.refunds),
        plan.seed_return,
    )
    return plan
