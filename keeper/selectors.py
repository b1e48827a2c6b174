"""Reads of the keeper's replies and of what it answers."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chat.models import Message, Reply
from wallet.models import Transfer


def claimable(now: datetime) -> Q:
    """A reply nobody is writing: waiting, or claimed by a worker whose lease ran out."""
    return Q(status=Reply.Status.PENDING) | Q(status=Reply.Status.STREAMING, lease_until__lt=now)


def any_to_claim(*, now: datetime) -> bool:
    return Reply.objects.filter(claimable(now)).exists()


def replies_waiting() -> dict:
    """The workers' queue for an operator: replies not yet done, and how long the oldest
    has waited since its message (seconds; None with none waiting)."""
    unfinished = Reply.objects.filter(status__in=[Reply.Status.PENDING, Reply.Status.STREAMING])
    oldest = unfinished.order_by("message_id").values_list("message__created_at", flat=True)
    first = oldest.first()
    return {
        "count": unfinished.count(),
        "oldest_seconds": None
        if first is None
        else round((timezone.now() - first).total_seconds(), 1),
    }


def replies_to_claim(now: datetime, *, limit: int) -> QuerySet[Reply]:
    """The oldest claimable replies, locked for the claim's transaction; those another
    worker is claiming meanwhile are passed over, not waited for."""
    return (
        Reply.objects.filter(claimable(now))
        .order_by("message_id")
        .select_for_update(skip_locked=True)[:limit]
    )


def messages_with_what_happened(message_ids: Iterable[int]) -> QuerySet[Message]:
    """The messages, each with what the keeper should know happened before it: the
    player's previous message and their last daily claim (an index lookup each)."""
    previous = Message.objects.filter(player=OuterRef("player"), pk__lt=OuterRef("pk")).order_by(
        "-pk"
    )
    last_claim = Transfer.objects.filter(
        to_account__owner=OuterRef("player"), kind=Transfer.Kind.DAILY_CLAIM
    ).order_by("-pk")
    return (
        Message.objects.filter(pk__in=list(message_ids))
        .select_related("round", "player")
        .annotate(
            previous_round=Subquery(previous.values("round__number")[:1]),
            previous_won=Subquery(previous.values("won")[:1]),
            previous_payout=Subquery(previous.values("payout")[:1]),
            previous_at=Subquery(previous.values("created_at")[:1]),
            last_claim=Subquery(last_claim.values("amount")[:1]),
            last_claim_at=Subquery(last_claim.values("created_at")[:1]),
        )
        .order_by("pk")
    )
