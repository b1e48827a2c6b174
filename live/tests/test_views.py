"""Who may listen and where each listener starts: the views' decisions, as the engine in
front of them receives them (an X-Accel-Redirect, or events answered at once)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chat.models import Reply
from chat.services import send_message
from live.events import MISSED_ROUNDS_MAX
from live.models import Engine, Tick
from pot.models import Round
from tests.sse import parse_events

ENGINE = {"HTTP_X_LIVE_ENGINE": "edge1"}


@pytest.fixture
def engines(settings, monkeypatch):
    """An engine in front of the app, holding `holding["events"]` messages of the events
    (what its publisher would say: tests/live/test_contract.py asks the real ones)."""
    settings.LIVE_PUBLISH_URLS = ["http://127.0.0.1:9/publish"]
    holding = {"events": 1024}
    monkeypatch.setattr("live.engine.messages_held", lambda publisher, path: holding[path])
    return holding


def win_rounds(configure, player, count: int) -> None:
    """`count` rounds, each won by `player`."""
    configure(win_chance=Decimal(1))
    for _ in range(count):
        send_message(player=player, body="mine")
    configure(win_chance=Decimal("0.000001"))


def tick(number: int, *, round: int, engine: str = "edge1", message: str = "", **fields) -> Tick:
    return Tick.objects.create(
        id=number,
        round=round,
        amount=fields.pop("amount", 0),
        deliveries={engine: message or f"1700000000:{number}"},
        **fields,
    )


def redirect_of(response) -> str:
    assert response.status_code == 200
    return response["X-Accel-Redirect"]


@pytest.mark.django_db
class TestWithNoEngineInFront:
    """A platform without an engine: what there is now, and the client comes back."""

    def test_the_events_say_where_things_stand_and_when_to_come_back(self, client):
        response = client.get("/api/v1/events")
        assert response["Content-Type"].startswith("text/event-stream")
        assert "X-Accel-Redirect" not in response
        events = parse_events(response.content)
        assert [(event.name, event.data, event.id) for event in events] == [
            ("pot", {"round": 1, "amount": 0}, "1.0")
        ]
        assert response.content.endswith(b"retry: 3000\n\n")

    def test_a_client_that_says_where_it_was_is_told_what_it_missed(
        self, client, configure, player
    ):
        win_rounds(configure, player, 2)
        events = parse_events(client.get("/api/v1/events", HTTP_LAST_EVENT_ID="1.0").content)
        assert [event.id for event in events] == ["1w", "2", "2w", "3", "3.0"]

    def test_a_reply_not_yet_written_says_so_and_one_written_ends_with_done(
        self, api_as, player, replies
    ):
        api = api_as(player)
        sent = api.post("/api/v1/messages", {"body": "hi"}, format="json").json()["message"]
        pending = api.get(sent["reply_stream"])
        assert pending.content == b"retry: 3000\n\n"
        replies()
        done = parse_events(api.get(sent["reply_stream"]).content)
        assert [event.name for event in done] == ["done"]
        assert done[0].data == api.get(f"/api/v1/messages/{sent['id']}").json()


@pytest.mark.django_db
@pytest.mark.usefixtures("engines")
class TestThroughAnEngine:
    def test_a_new_listener_is_handed_to_the_engine(self, client, player):
        assert redirect_of(client.get("/api/v1/events", **ENGINE)) == "/internal/live/events"
        client.force_login(player)
        assert redirect_of(client.get("/live/", **ENGINE)) == f"/internal/live/player/{player.pk}"

    def test_a_reply_being_written_is_handed_to_the_engine_a_finished_one_answered(
        self, api_as, player, replies
    ):
        api = api_as(player)
        sent = api.post("/api/v1/messages", {"body": "hi"}, format="json").json()["message"]
        stream = sent["reply_stream"]
        assert redirect_of(api.get(stream, **ENGINE)) == f"/internal/live/reply/{sent['id']}"
        replies()
        done = api.get(stream, **ENGINE)
        assert "X-Accel-Redirect" not in done
        assert [event.name for event in parse_events(done.content)] == ["done"]

    def test_a_stream_refuses_whoever_may_not_listen(self, api, api_as, player, make_player):
        message = send_message(player=player, body="mine").message
        stream = f"/api/v1/messages/{message.pk}/stream"
        nobody = api.get(stream, **ENGINE)
        somebody_else = api_as(make_player()).get(stream, **ENGINE)
        posted = api_as(player).post(stream, **ENGINE)
        page = api.get("/live/", **ENGINE)
        assert (nobody.status_code, nobody.json()["code"]) == (401, "not_authenticated")
        assert nobody["WWW-Authenticate"] == 'Bearer realm="api"'
        assert (somebody_else.status_code, somebody_else.json()["code"]) == (404, "not_found")
        assert (posted.status_code, posted.json()["code"]) == (405, "method_not_allowed")
        assert (page.status_code, page.json()["code"]) == (401, "not_authenticated")

    def test_a_player_gone_since_their_token_is_refused(self, api_as, player):
        message = send_message(player=player, body="mine").message
        api = api_as(player)
        player.is_active = False
        player.save(update_fields=["is_active"])
        refused = api.get(f"/api/v1/messages/{message.pk}/stream", **ENGINE)
        assert refused.status_code == 401


@pytest.mark.django_db
@pytest.mark.usefixtures("engines")
class TestAComeback:
    def test_one_that_heard_a_tick_its_engine_holds_resumes_there(self, client, player):
        Engine.objects.create(name="edge1", since=1, publisher="http://127.0.0.1:9/publish")
        tick(1, round=1)
        tick(2, round=1, message="1700000003:7")
        tick(3, round=1)
        events = client.get("/api/v1/events", HTTP_LAST_EVENT_ID="1.2", **ENGINE)
        assert redirect_of(events) == "/internal/live/events?after=1700000003%3A7"
        # A page's stream is two channels: the player's go on from that second.
        client.force_login(player)
        page = client.get("/live/?last_event_id=1.2", **ENGINE)
        expected = f"/internal/live/player/{player.pk}?after=1700000003%3A%5B7%2C-%5D"
        assert redirect_of(page) == expected

    @pytest.mark.parametrize(
        ("engine", "since", "age"),
        [
            ("edge2", 1, 0),  # another engine, which never took that tick
            ("edge1", 3, 0),  # the engine restarted (or missed a tick) after it
            ("edge1", 1, 3600),  # longer ago than the engine's buffer holds
        ],
        ids=["other engine", "engine restarted since", "too long ago"],
    )
    def test_one_its_engine_cannot_resume_is_told_by_the_app_up_to_the_engines_newest_tick(
        self, client, configure, player, engine, since, age
    ):
        win_rounds(configure, player, 2)
        Engine.objects.create(name="edge1", since=since, publisher="http://127.0.0.1:9/publish")
        Engine.objects.create(name="edge2", since=since, publisher="http://127.0.0.1:9/publish")
        long_ago = timezone.now() - timedelta(seconds=age)
        tick(1, round=1, created_at=long_ago)
        tick(2, round=1, created_at=long_ago)
        newest = Tick.objects.create(
            id=3, round=3, amount=5, deliveries={"edge1": "1700000009:0", "edge2": "1700000009:1"}
        )
        heard = client.get("/api/v1/events", HTTP_LAST_EVENT_ID="1.2", HTTP_X_LIVE_ENGINE=engine)
        assert "X-Accel-Redirect" not in heard
        events = parse_events(heard.content)
        # Round 1's win and everything since, up to the engine's newest tick, ending with its
        # pot: the id the client comes straight back with, and the engine goes on from.
        assert [event.id for event in events] == ["1w", "2", "2w", "3", f"3.{newest.pk}"]
        assert events[-1].data == {"round": 3, "amount": 5}
        assert heard.content.endswith(b"retry: 0\n\n")
        again = client.get("/api/v1/events", HTTP_LAST_EVENT_ID="3.3", HTTP_X_LIVE_ENGINE=engine)
        resumed = newest.deliveries[engine].replace(":", "%3A")
        assert redirect_of(again) == f"/internal/live/events?after={resumed}"

    def test_what_was_missed_ends_before_a_round_the_tick_saw_open(
        self, client, configure, player
    ):
        """The app's catch-up stops where the engine's newest tick stood: a win after it is
        the engine's to tell, once."""
        Engine.objects.create(name="edge1", since=2, publisher="http://127.0.0.1:9/publish")
        tick(2, round=1)
        win_rounds(configure, player, 1)  # round 1 won after tick 2
        events = parse_events(
            client.get("/api/v1/events", HTTP_LAST_EVENT_ID="1", **ENGINE).content
        )
        assert [event.id for event in events] == ["1.2"]

    def test_an_engine_holding_fewer_ticks_than_came_since_has_lost_them(self, client, engines):
        """It restarted since: what it holds starts after the client's tick."""
        Engine.objects.create(name="edge1", since=1, publisher="http://127.0.0.1:9/publish")
        for number in (1, 2, 3):
            tick(number, round=1)
        engines["events"] = 2  # ticks 2 and 3, not 1
        heard = client.get("/api/v1/events", HTTP_LAST_EVENT_ID="1.1", **ENGINE)
        assert [event.id for event in parse_events(heard.content)] == ["1.3"]
        engines["events"] = 3
        assert "X-Accel-Redirect" in client.get(
            "/api/v1/events", HTTP_LAST_EVENT_ID="1.1", **ENGINE
        )

    def test_one_that_heard_more_than_this_engine_has_been_told_comes_back_soon(self, client):
        Engine.objects.create(name="edge1", since=1, publisher="http://127.0.0.1:9/publish")
        tick(1, round=1)
        soon = client.get("/api/v1/events", HTTP_LAST_EVENT_ID="1.2", **ENGINE)
        assert soon.content == b"retry: 500\n\n"
        nothing_yet = client.get(
            "/api/v1/events", HTTP_LAST_EVENT_ID="1.2", HTTP_X_LIVE_ENGINE="new"
        )
        assert nothing_yet.content == b"retry: 500\n\n"

    def test_one_far_behind_is_told_it_missed_more_and_where_things_stand(
        self, client, configure, player
    ):
        win_rounds(configure, player, MISSED_ROUNDS_MAX + 5)
        now = Round.objects.get(outcome=Round.Outcome.OPEN).number
        Engine.objects.create(name="edge1", since=1, publisher="http://127.0.0.1:9/publish")
        tick(1, round=now)
        events = parse_events(
            client.get("/api/v1/events", HTTP_LAST_EVENT_ID="0", **ENGINE).content
        )
        assert [(event.name, event.id) for event in events] == [
            ("missed", ""),
            ("round", str(now)),
            ("pot", f"{now}.1"),
        ]
        assert events[0].data == {"from_round": 0, "to_round": now - 1}

    @pytest.mark.parametrize("odd", ["abc", "-1", "1.2.3", "9" * 40, "1w.2", "\uff11"])
    def test_an_id_not_ours_is_a_new_listener(self, client, odd):
        assert redirect_of(client.get("/api/v1/events", HTTP_LAST_EVENT_ID=odd, **ENGINE)) == (
            "/internal/live/events"
        )


