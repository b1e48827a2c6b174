"""PgBouncer (bin/pooler) for the tests: started in front of the test's PostgreSQL, and
told through its console to let go of a database."""

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]


def release_database(database: dict) -> None:
    """Close the pooler's server connections to `database` (a Django settings dict whose
    HOST and PORT are the pooler's), so the database can be dropped."""
    console = psycopg2.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 6432,
        user=database["USER"] or "postgres",
        password=database["PASSWORD"] or None,
        dbname="pgbouncer",
    )
    console.autocommit = True
    try:
        with console.cursor() as cursor:
            cursor.execute(f"KILL {database['NAME']}")
            cursor.execute(f"RESUME {database['NAME']}")
    finally:
        console.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Pooler:
    """bin/pooler in front of the PostgreSQL server at `server` (host:port), on a port of
    its own; `stop()` ends it."""

    def __init__(self, server: str, **environment: str):
        self.port = free_port()
        self.run_dir = tempfile.mkdtemp(prefix="chatpot-pooler-")
        started = subprocess.run(
            [ROOT / "bin" / "pooler", "-d"],
            env={
                **os.environ,
                "POOLER_SERVER": server,
                "POOLER_LISTEN": f"127.0.0.1:{self.port}",
                "POOLER_RUN_DIR": self.run_dir,
                **environment,
            },
            capture_output=True,
            text=True,
            check=True,
        )
        self.pid = int(started.stdout.split()[-1])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"PgBouncer did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        path = Path(self.run_dir, "pgbouncer.log")
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        try:
            os.kill(self.pid, 15)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.pid, 9)
