"""Sending a message: the game's one money path for players (DESIGN section 3)."""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from chatpot_project.rawsql import (
    decimal,
    execute,
    fetchone,
    for_update,
    instance,
    placeholders,
    timestamp,
)
from pot import fairness
from pot.models import GameConfig, Round
from pot.selectors import open_round, pot_status
from pot.services import close_round, start_next_round
from wallet.errors import InsufficientFunds, PotMovedOn
from wallet.models import Account, Transfer
from wallet.services import Leg, lock_accounts, transfer

from .bots import BotContext, BuiltinBot, get_bot
from .errors import IdempotencyConflict, MessageInvalid, PotBusy
from .models import Message
from .selectors import recent_exchanges, window_condition

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX_LENGTH = 100


@dataclass(frozen=True)
class SendResult:
    """What both surfaces render after a send: the message, its outcome and the new state."""

    message: Message
    replayed: bool = False
    ordinal: int | None = None  # the player's message number; None for a replay

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
        if self.message.pot_after is None:  # a reply step that never ran: say what is there now
            return pot_status().amount
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


def clean_body(body: str | None, *, max_chars: int) -> str:
    text = (body or "").strip()
    if not text:
        raise MessageInvalid("Write something first: an empty message is not sent.")
    if len(text) > max_chars:
        raise MessageInvalid(
            f"A message is at most {max_chars} characters; this one has {len(text)}."
        )
    if "\x00" in text:
        raise MessageInvalid("The message contains a character that cannot be sent.")
    return text


def clean_idempotency_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise MessageInvalid(
            f"An idempotency key is at most {IDEMPOTENCY_KEY_MAX_LENGTH} printable characters."
        )
    return key


def send_message(*, player: User, body: str, idempotency_key: str | None = None) -> SendResult:
    """Charge for a message, draw, settle a win, then fetch the bot's reply.

    Refusals (`MessageInvalid`, `InsufficientFunds`, `IdempotencyConflict`) change nothing.
    The same idempotency key from the same player returns the first result uncharged.
    """
    config = GameConfig.load()
    text = clean_body(body, max_chars=config.max_message_chars)
    key = clean_idempotency_key(idempotency_key)
    try:
        result = _settle(player=player, text=text, key=key, config=config)
    except IntegrityError:
        # A concurrent request with the same key won the race; it holds the result.
        if key is None or (result := _replay(player=player, text=text, key=key)) is None:
            raise
    if not result.replayed:
        add_reply(result, config=config)
    return result


def _replay(*, player: User, text: str, key: str) -> SendResult | None:
    message = (
        Message.objects.select_related("round").filter(player=player, idempotency_key=key).first()
    )
    if message is None:
        return None
    if message.body != text:
        raise IdempotencyConflict()
    return SendResult(message=message, replayed=True)


MESSAGE = Message._meta.db_table
ACCOUNT = Account._meta.db_table
MESSAGE_COLUMNS = [
    "player_id",
    "round_id",
    "body",
    "price",
    "client_seed",
    "nonce",
    "roll",
    "win_chance",
    "won",
    "payout",
    "balance_after",
    "pot_after",
    "next_price",
    "reply",
    "idempotency_key",
    "created_at",
]
ROUND_FIELDS = ["id", "number", "outcome", "server_seed_hash", "server_seed"]
SETTLE_ATTEMPTS = 10


@dataclass(frozen=True)
class _Draft:
    """What one settlement attempt works from; the same for every attempt of a send."""

    player: User
    text: str
    key: str | None
    config: GameConfig
    account_id: int
    balance: int
    pot: Account
    house: Account
    client_seed: str
    nonce: int
    ordinal: int


