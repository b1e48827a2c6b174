"""Where a listener of the events starts (docs/LIVE.md).

A new listener is held from where the engine is now. One that comes back, with the id of
the last event it heard, goes on right after it, every event once and in order:

- where that event ended a tick the engine it came through still holds (the usual case:
  every tick ends with the pot), the engine resumes from its own buffer;
- otherwise the app tells it what it missed, up to the newest tick that engine holds
  (live.events, bounded), and ends the answer: the client comes straight back with that
  tick's id, and the engine goes on from there. The app never splices its events into the
  engine's, so no event can come twice or be lost where they meet.

With no engine in front, what there is now, and the client comes back (`retry:`).
"""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from pot.selectors import pot_status

from . import engine
from .answers import POLL_MILLISECONDS, sse
from .events import Position, events_between, position_of, pot_event, retry, tick_of
from .models import Engine, Tick

# Nothing to go on from yet (the engine has taken no tick since it started, or the client
# heard a tick this engine has not been told of yet): the client tries again this soon.
RETRY_SOON_MILLISECONDS = 500


def answer(request: HttpRequest, *, location: str, player=None) -> HttpResponse:
    last_id = last_event_id(request)
    through = engine.engine_of(request)
    if through is None:
        return sse(_now(position_of(last_id)) + retry(POLL_MILLISECONDS))
    since = position_of(last_id)
    if since is None:  # no id, or not one of ours: a new listener
        return _new_listener(through, location, player)
    held = _messages_held(through)
    resumed = _held_by(through, tick_of(last_id), held)
    if resumed is not None:
        # A page's stream is two channels (the events, the player's): one id for both.
        return engine.hand_over(location, after=_both(resumed) if player else resumed)
    newest = newest_held(through) if held else None
    if newest is None or _ahead(since, tick_of(last_id), newest):
        return sse(retry(RETRY_SOON_MILLISECONDS))
    told = events_between(since, newest.round)
    pot = pot_event(round=newest.round, amount=newest.amount, tick=newest.pk)
    return sse(told + pot + retry(0))


def _new_listener(through: str, location: str, player) -> HttpResponse:
    """From now on. The events: from the engine's newest publish. A page (whose two
    channels' newest messages may be far apart: the engine would start both at the older
    one's second, and say again every tick since) hears what comes after the newest tick
    the engine holds, and its player's replies from that second on."""
    newest = newest_held(through) if player is not None else None
    if newest is not None and _held_by(through, newest.pk, _messages_held(through)):
        return engine.hand_over(location, after=_both(newest.deliveries[through]))
    return engine.hand_over(location)


def _messages_held(name: str) -> int:
    """How many of the announcer's ticks the engine's events channel holds now."""
    publisher = Engine.objects.filter(name=name).values_list("publisher", flat=True).first()
    return engine.messages_held(publisher, "events") if publisher else 0


def newest_event_id() -> str | None:
    """Where a page rendered now stands, as an event id: its stream comes back from there,
    so nothing that happens meanwhile is missed. The newest tick's pot; or, where a round
    opened that no tick has announced yet (the announcer ticks every half second), that
    round's opening: the page shows it already, and must not hear the win before it as
    news."""
    newest = Tick.objects.order_by("-pk").values_list("round", "pk").first()
    opened = pot_status().round_number
    if newest is None or opened > newest[0]:
        return str(opened)
    return f"{newest[0]}.{newest[1]}"


def last_event_id(request: HttpRequest) -> str | None:
    """The last event the client heard: EventSource's header, or a `last_event_id`
    parameter (a tab that takes the stream over from another)."""
    found = request.headers.get("Last-Event-ID")
    if found is None:
        found = request.GET.get("last_event_id")
    return found or None


def _held_by(name: str, tick_id: int | None, held: int) -> str | None:
    """The engine's own id of the tick, if the engine holds it still: it took the tick and
    every tick since (its unbroken run began no later), recently, and its channel holds as
    many messages as that makes (an engine that restarted meanwhile holds fewer). nchan
    1.3.6's worker dies on a listener that resumes on a channel holding none: an engine
    holding none is never handed one."""
    if tick_id is None or held == 0:
        return None
    horizon = timezone.now() - timedelta(seconds=settings.LIVE_RESUME_SECONDS)
    tick = Tick.objects.filter(pk=tick_id, created_at__gte=horizon).first()
    if tick is None or name not in tick.deliveries:
        return None
    if not Engine.objects.filter(name=name, since__lte=tick_id).exists():
        return None
    since = Tick.objects.filter(pk__gt=tick_id, deliveries__has_key=name).count()
    return tick.deliveries[name] if held > since else None


def newest_held(name: str) -> Tick | None:
    """The newest tick the engine holds."""
    since = Engine.objects.filter(name=name).values_list("since", flat=True).first()
    if since is None:
        return None
    return Tick.objects.filter(pk__gte=since, deliveries__has_key=name).order_by("-pk").first()


def _ahead(since: Position, tick_id: int | None, newest: Tick) -> bool:
    """The client heard more than the engine's newest tick (on another engine)."""
    if since.round != newest.round:
        return since.round > newest.round
    return since.won or (tick_id is not None and tick_id > newest.pk)


def _both(message_id: str) -> str:
    """An id for a page's two channels: the events from `message_id` on, the player's
    from that second on."""
    time, _, tag = message_id.partition(":")
    return f"{time}:[{tag},-]"


def _now(since: Position | None) -> bytes:
    """What a client with no engine to hold it is told: what it missed, if it says where
    it was, and the pot (as the newest tick numbered it)."""
    status = pot_status()
    newest = Tick.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    missed = events_between(since, status.round_number) if since is not None else b""
    return missed + pot_event(round=status.round_number, amount=status.amount, tick=newest)
