"""Sending a message: the game's one money path for players (DESIGN section 3)."""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from accounts.models import User
from pot import fairness
from pot.models import GameConfig, Round
from pot.services import close_round, start_next_round
from wallet.errors import InsufficientFunds
from wallet.models import Account, Transfer
from wallet.services import Leg, lock_accounts, transfer

from .bots import BotContext, BuiltinBot, get_bot
from .errors import IdempotencyConflict, MessageInvalid
from .models import Message
from .selectors import count_in_window, recent_exchanges

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


@transaction.atomic(durable=True)
def _settle(*, player: User, text: str, key: str | None, config: GameConfig) -> SendResult:
    # The house takes part only when it takes a rake or seeds the next round.
    with_house = config.pot_share_percent < 100 or config.pot_seed > 0
    accounts = Q(owner=player) | Q(kind=Account.Kind.POT)
    if with_house:
        accounts |= Q(kind=Account.Kind.HOUSE)
    locked = lock_accounts(accounts)
    by_kind = {account.kind: account for account in locked.values()}
    account, pot = by_kind[Account.Kind.PLAYER], by_kind[Account.Kind.POT]
    pot_round = (
        Round.objects.select_for_update(of=("self",))
        .annotate(n=count_in_window(player=player, config=config))
        .get(outcome=Round.Outcome.OPEN)
    )
    n = pot_round.n
    price = config.price_for(n)
    if account.balance < price:
        if key is not None and (replay := _replay(player=player, text=text, key=key)):
            return replay
        raise InsufficientFunds(price=price, balance=account.balance)

    # Advance the counters and read the client seed in one statement (UPDATE ... RETURNING),
    # so they are the latest committed ones; the player's account lock serialises it.
    # A fresh instance, so the caller's `player` is never half-updated.
    counters = User(pk=player.pk)
    counters.nonce = F("nonce") + 1
    counters.messages_sent = F("messages_sent") + 1
    counters.client_seed = F("client_seed")
    counters.save(update_fields=["nonce", "messages_sent", "client_seed"])
    draw = fairness.draw(
        server_seed=pot_round.server_seed,
        client_seed=counters.client_seed,
        nonce=counters.nonce - 1,
        win_chance=config.win_chance,
    )

    rake = price - config.pot_share_of(price)
    pot_after_fee = pot.balance + price - rake
    payout = pot_after_fee if draw.won else 0
    restarts_pricing = draw.won and config.pricing_window == GameConfig.PricingWindow.ROUND
    message = Message.objects.create(
        player=player,
        round=pot_round,
        body=text,
        price=price,
        client_seed=draw.client_seed,
        nonce=draw.nonce,
        roll=draw.roll,
        win_chance=draw.win_chance,
        won=draw.won,
        payout=payout,
        balance_after=account.balance - price + payout,
        pot_after=config.pot_seed if draw.won else pot_after_fee,
        next_price=config.price_for(0 if restarts_pricing else n + 1),
        idempotency_key=key or "",
    )

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
                destination=by_kind[Account.Kind.HOUSE],
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
    transfer(*legs, locked=locked)

    if draw.won:
        close_round(pot_round=pot_round, outcome=Round.Outcome.WON, winner=player, payout=payout)
        start_next_round(after=pot_round, config=config, locked=locked)
    return SendResult(message=message, ordinal=counters.messages_sent)


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
            Round.objects.get(outcome=Round.Outcome.OPEN).server_seed_hash
            if message.won
            else message.round.server_seed_hash
        ),
        history=recent_exchanges(player=message.player, before=message, limit=bot.history_turns),
    )
    try:
        reply = bot.reply(context)
    except Exception:
        logger.exception("The chatbot failed on message %s; using the built-in reply", message.pk)
        reply = BuiltinBot().reply(context)
    Message.objects.filter(pk=message.pk).update(reply=reply)
    message.reply = reply
