"""The keeper's reply, written after the charge by a worker (keeper.worker), never in the
request that sent the message (docs/LIVE.md).

A reply is claimed by one worker at a time: the claim counts an attempt and holds a
lease, which the worker renews while it writes; every write names the attempt, so a
worker that lost the reply (its lease ran out and another claimed it) writes nothing.
Whatever the model does, the reply ends `done` with one text: the model's, as far as it
got, or the built-in keeper's when the model gave nothing, or after `max_attempts` claims.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chat.models import Message
from chat.replies import Reply, Writer, clean_reply, replies, reply_finished
from chat.serializers import message_data

from .bots import BuiltinBot
from .conf import timings
from .context import BotContext, bot_contexts
from .selectors import messages_with_what_happened, replies_to_claim

logger = logging.getLogger(__name__)


@dataclass
class Claim:
    """A worker's hold on one reply."""

    message: Message  # with its reply as claimed (`message.reply.attempt` is the claim's)
    context: BotContext
    kept: str  # what an earlier attempt wrote: it stands
    lost: bool = field(default=False)  # another attempt has the reply, or it was stopped

    @property
    def message_id(self) -> int:
        return self.message.pk

    @property
    def attempt(self) -> int:
        return self.message.reply.attempt

    @property
    def writer(self) -> Writer:
        return Writer(self.message_id, self.message.player_id, self.attempt)

    @property
    def exhausted(self) -> bool:
        """Claimed too often: the built-in keeper answers instead of the model."""
        return self.attempt > timings().max_attempts


def replies_claim(*, limit: int, history_turns: int) -> list[Claim]:
    """Claim up to `limit` replies nobody is writing, the oldest first, each with what the
    keeper needs to write it. A reply another worker was writing (its lease ran out) comes
    with the text that worker wrote."""
    now = timezone.now()
    with transaction.atomic():
        found = list(replies_to_claim(now, limit=limit))
        if not found:
            return []
        Reply.objects.filter(pk__in=[reply.pk for reply in found]).update(
            status=Reply.Status.STREAMING,
            attempt=F("attempt") + 1,
            lease_until=now + timedelta(seconds=timings().lease),
        )
    kept = _taken_over(found)
    contexts, messages = _read_for(found, history_turns=history_turns)
    claims = []
    for reply in found:
        if reply.pk not in kept:
            continue  # a later attempt has it already
        reply.status, reply.attempt = Reply.Status.STREAMING, reply.attempt + 1
        message = messages[reply.pk]
        message.reply = reply
        claims.append(Claim(message=message, context=contexts[reply.pk], kept=kept[reply.pk]))
    return claims


def _taken_over(found: list[Reply]) -> dict[int, str]:
    """What each claimed reply's earlier attempts wrote (by message key), the fence of
    the new attempt raised first where another worker was writing it. Those whose fence
    a later attempt had raised already are left out."""
    live = replies()
    kept = {}
    for reply in found:
        if reply.status != Reply.Status.STREAMING:
            kept[reply.pk] = ""  # pending: nobody has written any of it
            continue
        so_far = live.taken_over(reply.pk, reply.attempt + 1)
        if so_far is not None:
            kept[reply.pk] = max(reply.text, so_far, key=len)
    return kept


def _read_for(found: list[Reply], *, history_turns: int):
    ordinals = {reply.pk: reply.ordinal for reply in found}
    messages = {message.pk: message for message in messages_with_what_happened(ordinals)}
    contexts = bot_contexts(list(messages.values()), ordinals, history_turns=history_turns)
    return contexts, messages


def replies_write_at_once(*, limit: int) -> list[tuple[int, dict]]:
    """The built-in keeper's replies to up to `limit` waiting messages, claimed, written
    and stored in one transaction: it needs no stream, so no lease. The messages as the
    API shows them, each with its player's key, to be published once committed. If the
    worker dies meanwhile, the rollback leaves the replies waiting."""
    bot = BuiltinBot()
    with transaction.atomic():
        found = list(replies_to_claim(timezone.now(), limit=limit))
        if not found:
            return []
        kept = _taken_over(found)
        found = [reply for reply in found if reply.pk in kept]
        contexts, messages = _read_for(found, history_turns=0)
        ended: dict[str, list[int]] = {}
        for reply in found:
            reply.text = clean_reply(kept[reply.pk] or bot.reply(contexts[reply.pk]))
            # What an earlier attempt wrote stands, cut short (keeper.worker).
            done = Reply.Status.INTERRUPTED if kept[reply.pk] else Reply.Status.DONE
            reply.status, reply.attempt, reply.lease_until = done, reply.attempt + 1, None
            ended.setdefault(done, []).append(reply.pk)
            messages[reply.pk].reply = reply
        # What the replies share goes in one UPDATE for each status; only the text, which
        # differs, goes by bulk_update: its CASE for each reply and field cost the worker
        # 0.52-0.60 ms of CPU a reply with four fields, 0.16-0.19 ms with the text alone
        # (32 replies at once; docs/PERFORMANCE.md, "The worker's lost fifth").
        for done, pks in ended.items():
            Reply.objects.filter(pk__in=pks).update(
                status=done, attempt=F("attempt") + 1, lease_until=None
            )
        Reply.objects.bulk_update(found, ["text"])
    for reply in found:
        reply_finished(messages[reply.pk], "builtin")
    return [(messages[reply.pk].player_id, message_data(messages[reply.pk])) for reply in found]


def _held(claim: Claim):
    return Reply.objects.filter(
        pk=claim.message_id, attempt=claim.attempt, status=Reply.Status.STREAMING
    )


def replies_renew(*, claims: list[Claim]) -> list[Claim]:
    """Renew the leases of the claims; those lost meanwhile (stopped by the player, or
    claimed by another worker) are returned, marked lost."""
    lease_until = timezone.now() + timedelta(seconds=timings().lease)
    lost = []
    with transaction.atomic():
        for claim in claims:
            if not _held(claim).update(lease_until=lease_until):
                claim.lost = True
                lost.append(claim)
    return lost


def reply_finish(*, claim: Claim, text: str, interrupted: bool = False) -> dict | None:
    """Store the reply, done (or cut short: `interrupted`): the message as the API shows
    it, or None if the reply is no longer the claim's to write."""
    text = clean_reply(text)
    status = Reply.Status.INTERRUPTED if interrupted else Reply.Status.DONE
    if not _held(claim).update(text=text, status=status, lease_until=None):
        claim.lost = True
        return None
    reply = claim.message.reply
    reply.text, reply.status, reply.lease_until = text, status, None
    return message_data(claim.message)


def reply_release(*, claim: Claim) -> None:
    """Hand an untouched reply back, for another worker (this one is stopping)."""
    _held(claim).update(status=Reply.Status.PENDING, lease_until=None)
