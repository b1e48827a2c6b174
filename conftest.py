from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import PlayerFactory
from game.models import GameConfig
from wallet.models import Account


@pytest.fixture
def game_config(db) -> GameConfig:
    return GameConfig.load()


@pytest.fixture
def configure(db):
    """Change the game's parameters for the test, as an operator would in the admin."""

    def configure(**values) -> GameConfig:
        config = GameConfig.load()
        for name, value in values.items():
            setattr(config, name, value)
        config.full_clean()
        config.save()
        return config

    return configure


@pytest.fixture
def player(db):
    return PlayerFactory()


@pytest.fixture
def make_player(db):
    return PlayerFactory


@pytest.fixture
def balance():
    """The current balance of a player, or of the pot / house by kind."""

    def balance(who) -> int:
        if isinstance(who, str):
            return Account.objects.get(kind=who).balance
        return Account.objects.get(owner=who).balance

    return balance


@pytest.fixture
def player_client(client, player):
    client.force_login(player)
    return client


@pytest.fixture
def htmx():
    """Headers that make a test-client request look like htmx's."""
    return {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counts and lock-outs live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as():
    """An API client holding a fresh access token for the given player."""

    def api_as(player) -> APIClient:
        client = APIClient()
        client.credentials(
            HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(player).access_token}"
        )
        return client

    return api_as


@pytest.fixture
def replies(db):
    """Have a worker write the replies waiting to be written, now, in this thread (so on
    the test's own database connection)."""
    from keeper.worker import Worker

    def replies() -> None:
        async_to_sync(Worker(concurrency=64).drain)()

    return replies


@pytest.fixture
def asgi_live_server(transactional_db, settings):
    """The site under uvicorn behind the stand-in engine, as `bin/run` serves it, on the
    test's database; the app publishes to that engine."""
    from tests.asgi_server import ASGILiveServer

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    server = ASGILiveServer()
    settings.LIVE_PUBLISH_URLS = [server.publish_url]
    yield server
    server.stop()


@pytest.fixture
def keeper_timings(settings):
    """Change the keeper's timings for the test (settings.KEEPER, by name)."""

    def keeper_timings(**timings) -> None:
        settings.KEEPER = {**settings.KEEPER, **{k.upper(): v for k, v in timings.items()}}

    return keeper_timings


@pytest.fixture
def running_worker(transactional_db, keeper_timings):
    """A worker writing replies in a thread of its own, as `manage.py run_worker` does
    (the announcer and the ledger's audit beside it)."""
    import asyncio
    import threading

    from chatpot_project.management.commands.run_worker import COMPANIONS
    from keeper.worker import Worker

    keeper_timings(poll_every=0.02)
    worker = Worker(concurrency=16, companions=COMPANIONS)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(worker.run(handle_signals=False)), daemon=True
    )
    thread.start()
    yield worker
    loop.call_soon_threadsafe(worker.stop)
    thread.join(30)
    loop.close()


@pytest.fixture
def model_server():
    """A model server on 127.0.0.1 that streams its replies: 12 words in 0.3 s."""
    from tests.fake_model import FakeModel, ModelServer

    server = ModelServer(FakeModel(words=12, seconds=0.3))
    yield server
    server.stop()


@pytest.fixture
def openai_backend(settings, model_server, configure, keeper_timings):
    """The keeper answers through the model server; no message wins."""
    configure(win_chance=Decimal("0.000001"))  # the tests pin the outcome
    settings.CHATBOT_BACKEND = "openai"
    settings.CHATBOT_BASE_URL = model_server.base_url
    settings.CHATBOT_MODEL = "keeper-7b"
    settings.CHATBOT_API_KEY = "test-key"
    keeper_timings(timeout=1.5)
    return model_server.model


DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Every test that used the database ends with the ledger's audit clean: whatever it
    did (sends, wins, resets, grants, workers killed mid-reply), no credit was created or
    lost and no nonce skipped. A test that breaks the ledger on purpose, or cannot reach it,
    says why (`no_ledger_audit`)."""
    result = yield
    uses_database = item.get_closest_marker(
        "django_db"
    ) is not None or not DATABASE_FIXTURES.isdisjoint(item.fixturenames)
    if uses_database and item.get_closest_marker("no_ledger_audit") is None:
        from wallet.audit import audit_ledger

        report = audit_ledger()
        assert report.clean, f"{report.summary()} {' | '.join(report.breaches)}"
    return result


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, made and dropped by pytest-django. Through a pooler in
    transaction mode, the pooler's own connections to it are closed first: PostgreSQL
    drops no database another session is connected to."""
    yield
    from django.conf import settings
    from django.db import connection

    if settings.DATABASE_POOLER == "transaction":
        with django_db_blocker.unblock():
            from tests.pooler import release_database

            release_database(connection.settings_dict)


def pytest_runtest_setup(item):
    for mark in item.iter_markers("needs_tool"):
        if mark.args[0]:
            from tests.tools import missing

            missing(mark.args[0])
