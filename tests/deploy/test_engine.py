"""The streams held by the real-time engine of deploy/ (nginx with nchan, started by the
test with bin/proxy), in front of the site and a worker: Django says who may listen and
publishes once per event; the engine holds the listeners, and resumes a client that comes
back from the last event it heard."""

import threading
import time
from decimal import Decimal

import httpx
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from chat.services import send_message
from keeper.models import Reply
from pot.models import Round
from tests.engine import Engine, needs_engine
from tests.sse import read_events
from wallet.audit import audit_ledger

pytestmark = [
    pytest.mark.slow,
    needs_engine,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def bearer(player) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(player).access_token}"}


@pytest.fixture
def site(live_server, settings):
    """The site (pytest-django's live server, on the test's database) behind bin/proxy."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    return live_server.url.removeprefix("http://")


@pytest.fixture
def engine(site, settings, tmp_path):
    running = Engine(site, tmp_path / "proxy")
    settings.LIVE_PUBLISH_URLS = [running.publish_url]
    yield running
    running.stop()


def following(url: str, **kwargs) -> tuple[threading.Thread, list]:
    events: list = []
    reader = threading.Thread(target=read_events, args=[url], kwargs={**kwargs, "into": events})
    reader.start()
    return reader, events


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what}")


def test_the_engine_holds_the_events_and_resumes_a_client_where_it_left(
    engine, running_worker, make_player, configure
):
    configure(win_chance=Decimal("0.000001"))
    alice, bob = make_player(username="alice"), make_player(username="bob")
    send_message(player=alice, body="feeding the pot")
    events_url = f"{engine.url}/api/v1/events"

    # A new client first hears where things stand: the pot, as the worker announced it.
    def where_things_stand():
        events = read_events(events_url, until=lambda event: event.name == "pot", seconds=2)
        return events if events and events[0].data["amount"] == 5 else None

    first = wait_for(where_things_stand, 10, "the pot to be announced")
    assert [(event.name, event.data) for event in first] == [("pot", {"round": 1, "amount": 5})]

    reader, heard = following(
        events_url, until=lambda event: event.name == "round" and event.data["round"] == 2
    )
    time.sleep(0.5)
    configure(win_chance=Decimal(1))
    won = send_message(player=bob, body="lucky")
    reader.join(15)
    win = next(event for event in heard if event.name == "win")
    assert win.data == {
        "round": 1,
        "winner": "bob",
        "payout": won.payout,
        "server_seed": Round.objects.get(number=1).server_seed,
    }
    assert heard[-1].data["server_seed_hash"] == Round.objects.get(number=2).server_seed_hash

    # Gone after the win; meanwhile round 2 is won too. Back with the last event it heard,
    # it is told everything it missed, that win first.
    send_message(player=alice, body="me now")
    wait_for(lambda: Round.objects.filter(number=3).exists(), 10, "round 3")
    missed = read_events(
        events_url,
        headers={"Last-Event-ID": heard[-1].id},
        until=lambda event: event.name == "round" and event.data["round"] == 3,
        seconds=10,
    )
    assert [event.name for event in missed if event.name != "pot"] == ["win", "round"]
    assert next(event for event in missed if event.name == "win").data["winner"] == "alice"
    assert audit_ledger().clean


def test_a_reply_is_held_by_the_engine_for_its_player_only(
    engine, running_worker, openai_backend, make_player, client
):
    openai_backend.seconds = 1.0
    alice, bob = make_player(username="alice"), make_player(username="bob")
    message = send_message(player=alice, body="tell me about the pot").message
    stream = f"{engine.url}/api/v1/messages/{message.pk}/stream"
    theirs = httpx.get(stream, headers=bearer(bob), timeout=5)
    nobody = httpx.get(stream, timeout=5)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found")
    assert (nobody.status_code, nobody.json()["code"]) == (401, "not_authenticated")

    # Her page's one stream (her session) hears the reply being written, as the API does.
    client.force_login(alice)
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    page_reader, page = following(
        f"{engine.url}/live/", cookies=cookies, until=lambda event: event.name == "done"
    )
    events = read_events(stream, headers=bearer(alice), until=lambda event: event.name == "done")
    page_reader.join(15)
    tokens = [event for event in events if event.name == "token"]
    done = events[-1]
    stored = Reply.objects.get(pk=message.pk)
    assert done.name == "done"
    assert (done.data["reply_status"], done.data["reply"]) == ("done", stored.text)
    assert "".join(token.data["text"] for token in tokens) == stored.text
    assert len(tokens) >= 3  # it came piece by piece
    assert [event.name for event in page][-1] == "done"
    page_text = "".join(event.data["text"] for event in page if event.name == "token")
    assert stored.text.endswith(page_text)  # from the moment the page listened
    assert {event.data["message"] for event in page if event.name == "token"} == {message.pk}

    # A client that comes once the reply is done is told so at once, by Django.
    late = read_events(stream, headers=bearer(alice), seconds=5)
    assert [event.name for event in late] == ["done"]
    assert late[0].data == done.data


@pytest.fixture
def two_engines(site, settings, tmp_path):
    """Two engines keeping their events in one Redis; the app publishes to either."""
    if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        pytest.skip("two engines share their events through Redis: set REDIS_URL")
    redis_url = settings.CACHES["default"]["LOCATION"]
    first = Engine(site, tmp_path / "first", redis_url=redis_url)
    second = Engine(site, tmp_path / "second", redis_url=redis_url)
    settings.LIVE_PUBLISH_URLS = [first.publish_url, second.publish_url]
    yield first, second
    first.stop()
    second.stop()


def test_two_engines_sharing_redis_serve_one_audience_and_a_client_moves_on_from_a_dead_one(
    two_engines, running_worker, make_player, configure
):
    first, second = two_engines
    configure(win_chance=Decimal(1))
    players = [make_player(username=name) for name in ("ann", "ben")]
    on_first, heard_first = following(
        f"{first.url}/api/v1/events",
        until=lambda event: event.name == "win" and event.data["round"] == 1,
        seconds=15,
    )
    on_second, heard_second = following(
        f"{second.url}/api/v1/events",
        until=lambda event: event.name == "win" and event.data["round"] == 1,
        seconds=15,
    )
    time.sleep(1.0)
    send_message(player=players[0], body="one")
    on_first.join(15)
    on_second.join(15)
    assert [event.data["winner"] for event in heard_first if event.name == "win"] == ["ann"]
    assert [event.data["winner"] for event in heard_second if event.name == "win"] == ["ann"]

    # The first engine dies with its client on it; a win comes meanwhile. The client
    # comes back on the second engine, from the last event it heard.
    first.kill()
    send_message(player=players[1], body="two")
    wait_for(lambda: Round.objects.filter(number=3).exists(), 10, "round 3")
    moved_on = read_events(
        f"{second.url}/api/v1/events",
        headers={"Last-Event-ID": heard_first[-1].id},
        until=lambda event: event.name == "win" and event.data["round"] == 2,
        seconds=10,
    )
    assert [event.data["winner"] for event in moved_on if event.name == "win"] == ["ben"]