@pytest.mark.django_db
def test_a_reply_cut_short_ends_with_its_status(api_as, player):
    message = send_message(player=player, body="hi").message
    Reply.objects.filter(pk=message.pk).update(status=Reply.Status.INTERRUPTED, text="Half of")
    done = parse_events(api_as(player).get(f"/api/v1/messages/{message.pk}/stream").content)
    assert done[0].data["reply_status"] == "interrupted"
    assert done[0].data["reply"] == "Half of"


@pytest.mark.django_db
@pytest.mark.usefixtures("engines")
def test_a_page_stands_where_it_was_rendered_even_before_the_announcer_ticks(
    client, configure, player
):
    """A page rendered just after a win (the announcer has not ticked it yet) stands in
    the round the win opened: it shows that win already, and its stream does not tell it
    again as news; the stream waits for the announcer, then goes on from its tick."""
    tick(1, round=1, amount=5)
    client.force_login(player)
    assert 'data-live-from="1.1"' in client.get("/chat/").content.decode()
    win_rounds(configure, player, 1)  # round 2 opens; no tick has said so yet
    assert 'data-live-from="2"' in client.get("/chat/").content.decode()
    Engine.objects.create(name="edge1", since=1, publisher="http://127.0.0.1:9/publish")
    early = client.get("/live/?last_event_id=2", **ENGINE)
    assert early.content == b"retry: 500\n\n"  # nothing to go on from yet: soon again
    tick(2, round=2)
    later = client.get("/live/?last_event_id=2", **ENGINE)
    assert [event.id for event in parse_events(later.content)] == ["2.2"]  # no "1w"
