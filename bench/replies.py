"""The keeper's replies from a model: the model path at 32 players, and a backlog written
after the worker was stopped."""

import json
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from bench.harness import (
    PYTHON,
    Background,
    Settings,
    audit,
    deployed,
    free_port,
    log,
    open_replies,
    psql,
    replies_drained,
    start_worker,
    wait_for_port,
)
from bench.live import (
    backlog_sends,
    model_scenario,
)
from bench.load import cpu_per_message, process_groups


@contextmanager
def streaming_model(settings: Settings, static: Path):
    """The tests' fake model (tests/fake_model.py) streaming 60 words over 2 s, stopped by
    its PID after the block: the process, its address, and the settings that make the
    keeper ask it."""
    port = free_port()
    model = Background(
        [PYTHON, "-m", "tests.fake_model", "--port", str(port), "--words", "60", "--seconds", "2"],
        settings,
    )
    try:
        wait_for_port(port)
        model_url = f"http://127.0.0.1:{port}"
        backend = {
            "CHATBOT_BACKEND": "openai",
            "CHATBOT_BASE_URL": model_url,
            "CHATBOT_MODEL": "bench",
            "STATIC_ROOT": str(static),
        }
        yield model, model_url, backend
    finally:
        model.stop()


def model_runs(settings: Settings, static: Path, tokens: Path) -> list[dict]:
    """Players chatting with a model that streams 60 words over 2 s (tests/fake_model.py),
    each sending again as soon as its reply is done."""
    results = []
    with (
        streaming_model(settings, static) as (model, model_url, backend),
        deployed(settings, **backend) as site,
    ):
        groups = process_groups(
            web=site.web, worker=site.replies.process, proxy=site.proxy, model=model.process
        )
        for players in (32, 128):
            counted: dict = {}
            with cpu_per_message(groups, counted):
                figures = model_scenario(
                    site.url,
                    site.url,
                    model_url,
                    tokens.read_text().split(),
                    players,
                    seconds=2 * settings.seconds,
                )
                counted["messages"] = figures["sent"]
            figures["cpu_ms_per_message"] = counted["cpu_ms_per_message"]
            figures["replies"] = replies_drained(settings)
            figures["audit"] = audit(settings)
            results.append(figures)
            log(
                f"  {players:>4} players: {figures['messages_per_second']:5.1f} msg/s  "
                f"send p50 {figures['send_p50_ms']:.0f} ms p99 "
                f"{figures['send_p99_ms']:.0f} ms  first piece after the model's "
                f"p50 {figures['first_piece_after_model_p50_ms']:.0f} ms p99 "
                f"{figures['first_piece_after_model_p99_ms']:.0f} ms  round trip p50 "
                f"{figures['reply_round_trip_p50_s']:.2f} s  GET /api/v1/pot "
                f"p99 {figures['pot_p99_ms']:.1f} ms  errors {figures['errors']}  "
                f"replies: {figures['replies']}  audit {figures['audit'].split(' ')[0]}"
            )
            log(f"    CPU ms per message: {figures['cpu_ms_per_message']}")
            if figures["error_kinds"]:
                log(f"    errors: {figures['error_kinds']}")
    return results


def backlog_run(settings: Settings, static: Path, tokens: Path, seconds: float) -> dict:
    """The worker stopped while 32 players send, each a message every 2 s (a model's
    pace); then started: how fast it writes the backlog, and whether each reply was
    written once (one claim, one model request) and none was left."""
    with streaming_model(settings, static) as (_, model_url, backend):
        with deployed(settings, worker=False, **backend) as site:
            sent, errors = backlog_sends(site.url, tokens.read_text().split(), 32, 2.0, seconds)
            waiting = open_replies(settings)
            started = time.monotonic()
            worker = start_worker(settings, **backend, LIVE_PUBLISH_URL=site.publish_url)
            try:
                drained = replies_drained(settings, seconds=600)
                drain_s = time.monotonic() - started
            finally:
                worker.stop()
        with urllib.request.urlopen(f"{model_url}/stats", timeout=10) as answer:  # noqa: S310
            asked = json.loads(answer.read())["asked"]
    counts = psql(
        settings,
        "SELECT count(*), count(*) FILTER (WHERE r.attempt <> 1), "
        "count(*) FILTER (WHERE r.status <> 'done'), "
        "(SELECT count(*) FROM chat_message m WHERE NOT EXISTS "
        " (SELECT 1 FROM keeper_reply r2 WHERE r2.message_id = m.id)) "
        "FROM keeper_reply r JOIN chat_message m ON m.id = r.message_id "
        "WHERE m.body LIKE 'backlog player %'",
        settings.db_name,
    ).split("|")
    replies, claimed_again, not_done, without_reply = (int(count) for count in counts)
    return {
        "sent": len(sent),
        "send_errors": len(errors),
        "waiting_when_started": waiting,
        "drain_seconds": drain_s,
        "replies_per_second": waiting / drain_s if drain_s else None,
        "drained": drained,
        "replies": replies,
        "claimed_more_than_once": claimed_again,
        "not_done": not_done,
        "messages_without_a_reply": without_reply,
        "model_asked_more_than_once": sum(1 for n in asked.values() if n > 1),
        "model_requests": sum(asked.values()),
        "audit": audit(settings),
    }
