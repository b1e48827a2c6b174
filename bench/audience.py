"""The audience: thousands of listeners on the engine while players send."""

import json
import statistics
import time
from pathlib import Path

from bench.harness import Settings, audit, deployed, psql, replies_drained, request
from bench.live import (
    audience_figures,
    run_audience,
)
from bench.load import cpu_per_message, memory_kb, process_groups, wrk


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
