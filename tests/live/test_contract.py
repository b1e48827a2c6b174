"""The real-time engine's contract, as the app relies on it (docs/LIVE.md), run byte for
byte against the real engine (nginx with nchan, bin/proxy, in front of the site under WSGI)
and against its stand-in (live.devengine, in front of the site under uvicorn, as `bin/run`
serves it). Each scenario publishes what the app publishes and listens as a client does;
both engines must say exactly the same bytes."""

import re
import threading
import time

import httpx
import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from chat.services import send_message
from live import engine
from live.models import Engine as EngineRecord
from live.models import Tick
from tests.engine import Engine, engine_missing
from tests.tools import missing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


class Site:
    def __init__(self, url: str, publish_url: str, name: str):
        self.url, self.publish_url, self.name = url, publish_url, name


@pytest.fixture(params=["nchan", "stand-in"])
def site(request, settings, tmp_path):
    """The site behind one engine or the other, the app publishing to it."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    if request.param == "nchan":
        if why := engine_missing():
            missing(why)
        live_server = request.getfixturevalue("live_server")
        proxy = Engine(live_server.url.removeprefix("http://"), tmp_path / "proxy")
        settings.LIVE_PUBLISH_URLS = [proxy.publish_url]
        yield Site(proxy.url, proxy.publish_url, proxy.name)
        proxy.stop()
    else:
        server = request.getfixturevalue("asgi_live_server")
        yield Site(server.url, server.publish_url, "dev")


class Listener:
    """A client of one stream, its bytes as they come (in a thread of its own)."""

    def __init__(self, url: str, headers: dict | None = None, cookies: dict | None = None):
        self.received = b""
        self.status: int | None = None
        self.headers: dict = {}
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(
            target=self._read, args=[url, headers or {}, cookies], daemon=True
        )
        self.thread.start()
        assert self.opened.wait(10), "the stream did not open"

    def _read(self, url, headers, cookies) -> None:
        try:
            with (
                httpx.Client(cookies=cookies, timeout=httpx.Timeout(30)) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                self.status, self.headers = response.status_code, dict(response.headers)
                self.opened.set()
                for chunk in response.iter_raw():
                    self.received += chunk
                    if self.stopping:
                        break
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def until(self, expected: bytes, seconds: float = 10) -> bytes:
        """What it heard once it heard `expected` in all (or `seconds` passed)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < len(expected) and time.monotonic() < deadline:
            if self.ended.is_set():
                break
            time.sleep(0.02)
        time.sleep(0.2)  # nothing more than that comes
        return self.received

    def close(self) -> None:
        self.stopping = True


def publish(path: str, chunk: bytes) -> engine.Delivery:
    [delivery] = engine.publish(path, chunk)
    return delivery


def tick(chunk: bytes) -> engine.Delivery:
    """A tick of the announcer: to the events, and as the newest alone."""
    publish("now", chunk)
    return publish("events", chunk)


def ticks_published(site: Site, count: int) -> list[engine.Delivery]:
    """`count` ticks of the announcer (a pot each), kept as the announcer keeps them."""
    deliveries = []
    for number in range(1, count + 1):
        delivery = tick(pot(number))
        Tick.objects.create(
            id=number, round=1, amount=number, deliveries={site.name: delivery.message_id}
        )
        deliveries.append(delivery)
    EngineRecord.objects.update_or_create(
        name=site.name, defaults={"since": 1, "publisher": site.publish_url}
    )
    return deliveries


def pot(tick: int) -> bytes:
    return f'id: 1.{tick}\nevent: pot\ndata: {{"round":1,"amount":{tick}}}\n\n'.encode()


def test_a_publish_is_answered_with_the_engines_id_of_it_and_its_name(site):
    first = publish("events", pot(1))
    second = publish("events", pot(2))
    assert (first.engine, second.engine) == (site.name, site.name)
    assert (first.messages, second.messages) == (1, 2)
    assert re.fullmatch(r"[0-9]+:[0-9]+", first.message_id)
    later = tuple(map(int, second.message_id.split(":")))
    assert later > tuple(map(int, first.message_id.split(":")))


def test_a_new_listener_hears_the_newest_tick_then_each_as_it_comes(site):
    tick(pot(1))
    tick(pot(2))
    listener = Listener(f"{site.url}/api/v1/events")
    assert listener.status == 200
    assert listener.headers["content-type"].startswith("text/event-stream")
    assert listener.until(pot(2)) == pot(2)
    tick(pot(3) + pot(4))
    tick(pot(5))
    assert listener.until(pot(2) + pot(3) + pot(4) + pot(5)) == pot(2) + pot(3) + pot(4) + pot(5)
    listener.close()


def test_a_listener_that_comes_back_hears_what_came_after_what_it_heard_once(site):
    ticks_published(site, 3)
    listener = Listener(f"{site.url}/api/v1/events", headers={"Last-Event-ID": "1.1"})
    assert listener.until(pot(2) + pot(3)) == pot(2) + pot(3)
    tick(pot(4))
    assert listener.until(pot(2) + pot(3) + pot(4)) == pot(2) + pot(3) + pot(4)
    listener.close()
    # One that heard tick 3 (a page's tab taking the stream over) hears what came after.
    current = Listener(f"{site.url}/api/v1/events?last_event_id=1.3")
    tick(pot(5))
    assert current.until(pot(4) + pot(5)) == pot(4) + pot(5)
    current.close()


