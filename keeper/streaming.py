"""How a reply's pieces travel from the worker that writes them to the streams that show
them (DESIGN sections 8 and 9).

With Redis (REDIS_URL), each piece is appended to the reply's text so far and published
on the reply's channel, in one atomic step: any stream process on any host relays it at
once, and one that joins late reads the text so far first. Without Redis (the embedded
default), the worker saves the text so far to the reply often and the streams read it
from there: no service beyond the database.

Every write names the worker's attempt (keeper.models.Reply). A worker that claims a
reply another was writing raises the reply's fence to its attempt first; from then on the
pieces and the end of any earlier attempt are refused, and that worker stops.
"""

import asyncio
import contextvars
import enum
import json
import logging
import weakref
from dataclasses import dataclass

import redis
from django.db.models import Q

from chatpot_project import engine
from chatpot_project.redis_clients import async_client, namespace, redis_url, sync_client
from chatpot_project.streams import event, stream_database

from .models import OPEN, Reply

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


@dataclass(frozen=True)
class Piece:
    offset: int  # where the piece starts in the reply, in characters
    text: str
    message_id: int = 0


@dataclass(frozen=True)
class Finished:
    message: dict  # the message as the API shows it


def piece_data(message_id: int, offset: int, text: str) -> dict:
    """A piece as the streams send it (`event: token`)."""
    return {"message": message_id, "offset": offset, "text": text}


async def _to_engine(path: str, name: str, data, *, tries: int = 1) -> None:
    """Publish to the real-time engine, where there is one. A piece that does not get
    there is not tried again (the next one, or the end, carries on); an end is."""
    if not engine.enabled():
        return
    for attempt in range(1, tries + 1):
        try:
            await engine.publish(path, event(name, data))
            return
        except engine.PublishFailed:
            if attempt == tries:
                logger.exception("The real-time engine did not take %s on %s", name, path)
            else:
                await asyncio.sleep(0.2 * attempt)


class RedisReplies:
    """Pieces through Redis: published as they come, and kept there as the text so far,
    for late readers and for a worker that takes over the reply of one that died; the
    reply itself gets its text once it is done. Each piece and end goes on, once Redis
    took it, to the real-time engine where there is one."""

    save_every = float("inf")  # the text so far is in Redis

    def __init__(self):
        self.prefix = f"{namespace()}:reply"

    def _keys(self, message_id: int) -> tuple[str, str, str, str]:
        base = f"{self.prefix}:{message_id}"
        return base, f"{base}:text", f"{base}:stop", f"{base}:fence"

    def player_channel(self, player_id: int) -> str:
        return f"{namespace()}:player:{player_id}"

    def taken_over(self, message_id: int, attempt: int) -> str | None:
        """Another worker was writing this reply: from now on only `attempt` (or a later
        one) may write to it. The text written so far, or None if a later attempt has
        taken the reply already."""
        _, text_key, _, fence_key = self._keys(message_id)
        taken, text = _script(sync_client(), TAKE_OVER)(
            keys=[fence_key, text_key], args=[attempt, TEXT_KEPT_SECONDS]
        )
        return (text or b"").decode() if taken else None

    async def piece(self, writer: Writer, offset: int, text: str) -> Passed:
        """Add a piece. One script, so one command and one answer: as a pipeline of four,
        the worker spent a quarter of its time here."""
        channel, text_key, stop_key, fence_key = self._keys(writer.message_id)
        data = piece_data(writer.message_id, offset, text)
        passed = Passed(
            await _script(async_client(), PIECE)(
                keys=[text_key, stop_key, fence_key],
                args=[
                    text,
                    TEXT_KEPT_SECONDS,
                    channel,
                    self.player_channel(writer.player_id),
                    json.dumps(data),
                    writer.attempt,
                ],
            )
        )
        if passed is not Passed.REFUSED:
            await _to_engine(_path(writer), "token", data)
        return passed

    async def finished(self, writer: Writer, message: dict) -> Passed:
        channel, _, _, fence_key = self._keys(writer.message_id)
        passed = Passed(
            await _script(async_client(), FINISH)(
                keys=[fence_key],
                args=[
                    channel,
                    self.player_channel(writer.player_id),
                    json.dumps({"done": message}),
                    writer.attempt,
                ],
            )
        )
        if passed is Passed.ON:
            await _to_engine(_path(writer), "done", message, tries=3)
        return passed

    async def all_at_once(self, written: list[tuple[int, dict]]) -> None:
        """Replies written whole (the built-in keeper's), each with its player's key: each
        comes as its end alone, which carries the reply."""
        if not written:
            return
        async with async_client().pipeline(transaction=False) as step:
            for player_id, message in written:
                channel, *_ = self._keys(message["id"])
                done = json.dumps({"done": message})
                step.publish(channel, done)
                step.publish(self.player_channel(player_id), done)
            await step.execute()
        await _all_to_engine(written)

    def stopped(self, player_id: int, message: dict) -> None:
        """From the web process: the player stopped the reply; tell its worker and streams."""
        channel, _, stop_key, _ = self._keys(message["id"])
        done = json.dumps({"done": message})
        with sync_client().pipeline(transaction=True) as step:
            step.set(stop_key, 1, ex=STOP_KEPT_SECONDS)
            step.publish(channel, done)
            step.publish(self.player_channel(player_id), done)
            step.execute()
        _stopped_to_engine(player_id, message)

    def text_so_far(self, message_id: int) -> str | None:
        _, text_key, _, _ = self._keys(message_id)
        text = sync_client().get(text_key)
        return None if text is None else text.decode()

    async def follow(self, message_id: int) -> "RedisFollower":
        """Follow the reply: what is published from now on is kept for `next_event`, until
        `close()`."""
        channel, text_key, _, _ = self._keys(message_id)
        arrivals = await subscriptions().add(channel)
        return RedisFollower(channel, arrivals, text_key)

    async def follow_player(self, player_id: int) -> "RedisFollower":
        """Follow every reply of one player (a page's stream): pieces and ends."""
        channel = self.player_channel(player_id)
        return RedisFollower(channel, await subscriptions().add(channel), "")


