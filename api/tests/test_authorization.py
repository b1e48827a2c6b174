"""Every way in answers a malformed credential with 401, never 5xx: the API's endpoints,
the streams and the pages (which sign in with the session and pay an Authorization header
no mind), for headers empty, of one part, of three, not ASCII, 10 kB long, or anything
else a client may send."""

import socket
from decimal import Decimal

import httpx
import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from chat.services import send_message

MALFORMED = [
    b"",
    b"Bearer",
    b"Bearer ",
    b"Bearer a b",
    b"Bearer a.b.c",
    b"Bearer \xe9\xe8",
    b"Bearer \xff\xfe\x00",
    b"Bearer " + b"x" * 10_000,
    b"Basic dXNlcjpwYXNz",
    b"bearer",
    b"Token abc",
    "Bearer ☃".encode(),
]

REFUSALS = {"not_authenticated", "authentication_failed", "token_not_valid"}

# The API's ways to a token, and out, and the pot's events (held by the engine, for
# anyone): they read no Authorization header at all.
PUBLIC_API = {
    "/api/v1/events",
    "/api/v1/auth/register",
    "/api/v1/auth/token",
    "/api/v1/auth/token/refresh",
    "/api/v1/auth/logout",
}


def every_path(message_id: int) -> list[str]:
    """Every route of the site, with its parameters filled in (a real message, round 1)."""
    values = {"message_id": str(message_id), "number": "1", "path": "nowhere"}
    paths = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith("admin/") and route != "admin/":
                    continue
                walk(pattern.url_patterns, prefix + route.lstrip("^"))
            elif isinstance(pattern, URLPattern):
                path = prefix + route.lstrip("^").rstrip("$")
                for name, value in values.items():
                    path = path.replace(f"<int:{name}>", value).replace(f"(?P<{name}>.*)", value)
                paths.append("/" + path)

    walk(get_resolver().url_patterns, "")
    return sorted({path for path in paths if "<" not in path and "(?" not in path})


@pytest.fixture
def message(player, configure):
    configure(win_chance=Decimal("0.000001"))
    return send_message(player=player, body="hello").message


def environ(header: bytes) -> dict:
    # A WSGI server hands every header over as latin-1.
    return {"HTTP_AUTHORIZATION": header.decode("latin-1")}


def is_api(path: str) -> bool:
    return path.startswith("/api/")


@pytest.mark.django_db
def test_every_endpoint_answers_a_malformed_credential_without_a_5xx(client, message):
    paths = every_path(message.pk)
    assert {"/api/v1/me", f"/api/v1/messages/{message.pk}", "/chat/", "/wallet/"} <= set(paths)
    for path in paths:
        for method in ("get", "post"):
            cache.clear()  # the throttles' counts: each request as if the first
            anonymous = getattr(client, method)(path)
            for header in MALFORMED:
                cache.clear()
                response = getattr(client, method)(path, **environ(header))
                where = (method, path, header[:20])
                assert response.status_code < 500, where
                if anonymous.status_code in (404, 405):  # no such path or method: either way
                    assert response.status_code in (401, anonymous.status_code), where
                elif not is_api(path):
                    # A page pays the header no mind: it answers as it would without it.
                    assert response.status_code == anonymous.status_code, where
                elif anonymous.status_code == 401 or (
                    header.startswith(b"Bearer") and path not in PUBLIC_API
                ):
                    # A bearer token that is none, or anything where one is needed.
                    assert response.status_code == 401, where
                    if path.startswith("/api/v1/"):
                        assert response.json()["code"] in REFUSALS, where
                else:  # another scheme than ours, where anyone may ask: as anyone
                    assert response.status_code == anonymous.status_code, where


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.one_of(
        st.binary(max_size=64),
        st.builds(lambda rest: b"Bearer " + rest, st.binary(max_size=600)),
        st.builds(lambda parts: b" ".join(parts), st.lists(st.binary(max_size=20), max_size=4)),
        st.text(max_size=64).map(lambda text: ("Bearer " + text).encode()),
    ),
    path=st.sampled_from(
        ["/api/v1/me", "/api/v1/messages", "/api/v1/wallet", "/api/v1/wallet/transfers"]
    ),
    method=st.sampled_from(["get", "post"]),
)
def test_any_authorization_header_is_answered_without_a_5xx(client, player, header, path, method):
    header = header.replace(b"\r", b"").replace(b"\n", b"")  # no server passes these on
    cache.clear()
    response = getattr(client, method)(path, **environ(header))
    # Whatever it is, it is no valid token, and each of these needs one.
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_valid_token_of_a_player_no_longer_there_is_401_everywhere(
    asgi_live_server, player, message
):
    token = {"Authorization": f"Bearer {RefreshToken.for_user(player).access_token}"}
    User.objects.filter(pk=player.pk).update(is_active=False)
    for path in (
        "/api/v1/me",
        f"/api/v1/messages/{message.pk}",
        f"/api/v1/messages/{message.pk}/stream",
    ):
        response = httpx.get(f"{asgi_live_server.url}{path}", headers=token, timeout=5)
        assert (path, response.status_code) == (path, 401)


def raw_get(
    server_url: str, path: str, authorization: bytes, *, body: bool = True
) -> tuple[int, bytes]:
    """The status and the start of the body (unless not asked for: a stream held open
    says nothing until there is news), for a header sent byte for byte as given (an HTTP
    client library refuses to send some of these)."""
    host, port = server_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Authorization: " + authorization + b"\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while b"\r\n\r\n" not in received or (
            body and len(received.partition(b"\r\n\r\n")[2]) < 2
        ):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, start = received.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), start


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("header", MALFORMED, ids=lambda header: repr(header[:12]))
def test_the_streams_answer_a_malformed_credential_with_401(asgi_live_server, message, header):
    server = asgi_live_server.url
    for path in (f"/api/v1/messages/{message.pk}/stream", "/live/"):
        status, body = raw_get(server, path, header)
        if b"\x00" in header:  # no header may hold it: the server refuses the request
            assert (path, status) == (path, 400)
            continue
        assert (path, status) == (path, 401)
        assert b"not_authenticated" in body
    # The pot's events are for anyone: a credential, good or bad, changes nothing.
    status = raw_get(server, "/api/v1/events", header, body=False)[0]
    assert status == (400 if b"\x00" in header else 200)
