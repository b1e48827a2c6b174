from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# The largest round number a lookup accepts (PositiveIntegerField's largest everywhere).
MAX_ROUND_NUMBER = 2**31 - 1


class SeedChain(models.Model):
    """A chain of round seeds (pot.fairness): its terminal hash is published when it is
    made, and the rounds from `first_round` on take its seeds in order, the first round
    the seed at position 1. A newer chain takes over from its own first round."""

    terminal_hash = models.CharField(max_length=64, unique=True)
    length = models.PositiveIntegerField(help_text="Seeds in the chain: one per round.")
    first_round = models.PositiveIntegerField(
        unique=True, help_text="The round that takes the chain's first seed."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["first_round"]

    def __str__(self) -> str:
        return f"Seed chain from round {self.first_round}"

    @property
    def last_round(self) -> int:
        """The last round this chain has a seed for."""
        return self.first_round + self.length - 1

    def position(self, round_number: int) -> int:
        return round_number - self.first_round + 1


class SeedCheckpoint(models.Model):
    """A secret: a chain's seed at one position, from which the seeds below it are derived.
    Never shown anywhere (no admin, no API); a seed is revealed only through its round."""

    chain = models.ForeignKey(SeedChain, on_delete=models.CASCADE, related_name="checkpoints")
    position = models.PositiveIntegerField()
    seed = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain", "position"], name="pot_seed_checkpoint_once")
        ]

    def __str__(self) -> str:
        return f"Checkpoint {self.position} of {self.chain}"  # never its seed


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
    # The chain its seed comes from; none for rounds before the first chain, or after a
    # chain ran out with no new one (their seeds are drawn at random when they open).
    chain = models.ForeignKey(
        SeedChain, null=True, blank=True, on_delete=models.PROTECT, related_name="rounds"
    )
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
    def chain_position(self) -> int | None:
        return self.chain.position(self.number) if self.chain_id else None

    @property
    def revealed_seed(self) -> str | None:
        """The server seed, or None while the round is open and the seed is secret."""
        return None if self.is_open else self.server_seed
