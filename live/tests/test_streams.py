"""A reply as it is written, and the pot as it moves, as a client hears them: the site
behind the stand-in engine (as `bin/run` serves it), a real worker announcing and writing,
and a model server that streams. (tests/live/ runs the same through nginx and nchan.)"""

import json
import re
import threading
import time
from decimal import Decimal

import httpx
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from chat.models import Message, Reply
from chat.selectors import text_so_far
from chat.services import send_message
from pot.models import Round
from tests.sse import read_events
from wallet.audit import audit_ledger
from wallet.models import Account

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.pooler,
]


def bearer(player) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(player).access_token}"}


def stream_url(server, message: Message) -> str:
    return f"{server.url}/api/v1/messages/{message.pk}/stream"


def api(server, player, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", headers=bearer(player), timeout=10)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what}")


def contiguous(tokens) -> str:
    """The pieces' text, each starting where the one before ended (none twice, none lost)."""
    text = ""
    for token in tokens:
        assert token.data["offset"] == len(text), [token.data for token in tokens]
        text += token.data["text"]
    return text


@pytest.fixture
def slow_model(openai_backend):
    """Twelve words over 1.2 s: a reply that takes a while to write."""
    openai_backend.seconds = 1.2
    return openai_backend


def test_a_reply_streams_piece_by_piece_then_ends_with_the_message(
    asgi_live_server, running_worker, slow_model, player
):
    message = send_message(player=player, body="tell me about the pot").message
    events = read_events(stream_url(asgi_live_server, message), headers=bearer(player))
    tokens = [event for event in events if event.name == "token"]
    assert len(tokens) >= 3, [event.data for event in events]
    done = events[-1]
    assert [event.name for event in events].count("done") == 1
    assert done.data["reply_status"] == "done"
    assert contiguous(tokens) == done.data["reply"]
    assert (
        done.data == api(asgi_live_server, player, "GET", f"/api/v1/messages/{message.pk}").json()
    )


def test_a_client_that_comes_late_hears_every_piece_written_so_far_first(
    asgi_live_server, running_worker, slow_model, player
):
    message = send_message(player=player, body="go on").message
    written = wait_for(
        lambda: len(text_so_far(Message.objects.get(pk=message.pk)).split()) >= 3 and True,
        10,
        "most of the reply to be written",
    )
    assert written
    events = read_events(stream_url(asgi_live_server, message), headers=bearer(player))
    done = events[-1]
    assert events[0].name == "token"
    assert contiguous([event for event in events if event.name == "token"]) == done.data["reply"]


def test_a_finished_reply_answers_done_at_once(asgi_live_server, player, replies, configure):
    configure(win_chance=Decimal("0.000001"))
    message = send_message(player=player, body="hello").message
    replies()
    # Its end alone, and the stream ends with it: read whole, it comes back (a stream held
    # open would raise the read's timeout instead).
    headers = {"Accept": "text/event-stream", **bearer(player)}
    with httpx.stream(
        "GET", stream_url(asgi_live_server, message), headers=headers, timeout=30
    ) as response:
        body = response.read().decode()
    assert re.findall(r"^event: (\w+)$", body, flags=re.MULTILINE) == ["done"]
    assert message.pk == json.loads(body.split("data: ", 1)[1].splitlines()[0])["id"]


def test_the_page_follows_a_reply_with_its_session(
    asgi_live_server, player, replies, configure, client
):
    configure(win_chance=Decimal("0.000001"))
    message = send_message(player=player, body="hello").message
    replies()
    client.force_login(player)
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    events = read_events(stream_url(asgi_live_server, message), cookies=cookies)
    assert events[0].name == "done"


def test_another_players_reply_is_not_found_and_no_token_is_refused(
    asgi_live_server, player, make_player, configure
):
    configure(win_chance=Decimal("0.000001"))
    message = send_message(player=player, body="mine").message
    someone = make_player()
    url = stream_url(asgi_live_server, message)
    other = httpx.get(url, headers=bearer(someone), timeout=5)
    anonymous = httpx.get(url, timeout=5)
    forged = httpx.get(url, headers={"Authorization": "Bearer nonsense"}, timeout=5)
    malformed = [
        httpx.get(url, headers={"Authorization": header}, timeout=5)
        for header in ("Bearer", "Bearer a b", b"Bearer \xe9")
    ]
    beyond = httpx.get(
        f"{asgi_live_server.url}/api/v1/messages/{2**70}/stream", headers=bearer(player), timeout=5
    )
    assert (other.status_code, other.json()["code"]) == (404, "not_found")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert forged.status_code == 401
    assert [(answer.status_code, answer.json()["code"]) for answer in malformed] == [
        (401, "not_authenticated")
    ] * 3
    assert beyond.status_code == 404  # a key beyond 64 bits is no message


