"""Operations: what metrics, logs and a pooler cost the send, alternated."""

import os
import re
import signal
import subprocess
import tempfile
import threading
import urllib.parse
from dataclasses import asdict
from pathlib import Path

from bench.harness import (
    READER,
    ROOT,
    Settings,
    audit,
    deployed,
    free_port,
    replies_drained,
    request,
    wait_for_port,
)
from bench.load import LoadFigures, median_of, wrk

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
