"""Load and what it costs: wrk on the send, pgbench's ceiling, pages' latency, and the
processes' CPU and memory."""

import os
import re
import shutil
import statistics
import subprocess
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    BENCH,
    BIN,
    Gunicorn,
    Settings,
    audit,
    log,
    psql,
    replies_drained,
    request,
)


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
