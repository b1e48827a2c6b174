"""Writing the keeper's reply, after the charge: run by a worker as a background task
(chat.tasks), never in the request that sent the message (DESIGN section 8).

A reply is taken on by one worker at a time: taking it counts an attempt, and every later
write names that attempt, so a worker that lost the reply writes nothing. The worker holds
it until CHATBOT_TIMEOUT (plus a margin) has passed; a reply whose worker died is taken
over after that by the worker's recovery sweep (`recover_replies`). Whatever the model
does, the message ends `done` with one reply: the model's text, as far as it got, or the
built-in keeper's when the model gave nothing.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from pot.models import GameConfig, Round
from wallet.models import Transfer

from . import sql
from .bots import MAX_REPLY_CHARS, BotContext, BotUnavailable, BuiltinBot, clean_reply, get_bot
from .live import replies
from .models import FINISHED_REPLIES, Message
from .selectors import recent_exchanges
from .serializers import message_data

logger = logging.getLogger(__name__)

# Beyond CHATBOT_TIMEOUT, before another worker may take a reply over: a live worker has
# ended its stream by then and needs only to store the reply.
LEASE_MARGIN = timedelta(seconds=5)
PENDING_GRACE = timedelta(seconds=60)  # a reply waiting this long is enqueued again
OPEN = [Message.ReplyStatus.PENDING, Message.ReplyStatus.STREAMING]


@dataclass(frozen=True)
class Claim:
    message: Message
    attempt: int
    context: BotContext
    kept: str  # the text a worker that died had written


def _takeable(now) -> Q:
    """A reply nobody is writing: waiting, or held by a worker whose time is up."""
    return Q(reply_status=Message.ReplyStatus.PENDING) | Q(
        reply_status=Message.ReplyStatus.STREAMING, reply_lease_until__lt=now
    )


def _with_what_happened(messages: QuerySet[Message]) -> QuerySet[Message]:
    """The messages, each with what the keeper should know happened before it: the
    player's previous message and their last daily claim (an index lookup each)."""
    previous = Message.objects.filter(player=OuterRef("player"), pk__lt=OuterRef("pk")).order_by(
        "-pk"
    )
    last_claim = Transfer.objects.filter(
        to_account__owner=OuterRef("player"), kind=Transfer.Kind.DAILY_CLAIM
    ).order_by("-pk")
    return messages.select_related("round", "player").annotate(
        previous_round=Subquery(previous.values("round__number")[:1]),
        previous_won=Subquery(previous.values("won")[:1]),
        previous_payout=Subquery(previous.values("payout")[:1]),
        previous_at=Subquery(previous.values("created_at")[:1]),
        last_claim=Subquery(last_claim.values("amount")[:1]),
        last_claim_at=Subquery(last_claim.values("created_at")[:1]),
    )


def _read(message_id: int) -> Message | None:
    now = timezone.now()
    return _with_what_happened(Message.objects.filter(_takeable(now), pk=message_id)).first()


def bot_contexts(
    messages: list[Message], ordinals: dict[int, int], *, history_turns: int
) -> dict[int, BotContext]:
    """What the keeper knows when it answers each message (read by `_with_what_happened`):
    the message, its outcome, what happened since the player's previous one, the game's
    rules and the rounds around it. By message key."""
    config = GameConfig.load()
    rounds = _rounds_around(messages)
    contexts = {}
    for message in messages:
        open_number = message.round.number + (1 if message.won else 0)
        last_closed = rounds.get(open_number - 1)
        claimed = 0
        if (
            message.last_claim
            and message.last_claim_at < message.created_at
            and (message.previous_at is None or message.last_claim_at > message.previous_at)
        ):
            claimed = message.last_claim
        contexts[message.pk] = BotContext(
            player_name=message.player.username,
            text=message.body,
            ordinal=ordinals[message.pk],
            price=message.price,
            next_price=message.next_price,
            balance=message.balance_after,
            pot=message.pot_after if message.pot_after is not None else 0,
            round_number=message.round.number,
            won=message.won,
            payout=message.payout,
            win_chance=message.win_chance,
            price_base=config.price_base,
            price_step=config.price_step,
            pot_share_percent=config.pot_share_percent,
            daily_claim=config.daily_claim,
            server_seed_hash=rounds.get(open_number, message.round).server_seed_hash,
            history=recent_exchanges(player=message.player, before=message, limit=history_turns),
            roll=message.roll,
            previous_round=message.previous_round,
            previous_won=bool(message.previous_won),
            previous_payout=message.previous_payout or 0,
            claimed=claimed,
            last_winner=last_closed.winner.username if last_closed and last_closed.winner else "",
            last_payout=last_closed.payout if last_closed else 0,
        )
    return contexts


