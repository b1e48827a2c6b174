"""Bad input anywhere gets a clear answer and changes nothing: never a 500, and on the
API's paths always JSON."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import PlayerFactory
from chat.models import Message
from chat.services import send_message
from wallet.models import Account

pytestmark = pytest.mark.django_db

DEEP_JSON = "[" * 3000 + "]" * 3000  # 6 KB


def json_operations() -> list[tuple[str, str]]:
    """Every API operation that reads a JSON body, from the schema itself, so an operation
    added later is covered too."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    )


def quiet(client: APIClient) -> APIClient:
    client.raise_request_exception = False  # answer as a server would, 500 included
    return client


@pytest.fixture
def player_api(api_as, player) -> APIClient:
    return quiet(api_as(player))


def test_the_schema_lists_the_json_operations():
    operations = json_operations()
    assert ("POST", "/api/v1/messages") in operations
    assert ("POST", "/api/v1/auth/token") in operations
    assert len(operations) >= 6


@pytest.mark.parametrize(("method", "path"), json_operations())
def test_json_nested_thousands_deep_is_a_400_everywhere(player_api, player, method, path):
    response = player_api.generic(method, path, DEEP_JSON, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json() == {"code": "invalid", "detail": "The JSON is nested too deeply."}
    assert not Message.objects.exists()
    assert Account.objects.get(owner=player).balance == 100


@pytest.mark.parametrize(("method", "path"), json_operations())
def test_a_body_too_large_to_read_is_a_413_in_json(player_api, method, path):
    body = '{"body": "' + "x" * (3 * 1024 * 1024) + '"}'  # past Django's 2.5 MB
    response = player_api.generic(method, path, body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "too_large"
    assert not Message.objects.exists()


def test_the_send_short_path_refuses_deep_and_huge_bodies_too(player_api, player):
    # A bearer token, JSON in and out: the send's own short path, not DRF's dispatch.
    deep = player_api.post("/api/v1/messages", DEEP_JSON, content_type="application/json")
    huge = player_api.post(
        "/api/v1/messages", "[" + "1," * 2_000_000 + "1]", content_type="application/json"
    )
    assert (deep.status_code, huge.status_code) == (400, 413)
    assert Account.objects.get(owner=player).balance == 100


@pytest.mark.parametrize("user_id", [2**63, 2**64 + 1, 10**30, -1, 0])
def test_a_signed_token_naming_an_impossible_user_is_a_401(player, user_id):
    token = AccessToken.for_user(player)
    token["user_id"] = str(user_id)
    client = quiet(APIClient())
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for response in (
        client.get("/api/v1/me"),
        client.post("/api/v1/messages", {"body": "hi"}, format="json"),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"
    assert not Message.objects.exists()


def test_an_unknown_api_path_and_a_crash_answer_json(player_api, monkeypatch):
    assert player_api.get("/api/v1/nowhere").json()["code"] == "not_found"

    def crash(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("chat.api.pot_status", crash)
    response = player_api.get("/api/v1/pot")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


# The pages' query parameters, fuzzed: any text a browser can put in a query string.
QUERY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=40,
) | st.sampled_from(["²", "١٢", "00", "-1", "+5", " 7", "9" * 30, str(2**63), "1e3", "0x10"])
PAGES = ["/chat/", "/chat/older/", "/wallet/", "/fairness/", "/winners/", "/"]
PARAMETERS = ["before", "page", "server_seed", "client_seed", "nonce", "win_chance"]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    page=st.sampled_from(PAGES),
    query=st.dictionaries(st.sampled_from(PARAMETERS), QUERY_TEXT, min_size=1, max_size=3),
    htmx=st.booleans(),
)
def test_no_query_string_makes_a_page_fail(client, page, query, htmx):
    player = PlayerFactory()
    send_message(player=player, body="some history")
    client.force_login(player)
    client.raise_request_exception = False
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(page, query, **headers)
    assert response.status_code in (200, 400), (page, query, response.status_code)
