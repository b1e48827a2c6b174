"""The benchmark's deployment: its settings, its database, and the processes it starts
as docs/OPERATIONS.md documents them (gunicorn, the worker, bin/proxy in front)."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BENCH = ROOT / "bench"

PYTHON = sys.executable

BIN = Path(sys.executable).parent

DB_NAME = "chatpot_bench"

PLAYERS = 200

READER = ("bench-reader", "bench-reader-password")


def log(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Build:
    """A checkout of ChatPot to run: its folder, and the Python of its own virtualenv."""

    root: Path
    python: str

    @property
    def bin(self) -> Path:
        return Path(self.python).parent


CURRENT = Build(ROOT, PYTHON)


@dataclass
class Settings:
    admin_url: str
    redis_url: str
    seconds: int
    runs: int
    levels: list[int]
    workers: int
    threads: int
    growth_players: int
    growth_messages: int
    heavy_messages: int
    skip: set[str]
    profile: bool
    audience: int
    build: Build = CURRENT  # whose code runs (the A/B mode runs another too)
    db_name: str = DB_NAME

    @property
    def database_url(self) -> str:
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path=f"/{self.db_name}"))

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
            "PYTHONPATH": str(self.build.root),
            "DEBUG": "0",
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnop",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "THROTTLE_RATES": "register=1000000/min,token=1000000/min,send=1000000/min",
            "JWT_ACCESS_MINUTES": "600",
            "GUNICORN_ACCESS_LOG": "",
            "WEB_CONCURRENCY": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            **extra,
        }


def run(command: list[str], settings: Settings, **extra) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command,
        cwd=settings.build.root,
        env=settings.env(**extra),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def manage(settings: Settings, *args: str, **extra) -> str:
    return run([settings.build.python, "manage.py", *args], settings, **extra).stdout


def fixtures(settings: Settings, *args: str) -> None:
    run([settings.build.python, "-m", "bench.fixtures", *args], settings)


def audit(settings: Settings) -> str:
    done = subprocess.run(
        [settings.build.python, "manage.py", "audit_ledger"],
        cwd=settings.build.root,
        env=settings.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    summary = (done.stdout + done.stderr).strip().splitlines()[-1]
    return ("clean" if done.returncode == 0 else "BREACH") + f" ({summary})"


def psql(settings: Settings, sql: str, database: str = "postgres") -> str:
    parts = urllib.parse.urlsplit(settings.admin_url)
    url = urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))
    # The statement goes in on standard input: it can be longer than a command line.
    done = subprocess.run(
        ["psql", url, "-qtA", "-v", "ON_ERROR_STOP=1"],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"psql failed: {done.stderr}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """The web process (WSGI), or with `app`/`config` the stream process (ASGI)."""

    def __init__(
        self,
        settings: Settings,
        app: str = "chatpot_project.wsgi",
        config: str = "gunicorn.conf.py",
        log_to: Path | None = None,
        **extra: str,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        output = log_to.open("w") if log_to else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(settings.build.bin / "gunicorn"), app, "--config", config],
            cwd=settings.build.root,
            env=settings.env(GUNICORN_BIND=f"127.0.0.1:{self.port}", **extra),
            stdout=output,
            stderr=subprocess.STDOUT if log_to else subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if request("GET", self.url + "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not start")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


class Background:
    """A process beside the servers (the worker, the fake model), stopped by its PID."""

    def __init__(
        self, command: list[str], settings: Settings, log_to: Path | None = None, **extra: str
    ):
        output = log_to.open("w") if log_to else subprocess.DEVNULL
        self.process = subprocess.Popen(
            command,
            cwd=settings.build.root,
            env=settings.env(**extra),
            stdout=output,
            stderr=subprocess.STDOUT if log_to else subprocess.DEVNULL,
        )

    def stop(self) -> None:
        stop_process(self.process)


def start_worker(settings: Settings, log_to: Path | None = None, **extra: str) -> Background:
    return Background(
        [settings.build.python, "manage.py", "run_worker"], settings, log_to, **extra
    )


@contextmanager
def serving(settings: Settings, *, worker: bool = True, **extra: str):
    """gunicorn with the production settings and, as in production, a worker writing the
    keeper's replies."""
    server = Gunicorn(settings, **extra)
    replies = start_worker(settings, **extra) if worker else None
    server.replies = replies
    try:
        yield server
    finally:
        server.stop()
        if replies:
            replies.stop()


def wait_for_port(port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


class Proxy:
    """The proxy and real-time engine of deploy/ (bin/proxy: nginx with nchan) in front of
    the web process; the app publishes to it at `publish_url`."""

    def __init__(self, settings: Settings, web: Gunicorn, publish_port: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(settings.build.root / "bin" / "proxy")],
            cwd=settings.build.root,
            env=settings.env(
                WEB_UPSTREAM=f"127.0.0.1:{web.port}",
                PROXY_PORT=str(self.port),
                PUBLISH_LISTEN=f"127.0.0.1:{publish_port}",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class Deployment:
    """ChatPot as docs/OPERATIONS.md deploys it: the Procfile's web and worker processes
    behind the proxy and real-time engine of deploy/, which holds the streams; `url` is
    the proxy's."""

    web: Gunicorn
    replies: "Background | None"
    proxy: Proxy

    publish_url: str = ""

    @property
    def url(self) -> str:
        return self.proxy.url

    def workers(self) -> list[int]:
        return self.web.workers()


@contextmanager
def deployed(settings: Settings, *, worker: bool = True, logs: Path | None = None, **extra: str):
    """`logs`: a folder for the web's and the worker's output (else it is dropped)."""
    publish_port = free_port()
    metrics = tempfile.mkdtemp(prefix="chatpot-bench-metrics-")
    extra = {
        "PROMETHEUS_MULTIPROC_DIR": metrics,  # as documented: one folder for the host
        **extra,
        "LIVE_PUBLISH_URL": f"http://127.0.0.1:{publish_port}/publish",
    }
    if logs:
        logs.mkdir(parents=True, exist_ok=True)
    web = Gunicorn(settings, log_to=logs / "web.log" if logs else None, **extra)
    replies = proxy = None
    try:
        replies = (
            start_worker(settings, logs / "worker.log" if logs else None, **extra)
            if worker
            else None
        )
        proxy = Proxy(settings, web, publish_port)
        yield Deployment(
            web=web, replies=replies, proxy=proxy, publish_url=extra["LIVE_PUBLISH_URL"]
        )
    finally:
        for process in (proxy, replies, web):
            if process is not None:
                process.stop()
        shutil.rmtree(metrics, ignore_errors=True)


def open_replies(settings: Settings) -> int:
    return int(
        psql(
            settings,
            "SELECT count(*) FROM keeper_reply WHERE status IN ('pending', 'streaming')",
            settings.db_name,
        )
    )


def replies_drained(settings: Settings, seconds: float = 120) -> str:
    """How many replies were still to write as the load ended, and how long the worker
    took to write them."""
    started, left = time.monotonic(), open_replies(settings)
    while open_replies(settings) and time.monotonic() - started < seconds:
        time.sleep(0.5)
    still = open_replies(settings)
    return f"{left} still to write, written in {time.monotonic() - started:.1f} s" + (
        f", {still} NOT written" if still else ""
    )


def request(method, url, body=None, headers=None, timeout=10):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(
            method,
            parts.path + ("?" + parts.query if parts.query else ""),
            body=body,
            headers=headers or {},
        )
        response = connection.getresponse()
        return response.status, response.read(), response
    finally:
        connection.close()