def _lock_player(*, player: User) -> tuple:
    """Lock the player's account (key, balance); read the pot's and house's keys and the
    open round, unlocked: the pot's update checks it is still the pot's round."""
    round_fields = ", ".join(
        f"(SELECT {field} FROM {Round._meta.db_table} WHERE outcome = %s)"  # noqa: S608
        for field in ROUND_FIELDS
    )
    return fetchone(
        f"SELECT a.id, a.balance, (SELECT id FROM {ACCOUNT} WHERE kind = %s), "  # noqa: S608
        f"(SELECT id FROM {ACCOUNT} WHERE kind = %s), {round_fields} "
        f"FROM {ACCOUNT} a WHERE a.owner_id = %s{for_update()}",
        [
            Account.Kind.POT,
            Account.Kind.HOUSE,
            *[Round.Outcome.OPEN] * len(ROUND_FIELDS),
            player.pk,
        ],
    )


def _advance_counters(*, player: User, config: GameConfig, round_id: int) -> tuple:
    """Advance the player's nonce and message count; read their client seed and how many
    of their messages count towards the price. One statement, under the player's account
    lock: these are the latest committed values."""
    condition, params = window_condition(config=config, round_id=round_id)
    return fetchone(
        f"UPDATE {User._meta.db_table} SET nonce = nonce + 1, "  # noqa: S608
        "messages_sent = messages_sent + 1 WHERE id = %s "
        "RETURNING client_seed, nonce - 1, messages_sent, "
        f"(SELECT COUNT(*) FROM {MESSAGE} m WHERE m.player_id = %s{condition})",
        [player.pk, player.pk, *params],
    )


def _open_round(*, player: User, config: GameConfig) -> tuple[Round, int]:
    """The open round, read again after another message won the last one, and the
    player's messages that count towards the price in it."""
    condition, params = window_condition(config=config, round_column="r.id")
    row = fetchone(
        f"SELECT {', '.join('r.' + f for f in ROUND_FIELDS)}, "  # noqa: S608
        f"(SELECT COUNT(*) FROM {MESSAGE} m WHERE m.player_id = %s{condition}) "
        f"FROM {Round._meta.db_table} r WHERE r.outcome = %s",
        [player.pk, *params, Round.Outcome.OPEN],
    )
    return instance(Round, ROUND_FIELDS, row[:-1]), row[-1]


def _insert_message(**values) -> Message:
    values["created_at"] = timezone.now()
    params = [values[column] for column in MESSAGE_COLUMNS]
    params[MESSAGE_COLUMNS.index("win_chance")] = decimal(values["win_chance"], 7, 6)
    params[MESSAGE_COLUMNS.index("created_at")] = timestamp(values["created_at"])
    (pk,) = fetchone(
        f"INSERT INTO {MESSAGE} ({', '.join(MESSAGE_COLUMNS)}) "  # noqa: S608
        f"VALUES ({placeholders(len(MESSAGE_COLUMNS))}) RETURNING id",
        params,
    )
    return instance(Message, ["id", *MESSAGE_COLUMNS], [pk, *(values[c] for c in MESSAGE_COLUMNS)])


@transaction.atomic(durable=True)
def _settle(*, player: User, text: str, key: str | None, config: GameConfig) -> SendResult:
    """Charge, draw and settle one message, in one transaction.

    Locks, in the order every money path follows: the player's account from the start;
    the pot only at the end, for its one update (a win takes the house and the pot earlier,
    to pay out). The round is read unlocked: if another message wins it before this one's
    pot update, the round's part is rolled back to a savepoint and done again in the next
    round, with the same nonce; a draw counts only once it commits.
    """
    row = _lock_player(player=player)
    account_id, balance, pot_id, house_id = row[:4]
    pot_round = instance(Round, ROUND_FIELDS, row[4:])
    client_seed, nonce, ordinal, n = _advance_counters(
        player=player, config=config, round_id=pot_round.pk
    )
    draft = _Draft(
        player=player,
        text=text,
        key=key,
        config=config,
        account_id=account_id,
        balance=balance,
        pot=instance(Account, ["id", "kind"], (pot_id, Account.Kind.POT)),
        house=instance(Account, ["id", "kind"], (house_id, Account.Kind.HOUSE)),
        client_seed=client_seed,
        nonce=nonce,
        ordinal=ordinal,
    )
    before_round = transaction.savepoint_create()
    for _ in range(SETTLE_ATTEMPTS):
        try:
            return _settle_in_round(draft, pot_round=pot_round, n=n)
        except PotMovedOn:
            transaction.savepoint_rollback(before_round)
            pot_round, n = _open_round(player=player, config=config)
    raise PotBusy()


