from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Message(models.Model):
    """A paid message and its draw (the receipt). The keeper's reply to it is its own
    record (keeper.models.Reply, `message.reply`)."""

    player = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages", db_index=False
    )
    round = models.ForeignKey("pot.Round", on_delete=models.PROTECT, related_name="messages")
    body = models.TextField()
    price = models.BigIntegerField()
    # The draw: anyone can recompute it once the round's server seed is revealed.
    client_seed = models.CharField(max_length=64)
    nonce = models.PositiveBigIntegerField()
    roll = models.FloatField()
    win_chance = models.DecimalField(max_digits=7, decimal_places=6)
    won = models.BooleanField(default=False)
    payout = models.BigIntegerField(default=0)
    # What the player saw right after sending; a replayed request returns exactly this.
    balance_after = models.BigIntegerField()
    pot_after = models.BigIntegerField(null=True, blank=True)
    next_price = models.BigIntegerField()
    idempotency_key = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="chat_message_price_positive"),
            models.CheckConstraint(
                condition=Q(won=True, payout__gte=0) | Q(won=False, payout=0),
                name="chat_message_payout_only_on_win",
            ),
            models.UniqueConstraint(
                fields=["player", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="chat_message_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["player", "round"], name="chat_message_player_round_idx"),
            models.Index(fields=["player", "created_at"], name="chat_message_player_time_idx"),
            models.Index(fields=["player", "-id"], name="chat_message_player_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} by {self.player_id}"
