"""ChatPot's benchmark: load, live (model, backlog, audience), growth, scale-out and
faults, on PostgreSQL and Redis.

Run it with bin/bench (see the README). It builds its own database (chatpot_bench), starts
the deployment as docs/OPERATIONS.md documents it (gunicorn with the production settings,
a worker, and bin/proxy in front, holding the streams), drives POST /api/v1/messages
through the proxy with wrk from another process, and prints its figures; every scenario
ends with the ledger audit.
"""

import argparse
import asyncio
import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.live import (
    audience_figures,
    backlog_sends,
    model_scenario,
    run_audience,
    source_address,
)

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


# -- load with wrk ----------------------------------------------------------------------


@dataclass
class LoadFigures:
    connections: int
    messages_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    refused_402: int
    runs: int = 1
    audit: str = ""
    replies: str = ""


def wrk(url: str, connections: int, seconds: int, tokens: Path) -> LoadFigures:
    done = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(BENCH / "send.lua"),
            url,
        ],
        env={**os.environ, "TOKENS": str(tokens)},
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(re.findall(r"BENCH (\w+)=(\d+)", done.stdout))
    seconds_taken = int(values["duration_us"]) / 1e6
    errors = sum(
        int(values[k]) for k in values if k.startswith("errors_") and k != "errors_status"
    )
    return LoadFigures(
        connections=connections,
        messages_per_second=int(values["created"]) / seconds_taken,
        p50_ms=int(values["p50_us"]) / 1000,
        p90_ms=int(values["p90_us"]) / 1000,
        p99_ms=int(values["p99_us"]) / 1000,
        errors=errors + int(values["other"]),
        refused_402=int(values["refused"]),
    )


