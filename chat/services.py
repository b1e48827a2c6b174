"""Sending a message: the game's one money path for players (docs/GAME.md)."""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from accounts.models import User
from common.errors import ChatPotError
from game.models import GameConfig
from operations import logs, metrics
from pot import fairness
from pot.models import Round
from pot.services import chained_seed, close, seed_pot
from wallet.errors import InsufficientFunds, PotMovedOn
from wallet.models import Account, Transfer
from wallet.services import Leg, check_funds, net_changes, records

from . import sql
from .errors import IdempotencyConflict, MessageInvalid, PlayerUnavailable, PotBusy
from .models import OPEN, Message
from .replies import clean_reply, replies, reply_finished
from .serializers import Reply, message_data

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
    # A line break is one character, however the browser sent it.
    text = (body or "").replace("\r\n", "\n").strip()
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
    """Charge for a message, draw, settle a win, and queue the keeper's reply, which a
    worker writes after the commit (keeper.worker): the send never waits on the keeper.

    Refusals (`MessageInvalid`, `InsufficientFunds`, `IdempotencyConflict`,
    `PlayerUnavailable`) change nothing. The same idempotency key from the same player
    returns the first result uncharged. Only `player.pk` is read: the player's row is
    read, and checked to be active, in the send's own transaction.
    """
    try:
        result = _send(player=player, body=body, idempotency_key=idempotency_key)
    except ChatPotError as refusal:
        metrics.send_refused(refusal.code)
        logger.info("Send refused: %s", refusal.code, extra=logs.game(player_id=player.pk))
        raise
    message = result.message
    if not result.replayed:
        metrics.message_sent(fee=message.price, won=message.won, payout=message.payout)
        logger.info(
            "Message sent: %s credits%s",
            message.price,
            f", won {message.payout}" if message.won else "",
            extra=logs.game(
                player_id=player.pk, message_id=message.pk, round=message.round.number
            ),
        )
    return result


def _send(*, player: User, body: str, idempotency_key: str | None) -> SendResult:
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
        Message.objects.select_related("round", "reply")
        .filter(player_id=player.pk, idempotency_key=key)
        .first()
    )
    if message is None:
        return None
    if message.body != text:
        raise IdempotencyConflict()
    return SendResult(message=message, replayed=True)


SETTLE_ATTEMPTS = 10


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
    rest (chat.sql.open_send). `player` needs only its key: the player is read here, and
    refused with `PlayerUnavailable` if they no longer exist or are no longer active."""
    row = sql.open_send(player.pk)
    if row is None:
        raise PlayerUnavailable()
    return _Opening(
        player=sql.opened(row, "player"),
        config=sql.opened(row, "config"),
        account=sql.opened(row, "account"),
        pot=sql.opened(row, "pot"),
        house=sql.opened(row, "house"),
        pot_round=sql.opened(row, "round"),
        nonce=row["nonce"],
        ordinal=row["ordinal"],
        n=row["n"],
        message_id=row["message_id"],
    )


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


@dataclass(frozen=True)
class Settlement:
    """What one message does to the money, decided without the database: its price, the
    house's rake of it, a win's payout (the whole pot, this price's share in it), and the
    price of the player's next message (a win starts a round's prices again)."""

    price: int
    rake: int
    payout: int
    next_price: int

    def legs(
        self, *, account: Account, pot: Account, house: Account, message: Message
    ) -> list[Leg]:
        """The transfers it takes: the fee to the pot, the rake from it to the house, and
        a win's payout from it to the player."""
        made = [(account, pot, self.price, Transfer.Kind.MESSAGE_FEE)]
        if self.rake:
            made.append((pot, house, self.rake, Transfer.Kind.RAKE))
        if self.payout:
            made.append((pot, account, self.payout, Transfer.Kind.POT_WIN))
        return [
            Leg(
                source=source,
                destination=destination,
                amount=amount,
                kind=kind,
                message=message,
                round=message.round,
            )
            for source, destination, amount, kind in made
        ]


