"""The one way credits move: `transfer`, inside the caller's transaction."""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chatpot_project.rawsql import (
    Statement,
    batch,
    constant,
    for_update,
    instance,
    placeholders,
    timestamp,
)

from .errors import ClaimTooEarly, ClaimUnavailable, GrantInvalid, InsufficientFunds, PotMovedOn
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


TRANSFER_COLUMNS = [
    "from_account_id",
    "to_account_id",
    "amount",
    "kind",
    "message_id",
    "round_id",
    "actor_id",
    "memo",
    "created_at",
]
ACCOUNT = Account._meta.db_table
TRANSFER = Transfer._meta.db_table
LOCKED_FIELDS = ["id", "kind", "owner_id", "balance", "round_id"]


def lock_accounts(
    *, owners: Iterable[int] = (), kinds: Iterable[str] = (), ids: Iterable[int] = ()
) -> dict[int, Account]:
    """Lock the accounts of these owners (user ids), kinds and ids for the rest of the
    transaction, in one statement and in the one order every money path follows:
    players (by key), then the house, then the pot.

    The pot is last because every message needs it: whoever holds it should hold it for
    as short a time as possible, with nothing else left to wait for.
    """
    conditions, params = [], []
    for column, values in (("owner_id", list(owners)), ("id", list(ids))):
        if values:
            conditions.append(f"{column} IN ({placeholders(len(values))})")
            params.extend(values)
    if kinds := [constant(kind) for kind in kinds]:  # written in: see rawsql.constant
        conditions.append(f"kind IN ({', '.join(kinds)})")
    if not conditions:
        return {}
    order = (
        f"CASE kind WHEN {constant(Account.Kind.PLAYER)} THEN 0 "
        f"WHEN {constant(Account.Kind.HOUSE)} THEN 1 ELSE 2 END, id"
    )
    rows = batch(
        [
            (
                f"SELECT {', '.join(LOCKED_FIELDS)} FROM {ACCOUNT} "  # noqa: S608 - no input in the SQL text
                f"WHERE {' OR '.join(conditions)} ORDER BY {order}{for_update()}",
                params,
            )
        ]
    )
    return {row[0]: instance(Account, LOCKED_FIELDS, row) for row in rows}


