import pytest
from django.urls import reverse

from accounts.models import User
from wallet.models import Account

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"


def test_register_signs_the_player_in_and_lands_on_the_chat(client):
    response = client.post(
        reverse("register"),
        {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("chat")
    user = User.objects.get(username="newcomer")
    assert Account.objects.get(owner=user).balance == 100
    page = client.get(reverse("chat"))
    assert page.status_code == 200
    assert "newcomer" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"username": "a", "password1": "123", "password2": "123"}, "This password is too short"),
        ({"username": "b", "password1": "password123", "password2": "password123"}, "too common"),
        ({"username": "c", "password1": PASSWORD, "password2": PASSWORD + "x"}, "didn"),
        ({"username": "", "password1": PASSWORD, "password2": PASSWORD}, "This field is required"),
    ],
)
def test_register_shows_clear_errors_and_creates_nothing(client, data, error):
    response = client.post(reverse("register"), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not User.objects.exists()


def test_register_refuses_a_taken_name_in_any_case(client, make_player):
    make_player(username="Alice")
    response = client.post(
        reverse("register"), {"username": "alice", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_log_in_and_out(client, player):
    response = client.post(reverse("login"), {"username": player.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("chat")
    assert client.get(reverse("logout")).status_code == 405  # log out is a POST
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("chat")).status_code == 302


def test_wrong_password_is_refused_with_a_message(client, player):
    response = client.post(reverse("login"), {"username": player.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "chat"),
        ("get", "chat-older"),
        ("post", "chat-send"),
        ("post", "chat-claim"),
        ("get", "wallet"),
        ("post", "wallet-claim"),
        ("post", "client-seed"),
    ],
)
def test_anonymous_players_are_sent_to_log_in(client, method, name):
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
