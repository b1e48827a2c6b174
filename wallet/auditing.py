"""The ledger's audit, run by itself: every `LEDGER_AUDIT_EVERY` seconds (a day by default)
and after every operator action on money or fairness (a grant, a pot reset, a client seed
set, the game's parameters changed), by the worker (`manage.py run_worker`). Each run is a
LedgerAudit row: the admin's index and /healthz (for staff) show the latest; a breach is
logged at ERROR.

An action asks for an audit in its own transaction (`audit_request`), so an action that
rolls back asks for nothing. A worker claims every audit asked for (SKIP LOCKED: two
workers never run the same one) and answers them all with one run.
"""

import asyncio
import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .audit import audit_ledger
from .models import LedgerAudit

logger = logging.getLogger(__name__)


def audit_request(*, reason: str) -> LedgerAudit:
    """Ask the workers for an audit; call it inside the action's transaction."""
    return LedgerAudit.objects.create(reason=reason[:200])


def audits_claim(*, every: timedelta) -> list[int]:
    """The audits asked for and not yet started, now started by us; or, when none is and
    the latest is older than `every`, a scheduled one."""
    now = timezone.now()
    with transaction.atomic():
        waiting = list(
            LedgerAudit.objects.select_for_update(skip_locked=True)
            .filter(started_at=None)
            .values_list("pk", flat=True)
        )
        if waiting:
            LedgerAudit.objects.filter(pk__in=waiting).update(started_at=now)
            return waiting
        latest = LedgerAudit.objects.order_by("-requested_at").values("requested_at").first()
        if latest is None or latest["requested_at"] <= now - every:
            return [LedgerAudit.objects.create(reason="scheduled", started_at=now).pk]
    return []


def audit_run_due(*, every: timedelta) -> LedgerAudit | None:
    """Run the audit if one is due; the run, or None."""
    claimed = audits_claim(every=every)
    if not claimed:
        return None
    report = audit_ledger()
    LedgerAudit.objects.filter(pk__in=claimed).update(
        finished_at=timezone.now(),
        clean=report.clean,
        summary=report.summary(),
        breaches=report.breaches,
    )
    if report.clean:
        logger.info("%s", report.summary())
    else:
        logger.error(
            "%s Breaches: %s",
            report.summary(),
            " | ".join(report.breaches),
            extra={"audit": claimed},
        )
    return LedgerAudit.objects.get(pk=claimed[0])


def latest_audit() -> LedgerAudit | None:
    """The latest audit that has run to its end; of those one run answered (they finished
    together), the one asked for last."""
    finished = LedgerAudit.objects.exclude(finished_at=None)
    return finished.order_by("-finished_at", "-requested_at", "-pk").first()


def _run_due_in_thread(every: timedelta) -> None:
    try:
        audit_run_due(every=every)
    finally:
        connection.close()  # a thread of the worker's pool: its connection goes with the run


async def audit_when_due(stopping: asyncio.Event) -> None:
    """The worker's auditor: looks every LEDGER_AUDIT_LOOK_EVERY seconds, runs what is due
    in a thread of its own (a whole-ledger read must not hold up the replies' database
    thread). LEDGER_AUDIT_SECONDS=0 turns it off."""
    if settings.LEDGER_AUDIT_EVERY <= 0:
        return  # off: the audit runs elsewhere (`manage.py audit_ledger` on a schedule)
    every = timedelta(seconds=settings.LEDGER_AUDIT_EVERY)
    while not stopping.is_set():
        try:
            await asyncio.to_thread(_run_due_in_thread, every)
        except Exception:
            logger.exception("The ledger audit could not run; it is tried again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), settings.LEDGER_AUDIT_LOOK_EVERY)
