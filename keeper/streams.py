"""The keeper's replies as they are written (server-sent events): one reply for the API
(`GET /api/v1/messages/{id}/stream`), and everything a player's pages follow, on one
connection per browser (`GET /live/`: the pot's events and every reply of the player's)."""

import asyncio
from collections.abc import AsyncIterator

from django.conf import settings

from accounts.models import User
from chat.models import Message
from chat.selectors import player_message
from chat.serializers import message_data
from chatpot_project import engine
from chatpot_project.streams import (
    HEARTBEAT,
    NOT_AUTHENTICATED,
    NOT_FOUND,
    RETRY_SOON,
    Answer,
    Listener,
    event,
    player_of,
    stream_database,
    stream_view,
)
from pot.live import caught_up, last_event_round, ticker, where_things_stand

from .models import Reply
from .streaming import Finished, Piece, piece_data, replies

# A reply's stream ends after this long even if the reply never came (the client may
# reconnect).
LONGEST_STREAM_SECONDS = 600


async def reply_answer(listener: Listener, message_id: int) -> Answer:
    """`token` events with each next piece of the reply (first the text so far, for a
    client that comes late), then one `done` with the message as the API shows it."""
    player_id = await player_of(listener)
    if player_id is None:
        return Answer.refused(401, *NOT_AUTHENTICATED)
    if engine.enabled():
        active, message = await _read(message_id, player_id)
        if not active:  # a token of a player no longer there: as the API answers it
            return Answer.refused(401, *NOT_AUTHENTICATED)
        if message is None:
            return Answer.refused(404, *NOT_FOUND)
        if message.reply.finished:  # nothing to hold the connection for
            return Answer(events=_once(event("done", message_data(message))))
        return Answer(engine_location=f"reply/{message_id}")
    # Following first, then reading: nothing written in between is missed, and the one
    # read both finds the message and says whether its reply is written already.
    follower = await replies().follow(message_id)
    active, message = await _read(message_id, player_id)
    if not active or message is None:
        await follower.close()
        if not active:
            return Answer.refused(401, *NOT_AUTHENTICATED)
        return Answer.refused(404, *NOT_FOUND)
    return Answer(events=_reply_events(message, follower, once=not listener.held))


async def player_answer(listener: Listener) -> Answer:
    """Everything a signed-in player's pages follow, on one connection: the pot's events
    (`pot`, `win`, `round`, as `GET /api/v1/events` has them) and each of the player's
    replies being written (`token` {message, offset, text}, then `done`, the message)."""
    player_id = await player_of(listener)
    if player_id is None or not await _active(player_id):
        return Answer.refused(401, *NOT_AUTHENTICATED)
    since = last_event_round(listener.last_event_id)
    if engine.enabled():  # the engine holds it; a page that comes back is caught up first
        return Answer(engine_location=await caught_up(f"player/{player_id}", since))
    if not listener.held:
        return Answer(events=_once(await where_things_stand() + RETRY_SOON))
    return Answer(events=_player_events(player_id, since))


async def _once(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


@stream_database
def _read(message_id: int, player_id: int) -> tuple[bool, Message | None]:
    """Whether the player is there and active, and if so their message (or None)."""
    message = player_message(player=player_id, message_id=message_id)
    if message is None:
        return _player_active(player_id), None
    return message.player.is_active, message if message.player.is_active else None


def _player_active(player_id: int) -> bool:
    return User.objects.filter(pk=player_id, is_active=True).exists()


_active = stream_database(_player_active)


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
            yield event("token", piece_data(message.pk, 0, text))
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
                    yield event("token", piece_data(message.pk, shown, piece))
                    shown += len(piece)
    finally:
        await follower.close()


async def _player_events(player_id: int, since: int | None) -> AsyncIterator[bytes]:
    pot = ticker()
    listener = await pot.listen(since=since)
    follower = await replies().follow_player(player_id)
    heartbeat = settings.STREAM_HEARTBEAT_SECONDS
    ticking = following = None
    try:
        while True:
            ticking = ticking or asyncio.ensure_future(listener.next_events(heartbeat))
            following = following or asyncio.ensure_future(follower.next_event(heartbeat))
            done, _ = await asyncio.wait(
                [ticking, following], timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            chunks = []
            if ticking in done:
                chunks.append(ticking.result())
                ticking = None
            if following in done:
                chunks.append(_reply_event(following.result()))
                following = None
            yield b"".join(chunks) or HEARTBEAT
    finally:
        for waiting in (ticking, following):
            if waiting is not None:
                waiting.cancel()
        pot.leave(listener)
        await follower.close()


def _reply_event(found: Piece | Finished | None) -> bytes:
    if isinstance(found, Piece):
        return event("token", piece_data(found.message_id, found.offset, found.text))
    if isinstance(found, Finished):
        return event("done", found.message)
    return b""


reply_stream = stream_view(reply_answer)
player_stream = stream_view(player_answer)
