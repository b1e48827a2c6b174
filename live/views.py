"""Who may listen, and where a listener starts (docs/LIVE.md): plain views that decide, then
hand the connection to the engine it came through. Asked with no engine in front (a
platform without one), they answer what there is now and tell the client to come back
(`retry:`): polling.

- `GET /api/v1/events`: the pot, wins and rounds, for anyone.
- `GET /api/v1/messages/{id}/stream`: one reply, for its player.
- `GET /live/`: a signed-in page's one stream: the events and the player's replies.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.models import User
from api.authentication import PlayerTokenAuthentication
from chat.replies import piece_data
from chat.selectors import player_message, text_so_far
from chat.serializers import message_data

from . import comeback, engine
from .answers import POLL_MILLISECONDS, sse
from .events import event, retry


def events(request: HttpRequest) -> HttpResponse:
    """Public: `pot` {round, amount}, `win` {round, winner, payout, server_seed} for every
    win, `round` {round, server_seed_hash} when a round opens, each with its id. A new
    listener is held by the engine from its newest publish; one that comes back with the
    last id it heard (Last-Event-ID, or `?last_event_id=`) is told what it missed, once,
    in order."""
    if (refused := _get_only(request)) is not None:
        return refused
    return comeback.answer(request, location="events")


def player_stream(request: HttpRequest) -> HttpResponse:
    """A signed-in player's pages, on one connection per browser: the events, and each of
    the player's replies being written (`token` {message, offset, text}, then `done`)."""
    if (refused := _get_only(request)) is not None:
        return refused
    player = _listener(request)
    if player is None:
        return _not_authenticated()
    return comeback.answer(request, location=f"player/{player.pk}", player=player)


def reply_stream(request: HttpRequest, message_id: int) -> HttpResponse:
    """One reply as it is written: `token` {message, offset, text} with each next piece
    (every piece so far first, for a client that comes late), then one `done` with the
    message as the API shows it."""
    if (refused := _get_only(request)) is not None:
        return refused
    player = _listener(request)
    if player is None:
        return _not_authenticated()
    message = player_message(player=player, message_id=message_id)
    if message is None:
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    if message.reply.finished:  # nothing to hold a connection for
        return sse(event("done", message_data(message)))
    through = engine.engine_of(request)
    if through is None:
        so_far = text_so_far(message)
        pieces = event("token", piece_data(message.pk, 0, so_far)) if so_far else b""
        return sse(pieces + retry(POLL_MILLISECONDS))
    return engine.hand_over(f"reply/{message.pk}")


def _get_only(request: HttpRequest) -> HttpResponse | None:
    if request.method in ("GET", "HEAD"):
        return None
    detail = f'Method "{request.method}" not allowed.'
    response = JsonResponse({"code": "method_not_allowed", "detail": detail}, status=405)
    response["Allow"] = "GET, HEAD"
    return response


def _listener(request: HttpRequest) -> User | None:
    """The active player a stream is for: a bearer token's (API clients), or the
    session's (the pages)."""
    if "Authorization" in request.headers:
        try:
            found = PlayerTokenAuthentication().authenticate(request)
        except (InvalidToken, AuthenticationFailed):
            return None
        return found[0] if found is not None else None
    user = request.user
    return user if user.is_authenticated and user.is_active else None


def _not_authenticated() -> HttpResponse:
    detail = "Authentication credentials were not provided."
    response = JsonResponse({"code": "not_authenticated", "detail": detail}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
