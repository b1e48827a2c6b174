from decimal import Decimal

import pytest

from accounts.errors import ClientSeedInvalid
from accounts.models import User
from accounts.services import set_client_seed
from chat.services import send_message
from pot import fairness
from pot.models import Round

pytestmark = pytest.mark.django_db


def test_new_players_get_a_random_client_seed(make_player):
    seeds = {make_player().client_seed for _ in range(5)}
    assert len(seeds) == 5


def test_changing_the_client_seed_restarts_the_nonce(player, configure):
    configure(win_chance=Decimal("0.000001"))
    send_message(player=player, body="one")
    send_message(player=player, body="two")
    set_client_seed(player=player, client_seed="my-own-seed")
    player.refresh_from_db()
    assert (player.client_seed, player.nonce) == ("my-own-seed", 0)

    message = send_message(player=player, body="three").message
    assert (message.client_seed, message.nonce) == ("my-own-seed", 0)
    expected = fairness.draw(
        server_seed=Round.objects.get(outcome="open").server_seed,
        client_seed="my-own-seed",
        nonce=0,
        win_chance=message.win_chance,
    )
    assert message.roll == expected.roll


@pytest.mark.parametrize("seed", ["", "   ", "has space", "semi;colon", "x" * 65, "ünïcode"])
def test_client_seed_must_be_plain_and_short(player, seed):
    before = player.client_seed
    with pytest.raises(ClientSeedInvalid, match="1 to 64 letters"):
        set_client_seed(player=player, client_seed=seed)
    player.refresh_from_db()
    assert player.client_seed == before


def test_createsuperuser_gives_the_operator_an_account(monkeypatch):
    from django.core.management import call_command

    from wallet.models import Account

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-passphrase")
    call_command("createsuperuser", "--no-input", username="chief", email="chief@example.com")
    chief = User.objects.get(username="chief")
    assert chief.is_superuser
    assert Account.objects.get(owner=chief).balance == 100
