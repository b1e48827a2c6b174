"""The pot and its winners as they change: `GET /api/v1/events` (server-sent events)."""

from collections.abc import AsyncIterator

from django.conf import settings

from chatpot_project import engine
from chatpot_project.streams import HEARTBEAT, RETRY_SOON, Answer, Listener, stream_view

from .live import Seen, caught_up, last_event_round, ticker, where_things_stand


async def events_answer(listener: Listener) -> Answer:
    """Public: `pot` {round, amount} (at most 4 a second, always the latest), `win`
    {round, winner, payout, server_seed} for every win, `round` {round, server_seed_hash}
    when a round opens; the open round and the pot first. A client that comes back with
    the last event it saw (Last-Event-ID) is told every win and round it missed."""
    since = last_event_round(listener.last_event_id)
    if engine.enabled():  # the engine holds it; a client that comes back is caught up first
        return Answer(engine_location=await caught_up("events", since))
    return Answer(
        events=_events(since=last_event_round(listener.last_event_id), once=not listener.held)
    )


async def _events(*, since: Seen | None, once: bool) -> AsyncIterator[bytes]:
    if once:  # where things stand, and the client comes back soon
        yield await where_things_stand() + RETRY_SOON
        return
    pot = ticker()
    listener = await pot.listen(since=since)
    try:
        while True:
            changes = await listener.next_events(timeout=settings.STREAM_HEARTBEAT_SECONDS)
            yield changes or HEARTBEAT
    finally:
        pot.leave(listener)


events = stream_view(events_answer)
