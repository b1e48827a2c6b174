"""The ledger's invariants (DESIGN section 2), checked against the database."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Sum

from accounts.models import User
from chat.models import Message
from pot.models import Round

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


def audit_ledger() -> AuditReport:
    report = AuditReport()
    with _snapshot():
        _check_balances(report)
        _check_pot(report)
        _check_message_fees(report)
        _check_player_counters(report)
        report.transfers = Transfer.objects.count()
        report.messages = Message.objects.count()
    return report


def _sums(group_by: str) -> dict[int, int]:
    return dict(Transfer.objects.values_list(group_by).annotate(total=Sum("amount")).order_by())


def _check_balances(report: AuditReport) -> None:
    """1: each balance is its transfers in minus out; 2: all balances sum to zero;
    3: no player is negative."""
    incoming, outgoing = _sums("to_account"), _sums("from_account")
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
    _add(report, "Balance does not match its transfers", mismatched)
    _add(report, "Negative player balance", negative)
    if total != 0:
        report.breaches.append(
            f"The balances sum to {total}, not 0: credits were created or lost."
        )


def _check_pot(report: AuditReport) -> None:
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
    _add(report, "A closed round did not empty the pot", leftovers)
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
    _add(report, "A round's payout differs from what was paid", wrong)


def _check_message_fees(report: AuditReport) -> None:
    """4: every message has exactly one fee, equal to its price, from its player to the pot,
    plus at most one rake."""
    fees = Transfer.objects.filter(kind=Transfer.Kind.MESSAGE_FEE)
    unpaid = Message.objects.exclude(Exists(fees.filter(message=OuterRef("pk"))))
    _add(report, "Message without a fee", [f"message #{pk}" for pk in _first(unpaid)])
    twice = fees.values_list("message").annotate(n=Count("id")).filter(n__gt=1).order_by()
    _add(
        report,
        "Message charged more than once",
        [f"message #{m} ({n} fees)" for m, n in twice[:50]],
    )
    _add(
        report,
        "Fee without a message",
        [f"transfer #{pk}" for pk in _first(fees.filter(message=None))],
    )
    wrong_amount = fees.exclude(amount=F("message__price"))
    _add(
        report,
        "Fee differs from the message's price",
        [f"transfer #{pk}" for pk in _first(wrong_amount)],
    )
    wrong_payer = fees.exclude(from_account__owner=F("message__player")) | fees.exclude(
        to_account__kind=Account.Kind.POT
    )
    _add(
        report,
        "Fee not from the player to the pot",
        [f"transfer #{pk}" for pk in _first(wrong_payer)],
    )
    rakes = (
        Transfer.objects.filter(kind=Transfer.Kind.RAKE)
        .values_list("message")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by()
    )
    _add(report, "Message raked more than once", [f"message #{m}" for m, _ in rakes[:50]])


def _check_player_counters(report: AuditReport) -> None:
    """Each player's draws take their nonces in turn: 0 with a new client seed, then one
    more per message, none skipped; `messages_sent` counts the messages stored. A skipped
    nonce means the receipts no longer count the player's messages."""
    latest: dict[int, tuple[str, int]] = {}  # player -> (client seed, nonce) of their latest
    sent: Counter[int] = Counter()
    skipped = []
    messages = Message.objects.order_by("player_id", "id").values_list(
        "player_id", "pk", "client_seed", "nonce"
    )
    for player_id, pk, client_seed, nonce in messages.iterator(chunk_size=5000):
        if nonce != 0 and latest.get(player_id) != (client_seed, nonce - 1):
            skipped.append(f"message #{pk} drew with nonce {nonce}, {_after(latest, player_id)}")
        latest[player_id] = (client_seed, nonce)
        sent[player_id] += 1
    miscounted = []
    for player_id, username, client_seed, nonce, messages_sent in User.objects.values_list(
        "pk", "username", "client_seed", "nonce", "messages_sent"
    ).iterator(chunk_size=5000):
        if nonce != 0 and latest.get(player_id) != (client_seed, nonce - 1):
            skipped.append(f"{username}'s next nonce is {nonce}, {_after(latest, player_id)}")
        if messages_sent != sent[player_id]:
            miscounted.append(
                f"{username} has sent {messages_sent} messages by the count, "
                f"{sent[player_id]} are stored"
            )
    _add(report, "Nonce skipped or repeated", skipped)
    _add(report, "Messages sent miscounted", miscounted)


def _after(latest: dict[int, tuple[str, int]], player_id: int) -> str:
    if player_id not in latest:
        return "before any message"
    client_seed, nonce = latest[player_id]
    return f"after nonce {nonce} with client seed {client_seed}"


def _first(queryset) -> list[int]:
    return list(queryset.order_by("pk").values_list("pk", flat=True)[:50])


def _add(report: AuditReport, title: str, offenders: list[str]) -> None:
    if offenders:
        shown = "; ".join(offenders[:SHOWN_PER_BREACH])
        more = (
            f" (and {len(offenders) - SHOWN_PER_BREACH} more)"
            if len(offenders) > SHOWN_PER_BREACH
            else ""
        )
        report.breaches.append(f"{title}: {shown}{more}.")
