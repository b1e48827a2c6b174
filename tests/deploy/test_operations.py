"""What an operator has of a live ChatPot (the Procfile's web and worker behind deploy/'s
proxy and engine): a real Prometheus reading the game's figures from /metrics with the
shipped scrape config and alert rules, and log lines that follow one request from the
proxy to the worker, with no secret in them."""

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_gunicorn import (
    NEEDS_POSTGRES_AND_REDIS,
    fetch,
    procfile,
    server_database_url,
    start,
    stop,
)
from tests.engine import Engine, free_port, needs_engine, wait_for_port
from tests.tools import needs_program
from wallet.audit import audit_ledger
from wallet.models import Account

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOKEN = "metrics-token-of-the-operations-test-0123456789"
SECRET_KEY = "operations-test-secret-key-never-in-a-log-0123456789abcdef"
PASSWORD = "correct-horse-battery-staple-of-the-test"
LISTENERS = 3  # the engine's

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    NEEDS_POSTGRES_AND_REDIS,
    needs_program("prometheus", "Debian's prometheus"),
    needs_engine,
]


class Prometheus:
    """A real Prometheus scraping the web process every second with deploy/'s scrape
    config (its target and token file made this test's) and deploy/alerts.yml."""

    def __init__(self, run_dir: Path, target: str):
        run_dir.mkdir()
        config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(DEPLOY / "alerts.yml")]
        (job,) = config["scrape_configs"]
        (run_dir / "token").write_text(TOKEN)
        job["authorization"]["credentials_file"] = str(run_dir / "token")
        job["static_configs"] = [{"targets": [target]}]
        (run_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (run_dir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={run_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={run_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, 30)

    def query(self, expr: str) -> dict:
        status, _, body = fetch(
            f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        )
        answer = json.loads(body)
        assert (status, answer["status"]) == (200, "success"), (expr, answer)
        return answer["data"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, expr: str, expected: float, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while (found := self.value(expr)) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        assert found == expected, f"{expr}: {found}, not {expected}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


def listen(url: str, opened: threading.Event, done: threading.Event) -> None:
    """A listener of the pot's events through the engine, held until `done`."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"GET /api/v1/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        opened.set()
        done.wait(60)


def referenced_metrics() -> set[str]:
    """Every ChatPot metric the dashboard and the alerts ask for (a histogram's by its
    name, not its series')."""
    texts = [
        (DEPLOY / "alerts.yml").read_text(),
        (DEPLOY / "grafana" / "chatpot.json").read_text(),
    ]
    names = {name for text in texts for name in re.findall(r"chatpot_[a-z_]+", text)}
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "chatpot.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_prometheus_reads_the_game_and_the_logs_follow_a_request_with_no_secret(
    tmp_path, configure
):
    configure(win_chance=Decimal("0.000001"))
    web_port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": server_database_url(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_CONCURRENCY": "2",
        "NUM_PROXIES": "1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LEDGER_AUDIT_LOOK_SECONDS": "0.5",
    }
    proxy = Engine(f"127.0.0.1:{web_port}", tmp_path / "proxy")
    env["LIVE_PUBLISH_URL"] = proxy.publish_url
    commands = procfile()
    web = worker = prometheus = None
    done = threading.Event()
    outputs = {}
    try:
        web = start(commands["web"], {**env, "PORT": str(web_port)})
        worker = start(commands["worker"], env)
        prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{web_port}")
        wait_for_port(web_port, 30)
        site = proxy.url
        # /metrics is the web process's, for its token's bearer only; never the public's.
        assert fetch(f"{site}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 404
        assert fetch(f"http://127.0.0.1:{web_port}/metrics")[0] == 401

        status, _, body = fetch(
            f"{site}/api/v1/auth/register",
            data={"username": "operator-sees", "password": PASSWORD},
        )
        assert status == 201, body
        tokens = json.loads(body)
        status, _, body = fetch(
            f"{site}/api/v1/auth/token", data={"username": "operator-sees", "password": PASSWORD}
        )
        assert status == 200, body
        tokens = {**json.loads(body), "first_access": tokens["access"], "first": tokens["refresh"]}
        auth = {"Authorization": f"Bearer {tokens['access']}"}

        opened = [threading.Event() for _ in range(LISTENERS)]
        for event in opened:
            threading.Thread(target=listen, args=(site, event, done), daemon=True).start()
        assert all(event.wait(15) for event in opened)

        for n in range(3):
            status, _, body = fetch(
                f"{site}/api/v1/messages", data={"body": f"hi {n}"}, headers=auth
            )
            assert status == 201, body
        assert fetch(f"{site}/api/v1/messages", data={"body": "  "}, headers=auth)[0] == 400
        configure(win_chance=Decimal(1))
        status, headers, body = fetch(
            f"{site}/api/v1/messages", data={"body": "win"}, headers=auth
        )
        assert status == 201, body
        won = json.loads(body)["message"]
        assert won["won"] is True
        request_id = headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id

        # The game's figures, read back through Prometheus's API.
        prometheus.wait_for('up{job="chatpot"}', 1)
        prometheus.wait_for("sum(chatpot_messages_sent_total)", 4)
        prometheus.wait_for("sum(chatpot_wins_total)", 1)
        prometheus.wait_for("sum(chatpot_payouts_credits_total)", won["payout"])
        prometheus.wait_for('sum(chatpot_sends_refused_total{reason="invalid"})', 1)
        prometheus.wait_for(
            'sum(chatpot_http_request_duration_seconds_count{view="api-messages",status="201"})', 4
        )
        # The worker's, from its own process through the shared folder.
        prometheus.wait_for('sum(chatpot_replies_total{outcome="builtin"})', 4)
        prometheus.wait_for("sum(chatpot_reply_done_seconds_count)", 4)
        prometheus.wait_for("sum(chatpot_live_wins_announced_total)", 1)
        # The state, read when scraped.
        pot = Account.objects.get(kind="pot")
        prometheus.wait_for("chatpot_pot_credits", pot.balance)
        prometheus.wait_for("chatpot_round", pot.round.number)
        prometheus.wait_for("chatpot_replies_waiting", 0)
        prometheus.wait_for("chatpot_live_listeners", LISTENERS)
        prometheus.wait_for("chatpot_audit_clean", 1)  # the game-config saves asked for one

        # The alert rules are loaded and evaluate; the dashboard's queries all run.
        status, _, body = fetch(f"{prometheus.url}/api/v1/rules")
        rules = [rule for group in json.loads(body)["data"]["groups"] for rule in group["rules"]]
        assert len(rules) == 7
        deadline = time.monotonic() + 10
        while {rule.get("health") for rule in rules} != {"ok"} and time.monotonic() < deadline:
            time.sleep(0.5)
            rules = [
                rule
                for group in json.loads(fetch(f"{prometheus.url}/api/v1/rules")[2])["data"][
                    "groups"
                ]
                for rule in group["rules"]
            ]
        assert {rule["name"]: rule["health"] for rule in rules} == {
            rule["name"]: "ok" for rule in rules
        }
        assert {rule["name"] for rule in rules if rule["state"] != "inactive"} == set()
        for expr in dashboard_queries():
            prometheus.query(expr)
        status, _, body = fetch(f"{prometheus.url}/api/v1/label/__name__/values")
        exported = set(json.loads(body)["data"])
        exported |= {re.sub(r"_(bucket|count|sum)$", "", name) for name in exported}
        assert referenced_metrics() - exported == set()
    finally:
        # Every process is stopped, whatever failed; then each is checked.
        done.set()
        if prometheus:
            prometheus.stop()
        proxy.stop()
        for name, process in [("worker", worker), ("web", web)]:
            if process is None:
                continue
            try:
                outputs[name] = stop(process)
            except AssertionError as error:
                outputs[name] = error
    assert {name: output for name, output in outputs.items() if not isinstance(output, str)} == {}
    assert audit_ledger().clean

    # Every line is a JSON object; the win's request is on the web's line of it, on
    # gunicorn's line of the request, and on the worker's line of its reply.
    text = {
        name: [line for line in output.splitlines() if line.strip()]
        for name, output in outputs.items()
    }
    assert {
        name: [line for line in found if not line.startswith("{")] for name, found in text.items()
    } == {name: [] for name in text}
    lines = {name: [json.loads(line) for line in found] for name, found in text.items()}
    about = {"request_id": request_id, "message_id": won["id"], "round": won["draw"]["round"]}

    def of_the_win(found: list[dict]) -> list[dict]:
        return [
            {key: line.get(key) for key in about}
            for line in found
            if line.get("request_id") == request_id
        ]

    sent = [line for line in lines["web"] if line["message"].startswith("Message sent")]
    assert of_the_win(sent) == [about]
    written = [line for line in lines["worker"] if line["message"].startswith("Reply builtin")]
    assert of_the_win(written) == [about]
    assert all(line.get("player_id") for line in sent + written)
    access = [line for line in lines["web"] if line["logger"] == "gunicorn.access"]
    assert any(
        line.get("request_id") == request_id and "POST /api/v1/messages" in line["message"]
        for line in access
    )

    # No secret, in any process's log.
    logs = "\n".join([*outputs.values(), (tmp_path / "prometheus" / "prometheus.log").read_text()])
    secrets = [PASSWORD, SECRET_KEY, TOKEN, *(tokens[key] for key in tokens)]
    assert [secret[:12] for secret in secrets if secret in logs] == []
    assert "Bearer " not in logs
