"""A reply being written: its text so far, its fence and its stop, and where its pieces go
(docs/LIVE.md).

With Redis (REDIS_URL), each piece is appended to the reply's text so far in one atomic
step that also checks the fence and the player's stop: a worker that takes over the reply
of one that died reads the text so far there, and so does a page that shows the reply.
Without Redis (the embedded default), the worker saves the text so far to the reply often.

Every write names the worker's attempt (chat.models.Reply). A worker that claims a
reply another was writing raises the reply's fence to its attempt first; from then on the
pieces and the end of any earlier attempt are refused, and that worker stops.

The pieces and the end go on to those who follow the reply through `followers`, where the
live app registers the real-time engines (live.replies): this app knows nothing of them.
"""

import enum
import logging
import weakref
from dataclasses import dataclass
from typing import Protocol

import redis
from asgiref.sync import sync_to_async
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from common.redis_clients import async_client, namespace, redis_url, sync_client
from operations import logs, metrics

from .models import Message, Reply

logger = logging.getLogger(__name__)

TEXT_KEPT_SECONDS = 3600  # the text so far, for late readers; the reply holds it after
STOP_KEPT_SECONDS = 600


class Passed(enum.IntEnum):
    """What became of a piece (or an end) a worker passed on."""

    ON = 0  # passed on to the followers
    STOPPED = 1  # passed on, and the player has asked to stop
    REFUSED = -1  # not passed on: another attempt has the reply


@dataclass(frozen=True)
class Writer:
    """Who writes a reply: its message, the message's player, and the attempt writing."""

    message_id: int
    player_id: int
    attempt: int


def piece_data(message_id: int, offset: int, text: str) -> dict:
    """A piece as the streams send it (`event: token`)."""
    return {"message": message_id, "offset": offset, "text": text}


class Follower(Protocol):
    """Where a reply's pieces and end go (live.replies registers the engines)."""

    async def piece(self, writer: "Writer", offset: int, text: str) -> None: ...

    async def finished(self, writer: "Writer", message: dict) -> None: ...

    async def written(self, written: list[tuple[int, dict]]) -> None: ...

    def stopped(self, player_id: int, message: dict) -> None: ...

    async def close(self) -> None: ...


class Followers:
    """The one registered Follower, or nobody (nothing is passed on)."""

    def __init__(self):
        self.follower: Follower | None = None

    def register(self, follower: Follower) -> None:
        self.follower = follower

    async def piece(self, writer: "Writer", offset: int, text: str) -> None:
        if self.follower is not None:
            await self.follower.piece(writer, offset, text)

    async def finished(self, writer: "Writer", message: dict) -> None:
        if self.follower is not None:
            await self.follower.finished(writer, message)

    async def written(self, written: list[tuple[int, dict]]) -> None:
        if self.follower is not None and written:
            await self.follower.written(written)

    def stopped(self, player_id: int, message: dict) -> None:
        if self.follower is not None:
            self.follower.stopped(player_id, message)

    async def close(self) -> None:
        """Let go of what this event loop held to pass pieces on (its connections)."""
        if self.follower is not None:
            await self.follower.close()


followers = Followers()


class RedisReplies:
    """The text so far in Redis, for late readers and for a worker that takes over the
    reply of one that died; the reply itself gets its text once it is done."""

    def __init__(self):
        self.prefix = f"{namespace()}:reply"

    def _keys(self, message_id: int) -> tuple[str, str, str]:
        base = f"{self.prefix}:{message_id}"
        return f"{base}:text", f"{base}:stop", f"{base}:fence"

    def taken_over(self, message_id: int, attempt: int) -> str | None:
        """Another worker was writing this reply: from now on only `attempt` (or a later
        one) may write to it. The text written so far, or None if a later attempt has
        taken the reply already."""
        text_key, _, fence_key = self._keys(message_id)
        taken, text = _script(sync_client(), TAKE_OVER)(
            keys=[fence_key, text_key], args=[attempt, TEXT_KEPT_SECONDS]
        )
        return (text or b"").decode() if taken else None

    async def piece(self, writer: Writer, offset: int, text: str) -> Passed:
        """Add a piece. One script, so one command and one answer: as a pipeline of four,
        the worker spent a quarter of its time here."""
        text_key, stop_key, fence_key = self._keys(writer.message_id)
        passed = Passed(
            await _script(async_client(), PIECE)(
                keys=[text_key, stop_key, fence_key],
                args=[text, TEXT_KEPT_SECONDS, writer.attempt],
            )
        )
        if passed is Passed.ON:
            await followers.piece(writer, offset, text)
        return passed

    async def finished(self, writer: Writer, message: dict) -> Passed:
        # The reply was stored under its attempt's fence (keeper.services.reply_finish): the
        # database's word is enough, and needs Redis no more.
        await followers.finished(writer, message)
        return Passed.ON

    async def all_at_once(self, written: list[tuple[int, dict]]) -> None:
        """Replies written whole (the built-in keeper's), each with its player's key."""
        await followers.written(written)

    def stop(self, message_id: int) -> str | None:
        """From the web process: the player stops the reply. No piece is added once this
        returns (its worker stops at its next one): the text so far, for good."""
        text_key, stop_key, _ = self._keys(message_id)
        with sync_client().pipeline(transaction=True) as step:
            step.set(stop_key, 1, ex=STOP_KEPT_SECONDS)
            step.get(text_key)
            _, text = step.execute()
        return None if text is None else text.decode()

    def stopped(self, player_id: int, message: dict) -> None:
        """Tell the stopped reply's followers its end."""
        followers.stopped(player_id, message)

    def text_so_far(self, message_id: int) -> str | None:
        """None where Redis has none (or is away: the reply's own text is then the latest
        known)."""
        text_key, _, _ = self._keys(message_id)
        try:
            text = sync_client().get(text_key)
        except redis.RedisError:
            logger.warning("Redis is away: reply %s shown as last saved", message_id)
            return None
        return None if text is None else text.decode()


