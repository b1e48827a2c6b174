"""A reply as it is written: `GET /api/v1/messages/{id}/stream` (server-sent events)."""

import asyncio
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from chatpot_project.streams import (
    HEARTBEAT,
    api_error,
    event,
    event_stream,
    release_database,
    stream_player,
)

from .live import Finished, RedisReplies, replies
from .models import FINISHED_REPLIES, Message
from .selectors import player_message
from .serializers import message_data

# A stream ends after this long even if the reply never came (the client may reconnect).
LONGEST_STREAM_SECONDS = 600


@require_GET
async def reply_stream(request: HttpRequest, message_id: int) -> HttpResponse:
    """`token` events with each next piece of the reply (first the text so far, for a
    client that comes late), then one `done` with the message as the API shows it."""
    player = await stream_player(request)
    if player is None:
        return api_error(401, "not_authenticated", "Authentication credentials were not provided.")
    message = await _read(message_id, player.pk)
    if message is None:
        return api_error(404, "not_found", "Not found.")
    return event_stream(_reply_events(message))


@sync_to_async
def _read(message_id: int, player_id: int) -> Message | None:
    return player_message(player=player_id, message_id=message_id)


@sync_to_async
def _finished(message_id: int) -> dict | None:
    message = Message.objects.select_related("round").get(pk=message_id)
    return message_data(message) if message.reply_status in FINISHED_REPLIES else None


async def _reply_events(message: Message) -> AsyncIterator[bytes]:
    if message.reply_status in FINISHED_REPLIES:
        yield event("done", message_data(message))
        return
    live = replies()
    async with live.follow(message.pk) as follower:
        # Following first, then reading: nothing written in between is missed.
        text = await follower.text_so_far()
        if (finished := await _finished(message.pk)) is not None:
            yield event("done", finished)
            return
        if isinstance(live, RedisReplies):
            await release_database()  # the pieces come from Redis now
        shown = len(text)
        if text:
            yield event("token", {"text": text})
        loop = asyncio.get_running_loop()
        ends = loop.time() + LONGEST_STREAM_SECONDS
        while loop.time() < ends:
            next_event = await follower.next_event(timeout=settings.STREAM_HEARTBEAT_SECONDS)
            if next_event is None:
                yield HEARTBEAT
                # An end this stream missed (it came while it was not yet following).
                finished = await _finished(message.pk)
                if isinstance(live, RedisReplies):
                    await release_database()
                if finished is not None:
                    yield event("done", finished)
                    return
            elif isinstance(next_event, Finished):
                yield event("done", next_event.message)
                return
            else:
                if next_event.offset > shown:  # pieces were missed: take them from the text
                    piece = (await follower.text_so_far())[shown:]
                else:
                    piece = next_event.text[shown - next_event.offset :]
                if piece:
                    shown += len(piece)
                    yield event("token", {"text": piece})