def plan_settlement(
    *, config: GameConfig, n: int, won: bool, pot_balance: int | None = None
) -> Settlement:
    """The settlement of a message that is the player's `n`-th in the pricing window (0 for
    the first), drawn a win or not; a win needs the pot's balance before the message."""
    price = config.price_for(n)
    rake = price - config.pot_share_of(price)
    if won and pot_balance is None:
        raise ValueError("A win is paid from the pot: its balance is needed.")
    restarts_pricing = won and config.pricing_window == GameConfig.PricingWindow.ROUND
    return Settlement(
        price=price,
        rake=rake,
        payout=pot_balance + price - rake if won else 0,
        next_price=config.price_for(0 if restarts_pricing else n + 1),
    )


def _settle_in_round(opening: _Opening, *, text: str, key: str | None) -> SendResult:
    """Price, draw and store one message in the round the send opened: the money's part
    is `plan_settlement`'s; this takes the locks it needs and stores what it decides."""
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
    locked = {account.pk: account}
    pot, house = opening.pot, opening.house
    if draw.won:
        # The next round's seed, found before the pot is locked (pot.services.start_chain).
        next_seed = chained_seed(pot_round.number + 1)
        locked.update(sql.lock_house_and_pot())
        pot, house = locked[pot.pk], locked[house.pk]
        if pot.round_id != pot_round.pk:
            raise PotMovedOn()
    plan = plan_settlement(
        config=config, n=n, won=draw.won, pot_balance=pot.balance if draw.won else None
    )
    message = Message(
        id=opening.message_id,
        player=player,
        round=pot_round,
        body=text,
        price=plan.price,
        client_seed=draw.client_seed,
        nonce=draw.nonce,
        roll=draw.roll,
        win_chance=draw.win_chance,
        won=draw.won,
        payout=plan.payout,
        balance_after=account.balance - plan.price + plan.payout,
        # A win leaves the next round's seed in the pot; a loss, what the pot's update says.
        pot_after=config.pot_seed if draw.won else None,
        next_price=plan.next_price,
        idempotency_key=key or "",
    )
    legs = plan.legs(account=account, pot=pot, house=house, message=message)
    # The transfer of the legs (wallet.services.transfer's steps, in chat.sql's
    # statements): the funds checked, the balances moved, the pot's after the others,
    # then the records; the message is stored only if its round is still the pot's.
    net = net_changes(legs)
    check_funds(net, locked)
    reply = Reply(message=message, ordinal=opening.ordinal, request_id=logs.request_id() or "")
    pot_after = sql.settle(
        {pk: change for pk, change in net.items() if change and pk != pot.pk},
        pot_id=pot.pk,
        pot_change=net[pot.pk],
        pot_round_id=pot_round.pk,
        message=message,
        reply=reply,
        transfers=records(legs),
    )
    if pot_after is None:
        raise PotMovedOn()
    message.pot_after = pot_after
    message.reply = reply
    account.balance += net[account.pk]
    if draw.won:
        pot.balance += net[pot.pk]
        next_round = close(
            pot_round,
            outcome=Round.Outcome.WON,
            winner=player,
            payout=plan.payout,
            next_seed=next_seed,
        )
        sql.close_won_round(pot_round, next_round, pot_id=pot.pk)
        pot.round_id = next_round.pk
        seed_pot(next_round, config=config, locked=locked)
        return SendResult(message=message, ordinal=opening.ordinal, next_round=next_round)
    return SendResult(message=message, ordinal=opening.ordinal)


def reply_stop(*, message: Message) -> Message:
    """The player stops the reply being written: it keeps what was written so far, the
    charge stands. Stopping a finished reply changes nothing."""
    if message.reply.finished:
        return message
    live = replies()
    so_far = live.stop(message.pk)  # from here on, no piece is added
    with transaction.atomic():
        stopped = Reply.objects.filter(pk=message.pk, status__in=OPEN).update(
            status=Reply.Status.STOPPED, lease_until=None
        )
        if stopped:
            text = so_far
            if text is None:  # the reply's own text (no Redis), complete now
                text = Reply.objects.values_list("text", flat=True).get(pk=message.pk)
            Reply.objects.filter(pk=message.pk).update(text=clean_reply(text))
    message.reply.refresh_from_db(fields=["text", "status", "attempt", "lease_until"])
    if stopped:
        live.stopped(message.player_id, message_data(message))
        reply_finished(message, "stopped")
    return message
