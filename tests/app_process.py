"""The app as a process of its own, on the test's database: the environment it needs to
reach that database, and its ASGI server (uvicorn) started as `bin/run` starts it."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_environment() -> dict[str, str]:
    """The test database, as a process of its own reaches it."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": database["NAME"]}
    user = database["USER"] or "postgres"
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{database['NAME']}"}


def start_app_server(port: int, *options: str, **environment: str) -> subprocess.Popen:
    """uvicorn serving the whole site on `port` with production's settings, `options`
    added to its command line and `environment` to its environment."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "chatpot_project.asgi:application",
            "--port",
            str(port),
            *options,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **database_environment(),
            "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
            "SECRET_KEY": settings.SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SERVE_STATIC": "0",
            **environment,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
