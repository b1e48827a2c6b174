"""Growth: the send and the pages after bulk-loading players and messages, set against the
figures of the empty database and the ceiling measured beside each."""

import time
from dataclasses import asdict
from pathlib import Path

from bench.harness import READER, Settings, audit, fixtures, log, psql, serving
from bench.load import load_levels, page_latency, pgbench_ceiling, wrk


def growth_run(
    settings: Settings, static: Path, tokens: Path, levels, pages: dict, ceiling: float
) -> dict:
    log(
        f"Growth: bulk-loading {settings.growth_players} players, "
        f"{settings.growth_messages} messages, {settings.heavy_messages} more for "
        f"{READER[0]}"
    )
    started = time.monotonic()
    fixtures(
        settings,
        "history",
        str(settings.growth_players),
        str(settings.growth_messages),
        READER[0],
        str(settings.heavy_messages),
    )
    counts = psql(
        settings,
        "SELECT (SELECT count(*) FROM accounts_user), "
        "(SELECT count(*) FROM chat_message), (SELECT count(*) FROM wallet_transfer), "
        f"(SELECT count(*) FROM chat_message m JOIN accounts_user u ON "
        f"u.id = m.player_id WHERE u.username = '{READER[0]}')",
        settings.db_name,
    )
    log(
        f"  loaded in {time.monotonic() - started:.0f} s: players, messages, transfers, "
        f"reader's messages = {counts.replace('|', ', ')}; audit {audit(settings)}"
    )
    with serving(settings, STATIC_ROOT=str(static)) as server:
        wrk(server.url, 32, settings.seconds, tokens)  # warm the caches; not counted
        grown = load_levels(settings, server, tokens, [32])[0]
        pages_grown = page_latency(server.url, *READER)
        # And, at the same moment, a player of the load with a short history.
        pages_beside = page_latency(server.url, "bench0", "bench-password-0")
    # This machine's speed drifts by 15 % and more over minutes (the database's own
    # ceiling with it): each run is also set against the ceiling measured beside it.
    ceiling_grown = pgbench_ceiling(settings, 32)
    report = {
        "counts": counts,
        "load_32": asdict(grown),
        "pages": pages_grown,
        "pages_short_history": pages_beside,
        "pgbench_tps_32": ceiling_grown,
    }
    empty_32 = next(f for f in levels if f.connections == 32) if 32 in settings.levels else None
    for name, before, after in [
        (
            "msg/s at 32",
            empty_32.messages_per_second if empty_32 else None,
            grown.messages_per_second,
        ),
        (
            "msg/s at 32 per pgbench tps beside it",
            empty_32.messages_per_second / ceiling if empty_32 else None,
            grown.messages_per_second / ceiling_grown,
        ),
        ("chat page", pages["/chat/"]["median_ms"], pages_grown["/chat/"]["median_ms"]),
        ("wallet page", pages["/wallet/"]["median_ms"], pages_grown["/wallet/"]["median_ms"]),
        (
            f"chat page, short history -> {settings.heavy_messages:,} messages, together",
            pages_beside["/chat/"]["median_ms"],
            pages_grown["/chat/"]["median_ms"],
        ),
        (
            f"wallet page, short history -> {settings.heavy_messages:,} messages, together",
            pages_beside["/wallet/"]["median_ms"],
            pages_grown["/wallet/"]["median_ms"],
        ),
    ]:
        if before:
            change = (after - before) / before
            log(
                f"  {name}: {before:.3g} -> {after:.3g} ({change:+.0%})"
                f"{'' if abs(change) <= 0.15 else '  OUTSIDE 15%'}"
            )

    return report
