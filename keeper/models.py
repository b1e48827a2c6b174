from django.db import models
from django.db.models import Q


class Reply(models.Model):
    """The keeper's reply to a message, and the reply's place in the workers' queue: the
    one record of it (DESIGN section 9).

    The send inserts it, `pending`, with its message. A worker claims it (`streaming`):
    the claim counts an attempt and holds a lease, which the worker renews while it
    writes; every write the worker makes names its attempt, so a worker that lost the
    reply (its lease ran out and another claimed it) writes nothing. It ends `done`, or
    `stopped` by its player, with its text, or `interrupted`: its worker died part-way and
    the text it wrote stands, said to be cut short; while it is written, the text so far
    is here (without Redis) or in Redis (keeper.streaming).
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
    # The id of the request that sent the message (chatpot_project.logs): the worker's
    # lines about the reply carry it.
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
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