def transfer(
    *legs: Leg,
    locked: Mapping[int, Account] | None = None,
    pot_round=None,
    then: Sequence[Statement] = (),
) -> list[Transfer]:
    """Record the legs and apply them to the balances, all or nothing.

    Every account whose balance goes down must be in `locked` (from `lock_accounts`), so
    its funds can be checked; accounts that only receive need no lock beforehand; their
    rows are updated last, in the lock order. With `pot_round`, the pot only takes the
    credits while that round is still its round: otherwise `PotMovedOn` is raised and the
    caller's transaction must roll back. Without `locked`, every account is locked here.
    The balances of the accounts in the legs are brought up to date.

    The balance updates and the records go to the database in one round trip, with the
    statements in `then` between them (such as the insert of the message the legs pay for,
    which may read a balance as the updates left it).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transfer() must run inside the caller's transaction.")
    if not legs:
        return []
    net: dict[int, int] = defaultdict(int)
    accounts: dict[int, Account] = {}
    for leg in legs:
        if leg.amount <= 0:
            raise ValueError(f"A transfer moves a positive amount, not {leg.amount}.")
        net[leg.source.pk] -= leg.amount
        net[leg.destination.pk] += leg.amount
        accounts.setdefault(leg.source.pk, leg.source)
        accounts.setdefault(leg.destination.pk, leg.destination)
    if locked is None:
        locked = lock_accounts(ids=net)
    elif unlocked := {pk for pk, change in net.items() if change < 0} - locked.keys():
        # Taking a lock now could break the order the caller's locks follow.
        raise ValueError(f"Accounts {sorted(unlocked)} lose credits but were not locked.")
    accounts.update(locked)

    for account_id, change in net.items():
        account = accounts[account_id]
        if change < 0 and account.kind != Account.Kind.HOUSE and account.balance + change < 0:
            raise InsufficientFunds(price=-change, balance=account.balance)

    late_pot = next(
        (pk for pk, a in accounts.items() if a.kind == Account.Kind.POT and pk not in locked),
        None,
    )
    guarded_pot = late_pot if pot_round is not None else None
    now = timezone.now()
    rows = [
        (
            leg.source.pk,
            leg.destination.pk,
            leg.amount,
            leg.kind,
            getattr(leg.message, "pk", None),
            getattr(leg.round, "pk", None),
            getattr(leg.actor, "pk", None),
            leg.memo,
        )
        for leg in legs
    ]
    recorded = batch(
        [
            *_balance_updates(net, locked, late_pot, pot_round),
            *then,
            _record(rows, timestamp(now), guarded_pot),
        ]
    )
    if guarded_pot is not None and recorded[0][-1] != pot_round.pk:
        raise PotMovedOn()
    # `accounts` holds the caller's locked instances themselves: they are brought up to date.
    for _, source, source_balance, destination, destination_balance, _ in recorded:
        accounts[source].balance = source_balance
        accounts[destination].balance = destination_balance
    return [
        instance(Transfer, ["id", *TRANSFER_COLUMNS], (record[0], *row, now))
        for record, row in zip(recorded, rows, strict=True)
    ]


def _balance_updates(net, locked, late_pot, pot_round) -> list[Statement]:
    """The statements that move the balances. An unlocked pot is updated last, on its own
    unless nothing else still needs a lock, and only while `pot_round` is its round."""
    changes = {pk: change for pk, change in net.items() if change}
    if pot_round is not None and late_pot is not None:
        changes.setdefault(late_pot, 0)  # its round is checked even when it gains nothing
    if late_pot in changes and any(pk not in locked for pk in changes if pk != late_pot):
        batches = [[pk for pk in changes if pk != late_pot], [late_pot]]
    else:
        batches = [list(changes)]
    statements = []
    for pks in filter(None, batches):
        # Typed, so that a statement planned once takes any amount.
        cases = " ".join("WHEN %s THEN CAST(%s AS BIGINT)" for _ in pks)
        where = f"id IN ({placeholders(len(pks))})"
        params = [value for pk in pks for value in (pk, changes[pk])] + pks
        if late_pot in pks and pot_round is not None:
            where = f"({where}) AND (id <> %s OR round_id = %s)"
            params += [late_pot, pot_round.pk]
        statements.append(
            (
                f"UPDATE {ACCOUNT} SET balance = balance + CASE id {cases} ELSE 0 END "  # noqa: S608
                f"WHERE {where}",
                params,
            )
        )
    return statements


def _record(rows, stored_now, guarded_pot) -> Statement:
    """The insert of the transfers, returning each one's key, the new balances of both its
    accounts and the round of the guarded pot (read after the updates, in the same
    transaction: the pot's round is the one its update required, or another if it moved on
    and the update left it alone)."""
    values = ", ".join(f"({placeholders(len(TRANSFER_COLUMNS))})" for _ in rows)
    params = [value for row in rows for value in (*row, stored_now)]
    from_balance, to_balance = (
        f"(SELECT balance FROM {ACCOUNT} a WHERE a.id = {column})"  # noqa: S608
        for column in ("from_account_id", "to_account_id")
    )
    pot_round = "NULL"
    if guarded_pot is not None:
        pot_round = f"(SELECT round_id FROM {ACCOUNT} a WHERE a.id = %s)"  # noqa: S608
        params.append(guarded_pot)
    sql = (
        f"INSERT INTO {TRANSFER} ({', '.join(TRANSFER_COLUMNS)}) VALUES {values} "  # noqa: S608
        f"RETURNING id, from_account_id, {from_balance}, to_account_id, {to_balance}, {pot_round}"
    )
    return sql, params


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
    return grant


def by_kind(locked: Mapping[int, Account]) -> dict[str, Account]:
    """The locked house, pot and (single) player, by kind."""
    return {account.kind: account for account in locked.values()}


def _lock_player_and_house(player: User) -> tuple[dict[int, Account], Account, Account]:
    locked = lock_accounts(owners=[player.pk], kinds=[Account.Kind.HOUSE])
    kinds = by_kind(locked)
    return locked, kinds[Account.Kind.HOUSE], kinds[Account.Kind.PLAYER]
