"""Live through the documented deployment (tests/deployment.py: the Procfile's web and worker
with the production settings behind bin/proxy's nginx and nchan): clients that come back at
any point, engines that die, the reply's every piece and end. Every event exactly once, in
order; nothing lost or charged twice."""

import json
import random
import threading
import time
from decimal import Decimal

import httpx
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from chat.models import Message, Reply
from pot.models import Round
from tests.deployment import Deployment, RedisOfItsOwn, fetch
from tests.engine import engine_missing
from tests.sse import EventSource, read_events
from tests.tools import missing
from wallet.audit import audit_ledger

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "a-long-enough-passphrase"


@pytest.fixture(autouse=True)
def _engine_here():
    if why := engine_missing():
        missing(why)


def bearer(player) -> dict:
    return {"Authorization": f"Bearer {RefreshToken.for_user(player).access_token}"}


def register(site: str, username: str) -> dict:
    status, _, body = fetch(
        f"{site}/api/v1/auth/register", data={"username": username, "password": PASSWORD}
    )
    assert status == 201, body
    return {"Authorization": f"Bearer {json.loads(body)['access']}"}


# Players who keep sending for the whole of a test: plenty of credits, and no rate limit.
BUSY = {"win_chance": Decimal("0.2"), "price_base": 1, "price_step": 0, "signup_grant": 100_000}
UNLIMITED = {"THROTTLE_RATES": "send=100000/min,register=1000/hour"}


class Players:
    """Players sending through the site until told to stop, each answer kept."""

    def __init__(self, site: str, count: int, *, prefix: str = "player"):
        self.site = site
        self.tokens = [register(site, f"{prefix}{n}") for n in range(count)]
        self.statuses: list[int] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._send, args=[token], daemon=True) for token in self.tokens
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, token: dict) -> None:
        with httpx.Client(base_url=self.site, headers=token, timeout=15) as client:
            while not self.stopping.is_set():
                try:
                    status = client.post("/api/v1/messages", json={"body": "again"}).status_code
                except httpx.HTTPError:
                    status = 0
                self.statuses.append(status)
                if status == 402:  # out of credits: this player is done
                    return
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(20)


def wins_and_rounds(events) -> list[str]:
    return [event.id for event in events if event.name in ("win", "round")]


def truth(first: str, last: str) -> list[str]:
    """Every win and round event from `first` to `last` (ids), as the rounds say."""
    ids = []
    for found in Round.objects.order_by("number"):
        ids.append(str(found.number))
        if found.outcome == Round.Outcome.WON:
            ids.append(f"{found.number}w")
    return ids[ids.index(first) : ids.index(last) + 1]


def assert_once_in_order(events) -> None:
    """Each event once (by id), the pot's ticks rising, the wins and rounds as they were."""
    ids = [event.id for event in events]
    assert all(ids), "an event with no id"
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    ticks = [int(event.id.split(".")[1]) for event in events if event.name == "pot"]
    assert ticks == sorted(ticks)
    told = wins_and_rounds(events)
    if told:
        assert told == truth(told[0], told[-1])


def test_clients_that_come_back_at_any_point_hear_every_event_once_in_order(tmp_path, configure):
    configure(**BUSY)
    deployment = Deployment(tmp_path, **UNLIMITED)
    chance = random.Random(7)
    try:
        reference = EventSource(f"{deployment.url}/api/v1/events")
        steady = threading.Thread(target=reference.listen, args=[60], daemon=True)
        steady.start()
        players = Players(deployment.url, 4)
        comer = EventSource(f"{deployment.url}/api/v1/events")
        for number in range(30):
            # Gone at varied points of the announcer's tick, for varied times, one in three
            # as a connection that breaks mid-write.
            comer.listen(chance.uniform(0.05, 1.3), forget_tail=number % 3 == 0, random=chance)
            time.sleep(chance.uniform(0, 1.5))
        players.stop()
        time.sleep(1.5)  # the last ticks
        comer.listen(2.0)
        time.sleep(0.5)
    finally:
        reference.stopping = True
        steady.join(10)
        deployment.stop()
    assert comer.connections >= 30
    wins = wins_and_rounds(comer.events)
    assert sum(1 for found in wins if found.endswith("w")) >= 10, wins
    assert_once_in_order(comer.events)
    assert_once_in_order(reference.events)
    # What the comebacks heard is what the steady listener heard, from where it began.
    assert (
        wins
        == wins_and_rounds(reference.events)[wins_and_rounds(reference.events).index(wins[0]) :][
            : len(wins)
        ]
    )
    assert set(players.statuses) <= {201, 402, 429}  # sent, out of credits, too fast
    assert audit_ledger().clean
    print(
        f"\n30 comebacks: {comer.connections} connections, {len(wins)} wins and rounds heard, "
        f"{comer.ended_by_server} told by the app first"
    )


