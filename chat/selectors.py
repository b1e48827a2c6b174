import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from common.paging import MAX_KEY
from game.models import GameConfig, as_percent
from pot.models import Round
from pot.selectors import open_round
from wallet.models import Account

from .models import Message
from .replies import replies


def start_of_today() -> datetime:
    """Midnight that began the game's day: days are the server's TIME_ZONE's."""
    zone = timezone.get_default_timezone()
    return _midnight(timezone.now().astimezone(zone).date(), zone)


@functools.lru_cache(maxsize=4)
def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def messages_in_window(*, player: User, config: GameConfig, pot_round: Round) -> int:
    """The n of docs/GAME.md's price: the player's messages that count towards their next
    price, in the config's pricing window. (The send counts them in its own statement,
    chat.sql.open_send, the same way.)"""
    messages = Message.objects.filter(player=player)
    if config.pricing_window == GameConfig.PricingWindow.ROUND:
        messages = messages.filter(round=pot_round)
    elif config.pricing_window == GameConfig.PricingWindow.DAY:
        messages = messages.filter(created_at__gte=start_of_today())
    return messages.count()


@dataclass(frozen=True)
class Quote:
    """What the player's next message costs and could win, before they send it."""

    price: int
    balance: int
    pot: int
    round_number: int
    win_chance: Decimal
    max_message_chars: int

    @property
    def affordable(self) -> bool:
        return self.balance >= self.price

    @property
    def win_percent(self) -> str:
        return as_percent(self.win_chance)


def price_quote(*, player: User) -> Quote:
    config = GameConfig.load()
    pot_round = open_round()
    balances = dict(
        Account.objects.filter(Q(owner=player) | Q(kind=Account.Kind.POT)).values_list(
            "kind", "balance"
        )
    )
    n = messages_in_window(player=player, config=config, pot_round=pot_round)
    return Quote(
        price=config.price_for(n),
        balance=balances[Account.Kind.PLAYER],
        pot=balances[Account.Kind.POT],
        round_number=pot_round.number,
        win_chance=config.win_chance,
        max_message_chars=config.max_message_chars,
    )


def conversation(*, player: User) -> QuerySet[Message]:
    """The player's messages, newest first, each with its reply."""
    return Message.objects.filter(player=player).select_related("round", "reply").order_by("-id")


def player_message(*, player: User | int, message_id: int) -> Message | None:
    """One of the player's messages, or None: another player's, or none at all (a key
    beyond what the table holds included)."""
    if not 0 < message_id <= MAX_KEY:
        return None
    return conversation(player=player).select_related("player").filter(pk=message_id).first()


@dataclass(frozen=True)
class ConversationPage:
    messages: list[Message]  # oldest first, as a chat reads
    older_than: int | None  # where "load older" continues, if there is more


def conversation_page(
    *, player: User, before: int | None = None, size: int = 30
) -> ConversationPage:
    messages = conversation(player=player)
    if before is not None:
        messages = messages.filter(pk__lt=before)
    batch = list(messages[: size + 1])
    shown = batch[:size]
    return ConversationPage(
        messages=shown[::-1],
        older_than=shown[-1].pk if len(batch) > size else None,
    )


def recent_exchanges(*, player: User, before: Message, limit: int) -> list[tuple[str, str]]:
    """The player's last few (message, reply) pairs before `before`, oldest first."""
    if limit <= 0:
        return []
    pairs = conversation(player=player).filter(pk__lt=before.pk).values_list("body", "reply__text")
    return list(pairs[:limit])[::-1]


def text_so_far(message: Message) -> str:
    """The text of the message's reply as far as it is written: in Redis while it is
    written, or in the reply itself (without Redis, or once it is done)."""
    if message.reply.finished:
        return message.reply.text
    return max(message.reply.text, replies().text_so_far(message.pk) or "", key=len)


def with_text_so_far(messages: Iterable[Message]) -> None:
    """Each reply being written among the messages' gets `so_far`: its text so far, for a
    page that shows it and follows it from there."""
    for message in messages:
        if not message.reply.finished:
            message.reply.so_far = text_so_far(message)
