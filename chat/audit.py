"""The messages' part of the ledger's audit (wallet.audit): each message paid once, its
price, by its player, to the pot; each player's nonces taken in turn and their messages
counted."""

from collections import Counter

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef

from wallet.audit import AuditReport, add_breach, check, first_offenders
from wallet.models import Account, Transfer

from .models import Message


@check
def every_message_paid_once(report: AuditReport) -> None:
    """4: every message has exactly one fee, equal to its price, from its player to the pot,
    plus at most one rake."""
    report.messages = Message.objects.count()
    fees = Transfer.objects.filter(kind=Transfer.Kind.MESSAGE_FEE)
    unpaid = Message.objects.exclude(Exists(fees.filter(message=OuterRef("pk"))))
    add_breach(
        report, "Message without a fee", [f"message #{pk}" for pk in first_offenders(unpaid)]
    )
    twice = fees.values_list("message").annotate(n=Count("id")).filter(n__gt=1).order_by()
    add_breach(
        report,
        "Message charged more than once",
        [f"message #{m} ({n} fees)" for m, n in twice[:50]],
    )
    add_breach(
        report,
        "Fee without a message",
        [f"transfer #{pk}" for pk in first_offenders(fees.filter(message=None))],
    )
    wrong_amount = fees.exclude(amount=F("message__price"))
    add_breach(
        report,
        "Fee differs from the message's price",
        [f"transfer #{pk}" for pk in first_offenders(wrong_amount)],
    )
    wrong_payer = fees.exclude(from_account__owner=F("message__player")) | fees.exclude(
        to_account__kind=Account.Kind.POT
    )
    add_breach(
        report,
        "Fee not from the player to the pot",
        [f"transfer #{pk}" for pk in first_offenders(wrong_payer)],
    )
    rakes = (
        Transfer.objects.filter(kind=Transfer.Kind.RAKE)
        .values_list("message")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by()
    )
    add_breach(report, "Message raked more than once", [f"message #{m}" for m, _ in rakes[:50]])


@check
def every_nonce_once(report: AuditReport) -> None:
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
    for player_id, username, client_seed, nonce, messages_sent in (
        get_user_model()
        .objects.values_list("pk", "username", "client_seed", "nonce", "messages_sent")
        .iterator(chunk_size=5000)
    ):
        if nonce != 0 and latest.get(player_id) != (client_seed, nonce - 1):
            skipped.append(f"{username}'s next nonce is {nonce}, {_after(latest, player_id)}")
        if messages_sent != sent[player_id]:
            miscounted.append(
                f"{username} has sent {messages_sent} messages by the count, "
                f"{sent[player_id]} are stored"
            )
    add_breach(report, "Nonce skipped or repeated", skipped)
    add_breach(report, "Messages sent miscounted", miscounted)


def _after(latest: dict[int, tuple[str, int]], player_id: int) -> str:
    if player_id not in latest:
        return "before any message"
    client_seed, nonce = latest[player_id]
    return f"after nonce {nonce} with client seed {client_seed}"
