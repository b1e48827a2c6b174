"""Faults: clients that retry with the same Idempotency-Key through killed processes and
dropped connections."""

import json
import os
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import Settings, audit, log, psql, request, serving


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


def faults_run(settings: Settings, static: Path, tokens: Path) -> dict:
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
        faults["pg_terminate_backend"] = f"{check_sends(settings, sends)}; audit {audit(settings)}"
        log(f"  connections terminated mid-load: {faults['pg_terminate_backend']}")

        sends = disconnect_and_retry(server.url, token_list[1], 50)
        faults["disconnect_retry"] = f"{check_sends(settings, sends)}; audit {audit(settings)}"
        log(f"  client hangs up, retries with its key (50 times): {faults['disconnect_retry']}")

    return faults
