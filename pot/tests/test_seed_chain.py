"""The seed chain (docs/GAME.md, "The seed chain"): every round's seed fixed when the chain's
terminal hash is published, each revealed seed hashing to the one before."""

import hashlib
import importlib
import itertools
import logging
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from chat.services import send_message
from pot import fairness
from pot.models import Round, SeedChain, SeedCheckpoint
from pot.selectors import open_round
from pot.services import reset_round, start_chain

pytestmark = pytest.mark.django_db


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_every_seed_of_a_chain_derives_from_its_checkpoints_and_hashes_to_the_one_before():
    terminal, checkpoints = fairness.chain_checkpoints(2500, every=1000)
    assert sorted(checkpoints) == [1000, 2000, 2500]
    seeds = {
        position: fairness.chain_seed(
            position,
            checkpoint=min(c for c in checkpoints if c >= position),
            checkpoint_seed=checkpoints[min(c for c in checkpoints if c >= position)],
        )
        for position in range(1, 2501)
    }
    assert sha(seeds[1]) == terminal
    assert all(sha(seeds[position]) == seeds[position - 1] for position in range(2, 2501))
    assert len(set(seeds.values())) == 2500
    # A process's stretch of the chain gives the same seeds, from the checkpoint above.
    for position in (1, 999, 1000, 1001, 2000, 2001, 2500):
        checkpoint = fairness.checkpoint_above(position, length=2500)
        assert checkpoint == min(c for c in checkpoints if c >= position)
        stretch = fairness.chain_stretch(checkpoint, checkpoint_seed=checkpoints[checkpoint])
        assert stretch[checkpoint - position] == seeds[position]
        assert stretch[-1] == seeds[checkpoint - len(stretch) + 1]
    assert len(fairness.chain_stretch(2500, checkpoint_seed=checkpoints[2500])) == 500
    with pytest.raises(ValueError, match="at or above its position"):
        fairness.chain_seed(5, checkpoint=4, checkpoint_seed=seeds[4])


def test_a_new_game_plays_on_the_chain_its_migration_made_from_round_1(settings):
    chain = SeedChain.objects.get()
    assert (chain.first_round, chain.length) == (1, settings.SEED_CHAIN_LENGTH)
    first = Round.objects.get(number=1)
    assert first.chain == chain
    assert first.chain_position == 1
    assert sha(first.server_seed) == chain.terminal_hash == first.server_seed_hash
    # Only the checkpoints are kept, not a row per seed.
    assert SeedCheckpoint.objects.filter(chain=chain).count() == settings.SEED_CHAIN_LENGTH // 1000


def test_a_thousand_rounds_won_and_reset_each_take_the_chains_next_seed(make_player, configure):
    """Rounds closed by wins (through the send) and by resets each consume one seed: each
    round's seed hashes to the one before it, the chain's first to its terminal, and the
    commitment published while a round is open is the seed the round before revealed."""
    chain = start_chain(length=1200)
    assert chain.first_round == open_round().number + 2
    alice, operator = make_player(), make_player(is_staff=True)
    configure(win_chance=Decimal(1), pot_seed=10)
    send_message(player=alice, body="closes the open round")
    assert open_round().chain != chain  # the round after the open one: the old chain's
    send_message(player=alice, body="closes the round before the chain")
    assert open_round().chain == chain
    for n in range(1000):
        if n % 7 == 3:
            reset_round(actor=operator, reason="a chain test")
        else:
            assert send_message(player=alice, body=f"win {n}").closed_round is not None
    rounds = list(Round.objects.filter(chain=chain).order_by("number"))
    assert len(rounds) == 1001  # 1,000 closed, and the open one
    assert {r.outcome for r in rounds[:-1]} == {"won", "reset"}
    assert sha(rounds[0].server_seed) == chain.terminal_hash
    for before, after in itertools.pairwise(rounds):
        assert sha(after.server_seed) == before.server_seed == after.server_seed_hash
    assert [r.chain_position for r in rounds] == list(range(1, 1002))


