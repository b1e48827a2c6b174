"""The events ChatPot's streams carry (server-sent events), and where each stands in the game
(docs/LIVE.md).

Every event of the events feed has an id that says where in the game it stands, so that a
client that comes back with the last id it heard (EventSource's `Last-Event-ID`) is told
exactly what it missed, and nothing twice:

- `N`    `round`: round N opened;
- `N.T`  `pot`: what the pot held in round N, as the announcer's tick T told it;
- `Nw`   `win`: round N was won.

In the game's order: round N opened, its pot, its win, round N+1 opened, and so on.
"""

import json
import re
from dataclasses import dataclass

from pot.models import Round

# A comeback is told at most this many rounds' events; one further behind is told that it
# missed more (`missed`) and where things stand.
MISSED_ROUNDS_MAX = 50


def event(name: str, data: dict, *, id: str = "") -> bytes:
    line = f"id: {id}\n" if id else ""
    return f"{line}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def comment(text: str) -> bytes:
    """A line that no client shows (a heartbeat)."""
    return f": {text}\n\n".encode()


def retry(milliseconds: int) -> bytes:
    """EventSource comes back after this long once the stream ends."""
    return f"retry: {milliseconds}\n\n".encode()


@dataclass(frozen=True, order=True)
class Position:
    """Where an event stands: in round `round`, after its win or not."""

    round: int
    won: bool = False


_ID = re.compile(r"([0-9]{1,10})(w|\.[0-9]{1,18})?")


def position_of(event_id: str | None) -> Position | None:
    """Where the event with this id stands; None for no id, or one that is not ours."""
    found = _ID.fullmatch((event_id or "").strip())
    if found is None:
        return None
    return Position(int(found[1]), won=found[2] == "w")


def tick_of(event_id: str | None) -> int | None:
    """The announcer's tick a pot event's id names (the last event of that tick)."""
    found = _ID.fullmatch((event_id or "").strip())
    if found is None or not (found[2] or "").startswith("."):
        return None
    return int(found[2][1:])


def pot_event(*, round: int, amount: int, tick: int) -> bytes:
    return event("pot", {"round": round, "amount": amount}, id=f"{round}.{tick}")


def round_event(round: Round) -> bytes:
    data = {"round": round.number, "server_seed_hash": round.server_seed_hash}
    return event("round", data, id=str(round.number))


def win_event(round: Round) -> bytes:
    data = {
        "round": round.number,
        "winner": round.winner.username,
        "payout": round.payout,
        "server_seed": round.server_seed,
    }
    return event("win", data, id=f"{round.number}w")


def events_between(after: Position, until_round: int, *, most: int = MISSED_ROUNDS_MAX) -> bytes:
    """Every event after `after`, up to round `until_round` opening (its own win not
    included: the round was open where this ends), in order. One read of at most `most`
    + 1 rounds: further behind, `missed` says so, then the round open."""
    if until_round < after.round:
        return b""
    if until_round - after.round > most:
        told = Round.objects.get(number=until_round)
        gap = {"from_round": after.round, "to_round": until_round - 1}
        return event("missed", gap) + round_event(told)
    rounds = (
        Round.objects.filter(number__gte=after.round, number__lte=until_round)
        .select_related("winner")
        .order_by("number")
    )
    chunks = []
    for found in rounds:
        if found.number > after.round:
            chunks.append(round_event(found))
        won_here = found.outcome == Round.Outcome.WON and found.number < until_round
        if won_here and not (found.number == after.round and after.won):
            chunks.append(win_event(found))
    return b"".join(chunks)
