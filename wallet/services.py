"""The one way credits move: `transfer`, inside the caller's transaction."""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractUser as User
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from game.models import GameConfig

from .auditing import audit_request
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


# The one order every money path takes its locks in: players (by key), then the house,
# then the pot. The pot is last because every message needs it: whoever holds it should
# hold it for as short a time as possible, with nothing else left to wait for.
LOCK_ORDER = [
    Case(
        When(kind=Account.Kind.PLAYER, then=Value(0)),
        When(kind=Account.Kind.HOUSE, then=Value(1)),
        default=Value(2),
    ),
    "id",
]


def lock_order(account: Account) -> tuple[int, int]:
    rank = {Account.Kind.PLAYER: 0, Account.Kind.HOUSE: 1}.get(account.kind, 2)
    return rank, account.pk


def lock_accounts(
    *, owners: Iterable[int] = (), kinds: Iterable[str] = (), ids: Iterable[int] = ()
) -> dict[int, Account]:
    """Lock the accounts of these owners (user ids), kinds and ids for the rest of the
    transaction, in one statement and in the lock order, and return them in that order."""
    owners, kinds, ids = list(owners), list(kinds), list(ids)
    if not (owners or kinds or ids):
        return {}
    accounts = (
        Account.objects.select_for_update()
        .filter(Q(owner_id__in=owners) | Q(kind__in=kinds) | Q(pk__in=ids))
        .order_by(*LOCK_ORDER)
    )
    return {account.pk: account for account in accounts}


def net_changes(legs: Sequence[Leg]) -> dict[int, int]:
    """What the legs do to each account's balance, by the account's key."""
    net: dict[int, int] = defaultdict(int)
    for leg in legs:
        if leg.amount <= 0:
            raise ValueError(f"A transfer moves a positive amount, not {leg.amount}.")
        net[leg.source.pk] -= leg.amount
        net[leg.destination.pk] += leg.amount
    return net


def check_funds(net: Mapping[int, int], locked: Mapping[int, Account]) -> None:
    """Every account that loses credits must be locked, and hold them (the house may go
    below zero: its balance is what it has issued)."""
    if unlocked := {pk for pk, change in net.items() if change < 0} - locked.keys():
        # Taking a lock now could break the order the caller's locks follow.
        raise ValueError(f"Accounts {sorted(unlocked)} lose credits but were not locked.")
    for pk, change in net.items():
        account = locked.get(pk)
        if change < 0 and account.kind != Account.Kind.HOUSE and account.balance + change < 0:
            raise InsufficientFunds(price=-change, balance=account.balance)


def records(legs: Sequence[Leg]) -> list[Transfer]:
    """The legs' transfers, unsaved."""
    now = timezone.now()
    return [
        Transfer(
            from_account_id=leg.source.pk,
            to_account_id=leg.destination.pk,
            amount=leg.amount,
            kind=leg.kind,
            message=leg.message,
            round=leg.round,
            actor=leg.actor,
            memo=leg.memo,
            created_at=now,
        )
        for leg in legs
    ]


def transfer(*legs: Leg, locked: Mapping[int, Account] | None = None) -> list[Transfer]:
    """Record the legs and apply them to the balances, all or nothing, in the caller's
    transaction: take the locks, check the funds, move the balances, record the legs.

    Every account whose balance goes down must be in `locked` (from `lock_accounts`);
    accounts that only receive need no lock beforehand: their rows are updated in the lock
    order, after the locked ones. Without `locked`, every account is locked here. The
    locked accounts' balances are brought up to date. (A message's own transfers are made
    by `chat.services`, the same steps in hand-written statements: see chat.sql.)
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transfer() must run inside the caller's transaction.")
    if not legs:
        return []
    net = net_changes(legs)
    if locked is None:
        locked = lock_accounts(ids=net)
    check_funds(net, locked)
    accounts = {leg.source.pk: leg.source for leg in legs} | {
        leg.destination.pk: leg.destination for leg in legs
    }
    for account in sorted((locked.get(pk, accounts[pk]) for pk in net), key=lock_order):
        if change := net[account.pk]:
            Account.objects.filter(pk=account.pk).update(balance=F("balance") + change)
            if account.pk in locked:
                account.balance += change
    return Transfer.objects.bulk_create(records(legs))


def open_player_account(*, user: User) -> Account:
    """Give a new user their account and the signup grant, in the caller's transaction."""
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
    amount = GameConfig.load().daily_claim
    if not amount:
        raise ClaimUnavailable()
    locked, house, account = _lock_player_and_house(player)
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
    locked, house, account = _lock_player_and_house(player)
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
    audit_request(reason=f"{amount} credits granted to {player.username} by {actor}")
    return grant


def by_kind(locked: Mapping[int, Account]) -> dict[str, Account]:
    """The locked house, pot and (single) player, by kind."""
    return {account.kind: account for account in locked.values()}


def _lock_player_and_house(player: User) -> tuple[dict[int, Account], Account, Account]:
    locked = lock_accounts(owners=[player.pk], kinds=[Account.Kind.HOUSE])
    kinds = by_kind(locked)
    return locked, kinds[Account.Kind.HOUSE], kinds[Account.Kind.PLAYER]
