from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from accounts.services import register_operator
from chat.services import send_message
from wallet.models import Account
from wallet.services import grant_credits

pytestmark = pytest.mark.django_db


def test_wallet_shows_balance_and_claim(api_as, player):
    body = api_as(player).get("/api/v1/wallet").json()
    assert body == {"balance": 100, "daily_claim": 50, "next_claim_at": None}


def test_transfers_are_the_players_own_signed_and_described(
    api_as, player, make_player, configure
):
    configure(win_chance=Decimal("0.000001"))
    other = make_player()
    operator = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    grant_credits(player=other, amount=5, actor=operator, memo="for the other one")
    send_message(player=player, body="hi")
    grant_credits(player=player, amount=7, actor=operator, memo="a gift")
    body = api_as(player).get("/api/v1/wallet/transfers").json()
    assert body["count"] == 3
    lines = [(t["kind"], t["amount"], t["description"], t["memo"]) for t in body["results"]]
    assert lines == [
        ("admin_grant", 7, "Gift from the operators", "a gift"),
        ("message_fee", -5, "Message in round 1", ""),
        ("signup_grant", 100, "Welcome credits", ""),
    ]
    assert body["results"][1]["round"] == 1
    assert body["results"][1]["message"] is not None


def test_claim_then_429_with_retry_after(api_as, player):
    client = api_as(player)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = client.post("/api/v1/wallet/claim")
        assert first.status_code == 200
        assert first.json()["amount"] == 50
        assert first.json()["balance"] == 150

        clock.shift(timedelta(hours=1))
        client = api_as(player)  # the first access token has expired by now
        early = client.post("/api/v1/wallet/claim")
        assert early.status_code == 429
        body = early.json()
        assert body["code"] == "throttled"
        assert body["retry_after"] == 23 * 3600
        assert early["Retry-After"] == str(23 * 3600)
        assert client.get("/api/v1/wallet").json()["next_claim_at"] is not None
        assert Account.objects.get(owner=player).balance == 150
