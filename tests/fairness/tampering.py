"""A real round's transcript, and forgeries of it: what each verifier must catch."""

import copy
import hashlib
import json
import secrets
from decimal import Decimal

from chat.services import send_message


def play_round(make_player, configure) -> int:
    """Round 2: bob, alice, bob, alice, then alice's win (round 1, one win of bob's, gives
    round 2 a seed revealed before it). Its number."""
    alice, bob = make_player(username="alice"), make_player(username="bob")
    configure(win_chance=Decimal(1))
    send_message(player=bob, body="wins the first round")
    configure(win_chance=Decimal("0.000001"))
    for n in range(4):
        send_message(player=alice if n % 2 else bob, body=f"message {n}")
    configure(win_chance=Decimal(1))
    return send_message(player=alice, body="the winner").closed_round.number


def transcript_of(client, number: int) -> dict:
    response = client.get(f"/api/v1/pot/rounds/{number}/transcript")
    return json.loads(b"".join(response.streaming_content))


def forgeries(transcript: dict) -> dict[str, tuple[dict, str]]:
    """Each forgery, and words the problem found in it must hold."""

    def forged(change) -> dict:
        copied = copy.deepcopy(transcript)
        change(copied)
        return copied

    def drop(t, index, *, recount=False):
        del t["messages"][index]
        if recount:
            t["round"]["message_count"] -= 1

    def swap(t, first, second):
        messages = t["messages"]
        messages[first], messages[second] = messages[second], messages[first]

    other = secrets.token_hex(32)
    return {
        "a dropped message": (forged(lambda t: drop(t, 1)), "the transcript has 4"),
        "a dropped message, the count made to match": (
            forged(lambda t: drop(t, 3, recount=True)),
            "nonce 2 follows 0",
        ),
        "a changed roll": (
            forged(lambda t: t["messages"][0].update(roll=0.123)),
            "the roll is 0.123",
        ),
        "a re-ordered pair": (forged(lambda t: swap(t, 3, 4)), "is not the round's last"),
        "a nonce gap": (
            forged(lambda t: t["messages"][4].update(nonce=t["messages"][4]["nonce"] + 1)),
            "nonce 3 follows 1",
        ),
        "a wrong seed": (
            forged(lambda t: t["round"].update(server_seed=other)),
            "does not hash to the round's commitment",
        ),
        "a wrong seed with a commitment to match": (
            forged(
                lambda t: t["round"].update(
                    server_seed=other, server_seed_hash=hashlib.sha256(other.encode()).hexdigest()
                )
            ),
            "does not hash to the seed revealed by the round before",
        ),
    }