def _rounds_around(messages: list[Message]) -> dict[int, Round]:
    """The rounds each message's keeper speaks of, by number: the one open after it (the
    next, if it won) and the one closed last before that."""
    numbers = set()
    for message in messages:
        open_number = message.round.number + (1 if message.won else 0)
        numbers.update({open_number, open_number - 1})
    rounds = {message.round.number: message.round for message in messages}
    # Rounds open when read need no more; a closed one is read again, with its winner.
    wanted = numbers - {0} - {number for number, known in rounds.items() if known.is_open}
    rounds.update(
        (found.number, found)
        for found in Round.objects.filter(number__in=wanted).select_related("winner")
    )
    return rounds


def _take(message: Message, **changes) -> int:
    """Take the reply on, as read: nobody else may have taken it meanwhile."""
    return Message.objects.filter(
        pk=message.pk,
        reply_attempts=message.reply_attempts,
        reply_status=message.reply_status,
    ).update(reply_attempts=F("reply_attempts") + 1, **changes)


def replies_at_once(ordinals: dict[int, int]) -> list[dict]:
    """The built-in keeper's replies to many messages (by key, with each one's ordinal),
    written and stored together: it needs no stream. The messages as the API shows them,
    for those whose reply was there to write (none another worker holds or has written).

    Measured at 32 connections with the worker beside the web processes: one task at a
    time, 290 messages/s (500 without replies); read together but stored with the ORM's
    bulk_update, 360, the update's expressions a third of the worker's time; stored by one
    statement (chat.sql.store_replies), the figures in docs/PERFORMANCE.md."""
    messages = list(
        _with_what_happened(
            Message.objects.filter(_takeable(timezone.now()), pk__in=ordinals)
        ).order_by("pk")
    )
    contexts = bot_contexts(messages, ordinals, history_turns=0)
    bot = BuiltinBot()
    for message in messages:
        message.reply = clean_reply(bot.reply(contexts[message.pk]))
    if not messages:
        return []
    written = _store_replies(messages)
    return [message_data(message) for message in messages if message.pk in written]


def _store_replies(messages: list[Message]) -> set[int]:
    """Store the replies, done, each only if nobody took it since it was read; the keys of
    those stored (chat.sql.store_replies)."""
    stored = sql.store_replies(messages)
    for message in messages:
        if message.pk in stored:
            message.reply_status = Message.ReplyStatus.DONE
            message.reply_attempts += 1
    return stored


def claim_reply(message_id: int, ordinal: int, history_turns: int) -> Claim | None:
    message = _read(message_id)
    if message is None:
        return None
    lease = timezone.now() + timedelta(seconds=settings.CHATBOT_TIMEOUT) + LEASE_MARGIN
    kept = ""
    if message.reply_status == Message.ReplyStatus.STREAMING:  # a worker died writing it
        kept = max(message.reply, replies().text_so_far(message.pk) or "", key=len)
    context = bot_contexts([message], {message.pk: ordinal}, history_turns=history_turns)[
        message.pk
    ]
    if not _take(message, reply_status=Message.ReplyStatus.STREAMING, reply_lease_until=lease):
        return None
    return Claim(message=message, attempt=message.reply_attempts + 1, context=context, kept=kept)


def _held(claim: Claim):
    return Message.objects.filter(
        pk=claim.message.pk,
        reply_attempts=claim.attempt,
        reply_status=Message.ReplyStatus.STREAMING,
    )


def save_progress(claim: Claim, text: str) -> bool:
    """Save the text so far; False if the reply is no longer this worker's to write (the
    player stopped it, or another worker took it over)."""
    return bool(_held(claim).update(reply=text))


def finish(claim: Claim, text: str) -> dict | None:
    text = clean_reply(text)
    if not _held(claim).update(
        reply=text, reply_status=Message.ReplyStatus.DONE, reply_lease_until=None
    ):
        return None
    message = claim.message
    message.reply, message.reply_status = text, Message.ReplyStatus.DONE
    return message_data(message)


def release(claim: Claim) -> None:
    """Hand an untouched reply back, for another worker (this one is stopping)."""
    _held(claim).update(reply_status=Message.ReplyStatus.PENDING, reply_lease_until=None)


async def generate_reply(message_id: int, ordinal: int) -> None:
    """Write the reply to one message, streaming its pieces to whoever follows it."""
    bot, live = get_bot(), replies()
    if bot.instant:
        await live.all_at_once(await sync_to_async(replies_at_once)({message_id: ordinal}))
        return
    claim = await sync_to_async(claim_reply)(message_id, ordinal, bot.history_turns)
    if claim is None:
        return
    written = _Written(claim.kept)  # a worker that died left this much: it stands
    if not written.text:
        try:
            await _stream(bot, claim, live, written)
        except _Lost:
            return
        except asyncio.CancelledError:  # the worker is stopping: keep what there is
            if written.text:
                await _finish(claim, written.text, live)
            else:
                await sync_to_async(release)(claim)
            raise
    if not written.text.strip():
        written.text = BuiltinBot().reply(claim.context)
        await live.piece(message_id, 0, written.text)
    await _finish(claim, written.text, live)


