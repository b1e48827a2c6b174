from dataclasses import dataclass

from django.db.models import QuerySet, Subquery, Sum

from wallet.models import Account, Transfer

from .models import Round, SeedChain


@dataclass(frozen=True)
class PotStatus:
    round_number: int
    amount: int
    server_seed_hash: str

    @property
    def etag(self) -> str:
        """A quoted HTTP entity tag: the figure changes exactly when this does."""
        return f'"{self.round_number}-{self.amount}"'


def pot_status() -> PotStatus:
    """The open round and what the pot holds, in one query."""
    pot_balance = Account.objects.filter(kind=Account.Kind.POT).values("balance")[:1]
    number, amount, seed_hash = (
        Round.objects.filter(outcome=Round.Outcome.OPEN)
        .annotate(amount=Subquery(pot_balance))
        .values_list("number", "amount", "server_seed_hash")
        .get()
    )
    return PotStatus(round_number=number, amount=amount, server_seed_hash=seed_hash)


@dataclass(frozen=True)
class FairnessFacts:
    open_round: Round
    chains: list[SeedChain]

    @property
    def first_chained_round(self) -> int | None:
        return self.chains[0].first_round if self.chains else None


def fairness_facts() -> FairnessFacts:
    """What a player checks the seeds against: the open round (its commitment, its place in
    its chain) and every seed chain, oldest first, each with its terminal hash."""
    chains = list(SeedChain.objects.order_by("first_round"))
    for chain, newer in zip(chains, [*chains[1:], None], strict=True):
        # A chain holds until it runs out, or until a newer one takes over.
        chain.until_round = chain.last_round
        chain.replaced = newer is not None and newer.first_round <= chain.last_round
        if newer is not None:
            chain.until_round = min(chain.last_round, newer.first_round - 1)
    return FairnessFacts(
        open_round=Round.objects.select_related("chain").get(outcome=Round.Outcome.OPEN),
        chains=chains,
    )


def open_round() -> Round:
    return Round.objects.get(outcome=Round.Outcome.OPEN)


def closed_rounds() -> QuerySet[Round]:
    return (
        Round.objects.exclude(outcome=Round.Outcome.OPEN)
        .select_related("winner", "chain")
        .order_by("-number")
    )


def won_rounds() -> QuerySet[Round]:
    return (
        Round.objects.filter(outcome=Round.Outcome.WON)
        .select_related("winner")
        .order_by("-number")
    )


@dataclass(frozen=True)
class Refund:
    account_id: int
    username: str
    amount: int


@dataclass(frozen=True)
class ResetPlan:
    """What resetting the open round gives back, to whom: each player exactly their pot
    contributions in the round (fees less rake), and the house its seed."""

    round: Round
    amount: int
    refunds: list[Refund]
    seed_return: int

    @property
    def balanced(self) -> bool:
        return sum(refund.amount for refund in self.refunds) + self.seed_return == self.amount


def reset_plan(pot_round: Round | None = None) -> ResetPlan:
    pot_round = pot_round or open_round()
    transfers = Transfer.objects.filter(round=pot_round)
    paid = dict(
        transfers.filter(kind=Transfer.Kind.MESSAGE_FEE)
        .values_list("from_account")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    raked = dict(
        transfers.filter(kind=Transfer.Kind.RAKE)
        .values_list("message__player__account")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    names = dict(Account.objects.filter(pk__in=paid).values_list("pk", "owner__username"))
    refunds = [
        Refund(account_id=pk, username=names[pk], amount=total - raked.get(pk, 0))
        for pk, total in sorted(paid.items())
        if total - raked.get(pk, 0) > 0
    ]
    seeded = transfers.filter(kind=Transfer.Kind.POT_SEED).aggregate(total=Sum("amount"))
    return ResetPlan(
        round=pot_round,
        amount=Account.objects.get(kind=Account.Kind.POT).balance,
        refunds=refunds,
        seed_return=seeded["total"] or 0,
    )
