"""docs/verify_round.py, run as a player runs it: a subprocess with Python alone, on a
transcript from the API (a file, or the URL), catching every forgery of it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fairness.tampering import forgeries, play_round, transcript_of

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_round.py"


def verify(*arguments) -> subprocess.CompletedProcess:
    # -I: isolated from the project (no site-packages, no path of its own): stdlib only.
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.django_db
def test_a_true_transcript_holds_and_every_forgery_is_caught(
    make_player, configure, api, tmp_path
):
    number = play_round(make_player, configure)
    transcript = transcript_of(api, number)
    true = tmp_path / "true.json"
    true.write_text(json.dumps(transcript))
    checked = verify(true, "--terminal", transcript["round"]["chain"]["terminal_hash"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"Round {number}: every check holds (5 draws recomputed)." in checked.stdout
    assert "reaches the chain's terminal hash" in checked.stdout

    for name, (forged, problem) in forgeries(transcript).items():
        path = tmp_path / "forged.json"
        path.write_text(json.dumps(forged))
        caught = verify(path)
        assert caught.returncode == 1, name
        assert problem in caught.stdout, (name, caught.stdout)

    other_chain = verify(true, "--terminal", "0" * 64)
    assert other_chain.returncode == 1
    assert "another chain than the terminal hash given" in other_chain.stdout


@pytest.mark.django_db
def test_what_is_no_transcript_is_said_so(tmp_path):
    path = tmp_path / "not.json"
    path.write_text("{not json")
    assert verify(path).returncode == 2
    path.write_text(json.dumps({"round": {"server_seed": "ab"}}))
    refused = verify(path)
    assert refused.returncode == 1
    assert "not a round's transcript" in refused.stdout


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_reads_the_transcript_from_the_sites_api(make_player, configure, live_server):
    number = play_round(make_player, configure)
    checked = verify(f"{live_server.url}/api/v1/pot/rounds/{number}/transcript")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "every check holds (5 draws recomputed)" in checked.stdout
