"""Scale-out: two web instances on one PostgreSQL and one Redis, and the send limit they
share."""

import json
import threading
import time
from pathlib import Path

from bench.harness import Settings, audit, fixtures, log, request, serving
from bench.load import wrk


def scale_run(settings: Settings, static: Path, tokens: Path) -> dict:
    log("Scale-out: two gunicorn instances, one PostgreSQL, one Redis")
    # The two instances share this machine's cores: each gets half the processes.
    half = str(max(1, settings.workers // 2))
    with (
        serving(settings, STATIC_ROOT=str(static), WEB_CONCURRENCY=half) as a,
        serving(settings, STATIC_ROOT=str(static), WEB_CONCURRENCY=half) as b,
    ):
        halves = []
        threads = [
            threading.Thread(
                target=lambda u: halves.append(wrk(u, 16, settings.seconds, tokens)),
                args=(s.url,),
            )
            for s in (a, b)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = sum(h.messages_per_second for h in halves)
        scale_audit = audit(settings)
        log(
            f"  2 x 16 connections: {total:.1f} msg/s in all, p99 "
            f"{max(h.p99_ms for h in halves):.1f} ms, errors {sum(h.errors for h in halves)};"
            f" audit {scale_audit}"
        )
    limit = 20
    with (
        serving(settings, STATIC_ROOT=str(static), THROTTLE_RATES=f"send={limit}/min") as a,
        serving(settings, STATIC_ROOT=str(static), THROTTLE_RATES=f"send={limit}/min") as b,
    ):
        # A player of its own: the load's players have sent in this window already.
        fresh = tokens.with_name("throttle-token.txt")
        fixtures(settings, "players", "1", str(fresh), "throttle")
        token = fresh.read_text().split()[0]
        # The limit counts per clock minute: start the sends early in one.
        if (left := 60 - time.time() % 60) < 15:
            time.sleep(left + 0.5)
        statuses = [
            request(
                "POST",
                (a, b)[n % 2].url + "/api/v1/messages",
                json.dumps({"body": "counted"}),
                {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )[0]
            for n in range(2 * limit)
        ]
    throttle = {"created": statuses.count(201), "throttled": statuses.count(429)}
    log(
        f"  throttle send={limit}/min, {2 * limit} sends alternating between the two: "
        f"{throttle['created']} created, {throttle['throttled']} refused with 429"
        f" ({'shared' if throttle['created'] <= limit + 1 else 'NOT shared'})"
    )
    report = {"msg_per_s": total, "audit": scale_audit, "throttle": throttle}

    return report
