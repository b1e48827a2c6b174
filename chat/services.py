"""Sending a message: the game's one money path for players (DESIGN section 3)."""

import functools
import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils.json import normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

from accounts.models import User
from chatpot_project import rawsql
from chatpot_project.rawsql import (
    Statement,
    batch,
    constant,
    for_update,
    instance,
    next_key,
)
from pot import fairness
from pot.models import GameConfig, Round
from pot.services import close_round_and_start_next
from wallet.errors import InsufficientFunds, PotMovedOn
from wallet.models import Account, Transfer
from wallet.services import Leg, lock_accounts, transfer

from .errors import IdempotencyConflict, MessageInvalid, PlayerUnavailable, PotBusy
from .models import Message
from .selectors import window_count
from .tasks import generate_reply

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX_LENGTH = 100


@dataclass(frozen=True)
class SendResult:
    """What both surfaces render after a send: the message, its outcome and the new state."""

    message: Message
    replayed: bool = False
    ordinal: int | None = None  # the player's message number; None for a replay
    next_round: Round | None = None  # the round a win opened

    @property
    def price(self) -> int:
        return self.message.price

    @property
    def won(self) -> bool:
        return self.message.won

    @property
    def payout(self) -> int:
        return self.message.payout

    @property
    def balance(self) -> int:
        return self.message.balance_after

    @property
    def pot(self) -> int:
        return self.message.pot_after

    @property
    def next_price(self) -> int:
        return self.message.next_price

    @property
    def round_number(self) -> int:
        """The open round after this message: a win opened the next one."""
        return self.message.round.number + (1 if self.won else 0)

    @property
    def closed_round(self) -> Round | None:
        """The round this message won, now closed with its seed revealed."""
        return self.message.round if self.won else None


def clean_body(body: str | None) -> str:
    text = (body or "").strip()
    if not text:
        raise MessageInvalid("Write something first: an empty message is not sent.")
    if "\x00" in text:
        raise MessageInvalid("The message contains a character that cannot be sent.")
    return text


def check_length(text: str, *, max_chars: int) -> None:
    if len(text) > max_chars:
        raise MessageInvalid(
            f"A message is at most {max_chars} characters; this one has {len(text)}."
        )


def clean_idempotency_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise MessageInvalid(
            f"An idempotency key is at most {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters."
        )
    return key


def send_message(*, player: User, body: str, idempotency_key: str | None = None) -> SendResult:
    """Charge for a message, draw, settle a win, and enqueue the keeper's reply, which a
    worker writes after the commit (chat.replies): the send never waits on the keeper.

    Refusals (`MessageInvalid`, `InsufficientFunds`, `IdempotencyConflict`,
    `PlayerUnavailable`) change nothing. The same idempotency key from the same player
    returns the first result uncharged. Only `player.pk` is read: the player's row is
    read, and checked to be active, in the send's own transaction.
    """
    text = clean_body(body)
    key = clean_idempotency_key(idempotency_key)
    try:
        return _settle(player=player, text=text, key=key)
    except (IntegrityError, InsufficientFunds):
        # Rolled back, counters and all. The key may name a message already sent: by an
        # earlier request (which a player who can no longer pay may repeat), or by a
        # concurrent one that won the race.
        if key is None or (result := _replay(player=player, text=text, key=key)) is None:
            raise
        return result


def _replay(*, player: User, text: str, key: str) -> SendResult | None:
    message = (
        Message.objects.select_related("round")
        .filter(player_id=player.pk, idempotency_key=key)
        .first()
    )
    if message is None:
        return None
    if message.body != text:
        raise IdempotencyConflict()
    return SendResult(message=message, replayed=True)


MESSAGE = Message._meta.db_table
ACCOUNT = Account._meta.db_table
ROUND_FIELDS = ["id", "number", "outcome", "server_seed_hash", "server_seed"]
SETTLE_ATTEMPTS = 10


PLAYER_FIELDS = ["id", "username", "client_seed"]
# The price's count in `_open`'s statement: its player, round and config's window.
COUNT_IN_OPEN = {"player": "u.id", "round_id": "r.id", "window": "c.pricing_window"}


@dataclass(frozen=True)
class _Opening:
    """What a send reads once it holds the player's account: everything it is priced,
    drawn and settled with."""

    player: User  # as read under the lock: an active player
    config: GameConfig
    account: Account
    pot: Account
    house: Account
    pot_round: Round
    nonce: int
    ordinal: int  # the player's message number, counting this one
    n: int  # the player's messages that count towards the price
    message_id: int  # reserved for this message


