"""Schemathesis against a live server: every operation of the generated schema, fed
generated (and deliberately wrong) input with a valid token, and what an attacker would
send instead (tests/api/hostile_inputs.py), never answers 5xx and always answers what the
schema promises."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.services import register_operator, register_player
from wallet.audit import audit_ledger
from wallet.services import grant_credits

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)
SCHEMATHESIS = Path(sys.executable).with_name("st")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def player(db) -> User:
    operator = register_operator(
        username="fuzz-op", email="op@example.com", password="a-long-enough-pass"
    )
    player = register_player(username="fuzzer", password="a-long-enough-passphrase")
    grant_credits(player=player, amount=100_000, actor=operator, memo="fuzzing")
    return player


@pytest.fixture
def token(player) -> str:
    return str(RefreshToken.for_user(player).access_token)


@pytest.fixture
def far_user_token(player) -> str:
    """Correctly signed, naming a user id beyond 64 bits."""
    access = RefreshToken.for_user(player).access_token
    access["user_id"] = str(2**64 + 7)
    return str(access)


def test_every_operation_keeps_its_promises(
    asgi_live_server, token, far_user_token, settings, tmp_path
):
    # Generous limits, so the fuzzer explores instead of meeting 429 on every call.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "register": "100000/min",
            "token": "100000/min",
            "send": "100000/min",
        },
    }
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(ROOT / "tests" / "api" / "schemathesis.toml"),
            "run",
            f"{asgi_live_server.url}/api/schema/",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "30",
            "--workers",
            "2",
            "--seed",
            "20261125",
            "--generation-database",
            "none",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=tmp_path,  # the CLI keeps a cache in its working directory
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.api.hostile_inputs",
            "PYTHONPATH": str(ROOT),
            "FUZZ_FAR_USER_TOKEN": far_user_token,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary
    # Every operation in the schema was exercised, not just loaded.
    operations = re.search(r"Operations:\s+(\d+) selected / (\d+) total", run.stdout)
    tested = re.search(r"Tested:\s+(\d+)", run.stdout)
    assert operations, summary
    assert tested, summary
    assert int(tested.group(1)) == int(operations.group(2)) >= 18, summary
    assert audit_ledger().clean