def test_a_reply_is_held_from_its_first_piece_and_the_apps_refusals_pass_through(
    site, player, make_player
):
    message = send_message(player=player, body="hello").message
    path = f"reply/{message.pk}/player/{player.pk}"
    token = lambda offset, text: (  # noqa: E731
        f'event: token\ndata: {{"message":{message.pk},"offset":{offset},"text":"{text}"}}\n\n'
    ).encode()
    publish(path, token(0, "Hel"))
    publish(path, token(3, "lo"))
    stream = f"{site.url}/api/v1/messages/{message.pk}/stream"
    listener = Listener(stream, headers=bearer(player))
    assert listener.until(token(0, "Hel") + token(3, "lo")) == token(0, "Hel") + token(3, "lo")
    publish(path, b"event: done\ndata: {}\n\n")
    expected = token(0, "Hel") + token(3, "lo") + b"event: done\ndata: {}\n\n"
    assert listener.until(expected) == expected
    listener.close()

    nobody = httpx.get(stream, timeout=10)
    somebody_else = httpx.get(stream, headers=bearer(make_player()), timeout=10)
    assert (nobody.status_code, nobody.json()["code"]) == (401, "not_authenticated")
    assert nobody.headers["www-authenticate"] == 'Bearer realm="api"'
    assert (somebody_else.status_code, somebody_else.json()["code"]) == (404, "not_found")


def test_a_page_hears_the_events_and_its_players_replies_and_comes_back_to_both(site, player):
    cookies = _session_of(player)
    mine = f"reply/1/player/{player.pk}"
    earlier = b'event: done\ndata: {"id":0}\n\n'
    token = b'event: token\ndata: {"message":1}\n\n'
    publish(mine, earlier)  # an earlier reply's end
    time.sleep(1.05 - time.time() % 1)  # what follows, in a second of its own
    ticks_published(site, 2)
    # A new page: what comes after the newest tick, and its player's replies from then on.
    page = Listener(f"{site.url}/live/", cookies=cookies)
    publish(mine, token)
    tick(pot(3))
    assert page.until(token + pot(3)) == token + pot(3)
    page.close()
    # Back after tick 1: the events after it, the player's replies from that second on;
    # each channel's in order (what each says of the other's, in no order promised).
    back = Listener(f"{site.url}/live/", headers={"Last-Event-ID": "1.1"}, cookies=cookies)
    heard = back.until(pot(2) + token + pot(3))
    back.close()
    assert _events_of(heard) == pot(2) + pot(3)
    assert _replies_of(heard) == token


def test_the_engines_own_doors_are_not_the_publics(site):
    for path in ("/internal/live/events", "/internal/live/reply/1", "/internal/app/events"):
        assert httpx.get(f"{site.url}{path}", timeout=10).status_code == 404, path
    refused = httpx.post(f"{site.url}/publish/events", content=b"x", timeout=10)
    assert refused.status_code >= 400


def test_the_engine_names_itself_to_the_app_whatever_a_client_says(site):
    ticks_published(site, 2)
    listener = Listener(
        f"{site.url}/api/v1/events", headers={"Last-Event-ID": "1.1", "X-Live-Engine": "forged"}
    )
    assert listener.until(pot(2)) == pot(2)  # resumed where this engine holds tick 1
    listener.close()


def _events_of(heard: bytes) -> bytes:
    return b"".join(block + b"\n\n" for block in heard.split(b"\n\n") if b"event: pot" in block)


def _replies_of(heard: bytes) -> bytes:
    return b"".join(
        block + b"\n\n" for block in heard.split(b"\n\n") if block and b"event: pot" not in block
    )


def bearer(player) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(player).access_token}"}


def _session_of(player) -> dict:
    client = Client()
    client.force_login(player)
    return {name: morsel.value for name, morsel in client.cookies.items()}


def test_an_engine_that_holds_no_events_is_never_handed_a_comeback(site):
    """An engine just (re)started holds nothing: nchan's worker dies on a listener resumed
    there. The app tells the listener to come back soon instead, and once the engine holds
    the ticks, resumes it there."""
    EngineRecord.objects.create(name=site.name, since=1, publisher=site.publish_url)
    Tick.objects.create(id=1, round=1, amount=1, deliveries={site.name: "1700000000:0"})
    soon = httpx.get(f"{site.url}/api/v1/events", headers={"Last-Event-ID": "1.1"}, timeout=10)
    assert soon.content == b"retry: 500\n\n"
    Tick.objects.all().delete()
    ticks_published(site, 2)
    listener = Listener(f"{site.url}/api/v1/events", headers={"Last-Event-ID": "1.1"})
    assert listener.until(pot(2)) == pot(2)
    listener.close()
