from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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
