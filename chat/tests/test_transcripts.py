"""A closed round's transcript (docs/GAME.md, "Checking a round"): what it holds, in what
order, for whom, and what it costs to serve."""

import csv
import hashlib
import io
import json
import tracemalloc
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chat import transcripts
from chat.models import Message
from pot.models import Round
from pot.selectors import open_round
from tests.fairness.tampering import play_round
from wallet.models import Account, Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def played(make_player, configure):
    """A round of five messages by two players, the fifth a win, after a round of one;
    the next round open (tests.fairness.tampering.play_round)."""
    won = Round.objects.get(number=play_round(make_player, configure))
    return won, User.objects.get(username="alice"), User.objects.get(username="bob")


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_won_rounds_transcript_holds_its_seeds_and_every_message_in_settlement_order(
    played, api
):
    won, _, _ = played
    response = api.get(f"/api/v1/pot/rounds/{won.number}/transcript")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    transcript = json.loads(body(response))
    heading = transcript["round"]
    assert heading["server_seed"] == won.server_seed
    assert hashlib.sha256(heading["server_seed"].encode()).hexdigest() == won.server_seed_hash
    assert heading["previous_seed"] == Round.objects.get(number=won.number - 1).server_seed
    assert heading["chain"]["position"] == won.chain_position
    assert (heading["outcome"], heading["winner"], heading["message_count"]) == ("won", "alice", 5)
    fees = Transfer.objects.filter(round=won, kind=Transfer.Kind.MESSAGE_FEE).order_by("pk")
    messages = transcript["messages"]
    assert [m["id"] for m in messages] == [fee.message_id for fee in fees]
    assert [m["player"] for m in messages] == ["bob", "alice", "bob", "alice", "alice"]
    stored = {m.pk: m for m in Message.objects.filter(round=won)}
    for message in messages:
        kept = stored[message["id"]]
        assert (message["client_seed"], message["nonce"], message["roll"], message["won"]) == (
            kept.client_seed,
            kept.nonce,
            kept.roll,
            kept.won,
        )
        assert Decimal(message["win_chance"]) == kept.win_chance
        assert message["mine"] is False  # nobody signed in
    assert [m["won"] for m in messages] == [False] * 4 + [True]
    assert messages[-1]["payout"] == won.payout > 0


def test_a_signed_in_players_own_messages_are_marked(played, api_as):
    won, alice, _ = played
    transcript = json.loads(body(api_as(alice).get(f"/api/v1/pot/rounds/{won.number}/transcript")))
    assert [m["mine"] for m in transcript["messages"]] == [False, True, False, True, True]


def test_the_open_round_and_unknown_rounds_have_no_transcript(played, api):
    number = open_round().number
    for asked, detail in [
        (number, f"Round {number} is open: its transcript comes with its seed, when it closes."),
        (number + 5, f"There is no round {number + 5}."),
        (2**40, f"There is no round {2**40}."),
    ]:
        response = api.get(f"/api/v1/pot/rounds/{asked}/transcript")
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "detail": detail}


def test_the_pages_csv_holds_the_same_messages_in_the_same_order(played, client):
    won, alice, _ = played
    client.force_login(alice)
    response = client.get(reverse("round-transcript-csv", args=[won.number]))
    assert response["Content-Disposition"] == f'attachment; filename="round-{won.number}.csv"'
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    fees = Transfer.objects.filter(round=won, kind=Transfer.Kind.MESSAGE_FEE).order_by("pk")
    assert [int(row["id"]) for row in rows] == [fee.message_id for fee in fees]
    assert [row["mine"] for row in rows] == ["False", "True", "False", "True", "True"]
    assert {row["round"] for row in rows} == {str(won.number)}
    assert client.get(reverse("round-transcript-csv", args=[open_round().number])).status_code == (
        404
    )


def test_the_fairness_page_links_each_closed_rounds_transcripts(played, client):
    won, _, _ = played
    page = client.get(reverse("fairness")).content.decode()
    assert f'href="/api/v1/pot/rounds/{won.number}/transcript"' in page
    assert f'href="/fairness/rounds/{won.number}.csv"' in page


@pytest.mark.no_ledger_audit(reason="messages written straight into a round, with no money")
def test_a_round_of_100000_messages_is_served_in_the_memory_of_a_page(player):
    """A round's transcript is read a page at a time: serving 100,000 messages (about
    20 MB of JSON) holds no more than a few pages in memory at once."""
    pot_round = open_round()
    pot = Account.objects.get(kind=Account.Kind.POT)
    account = Account.objects.get(owner=player)
    count = 100_000
    # Written by the database itself: through the ORM, 100,000 rows each take half a minute.
    now = Message._meta.get_field("created_at").get_db_prep_value(timezone.now(), connection)
    series = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{series} INSERT INTO {Message._meta.db_table} (player_id, round_id, body, price, "  # noqa: S608
            "client_seed, nonce, roll, win_chance, won, payout, balance_after, next_price, "
            "idempotency_key, created_at) "
            "SELECT %s, %s, 'x', 1, 'seed', i, 0.5, 0.001, %s, 0, 0, 1, '', %s FROM n",
            [count - 1, player.pk, pot_round.pk, False, now],
        )
        cursor.execute(
            f"INSERT INTO {Transfer._meta.db_table} (from_account_id, to_account_id, amount, "  # noqa: S608
            "kind, message_id, round_id, memo, created_at) "
            f"SELECT %s, %s, 1, %s, id, round_id, '', %s FROM {Message._meta.db_table} "
            "WHERE round_id = %s ORDER BY id",
            [account.pk, pot.pk, Transfer.Kind.MESSAGE_FEE, now, pot_round.pk],
        )
    Round.objects.filter(pk=pot_round.pk).update(outcome="reset", closed_at=pot_round.opened_at)
    pot_round.refresh_from_db()

    tracemalloc.start()
    size = messages = 0
    try:
        for chunk in transcripts.as_json(pot_round):
            size += len(chunk)
            messages += chunk.count('"client_seed"')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert messages == count
    assert size > 15_000_000
    # Held at once: a page of rows and its text, not the round.
    assert peak < size / 8, (peak, size)


def test_under_asgi_the_transcript_streams_asynchronously(played):
    """Through Django's ASGI handler (bin/run's), each chunk is read off the event loop as
    it is sent, not the whole transcript first."""
    won, _, _ = played

    async def fetch():
        response = await AsyncClient().get(f"/api/v1/pot/rounds/{won.number}/transcript")
        return response, [chunk async for chunk in response.streaming_content]

    response, chunks = async_to_sync(fetch)()
    assert response.status_code == 200
    assert response.is_async
    assert len(chunks) == 3  # its heading, its one page, its end
    assert len(json.loads(b"".join(chunks))["messages"]) == 5
