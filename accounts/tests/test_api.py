import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from wallet.models import Account

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"


def register(api, username="apiplayer", password=PASSWORD):
    return api.post(
        "/api/v1/auth/register", {"username": username, "password": password}, format="json"
    )


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_register_returns_the_player_and_tokens(api):
    response = register(api)
    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="apiplayer")
    assert body["user"] == {"id": user.pk, "username": "apiplayer"}
    assert Account.objects.get(owner=user).balance == 100
    me = api.get("/api/v1/me", **bearer(body["access"]))
    assert me.status_code == 200
    assert me.json()["username"] == "apiplayer"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "weak", "password": "123"}, "password"),
        ({"username": "common", "password": "password123"}, "password"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"password": PASSWORD}, "username"),
        ({"username": "x" * 151, "password": PASSWORD}, "username"),
        ({"username": ["list"], "password": PASSWORD}, "username"),
    ],
)
def test_register_refuses_bad_input_with_field_errors(api, payload, field):
    response = api.post("/api/v1/auth/register", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]
    assert not User.objects.exists()


def test_register_refuses_a_taken_name(api, make_player):
    make_player(username="Taken")
    response = register(api, username="taken")
    assert response.status_code == 400
    assert "taken" in response.json()["errors"]["username"][0]


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"username": "a\\ud800b", "password": "a-long-enough-passphrase"}',
        b"[1, 2, 3]",
        b'"just a string"',
    ],
)
def test_register_survives_malformed_bodies(api, raw):
    response = api.post("/api/v1/auth/register", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_obtain_refresh_and_use_tokens(api, player):
    pair = api.post(
        "/api/v1/auth/token", {"username": player.username, "password": PASSWORD}, format="json"
    )
    assert pair.status_code == 200
    tokens = pair.json()
    assert api.get("/api/v1/me", **bearer(tokens["access"])).status_code == 200

    rotated = api.post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != tokens["refresh"]
    assert api.get("/api/v1/me", **bearer(new["access"])).status_code == 200

    # The rotated-away refresh token is blacklisted.
    reused = api.post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"


def test_wrong_password_is_refused(api, player):
    response = api.post(
        "/api/v1/auth/token", {"username": player.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] in {"no_active_account", "authentication_failed"}


def test_logout_revokes_the_refresh_token(api, player):
    refresh = str(RefreshToken.for_user(player))
    response = api.post("/api/v1/auth/logout", {"refresh": refresh}, format="json")
    assert response.status_code == 204
    again = api.post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
    assert again.status_code == 401
    bogus = api.post("/api/v1/auth/logout", {"refresh": "not-a-token"}, format="json")
    assert bogus.status_code == 401
    assert bogus.json()["code"] == "token_not_valid"


def test_inactive_players_are_refused_everywhere(api, player):
    access = str(RefreshToken.for_user(player).access_token)
    refresh = str(RefreshToken.for_user(player))
    User.objects.filter(pk=player.pk).update(is_active=False)
    assert api.get("/api/v1/me", **bearer(access)).status_code == 401
    login = api.post(
        "/api/v1/auth/token", {"username": player.username, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 401
    assert (
        api.post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json").status_code
        == 401
    )


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_token_is_refused(api, player, make_player):
    other = make_player()
    header, payload, signature = _segments(str(AccessToken.for_user(player)))
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["user_id"] = str(other.pk)
    forged = f"{header}.{_b64(claims)}.{signature}"
    response = api.get("/api/v1/me", **bearer(forged))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_alg_none_token_is_refused(api, player):
    _, payload, _ = _segments(str(AccessToken.for_user(player)))
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    response = api.get("/api/v1/me", **bearer(unsigned))
    assert response.status_code == 401


def test_expired_token_is_refused(api, player):
    access = str(AccessToken.for_user(player))
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        response = api.get("/api/v1/me", **bearer(access))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_token_that_worked_is_refused_once_it_expires(api, player):
    access = str(AccessToken.for_user(player))
    assert api.get("/api/v1/me", **bearer(access)).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        response = api.get("/api/v1/me", **bearer(access))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_token_that_worked_is_refused_once_its_player_is_deactivated(api, player):
    access = str(AccessToken.for_user(player))
    assert api.get("/api/v1/me", **bearer(access)).status_code == 200
    player.is_active = False
    player.save(update_fields=["is_active"])
    assert api.get("/api/v1/me", **bearer(access)).status_code == 401


def test_refresh_token_is_not_an_access_token(api, player):
    response = api.get("/api/v1/me", **bearer(str(RefreshToken.for_user(player))))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "path", ["/api/v1/me", "/api/v1/wallet", "/api/v1/wallet/transfers", "/api/v1/messages"]
)
def test_player_endpoints_need_a_token(api, path):
    response = api.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_me_shows_balance_price_and_fairness_state(api_as, player):
    body = api_as(player).get("/api/v1/me").json()
    player.refresh_from_db()
    assert body == {
        "id": player.pk,
        "username": player.username,
        "balance": 100,
        "next_price": 5,
        "client_seed": player.client_seed,
        "nonce": 0,
    }


def test_set_client_seed(api_as, player):
    client = api_as(player)
    response = client.put("/api/v1/me/client-seed", {"client_seed": "my-seed_1"}, format="json")
    assert response.status_code == 200
    assert response.json()["client_seed"] == "my-seed_1"
    assert response.json()["nonce"] == 0
    bad = client.put("/api/v1/me/client-seed", {"client_seed": "no spaces"}, format="json")
    assert bad.status_code == 400
    assert "client_seed" in bad.json()["errors"]


def test_registration_is_throttled_per_address(api, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "register": "3/hour",
        },
    }
    statuses = [register(api, username=f"burst{n}").status_code for n in range(4)]
    assert statuses == [201, 201, 201, 429]
    throttled = register(api, username="burst9")
    body = throttled.json()
    assert body["code"] == "throttled"
    assert 0 < body["retry_after"] <= 3600
    assert throttled["Retry-After"] == str(body["retry_after"])
    assert User.objects.count() == 3


def test_token_endpoint_is_throttled_per_address(api, player, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "2/min",
        },
    }
    codes = [
        api.post(
            "/api/v1/auth/token", {"username": player.username, "password": "x"}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 429]
