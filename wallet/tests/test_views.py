from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.services import register_operator
from chat.services import send_message
from wallet.services import grant_credits

pytestmark = pytest.mark.django_db


def test_wallet_shows_balance_and_history_in_plain_words(player_client, player, configure):
    configure(win_chance=Decimal(1))
    send_message(player=player, body="hi")
    operator = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    grant_credits(player=player, amount=7, actor=operator, memo="sorry about the outage")
    html = player_client.get(reverse("wallet")).content.decode()
    assert '<p class="big-figure">107 <span>credits</span></p>' in html
    assert "Welcome credits" in html
    assert "Message in round 1" in html
    assert "Won the pot of round 1" in html
    assert "Gift from the operators: <em>sorry about the outage</em>" in html
    assert ">-5<" in html
    assert ">+5<" in html
    assert ">+100<" in html


def test_wallet_history_is_paginated(player_client, player, configure):
    configure(win_chance=Decimal("0.000001"), price_base=1, price_step=0)
    for n in range(25):
        send_message(player=player, body=f"m{n}")
    first = player_client.get(reverse("wallet"))
    html = first.content.decode()
    assert html.count("Message in round 1") == 20
    older_than = first.context["page"].older_than
    assert f"?before={older_than}" in html
    second = player_client.get(reverse("wallet"), {"before": older_than}).content.decode()
    assert second.count("Message in round 1") == 5
    assert "Welcome credits" in second
    assert "Older</a>" not in second
    assert "Newest</a>" in second
    assert player_client.get(reverse("wallet"), {"before": "junk"}).status_code == 200


def test_daily_claim_from_the_wallet(player_client, player):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        response = player_client.post(reverse("wallet-claim"), follow=True)
        html = response.content.decode()
        assert "You claimed 50 credits." in html
        assert '<p class="big-figure">150' in html
        assert "Your next daily claim opens in" in html

        again = player_client.post(reverse("wallet-claim"), follow=True).content.decode()
        assert "Your next claim is in 24 h 0 min" in again
        assert '<p class="big-figure">150' in again

        clock.shift(timedelta(hours=24))
        html = player_client.post(reverse("wallet-claim"), follow=True).content.decode()
        assert '<p class="big-figure">200' in html


def test_another_players_transfers_never_show(player_client, make_player):
    other = make_player()
    operator = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    grant_credits(player=other, amount=9, actor=operator, memo="for someone else only")
    html = player_client.get(reverse("wallet")).content.decode()
    assert "for someone else only" not in html
