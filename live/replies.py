"""The keeper's replies, passed on to the real-time engines as they are written: each piece
(`token` {message, offset, text}) and the end (`done`, the message as the API shows it) in
one publish to the reply's channel and its player's (docs/LIVE.md). Registered with
chat.replies by this app (live.apps)."""

import asyncio
import logging

from chat.replies import Writer, piece_data

from . import engine
from .events import event

logger = logging.getLogger(__name__)

# An end is tried again this often before it is given up (the reply is stored all the
# same: a client that comes for it later is told it by the app); a piece is not (the next
# one, or the end, carries on).
END_TRIES = 3


class EngineFollowers:
    async def piece(self, writer: Writer, offset: int, text: str) -> None:
        chunk = event("token", piece_data(writer.message_id, offset, text))
        try:
            await engine.apublish(_path(writer.message_id, writer.player_id), chunk)
        except engine.PublishFailed:
            logger.warning("No real-time engine took a piece of reply %s", writer.message_id)

    async def finished(self, writer: Writer, message: dict) -> None:
        await _end(writer.player_id, message)

    async def written(self, written: list[tuple[int, dict]]) -> None:
        await asyncio.gather(*(_end(player_id, message) for player_id, message in written))

    def stopped(self, player_id: int, message: dict) -> None:
        try:
            engine.publish(_path(message["id"], player_id), event("done", message))
        except engine.PublishFailed:
            logger.exception("No real-time engine took the stop of reply %s", message["id"])

    async def close(self) -> None:
        await engine.close_session()


async def _end(player_id: int, message: dict) -> None:
    path = _path(message["id"], player_id)
    for attempt in range(1, END_TRIES + 1):
        try:
            await engine.apublish(path, event("done", message))
            return
        except engine.PublishFailed:
            if attempt == END_TRIES:
                logger.exception("No real-time engine took the end of reply %s", message["id"])
            else:
                await asyncio.sleep(0.2 * attempt)


def _path(message_id: int, player_id: int) -> str:
    """Where a reply's events are published: its channel, and its player's."""
    return f"reply/{message_id}/player/{player_id}"
