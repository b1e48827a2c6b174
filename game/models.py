from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


def as_percent(win_chance: Decimal) -> str:
    """0.1 -> "10", 0.025 -> "2.5": a chance as a plain percentage."""
    return format((Decimal(win_chance) * 100).normalize(), "f")


class GameConfig(models.Model):
    """The game's parameters: one row, read for every message (docs/GAME.md), by every app
    that plays a part: the grants, the prices, the pot's share, the chance."""

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
        db_table = "pot_gameconfig"  # where it was made, in the pot app
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
