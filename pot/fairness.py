"""The provably fair draw (docs/GAME.md).

roll = first 8 bytes of HMAC-SHA256(key=server_seed, msg=f"{client_seed}:{nonce}"),
read big-endian, divided by 2**64. A message wins when roll < win_chance; the comparison
is made exactly on the integer, so no float rounding can flip an outcome.
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
