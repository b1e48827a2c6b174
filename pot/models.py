from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .fairness import as_percent


class GameConfig(models.Model):
    """The game's parameters: one row, read for every message (DESIGN section 3)."""

    class PricingWindow(models.TextChoices):
        ROUND = "round", "Messages in the current pot round"
        DAY = "day", "Messages today"
        LIFETIME = "lifetime", "Messages ever"

    signup_grant = models.PositiveIntegerField(
        default=100, help_text="Credits a new player receives from the house."
    )
    price_base = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text="Price of a player's first message in the window.",
    )
    price_step = models.PositiveIntegerField(
        default=5, help_text="Added to the price for each message already sent in the window."
    )
    pricing_window = models.CharField(
        max_length=10, choices=PricingWindow.choices, default=PricingWindow.ROUND
    )
    pot_share_percent = models.PositiveSmallIntegerField(
        default=100,
        validators=[MaxValueValidator(100)],
        help_text="Part of each price that goes to the pot; the rest is the house's rake.",
    )
    win_chance = models.DecimalField(
        max_digits=7,
        decimal_places=6,
        default=Decimal("0.100000"),
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(Decimal("1"))],
        help_text="Chance that one message wins the pot, in (0, 1].",
    )
    pot_seed = models.PositiveIntegerField(
        default=0, help_text="Credits the house puts into each new round."
    )
    daily_claim = models.PositiveIntegerField(
        default=50, help_text="Free credits a player can claim once per 24 hours (0: off)."
    )
    max_message_chars = models.PositiveIntegerField(
        default=500,
        validators=[MinValueValidator(1)],
        help_text="Longer messages are refused before any charge.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "game config"
        verbose_name_plural = "game config"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="pot_gameconfig_single_row"),
            models.CheckConstraint(
                condition=Q(price_base__gte=1), name="pot_gameconfig_price_base_min"
            ),
            models.CheckConstraint(
                condition=Q(pot_share_percent__lte=100), name="pot_gameconfig_share_max"
            ),
            models.CheckConstraint(
                condition=Q(win_chance__gt=0, win_chance__lte=1),
                name="pot_gameconfig_win_chance_range",
            ),
            models.CheckConstraint(
                condition=Q(max_message_chars__gte=1), name="pot_gameconfig_max_chars_min"
            ),
        ]

    def __str__(self) -> str:
        return "Game config"

    @classmethod
    def load(cls) -> "GameConfig":
        """The one row, which the first migration makes."""
        return cls.objects.get_or_create(pk=1)[0]

    @property
    def win_percent(self) -> str:
        return as_percent(self.win_chance)

    def price_for(self, messages_in_window: int) -> int:
        return self.price_base + self.price_step * messages_in_window

    def pot_share_of(self, price: int) -> int:
        """The pot's part of a price; the remainder is the house's rake."""
        return price * self.pot_share_percent // 100


class Round(models.Model):
    class Outcome(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        RESET = "reset", "Reset by an operator"

    number = models.PositiveIntegerField(unique=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OPEN)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rounds_won",
    )
    payout = models.BigIntegerField(default=0)
    # Published from the start; the seed itself is shown only once the round is closed.
    server_seed_hash = models.CharField(max_length=64)
    server_seed = models.CharField(max_length=64)
    message_count = models.PositiveIntegerField(
        default=0, help_text="Messages sent in the round, recorded when it closes."
    )
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reset_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-number"]
        permissions = [("reset_round", "Can reset the pot, refunding its contributors")]
        constraints = [
            models.UniqueConstraint(
                fields=["outcome"],
                condition=Q(outcome="open"),
                name="pot_round_one_open",
            ),
            models.CheckConstraint(
                condition=Q(outcome="open", closed_at__isnull=True)
                | (~Q(outcome="open") & Q(closed_at__isnull=False)),
                name="pot_round_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(outcome="won", winner__isnull=False)
                | (~Q(outcome="won") & Q(winner__isnull=True)),
                name="pot_round_winner_iff_won",
            ),
            models.CheckConstraint(
                condition=Q(payout__gte=0), name="pot_round_payout_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Round {self.number}"

    @property
    def is_open(self) -> bool:
        return self.outcome == self.Outcome.OPEN

    @property
    def revealed_seed(self) -> str | None:
        """The server seed, or None while the round is open and the seed is secret."""
        return None if self.is_open else self.server_seed