async def _finish(claim: Claim, text: str, live) -> None:
    if (message := await sync_to_async(finish)(claim, text)) is not None:
        await live.finished(claim.message.pk, message)


@dataclass
class _Written:
    text: str


class _Lost(Exception):
    """The reply is no longer this worker's to write."""


# The model's pieces go on to the followers together, at most this often (the first at
# once): a model writes a word at a time, and each piece passed on costs the worker, Redis,
# the stream process and every follower; ten a second still read as writing.
PASS_ON_SECONDS = 0.1


class _Passing:
    """What of the reply has gone on to its followers, and when; what is written waits at
    most PASS_ON_SECONDS for the next passing. `stopped` once the player stopped the reply;
    `failed` with what went wrong on the way (Redis down)."""

    def __init__(self, live, message_id: int, written: _Written):
        self.live, self.message_id, self.written = live, message_id, written
        self.passed, self.at = 0, 0.0
        self.lock = asyncio.Lock()
        self.later: asyncio.Task | None = None
        self.stopped = False
        self.failed: Exception | None = None

    async def wrote(self) -> None:
        """More text: it goes on now if the last passing is old enough, else soon."""
        if time.monotonic() - self.at >= PASS_ON_SECONDS:
            await self.pass_on()
        elif self.later is None or self.later.done():
            self.later = asyncio.ensure_future(self._pass_on_later())

    async def _pass_on_later(self) -> None:
        await asyncio.sleep(max(0.0, self.at + PASS_ON_SECONDS - time.monotonic()))
        try:
            await self.pass_on()
        except Exception as error:  # the writing loop raises it
            self.failed = error

    async def pass_on(self) -> None:
        async with self.lock:  # one passing at a time, in order
            text = self.written.text
            if len(text) > self.passed and not self.stopped:
                stop = await self.live.piece(self.message_id, self.passed, text[self.passed :])
                self.passed, self.at = len(text), time.monotonic()
                self.stopped = self.stopped or stop

    async def flush(self) -> None:
        """Everything written goes on."""
        if self.later is not None and not self.later.done():
            self.later.cancel()
            await asyncio.gather(self.later, return_exceptions=True)
        await self.pass_on()


async def _stream(bot, claim: Claim, live, written: _Written) -> None:
    """The model's reply as far as it gets within CHATBOT_TIMEOUT, added to `written` and
    passed on as it comes. Raises _Lost if the reply was stopped or taken over."""
    message_id = claim.message.pk
    passing = _Passing(live, message_id, written)
    saved_at = time.monotonic()
    try:
        async with asyncio.timeout(settings.CHATBOT_TIMEOUT):
            async for piece in bot.stream(claim.context):
                piece = piece[: MAX_REPLY_CHARS - len(written.text)]
                if not piece:
                    break  # long enough: the rest is not shown
                written.text += piece
                await passing.wrote()
                if passing.failed:
                    raise passing.failed
                if passing.stopped:
                    raise _Lost()  # the player stopped it; the stop kept the text
                if time.monotonic() - saved_at >= live.save_every:
                    if not await sync_to_async(save_progress)(claim, written.text):
                        raise _Lost()
                    saved_at = time.monotonic()
    except TimeoutError:
        logger.warning("The model's reply to message %s ran past CHATBOT_TIMEOUT", message_id)
    except BotUnavailable as problem:
        logger.warning("The model failed on message %s: %s", message_id, problem)
    await passing.flush()
    if passing.stopped:
        raise _Lost()


def recover_replies(*, limit: int = 500) -> list[int]:
    """The replies to enqueue again: waiting too long (their task was lost), or held by a
    worker whose time ran out (it died). Taking them over is safe: the attempt decides."""
    now = timezone.now()
    stuck = Message.objects.filter(
        Q(reply_status=Message.ReplyStatus.STREAMING, reply_lease_until__lt=now)
        | Q(reply_status=Message.ReplyStatus.PENDING, created_at__lt=now - PENDING_GRACE)
    ).order_by("pk")
    return list(stuck.values_list("pk", flat=True)[:limit])


def stop_reply(*, message: Message) -> Message:
    """The player stops the reply being written: it keeps what was written so far, the
    charge stands. Stopping a finished reply changes nothing."""
    if message.reply_status in FINISHED_REPLIES:
        return message
    live = replies()
    text = live.text_so_far(message.pk)
    if text is None:
        text = Message.objects.values_list("reply", flat=True).get(pk=message.pk)
    text = clean_reply(text)
    stopped = Message.objects.filter(pk=message.pk, reply_status__in=OPEN).update(
        reply=text, reply_status=Message.ReplyStatus.STOPPED, reply_lease_until=None
    )
    message.refresh_from_db(fields=["reply", "reply_status", "reply_lease_until"])
    if stopped:
        live.stopped(message.pk, message_data(message))
    return message
