"""What the keeper knows when it answers a message: the message, its outcome, what
happened since the player's previous one, the game's rules and the rounds around it."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from chat.models import Message
from chat.selectors import recent_exchanges
from game.models import GameConfig, as_percent
from pot.models import Round
from wallet.services import DAILY_CLAIM_INTERVAL

from .rules import asked, asked_message_number, normalized


@dataclass(frozen=True)
class MessageFacts:
    """One of the player's messages by its number, with its draw: for "verify my
    message 3"."""

    number: int
    round: int
    server_seed: str  # revealed once the round closed, "" while it is open
    server_seed_hash: str
    client_seed: str
    nonce: int
    roll: float
    won: bool
    win_chance: Decimal


@dataclass(frozen=True)
class BotContext:
    player_name: str
    text: str
    ordinal: int  # the player's message number, 1 for their first ever
    price: int
    next_price: int
    balance: int
    pot: int
    round_number: int  # the round the message was drawn in
    won: bool
    payout: int
    win_chance: Decimal
    price_base: int
    price_step: int
    pot_share_percent: int
    daily_claim: int
    server_seed_hash: str  # the open round's commitment, after the message
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (message, reply)
    roll: float = 0.0  # this message's draw
    price_to_pot: int = 0  # of the price, what went into the pot (the rest: the house's)
    asked_about: MessageFacts | None = None  # the message the text asks about by number
    # The player's previous message (None: this is their first) and whether it won.
    previous_round: int | None = None
    previous_won: bool = False
    previous_payout: int = 0
    claimed: int = 0  # credits the player claimed since their previous message
    # The round closed last before the open one: who won it and what (no one: reset).
    last_winner: str = ""
    last_payout: int = 0
    # The rest of the game's rules, as the operator set them.
    pricing_window: str = "round"  # GameConfig.PricingWindow: round, day or lifetime
    pot_seed: int = 0
    signup_grant: int = 100
    max_message_chars: int = 500
    time_zone: str = "UTC"  # the day window's midnight is this zone's
    # When the message was sent, and when the player's next daily claim opens (None: it
    # is open, or there is no daily claim).
    sent_at: datetime | None = None
    next_claim_at: datetime | None = None

    @property
    def open_round(self) -> int:
        """The round open after the message: the next one if the message won."""
        return self.round_number + 1 if self.won else self.round_number

    @property
    def counted_in_window(self) -> int | None:
        """The player's messages that count towards their next price, this one included
        (None where the price does not count them: a step of 0)."""
        if not self.price_step:
            return None
        return (self.next_price - self.price_base) // self.price_step

    @property
    def claim_open(self) -> bool:
        return bool(self.daily_claim) and self.next_claim_at is None

    @property
    def odds_percent(self) -> str:
        return as_percent(self.win_chance)

    @property
    def one_in(self) -> str:
        return f"{(1 / self.win_chance).quantize(Decimal(1)):,}" if self.win_chance else "∞"


def bot_contexts(
    messages: list[Message], ordinals: dict[int, int], *, history_turns: int
) -> dict[int, BotContext]:
    """What the keeper knows when it answers each message (read by
    keeper.selectors.messages_with_what_happened; each with its ordinal), by message key."""
    config = GameConfig.load()
    rounds = _rounds_around(messages)
    contexts = {}
    for message in messages:
        # Only a message that asks for them costs the reads: what the player said before,
        # or one of their messages by its number.
        intents = asked(message.body)
        turns = max(history_turns, RECALL_TURNS) if "recall" in intents else history_turns
        contexts[message.pk] = _context(
            message,
            ordinal=ordinals[message.pk],
            config=config,
            rounds=rounds,
            history=_history(message, turns),
            asked_about=_message_numbered(message, asked_message_number(normalized(message.body)))
            if "verify_message" in intents
            else None,
        )
    return contexts


# How many earlier messages the keeper looks back over when asked what the player said.
RECALL_TURNS = 10


def _context(
    message: Message,
    *,
    ordinal: int,
    config: GameConfig,
    rounds: dict[int, Round],
    history: list[tuple[str, str]],
    asked_about: MessageFacts | None,
) -> BotContext:
    open_number = message.round.number + (1 if message.won else 0)
    last_closed = rounds.get(open_number - 1)
    claimed = 0
    if (
        message.last_claim
        and message.last_claim_at < message.created_at
        and (message.previous_at is None or message.last_claim_at > message.previous_at)
    ):
        claimed = message.last_claim
    return BotContext(
        player_name=message.player.username,
        text=message.body,
        ordinal=ordinal,
        price=message.price,
        next_price=message.next_price,
        balance=message.balance_after,
        pot=message.pot_after if message.pot_after is not None else 0,
        round_number=message.round.number,
        won=message.won,
        payout=message.payout,
        win_chance=message.win_chance,
        price_base=config.price_base,
        price_step=config.price_step,
        pot_share_percent=config.pot_share_percent,
        daily_claim=config.daily_claim,
        server_seed_hash=rounds.get(open_number, message.round).server_seed_hash,
        history=history,
        roll=message.roll,
        price_to_pot=config.pot_share_of(message.price),
        asked_about=asked_about,
        previous_round=message.previous_round,
        previous_won=bool(message.previous_won),
        previous_payout=message.previous_payout or 0,
        claimed=claimed,
        last_winner=last_closed.winner.username if last_closed and last_closed.winner else "",
        last_payout=last_closed.payout if last_closed else 0,
        pricing_window=config.pricing_window,
        pot_seed=config.pot_seed,
        signup_grant=config.signup_grant,
        max_message_chars=config.max_message_chars,
        time_zone=timezone.get_default_timezone_name(),
        sent_at=message.created_at,
        next_claim_at=_next_claim_at(message, config),
    )


def _next_claim_at(message: Message, config: GameConfig) -> datetime | None:
    """When the player may claim again, seen from the message's moment; None if now."""
    if not config.daily_claim or message.last_claim_at is None:
        return None
    opens = message.last_claim_at + DAILY_CLAIM_INTERVAL
    return opens if opens > message.created_at else None


def _message_numbered(message: Message, number: int | None) -> MessageFacts | None:
    """The player's message `number` (their first is 1), up to this one."""
    if not number or number < 1:
        return None
    mine = Message.objects.filter(player_id=message.player_id, pk__lte=message.pk)
    found = mine.select_related("round").order_by("pk")[number - 1 : number].first()
    if found is None:
        return None
    closed = not found.round.is_open
    return MessageFacts(
        number=number,
        round=found.round.number,
        server_seed=found.round.server_seed if closed else "",
        server_seed_hash=found.round.server_seed_hash,
        client_seed=found.client_seed,
        nonce=found.nonce,
        roll=found.roll,
        won=found.won,
        win_chance=found.win_chance,
    )


def _history(message: Message, turns: int) -> list[tuple[str, str]]:
    return recent_exchanges(player=message.player, before=message, limit=turns)


def _rounds_around(messages: list[Message]) -> dict[int, Round]:
    """The rounds each message's keeper speaks of, by number: the one open after it (the
    next, if it won) and the one closed last before that."""
    numbers = set()
    for message in messages:
        open_number = message.round.number + (1 if message.won else 0)
        numbers.update({open_number, open_number - 1})
    rounds = {message.round.number: message.round for message in messages}
    # Rounds open when read need no more; a closed one is read again, with its winner.
    wanted = numbers - {0} - {number for number, known in rounds.items() if known.is_open}
    rounds.update(
        (found.number, found)
        for found in Round.objects.filter(number__in=wanted).select_related("winner")
    )
    return rounds
