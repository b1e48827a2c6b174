"""Every setting ChatPot reads from the environment, declared once: its name, type, default,
meaning and who reads it (docs/OPERATIONS.md, "Configuration").

The settings (chatpot_project/settings.py), gunicorn.conf.py and the metrics read their
values through `value`, which parses each by its declared type and refuses a value that is
not of it with the setting's name. `.env.example` and OPERATIONS' table are written from
these declarations (`python -m common.environment --write`), and a test fails when either
differs, or when the code, bin/run, bin/proxy or bin/pooler read a name not declared here
(chatpot_project/tests/test_settings_declared.py).

This module imports nothing of Django's: gunicorn reads it before the app is loaded.
"""

import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class SettingError(ValueError):
    """A setting's value is not of its type: the process refuses to start, saying which."""


@dataclass(frozen=True)
class Kind:
    """A setting's type: how its text is read, and how the docs name it."""

    name: str
    parse: Callable[[str], object]


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError


def _number(text: str) -> float:
    number = float(text)
    if not math.isfinite(number) or number < 0:
        raise ValueError
    return number


def _whole(text: str) -> int:
    number = int(text)
    if number < 0:
        raise ValueError
    return number


def _names(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _choice(*options: str) -> Kind:
    def parse(text: str) -> str:
        word = text.strip().lower()
        if word not in options:
            raise ValueError
        return word

    return Kind(" or ".join(f"`{option}`" for option in options if option), parse)


# A rate: so many requests per second, minute, hour or day (api.throttling.parse_rate).
RATE = re.compile(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)")
DEFAULT_RATES = {"register": "10/hour", "token": "30/min", "send": "60/min"}


def _rates(text: str) -> dict[str, str]:
    """'send=5/min, register=2/hour' -> the default rates with those two changed."""
    rates = dict(DEFAULT_RATES)
    for item in _names(text):
        scope, _, rate = (part.strip() for part in item.partition("="))
        if scope not in DEFAULT_RATES or not RATE.fullmatch(rate):
            raise ValueError
        rates[scope] = rate
    return rates


FLAG = Kind("on/off (1/0, true/false, yes/no, on/off)", _flag)
TEXT = Kind("text", str)
WHOLE = Kind("a whole number", _whole)
NUMBER = Kind("a number", _number)
NAMES = Kind("a comma list", _names)
RATES = Kind("scope=rate pairs, a comma list (scopes register, token, send)", _rates)

# Who reads a setting.
APP = "web, worker"  # chatpot_project/settings.py: every process of the app
WEB = "web"  # gunicorn.conf.py
WORKER = "worker"  # read by the settings, used by the worker only
RUN = "bin/run"
PROXY = "bin/proxy"
POOLER = "bin/pooler"


@dataclass(frozen=True)
class Setting:
    name: str
    kind: Kind
    default: object  # when unset (or empty); None where the reader derives it (`shown`)
    meaning: str
    read_by: str
    example: str  # its line in .env.example
    shown: str = ""  # the default as the docs give it, where not the value itself
    empty_is_unset: bool = True  # False: set and empty means something of its own

    def default_text(self) -> str:
        if self.shown:
            return self.shown
        if self.kind is FLAG:
            return "on" if self.default else "off"
        if self.default in ("", None, []):
            return "none"
        if self.kind is RATES:
            return ",".join(f"{scope}={rate}" for scope, rate in self.default.items())
        if isinstance(self.default, float) and self.default.is_integer():
            return f"`{int(self.default)}`"
        return f"`{self.default}`"


# The settings, in groups: .env.example and OPERATIONS' table list them in this order. One
# declaration a line, as a table reads.
# fmt: off
GROUPS: dict[str, list[Setting]] = {
    "Security and the hosts served": [
        Setting("SECRET_KEY", TEXT, "", "required when `DEBUG` is off: production refuses to start without it; any long random string", APP, ""),
        Setting("DEBUG", FLAG, False, "development mode (`bin/run` turns it on); never in production", APP, "0"),
        Setting("ALLOWED_HOSTS", NAMES, None, "host names the site answers to, comma-separated", APP, "chatpot.example.com", shown="localhost with `DEBUG`, none without"),
        Setting("CSRF_TRUSTED_ORIGINS", NAMES, [], "origins trusted for forms, when served behind another host name", APP, "https://chatpot.example.com"),
        Setting("SECURE_COOKIES", FLAG, None, "session and CSRF cookies over HTTPS only", APP, "1", shown="on without `DEBUG`"),
        Setting("SECURE_HSTS_SECONDS", WHOLE, None, "HSTS max-age", APP, "3600", shown="`3600` without `DEBUG`, else `0`"),
        Setting("SECURE_SSL_REDIRECT", FLAG, False, "redirect plain HTTP to HTTPS here (TLS usually ends at the proxy)", APP, "0"),
    ],
    "The database and the cache": [
        Setting("DATABASE_URL", TEXT, "", "PostgreSQL in production, e.g. `postgres://user:pass@host:5432/chatpot`; unset, the SQLite file `SQLITE_PATH`", APP, "postgres://chatpot:password@127.0.0.1:5432/chatpot"),
        Setting("DATABASE_CONN_MAX_AGE", WHOLE, 60, "seconds a database connection is reused (the send's statements are prepared once per connection, unless `DATABASE_POOLER=transaction`)", APP, "60"),
        Setting("DATABASE_HEALTH_CHECKS", FLAG, False, "check each reused connection first (a round trip per request); off, a connection the server dropped fails its one request with a 503 and is replaced", APP, "0"),
        Setting("DATABASE_POOLER", _choice("", "session", "transaction"), "", "`transaction` behind PgBouncer's transaction mode: nothing prepared, no server-side cursor (\"A connection pooler\"); `session` or unset keep them", APP, ""),
        Setting("DATABASE_LISTEN_ADDRESS", TEXT, "", "with `DATABASE_POOLER=transaction`: PostgreSQL's own `host:port`, where the worker listens for new replies (unset: it looks every `KEEPER_POLL_SECONDS`)", WORKER, ""),
        Setting("SQLITE_PATH", TEXT, None, "SQLite's file, without `DATABASE_URL`", APP, "db.sqlite3", shown="`db.sqlite3` in the checkout"),
        Setting("REDIS_URL", TEXT, "", "Redis: rate limits shared by every process, the replies' text so far, their fence and stop; unset, a memory cache of each process's own, and each piece is kept in the reply's row", APP, "redis://127.0.0.1:6379/0"),
    ],
    "The live streams": [
        Setting("LIVE_PUBLISH_URL", NAMES, [], "the real-time engines' publishers (`http://$PUBLISH_LISTEN/publish`, `bin/proxy`), a comma list: the app publishes to each; unset, a stream answers what there is now and the client polls (docs/LIVE.md)", APP, "http://127.0.0.1:8081/publish"),
        Setting("LIVE_RESUME_SECONDS", NUMBER, 300.0, "how far back a client that comes back is resumed from its engine's own buffer; further back, the app tells it what it missed first", APP, "300"),
        Setting("LIVE_DEV_ENGINE", FLAG, False, "the engine's stand-in in front of the ASGI app (`bin/run` sets it; refused with `DEBUG` off)", APP, "0"),
        Setting("LIVE_DEV_PUBLISH", TEXT, "http://127.0.0.1:8000/publish", "the stand-in's publisher (`bin/run` sets it)", APP, "http://127.0.0.1:8000/publish"),
        Setting("STREAM_HEARTBEAT_SECONDS", NUMBER, 15.0, "with nothing new, the announcer tells the pot again this often, so no proxy closes a quiet stream", WORKER, "15"),
    ],
    "Limits on clients": [
        Setting("THROTTLE_RATES", RATES, DEFAULT_RATES, "API and form rate limits, `scope=rate` pairs; a scope not named keeps its default", APP, "register=10/hour,token=30/min,send=60/min"),
        Setting("NUM_PROXIES", WHOLE, None, "proxies in front of the web process, each adding to `X-Forwarded-For`: the client's address (rate limits, lock-outs) is read that many from the end", APP, "1", shown="`1` with `LIVE_PUBLISH_URL` set, else `0`"),
        Setting("AXES_FAILURE_LIMIT", WHOLE, 5, "failed log-ins from one address for one username before a lock-out", APP, "5"),
        Setting("AXES_COOLOFF_MINUTES", WHOLE, 15, "a lock-out's length, in minutes", APP, "15"),
        Setting("JWT_SIGNING_KEY", TEXT, None, "a key of its own for API tokens (rotating it logs out API clients only)", APP, "", shown="`SECRET_KEY`"),
        Setting("JWT_ACCESS_MINUTES", WHOLE, 15, "an access token's lifetime, in minutes", APP, "15"),
        Setting("JWT_REFRESH_DAYS", WHOLE, 7, "a refresh token's lifetime, in days", APP, "7"),
    ],
    "The web process (gunicorn.conf.py)": [
        Setting("PORT", WHOLE, 8000, "where gunicorn listens, without `GUNICORN_BIND`", WEB, "8000"),
        Setting("GUNICORN_BIND", TEXT, None, "where gunicorn listens; on one host behind the proxy, `127.0.0.1:8000`, where only the proxy reaches it", WEB, "127.0.0.1:8000", shown="`0.0.0.0:$PORT`"),
        Setting("WEB_CONCURRENCY", WHOLE, None, "web processes", WEB, "2", shown="one per core"),
        Setting("GUNICORN_THREADS", WHOLE, 1, "threads per web process (above 1: gunicorn's threaded worker, for a remote model)", WEB, "1"),
        Setting("GUNICORN_TIMEOUT", WHOLE, 30, "seconds a request may take", WEB, "30"),
        Setting("GUNICORN_ACCESS_LOG", TEXT, "-", "the access log: `-` standard output; set and empty, none", WEB, "-", empty_is_unset=False),
        Setting("FORWARDED_ALLOW_IPS", TEXT, "127.0.0.1", "the front ends whose `X-Forwarded-*` headers gunicorn believes", WEB, "127.0.0.1"),
        Setting("SERVE_STATIC", FLAG, True, "WhiteNoise serves the static files (off where a server in front serves them)", APP, "1"),
        Setting("STATIC_ROOT", TEXT, None, "where `collectstatic` gathers the static files", APP, "staticfiles", shown="`staticfiles` in the checkout"),
        Setting("TIME_ZONE", TEXT, "UTC", "the time zone dates are shown in", APP, "UTC"),
    ],
    "The keeper's bot and the worker": [
        Setting("CHATBOT_BACKEND", _choice("builtin", "openai"), "builtin", "the bot: the built-in keeper, or `openai` for any OpenAI-compatible server", WORKER, "builtin"),
        Setting("CHATBOT_BASE_URL", TEXT, "http://127.0.0.1:8080", "the model server's address, without `/v1/...`", WORKER, "http://127.0.0.1:8080"),
        Setting("CHATBOT_MODEL", TEXT, "", "the model name the server expects", WORKER, ""),
        Setting("CHATBOT_API_KEY", TEXT, "", "sent as `Authorization: Bearer ...` when set", WORKER, ""),
        Setting("CHATBOT_TIMEOUT", NUMBER, 10.0, "seconds a model's whole reply may take: cut there, keeping its text so far; also the longest wait to connect and between two chunks (the keeper's `TIMEOUT`)", WORKER, "10"),
        Setting("KEEPER_LEASE_SECONDS", NUMBER, 15.0, "a claim's hold on a reply without renewal: a worker that stopped renewing loses its replies to another after this (at least twice `KEEPER_RENEW_SECONDS`, a system check says)", WORKER, "15"),
        Setting("KEEPER_RENEW_SECONDS", NUMBER, 5.0, "how often a worker renews the leases of what it writes", WORKER, "5"),
        Setting("KEEPER_GRACE_SECONDS", NUMBER, None, "a stopping worker's time to finish what it writes, then it hands it on", WORKER, "15", shown="`CHATBOT_TIMEOUT` + 5"),
        Setting("KEEPER_SWEEP_SECONDS", NUMBER, 2.0, "the look for leases that ran out (and anything sent while a worker was not listening)", WORKER, "2"),
        Setting("KEEPER_POLL_SECONDS", NUMBER, 0.1, "the look for new replies where nothing notifies (SQLite, or a transaction-mode pooler without `DATABASE_LISTEN_ADDRESS`)", WORKER, "0.1"),
        Setting("KEEPER_CLAIM_SECONDS", NUMBER, 0.05, "busy, a worker claims at most this often: the replies gather, and go together (claimed one by one as notified, the worker took a third of the sends a second, measured with the built-in keeper at 32 connections)", WORKER, "0.05"),
        Setting("KEEPER_MAX_ATTEMPTS", WHOLE, 3, "claims of one reply before the built-in keeper answers it instead of the model", WORKER, "3"),
        Setting("WORKER_CONCURRENCY", WHOLE, 256, "replies a worker process writes at once (model calls in flight)", WORKER, "256"),
        Setting("LEDGER_AUDIT_SECONDS", NUMBER, 86400.0, "how often the worker audits the ledger (0: never)", WORKER, "86400"),
        Setting("LEDGER_AUDIT_LOOK_SECONDS", NUMBER, 5.0, "how soon after an operator's action on money or fairness the worker audits", WORKER, "5"),
        Setting("SEED_CHAIN_LENGTH", WHOLE, 10_000_000, "seeds in the chain the migration makes, one per round, and `manage.py seed_chain`'s default (docs/GAME.md)", APP, "10000000", shown="`10000000` (`1000000` in development)"),
    ],
    "Watching it run": [
        Setting("METRICS", FLAG, True, "count the Prometheus metrics", APP, "1"),
        Setting("METRICS_TOKEN", TEXT, "", "the bearer token `/metrics` asks for (unset: no `/metrics`)", APP, ""),
        Setting("PROMETHEUS_MULTIPROC_DIR", TEXT, "", "the host's processes' shared metrics folder, empty at the host's start (prometheus_client reads it too)", APP, "/run/chatpot-metrics"),
        Setting("WORKER_METRICS_LISTEN", TEXT, "", "where the worker serves `/metrics` itself (`host:port`, with `METRICS_TOKEN`): for a worker on a host with no web process, whose figures no web process's `/metrics` reads; unset, it serves none", WORKER, "0.0.0.0:9100"),
        Setting("LOG_FORMAT", _choice("json", "plain"), None, "log lines as JSON objects or text", APP, "json", shown="`json` (`plain` with `DEBUG`)"),
        Setting("LOG_LEVEL", TEXT, "INFO", "how much is logged (`bin/run`: `WARNING`)", APP, "INFO"),
        Setting("SENTRY_DSN", TEXT, "", "error reports to Sentry, off unless set", APP, ""),
        Setting("SENTRY_ENVIRONMENT", TEXT, "production", "the environment Sentry files the reports under", APP, "production"),
        Setting("SENTRY_TRACES_SAMPLE_RATE", NUMBER, 0.0, "the share of requests traced for Sentry", APP, "0"),
    ],
    "The proxy and real-time engine (bin/proxy)": [
        Setting("WEB_UPSTREAM", TEXT, "127.0.0.1:8000", "the web processes, `host:port`, space separated: with several (one per app host), a request that cannot reach one goes to the next, and one that failed is passed over for 5 s", PROXY, "127.0.0.1:8000"),
        Setting("PROXY_PORT", WHOLE, 8080, "where the public is served", PROXY, "8080"),
        Setting("PUBLISH_LISTEN", TEXT, "127.0.0.1:8081", "where the app publishes to the engine: the app's `LIVE_PUBLISH_URL` is `http://$PUBLISH_LISTEN/publish`", PROXY, "127.0.0.1:8081"),
        Setting("ENGINE_NAME", TEXT, None, "how the engine names itself to the app; each engine of a deployment its own", PROXY, "", shown="host-port"),
        Setting("PROXY_WORKERS", TEXT, "auto", "nginx's worker processes (`auto`: one per core)", PROXY, "auto"),
        Setting("PROXY_WORKER_CONNECTIONS", WHOLE, 16384, "connections per nginx worker", PROXY, "16384"),
        Setting("PROXY_STREAMS_PER_ADDRESS", WHOLE, 50, "streams one client address may hold at once (503 past it)", PROXY, "50"),
        Setting("PROXY_STREAMS_MAX", WHOLE, None, "streams held at once in all (503 past it)", PROXY, "", shown="three quarters of the workers' connections"),
        Setting("PROXY_REQUEST_TIMEOUT", TEXT, "10s", "time a client has to send a request's head, and between two reads of its body", PROXY, "10s"),
        Setting("PROXY_TRUSTED_FRONT", TEXT, "", "addresses (CIDR, space separated) of a front trusted to say the client's scheme (`X-Forwarded-Proto`) and address (the last of its `X-Forwarded-For`, which the bounds on streams count by): a load balancer", PROXY, ""),
        Setting("PROXY_RUN_DIR", TEXT, None, "its files: configuration, pid, temp", PROXY, "", shown="a fresh folder"),
    ],
    "The connection pooler (bin/pooler)": [
        Setting("POOLER_SERVER", TEXT, "127.0.0.1:5432", "the PostgreSQL server, `host:port`", POOLER, "127.0.0.1:5432"),
        Setting("POOLER_LISTEN", TEXT, "127.0.0.1:6432", "where the app connects: its `DATABASE_URL` names it, with `DATABASE_POOLER=transaction`", POOLER, "127.0.0.1:6432"),
        Setting("POOLER_POOL_SIZE", WHOLE, 20, "server connections per database and user", POOLER, "20"),
        Setting("POOLER_MAX_CLIENTS", WHOLE, 1000, "client connections at once", POOLER, "1000"),
        Setting("POOLER_AUTH_TYPE", TEXT, "trust", "how clients authenticate (`md5` or `scram-sha-256` in production, with `POOLER_USERLIST`)", POOLER, "trust"),
        Setting("POOLER_USERLIST", TEXT, None, "the auth file's lines: `\"user\" \"password\"`", POOLER, "", shown="`POOLER_ADMIN_USER` with no password"),
        Setting("POOLER_ADMIN_USER", TEXT, "postgres", "who may use its console (`SHOW POOLS` and the like)", POOLER, "postgres"),
        Setting("POOLER_RUN_DIR", TEXT, None, "its files: configuration, log, pid", POOLER, "", shown="a fresh folder"),
    ],
}
# fmt: on
SETTINGS: dict[str, Setting] = {
    setting.name: setting for group in GROUPS.values() for setting in group
}

_DERIVED = object()


def value(name: str, default: object = _DERIVED) -> object:
    """The setting `name` from the environment, of its declared type; its declared default
    when unset (or `default`, for a setting whose default the reader derives)."""
    setting = SETTINGS[name]
    text = os.environ.get(name)
    if text is None or (setting.empty_is_unset and not text.strip()):
        if default is not _DERIVED:
            return default
        if setting.default is None:
            raise LookupError(f"{name}'s default is derived by its reader: pass it")
        return setting.default
    try:
        return setting.kind.parse(text)
    except ValueError:
        raise SettingError(f"{name}={text!r} is not {setting.kind.name}.") from None


# What the docs show, written from the declarations.
ROOT = Path(__file__).resolve().parent.parent
TABLE_START = "<!-- settings: written by python -m common.environment --write -->"
TABLE_END = "<!-- /settings -->"


def env_example() -> str:
    lines = [
        "# Every setting ChatPot reads from the environment, with what it does (default; who",
        "# reads it). Copy what you need into your process manager or platform; ChatPot itself",
        "# does not read a .env file. Written from common/environment.py",
        "# (python -m common.environment --write): change that, not this.",
    ]
    for title, settings in GROUPS.items():
        lines += ["", f"# == {title}"]
        for setting in settings:
            about = f"{setting.name}: {setting.meaning} (default {setting.default_text()}; {setting.read_by})"
            lines += _wrap(about.replace("`", ""), "# ")
            lines.append(f"{setting.name}={setting.example}")
    return "\n".join(lines) + "\n"


def operations_table() -> str:
    rows = [
        TABLE_START,
        "| name | type | default | read by | what |",
        "| --- | --- | --- | --- | --- |",
    ]
    for title, settings in GROUPS.items():
        rows.append(f"| **{title}** | | | | |")
        for s in settings:
            rows.append(
                f"| `{s.name}` | {s.kind.name} | {s.default_text()} | {s.read_by} | {s.meaning} |"
            )
    rows.append(TABLE_END)
    return "\n".join(rows)


def _wrap(text: str, prefix: str, width: int = 92) -> list[str]:
    lines, line = [], prefix
    for word in text.split():
        if len(line) + len(word) + 1 > width and line != prefix:
            lines.append(line.rstrip())
            line = prefix
        line += word + " "
    return [*lines, line.rstrip()]


def with_table(operations: str) -> str:
    """docs/OPERATIONS.md with its settings table written anew."""
    start, end = operations.index(TABLE_START), operations.index(TABLE_END) + len(TABLE_END)
    return operations[:start] + operations_table() + operations[end:]


def write() -> None:
    (ROOT / ".env.example").write_text(env_example())
    operations = ROOT / "docs" / "OPERATIONS.md"
    operations.write_text(with_table(operations.read_text()))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m common.environment --write")
    write()
