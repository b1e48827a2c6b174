from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Account(models.Model):
    class Kind(models.TextChoices):
        PLAYER = "player", "Player"
        HOUSE = "house", "House"
        POT = "pot", "Pot"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PLAYER)
    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account",
    )
    # Whole credits. The house's negative balance is the total it has ever issued.
    balance = models.BigIntegerField(default=0)
    round = models.ForeignKey(
        "pot.Round",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For the pot: the open round its credits belong to.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(kind="house"),
                name="wallet_account_only_house_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind="player", owner__isnull=False)
                | Q(kind__in=["house", "pot"], owner__isnull=True),
                name="wallet_account_players_have_owners",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind__in=["house", "pot"]),
                name="wallet_account_one_house_one_pot",
            ),
            models.CheckConstraint(
                condition=Q(kind="pot") | Q(round__isnull=True),
                name="wallet_account_round_only_for_the_pot",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.PLAYER:
            return f"{self.owner} ({self.balance})"
        return f"{self.get_kind_display()} ({self.balance})"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Transfers are append-only: they are never updated.")

    def delete(self):
        raise TypeError("Transfers are append-only: they are never deleted.")


class Transfer(models.Model):
    class Kind(models.TextChoices):
        SIGNUP_GRANT = "signup_grant", "Signup grant"
        DAILY_CLAIM = "daily_claim", "Daily claim"
        ADMIN_GRANT = "admin_grant", "Grant from an operator"
        MESSAGE_FEE = "message_fee", "Message fee"
        RAKE = "rake", "House rake"
        POT_SEED = "pot_seed", "Pot seed"
        POT_WIN = "pot_win", "Pot win"
        POT_REFUND = "pot_refund", "Pot refund"

    from_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="transfers_out", db_index=False
    )
    to_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="transfers_in", db_index=False
    )
    amount = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.ForeignKey(
        "chat.Message",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
    )
    round = models.ForeignKey(
        "pot.Round",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfers",
        db_index=False,  # indexed below, with the transfer's key
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # indexed below, where set: most transfers have no operator
        help_text="The operator who made this transfer, if one did.",
    )
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        permissions = [("grant_credits", "Can grant credits from the house to players")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="wallet_transfer_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(from_account=models.F("to_account")),
                name="wallet_transfer_between_two_accounts",
            ),
        ]
        indexes = [
            # A round's transfers in the order they were made: the order its messages
            # settled in (the pot's lock orders them), read page by page for its
            # transcript (pot.transcripts). It replaces the foreign key's own index.
            models.Index(fields=["round", "id"], name="wallet_transfer_round_idx"),
            # A player's history, newest first, from either side of the transfer.
            models.Index(fields=["from_account", "-id"], name="wallet_transfer_from_idx"),
            models.Index(fields=["to_account", "-id"], name="wallet_transfer_to_idx"),
            # The last daily claim of a player, found without walking their whole history.
            models.Index(
                fields=["to_account", "-id"],
                condition=Q(kind="daily_claim"),
                name="wallet_transfer_claims_idx",
            ),
            # An operator's grants and refunds. Only those few rows name one: every other
            # transfer is spared an entry.
            models.Index(
                fields=["actor"],
                condition=Q(actor__isnull=False),
                name="wallet_transfer_actor_idx",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()}: {self.amount} "
            f"from #{self.from_account_id} to #{self.to_account_id}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Transfers are append-only: they are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Transfers are append-only: they are never deleted.")


class LedgerAudit(models.Model):
    """One run of the ledger's audit (wallet.audit), asked for by the schedule or by an
    operator's action on money or fairness, and run by a worker (wallet.auditing)."""

    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=200, help_text="Why it ran: the schedule, or what.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    clean = models.BooleanField(null=True, help_text="Unknown until it has run.")
    summary = models.TextField(blank=True)
    breaches = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            # The audits asked for and not yet run: the workers' only look at the table.
            models.Index(
                fields=["id"], condition=Q(started_at=None), name="wallet_audit_waiting_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Ledger audit #{self.pk} ({self.reason})"
