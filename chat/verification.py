"""Recompute a closed round's draws from its revealed seed (docs/GAME.md)."""

from dataclasses import dataclass, field

from pot import fairness
from pot.models import Round

from .models import Message


@dataclass
class RoundVerification:
    round: Round
    draws: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_round(pot_round: Round) -> RoundVerification:
    result = RoundVerification(round=pot_round)
    if pot_round.is_open:
        result.problems.append(
            f"Round {pot_round.number} is still open: its seed is secret until it closes."
        )
        return result
    seed_hash = fairness.hash_server_seed(pot_round.server_seed)
    if seed_hash != pot_round.server_seed_hash:
        result.problems.append("The revealed seed does not hash to the published commitment.")
    if pot_round.chain_id:
        # Its place in the seed chain: hashed as many times, it reaches the terminal hash
        # (the chain's position 0).
        terminal = fairness.chain_seed(
            0, checkpoint=pot_round.chain_position, checkpoint_seed=pot_round.server_seed
        )
        if terminal != pot_round.chain.terminal_hash:
            result.problems.append("The seed is not its place's link of its seed chain.")

    winners = []
    seen = set()
    messages = Message.objects.filter(round=pot_round).select_related("player").order_by("pk")
    for message in messages.iterator(chunk_size=2000):
        result.draws += 1
        draw = fairness.draw(
            server_seed=pot_round.server_seed,
            client_seed=message.client_seed,
            nonce=message.nonce,
            win_chance=message.win_chance,
        )
        if draw.roll != message.roll:
            result.problems.append(
                f"Message {message.pk}: stored roll {message.roll!r}, recomputed {draw.roll!r}."
            )
        if draw.won != message.won:
            result.problems.append(
                f"Message {message.pk}: recorded {'win' if message.won else 'loss'}, "
                f"the draw says {'win' if draw.won else 'loss'}."
            )
        pair = (message.player_id, message.client_seed, message.nonce)
        if pair in seen:
            result.problems.append(f"Message {message.pk}: client seed and nonce used twice.")
        seen.add(pair)
        if message.won:
            winners.append(message)

    if pot_round.outcome == Round.Outcome.WON:
        if len(winners) != 1:
            result.problems.append(f"A won round has {len(winners)} winning messages, not 1.")
        elif winners[0].player_id != pot_round.winner_id or winners[0].payout != pot_round.payout:
            result.problems.append(
                "The winning message does not match the round's winner and payout."
            )
    elif winners:
        result.problems.append(f"A round closed by reset has {len(winners)} winning messages.")
    return result
