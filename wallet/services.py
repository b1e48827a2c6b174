"""The one way credits move: `transfer`, inside the caller's transaction."""

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from accounts.models import User

from .errors import ClaimTooEarly, ClaimUnavailable, GrantInvalid, InsufficientFunds
from .models import Account, Transfer
from .selectors import last_daily_claim

DAILY_CLAIM_INTERVAL = timedelta(hours=24)


@dataclass(frozen=True)
class Leg:
    """One movement of credits; `transfer` records it and applies it to both balances."""

    source: Account
    destination: Account
    amount: int
    kind: str
    message: object = None
    round: object = None
    actor: User | None = None
    memo: str = ""


def lock_accounts(query: Q) -> dict[int, Account]:
    """Lock the matching accounts for the rest of the transaction, in primary-key order.

    Every money path locks through here, so two transactions never wait on each other
    in opposite orders.
    """
    accounts = Account.objects.select_for_update().filter(query).order_by("pk")
    return {account.pk: account for account in accounts}


def transfer(*legs: Leg, locked: Mapping[int, Account] | None = None) -> list[Transfer]:
    """Record the legs and apply them to the balances, all or nothing.

    `locked` holds accounts the caller already locked with `lock_accounts`; it must
    cover every account the legs touch. Without it, the accounts are locked here.
    The balances of the locked instances are brought up to date.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transfer() must run inside the caller's transaction.")
    if not legs:
        return []
    net: dict[int, int] = defaultdict(int)
    for leg in legs:
        if leg.amount <= 0:
            raise ValueError(f"A transfer moves a positive amount, not {leg.amount}.")
        net[leg.source.pk] -= leg.amount
        net[leg.destination.pk] += leg.amount
    if locked is None:
        locked = lock_accounts(Q(pk__in=net))
    elif missing := net.keys() - locked.keys():
        # Locking now could break the primary-key order the caller's locks follow.
        raise ValueError(f"Accounts {sorted(missing)} were not locked by the caller.")

    for account_id, change in net.items():
        account = locked[account_id]
        if account.kind != Account.Kind.HOUSE and account.balance + change < 0:
            raise InsufficientFunds(price=-change, balance=account.balance)

    transfers = Transfer.objects.bulk_create(
        Transfer(
            from_account_id=leg.source.pk,
            to_account_id=leg.destination.pk,
            amount=leg.amount,
            kind=leg.kind,
            message=leg.message,
            round=leg.round,
            actor=leg.actor,
            memo=leg.memo,
        )
        for leg in legs
    )
    changes = {pk: change for pk, change in net.items() if change}
    if changes:
        Account.objects.filter(pk__in=changes).update(
            balance=F("balance")
            + Case(*(When(pk=pk, then=Value(change)) for pk, change in changes.items()), default=0)
        )
    for account_id, change in changes.items():
        locked[account_id].balance += change
    return transfers


def open_player_account(*, user: User) -> Account:
    """Give a new user their account and the signup grant, in the caller's transaction."""
    from pot.models import GameConfig

    account = Account.objects.create(kind=Account.Kind.PLAYER, owner=user)
    grant = GameConfig.load().signup_grant
    if grant:
        transfer(
            Leg(
                source=Account.objects.get(kind=Account.Kind.HOUSE),
                destination=account,
                amount=grant,
                kind=Transfer.Kind.SIGNUP_GRANT,
                memo="Welcome to ChatPot",
            )
        )
        account.refresh_from_db(fields=["balance"])
    return account


@dataclass(frozen=True)
class ClaimResult:
    amount: int
    balance: int
    next_claim_at: datetime


def next_claim_at(account: Account) -> datetime | None:
    """When the player may claim again, or None if they may claim now."""
    last = last_daily_claim(account)
    if last is None:
        return None
    due = last.created_at + DAILY_CLAIM_INTERVAL
    return due if due > timezone.now() else None


@transaction.atomic(durable=True)
def claim_daily(*, player: User) -> ClaimResult:
    from pot.models import GameConfig

    amount = GameConfig.load().daily_claim
    if not amount:
        raise ClaimUnavailable()
    locked = lock_accounts(Q(owner=player) | Q(kind=Account.Kind.HOUSE))
    house, account = _house_and_player(locked)
    now = timezone.now()
    if (due := next_claim_at(account)) is not None:
        raise ClaimTooEarly(available_at=due, retry_after=math.ceil((due - now).total_seconds()))
    transfer(
        Leg(source=house, destination=account, amount=amount, kind=Transfer.Kind.DAILY_CLAIM),
        locked=locked,
    )
    return ClaimResult(
        amount=amount, balance=account.balance, next_claim_at=now + DAILY_CLAIM_INTERVAL
    )


@transaction.atomic(durable=True)
def grant_credits(*, player: User, amount: int, actor: User, memo: str) -> Transfer:
    """An operator's gift of credits from the house to a player."""
    if amount <= 0:
        raise GrantInvalid("A grant is a positive number of credits.")
    if not memo.strip():
        raise GrantInvalid("Say why the credits are granted.")
    locked = lock_accounts(Q(owner=player) | Q(kind=Account.Kind.HOUSE))
    house, account = _house_and_player(locked)
    [grant] = transfer(
        Leg(
            source=house,
            destination=account,
            amount=amount,
            kind=Transfer.Kind.ADMIN_GRANT,
            actor=actor,
            memo=memo.strip()[:200],
        ),
        locked=locked,
    )
    return grant


def _house_and_player(locked: Mapping[int, Account]) -> tuple[Account, Account]:
    by_kind = {account.kind: account for account in locked.values()}
    return by_kind[Account.Kind.HOUSE], by_kind[Account.Kind.PLAYER]