# Raise the fence to the attempt unless a later one raised it already (then 0); the text
# so far, as the fence went up: no piece of an earlier attempt is added after it.
TAKE_OVER = """
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then return {0, false} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1, redis.call('GET', KEYS[2])}
"""
# Unless a later attempt has the reply, or the player asked to stop it: append the piece
# to the text so far (kept a while). Once stopped, the text so far is the reply's for good.
PIECE = """
local fence = tonumber(redis.call('GET', KEYS[3]) or '0')
if fence > tonumber(ARGV[3]) then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
redis.call('APPEND', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 0
"""
_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _script(client, source: str):
    """The script registered with this client (a thread's, or an event loop's)."""
    registered = _scripts.setdefault(client, {})
    if (script := registered.get(source)) is None:
        script = registered[source] = client.register_script(source)
    return script


class DatabaseReplies:
    """The text so far in the reply itself: each piece appended there, under the fence of
    its attempt (and refused once the player stopped the reply or another attempt has it),
    before it is passed on. For the embedded default, where there is no Redis."""

    def taken_over(self, message_id: int, attempt: int) -> str | None:
        return ""  # the reply's own text is the text so far

    async def piece(self, writer: Writer, offset: int, text: str) -> Passed:
        passed = await sync_to_async(_append)(writer, text)
        if passed is Passed.ON:
            await followers.piece(writer, offset, text)
        return passed

    async def finished(self, writer: Writer, message: dict) -> Passed:
        await followers.finished(writer, message)
        return Passed.ON  # the reply was stored under its attempt's fence already

    async def all_at_once(self, written: list[tuple[int, dict]]) -> None:
        await followers.written(written)

    def stop(self, message_id: int) -> str | None:
        return None  # the reply's own text: no piece is added once it is stopped

    def stopped(self, player_id: int, message: dict) -> None:
        followers.stopped(player_id, message)

    def text_so_far(self, message_id: int) -> str | None:
        return None  # the reply's own text is the latest there is


def _append(writer: Writer, text: str) -> Passed:
    held = Reply.objects.filter(
        pk=writer.message_id, attempt=writer.attempt, status=Reply.Status.STREAMING
    )
    if held.update(text=Concat(F("text"), Value(text))):
        return Passed.ON
    stopped = Reply.objects.filter(
        pk=writer.message_id, attempt=writer.attempt, status=Reply.Status.STOPPED
    ).exists()
    return Passed.STOPPED if stopped else Passed.REFUSED


def replies() -> RedisReplies | DatabaseReplies:
    return RedisReplies() if redis_url() else DatabaseReplies()


# What a reply's text may be.
MAX_REPLY_CHARS = 1000  # characters; longer is cut


def clean_piece(text: str) -> str:
    """Printable text only: a piece is shown as it comes, and escaped again when shown."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")


def clean_reply(text: str) -> str:
    """Plain, printable text of a sensible length; it is escaped again when shown."""
    text = clean_piece(text).strip()
    if len(text) > MAX_REPLY_CHARS:
        text = text[: MAX_REPLY_CHARS - 1].rstrip() + "…"
    return text


def reply_finished(message: Message, outcome: str) -> None:
    """A reply ended (`metrics.REPLIES`' outcomes): counted, timed from its send, and told
    in a line that says whose it was and the request that sent it."""
    seconds = (timezone.now() - message.created_at).total_seconds()
    metrics.REPLIES.labels(outcome).inc()
    if outcome != "failed":
        metrics.REPLY_DONE.observe(seconds)
    logger.info("Reply %s after %.3f s", outcome, seconds, extra=reply_about(message))


def reply_about(message: Message) -> dict:
    """What a line about the message's reply says it is about: its player, the message,
    the round, and the request that sent it (logs.game)."""
    return logs.game(
        player_id=message.player_id,
        message_id=message.pk,
        round=message.round.number,
        request_id=message.reply.request_id or None,
    )