def _settle_in_round(draft: _Draft, *, pot_round: Round, n: int) -> SendResult:
    config, player = draft.config, draft.player
    account = instance(
        Account, ["id", "kind", "balance"], (draft.account_id, Account.Kind.PLAYER, draft.balance)
    )
    price = config.price_for(n)
    if account.balance < price:
        if draft.key is not None and (
            replay := _replay(player=player, text=draft.text, key=draft.key)
        ):
            return replay
        raise InsufficientFunds(price=price, balance=account.balance)
    draw = fairness.draw(
        server_seed=pot_round.server_seed,
        client_seed=draft.client_seed,
        nonce=draft.nonce,
        win_chance=config.win_chance,
    )
    rake = price - config.pot_share_of(price)
    locked = {account.pk: account}
    pot, house = draft.pot, draft.house
    payout = 0
    if draw.won:
        locked.update(lock_accounts(kinds=[Account.Kind.HOUSE, Account.Kind.POT]))
        pot, house = locked[pot.pk], locked[house.pk]
        if pot.round_id != pot_round.pk:
            raise PotMovedOn()
        payout = pot.balance + price - rake
    elif rake:
        # The house is locked before the pot, as everywhere.
        locked.update(lock_accounts(kinds=[Account.Kind.HOUSE]))
    restarts_pricing = draw.won and config.pricing_window == GameConfig.PricingWindow.ROUND
    message = _insert_message(
        player_id=player.pk,
        round_id=pot_round.pk,
        body=draft.text,
        price=price,
        client_seed=draw.client_seed,
        nonce=draw.nonce,
        roll=draw.roll,
        win_chance=draw.win_chance,
        won=draw.won,
        payout=payout,
        balance_after=account.balance - price + payout,
        # A loss learns the pot's new amount from its last statement; it is stored with
        # the reply, after the commit.
        pot_after=config.pot_seed if draw.won else None,
        next_price=config.price_for(0 if restarts_pricing else n + 1),
        reply="",
        idempotency_key=draft.key or "",
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
    transfer(*legs, locked=locked, pot_round=pot_round)
    if draw.won:
        close_round(pot_round=pot_round, outcome=Round.Outcome.WON, winner=player, payout=payout)
        start_next_round(after=pot_round, config=config, locked=locked)
    else:
        message.pot_after = pot.balance
    return SendResult(message=message, ordinal=draft.ordinal)


def add_reply(result: SendResult, *, config: GameConfig) -> None:
    """Store the bot's reply. Runs after the charge has committed and never moves money;
    whatever the bot does, the message and its charge stand."""
    message = result.message
    bot = get_bot()
    context = BotContext(
        player_name=message.player.username,
        text=message.body,
        ordinal=result.ordinal,
        price=message.price,
        next_price=message.next_price,
        balance=message.balance_after,
        pot=message.pot_after,
        round_number=message.round.number,
        won=message.won,
        payout=message.payout,
        win_chance=message.win_chance,
        price_base=config.price_base,
        price_step=config.price_step,
        pot_share_percent=config.pot_share_percent,
        daily_claim=config.daily_claim,
        server_seed_hash=(
            open_round().server_seed_hash if message.won else message.round.server_seed_hash
        ),
        history=recent_exchanges(player=message.player, before=message, limit=bot.history_turns),
    )
    try:
        reply = bot.reply(context)
    except Exception:
        logger.exception("The chatbot failed on message %s; using the built-in reply", message.pk)
        reply = BuiltinBot().reply(context)
    execute(
        f"UPDATE {MESSAGE} SET reply = %s, pot_after = %s WHERE id = %s",  # noqa: S608
        [reply, message.pot_after, message.pk],
    )
    message.reply = reply
