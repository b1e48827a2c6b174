import functools
import logging
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from game.models import GameConfig
from wallet.auditing import audit_request
from wallet.errors import PotMovedOn
from wallet.models import Account, Transfer
from wallet.services import Leg, by_kind, lock_accounts, transfer

from . import fairness
from .errors import ResetRefused
from .models import Round, SeedChain, SeedCheckpoint
from .selectors import ResetPlan, open_round, reset_plan

logger = logging.getLogger(__name__)


def new_round(*, number: int) -> Round:
    """Create an open round with a fresh, committed server seed."""
    opened = _unsaved_round(number)
    opened.save()
    return opened


def _unsaved_round(number: int, seed: tuple[SeedChain | None, str] | None = None) -> Round:
    chain, server_seed = seed or chained_seed(number)
    return Round(
        number=number,
        server_seed=server_seed,
        server_seed_hash=fairness.hash_server_seed(server_seed),
        chain=chain,
    )


# Below this many seeds left, each round that opens says so in the log.
CHAIN_LOW = 1000


def chained_seed(number: int) -> tuple[SeedChain | None, str]:
    """Round `number`'s seed: its place in the newest chain that reaches it. With no chain
    for it, a random seed, and an error in the log: the operator makes a new chain.

    A win needs it for the round it opens: one query, then the seed from the process's
    copy of its stretch of the chain (`_stretch`, read and hashed once per
    CHECKPOINT_EVERY rounds). Read and hashed on every win, under the pot's lock, it took
    2 ms a win and about 5 % of the send at the default win chance; the send now finds it
    before it takes the pot's lock (`start_chain` says why that is safe)."""
    chain = (
        SeedChain.objects.filter(first_round__lte=number)
        .order_by("-first_round")
        .only("first_round", "length", "terminal_hash")
        .first()
    )
    if chain is None or number > chain.last_round:
        if chain is not None:
            logger.error(
                "The seed chain ran out at round %s: round %s's seed is drawn at random, "
                "outside any chain. Run manage.py seed_chain (docs/OPERATIONS.md).",
                chain.last_round,
                number,
            )
        return None, fairness.new_server_seed()
    left = chain.last_round - number
    if left < CHAIN_LOW:
        logger.warning(
            "The seed chain has %s seeds left after round %s: run manage.py seed_chain.",
            left,
            number,
        )
    position = chain.position(number)
    checkpoint = fairness.checkpoint_above(position, length=chain.length)
    return chain, _stretch(chain.pk, chain.terminal_hash, checkpoint)[checkpoint - position]


@functools.lru_cache(maxsize=4)
def _stretch(chain_id: int, terminal_hash: str, checkpoint: int) -> tuple[str, ...]:
    """The chain's seeds from a checkpoint down to the one after the checkpoint below it
    (at most CHECKPOINT_EVERY of them, about 66 kB), the checkpoint's first. Kept by the
    chain's terminal hash too: a key alone may name another chain after a rollback."""
    seed = SeedCheckpoint.objects.values_list("seed", flat=True).get(
        chain_id=chain_id, position=checkpoint
    )
    return fairness.chain_stretch(checkpoint, checkpoint_seed=seed)


def start_chain(*, length: int) -> SeedChain:
    """Make a new seed chain (its hashes first, outside any transaction: a long chain takes
    seconds) and have it take over from the second round after the open one.

    The pot is locked while it is recorded, so no round opens meanwhile. A win finds the
    next round's seed before it takes the pot's lock: one that is under way now may have
    found it without this chain, and opens the round after the open one with it. Any win
    after that starts once this chain is committed, and sees it."""
    terminal, checkpoints = fairness.chain_checkpoints(length)
    with transaction.atomic():
        lock_accounts(ids=[], kinds=[Account.Kind.POT])
        first_round = open_round().number + 2
        SeedChain.objects.filter(first_round__gte=first_round).delete()  # never used
        chain = SeedChain.objects.create(
            terminal_hash=terminal, length=length, first_round=first_round
        )
        SeedCheckpoint.objects.bulk_create(
            SeedCheckpoint(chain=chain, position=position, seed=seed)
            for position, seed in checkpoints.items()
        )
    logger.info(
        "Seed chain of %s seeds made, terminal hash %s: it holds from round %s.",
        length,
        terminal,
        first_round,
    )
    return chain


# What closing a round changes in it.
CLOSING_FIELDS = [
    "outcome",
    "closed_at",
    "winner",
    "payout",
    "reset_by",
    "reset_reason",
    "message_count",
]


def close(
    pot_round: Round,
    *,
    outcome: str,
    winner: User | None = None,
    payout: int = 0,
    reset_by: User | None = None,
    reset_reason: str = "",
    next_seed: tuple[SeedChain | None, str] | None = None,
) -> Round:
    """Close the round in memory (its CLOSING_FIELDS, but for the count of its messages,
    which the database gives) and return the next, unsaved, with its committed seed (the
    chain's next, or `next_seed` if the caller found it already: `chained_seed`):
    what closing means, whoever stores it (`close_round_and_start_next`, or for a win the
    send's own statements, chat.sql.close_won_round)."""
    pot_round.outcome = outcome
    pot_round.closed_at = timezone.now()
    pot_round.winner = winner
    pot_round.payout = payout
    pot_round.reset_by = reset_by
    pot_round.reset_reason = reset_reason
    return _unsaved_round(pot_round.number + 1, next_seed)


def close_round_and_start_next(
    *, pot_round: Round, config: GameConfig, locked: Mapping[int, Account], **closing
) -> Round:
    """Close the open round, which reveals its seed; open the next, with a fresh
    committed seed; point the pot at it and put the configured seed in (`close` says
    what the rest of `closing` may be).

    `locked` must hold the house and the pot: with the pot locked, no message joins the
    round any more, so its count is final.
    """
    next_round = close(pot_round, **closing)
    # Its messages, each paid by exactly one fee in the round (the audit holds it so).
    pot_round.message_count = Transfer.objects.filter(
        round=pot_round, kind=Transfer.Kind.MESSAGE_FEE
    ).count()
    pot_round.save(update_fields=CLOSING_FIELDS)
    next_round.save()
    pot = by_kind(locked)[Account.Kind.POT]
    Account.objects.filter(pk=pot.pk).update(round=next_round)
    pot.round = next_round
    seed_pot(next_round, config=config, locked=locked)
    return next_round


def seed_pot(next_round: Round, *, config: GameConfig, locked: Mapping[int, Account]) -> None:
    """The house's seed into the new round's pot, if the game has one."""
    if config.pot_seed:
        kinds = by_kind(locked)
        transfer(
            Leg(
                source=kinds[Account.Kind.HOUSE],
                destination=kinds[Account.Kind.POT],
                amount=config.pot_seed,
                kind=Transfer.Kind.POT_SEED,
                round=next_round,
            ),
            locked=locked,
        )


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
    audit_request(reason=f"round {pot_round.number} reset by {actor}")
    return plan
