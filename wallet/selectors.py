from django.db.models import Q, QuerySet

from accounts.models import User

from .models import Account, Transfer


def house_account() -> Account:
    return Account.objects.get(kind=Account.Kind.HOUSE)


def pot_account() -> Account:
    return Account.objects.get(kind=Account.Kind.POT)


def player_account(player: User) -> Account:
    return Account.objects.get(owner=player)


def transfers_of(account: Account) -> QuerySet[Transfer]:
    """The account's transfers, either side, newest first."""
    return (
        Transfer.objects.filter(Q(from_account=account) | Q(to_account=account))
        .select_related("from_account__owner", "to_account__owner", "round", "message")
        .order_by("-id")
    )


def last_daily_claim(account: Account) -> Transfer | None:
    return (
        Transfer.objects.filter(to_account=account, kind=Transfer.Kind.DAILY_CLAIM)
        .order_by("-id")
        .first()
    )
