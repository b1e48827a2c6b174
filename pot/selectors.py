from dataclasses import dataclass

from django.db.models import QuerySet, Subquery

from wallet.models import Account

from .models import Round


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


def open_round() -> Round:
    return Round.objects.get(outcome=Round.Outcome.OPEN)


def closed_rounds() -> QuerySet[Round]:
    return (
        Round.objects.exclude(outcome=Round.Outcome.OPEN)
        .select_related("winner")
        .order_by("-number")
    )


def won_rounds() -> QuerySet[Round]:
    return (
        Round.objects.filter(outcome=Round.Outcome.WON)
        .select_related("winner")
        .order_by("-number")
    )
