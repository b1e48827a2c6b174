"""`bin/bench --against REV`: the send at 32 connections, this checkout (B) against another
revision (A), alternated A B A B ... in one run, each in a deployment of its own: its own
code and virtualenv (a git worktree), its own database, made the same way and grown
alike, the same settings and load. This machine's speed drifts by 20 % and more within
minutes; two runs minutes apart say nothing, a ratio of runs side by side does. Printed:
each pair's figures and ratio, the median ratio and its spread, pgbench's ceiling beside,
before and after, and the CPU each kind of process (web, worker, proxy, PostgreSQL, Redis)
spent a message in each build: where a difference between them goes.

Both builds are measured through their proxy (bin/proxy, as documented) when both have
one; against a revision from before it, both straight at gunicorn, and it says so.
"""

import statistics
import subprocess
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from bench.harness import (
    CURRENT,
    PLAYERS,
    ROOT,
    Build,
    Settings,
    deployed,
    fixtures,
    log,
    manage,
    psql,
    serving,
)
from bench.load import LoadFigures, cpu_per_message, pgbench_ceiling, process_groups, wrk

CONNECTIONS = 32


def build_of(revision: str) -> Build:
    """A worktree of `revision` beside this checkout, with a virtualenv of its own (made by
    its own bin/_venv, so with its own requirements)."""
    sha = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    path = Path(tempfile.gettempdir()) / f"chatpot-ab-{sha[:12]}"
    if not (path / "manage.py").exists():
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=False)
        _git("worktree", "add", "--force", "--detach", str(path), sha)
    subprocess.run(
        ["bash", "-c", ". bin/_venv requirements.txt"],
        cwd=path,
        check=True,
        capture_output=True,
        text=True,
    )
    return Build(path, str(path / ".venv" / "bin" / "python"))


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def prepared(settings: Settings, name: str, work: Path) -> tuple[Settings, Path, Path]:
    """A database of the build's own, made by its own migrations and fixtures: the same
    players, credits and tokens as the other's."""
    ran = replace(settings, db_name=f"chatpot_ab_{name}")
    tokens, static = work / f"tokens-{name}.txt", work / f"static-{name}"
    psql(ran, f"DROP DATABASE IF EXISTS {ran.db_name} WITH (FORCE)")
    psql(ran, f"CREATE DATABASE {ran.db_name}")
    manage(ran, "migrate", "--no-input")
    manage(ran, "collectstatic", "--no-input", STATIC_ROOT=str(static))
    fixtures(ran, "players", str(PLAYERS), str(tokens))
    return ran, tokens, static


def one_run(
    settings: Settings, tokens: Path, static: Path, through_proxy: bool
) -> tuple[LoadFigures, dict[str, float]]:
    """The run's figures, and the CPU milliseconds each kind of process spent a message
    (web, worker, proxy, postgres, redis): where a difference between builds is spent."""
    with (
        deployed(settings, STATIC_ROOT=str(static))
        if through_proxy
        else serving(settings, STATIC_ROOT=str(static))
    ) as site:
        web = site.web if through_proxy else site
        worker = site.replies.process if site.replies else None
        named = {"web": web, "worker": worker, "proxy": getattr(site, "proxy", None)}
        groups = process_groups(**{name: found for name, found in named.items() if found})
        del groups["benchmark"]  # wrk is a process of its own, not counted
        spent: dict = {}
        with cpu_per_message(groups, spent):
            figures = wrk(site.url, CONNECTIONS, settings.seconds, tokens)
            spent["messages"] = figures.messages_per_second * settings.seconds
        return figures, spent["cpu_ms_per_message"]


def against(settings: Settings, revision: str, pairs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="chatpot-ab-"))
    log(f"A/B: preparing {revision} (A) beside this checkout (B)")
    builds = {"a": build_of(revision), "b": CURRENT}
    through_proxy = all((build.root / "bin" / "proxy").exists() for build in builds.values())
    runs = {}
    for name, build in builds.items():
        runs[name] = prepared(replace(settings, build=build), name, work)
    where = (
        "through each build's proxy" if through_proxy else "straight at gunicorn (A has no proxy)"
    )
    log(
        f"A/B: POST /api/v1/messages at {CONNECTIONS} connections, {settings.seconds} s a run, "
        f"{pairs} pairs alternated, {where}; each build its own database, grown alike"
    )
    ceilings = [pgbench_ceiling(runs["b"][0], CONNECTIONS)]
    log(f"  pgbench ceiling before: {ceilings[0]:.0f} tps")
    figures: dict[str, list[LoadFigures]] = {"a": [], "b": []}
    cpu: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    ratios = []
    for pair in range(1, pairs + 1):
        order = ("a", "b") if pair % 2 else ("b", "a")  # A B, B A: neither always first
        for name in order:
            found, spent = one_run(*runs[name], through_proxy)
            figures[name].append(found)
            cpu[name].append(spent)
        a, b = figures["a"][-1], figures["b"][-1]
        ratios.append(b.messages_per_second / a.messages_per_second)
        log(
            f"  pair {pair} ({''.join(order).upper()}): A {a.messages_per_second:6.1f} msg/s "
            f"(p99 {a.p99_ms:5.0f} ms), B {b.messages_per_second:6.1f} msg/s "
            f"(p99 {b.p99_ms:5.0f} ms); B/A {ratios[-1]:.3f}; errors {a.errors + b.errors}"
        )
    ceilings.append(pgbench_ceiling(runs["b"][0], CONNECTIONS))
    median = statistics.median(ratios)
    spread = (min(ratios), max(ratios))
    b_median = statistics.median(f.messages_per_second for f in figures["b"])
    per_process = {
        name: {group: statistics.median(run[group] for run in runs_cpu) for group in runs_cpu[0]}
        for name, runs_cpu in cpu.items()
    }
    for name in ("a", "b"):
        log(
            f"  CPU ms a message, {name.upper()} (medians): "
            + ", ".join(f"{group} {ms:.2f}" for group, ms in per_process[name].items())
        )
    log(
        f"  B/A median {median:.3f} (from {spread[0]:.3f} to {spread[1]:.3f}); "
        f"pgbench ceiling after: {ceilings[1]:.0f} tps; B's median "
        f"{b_median:.0f} msg/s = {b_median / statistics.mean(ceilings):.0%} of the ceiling"
    )
    return {
        "revision": revision,
        "through_proxy": through_proxy,
        "pairs": [
            {"a": asdict(a), "b": asdict(b), "ratio": ratio}
            for a, b, ratio in zip(figures["a"], figures["b"], ratios, strict=True)
        ],
        "median_ratio": median,
        "spread": spread,
        "ceilings": ceilings,
        "cpu_ms_per_message": per_process,
    }
