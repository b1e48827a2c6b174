"""Log lines an operator can search (docs/OPERATIONS.md, "Logs"): in production, one JSON
object per line, each carrying what it happened to: the request's id (from the proxy's
X-Request-ID, through the web process, into the reply's row and the worker's lines, and
back in the response's header), and on the game's lines the player, the message and the
round.

What a line is about is kept in context variables: set for a request by
`request_id_middleware`, for a reply by the worker's task that writes it (`bound`), and read
by `ContextFilter` onto every record. A game line names its own player, message and round
(`extra=game(...)`).
"""

import contextlib
import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

REQUEST_ID_HEADER = "X-Request-ID"
# An id from the proxy is kept if it looks like one (nginx's $request_id is 32 hex
# digits); anything else, a client's made-up header say, is replaced, never logged.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

# What a line is about, by the record's attribute it is written to.
FIELDS = ("request_id", "player_id", "message_id", "round")
_context = {name: contextvars.ContextVar(name, default=None) for name in FIELDS}


def request_id() -> str | None:
    return _context["request_id"].get()


@contextlib.contextmanager
def bound(**fields):
    """Lines logged within say these of what they are about (FIELDS, by name)."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def game(
    *,
    player_id: int,
    message_id: int | None = None,
    round: int | None = None,
    request_id: str | None = None,
) -> dict:
    """The `extra` of a game line (or what to `bound`): whom and what it is about; a
    request id given here is the line's, not the current request's."""
    return {
        "player_id": player_id,
        "message_id": message_id,
        "round": round,
        "request_id": request_id,
    }


class ContextFilter(logging.Filter):
    """Puts what the line is about on the record, unless the line says it itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in _context.items():
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        if record.request_id is None:  # Django's line of a request's answer comes after it
            record.request_id = getattr(getattr(record, "request", None), "request_id", None)
        return True


class SuspiciousIsAWarning(logging.Filter):
    """Django's lines of a suspicious request (a Host not allowed, a session tampered
    with) are anybody's to cause: a warning each, without a traceback, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security.") and record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, what it is
    about (FIELDS, when known) and the exception's traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            # gunicorn's line of a request: the id the app answered with.
            line["request_id"] = record.args.get("{x-request-id}o") or None
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def _identify(request: HttpRequest) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return request.request_id


@sync_and_async_middleware
def request_id_middleware(get_response):
    """Every request has an id: the proxy's X-Request-ID, or a new one. Its lines carry
    it, the replies it queues keep it, and the response says it. (Sync and async: under
    ASGI a request needs no thread for it.)"""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            with bound(request_id=_identify(request)):
                response = await get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id
            return response

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            with bound(request_id=_identify(request)):
                response = get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id
            return response

    return middleware
