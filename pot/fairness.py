"""The provably fair draw and the seed chain (docs/GAME.md).

roll = first 8 bytes of HMAC-SHA256(key=server_seed, msg=f"{client_seed}:{nonce}"),
read big-endian, divided by 2**64. A message wins when roll < win_chance; the comparison
is made exactly on the integer, so no float rounding can flip an outcome.

The seed chain: a secret seed at position `length`, and each position's seed below it the
SHA-256 of the one above (`hash_server_seed`, of the seed's hex text, as hex); position 0
is the terminal hash, published when the chain is made. Rounds take the seeds from
position 1 up, so each revealed seed hashes to the one revealed before it, and every seed
to come was fixed when the terminal was published.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

ROLL_SCALE = 2**64


def new_server_seed() -> str:
    return secrets.token_hex(32)


def hash_server_seed(server_seed: str) -> str:
    return hashlib.sha256(server_seed.encode()).hexdigest()


CHECKPOINT_EVERY = 1000


def chain_checkpoints(length: int, *, every: int = CHECKPOINT_EVERY) -> tuple[str, dict[int, str]]:
    """A new chain of `length` seeds: its terminal hash, and its seeds at every `every`-th
    position and at `length` (the rest are derived from these: `chain_seed`)."""
    if length < 1:
        raise ValueError("A seed chain holds at least one seed.")
    seed = new_server_seed()
    checkpoints = {}
    for position in range(length, 0, -1):
        if position == length or position % every == 0:
            checkpoints[position] = seed
        seed = hash_server_seed(seed)
    return seed, checkpoints


def checkpoint_above(position: int, *, length: int, every: int = CHECKPOINT_EVERY) -> int:
    """The checkpoint a seed is derived from: the nearest at or above its position."""
    return min(-(-position // every) * every, length)


def chain_stretch(
    checkpoint: int, *, checkpoint_seed: str, every: int = CHECKPOINT_EVERY
) -> tuple[str, ...]:
    """The seeds from a checkpoint down to the one just above the checkpoint below it,
    the checkpoint's own first (index i holds position checkpoint - i)."""
    stretch = [checkpoint_seed]
    for _ in range((checkpoint - 1) % every):
        stretch.append(hash_server_seed(stretch[-1]))
    return tuple(stretch)


def chain_seed(position: int, *, checkpoint: int, checkpoint_seed: str) -> str:
    """The seed at `position`, from the seed at a checkpoint at or above it."""
    if checkpoint < position:
        raise ValueError("A seed is derived from a checkpoint at or above its position.")
    seed = checkpoint_seed
    for _ in range(checkpoint - position):
        seed = hash_server_seed(seed)
    return seed


def roll_integer(*, server_seed: str, client_seed: str, nonce: int) -> int:
    digest = hmac.new(
        server_seed.encode(), f"{client_seed}:{nonce}".encode(), hashlib.sha256
    ).digest()
    return int.from_bytes(digest[:8], "big")


def is_win(roll: int, win_chance: Decimal) -> bool:
    """roll / 2**64 < win_chance, compared exactly, in integers."""
    numerator, denominator = Decimal(win_chance).as_integer_ratio()
    return roll * denominator < numerator * ROLL_SCALE


@dataclass(frozen=True)
class Draw:
    client_seed: str
    nonce: int
    roll_integer: int
    win_chance: Decimal

    @property
    def roll(self) -> float:
        """The roll as a number in [0, 1), for display."""
        return self.roll_integer / ROLL_SCALE

    @property
    def won(self) -> bool:
        return is_win(self.roll_integer, self.win_chance)


def draw(*, server_seed: str, client_seed: str, nonce: int, win_chance: Decimal) -> Draw:
    return Draw(
        client_seed=client_seed,
        nonce=nonce,
        roll_integer=roll_integer(server_seed=server_seed, client_seed=client_seed, nonce=nonce),
        win_chance=Decimal(win_chance),
    )
