from decimal import Decimal

import pytest
from django.urls import reverse

from chat.services import send_message
from pot.models import Round
from pot.tests.test_fairness import SEED

pytestmark = pytest.mark.django_db


def test_landing_page_explains_the_game_and_shows_the_pot(client, player, configure):
    configure(win_chance=Decimal("0.000001"))
    send_message(player=player, body="hi")
    html = client.get(reverse("home")).content.decode()
    assert "Every message could win the pot." in html
    assert 'Pot · round 1</span>\n  <strong class="pot-amount">5</strong>' in html
    assert Round.objects.get().server_seed_hash in html
    assert "No one has won yet." in html
    assert reverse("register") in html
    assert reverse("login") in html


def test_landing_page_lists_recent_winners(client, make_player, configure):
    winner = make_player(username="lucky")
    configure(win_chance=Decimal(1))
    send_message(player=winner, body="hi")
    html = client.get(reverse("home")).content.decode()
    assert "<strong>lucky</strong> won <strong>5</strong> credits in round 1" in html


def test_pot_figure_answers_an_unchanged_pot_with_304(client, player, configure):
    first = client.get(reverse("pot-figure"))
    assert first.status_code == 200
    etag = first["ETag"]
    assert "no-cache" in first["Cache-Control"]
    unchanged = client.get(reverse("pot-figure"), HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    configure(win_chance=Decimal("0.000001"))
    send_message(player=player, body="feed the pot")
    changed = client.get(reverse("pot-figure"), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert 'class="pot-amount">5</strong>' in changed.content.decode()


def test_fairness_page_shows_commitments_not_open_seeds(client, player, configure):
    configure(win_chance=Decimal(1))
    send_message(player=player, body="win")
    closed, open_round = Round.objects.get(number=1), Round.objects.get(number=2)
    html = client.get(reverse("fairness")).content.decode()
    assert closed.server_seed in html
    assert open_round.server_seed_hash in html
    assert open_round.server_seed not in html


def test_verifier_recomputes_a_roll(client):
    response = client.get(
        reverse("fairness"),
        {"server_seed": SEED, "client_seed": "lucky-player", "nonce": 20, "win_chance": "0.1"},
    )
    html = response.content.decode()
    assert "<strong>0.06151057</strong>" in html
    assert "1134669683238007057" in html
    assert "<strong>a win</strong>" in html


def test_verifier_answers_htmx_with_just_the_result(client, htmx):
    response = client.get(
        reverse("fairness"),
        {"server_seed": SEED, "client_seed": "lucky-player", "nonce": 0},
        HTTP_HX_TARGET="verifier-result",
        **htmx,
    )
    html = response.content.decode()
    assert html.strip().startswith('<div id="verifier-result"')
    assert "<strong>0.73411604</strong>" in html


@pytest.mark.parametrize(
    "params",
    [
        {"server_seed": SEED, "client_seed": "bad seed!", "nonce": 1},
        {"server_seed": SEED, "client_seed": "ok", "nonce": -1},
        {"server_seed": SEED, "client_seed": "ok", "nonce": "many"},
        {"server_seed": "", "client_seed": "ok", "nonce": 1},
        {"server_seed": SEED, "client_seed": "ok", "nonce": 1, "win_chance": "2"},
    ],
)
def test_verifier_explains_bad_input(client, params):
    response = client.get(reverse("fairness"), params)
    assert response.status_code == 200
    assert "Check the fields above" in response.content.decode()


def test_player_changes_their_client_seed(player_client, player):
    response = player_client.post(
        reverse("client-seed"), {"client_seed": "my-lucky-seed"}, follow=True
    )
    assert "your nonce starts again at 0" in response.content.decode()
    player.refresh_from_db()
    assert player.client_seed == "my-lucky-seed"


def test_bad_client_seed_is_refused_clearly(player_client, player):
    before = player.client_seed
    response = player_client.post(reverse("client-seed"), {"client_seed": "<no>"}, follow=True)
    assert "1 to 64 letters" in response.content.decode()
    player.refresh_from_db()
    assert player.client_seed == before


def test_winners_page_lists_past_rounds(client, make_player, configure):
    configure(win_chance=Decimal(1))
    send_message(player=make_player(username="first"), body="a")
    send_message(player=make_player(username="second"), body="b")
    html = client.get(reverse("winners")).content.decode()
    first, second = "<td>first</td>", "<td>second</td>"
    assert first in html
    assert second in html
    assert html.index(second) < html.index(first)
    assert "Round 3 is open" in html


@pytest.mark.parametrize("name", ["home", "fairness", "winners", "login", "register"])
def test_every_page_sends_a_strict_content_security_policy(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()
    assert "style=" not in response.content.decode()


@pytest.mark.parametrize("name", ["chat", "wallet", "fairness"])
def test_player_pages_need_no_inline_script_or_style(player_client, name):
    response = player_client.get(reverse(name))
    assert response.status_code == 200
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "<script>" not in html
    assert "style=" not in html
    assert " onclick=" not in html
