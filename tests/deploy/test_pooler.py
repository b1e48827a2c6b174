"""The send through PgBouncer in transaction mode (bin/pooler), from processes of their
own: each transaction runs on whichever of the pooler's few server connections is free."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection

from accounts.tests.factories import PlayerFactory
from chat.models import Message, Reply
from tests.app_process import database_environment
from tests.pooler import Pooler
from tests.tools import needs_program
from wallet.audit import audit_ledger
from wallet.models import Account, Transfer

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
MESSAGES = 40

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PgBouncer is PostgreSQL's"),
    needs_program("pgbouncer", "Debian's pgbouncer"),
    pytest.mark.skipif(
        settings.DATABASE_POOLER != "", reason="the suite already runs through a pooler"
    ),
]

# Each process sends its player's messages one after another, and prints what it was
# refused, by error.
SENDER = """
import collections, sys
import django
django.setup()
from accounts.models import User
from chat.services import send_message
player = User.objects.get(username=sys.argv[1])
refused = collections.Counter()
for n in range(int(sys.argv[2])):
    try:
        send_message(player=player, body=f"message {n}")
    except Exception as error:
        refused[type(error).__name__ + ": " + str(error).splitlines()[0]] += 1
print(dict(refused))
"""


@pytest.fixture
def pooler():
    database = connection.settings_dict
    # Two server connections for four processes: their transactions change hands.
    pooler = Pooler(
        f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}", POOLER_POOL_SIZE="2"
    )
    yield pooler
    pooler.stop()


def send_from_processes(pooler: Pooler, players, **environment: str) -> list[str]:
    url = database_environment()["DATABASE_URL"]
    through = url.replace(f":{connection.settings_dict['PORT'] or 5432}/", f":{pooler.port}/")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, player.username, str(MESSAGES)],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "chatpot_project.test_settings",
                "DATABASE_URL": through,
                "DATABASE_CONN_MAX_AGE": "60",
                **environment,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for player in players
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def transactions_through(pooler: Pooler) -> int:
    console = psycopg2.connect(
        host="127.0.0.1", port=pooler.port, user="postgres", dbname="pgbouncer"
    )
    console.autocommit = True
    try:
        with console.cursor() as cursor:
            cursor.execute("SHOW STATS")
            columns = [column[0] for column in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        console.close()
    name = connection.settings_dict["NAME"]
    return sum(row["total_xact_count"] for row in rows if row["database"] == name)


def test_with_the_pooler_setting_every_send_settles_through_pgbouncer(pooler, configure):
    configure(price_base=1, price_step=0)
    players = [PlayerFactory() for _ in range(PROCESSES)]
    before = {player.pk: Account.objects.get(owner=player).balance for player in players}
    outputs = send_from_processes(pooler, players, DATABASE_POOLER="transaction")
    assert outputs == ["{}"] * PROCESSES  # nothing refused
    assert Message.objects.count() == PROCESSES * MESSAGES
    assert Reply.objects.count() == PROCESSES * MESSAGES
    fees = Transfer.objects.filter(kind="message_fee").count()
    assert fees == PROCESSES * MESSAGES
    assert transactions_through(pooler) >= PROCESSES * MESSAGES
    assert audit_ledger().clean
    for player in players:
        sent = Message.objects.filter(player=player)
        assert sent.count() == MESSAGES
        spent = sum(message.price - message.payout for message in sent)
        assert Account.objects.get(owner=player).balance == before[player.pk] - spent


@pytest.mark.no_ledger_audit("checked in the test; the processes' failures change nothing")
def test_without_it_prepared_statements_fail_and_change_nothing(pooler, configure):
    configure(price_base=1, price_step=0)
    """What the setting is for: a statement prepared on one server connection is unknown
    on the next, so sends fail (and, rolled back, change nothing)."""
    players = [PlayerFactory() for _ in range(PROCESSES)]
    outputs = send_from_processes(pooler, players, DATABASE_POOLER="")
    assert any("prepared statement" in output for output in outputs), outputs
    sent = Message.objects.count()
    assert sent < PROCESSES * MESSAGES
    assert Transfer.objects.filter(kind="message_fee").count() == sent
    assert audit_ledger().clean
