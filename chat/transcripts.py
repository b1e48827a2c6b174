"""A closed round's transcript (docs/GAME.md, "Checking a round"): its seeds and every
message of it in the order they settled, for anyone to check with nothing but the
transcript (docs/verify_round.py, the fairness page's verifier).

The order is the pot's: every message takes the pot's lock to settle, and its fee's
transfer is recorded under that lock, so the fees' keys run in settlement order. A round
is read a page of messages at a time by those keys (wallet_transfer_round_idx), so a
round of any size costs the memory of one page, on any database and through a pooler
that allows no server-side cursor.
"""

import csv
import io
import json
from collections.abc import Iterator

from pot.models import MAX_ROUND_NUMBER, Round
from wallet.models import Transfer

PAGE = 1000

# A message's fields, in the transcript's order (and the CSV's columns).
FIELDS = [
    "id",
    "player",
    "client_seed",
    "nonce",
    "price",
    "win_chance",
    "roll",
    "won",
    "payout",
    "mine",
]


def closed_round(number: int) -> Round | None:
    if number > MAX_ROUND_NUMBER:
        return None
    return (
        Round.objects.select_related("winner", "chain")
        .exclude(outcome=Round.Outcome.OPEN)
        .filter(number=number)
        .first()
    )


def missing(number: int) -> str:
    """Why there is no transcript of round `number`."""
    if (
        number <= MAX_ROUND_NUMBER
        and Round.objects.filter(number=number, outcome=Round.Outcome.OPEN).exists()
    ):
        return f"Round {number} is open: its transcript comes with its seed, when it closes."
    return f"There is no round {number}."


def heading(pot_round: Round) -> dict:
    """What the transcript says of its round: its seed, the one revealed before it, and
    the chain the seed belongs to."""
    chain = pot_round.chain
    # The seed revealed before it, when the round before took the chain's previous seed
    # (a round between chains, or opened while a chain was first made, did not).
    previous = None
    if chain is not None and pot_round.chain_position > 1:
        previous = (
            Round.objects.filter(number=pot_round.number - 1, chain=chain)
            .values_list("server_seed", flat=True)
            .first()
        )
    return {
        "number": pot_round.number,
        "outcome": pot_round.outcome,
        "winner": pot_round.winner.username if pot_round.winner_id else None,
        "payout": pot_round.payout,
        "message_count": pot_round.message_count,
        "opened_at": pot_round.opened_at.isoformat(),
        "closed_at": pot_round.closed_at.isoformat(),
        "server_seed": pot_round.server_seed,
        "server_seed_hash": pot_round.server_seed_hash,
        "previous_seed": previous,
        "chain": None
        if chain is None
        else {
            "terminal_hash": chain.terminal_hash,
            "first_round": chain.first_round,
            "length": chain.length,
            "position": pot_round.chain_position,
        },
    }


# Each message field's column, read through its fee's transfer.
COLUMNS = {
    "id": "message_id",
    "player": "message__player__username",
    "client_seed": "message__client_seed",
    "nonce": "message__nonce",
    "price": "message__price",
    "win_chance": "message__win_chance",
    "roll": "message__roll",
    "won": "message__won",
    "payout": "message__payout",
}


def pages(pot_round: Round, *, viewer_id: int | None = None) -> Iterator[Iterator[dict]]:
    """The round's messages in settlement order, a page at a time."""
    after = 0
    fees = Transfer.objects.filter(round=pot_round, kind=Transfer.Kind.MESSAGE_FEE)
    while True:
        rows = list(
            fees.filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "message__player_id", *COLUMNS.values())[:PAGE]
        )
        if not rows:
            return
        after = rows[-1][0]
        yield (_message(row, viewer_id) for row in rows)
        if len(rows) < PAGE:
            return


def _message(row: tuple, viewer_id: int | None) -> dict:
    _, player_id, *values = row
    message = dict(zip(COLUMNS, values, strict=True))
    message["win_chance"] = f"{message['win_chance']:f}"
    message["mine"] = viewer_id is not None and player_id == viewer_id
    return message


def as_json(pot_round: Round, *, viewer_id: int | None = None) -> Iterator[str]:
    """The transcript as one JSON document, written a page at a time."""
    head = json.dumps({"round": heading(pot_round)})
    yield head[:-1] + ', "messages": ['
    first = True
    for page in pages(pot_round, viewer_id=viewer_id):
        text = ", ".join(json.dumps(message) for message in page)
        yield text if first else ", " + text
        first = False
    yield "]}\n"


def as_csv(pot_round: Round, *, viewer_id: int | None = None) -> Iterator[str]:
    """The round's messages as CSV, one line each, settlement order; a header line first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["round", *FIELDS])
    for page in pages(pot_round, viewer_id=viewer_id):
        for message in page:
            writer.writerow([pot_round.number, *(message[field] for field in FIELDS)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
