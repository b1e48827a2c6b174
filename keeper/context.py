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
    return {
        message.pk: _context(
            message,
            ordinal=ordinals[message.pk],
            config=config,
            rounds=rounds,
            history=_history(message, history_turns),
        )
        for message in messages
    }


def _context(
    message: Message,
    *,
    ordinal: int,
    config: GameConfig,
    rounds: dict[int, Round],
    history: list[tuple[str, str]],
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
