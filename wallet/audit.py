"""The ledger's invariants (docs/ARCHITECTURE.md), checked against the database: this app's
own (every balance is its transfers; they sum to zero; no player below zero), and those the
apps above it register (`check`): the pot's (pot.audit), the messages' (chat.audit)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Sum

from .models import Account, Transfer

SHOWN_PER_BREACH = 10


@dataclass
class AuditReport:
    accounts: int = 0
    transfers: int = 0
    messages: int = 0
    in_play: int = 0
    breaches: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.breaches

    def summary(self) -> str:
        state = "clean" if self.clean else f"{len(self.breaches)} breach(es)"
        return (
            f"Ledger audit: {state} — {self.accounts} accounts, {self.transfers} transfers, "
            f"{self.messages} messages, {self.in_play} credits in play."
        )


@contextmanager
def _snapshot() -> Iterator[None]:
    """Read everything from one consistent snapshot, even while players keep sending."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


# The invariants of the apps above, each a function that adds to the report.
CHECKS: list[Callable[[AuditReport], None]] = []


def check(invariant: Callable[[AuditReport], None]):
    """Register an invariant the audit checks (the apps above the wallet, at start)."""
    CHECKS.append(invariant)
    return invariant


def audit_ledger() -> AuditReport:
    report = AuditReport()
    with _snapshot():
        _check_balances(report)
        for invariant in CHECKS:
            invariant(report)
        report.transfers = Transfer.objects.count()
    return report


def sums(group_by: str) -> dict[int, int]:
    return dict(Transfer.objects.values_list(group_by).annotate(total=Sum("amount")).order_by())


def _check_balances(report: AuditReport) -> None:
    """1: each balance is its transfers in minus out; 2: all balances sum to zero;
    3: no player is negative."""
    incoming, outgoing = sums("to_account"), sums("from_account")
    total = 0
    mismatched, negative = [], []
    for pk, kind, owner, balance in Account.objects.values_list(
        "pk", "kind", "owner__username", "balance"
    ).iterator(chunk_size=5000):
        report.accounts += 1
        total += balance
        expected = incoming.get(pk, 0) - outgoing.get(pk, 0)
        name = owner or kind
        if balance != expected:
            mismatched.append(
                f"account #{pk} ({name}) holds {balance}, its transfers say {expected}"
            )
        if kind != Account.Kind.HOUSE and balance < 0:
            negative.append(f"account #{pk} ({name}) is at {balance}")
        if kind == Account.Kind.HOUSE:
            report.in_play = -balance  # what players and the pot hold
    add_breach(report, "Balance does not match its transfers", mismatched)
    add_breach(report, "Negative player balance", negative)
    if total != 0:
        report.breaches.append(
            f"The balances sum to {total}, not 0: credits were created or lost."
        )


def first_offenders(queryset) -> list[int]:
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:50])


def add_breach(report: AuditReport, title: str, offenders: list[str]) -> None:
    if offenders:
        shown = "; ".join(offenders[:SHOWN_PER_BREACH])
        more = (
            f" (and {len(offenders) - SHOWN_PER_BREACH} more)"
            if len(offenders) > SHOWN_PER_BREACH
            else ""
        )
        report.breaches.append(f"{title}: {shown}{more}.")
