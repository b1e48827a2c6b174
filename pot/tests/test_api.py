from decimal import Decimal

import pytest

from chat.services import send_message
from pot.models import Round

pytestmark = pytest.mark.django_db


def test_pot_is_public_and_adds_the_callers_price_with_a_token(api, api_as, player, configure):
    configure(win_chance=Decimal("0.000001"))
    send_message(player=player, body="hi")
    open_round = Round.objects.get(outcome="open")
    anonymous = api.get("/api/v1/pot").json()
    assert anonymous == {
        "round": 1,
        "amount": 5,
        "win_chance": 0.000001,
        "server_seed_hash": open_round.server_seed_hash,
        "next_price": None,
    }
    assert api_as(player).get("/api/v1/pot").json()["next_price"] == 10


def test_rounds_show_revealed_seeds_only_once_closed(api, make_player, configure):
    configure(win_chance=Decimal(1))
    winner = make_player(username="lucky")
    send_message(player=winner, body="win")
    closed = Round.objects.get(number=1)
    listing = api.get("/api/v1/pot/rounds").json()
    assert listing["count"] == 1
    [round_one] = listing["results"]
    assert round_one["number"] == 1
    assert round_one["outcome"] == "won"
    assert round_one["winner"] == "lucky"
    assert round_one["payout"] == 5
    assert round_one["server_seed"] == closed.server_seed
    open_round = api.get("/api/v1/pot/rounds/2").json()
    assert open_round["server_seed"] is None
    assert open_round["outcome"] == "open"
    assert open_round["winner"] is None


@pytest.mark.parametrize("number", ["404", "0", "99999999999999999999"])
def test_unknown_round_is_a_json_404(api, number):
    response = api.get(f"/api/v1/pot/rounds/{number}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_api_path_is_a_json_404(api):
    response = api.get("/api/v1/pot/rounds/not-a-number")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such API endpoint."}


def test_wrong_method_is_405_in_json(api):
    response = api.delete("/api/v1/pot")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert b"/api/v1/messages" in schema.content
    assert b"jwtAuth" in schema.content
    assert api.get("/api/docs/").status_code == 200