def _path(writer: Writer) -> str:
    return engine.reply_path(message_id=writer.message_id, player_id=writer.player_id)


async def _all_to_engine(written: list[tuple[int, dict]]) -> None:
    if engine.enabled():
        await asyncio.gather(
            *(
                _to_engine(
                    engine.reply_path(message_id=message["id"], player_id=player_id),
                    "done",
                    message,
                    tries=3,
                )
                for player_id, message in written
            )
        )


def _stopped_to_engine(player_id: int, message: dict) -> None:
    if engine.enabled():
        path = engine.reply_path(message_id=message["id"], player_id=player_id)
        try:
            engine.publish_now(path, event("done", message))
        except engine.PublishFailed:
            logger.exception("The real-time engine did not take the stop of %s", path)


# Raise the fence to the attempt unless a later one raised it already (then 0); the text
# so far, as the fence went up: no piece of an earlier attempt is added after it.
TAKE_OVER = """
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[1]) then return {0, false} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1, redis.call('GET', KEYS[2])}
"""
# Unless a later attempt has the reply: append the piece to the text so far (kept a
# while), publish it to the reply's and the player's followers, and say whether the
# player asked to stop.
PIECE = """
local fence = tonumber(redis.call('GET', KEYS[3]) or '0')
if fence > tonumber(ARGV[6]) then return -1 end
redis.call('APPEND', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[5])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return redis.call('EXISTS', KEYS[2])
"""
FINISH = """
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
if fence > tonumber(ARGV[4]) then return -1 end
redis.call('PUBLISH', ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 0
"""

_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _script(client, source: str):
    """The script registered with this client (a thread's, or an event loop's)."""
    registered = _scripts.setdefault(client, {})
    if (script := registered.get(source)) is None:
        script = registered[source] = client.register_script(source)
    return script


class RedisFollower:
    def __init__(self, channel: str, arrivals: asyncio.Queue, text_key: str):
        self.channel = channel
        self.arrivals = arrivals
        self.text_key = text_key

    async def close(self) -> None:
        await subscriptions().remove(self.channel, self.arrivals)

    async def text_so_far(self) -> str:
        text = await async_client().get(self.text_key)
        return "" if text is None else text.decode()

    async def next_event(self, timeout: float) -> Piece | Finished | None:
        """The next piece or the end, or None if nothing came within `timeout` seconds."""
        try:
            event = json.loads(await asyncio.wait_for(self.arrivals.get(), timeout))
        except TimeoutError:
            return None
        if "done" in event:
            return Finished(event["done"])
        return Piece(event["offset"], event["text"], event["message"])


class Subscriptions:
    """One Redis subscription for all the replies a process relays: each stream would
    otherwise hold a connection of its own (measured: at 128 players a process ran out of
    its pool's connections). The channels come and go with their followers; what is
    published on one goes to each of its followers' queues."""

    def __init__(self):
        self.subscription = None
        self.reader: asyncio.Task | None = None
        self.followers: dict[str, set[asyncio.Queue]] = {}
        self.subscribed: dict[str, asyncio.Event] = {}

    async def add(self, channel: str) -> asyncio.Queue:
        """A queue of what is published on `channel` from the moment this returns."""
        arrivals = asyncio.Queue()
        followers = self.followers.setdefault(channel, set())
        followers.add(arrivals)
        if len(followers) == 1:
            self.subscribed[channel] = asyncio.Event()
            if self.subscription is None:
                self.subscription = async_client().pubsub()
            await self.subscription.subscribe(channel)
            if self.reader is None or self.reader.done():
                self.reader = asyncio.get_running_loop().create_task(
                    self._read(), context=contextvars.Context()
                )
        await self.subscribed[channel].wait()  # Redis confirmed: nothing published is missed
        return arrivals

    async def remove(self, channel: str, arrivals: asyncio.Queue) -> None:
        followers = self.followers.get(channel, set())
        followers.discard(arrivals)
        if not followers and channel in self.followers:
            del self.followers[channel]
            self.subscribed.pop(channel, None)
            await self.subscription.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.subscription.get_message(timeout=1.0)
            except (ConnectionError, OSError, redis.RedisError):
                logger.warning(
                    "The replies' subscription failed; subscribing again", exc_info=True
                )
                await asyncio.sleep(0.5)
                await self._subscribe_again()
                continue
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe" and channel in self.subscribed:
                self.subscribed[channel].set()
            elif message["type"] == "message":
                for arrivals in self.followers.get(channel, ()):
                    arrivals.put_nowait(message["data"])

    async def _subscribe_again(self) -> None:
        self.subscription = async_client().pubsub()
        if self.followers:
            await self.subscription.subscribe(*self.followers)