def _open(*, player: User) -> _Opening:
    """Lock the player's account, advance their nonce and message count, and read the
    rest, in one round trip.

    Only the player's account is locked here: the pot's and the house's keys and the open
    round are read unlocked (the pot's update checks it is still the pot's round). The
    counters are read under the player's lock, so they are the latest committed values.
    `player` needs only its key: the player is read here, and refused with
    `PlayerUnavailable` if they no longer exist or are no longer active.
    """
    lock, advance, read = _open_statements(connection.vendor)
    count_params = window_count(**COUNT_IN_OPEN)[1]
    rows = batch([(lock, [player.pk]), (advance, [player.pk]), (read, [*count_params, player.pk])])
    if not rows:
        raise PlayerUnavailable()
    row = rows[0]
    player_end = len(PLAYER_FIELDS)
    account_id, balance, pot_id, house_id, nonce, ordinal, n, message_id = row[
        player_end : player_end + 8
    ]
    rounds_end = player_end + 8 + len(ROUND_FIELDS)
    return _Opening(
        player=instance(User, PLAYER_FIELDS, row[:player_end]),
        config=GameConfig.from_row(row[rounds_end:]),
        account=instance(
            Account, ["id", "kind", "balance"], (account_id, Account.Kind.PLAYER, balance)
        ),
        pot=instance(Account, ["id", "kind"], (pot_id, Account.Kind.POT)),
        house=instance(Account, ["id", "kind"], (house_id, Account.Kind.HOUSE)),
        pot_round=instance(Round, ROUND_FIELDS, row[player_end + 8 : rounds_end]),
        nonce=nonce,
        ordinal=ordinal,
        n=n,
        message_id=message_id,
    )


@functools.cache
def _open_statements(vendor: str) -> tuple[str, str, str]:
    """The texts of `_open`'s statements, written once per database vendor."""
    game = ", ".join(f"c.{field}" for field in GameConfig.GAME_FIELDS)
    rounds = ", ".join(f"r.{field}" for field in ROUND_FIELDS)
    player = ", ".join(f"u.{field}" for field in PLAYER_FIELDS)
    count = window_count(**COUNT_IN_OPEN)[0]
    return (
        f"SELECT id FROM {ACCOUNT} WHERE owner_id = %s{for_update()}",  # noqa: S608
        f"UPDATE {User._meta.db_table} SET nonce = nonce + 1, "  # noqa: S608
        "messages_sent = messages_sent + 1 WHERE id = %s",
        f"SELECT {player}, a.id, a.balance, p.id, h.id, u.nonce - 1, "  # noqa: S608
        f"u.messages_sent, {count}, {next_key(Message)}, {rounds}, {game} "
        f"FROM {User._meta.db_table} u "
        f"JOIN {ACCOUNT} a ON a.owner_id = u.id, {ACCOUNT} p, {ACCOUNT} h, "
        f"{Round._meta.db_table} r, {GameConfig._meta.db_table} c "
        f"WHERE u.id = %s AND u.is_active AND p.kind = {constant(Account.Kind.POT)} "
        f"AND h.kind = {constant(Account.Kind.HOUSE)} "
        f"AND r.outcome = {constant(Round.Outcome.OPEN)} AND c.id = {constant(1)}",
    )


def _insert_message(*, pot_after_of: Account | None, **values) -> tuple[Message, Statement]:
    """The message, and the statement that stores it, sent after the balance updates of
    its transfers: with `pot_after_of`, the pot's balance is read as they left it."""
    message = Message(**values)
    read = {}
    if pot_after_of is not None:
        read["pot_after"] = (f"(SELECT balance FROM {ACCOUNT} WHERE id = %s)", [pot_after_of.pk])  # noqa: S608
    return message, rawsql.insert(message, read=read)


