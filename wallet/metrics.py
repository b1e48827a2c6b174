"""The ledger's figures an operator watches (operations.metrics, operations.health): the
pot and its round, and the latest audit, read when asked."""

from prometheus_client.core import GaugeMetricFamily

from operations import health
from operations.metrics import state

from .auditing import latest_audit
from .models import Account


@state
def pot_and_audit():
    pot = Account.objects.filter(kind=Account.Kind.POT).values("balance", "round__number")
    pot = pot.first() or {"balance": 0, "round__number": 0}
    yield GaugeMetricFamily("chatpot_pot_credits", "Credits in the pot now.", pot["balance"])
    yield GaugeMetricFamily("chatpot_round", "The open round's number.", pot["round__number"])
    audit = latest_audit()
    yield GaugeMetricFamily(
        "chatpot_audit_clean",
        "1 if the ledger's latest audit was clean, 0 if it found a breach, -1 if none ran.",
        value=-1 if audit is None else int(bool(audit.clean)),
    )
    yield GaugeMetricFamily(
        "chatpot_audit_finished_timestamp_seconds",
        "When the ledger's latest audit finished (0: none has).",
        value=audit.finished_at.timestamp() if audit else 0,
    )


def ledger_audit() -> dict | None:
    audit = latest_audit()
    if audit is None:
        return None
    return {
        "clean": audit.clean,
        "finished_at": audit.finished_at.isoformat(),
        "reason": audit.reason,
        "summary": audit.summary,
        "breaches": audit.breaches,
    }


health.detail("ledger_audit", ledger_audit)
