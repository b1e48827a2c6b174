"""How a reply's pieces travel from the worker that writes them to the streams that show
them (DESIGN section 8).

With Redis (REDIS_URL), each piece is appended to the reply's text so far and published
on the reply's channel, in one atomic step: any stream process on any host relays it at
once, and one that joins late reads the text so far first. Without Redis (the embedded
default), the worker saves the text so far to the message often and the streams read it
from there: no service beyond the database.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from chatpot_project.redis_clients import async_client, namespace, redis_url, sync_client

from .models import FINISHED_REPLIES, Message

TEXT_KEPT_SECONDS = 3600  # the text so far, for late readers; the message holds it after
STOP_KEPT_SECONDS = 600


@dataclass(frozen=True)
class Piece:
    offset: int  # where the piece starts in the reply, in characters
    text: str


@dataclass(frozen=True)
class Finished:
    message: dict  # the message as the API shows it


class RedisReplies:
    """Pieces through Redis: published as they come; the worker saves the text so far to
    the message only now and then, so that a worker taking over a reply finds it."""

    save_every = 1.0  # seconds

    def __init__(self):
        self.prefix = f"{namespace()}:reply"

    def _keys(self, message_id: int) -> tuple[str, str, str]:
        base = f"{self.prefix}:{message_id}"
        return base, f"{base}:text", f"{base}:stop"

    async def piece(self, message_id: int, offset: int, text: str) -> bool:
        """Add a piece; True when the player has asked to stop."""
        channel, text_key, stop_key = self._keys(message_id)
        async with async_client().pipeline(transaction=True) as step:
            step.append(text_key, text)
            step.expire(text_key, TEXT_KEPT_SECONDS)
            step.publish(channel, json.dumps({"offset": offset, "text": text}))
            step.exists(stop_key)
            *_, stop = await step.execute()
        return bool(stop)

    async def finished(self, message_id: int, message: dict) -> None:
        channel, _, _ = self._keys(message_id)
        await async_client().publish(channel, json.dumps({"done": message}))

    async def all_at_once(self, messages: list[dict]) -> None:
        """Replies written whole (the built-in keeper's): each a piece, then its end."""
        if not messages:
            return
        async with async_client().pipeline(transaction=False) as step:
            for message in messages:
                channel, _, _ = self._keys(message["id"])
                step.publish(channel, json.dumps({"offset": 0, "text": message["reply"]}))
                step.publish(channel, json.dumps({"done": message}))
            await step.execute()

    def stopped(self, message_id: int, message: dict) -> None:
        """From the web process: the player stopped the reply; tell its worker and streams."""
        channel, _, stop_key = self._keys(message_id)
        with sync_client().pipeline(transaction=True) as step:
            step.set(stop_key, 1, ex=STOP_KEPT_SECONDS)
            step.publish(channel, json.dumps({"done": message}))
            step.execute()

    def text_so_far(self, message_id: int) -> str | None:
        _, text_key, _ = self._keys(message_id)
        text = sync_client().get(text_key)
        return None if text is None else text.decode()

    @asynccontextmanager
    async def follow(self, message_id: int) -> AsyncIterator["RedisFollower"]:
        channel, text_key, _ = self._keys(message_id)
        subscription = async_client().pubsub(ignore_subscribe_messages=True)
        await subscription.subscribe(channel)
        try:
            yield RedisFollower(subscription, text_key)
        finally:
            await subscription.unsubscribe()
            await subscription.aclose()


class RedisFollower:
    def __init__(self, subscription, text_key: str):
        self.subscription = subscription
        self.text_key = text_key

    async def text_so_far(self) -> str:
        text = await async_client().get(self.text_key)
        return "" if text is None else text.decode()

    async def next_event(self, timeout: float) -> Piece | Finished | None:
        """The next piece or the end, or None if nothing came within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            message = await self.subscription.get_message(timeout=left)
            if message is None or message["type"] != "message":
                continue
            event = json.loads(message["data"])
            if "done" in event:
                return Finished(event["done"])
            return Piece(event["offset"], event["text"])
        return None


class DatabaseReplies:
    """Pieces through the database: the worker saves the text so far often, and each
    stream reads it as often. For the embedded default, where there is no Redis."""

    save_every = 0.2  # seconds
    read_every = 0.2

    async def piece(self, message_id: int, offset: int, text: str) -> bool:
        return False  # a stop shows when the worker next saves: the message is stopped

    async def finished(self, message_id: int, message: dict) -> None:
        pass  # the streams see it in the message

    async def all_at_once(self, messages: list[dict]) -> None:
        pass

    def stopped(self, message_id: int, message: dict) -> None:
        pass

    def text_so_far(self, message_id: int) -> str | None:
        return None  # the message's own text is the latest there is

    @asynccontextmanager
    async def follow(self, message_id: int) -> AsyncIterator["DatabaseFollower"]:
        yield DatabaseFollower(message_id, self.read_every)


class DatabaseFollower:
    def __init__(self, message_id: int, read_every: float):
        self.message_id = message_id
        self.read_every = read_every
        self.shown = 0

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

    @sync_to_async
    def _read(self) -> tuple[str, dict | None]:
        from .serializers import message_data

        message = Message.objects.select_related("round").get(pk=self.message_id)
        if message.reply_status in FINISHED_REPLIES:
            return message.reply, message_data(message)
        return message.reply, None


def replies() -> RedisReplies | DatabaseReplies:
    return RedisReplies() if redis_url() else DatabaseReplies()
