"""ChatPot's benchmark: load, live (model, backlog, audience), growth, scale-out and
faults, on PostgreSQL and Redis.

Run it with bin/bench (see the README). It builds its own database (chatpot_bench), starts
the deployment as docs/OPERATIONS.md documents it (gunicorn with the production settings,
a worker, and bin/proxy in front, holding the streams), drives POST /api/v1/messages
through the proxy with wrk from another process, and prints its figures; every scenario
ends with the ledger audit.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.audience import audience_run
from bench.faults import faults_run
from bench.growth import growth_run
from bench.harness import (
    BENCH,
    DB_NAME,
    PLAYERS,
    READER,
    ROOT,
    Settings,
    audit,
    deployed,
    fixtures,
    log,
    manage,
    psql,
)
from bench.hostile import COMEBACK_ROUNDS, hostile_run
from bench.load import load_levels, page_latency, pgbench_ceiling, profile
from bench.operations import OPERATIONS, operations_run
from bench.replies import backlog_run, model_runs
from bench.scale import scale_run


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
        report["growth"] = growth_run(settings, static, tokens, levels, pages, ceiling)

    if "scale" not in settings.skip:
        report["scale_out"] = scale_run(settings, static, tokens)

    if "faults" not in settings.skip:
        report["faults"] = faults_run(settings, static, tokens)

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
