#!/usr/bin/env python3
"""Check a ChatPot round's transcript with nothing but Python's standard library.

    python3 verify_round.py https://chatpot.example/api/v1/pot/rounds/42/transcript
    python3 verify_round.py round-42.json
    python3 verify_round.py round-42.json --terminal 5f1c...   # the chain's published end

It checks what docs/GAME.md ("Checking a round") says a transcript proves: the revealed
seed against the round's commitment, its link to the seed revealed before it and, hashed
as many times as its place in its chain, to the chain's terminal hash; every message's
roll and outcome, recomputed; that a won round's winning message is its only win and its
last draw, by the round's winner for its payout; that the round's count of messages is
the transcript's; and that each player's nonces follow one another with no gap. Exit
status 0 when every check holds, 1 when one does not, 2 when the transcript cannot be read.
"""

import argparse
import hashlib
import hmac
import json
import sys
import urllib.request
from decimal import Decimal, InvalidOperation

ROLL_SCALE = 2**64


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def roll_integer(server_seed: str, client_seed: str, nonce: int) -> int:
    digest = hmac.new(
        server_seed.encode(), f"{client_seed}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return int.from_bytes(digest[:8], "big")


def is_win(roll: int, chance: str) -> bool | None:
    try:
        numerator, denominator = Decimal(chance).as_integer_ratio()
    except (InvalidOperation, ValueError, TypeError):
        return None
    return roll * denominator < numerator * ROLL_SCALE


def check(transcript: dict, *, terminal: str | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes): no problem means every check holds."""
    problems, notes = [], []
    round_ = transcript.get("round") if isinstance(transcript, dict) else None
    messages = transcript.get("messages") if isinstance(transcript, dict) else None
    if not isinstance(round_, dict) or not isinstance(messages, list):
        return ["This is not a round's transcript."], notes
    seed = round_["server_seed"]
    seed_hash = sha256_hex(seed)
    if seed_hash != round_["server_seed_hash"]:
        problems.append("The revealed seed does not hash to the round's commitment.")
    chain = round_.get("chain")
    if chain is None:
        notes.append("This round's seed belongs to no chain: it was drawn when the round opened.")
    else:
        if terminal and terminal != chain["terminal_hash"]:
            problems.append("The transcript names another chain than the terminal hash given.")
        previous = round_.get("previous_seed")
        if chain["position"] > 1 and previous is None:
            notes.append("The round before took no seed of this chain: the walk below proves it.")
        elif chain["position"] > 1 and previous != seed_hash:
            problems.append("The seed does not hash to the seed revealed by the round before.")
        link = seed
        for _ in range(chain["position"]):
            link = sha256_hex(link)
        if link != chain["terminal_hash"]:
            problems.append(
                f"Hashed {chain['position']} times, the seed does not reach the chain's "
                "terminal hash."
            )
        else:
            notes.append(
                f"Hashed {chain['position']} times, the seed reaches the chain's terminal "
                f"hash {chain['terminal_hash']}."
            )
    if len(messages) != round_["message_count"]:
        problems.append(
            f"The round counts {round_['message_count']} messages; the transcript has "
            f"{len(messages)}."
        )
    seen, last, winners = set(), {}, []
    for index, message in enumerate(messages):
        name = f"Message {message['id']}"
        if message["id"] in seen:
            problems.append(f"{name} appears twice.")
        seen.add(message["id"])
        roll = roll_integer(seed, message["client_seed"], message["nonce"])
        if roll / ROLL_SCALE != message["roll"]:
            problems.append(
                f"{name}: the roll is {message['roll']}; recomputed, {roll / ROLL_SCALE}."
            )
        won = is_win(roll, message["win_chance"])
        if won != message["won"]:
            problems.append(
                f"{name}: recorded as {'a win' if message['won'] else 'no win'}; the draw "
                f"says {'a win' if won else 'no win'}."
            )
        if message["won"]:
            winners.append(index)
        before = last.get(message["player"])
        if before is not None:
            if before["client_seed"] == message["client_seed"]:
                if message["nonce"] != before["nonce"] + 1:
                    problems.append(
                        f"{name}: {message['player']}'s nonce {message['nonce']} follows "
                        f"{before['nonce']} (a gap, or out of order)."
                    )
            elif message["nonce"] != 0:
                problems.append(
                    f"{name}: a new client seed starts at nonce 0, not {message['nonce']}."
                )
        last[message["player"]] = message
    if round_["outcome"] == "won":
        if len(winners) != 1:
            problems.append(f"A won round holds {len(winners)} winning messages, not 1.")
        elif winners[0] != len(messages) - 1:
            problems.append("The winning message is not the round's last: a draw after the win.")
        elif (messages[-1]["player"], messages[-1]["payout"]) != (
            round_["winner"],
            round_["payout"],
        ):
            problems.append("The winning message is not the round's winner and payout.")
    elif winners:
        problems.append(f"A round closed without a win holds {len(winners)} winning messages.")
    return problems, notes


def read(source: str) -> dict:
    if source.startswith(("http://", "https://")):
        # Only http(s), checked above.
        request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.load(response)
    with open(source, encoding="utf-8") as file:
        return json.load(file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("transcript", help="the transcript's URL, or a file holding it")
    parser.add_argument("--terminal", help="the chain's terminal hash, as published at launch")
    arguments = parser.parse_args(argv)
    try:
        transcript = read(arguments.transcript)
    except (OSError, ValueError) as failure:
        print(f"The transcript could not be read: {failure}", file=sys.stderr)
        return 2
    try:
        problems, notes = check(transcript, terminal=arguments.terminal)
    except (KeyError, TypeError) as failure:
        print(f"The transcript lacks a field it needs: {failure}", file=sys.stderr)
        return 2
    number = transcript.get("round", {}).get("number", "?")
    for note in notes:
        print(note)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if problems:
        print(f"Round {number}: {len(problems)} problem(s) found.")
        return 1
    print(f"Round {number}: every check holds ({len(transcript['messages'])} draws recomputed).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