def test_a_reply_is_held_by_the_engine_for_its_player_only_and_the_page_follows_it(
    tmp_path, model_server, openai_backend, make_player, client
):
    openai_backend.seconds = 1.0
    deployment = Deployment(
        tmp_path,
        CHATBOT_BACKEND="openai",
        CHATBOT_BASE_URL=model_server.base_url,
        CHATBOT_MODEL="keeper-7b",
        CHATBOT_API_KEY="test-key",
        CHATBOT_TIMEOUT="5",
    )
    try:
        alice = register(deployment.url, "alice")
        bob = register(deployment.url, "bob")
        status, _, body = fetch(
            f"{deployment.url}/api/v1/messages", data={"body": "the pot?"}, headers=alice
        )
        assert status == 201, body
        message = Message.objects.get()
        stream = f"{deployment.url}/api/v1/messages/{message.pk}/stream"
        theirs = httpx.get(stream, headers=bob, timeout=5)
        nobody = httpx.get(stream, timeout=5)
        assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found")
        assert (nobody.status_code, nobody.json()["code"]) == (401, "not_authenticated")
        client.force_login(message.player)
        cookies = {name: morsel.value for name, morsel in client.cookies.items()}
        page: list = []
        page_reader = threading.Thread(
            target=read_events,
            args=[f"{deployment.url}/live/"],
            kwargs={"cookies": cookies, "until": lambda e: e.name == "done", "into": page},
        )
        page_reader.start()
        events = read_events(stream, headers=alice, until=lambda event: event.name == "done")
        page_reader.join(15)
        # A client that comes once the reply is done is told so at once, by Django.
        late = read_events(stream, headers=alice, seconds=5)
    finally:
        deployment.stop()
    stored = Reply.objects.get(pk=message.pk)
    tokens = [event for event in events if event.name == "token"]
    assert len(tokens) >= 3
    offsets = [token.data["offset"] for token in tokens]
    assert offsets == sorted(set(offsets))
    assert "".join(token.data["text"] for token in tokens) == stored.text
    assert (events[-1].name, events[-1].data["reply"]) == ("done", stored.text)
    assert [event.name for event in page][-1] == "done"
    assert [event.name for event in late] == ["done"]
    assert audit_ledger().clean


def listeners(deployment: Deployment, count: int) -> list[tuple[EventSource, threading.Thread]]:
    """`count` listeners of the events split over the engines, each passed to the next
    engine when its own is away."""
    found = []
    urls = [engine.url for engine in deployment.engines]
    for number in range(count):
        url = urls[number % len(urls)]
        other = urls[(number + 1) % len(urls)]
        client = EventSource(f"{url}/api/v1/events", elsewhere=f"{other}/api/v1/events")
        thread = threading.Thread(target=client.listen, args=[120], daemon=True)
        thread.start()
        found.append((client, thread))
    return found


def hang_up(found) -> list[EventSource]:
    for client, _ in found:
        client.stopping = True
    for _, thread in found:
        thread.join(10)
    return [client for client, _ in found]


def test_the_listeners_of_an_engine_that_dies_move_to_another_and_miss_nothing(
    tmp_path, configure
):
    configure(**BUSY)
    deployment = Deployment(tmp_path, engines=2, **UNLIMITED)
    try:
        heard = listeners(deployment, 40)
        players = Players(deployment.url, 4)
        time.sleep(4)
        first = deployment.engines[0]
        first.kill()
        killed_at = time.monotonic()
        time.sleep(6)
        players.stop()
        time.sleep(1.5)
    finally:
        clients = hang_up(heard)
        deployment.stop()
    moved = [client for client in clients if client.refused]
    assert len(moved) == 20  # every listener of the dead engine, none of the other's
    back_after = []
    for client in clients:
        assert_once_in_order(client.events)
        assert client.statuses == []  # no comeback answered anything but 200
        if client.refused:
            since = [event.at for event in client.events if event.at > killed_at]
            assert since, (client.url, client.connections, client.statuses, client.events[-3:])
            back_after.append(min(since) - killed_at)
    # Everyone heard every win and round up to the end.
    ends = {wins_and_rounds(client.events)[-1] for client in clients}
    assert len(ends) == 1, ends
    assert audit_ledger().clean
    print(
        f"\nengine killed: {len(moved)} listeners moved, heard again after "
        f"{sorted(back_after)[len(back_after) // 2]:.2f} s (median), {max(back_after):.2f} s (max)"
    )
    assert max(back_after) < 5


