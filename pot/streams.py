"""The pot and its winners as they change: `GET /api/v1/events` (server-sent events)."""

from collections.abc import AsyncIterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from chatpot_project.streams import (
    HEARTBEAT,
    RETRY_SOON,
    event_stream,
    release_database,
    served_by_asgi,
)

from .live import ticker, where_things_stand


@require_GET
async def events(request: HttpRequest) -> HttpResponse:
    """Public: `pot` {round, amount} (at most 4 a second, always the latest), `win`
    {round, winner, payout, server_seed} for every win, `round` {round, server_seed_hash}
    when a round opens; the open round and the pot first."""
    if not served_by_asgi(request):
        return event_stream(_events(once=True))
    await release_database()  # nothing here reads the database but the shared ticker
    return event_stream(_events(once=False))


async def _events(*, once: bool) -> AsyncIterator[bytes]:
    if once:  # where things stand, and the client comes back soon
        yield await where_things_stand() + RETRY_SOON
        return
    pot = ticker()
    listener = await pot.listen()
    try:
        while True:
            changes = await listener.next_events(timeout=settings.STREAM_HEARTBEAT_SECONDS)
            yield changes or HEARTBEAT
    finally:
        pot.leave(listener)
