"""ChatPot as it runs in production: gunicorn, production settings, PostgreSQL and Redis,
whitenoise serving the collected static files."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.deployment import fetch, procfile, start, stop, wait_until_up
from tests.engine import Engine, engine_missing, free_port
from tests.tools import missing
from wallet.audit import audit_ledger

ROOT = Path(__file__).resolve().parents[2]

NEEDS_POSTGRES_AND_REDIS = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres")
    or not os.environ.get("REDIS_URL"),
    reason="needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (as .ci/run does)",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    NEEDS_POSTGRES_AND_REDIS,
]


def server_database_url() -> str:
    """The test database, so what the server writes is what the test reads."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def read_stream(url: str, *, headers: dict | None = None, until: str, seconds: float = 15):
    """The server-sent events of `url` until one named `until`, as (name, data) pairs."""
    request = urllib.request.Request(url, headers=headers or {})
    events, name = [], None
    request.add_header("Accept", "text/event-stream")
    with urllib.request.urlopen(request, timeout=seconds) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
                if name == until:
                    return events
    raise AssertionError(f"the stream ended before {until}: {events}")


def test_the_procfile_names_every_process():
    assert set(procfile()) == {"release", "web", "worker"}
    # manage.py alone runs as development: each command of it names production's settings.
    for name, command in procfile().items():
        if "manage.py" in command:
            assert command[0] == "DJANGO_SETTINGS_MODULE=chatpot_project.settings", name


@pytest.mark.parametrize(
    "threads",
    [None, "4"],
    ids=["single-threaded workers (the documented deployment)", "threaded workers (a remote bot)"],
)
def test_the_procfile_processes_serve_the_app_with_production_settings(tmp_path, threads):
    if why := engine_missing():
        missing(why)
    web_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": "production-like-secret-key-for-the-gunicorn-test-0123456789",
        "DATABASE_URL": server_database_url(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_ROOT": str(tmp_path / "static"),
        "WEB_CONCURRENCY": "2",
    }
    if threads:
        env["GUNICORN_THREADS"] = threads
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stderr
    commands = procfile()
    # The proxy and engine of deploy/ in front of the web process.
    proxy = Engine(f"127.0.0.1:{web_port}", tmp_path / "proxy")
    env["LIVE_PUBLISH_URL"] = proxy.publish_url
    web = start(commands["web"], {**env, "PORT": str(web_port)})
    worker = start(commands["worker"], env)
    base = f"http://127.0.0.1:{web_port}"
    streams = proxy.url
    try:
        wait_until_up(f"{base}/healthz", web)
        status, _, body = fetch(f"{base}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok"})

        status, headers, page = fetch(f"{base}/")
        assert status == 200
        html = page.decode()
        assert "Every message could win the pot." in html
        assert "Content-Security-Policy" in headers
        assert headers.get("X-Content-Type-Options") == "nosniff"

        stylesheet = re.search(r'href="(/static/css/chatpot\.[0-9a-f]+\.css)"', html)
        assert stylesheet, "the page should link the hashed, collected stylesheet"
        status, headers, css = fetch(base + stylesheet.group(1))
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert "max-age" in headers.get("Cache-Control", "")
        assert b".win-card" in css

        status, _, registered = fetch(
            f"{base}/api/v1/auth/register",
            data={
                "username": f"prod-player-{threads or 1}",
                "password": "a-long-enough-passphrase",
            },
        )
        assert status == 201, registered
        token = json.loads(registered)["access"]
        status, _, sent = fetch(
            f"{base}/api/v1/messages",
            data={"body": "hello from production"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "prod-1"},
        )
        assert status == 201, sent
        result = json.loads(sent)
        assert result["balance"] == 95 + result["message"]["payout"]
        assert result["message"]["reply_status"] == "pending"

        # The reply, written by the worker, followed through the engine (Django saying who
        # may listen).
        events = read_stream(
            streams + result["message"]["reply_stream"],
            headers={"Authorization": f"Bearer {token}"},
            until="done",
        )
        done = events[-1][1]
        assert done["reply_status"] == "done"
        assert done["reply"]
        # The pot as the send left it, once the worker announced it (twice a second).
        deadline = time.monotonic() + 10
        while (pot := read_stream(f"{streams}/api/v1/events", until="pot")[-1]) != (
            "pot",
            result["pot"],
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pot == ("pot", result["pot"])
        # Another player's reply is not theirs to follow.
        status, _, other = fetch(
            f"{base}/api/v1/auth/register",
            data={"username": f"prod-other-{threads or 1}", "password": "a-long-enough-pass"},
        )
        assert status == 201, other
        status, _, refused = fetch(
            streams + result["message"]["reply_stream"],
            headers={"Authorization": f"Bearer {json.loads(other)['access']}"},
        )
        assert (status, json.loads(refused)["code"]) == (404, "not_found")

        status, _, _ = fetch(f"{base}/", headers={"Host": "evil.example.com"})
        assert status == 400  # ALLOWED_HOSTS holds in production
    finally:
        running = [("web", web), ("worker", worker)]
        outputs = {name: stop(process) for name, process in running if process}
        proxy.stop()
    assert f"Using worker: {'gthread' if threads else 'sync'}" in outputs["web"]
    assert audit_ledger().clean
