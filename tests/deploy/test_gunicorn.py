"""ChatPot as it runs in production: gunicorn, production settings, PostgreSQL and Redis,
whitenoise serving the collected static files."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.engine import Engine, engine_missing
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_database_url() -> str:
    """The test database, so what the server writes is what the test reads."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def fetch(url: str, *, data: dict | None = None, headers: dict | None = None):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{process.stdout.read()}")
        try:
            if fetch(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not answer /healthz in time")


def procfile() -> dict[str, list[str]]:
    """The Procfile's process types and their commands (with the environment a command
    sets itself, `NAME=value ...`, as a shell runs it)."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, command in (line.split(":", 1) for line in lines if ":" in line)
    }


def start(command: list[str], env: dict) -> subprocess.Popen:
    """A Procfile command, run from the repository root with this environment's tools."""
    while "=" in command[0]:  # NAME=value before the program: its environment
        name, value = command[0].split("=", 1)
        env = {**env, name: value}
        command = command[1:]
    program = Path(sys.executable).with_name(command[0])
    if command[0] == "python":
        program = Path(sys.executable)
    return subprocess.Popen(
        [str(program), *command[1:]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
    output = process.stdout.read()
    assert process.returncode == 0, output
    return output


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
    assert set(procfile()) == {"release", "web", "stream", "worker"}
    # manage.py alone runs as development: each command of it names production's settings.
    for name, command in procfile().items():
        if "manage.py" in command:
            assert command[0] == "DJANGO_SETTINGS_MODULE=chatpot_project.settings", name


@pytest.mark.parametrize(
    ("threads", "engine"),
    [(None, True), ("4", False)],
    ids=[
        "single-threaded workers, the streams held by the engine (the documented deployment)",
        "threaded workers (for a remote bot), the streams held by the stream process",
    ],
)
def test_the_procfile_processes_serve_the_app_with_production_settings(tmp_path, threads, engine):
    if engine and engine_missing():
        pytest.skip(engine_missing())
    web_port, stream_port = free_port(), free_port()
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
    # The proxy and engine of deploy/ in front of the web process, or the stream process
    # where there is no engine (the streams asked of it directly, as a router would).
    proxy = Engine(f"127.0.0.1:{web_port}", tmp_path / "proxy") if engine else None
    if proxy:
        env["LIVE_PUBLISH_URL"] = proxy.publish_url
    web = start(commands["web"], {**env, "PORT": str(web_port)})
    stream = None if proxy else start(commands["stream"], {**env, "PORT": str(stream_port)})
    worker = start(commands["worker"], env)
    base = f"http://127.0.0.1:{web_port}"
    streams = proxy.url if proxy else f"http://127.0.0.1:{stream_port}"
    try:
        wait_until_up(f"{base}/healthz", web)
        if stream:
            wait_until_up(f"{streams}/healthz", stream)
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
        # may listen), or on the stream process.
        events = read_stream(
            streams + result["message"]["reply_stream"],
            headers={"Authorization": f"Bearer {token}"},
            until="done",
        )
        done = events[-1][1]
        assert done["reply_status"] == "done"
        assert done["reply"]
        # The pot as the send left it, once the worker announced it (four times a second).
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
        running = [("web", web), ("stream", stream), ("worker", worker)]
        outputs = {name: stop(process) for name, process in running if process}
        if proxy:
            proxy.stop()
    assert f"Using worker: {'gthread' if threads else 'sync'}" in outputs["web"]
    if stream:
        assert "Using worker: chatpot_project.stream_worker.StreamWorker" in outputs["stream"]
    assert audit_ledger().clean
