from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Message(models.Model):
    """A paid message and its draw (the receipt). The keeper's reply to it is its own
    record (Reply below, `message.reply`), written by the keeper (keeper.worker)."""

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


class Reply(models.Model):
    """The keeper's reply to a message, and the reply's place in the workers' queue: the
    one record of it (docs/LIVE.md), made with its message by the send; written by the
    keeper's workers (keeper.worker).

    The send inserts it, `pending`, with its message. A worker claims it (`streaming`):
    the claim counts an attempt and holds a lease, which the worker renews while it
    writes; every write the worker makes names its attempt, so a worker that lost the
    reply (its lease ran out and another claimed it) writes nothing. It ends `done`, or
    `stopped` by its player, with its text, or `interrupted`: its worker died part-way and
    the text it wrote stands, said to be cut short; while it is written, the text so far
    is here (without Redis) or in Redis (chat.replies).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        STREAMING = "streaming", "Being written"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped by the player"
        INTERRUPTED = "interrupted", "Cut short: its writer died part-way"

    message = models.OneToOneField(
        "chat.Message", on_delete=models.CASCADE, primary_key=True, related_name="reply"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # The player's message number, counting this one, as the send gave it: the keeper
    # speaks of it ("your 11th message").
    ordinal = models.PositiveIntegerField()
    # Claims so far; the claim that holds the reply is the last.
    attempt = models.PositiveSmallIntegerField(default=0)
    # Until when the claim holds, unless renewed; after that another worker may claim it.
    lease_until = models.DateTimeField(null=True, blank=True)
    text = models.TextField(blank=True)
    # The id of the request that sent the message (operations.logs): the worker's
    # lines about the reply carry it.
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        db_table = "keeper_reply"  # where it was made, in the keeper app
        verbose_name_plural = "replies"
        constraints = [
            models.CheckConstraint(
                condition=Q(status="streaming") | Q(lease_until__isnull=True),
                name="keeper_reply_lease_only_while_streaming",
            ),
        ]
        indexes = [
            # The queue: the few replies still to be written, oldest first.
            models.Index(
                fields=["status", "message"],
                condition=Q(status__in=["pending", "streaming"]),
                name="keeper_reply_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Reply to message {self.message_id}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


# The send notifies the workers on this channel as it commits a reply (PostgreSQL's NOTIFY).
REPLIES_CHANNEL = "keeper_replies"

OPEN = frozenset({Reply.Status.PENDING, Reply.Status.STREAMING})
# Complete: written to the end, stopped by its player, or cut short.
FINISHED = frozenset({Reply.Status.DONE, Reply.Status.STOPPED, Reply.Status.INTERRUPTED})