def median_of(runs: list[LoadFigures]) -> LoadFigures:
    return LoadFigures(
        connections=runs[0].connections,
        messages_per_second=statistics.median(r.messages_per_second for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p90_ms=statistics.median(r.p90_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        refused_402=sum(r.refused_402 for r in runs),
        runs=len(runs),
    )


def load_levels(settings: Settings, server: Gunicorn, tokens: Path, levels) -> list[LoadFigures]:
    results = []
    for connections in levels:
        runs = [
            wrk(server.url, connections, settings.seconds, tokens) for _ in range(settings.runs)
        ]
        figures = median_of(runs)
        figures.replies = replies_drained(settings)
        figures.audit = audit(settings)
        results.append(figures)
        log(
            f"  {connections:>4} connections: {figures.messages_per_second:7.1f} msg/s  "
            f"p50 {figures.p50_ms:6.1f} ms  p90 {figures.p90_ms:6.1f} ms  "
            f"p99 {figures.p99_ms:6.1f} ms  errors {figures.errors}  402s {figures.refused_402}"
            f"  audit {figures.audit.split(' ')[0]}  replies: {figures.replies}"
        )
    return results


def profile(server: Gunicorn, settings: Settings, tokens: Path, output: Path) -> None:
    spy = shutil.which("py-spy") or str(BIN / "py-spy")
    worker = server.workers()[0]
    load = threading.Thread(target=wrk, args=(server.url, 32, settings.seconds + 4, tokens))
    load.start()
    time.sleep(2)
    subprocess.run(
        [
            spy,
            "record",
            "--pid",
            str(worker),
            "--duration",
            str(settings.seconds),
            "--output",
            str(output),
            "--nonblocking",
        ],
        capture_output=True,
        check=False,
    )
    load.join()
    log(f"  profile of one worker under 32 connections: {output}")


# -- the database's own ceiling ---------------------------------------------------------


def pgbench_ceiling(settings: Settings, connections: int) -> float:
    first, last = psql(
        settings,
        "SELECT min(id), max(id) FROM accounts_user "
        "WHERE username LIKE 'bench%' AND username <> 'bench-operator' "
        "AND username <> 'bench-reader'",
        settings.db_name,
    ).split("|")
    done = subprocess.run(
        [
            "pgbench",
            "-n",
            "--protocol=prepared",
            "-f",
            str(BENCH / "settle.sql"),
            "-c",
            str(connections),
            "-j",
            "2",
            "-T",
            str(settings.seconds),
            "-D",
            f"first_player={first}",
            "-D",
            f"last_player={last}",
            settings.database_url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    if not match:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


# -- pages for one player ---------------------------------------------------------------


def page_latency(url: str, username: str, password: str, samples: int = 100) -> dict:
    """Median and p90 of the chat and wallet pages for a signed-in player, in ms."""
    status, _, response = request("GET", url + "/accounts/login/")
    cookies = {
        c.split("=", 1)[0]: c.split(";")[0].split("=", 1)[1]
        for c in response.headers.get_all("Set-Cookie") or []
    }
    csrf = cookies["csrftoken"]
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
    )
    status, _, response = request(
        "POST",
        url + "/accounts/login/",
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "Referer": url + "/accounts/login/",
        },
    )
    session = next(
        c.split(";")[0]
        for c in response.headers.get_all("Set-Cookie")
        if c.startswith("sessionid=")
    )
    figures = {}
    for page in ("/chat/", "/wallet/"):
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            status, _, _ = request("GET", url + page, headers={"Cookie": session})
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"{page} answered {status}")
        times.sort()
        figures[page] = {
            "median_ms": statistics.median(times),
            "p90_ms": times[int(len(times) * 0.9) - 1],
        }
    return figures


# -- live: a model that streams, an audience that watches -------------------------------


def model_runs(settings: Settings, static: Path, tokens: Path) -> list[dict]:
    """Players chatting with a model that streams 60 words over 2 s (bench/fake_model.py),
    each sending again as soon as its reply is done."""
    port = free_port()
    model = Background(
        [PYTHON, "-m", "bench.fake_model", "--port", str(port), "--words", "60", "--seconds", "2"],
        settings,
    )
    wait_for_port(port)
    model_url = f"http://127.0.0.1:{port}"
    backend = {
        "CHATBOT_BACKEND": "openai",
        "CHATBOT_BASE_URL": model_url,
        "CHATBOT_MODEL": "bench",
        "STATIC_ROOT": str(static),
    }
    results = []
    try:
        with deployed(settings, **backend) as site:
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
    finally:
        model.stop()
    return results


def backlog_run(settings: Settings, static: Path, tokens: Path, seconds: float) -> dict:
    """The worker stopped while 32 players send, each a message every 2 s (a model's
    pace); then started: how fast it writes the backlog, and whether each reply was
    written once (one claim, one model request) and none was left."""
    port = free_port()
    model = Background(
        [PYTHON, "-m", "bench.fake_model", "--port", str(port), "--words", "60", "--seconds", "2"],
        settings,
    )
    wait_for_port(port)
    model_url = f"http://127.0.0.1:{port}"
    backend = {
        "CHATBOT_BACKEND": "openai",
        "CHATBOT_BASE_URL": model_url,
        "CHATBOT_MODEL": "bench",
        "STATIC_ROOT": str(static),
    }
    try:
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
    finally:
        model.stop()
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


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def process_groups(**named) -> dict[str, list[int]]:
    """Each group's PIDs: servers by their workers, others by their own PID; with the
    database's and Redis's processes, and the benchmark's own."""
    groups = {}
    for name, process in named.items():
        groups[name] = process.workers() if hasattr(process, "workers") else [process.pid]
    for name, pattern in (("postgres", "postgres"), ("redis", "redis-server")):
        found = subprocess.run(["pgrep", pattern], capture_output=True, text=True, check=False)
        groups[name] = [int(pid) for pid in found.stdout.split()]
    groups["benchmark"] = [os.getpid()]
    return groups


@contextmanager
def cpu_per_message(groups: dict[str, list[int]], into: dict):
    """CPU milliseconds per message of each group, over the block: `into["messages"]`
    messages, set by the block."""
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    yield
    messages = max(1, into.get("messages", 0))
    into["cpu_ms_per_message"] = {
        name: round((cpu_seconds(pids) - before[name]) * 1000 / messages, 2)
        for name, pids in groups.items()
    }


def memory_kb(pids: list[int]) -> int:
    """The resident memory of the processes."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def audience_run(settings: Settings, static: Path, tokens: Path, clients: int) -> dict:
    """`clients` watching GET /api/v1/events while 32 connections send with the built-in
    keeper."""
    with deployed(settings, STATIC_ROOT=str(static)) as site:
        groups = process_groups(web=site.web, worker=site.replies.process, proxy=site.proxy)
        holders = {name: pids for name, pids in groups.items() if name != "benchmark"}
        alone = wrk(site.url, 32, settings.seconds, tokens)  # the same load, nobody watching
        idle_kb = {name: memory_kb(pids) for name, pids in holders.items()}
        started = time.time()
        load: dict = {}

        def send_while_watched():
            load["memory_kb"] = {name: memory_kb(pids) for name, pids in holders.items()}
            with cpu_per_message(groups, load):
                load["figures"] = wrk(site.url, 32, settings.seconds, tokens)
                load["messages"] = load["figures"].messages_per_second * settings.seconds

        watchers = run_audience(f"{site.url}/api/v1/events", clients, send_while_watched)
    wins = {
        int(number): float(at)
        for number, at in (
            line.split("|")
            for line in psql(
                settings,
                "SELECT number, extract(epoch FROM closed_at) FROM pot_round "
                f"WHERE outcome = 'won' AND closed_at > to_timestamp({started})",
                settings.db_name,
            ).splitlines()
        )
    }
    pots = sorted(
        (float(at), int(number), int(amount))
        for at, number, amount in (
            line.split("|")
            for line in psql(
                settings,
                "SELECT extract(epoch FROM m.created_at), r.number, m.pot_after "
                "FROM chat_message m JOIN pot_round r ON r.id = m.round_id "
                f"WHERE m.created_at > to_timestamp({started}) AND NOT m.won "
                "UNION ALL SELECT extract(epoch FROM closed_at), number + 1, 0 FROM pot_round "
                f"WHERE outcome = 'won' AND closed_at > to_timestamp({started})",
                settings.db_name,
            ).splitlines()
        )
    )
    figures = audience_figures(watchers, wins, pots)
    sent = load["figures"]
    connected = max(1, figures["connected"])
    figures.update(
        messages_per_second=sent.messages_per_second,
        messages_per_second_alone=alone.messages_per_second,
        send_p99_ms=sent.p99_ms,
        send_errors=sent.errors + alone.errors,
        memory_per_connection_kb={
            name: round((load["memory_kb"][name] - idle_kb[name]) / connected, 2)
            for name in idle_kb
        },
        cpu_ms_per_message=load["cpu_ms_per_message"],
        replies=replies_drained(settings),
        audit=audit(settings),
    )
    return figures


# -- hostile clients: streams and half-open requests, nobody signed in -------------------


def answer_times(url: str, tokens: list[str], samples: int, seconds: float = 0) -> dict:
    """/healthz and a player's send (players in turn), one after another, `samples` each
    (and on for `seconds`, if longer): p50 and p99 in ms, and any answer that was not the
    usual one."""
    times: dict[str, list[float]] = {"healthz": [], "send": []}
    unusual = []
    until = time.monotonic() + seconds
    sample = 0
    while sample < samples or time.monotonic() < until:
        sample += 1
        token = tokens[sample % len(tokens)]
        for name, method, path, body, expected in (
            ("healthz", "GET", "/healthz", None, 200),
            ("send", "POST", "/api/v1/messages", json.dumps({"body": "still there?"}), 201),
        ):
            started = time.perf_counter()
            try:
                status, _, _ = request(
                    method,
                    url + path,
                    body,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                )
            except OSError as error:
                status = repr(error)
            times[name].append((time.perf_counter() - started) * 1000)
            if status != expected:
                unusual.append(f"{name}: {status}")
    figures = {}
    for name, measured in times.items():
        measured.sort()
        figures[f"{name}_p50_ms"] = round(statistics.median(measured), 1)
        figures[f"{name}_p99_ms"] = round(measured[max(0, int(len(measured) * 0.99) - 1)], 1)
    figures["unusual"] = unusual
    return figures


async def _hostile(port: int, streams: int, half_open: int, one_address: int) -> dict:
    """Open `streams` event streams from many addresses, `one_address` more from a single
    one, and `half_open` requests that never finish their head; what each was answered."""
    held: list = []
    answered: dict[str, int] = {}

    async def stream(source: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        line = await reader.readline()
        status = line.split()[1].decode() if line else "closed"
        answered[status] = answered.get(status, 0) + 1
        held.append(writer)

    async def half(source: str):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        held.append(writer)
        return reader

    for start in range(0, streams, 200):
        await asyncio.gather(
            *(stream(source_address(i)) for i in range(start, min(streams, start + 200)))
        )
    from_one = dict(answered)
    answered.clear()
    await asyncio.gather(*(stream("127.254.0.1") for _ in range(one_address)))
    readers = []
    for start in range(0, half_open, 200):
        readers += await asyncio.gather(
            *(half(source_address(i)) for i in range(start, min(half_open, start + 200)))
        )
    return {"many": from_one, "one_address": dict(answered), "held": held, "half": readers}


def hostile_run(settings: Settings, static: Path, tokens: Path) -> dict:
    """2,000 anonymous event streams (from 100 addresses), 200 more from one address and
    1,000 half-open requests against the deployment, and meanwhile /healthz and a player's
    send, set against the same with nobody there."""
    players = tokens.read_text().split()
    figures: dict = {}
    with deployed(settings, STATIC_ROOT=str(static)) as site:
        answer_times(site.url, players, 20)  # warm up; not counted
        figures["alone"] = answer_times(site.url, players, 200)
        loop = asyncio.new_event_loop()
        opened = loop.run_until_complete(_hostile(site.proxy.port, 2000, 1000, 200))
        figures["streams_from_many"] = opened["many"]
        figures["streams_from_one_address"] = opened["one_address"]
        figures["under_attack"] = answer_times(site.url, players, 200)

        async def closed_half_open(seconds: float) -> int:
            async def closed(reader) -> bool:
                try:
                    return await asyncio.wait_for(reader.read(), seconds) == b""
                except ConnectionResetError:
                    return True
                except TimeoutError:
                    return False

            return sum(await asyncio.gather(*(closed(reader) for reader in opened["half"])))

        figures["half_open_closed_within_15_s"] = loop.run_until_complete(closed_half_open(15))
        for writer in opened["held"]:
            writer.close()
        loop.run_until_complete(asyncio.sleep(0.5))
        loop.close()
        # Clients that come back from before the first round (Last-Event-ID: 0) on a long
        # history, a few a second, and meanwhile /healthz and a player's send.
        rounds = int(psql(settings, "SELECT max(number) FROM pot_round", settings.db_name) or 0)
        if rounds < COMEBACK_ROUNDS:
            fixtures(settings, "rounds", str(COMEBACK_ROUNDS - rounds))
        figures["comebacks"] = {}
        for per_second in (2, 5):
            flood = ComebackFlood(site.url, per_second)
            figures["comebacks"][per_second] = {
                "meanwhile": answer_times(site.url, players, 100, seconds=COMEBACK_SECONDS),
                **flood.stop(),
            }
    figures["audit"] = audit(settings)
    return figures


COMEBACK_ROUNDS = 20_000
COMEBACK_SECONDS = 15


class ComebackFlood:
    """`per_second` clients a second on the events with Last-Event-ID: 0, each read until
    its answer ends (or 10 s); how long each took, and what it was answered."""

    def __init__(self, url: str, per_second: int):
        self.url, self.per_second = url, per_second
        self.stopping = threading.Event()
        self.times: list[float] = []
        self.answers: collections.Counter = collections.Counter()
        self.sizes: list[int] = []
        self.threads: list[threading.Thread] = []
        self.firing = threading.Thread(target=self._fire, daemon=True)
        self.firing.start()

    def _fire(self) -> None:
        while not self.stopping.wait(1 / self.per_second):
            comer = threading.Thread(target=self._come_back, daemon=True)
            comer.start()
            self.threads.append(comer)

    def _come_back(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        started = time.perf_counter()
        received = b""
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(
                    f"GET /api/v1/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    "Accept: text/event-stream\r\nLast-Event-ID: 0\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                while chunk := sock.recv(65536):
                    received += chunk
            status = received.split(b" ", 2)[1].decode() if received else "none"
        except OSError as error:
            status = type(error).__name__
        self.times.append((time.perf_counter() - started) * 1000)
        self.answers[status] += 1
        self.sizes.append(len(received))

    def stop(self) -> dict:
        self.stopping.set()
        self.firing.join()
        for comer in self.threads:
            comer.join(15)
        times = sorted(self.times)
        return {
            "comebacks": len(times),
            "answered": dict(self.answers),
            "p50_ms": round(statistics.median(times), 1) if times else None,
            "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)], 1) if times else None,
            "bytes_max": max(self.sizes, default=0),
        }


# -- a client that retries with its idempotency key -------------------------------------


@dataclass
class Sends:
    acknowledged: dict[str, int] = field(default_factory=dict)  # key -> message id
    given_up: list[str] = field(default_factory=list)
    retries: int = 0


def retrying_clients(urls: list[str], tokens: list[str], seconds: float, threads: int) -> Sends:
    """Threads sending messages, each with a fresh Idempotency-Key, retried with the same key
    on any connection error or 5xx until it is acknowledged."""
    sends = Sends()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        token = tokens[index % len(tokens)]
        while time.monotonic() < stop:
            key = uuid.uuid4().hex
            for attempt in range(40):
                url = urls[(index + attempt) % len(urls)]
                try:
                    status, body, _ = request(
                        "POST",
                        url + "/api/v1/messages",
                        json.dumps({"body": "fault test"}),
                        {
                            "Content-Type": "application/json",
                            "Authorization": f"Bearer {token}",
                            "Idempotency-Key": key,
                        },
                        timeout=10,
                    )
                except OSError:
                    status = None
                if status == 201:
                    with lock:
                        sends.acknowledged[key] = json.loads(body)["message"]["id"]
                    break
                with lock:
                    sends.retries += 1
                time.sleep(0.05 * (attempt + 1))
            else:
                sends.given_up.append(key)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sends


def check_sends(settings: Settings, sends: Sends) -> str:
    """Every acknowledged key has exactly its one message, charged once."""
    keys = list(sends.acknowledged)
    if not keys:
        return "no sends"
    rows = psql(
        settings,
        "SELECT m.idempotency_key, m.id, (SELECT count(*) FROM wallet_transfer t "
        "WHERE t.message_id = m.id AND t.kind = 'message_fee') FROM chat_message m "
        "WHERE m.idempotency_key IN (" + ",".join(f"'{k}'" for k in keys) + ")",
        settings.db_name,
    )
    stored = {}
    for line in rows.splitlines():
        key, message_id, fees = line.split("|")
        stored.setdefault(key, []).append((int(message_id), int(fees)))
    lost = [k for k in keys if k not in stored]
    doubled = [k for k, found in stored.items() if len(found) != 1 or found[0][1] != 1]
    mismatched = [k for k in keys if k in stored and stored[k][0][0] != sends.acknowledged[k]]
    verdict = "ok" if not (lost or doubled or mismatched or sends.given_up) else "FAILED"
    return (
        f"{verdict}: {len(keys)} messages acknowledged, {sends.retries} retries, "
        f"{len(lost)} lost, {len(doubled)} charged twice, {len(mismatched)} mismatched, "
        f"{len(sends.given_up)} given up"
    )


def disconnect_and_retry(url: str, token: str, times: int) -> Sends:
    """Send, hang up before the answer, then retry with the same key."""
    sends = Sends()
    parts = urllib.parse.urlsplit(url)
    for _ in range(times):
        key = uuid.uuid4().hex
        body = json.dumps({"body": "hanging up"}).encode()
        with socket.create_connection((parts.hostname, parts.port)) as raw:
            raw.sendall(
                b"POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nAuthorization: Bearer "
                + token.encode()
                + b"\r\nIdempotency-Key: "
                + key.encode()
                + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
        time.sleep(0.01)
        status, answer, _ = request(
            "POST",
            url + "/api/v1/messages",
            body,
            {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": key,
            },
        )
        if status == 201:
            sends.acknowledged[key] = json.loads(answer)["message"]["id"]
        else:
            sends.given_up.append(key)
    return sends


# -- the run ----------------------------------------------------------------------------


METRICS_TOKEN = "bench-metrics-token-0123456789abcdef"  # noqa: S105 - a throwaway


def scraping(url: str, every: float, stop: threading.Event, statuses: list[int]) -> None:
    """/metrics read every `every` seconds, as Prometheus does, each status kept."""
    while not stop.wait(every):
        statuses.append(
            request("GET", url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})[0]
        )


# The operator's tools, each measured against its absence (scenario: the configurations
# it alternates). "direct, nothing prepared" tells the pooler's two costs apart: the send's
# statements planned on every run, and the hop through PgBouncer.
OPERATIONS = {
    "metrics": ("metrics off", "metrics on, scraped"),
    "logs": ("warnings only", "production's logs"),
    "pooler": ("direct", "direct, nothing prepared", "pgbouncer"),
}


def operations_run(
    settings: Settings, static: Path, tokens: Path, work: Path, scenarios: list[str]
) -> dict:
    """The send at 32 connections with each of the operator's tools and without, in one
    run, runs alternating (A B, B A, ...) so the machine's drift falls on each: metrics off,
    and on with /metrics scraped every 5 s; warnings only, and production's logs (JSON
    lines at INFO, gunicorn's access log); straight to PostgreSQL (with the send's statements
    prepared, and without), and through PgBouncer in transaction mode (bin/pooler).
    Production's logs and metrics wherever the scenario is not about them. The logs are
    kept, then searched for every secret the run used."""
    server = urllib.parse.urlsplit(settings.admin_url)
    address = f"{server.hostname or '127.0.0.1'}:{server.port or 5432}"
    pooler_port = free_port()
    started = subprocess.run(
        [str(ROOT / "bin" / "pooler"), "-d"],
        env={
            **os.environ,
            "POOLER_SERVER": address,
            "POOLER_LISTEN": f"127.0.0.1:{pooler_port}",
            # A folder of its own: PgBouncer runs as the database's user, not this one.
            "POOLER_RUN_DIR": tempfile.mkdtemp(prefix="chatpot-bench-pooler-"),
            # As many server connections as the direct run's processes open at most.
            "POOLER_POOL_SIZE": str(settings.workers * 2 + 4),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    pooler_pid = int(started.stdout.split()[-1])
    through = urllib.parse.urlunsplit(
        urllib.parse.urlsplit(settings.database_url)._replace(
            netloc=f"{server.username or 'postgres'}@127.0.0.1:{pooler_port}"
        )
    )
    production = {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "GUNICORN_ACCESS_LOG": "-",
        "METRICS": "1",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    configurations = {
        "metrics off": {"METRICS": "0"},
        "metrics on, scraped": {},
        "warnings only": {"LOG_LEVEL": "WARNING", "GUNICORN_ACCESS_LOG": ""},
        "production's logs": {},
        "direct": {},
        "direct, nothing prepared": {"DATABASE_POOLER": "transaction"},
        "pgbouncer": {
            "DATABASE_URL": through,
            "DATABASE_POOLER": "transaction",
            "DATABASE_LISTEN_ADDRESS": address,
        },
    }
    groups = [OPERATIONS[scenario] for scenario in scenarios]
    runs: dict[str, list[LoadFigures]] = {name: [] for group in groups for name in group}
    scrapes: list[int] = []
    try:
        wait_for_port(pooler_port)
        for group in groups:
            for index in range(settings.runs):
                for name in group if index % 2 == 0 else reversed(group):
                    logs = work / "logs" / f"{re.sub(r'[^a-z]+', '-', name)}-{index}"
                    with deployed(
                        settings,
                        logs=logs,
                        STATIC_ROOT=str(static),
                        **{**production, **configurations[name]},
                    ) as deployment:
                        stop = threading.Event()
                        scraped: list[int] = []
                        scraper = None
                        if "scraped" in name:
                            scraper = threading.Thread(
                                target=scraping,
                                args=(deployment.web.url + "/metrics", 5, stop, scraped),
                            )
                            scraper.start()
                        runs[name].append(wrk(deployment.url, 32, settings.seconds, tokens))
                        stop.set()
                        if scraper:
                            scraper.join()
                            scrapes.extend(scraped)
                        replies_drained(settings)
    finally:
        os.kill(pooler_pid, signal.SIGTERM)
    figures = {name: asdict(median_of(found)) for name, found in runs.items()}
    secrets = secrets_in_logs(work / "logs", settings, tokens)
    return {
        "figures": figures,
        "scrapes": scrapes,
        "secrets_in_logs": secrets,
        "log_lines": sum(
            len(path.read_text().splitlines()) for path in (work / "logs").rglob("*.log")
        ),
        "audit": audit(settings),
    }


def secrets_in_logs(folder: Path, settings: Settings, tokens: Path) -> list[str]:
    """Which of the run's secrets (the key, the metrics token, every player's token and
    the reader's password) any process logged: their first characters only."""
    env = settings.env()
    secrets = [
        env["SECRET_KEY"],
        METRICS_TOKEN,
        READER[1],
        *(line.strip() for line in tokens.read_text().splitlines() if line.strip()),
    ]
    logged = "\n".join(path.read_text() for path in folder.rglob("*.log"))
    found = [secret[:12] for secret in secrets if secret in logged]
    if "Bearer " in logged:
        found.append("Bearer ")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--seconds", type=int, default=10, help="per load run")
    parser.add_argument("--runs", type=int, default=3, help="runs per level; medians are shown")
    parser.add_argument("--levels", default="1,8,32,128")
    # gunicorn.conf.py's defaults: a single-threaded process per core.
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--growth-players", type=int, default=100_000)
    parser.add_argument("--growth-messages", type=int, default=1_000_000)
    parser.add_argument("--heavy-messages", type=int, default=10_000)
    parser.add_argument(
        "--skip",
        default="",
        help="comma list: metrics,logs,pooler,model,backlog,audience,hostile,growth,scale,faults",
    )
    parser.add_argument(
        "--backlog-seconds", type=int, default=90, help="how long the worker is stopped"
    )
    parser.add_argument("--audience", type=int, default=10_000, help="clients watching the pot")
    parser.add_argument("--profile", action="store_true", help="py-spy a worker at 32 conns")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="send the load straight to gunicorn, not through the proxy (to compare)",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="only the send at 32 connections, this checkout against REV, alternated",
    )
    parser.add_argument("--pairs", type=int, default=5, help="A/B pairs with --against")
    args = parser.parse_args()
    settings = Settings(
        admin_url=args.admin_url,
        redis_url=args.redis_url,
        seconds=args.seconds,
        runs=args.runs,
        levels=[int(x) for x in args.levels.split(",")],
        workers=args.workers,
        threads=args.threads,
        growth_players=args.growth_players,
        growth_messages=args.growth_messages,
        heavy_messages=args.heavy_messages,
        skip=set(filter(None, args.skip.split(","))),
        profile=args.profile,
        audience=args.audience,
    )
    for tool in ("wrk", "pgbench", "psql"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install wrk postgresql-client")

    if args.against:
        from bench.ab import against

        found = against(settings, args.against, max(1, args.pairs))
        (BENCH / "results").mkdir(exist_ok=True)
        output = BENCH / "results" / f"ab-{time.strftime('%Y%m%d-%H%M%S')}.json"
        output.write_text(json.dumps(found, indent=2) + "\n")
        log(f"\nFigures saved to {output.relative_to(ROOT)}")
        return

    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report: dict = {
        "when": stamp,
        "settings": {k: v for k, v in asdict(settings).items() if k != "skip"},
    }
    work = Path(tempfile.mkdtemp(prefix="chatpot-bench-"))
    tokens = work / "tokens.txt"
    static = work / "static"

    log(f"Preparing {DB_NAME}: {PLAYERS} players with ample credits")
    psql(settings, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(settings, f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        ["redis-cli", "-u", settings.redis_url, "flushdb"], capture_output=True, check=False
    )
    manage(settings, "migrate", "--no-input")
    manage(settings, "collectstatic", "--no-input", STATIC_ROOT=str(static))
    fixtures(settings, "players", str(PLAYERS), str(tokens))
    fixtures(settings, "reader", *READER, "50")

    with deployed(settings, STATIC_ROOT=str(static)) as server:
        log(
            f"Load: POST /api/v1/messages through the proxy, {settings.runs} x "
            f"{settings.seconds} s per level, gunicorn {settings.workers} workers x "
            f"{settings.threads} threads, the worker writing the replies beside"
        )
        levels = load_levels(
            settings, server.web if args.direct else server, tokens, settings.levels
        )
        report["levels"] = [asdict(figures) for figures in levels]
        pages = page_latency(server.url, *READER)
        report["pages_empty"] = pages
        log(
            f"  pages (player with 50 messages): chat {pages['/chat/']['median_ms']:.1f} ms, "
            f"wallet {pages['/wallet/']['median_ms']:.1f} ms (medians)"
        )
        if settings.profile:
            profile(server, settings, tokens, results_dir / f"profile-{stamp}.svg")

    log("Ceiling: the same settlement transaction through pgbench, 32 connections")
    ceiling = pgbench_ceiling(settings, 32)
    app_32 = next((f.messages_per_second for f in levels if f.connections == 32), None)
    report["ceiling"] = {
        "pgbench_tps_32": ceiling,
        "app_32": app_32,
        "ratio": app_32 / ceiling if app_32 else None,
        "audit": audit(settings),
    }
    log(
        f"  pgbench {ceiling:.0f} tps; app {app_32 or 0:.0f} msg/s = "
        f"{(app_32 or 0) / ceiling:.0%} of the ceiling; audit {report['ceiling']['audit']}"
    )

    if scenarios := [name for name in OPERATIONS if name not in settings.skip]:
        log(
            f"Operations: 32 connections, {settings.runs} x {settings.seconds} s each, "
            "alternating: " + "; ".join(" / ".join(OPERATIONS[name]) for name in scenarios)
        )
        ops = operations_run(settings, static, tokens, work, scenarios)
        report["operations"] = ops
        for name, found in ops["figures"].items():
            log(
                f"  {name:>20}: {found['messages_per_second']:7.1f} msg/s  "
                f"p50 {found['p50_ms']:6.1f} ms  p99 {found['p99_ms']:6.1f} ms  "
                f"errors {found['errors']}"
            )
        log(
            f"  scrapes: {len(ops['scrapes'])} ({set(ops['scrapes'])}); "
            f"{ops['log_lines']} log lines, secrets in them: {ops['secrets_in_logs'] or 'none'}; "
            f"audit {ops['audit'].split(' ')[0]}"
        )

    if "model" not in settings.skip:
        log("Model: players chat with a model streaming 60 words over 2 s")
        report["model"] = model_runs(settings, static, tokens)

    if "backlog" not in settings.skip:
        log(
            f"Backlog: the worker stopped {args.backlog_seconds} s while 32 players send a "
            "message every 2 s each, then started (a model streaming 60 words over 2 s)"
        )
        backlog = backlog_run(settings, static, tokens, args.backlog_seconds)
        report["backlog"] = backlog
        log(
            f"  {backlog['sent']} sent ({backlog['send_errors']} errors); "
            f"{backlog['waiting_when_started']} waiting, written in "
            f"{backlog['drain_seconds']:.1f} s ({backlog['replies_per_second']:.1f} replies/s); "
            f"claimed more than once {backlog['claimed_more_than_once']}, model asked more "
            f"than once {backlog['model_asked_more_than_once']} (of "
            f"{backlog['model_requests']} requests), not done {backlog['not_done']}, without "
            f"a reply {backlog['messages_without_a_reply']}; audit "
            f"{backlog['audit'].split(' ')[0]}"
        )

    if "audience" not in settings.skip:
        log(
            f"Audience: {settings.audience} clients on GET /api/v1/events while 32 "
            "connections send with the built-in keeper"
        )
        watched = audience_run(settings, static, tokens, settings.audience)
        report["audience"] = watched
        log(
            f"  {watched['connected']}/{watched['clients']} connected; sending "
            f"{watched['messages_per_second']:.0f} msg/s, "
            f"{watched['messages_per_second'] / watched['messages_per_second_alone']:.0%} of "
            f"the {watched['messages_per_second_alone']:.0f} sent with nobody watching "
            f"(p99 {watched['send_p99_ms']:.0f} "
            f"ms, errors {watched['send_errors']}); {watched['wins']} wins, heard p50 "
            f"{watched['win_heard_p50_ms']:.0f} ms p99 {watched['win_heard_p99_ms']:.0f} ms "
            f"(by its first client p50 {watched['win_first_heard_p50_ms']:.0f} ms p99 "
            f"{watched['win_first_heard_p99_ms']:.0f} ms), "
            f"{watched['wins_missed']} missed; pot shown p50 {watched['pot_age_p50_ms']:.0f} "
            f"ms p99 {watched['pot_age_p99_ms']:.0f} ms old, "
            f"{watched['pot_events_per_client_per_second']:.1f} pot events/s a client; "
            f"KB per connection: {watched['memory_per_connection_kb']}; replies: "
            f"{watched['replies']}; audit {watched['audit'].split(' ')[0]}"
        )
        log(f"  CPU ms per message: {watched['cpu_ms_per_message']}")

    if "hostile" not in settings.skip:
        log(
            "Hostile: 2,000 anonymous event streams from 100 addresses, 200 from one address "
            "and 1,000 half-open requests, through the proxy; /healthz and a player's send "
            "meanwhile, against nobody there"
        )
        hostile = hostile_run(settings, static, tokens)
        report["hostile"] = hostile
        alone, attacked = hostile["alone"], hostile["under_attack"]
        log(
            f"  streams from 100 addresses: {hostile['streams_from_many']}; from one: "
            f"{hostile['streams_from_one_address']}; half-open closed within 15 s: "
            f"{hostile['half_open_closed_within_15_s']}/1000"
        )
        log(
            f"  /healthz p50 {alone['healthz_p50_ms']} / p99 {alone['healthz_p99_ms']} ms alone, "
            f"{attacked['healthz_p50_ms']} / {attacked['healthz_p99_ms']} ms meanwhile; send "
            f"p50 {alone['send_p50_ms']} / p99 {alone['send_p99_ms']} ms alone, "
            f"{attacked['send_p50_ms']} / {attacked['send_p99_ms']} ms meanwhile; unusual "
            f"answers {len(alone['unusual']) + len(attacked['unusual'])}; audit "
            f"{hostile['audit'].split(' ')[0]}"
        )
        for per_second, flood in hostile["comebacks"].items():
            meanwhile = flood["meanwhile"]
            log(
                f"  comebacks from round 0 ({COMEBACK_ROUNDS:,} rounds), {per_second} a second: "
                f"{flood['comebacks']} answered {flood['answered']} in p50 {flood['p50_ms']} / "
                f"p99 {flood['p99_ms']} ms, at most {flood['bytes_max']} bytes; /healthz p99 "
                f"{meanwhile['healthz_p99_ms']} ms, send p99 {meanwhile['send_p99_ms']} ms "
                f"meanwhile; unusual answers {len(meanwhile['unusual'])}"
            )

    if "growth" not in settings.skip:
        log(
            f"Growth: bulk-loading {settings.growth_players} players, "
            f"{settings.growth_messages} messages, {settings.heavy_messages} more for "
            f"{READER[0]}"
        )
        started = time.monotonic()
        fixtures(
            settings,
            "history",
            str(settings.growth_players),
            str(settings.growth_messages),
            READER[0],
            str(settings.heavy_messages),
        )
        counts = psql(
            settings,
            "SELECT (SELECT count(*) FROM accounts_user), "
            "(SELECT count(*) FROM chat_message), (SELECT count(*) FROM wallet_transfer), "
            f"(SELECT count(*) FROM chat_message m JOIN accounts_user u ON "
            f"u.id = m.player_id WHERE u.username = '{READER[0]}')",
            settings.db_name,
        )
        log(
            f"  loaded in {time.monotonic() - started:.0f} s: players, messages, transfers, "
            f"reader's messages = {counts.replace('|', ', ')}; audit {audit(settings)}"
        )
        with serving(settings, STATIC_ROOT=str(static)) as server:
            wrk(server.url, 32, settings.seconds, tokens)  # warm the caches; not counted
            grown = load_levels(settings, server, tokens, [32])[0]
            pages_grown = page_latency(server.url, *READER)
            # And, at the same moment, a player of the load with a short history.
            pages_beside = page_latency(server.url, "bench0", "bench-password-0")
        # This machine's speed drifts by 15 % and more over minutes (the database's own
        # ceiling with it): each run is also set against the ceiling measured beside it.
        ceiling_grown = pgbench_ceiling(settings, 32)
        report["growth"] = {
            "counts": counts,
            "load_32": asdict(grown),
            "pages": pages_grown,
            "pages_short_history": pages_beside,
            "pgbench_tps_32": ceiling_grown,
        }
        empty_32 = (
            next(f for f in levels if f.connections == 32) if 32 in settings.levels else None
        )
        for name, before, after in [
            (
                "msg/s at 32",
                empty_32.messages_per_second if empty_32 else None,
                grown.messages_per_second,
            ),
            (
                "msg/s at 32 per pgbench tps beside it",
                empty_32.messages_per_second / ceiling if empty_32 else None,
                grown.messages_per_second / ceiling_grown,
            ),
            ("chat page", pages["/chat/"]["median_ms"], pages_grown["/chat/"]["median_ms"]),
            ("wallet page", pages["/wallet/"]["median_ms"], pages_grown["/wallet/"]["median_ms"]),
            (
                f"chat page, short history -> {settings.heavy_messages:,} messages, together",
                pages_beside["/chat/"]["median_ms"],
                pages_grown["/chat/"]["median_ms"],
            ),
            (
                f"wallet page, short history -> {settings.heavy_messages:,} messages, together",
                pages_beside["/wallet/"]["median_ms"],
                pages_grown["/wallet/"]["median_ms"],
            ),
        ]:
            if before:
                change = (after - before) / before
                log(
                    f"  {name}: {before:.3g} -> {after:.3g} ({change:+.0%})"
                    f"{'' if abs(change) <= 0.15 else '  OUTSIDE 15%'}"
                )

    if "scale" not in settings.skip:
        log("Scale-out: two gunicorn instances, one PostgreSQL, one Redis")
        # The two instances share this machine's cores: each gets half the processes.
        half = str(max(1, settings.workers // 2))
        with (
            serving(settings, STATIC_ROOT=str(static), WEB_CONCURRENCY=half) as a,
            serving(settings, STATIC_ROOT=str(static), WEB_CONCURRENCY=half) as b,
        ):
            halves = []
            threads = [
                threading.Thread(
                    target=lambda u: halves.append(wrk(u, 16, settings.seconds, tokens)),
                    args=(s.url,),
                )
                for s in (a, b)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            total = sum(h.messages_per_second for h in halves)
            scale_audit = audit(settings)
            log(
                f"  2 x 16 connections: {total:.1f} msg/s in all, p99 "
                f"{max(h.p99_ms for h in halves):.1f} ms, errors {sum(h.errors for h in halves)};"
                f" audit {scale_audit}"
            )
        limit = 20
        with (
            serving(settings, STATIC_ROOT=str(static), THROTTLE_RATES=f"send={limit}/min") as a,
            serving(settings, STATIC_ROOT=str(static), THROTTLE_RATES=f"send={limit}/min") as b,
        ):
            # A player of its own: the load's players have sent in this window already.
            fresh = tokens.with_name("throttle-token.txt")
            fixtures(settings, "players", "1", str(fresh), "throttle")
            token = fresh.read_text().split()[0]
            # The limit counts per clock minute: start the sends early in one.
            if (left := 60 - time.time() % 60) < 15:
                time.sleep(left + 0.5)
            statuses = [
                request(
                    "POST",
                    (a, b)[n % 2].url + "/api/v1/messages",
                    json.dumps({"body": "counted"}),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                )[0]
                for n in range(2 * limit)
            ]
        throttle = {"created": statuses.count(201), "throttled": statuses.count(429)}
        log(
            f"  throttle send={limit}/min, {2 * limit} sends alternating between the two: "
            f"{throttle['created']} created, {throttle['throttled']} refused with 429"
            f" ({'shared' if throttle['created'] <= limit + 1 else 'NOT shared'})"
        )
        report["scale_out"] = {"msg_per_s": total, "audit": scale_audit, "throttle": throttle}

    if "faults" not in settings.skip:
        log("Faults: clients retry with the same Idempotency-Key until acknowledged")
        token_list = tokens.read_text().split()
        faults = {}
        with serving(settings, STATIC_ROOT=str(static), WEB_CONCURRENCY="2") as server:

            def kill_a_worker():
                for _ in range(3):  # gunicorn starts a new worker each time
                    time.sleep(settings.seconds / 4)
                    victim = server.workers()[0]
                    os.kill(victim, signal.SIGKILL)
                    log(f"  killed worker {victim} with SIGKILL")

            killer = threading.Thread(target=kill_a_worker)
            killer.start()
            sends = retrying_clients([server.url], token_list, settings.seconds, 16)
            killer.join()
            faults["worker_sigkill"] = f"{check_sends(settings, sends)}; audit {audit(settings)}"
            log(f"  workers killed mid-load: {faults['worker_sigkill']}")

            def terminate_backends():
                for _ in range(3):
                    time.sleep(settings.seconds / 4)
                    killed = psql(
                        settings,
                        "SELECT count(pg_terminate_backend(pid)) FROM "
                        f"pg_stat_activity WHERE datname = '{settings.db_name}' AND "
                        "pid <> pg_backend_pid()",
                    )
                    log(f"  terminated {killed} database connections")

            terminator = threading.Thread(target=terminate_backends)
            terminator.start()
            sends = retrying_clients([server.url], token_list, settings.seconds, 16)
            terminator.join()
            faults["pg_terminate_backend"] = (
                f"{check_sends(settings, sends)}; audit {audit(settings)}"
            )
            log(f"  connections terminated mid-load: {faults['pg_terminate_backend']}")

            sends = disconnect_and_retry(server.url, token_list[1], 50)
            faults["disconnect_retry"] = f"{check_sends(settings, sends)}; audit {audit(settings)}"
            log(
                f"  client hangs up, retries with its key (50 times): {faults['disconnect_retry']}"
            )
        report["faults"] = faults

    output = results_dir / f"bench-{stamp}.json"
    output.write_text(json.dumps(report, indent=2, default=str))
    shutil.rmtree(work, ignore_errors=True)
    log("")
    log("| connections | messages/s | p50 ms | p90 ms | p99 ms | errors | 402s |")
    log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for figures in levels:
        log(
            f"| {figures.connections} | {figures.messages_per_second:.0f} | "
            f"{figures.p50_ms:.0f} | {figures.p90_ms:.0f} | {figures.p99_ms:.0f} | "
            f"{figures.errors} | {figures.refused_402} |"
        )
    log(f"\nFigures saved to {output.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