def test_a_redis_restart_loses_nothing_and_answers_no_500(tmp_path, configure, settings):
    configure(**BUSY)
    redis = RedisOfItsOwn(tmp_path)
    deployment = Deployment(tmp_path, engines=2, REDIS_URL=redis.url, **UNLIMITED)
    try:
        heard = listeners(deployment, 20)
        players = Players(deployment.url, 4)
        time.sleep(3)
        redis.kill()
        away_from = len(players.statuses)
        # Meanwhile, a client comes back (its engine asks Django where it goes on from).
        comer = EventSource(f"{deployment.engines[1].url}/api/v1/events")
        comer.listen(1.0)
        comer.listen(1.0)
        time.sleep(2)
        during = players.statuses[away_from:]
        redis.start()
        returned_at = time.monotonic()
        time.sleep(5)
        players.stop()
        time.sleep(1.5)
    finally:
        clients = hang_up(heard)
        deployment.stop()
        redis.kill()
    assert during, "nobody sent while Redis was away"
    assert set(players.statuses) <= {201, 402, 429, 503}, set(players.statuses)
    assert comer.statuses == []
    for client in clients:
        assert_once_in_order(client.events)
        assert client.statuses == []
    ends = {wins_and_rounds(client.events)[-1] for client in clients}
    assert len(ends) == 1, ends
    after = [
        min((event.at for event in client.events if event.at > returned_at), default=99)
        - returned_at
        for client in clients
    ]
    assert audit_ledger().clean
    print(
        f"\nRedis away: {len(during)} sends meanwhile, answered {sorted(set(during))}; "
        f"every listener heard again within {max(after):.2f} s of its return"
    )
    assert max(after) < 5


def test_128_players_each_hear_their_whole_reply_and_one_end(
    tmp_path, model_server, configure, make_player
):
    """Every stream of a reply ends with one `done` (its reply as stored), its pieces in
    order, none twice, adding up to the text: with 128 replies streamed at once, the
    worker's Redis pool, its engine publishes and the piece passing hold."""
    configure(win_chance=Decimal("0.000001"))
    model_server.model.words, model_server.model.seconds = 40, 2.0
    deployment = Deployment(
        tmp_path,
        CHATBOT_BACKEND="openai",
        CHATBOT_BASE_URL=model_server.base_url,
        CHATBOT_MODEL="keeper-7b",
        CHATBOT_TIMEOUT="20",
        proxy={"PROXY_STREAMS_PER_ADDRESS": "1000"},
    )
    results: dict[int, list] = {}
    failures: list = []
    tokens = [bearer(make_player()) for _ in range(128)]

    def player(number: int) -> None:
        try:
            token = tokens[number]
            for _ in range(2):
                status, _, body = fetch(
                    f"{deployment.url}/api/v1/messages", data={"body": "a story"}, headers=token
                )
                assert status == 201, body
                sent = json.loads(body)["message"]
                results[sent["id"]] = read_events(
                    deployment.url + sent["reply_stream"],
                    headers=token,
                    until=lambda event: event.name == "done",
                    seconds=60,
                )
        except Exception as error:
            failures.append((number, repr(error)))

    try:
        threads = [threading.Thread(target=player, args=[n]) for n in range(128)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
    finally:
        deployment.stop()
    assert failures == []
    stored = {reply.pk: reply for reply in Reply.objects.all()}
    assert len(results) == len(stored) == 256
    assert {reply.status for reply in stored.values()} == {"done"}
    ends = pieces = late = 0
    for message_id, events in results.items():
        names = [event.name for event in events]
        assert names.count("done") == 1, (message_id, names)
        assert names[-1] == "done", (message_id, names)
        tokens = [event.data for event in events if event.name == "token"]
        if not tokens:
            # A listener that came after its reply was finished (on this loaded machine a
            # stream's request can take longer than the model) is answered by the app with
            # the reply whole; the engine's events carry its ids, the app's answer none.
            assert names == ["done"], (message_id, events)
            assert events[-1].id == "", (message_id, events)
            assert events[-1].data["reply"] == stored[message_id].text, message_id
            late += 1
            continue
        text = ""
        for token in tokens:
            assert token["offset"] == len(text), (message_id, tokens)
            text += token["text"]
        assert text == stored[message_id].text == events[-1].data["reply"], message_id
        ends += 1
        pieces += len(tokens)
    assert audit_ledger().clean
    print(
        f"\n128 players: {ends} ends heard through the engine and {late} from the app "
        f"(came after their reply was finished) for {len(stored)} replies done, {pieces} pieces"
    )
