"""A reply as it is written: `GET /api/v1/messages/{id}/stream` (server-sent events)."""

import asyncio
from collections.abc import AsyncIterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from chat.models import Message
from chat.selectors import player_message
from chat.serializers import message_data
from chatpot_project.streams import (
    HEARTBEAT,
    RETRY_SOON,
    api_error,
    event,
    event_stream,
    served_by_asgi,
    stream_database,
    stream_player,
)

from .models import Reply
from .streaming import Finished, replies

# A stream ends after this long even if the reply never came (the client may reconnect).
LONGEST_STREAM_SECONDS = 600


@require_GET
async def reply_stream(request: HttpRequest, message_id: int) -> HttpResponse:
    """`token` events with each next piece of the reply (first the text so far, for a
    client that comes late), then one `done` with the message as the API shows it."""
    player_id = await stream_player(request)
    if player_id is None:
        return api_error(401, "not_authenticated", "Authentication credentials were not provided.")
    # Following first, then reading: nothing written in between is missed, and the one
    # read both finds the message and says whether its reply is written already.
    follower = await replies().follow(message_id)
    message = await _read(message_id, player_id)
    if message is None:
        await follower.close()
        return api_error(404, "not_found", "Not found.")
    return event_stream(_reply_events(message, follower, once=not served_by_asgi(request)))


@stream_database
def _read(message_id: int, player_id: int) -> Message | None:
    """The player's message, if the player is still active."""
    message = player_message(player=player_id, message_id=message_id)
    return message if message is not None and message.player.is_active else None


@stream_database
def _finished(message_id: int) -> dict | None:
    reply = Reply.objects.select_related("message__round").get(pk=message_id)
    return message_data(reply.message) if reply.finished else None


async def _reply_events(message: Message, follower, *, once: bool) -> AsyncIterator[bytes]:
    try:
        if message.reply.finished:
            yield event("done", message_data(message))
            return
        text = await follower.text_so_far()
        shown = len(text)
        if text:
            yield event("token", {"text": text})
        if once:
            yield RETRY_SOON
            return
        loop = asyncio.get_running_loop()
        ends = loop.time() + LONGEST_STREAM_SECONDS
        while loop.time() < ends:
            next_event = await follower.next_event(timeout=settings.STREAM_HEARTBEAT_SECONDS)
            if next_event is None:
                yield HEARTBEAT
                # An end this stream missed (it came while it was not yet following).
                if (finished := await _finished(message.pk)) is not None:
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
    finally:
        await follower.close()
