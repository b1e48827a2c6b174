import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from accounts.models import User
from api.throttling import _redis, _uses_redis, count_request
from chat.models import Message
from wallet.models import Account


def test_requests_are_counted_in_a_window_that_expires():
    key = f"window-{uuid.uuid4()}"
    assert [count_request(key, timeout=30) for _ in range(3)] == [1, 2, 3]
    assert count_request(f"{key}-other", timeout=30) == 1
    if _uses_redis():  # the window's expiry is set once, by its first request
        assert 0 < _redis().ttl(cache.make_key(key)) <= 30


def test_counts_from_many_threads_add_up_each_thread_with_its_own_connection():
    key = f"threads-{uuid.uuid4()}"
    clients, counts = [], []

    def count():
        clients.append(_redis())
        counts.extend(count_request(key, timeout=30) for _ in range(25))

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 201))
    if _uses_redis():
        assert len({id(client) for client in clients}) == 8


# The pages and the API spend from the same limits.

PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def rates(settings):
    """Small limits, and the clock held still inside one window of each."""

    def rates(**scopes: str):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                "register": "1000/hour",
                "token": "1000/min",
                "send": "1000/min",
                **scopes,
            },
        }

    with time_machine.travel(datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC), tick=False):
        yield rates


def page_signup(client, n):
    return client.post(
        reverse("register"), {"username": f"page{n}", "password1": PASSWORD, "password2": PASSWORD}
    )


def api_signup(api, n):
    return api.post(
        "/api/v1/auth/register", {"username": f"api{n}", "password": PASSWORD}, format="json"
    )


@pytest.mark.django_db
def test_signing_up_through_the_page_and_the_api_is_counted_together(client, api, rates):
    rates(register="4/hour")
    assert page_signup(client, 1).status_code == 302
    client.post(reverse("logout"))
    assert api_signup(api, 1).status_code == 201
    assert page_signup(client, 2).status_code == 302
    client.post(reverse("logout"))
    assert api_signup(api, 2).status_code == 201
    refused = page_signup(client, 3)
    assert refused.status_code == 429
    assert "Too many sign-ups from your address. Try again in 60 minutes." in (
        refused.content.decode()
    )
    assert int(refused["Retry-After"]) == 3595
    assert api_signup(api, 3).status_code == 429
    assert User.objects.count() == 4


@pytest.mark.django_db
def test_one_password_against_many_usernames_meets_the_limit_on_every_log_in(
    client, api, rates, make_player
):
    rates(token="30/min")
    names = [make_player().username for _ in range(35)]
    statuses = []
    for n, name in enumerate(names):
        data = {"username": name, "password": "Summer2026!"}
        if n % 3 == 0:
            statuses.append(api.post("/api/v1/auth/token", data, format="json").status_code)
        elif n % 3 == 1:
            statuses.append(client.post(reverse("login"), data).status_code)
        else:
            statuses.append(client.post("/admin/login/", data).status_code)
    assert statuses[:30].count(429) == 0
    assert statuses[30:] == [429] * 5
    page = client.post(reverse("login"), {"username": names[0], "password": PASSWORD})
    assert page.status_code == 429  # even the right password, until the window ends
    assert "Too many log-in attempts from your address. Try again in 55 seconds." in (
        page.content.decode()
    )
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_sending_through_the_page_and_the_api_is_counted_together(
    client, api_as, player, rates, configure
):
    rates(send="4/min")
    configure(win_chance=Decimal("0.000001"))
    client.force_login(player)
    api = api_as(player)
    sent = []
    for n in range(6):
        if n % 2:
            response = api.post("/api/v1/messages", {"body": f"api {n}"}, format="json")
            sent.append(response.status_code)
        else:
            response = client.post(
                reverse("chat-send"), {"body": f"page {n}", "idempotency_key": f"k{n}"}
            )
            sent.append(response.status_code)
    assert sent == [302, 201, 302, 201, 429, 429]
    refused = client.post(
        reverse("chat-send"),
        {"body": "still typing", "idempotency_key": "k9"},
        HTTP_HX_REQUEST="true",
    )
    assert "You are sending messages faster than the limit allows. Try again in 55 seconds." in (
        refused.content.decode()
    )
    assert Message.objects.filter(player=player).count() == 4
    assert Account.objects.get(owner=player).balance == 100 - (5 + 10 + 15 + 20)