def test_a_chain_that_runs_out_leaves_rounds_on_random_seeds_and_says_so(
    player, configure, client, caplog
):
    chain = start_chain(length=2)
    configure(win_chance=Decimal(1))
    with caplog.at_level(logging.WARNING, logger="pot.services"):
        for n in range(4):
            send_message(player=player, body=f"win {n}")
    rounds = list(Round.objects.filter(number__gte=chain.first_round).order_by("number"))
    assert [r.chain_id for r in rounds] == [chain.pk, chain.pk, None]
    assert rounds[-1].is_open
    assert sha(rounds[-1].server_seed) == rounds[-1].server_seed_hash
    assert any("ran out at round" in r.message and r.levelname == "ERROR" for r in caplog.records)
    assert any("seeds left" in r.message for r in caplog.records)
    page = client.get(reverse("fairness")).content.decode()
    assert f"Round {rounds[-1].number} has a seed of its own, outside any chain" in page


def test_a_new_chain_takes_over_from_the_next_round_and_the_old_one_says_where_it_ended(
    player, configure, client, api
):
    old = SeedChain.objects.get()
    configure(win_chance=Decimal(1))
    send_message(player=player, body="a win on the first chain")
    opened = open_round()
    new = start_chain(length=50)
    assert new.first_round == opened.number + 2
    assert open_round().chain == old  # the open round keeps the seed it committed to
    send_message(player=player, body="a win: the next round is still the old chain's")
    assert open_round().chain == old
    send_message(player=player, body="a win: the next round takes the new chain's first seed")
    assert open_round().chain == new
    assert sha(open_round().server_seed) == new.terminal_hash

    facts = api.get("/api/v1/fairness").json()
    assert [c["terminal_hash"] for c in facts["chains"]] == [old.terminal_hash, new.terminal_hash]
    assert facts["chains"][0]["until_round"] == opened.number + 1
    assert facts["chains"][0]["replaced"] is True
    assert facts["chains"][1]["until_round"] == new.last_round
    assert facts["open_round"]["chain_position"] == 1
    assert facts["first_chained_round"] == 1
    page = client.get(reverse("fairness")).content.decode()
    assert old.terminal_hash in page
    assert new.terminal_hash in page
    assert f"1 to {opened.number + 1} (a new chain took over)" in page


def test_seed_chain_command_publishes_the_terminal_hash(capsys):
    call_command("seed_chain", "--length", "30")
    chain = SeedChain.objects.order_by("-first_round").first()
    out = capsys.readouterr().out
    assert chain.terminal_hash in out
    assert chain.length == 30
    assert f"rounds {chain.first_round:,} to {chain.last_round:,}" in out


def test_seed_chain_command_refuses_a_chain_of_no_seeds():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="from 1 to"):
        call_command("seed_chain", "--length", "0")
    assert SeedChain.objects.count() == 1


def _move_onto_a_chain():
    """The migration's step that moves a game onto its first chain, run on this game."""
    from django.apps import apps

    migration = importlib.import_module("pot.migrations.0005_seed_chain")
    Round.objects.update(chain=None)
    SeedChain.objects.all().delete()
    migration.start_chain(apps, None)
    return SeedChain.objects.get()


def test_a_game_under_way_moves_onto_a_chain_from_its_next_round(player, configure):
    configure(win_chance=Decimal("0.000001"))  # the draw must not close the round
    send_message(player=player, body="a draw against the open round's seed")
    before = open_round()
    chain = _move_onto_a_chain()
    assert chain.first_round == before.number + 1
    kept = open_round()
    assert (kept.server_seed, kept.chain) == (before.server_seed, None)


def test_a_game_with_no_draw_yet_moves_onto_a_chain_from_its_open_round():
    before = open_round()
    chain = _move_onto_a_chain()
    reseeded = open_round()
    assert chain.first_round == before.number
    assert reseeded.chain == chain
    assert reseeded.server_seed != before.server_seed
    assert sha(reseeded.server_seed) == reseeded.server_seed_hash == chain.terminal_hash
