import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the real settings in a fresh interpreter with exactly this environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}
    }
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
        "'options': settings.DATABASES['default'].get('OPTIONS', {}), "
        "'cache': settings.CACHES['default']['BACKEND'], 'debug': settings.DEBUG, "
        "'jwt_key_is_secret_key': settings.SIMPLE_JWT['SIGNING_KEY'] == settings.SECRET_KEY, "
        "'throttles': settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "chatpot_project.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    loaded = load_settings()
    assert loaded.returncode != 0
    assert "SECRET_KEY is not set" in loaded.stderr


def test_debug_runs_without_a_secret_key_on_sqlite_and_local_memory():
    loaded = load_settings(DEBUG="1")
    assert loaded.returncode == 0, loaded.stderr
    assert '"engine": "django.db.backends.sqlite3"' in loaded.stdout
    assert '"transaction_mode": "IMMEDIATE"' in loaded.stdout
    assert "journal_mode=WAL" in loaded.stdout
    assert "LocMemCache" in loaded.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgres://u@127.0.0.1:5432/chatpot"}, "postgresql"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "RedisCache"),
    ],
)
def test_environment_selects_postgresql_and_redis(env, expected):
    loaded = load_settings(SECRET_KEY="x" * 50, **env)
    assert loaded.returncode == 0, loaded.stderr
    assert expected in loaded.stdout
    assert '"debug": false' in loaded.stdout


def test_api_tokens_get_their_own_signing_key_where_configured():
    shared = load_settings(SECRET_KEY="s" * 50)
    assert '"jwt_key_is_secret_key": true' in shared.stdout, shared.stderr
    separate = load_settings(SECRET_KEY="s" * 50, JWT_SIGNING_KEY="j" * 50)
    assert '"jwt_key_is_secret_key": false' in separate.stdout, separate.stderr


def test_throttle_rates_come_from_the_environment():
    loaded = load_settings(SECRET_KEY="s" * 50, THROTTLE_RATES="send=5/min, register=2/hour")
    assert '"send": "5/min"' in loaded.stdout, loaded.stderr
    assert '"register": "2/hour"' in loaded.stdout
    assert '"token": "30/min"' in loaded.stdout  # the default where none is given


def test_loading_the_wsgi_app_imports_the_views_and_opens_no_connection():
    # gunicorn loads the app once and then forks its workers: a connection opened while
    # loading would be shared by every worker.
    code = (
        "import sys, chatpot_project.wsgi; from django.db import connections; "
        "print('chat.api' in sys.modules, "
        "[alias for alias in connections if connections[alias].connection is not None])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split("\n")[0] == "True []"


def run_clean(*command: str) -> subprocess.CompletedProcess:
    """A command in a checkout as a newcomer runs it: nothing of Django's set."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_manage_py_runs_in_a_checkout_with_nothing_set():
    checked = run_clean("manage.py", "check")
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout


@pytest.mark.parametrize("entry_point", ["chatpot_project.wsgi", "chatpot_project.asgi"])
def test_production_entry_points_still_refuse_to_start_without_a_secret_key(entry_point):
    loaded = run_clean("-c", f"import {entry_point}")
    assert loaded.returncode != 0
    assert "SECRET_KEY is not set" in loaded.stderr


def test_the_container_runs_production_settings():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "DJANGO_SETTINGS_MODULE=chatpot_project.settings " in dockerfile


def test_a_setting_not_of_its_type_stops_the_process_naming_it():
    loaded = load_settings(SECRET_KEY="s" * 50, KEEPER_LEASE_SECONDS="fifteen")
    assert loaded.returncode != 0
    assert "SettingError: KEEPER_LEASE_SECONDS='fifteen' is not a number." in loaded.stderr