_subscriptions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def subscriptions() -> Subscriptions:
    """This process's (its event loop's) subscription."""
    loop = asyncio.get_running_loop()
    if (found := _subscriptions.get(loop)) is None:
        found = _subscriptions[loop] = Subscriptions()
    return found


class DatabaseReplies:
    """Pieces through the database: the worker saves the text so far often (each save
    naming its attempt), and each stream reads it as often. For the embedded default,
    where there is no Redis. (With a real-time engine, pieces and ends go on to it too;
    production has Redis, whose fence holds them back once another attempt writes.)"""

    save_every = 0.2  # seconds
    read_every = 0.2

    def taken_over(self, message_id: int, attempt: int) -> str | None:
        return ""  # the reply's own text is the text so far

    async def piece(self, writer: Writer, offset: int, text: str) -> Passed:
        await _to_engine(_path(writer), "token", piece_data(writer.message_id, offset, text))
        return Passed.ON  # a stop or a later attempt shows when the worker next saves

    async def finished(self, writer: Writer, message: dict) -> Passed:
        await _to_engine(_path(writer), "done", message, tries=3)
        return Passed.ON  # the streams see it in the reply

    async def all_at_once(self, written: list[tuple[int, dict]]) -> None:
        await _all_to_engine(written)

    def stopped(self, player_id: int, message: dict) -> None:
        _stopped_to_engine(player_id, message)

    def text_so_far(self, message_id: int) -> str | None:
        return None  # the reply's own text is the latest there is

    async def follow(self, message_id: int) -> "DatabaseFollower":
        return DatabaseFollower(message_id, self.read_every)

    async def follow_player(self, player_id: int) -> "DatabasePlayerFollower":
        return DatabasePlayerFollower(player_id, self.read_every)


class DatabaseFollower:
    def __init__(self, message_id: int, read_every: float):
        self.message_id = message_id
        self.read_every = read_every
        self.shown = 0

    async def close(self) -> None:
        pass

    async def text_so_far(self) -> str:
        text, _ = await self._read()
        self.shown = len(text)
        return text

    async def next_event(self, timeout: float) -> Piece | Finished | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await asyncio.sleep(min(self.read_every, max(0.0, deadline - loop.time())))
            text, finished = await self._read()
            if len(text) > self.shown:  # the end's last words first, then the end
                piece = Piece(self.shown, text[self.shown :])
                self.shown = len(text)
                return piece
            if finished is not None:
                return Finished(finished)
        return None

    @stream_database
    def _read(self) -> tuple[str, dict | None]:
        from chat.serializers import message_data

        reply = Reply.objects.select_related("message__round").get(pk=self.message_id)
        if reply.finished:
            return reply.text, message_data(reply.message)
        return reply.text, None


class DatabasePlayerFollower:
    """Every reply of one player, read from the database as often (a page's stream without
    Redis): the new text of each reply being written, and the end of each, the ends of
    replies written in one go between two reads included."""

    def __init__(self, player_id: int, read_every: float):
        self.player_id = player_id
        self.read_every = read_every
        self.shown: dict[int, int] = {}  # reply being written -> characters shown
        self.newest: int | None = None  # the player's newest message when last read
        self.waiting: list[Piece | Finished] = []

    async def close(self) -> None:
        pass

    async def next_event(self, timeout: float) -> Piece | Finished | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.waiting and loop.time() < deadline:
            await asyncio.sleep(min(self.read_every, max(0.0, deadline - loop.time())))
            self.waiting = await self._read()
        return self.waiting.pop(0) if self.waiting else None

    @stream_database
    def _read(self) -> list[Piece | Finished]:
        from chat.serializers import message_data

        replies = Reply.objects.filter(message__player_id=self.player_id)
        if self.newest is None:  # from now on
            self.newest = replies.order_by("-pk").values_list("pk", flat=True).first() or 0
        found = replies.filter(
            Q(status__in=OPEN) | Q(pk__in=list(self.shown)) | Q(pk__gt=self.newest)
        ).select_related("message__round")
        events = []
        for reply in found.order_by("pk"):
            self.newest = max(self.newest, reply.pk)
            shown = self.shown.pop(reply.pk, 0)
            if len(reply.text) > shown and not (reply.finished and shown == 0):
                events.append(Piece(shown, reply.text[shown:], reply.pk))
            if reply.finished:
                events.append(Finished(message_data(reply.message)))
            else:
                self.shown[reply.pk] = len(reply.text)
        return events


def replies() -> RedisReplies | DatabaseReplies:
    return RedisReplies() if redis_url() else DatabaseReplies()