def _reply_task(*, message_id: int, ordinal: int) -> Statement:
    """The keeper's reply to the message, enqueued for a worker (chat.tasks): the
    insert `generate_reply.enqueue()` makes, written here to go with the message's own
    statements. Measured: enqueued through the ORM, 490 µs of a 2 ms send (13 % fewer
    messages a second at 32 connections); sent with them, about 40 µs. The record is
    django-tasks-db's, made as its backend makes it, so its workers take it as any other."""
    task = generate_reply
    record = DBTaskResult(
        id=uuid.uuid4(),
        args_kwargs=normalize_json(
            {"args": [], "kwargs": {"message_id": message_id, "ordinal": ordinal}}
        ),
        priority=task.priority,
        task_path=task.module_path,
        queue_name=task.queue_name,
        backend_name=task.backend,
        run_after=task.run_after or get_date_max(),
    )
    return rawsql.insert(record)


def _settle(*, player: User, text: str, key: str | None) -> SendResult:
    """Charge, draw and settle one message, in one transaction.

    Locks, in the order every money path follows: the player's account from the start;
    the pot only at the end, for its one update (a win takes the house and the pot earlier,
    to pay out). The round is read unlocked: if another message wins it before this one's
    pot update, the transaction rolls back and the message is settled again, in the next
    round; a draw counts only once it commits.
    """
    for _ in range(SETTLE_ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                return _settle_in_round(_open(player=player), text=text, key=key)
        except PotMovedOn:
            continue
    raise PotBusy()


def _settle_in_round(opening: _Opening, *, text: str, key: str | None) -> SendResult:
    player, config, account = opening.player, opening.config, opening.account
    pot_round, n = opening.pot_round, opening.n
    check_length(text, max_chars=config.max_message_chars)
    price = config.price_for(n)
    if account.balance < price:
        raise InsufficientFunds(price=price, balance=account.balance)
    draw = fairness.draw(
        server_seed=pot_round.server_seed,
        client_seed=player.client_seed,
        nonce=opening.nonce,
        win_chance=config.win_chance,
    )
    rake = price - config.pot_share_of(price)
    locked = {account.pk: account}
    pot, house = opening.pot, opening.house
    payout = 0
    if draw.won:
        locked.update(lock_accounts(kinds=[Account.Kind.HOUSE, Account.Kind.POT]))
        pot, house = locked[pot.pk], locked[house.pk]
        if pot.round_id != pot_round.pk:
            raise PotMovedOn()
        payout = pot.balance + price - rake
    restarts_pricing = draw.won and config.pricing_window == GameConfig.PricingWindow.ROUND
    message, insert = _insert_message(
        # A loss stores the pot's amount as its update leaves it; a win, the next round's.
        pot_after_of=None if draw.won else pot,
        id=opening.message_id,
        player_id=player.pk,
        round_id=pot_round.pk,
        body=text,
        price=price,
        client_seed=draw.client_seed,
        nonce=draw.nonce,
        roll=draw.roll,
        win_chance=draw.win_chance,
        won=draw.won,
        payout=payout,
        balance_after=account.balance - price + payout,
        pot_after=config.pot_seed if draw.won else None,
        next_price=config.price_for(0 if restarts_pricing else n + 1),
        reply="",
        reply_status=Message.ReplyStatus.PENDING,
        reply_attempts=0,
        reply_lease_until=None,
        idempotency_key=key or "",
    )
    message.round = pot_round
    message.player = player
    legs = [
        Leg(
            source=account,
            destination=pot,
            amount=price,
            kind=Transfer.Kind.MESSAGE_FEE,
            message=message,
            round=pot_round,
        )
    ]
    if rake:
        legs.append(
            Leg(
                source=pot,
                destination=house,
                amount=rake,
                kind=Transfer.Kind.RAKE,
                message=message,
                round=pot_round,
            )
        )
    if payout:
        legs.append(
            Leg(
                source=pot,
                destination=account,
                amount=payout,
                kind=Transfer.Kind.POT_WIN,
                message=message,
                round=pot_round,
            )
        )
    # The message, its reply's task, its transfers and the balances go to the database
    # together: the task commits with the message, or neither does.
    reply_task = _reply_task(message_id=message.pk, ordinal=opening.ordinal)
    transfer(*legs, locked=locked, pot_round=pot_round, then=[insert, reply_task])
    if draw.won:
        next_round = close_round_and_start_next(
            pot_round=pot_round,
            outcome=Round.Outcome.WON,
            config=config,
            locked=locked,
            winner=player,
            payout=payout,
        )
        return SendResult(message=message, ordinal=opening.ordinal, next_round=next_round)
    message.pot_after = pot.balance
    return SendResult(message=message, ordinal=opening.ordinal)
