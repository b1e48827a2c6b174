"""What an operator watches (docs/OPERATIONS.md, "Metrics"): Prometheus figures of the
requests, the game, the keeper's replies and the live streams, served at /metrics.

Counts and timings are kept where they happen (the web, worker and stream processes).
With PROMETHEUS_MULTIPROC_DIR set, before the process starts, every process of the host
keeps them in that folder, and /metrics adds them all up (prometheus_client's
multiprocess mode: gunicorn's workers each count their own). Figures of state (the pot,
the replies waiting, the last audit, the listeners the engine holds) are read when
Prometheus asks, from where they are kept, so every process agrees on them.
"""

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from common.environment import value

logger = logging.getLogger(__name__)

if folder := value("PROMETHEUS_MULTIPROC_DIR"):
    # Each process's files go there from its first count on.
    os.makedirs(folder, exist_ok=True)

# Seconds, from the fastest answer to the keeper's timeout.
LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Histogram(
    "chatpot_http_request_duration_seconds",
    "Requests answered by the app, by view (its URL name), method and status.",
    ["view", "method", "status"],
    buckets=LATENCY,
)
MESSAGES = Counter("chatpot_messages_sent_total", "Messages sent and charged.")
FEES = Counter("chatpot_message_fees_credits_total", "Credits paid in message fees.")
WINS = Counter("chatpot_wins_total", "Messages that won the pot.")
PAYOUTS = Counter("chatpot_payouts_credits_total", "Credits paid out to winners.")
REFUSED = Counter(
    "chatpot_sends_refused_total",
    "Sends refused, charging nothing, by reason (the API's error code).",
    ["reason"],
)
THROTTLED = Counter(
    "chatpot_throttled_total", "Requests refused for going over a rate limit.", ["scope"]
)
LOCKOUTS = Counter("chatpot_lockouts_total", "Log-ins refused while locked out.")
REPLIES = Counter(
    "chatpot_replies_total",
    "Replies finished, by outcome: model (the model wrote it), builtin (the built-in "
    "keeper is the bot), fallback (the model gave nothing, or failed too often: the "
    "built-in keeper answered), stopped (by its player), interrupted (its worker died "
    "part-way: the text written stands), failed (the worker gave it up; another attempt "
    "follows).",
    ["outcome"],
)
FIRST_PIECE = Histogram(
    "chatpot_reply_first_piece_seconds",
    "From the message's send to the first piece of its reply written.",
    buckets=LATENCY,
)
REPLY_DONE = Histogram(
    "chatpot_reply_done_seconds",
    "From the message's send to its reply done.",
    buckets=LATENCY,
)
MODEL_REQUESTS = Counter("chatpot_model_requests_total", "Replies asked of the model.")
MODEL_ERRORS = Counter(
    "chatpot_model_errors_total",
    "The model's replies that failed, by kind (timeout, or the error's class).",
    ["kind"],
)
WINS_ANNOUNCED = Counter(
    "chatpot_live_wins_announced_total",
    "Wins told to the real-time engine, for every listener, by the announcer.",
)

# Every label value known in advance is there from the start, at 0: a rate over a count
# that has not moved yet is 0, not missing.
for _reason in ("invalid", "insufficient_funds", "idempotency_conflict", "busy", "user_inactive"):
    REFUSED.labels(_reason)
for _scope in ("register", "token", "send"):
    THROTTLED.labels(_scope)
for _outcome in ("model", "builtin", "fallback", "stopped", "interrupted", "failed"):
    REPLIES.labels(_outcome)
MODEL_ERRORS.labels("timeout")


def enabled() -> bool:
    return settings.METRICS_ENABLED


def message_sent(*, fee: int, won: bool, payout: int) -> None:
    if not enabled():
        return
    MESSAGES.inc()
    FEES.inc(fee)
    if won:
        WINS.inc()
        PAYOUTS.inc(payout)


def send_refused(reason: str) -> None:
    if enabled():
        REFUSED.labels(reason).inc()


def throttled(scope: str) -> None:
    if enabled():
        THROTTLED.labels(scope).inc()


def locked_out() -> None:
    if enabled():
        LOCKOUTS.inc()


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = request.resolver_match
    view = (match.view_name or match.route) if match else "<unmatched>"
    REQUESTS.labels(view, request.method, str(response.status_code)).observe(
        time.perf_counter() - started
    )


@sync_and_async_middleware
def request_metrics(get_response):
    """Times every request the app answers, by the view that answered it (sync and async:
    under ASGI a request needs no thread for it)."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = await get_response(request)
            _observe(request, response, started)
            return response

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = get_response(request)
            _observe(request, response, started)
            return response

    return middleware


# The figures of state, each app's own, registered by the app (`state`): read when
# Prometheus asks, so every process agrees on them.
STATE: list[Callable[[], Iterable[GaugeMetricFamily]]] = []


def state(read: Callable[[], Iterable[GaugeMetricFamily]]):
    """Register `read`, which yields figures of state (GaugeMetricFamily) when scraped."""
    STATE.append(read)
    return read


class StateCollector:
    """The figures of state, read when Prometheus asks."""

    def collect(self):
        for read in STATE:
            yield from read()


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's counts (the host's, from the multiprocess
    folder; without one, this process's), and the state."""
    collected = CollectorRegistry()
    if value("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(collected)
    else:
        collected.register(_Counted())
    collected.register(StateCollector())
    return collected


class _Counted:
    """This process's own counts (no multiprocess folder: one process counts them all)."""

    def collect(self):
        yield from REGISTRY.collect()


def served() -> bool:
    """Whether /metrics is served at all: only with a token configured."""
    return bool(settings.METRICS_TOKEN) and enabled()


def authorized(authorization: str) -> bool:
    """Whether an `Authorization` header carries the metrics token."""
    token = settings.METRICS_TOKEN
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """/metrics, for Prometheus only: with `Authorization: Bearer $METRICS_TOKEN`. Without
    a token configured it is not served at all."""
    if not served():
        return HttpResponse(status=404)
    if not authorized(request.headers.get("Authorization", "")):
        response = HttpResponse("A metrics token is needed.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


class _WorkerMetrics(BaseHTTPRequestHandler):
    """The worker's own /metrics, as the web process's: the same token, the same figures."""

    def do_GET(self) -> None:
        if self.path != "/metrics" or not served():
            self._answer(404, b"", "text/plain")
        elif not authorized(self.headers.get("Authorization", "")):
            self._answer(401, b"A metrics token is needed.\n", "text/plain", realm=True)
        else:
            try:
                body = generate_latest(registry())
            finally:
                connections.close_all()  # this thread's, read for the figures of state
            self._answer(200, body, CONTENT_TYPE_LATEST)

    def _answer(self, status: int, body: bytes, kind: str, *, realm: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if realm:
            self.send_header("WWW-Authenticate", 'Bearer realm="metrics"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass  # a scrape is not news


def serve_for_worker(address: str) -> ThreadingHTTPServer:
    """The worker's /metrics at `address` (host:port; WORKER_METRICS_LISTEN), in a thread of
    its own: for a worker on a host with no web process to serve the host's figures."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"WORKER_METRICS_LISTEN={address!r} is not host:port.")
    server = ThreadingHTTPServer((host, int(port)), _WorkerMetrics)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def mark_process_dead(pid: int) -> None:
    """A process of the host has ended: its live figures (listeners) no longer count."""
    if value("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
