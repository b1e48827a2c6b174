from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.db.utils import OperationalError
from django.test import Client
from django.urls import reverse

from accounts.services import register_operator

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"


def site_login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_site_login_locks_out_after_repeated_failures(client, player):
    for _ in range(4):
        assert site_login(client, player.username, "wrong").status_code == 200
    assert site_login(client, player.username, "wrong").status_code == 429  # the fifth
    locked = site_login(client, player.username, PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()
    assert "Retry-After" in locked
    # Kept in the database, so every app process sees the same lock-out.
    assert AccessAttempt.objects.get(username=player.username).failures_since_start >= 5


def test_a_successful_login_clears_the_count(client, player):
    for _ in range(4):
        site_login(client, player.username, "wrong")
    assert site_login(client, player.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert site_login(client, player.username, "wrong").status_code == 200
    assert site_login(client, player.username, PASSWORD).status_code == 302


def test_admin_login_locks_out_too(client):

    register_operator(username="boss", email="boss@example.com", password=PASSWORD)
    for _ in range(5):
        client.post("/admin/login/", {"username": "boss", "password": "nope"})
    locked = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert locked.status_code == 429


def test_api_token_endpoint_locks_out_in_json(api, player):
    for attempt in range(5):
        response = api.post(
            "/api/v1/auth/token", {"username": player.username, "password": "wrong"}, format="json"
        )
        assert response.status_code == (401 if attempt < 4 else 429)
    locked = api.post(
        "/api/v1/auth/token", {"username": player.username, "password": PASSWORD}, format="json"
    )
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "throttled"
    assert body["retry_after"] == 15 * 60


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    # A balancer probing by address, with a host the site does not serve, still gets it.
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200


@pytest.mark.no_ledger_audit("the database is made unreachable")
def test_healthz_says_when_the_database_is_unreachable(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("operations.health.connection.cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}


def test_a_lock_out_says_the_time_actually_left(api, player):
    start = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    credentials = {"username": player.username, "password": "wrong"}
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            api.post("/api/v1/auth/token", credentials, format="json")
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        locked = api.post("/api/v1/auth/token", credentials, format="json")
        assert locked.json()["retry_after"] == 10 * 60
        assert locked["Retry-After"] == "600"
    with time_machine.travel(start + timedelta(minutes=14, seconds=30), tick=False):
        page = site_login(client := Client(), player.username, PASSWORD)
        assert page.status_code == 429
        assert page["Retry-After"] == "30"
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        # The tries while locked out did not start the cool-off again.
        assert site_login(client, player.username, PASSWORD).status_code == 302
