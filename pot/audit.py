"""The pot's part of the ledger's audit (wallet.audit): exactly one round open, the pot
holding exactly what its open round took in, each closed round emptied and each win paid
as recorded."""

from django.db.models import Sum

from wallet.audit import AuditReport, add_breach, check
from wallet.models import Account, Transfer

from .models import Round


@check
def pot_holds_the_open_round(report: AuditReport) -> None:
    """3: the pot holds exactly the open round's amount; closed rounds are emptied."""
    open_rounds = list(
        Round.objects.filter(outcome=Round.Outcome.OPEN).values_list("pk", "number")
    )
    if len(open_rounds) != 1:
        report.breaches.append(f"{len(open_rounds)} rounds are open; exactly one must be.")
    pot = Account.objects.get(kind=Account.Kind.POT)
    net = dict.fromkeys(Round.objects.values_list("pk", flat=True), 0)
    for round_id, total in (
        Transfer.objects.filter(to_account=pot)
        .values_list("round")
        .annotate(Sum("amount"))
        .order_by()
    ):
        net[round_id] = net.get(round_id, 0) + total
    for round_id, total in (
        Transfer.objects.filter(from_account=pot)
        .values_list("round")
        .annotate(Sum("amount"))
        .order_by()
    ):
        net[round_id] = net.get(round_id, 0) - total
    if None in net:
        report.breaches.append("Some pot transfers name no round.")
    open_ids = {pk for pk, _ in open_rounds}
    if open_rounds and pot.balance != sum(net.get(pk, 0) for pk in open_ids):
        report.breaches.append(
            f"The pot holds {pot.balance} but the open round's transfers add up to "
            f"{sum(net.get(pk, 0) for pk in open_ids)}."
        )
    leftovers = [
        f"round #{pk} left {amount}" for pk, amount in net.items() if pk not in open_ids and amount
    ]
    add_breach(report, "A closed round did not empty the pot", leftovers)
    payouts = dict(
        Transfer.objects.filter(kind=Transfer.Kind.POT_WIN)
        .values_list("round")
        .annotate(Sum("amount"))
        .order_by()
    )
    wrong = [
        f"round {number} records {payout}, paid {payouts.get(pk, 0)}"
        for pk, number, payout in Round.objects.filter(outcome=Round.Outcome.WON).values_list(
            "pk", "number", "payout"
        )
        if payouts.get(pk, 0) != payout
    ]
    add_breach(report, "A round's payout differs from what was paid", wrong)