def test_stop_keeps_what_was_written_and_the_charge_stands(
    asgi_live_server, running_worker, openai_backend, player
):
    openai_backend.behaviour, openai_backend.seconds = "endless", 1.2
    message = send_message(player=player, body="never stop talking").message
    url = stream_url(asgi_live_server, message)
    followed: list = []
    follower = threading.Thread(
        target=read_events,
        args=[url],
        kwargs={"headers": bearer(player), "seconds": 15, "into": followed},
    )
    follower.start()
    wait_for(lambda: sum(event.name == "token" for event in followed) >= 3, 10, "some pieces")
    stopped = api(asgi_live_server, player, "POST", f"/api/v1/messages/{message.pk}/stop")
    follower.join(15)
    assert stopped.status_code == 200
    kept = stopped.json()
    assert kept["reply_status"] == "stopped"
    assert len(kept["reply"].split()) >= 3
    assert followed[-1].name == "done"
    assert followed[-1].data["reply"] == kept["reply"]
    # The worker lets it go, and writes nothing more.
    wait_for(lambda: not running_worker.writing, 10, "the worker to let the reply go")
    stored = Reply.objects.get(pk=message.pk)
    assert (stored.status, stored.text) == ("stopped", kept["reply"])
    assert Account.objects.get(owner=player).balance == 95
    again = api(asgi_live_server, player, "POST", f"/api/v1/messages/{message.pk}/stop")
    assert again.json() == kept  # stopping twice changes nothing
    assert audit_ledger().clean


def test_the_events_tell_the_pot_the_wins_and_the_rounds_once_each_in_order(
    asgi_live_server, running_worker, make_player, configure
):
    configure(win_chance=Decimal("0.000001"))
    alice, bob = make_player(username="alice"), make_player(username="bob")
    send_message(player=alice, body="feeding the pot")
    # Where things stand: the announcer's newest tick, at once.
    first = wait_for(
        lambda: [
            event
            for event in read_events(f"{asgi_live_server.url}/api/v1/events", seconds=1)
            if event.data == {"round": 1, "amount": 5}
        ],
        10,
        "the pot to be announced",
    )
    assert first[0].name == "pot"
    events: list = []
    reader = threading.Thread(
        target=read_events,
        args=[f"{asgi_live_server.url}/api/v1/events"],
        kwargs={
            "until": lambda event: event.name == "round" and event.data["round"] == 2,
            "seconds": 15,
            "into": events,
        },
    )
    reader.start()
    wait_for(lambda: events, 10, "the stream to say where things stand")
    send_message(player=alice, body="more")
    wait_for(lambda: any(event.data.get("amount") == 15 for event in events), 10, "the pot")
    configure(win_chance=Decimal(1))
    won = send_message(player=bob, body="lucky")
    reader.join(15)
    win = next(event for event in events if event.name == "win")
    closed = Round.objects.get(number=1)
    assert win.data == {
        "round": 1,
        "winner": "bob",
        "payout": won.payout,
        "server_seed": closed.server_seed,
    }
    assert win.id == "1w"
    opened = events[-1]
    assert (opened.name, opened.id) == ("round", "2")
    assert opened.data == {
        "round": 2,
        "server_seed_hash": Round.objects.get(number=2).server_seed_hash,
    }
    # Every event has an id, none twice, in the game's order.
    ids = [event.id for event in events]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    assert ids.index("1w") < ids.index("2")


def test_the_pot_is_told_once_a_tick_the_latest_figure(
    asgi_live_server, running_worker, make_player, configure
):
    configure(win_chance=Decimal("0.000001"), price_base=1, price_step=0)
    players = [make_player() for _ in range(4)]
    events: list = []
    reader = threading.Thread(
        target=read_events,
        args=[f"{asgi_live_server.url}/api/v1/events"],
        kwargs={"until": lambda event: event.data == {"round": 1, "amount": 60}, "into": events},
    )
    reader.start()
    for sent in range(60):
        send_message(player=players[sent % 4], body="tick")
    reader.join(15)
    pots = [event for event in events if event.name == "pot"]
    ticks = [int(event.id.split(".")[1]) for event in pots]
    assert ticks == sorted(set(ticks))  # one pot a tick, each tick once, in order
    amounts = [event.data["amount"] for event in pots]
    assert amounts == sorted(amounts)
    assert pots[-1].data == {"round": 1, "amount": 60}
