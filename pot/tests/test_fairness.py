from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pot import fairness

SEED = "a3f1c9e0b6d2478f95e1c0d3b7a8f6e2d4c1b0a9f8e7d6c5b4a3928170615243"

# Computed independently with `printf 'client:nonce' | openssl dgst -sha256 -hmac SEED`,
# first 16 hex digits read as an integer.
VECTORS = [
    (SEED, "lucky-player", 0, 13542050778055799997),
    (SEED, "lucky-player", 1, 15301237160355082989),
    (SEED, "lucky-player", 20, 1134669683238007057),
    (SEED, "lucky-player", 30, 1764670153949602418),
    ("0" * 64, "abc", 42, 18426616284270711735),
    ("serverseed", "client", 7, 12829162055190274769),
]


@pytest.mark.parametrize(("server_seed", "client_seed", "nonce", "expected"), VECTORS)
def test_roll_matches_known_vectors(server_seed, client_seed, nonce, expected):
    roll = fairness.roll_integer(server_seed=server_seed, client_seed=client_seed, nonce=nonce)
    assert roll == expected


def test_draw_wins_only_below_the_win_chance():
    chance = Decimal("0.10")
    # 0.0615... and 0.0956... are below 10 %, 0.734... is not.
    assert fairness.draw(
        server_seed=SEED, client_seed="lucky-player", nonce=20, win_chance=chance
    ).won
    assert fairness.draw(
        server_seed=SEED, client_seed="lucky-player", nonce=30, win_chance=chance
    ).won
    assert not fairness.draw(
        server_seed=SEED, client_seed="lucky-player", nonce=0, win_chance=chance
    ).won
    # Just under the roll of nonce 30 (0.09566...) it loses.
    assert not fairness.draw(
        server_seed=SEED, client_seed="lucky-player", nonce=30, win_chance=Decimal("0.095662")
    ).won


def test_roll_is_a_fraction_of_two_to_the_64():
    draw = fairness.draw(server_seed=SEED, client_seed="lucky-player", nonce=0, win_chance=1)
    assert draw.roll == pytest.approx(0.7341160437)
    assert 0 <= draw.roll < 1


def test_certain_win_and_exact_boundary():
    assert fairness.is_win(2**64 - 1, Decimal(1))
    # roll == win_chance exactly is a loss: the rule is strictly below.
    assert not fairness.is_win(2**63, Decimal("0.5"))
    assert fairness.is_win(2**63 - 1, Decimal("0.5"))


@given(
    roll=st.integers(min_value=0, max_value=2**64 - 1),
    millionths=st.integers(min_value=1, max_value=1_000_000),
)
def test_win_is_the_exact_comparison_of_roll_and_chance(roll, millionths):
    chance = Decimal(millionths) / 1_000_000
    assert fairness.is_win(roll, chance) == (Fraction(roll, 2**64) < Fraction(chance))
    # At the chance's own boundary: the largest winning roll wins, the next loses.
    boundary = -(-millionths * 2**64 // 1_000_000)  # the first roll that is not below
    assert fairness.is_win(boundary - 1, chance)
    assert not fairness.is_win(boundary, chance)


def test_commitment_is_sha256_of_the_seed():
    assert (
        fairness.hash_server_seed(SEED)
        == "64660bc8f5d46cd606d05176c5cdc47c29449f951367ff160b19e218b7e1e4fa"
    )


def test_new_server_seeds_are_random_and_64_hex_digits():
    seeds = {fairness.new_server_seed() for _ in range(50)}
    assert len(seeds) == 50
    assert all(len(seed) == 64 and int(seed, 16) >= 0 for seed in seeds)
