from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser as User
from django.db.models import Q, QuerySet

from .models import Account, Transfer


def player_account(player: User) -> Account:
    return Account.objects.get(owner=player)


def transfers_of(account: Account) -> QuerySet[Transfer]:
    """The account's transfers, either side, newest first."""
    return (
        Transfer.objects.filter(Q(from_account=account) | Q(to_account=account))
        .select_related("round")
        .order_by("-id")
    )


@dataclass(frozen=True)
class TransferPage:
    transfers: list[Transfer]  # newest first
    older_than: int | None  # where the next, older page starts, if there is one


def transfer_history(
    *, account: Account, before: int | None = None, size: int = 20
) -> TransferPage:
    """One page of the account's transfers, newest first, however long its history.

    Each side (out, in) is read newest first along its own index and the two are merged:
    no count and no sort of the whole history.
    """
    sides = []
    for side in (Q(from_account=account), Q(to_account=account)):
        transfers = Transfer.objects.filter(side).select_related("round").order_by("-id")
        if before is not None:
            transfers = transfers.filter(pk__lt=before)
        sides.extend(transfers[: size + 1])
    newest = sorted(sides, key=lambda transfer: transfer.pk, reverse=True)
    shown = newest[:size]
    return TransferPage(transfers=shown, older_than=shown[-1].pk if len(newest) > size else None)


def last_daily_claim(account: Account) -> Transfer | None:
    return (
        Transfer.objects.filter(to_account=account, kind=Transfer.Kind.DAILY_CLAIM)
        .order_by("-id")
        .first()
    )


@dataclass(frozen=True)
class TransferLine:
    what: str
    memo: str
    change: int  # signed, from the account's side


def describe_transfer(transfer: Transfer, account: Account) -> TransferLine:
    """A transfer as the player reads it: what happened, and the signed change."""
    incoming = transfer.to_account_id == account.pk
    round_number = transfer.round.number if transfer.round_id else None
    match transfer.kind:
        case Transfer.Kind.MESSAGE_FEE:
            what = f"Message in round {round_number}"
        case Transfer.Kind.POT_WIN:
            what = f"Won the pot of round {round_number}"
        case Transfer.Kind.POT_REFUND:
            what = f"Refund: round {round_number} was reset by the operators"
        case Transfer.Kind.SIGNUP_GRANT:
            what = "Welcome credits"
        case Transfer.Kind.DAILY_CLAIM:
            what = "Daily claim"
        case Transfer.Kind.ADMIN_GRANT:
            what = "Gift from the operators"
        case _:
            what = transfer.get_kind_display()
    return TransferLine(
        what=what,
        memo=transfer.memo if transfer.kind == Transfer.Kind.ADMIN_GRANT else "",
        change=transfer.amount if incoming else -transfer.amount,
    )
