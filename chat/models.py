from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Message(models.Model):
    """A paid message, its draw (the receipt) and the bot's reply."""

    class ReplyStatus(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        STREAMING = "streaming", "Being written"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped by the player"

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
    # The keeper's reply: written by a worker after the charge (chat.replies). While it is
    # being written, `reply` holds the text so far, saved every moment or so.
    reply = models.TextField(blank=True)
    reply_status = models.CharField(
        max_length=10, choices=ReplyStatus.choices, default=ReplyStatus.PENDING
    )
    # Each worker that takes the reply on counts one more; its writes name its number, so
    # a worker that lost the reply (its time ran out and another took over) writes nothing.
    reply_attempts = models.PositiveSmallIntegerField(default=0)
    # Until when the worker writing the reply holds it; after that another may take over.
    reply_lease_until = models.DateTimeField(null=True, blank=True)
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
            # The few replies still to be written, for the worker's recovery sweep.
            models.Index(
                fields=["reply_status", "id"],
                condition=Q(reply_status__in=["pending", "streaming"]),
                name="chat_message_reply_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} by {self.player_id}"


# A reply that is complete: written to the end, or stopped by its player.
FINISHED_REPLIES = frozenset({Message.ReplyStatus.DONE, Message.ReplyStatus.STOPPED})
