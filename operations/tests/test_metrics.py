"""What /metrics tells an operator, and who may read it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from chat.models import Reply
from wallet.auditing import audit_run_due
from wallet.models import Account

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def send(client, body="hello"):
    return client.post("/api/v1/messages", {"body": body}, format="json")


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token: str) -> dict[str, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_need_the_token(client, token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}é").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_without_a_token_configured_there_are_no_metrics(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_a_send_a_win_and_refusals_are_counted(api_as, player, configure):
    configure(win_chance=Decimal("0.000001"))  # the first send loses; the second is made to win
    client = api_as(player)
    before = {
        name: value(name)
        for name in (
            "chatpot_messages_sent_total",
            "chatpot_message_fees_credits_total",
            "chatpot_wins_total",
            "chatpot_payouts_credits_total",
        )
    }
    invalid = value("chatpot_sends_refused_total", reason="invalid")
    broke = value("chatpot_sends_refused_total", reason="insufficient_funds")
    assert send(client).status_code == 201  # 5 credits, lost
    configure(win_chance=Decimal(1))
    won = send(client).json()["message"]
    assert won["won"] is True
    assert send(client, body="   ").status_code == 400
    configure(price_base=10_000, price_step=0)
    assert send(client).status_code == 402

    assert value("chatpot_messages_sent_total") - before["chatpot_messages_sent_total"] == 2
    fees = value("chatpot_message_fees_credits_total")
    assert fees - before["chatpot_message_fees_credits_total"] == 5 + won["price"]
    assert value("chatpot_wins_total") - before["chatpot_wins_total"] == 1
    payouts = value("chatpot_payouts_credits_total")
    assert payouts - before["chatpot_payouts_credits_total"] == won["payout"]
    assert value("chatpot_sends_refused_total", reason="invalid") - invalid == 1
    assert value("chatpot_sends_refused_total", reason="insufficient_funds") - broke == 1


def test_a_replayed_send_is_not_counted_again(api_as, player):
    client = api_as(player)
    before = value("chatpot_messages_sent_total")
    for _ in range(2):
        client.post(
            "/api/v1/messages", {"body": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
    assert value("chatpot_messages_sent_total") - before == 1


def test_requests_are_timed_by_view_and_status(api_as, player):
    labels = {"view": "api-messages", "method": "POST", "status": "201"}
    before = value("chatpot_http_request_duration_seconds_count", **labels)
    send(api_as(player))
    assert value("chatpot_http_request_duration_seconds_count", **labels) - before == 1
    assert value("chatpot_http_request_duration_seconds_count", **labels) > 0


def test_throttled_sends_are_counted(api_as, player, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "send": "1/min",
        },
    }
    before = value("chatpot_throttled_total", scope="send")
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC), tick=False):
        client = api_as(player)
        assert send(client).status_code == 201
        assert send(client).status_code == 429
    assert value("chatpot_throttled_total", scope="send") - before == 1


def test_replies_are_counted_by_outcome_and_timed(api_as, player, replies):
    builtin = value("chatpot_replies_total", outcome="builtin")
    timed = value("chatpot_reply_done_seconds_count")
    send(api_as(player))
    replies()
    assert value("chatpot_replies_total", outcome="builtin") - builtin == 1
    assert value("chatpot_reply_done_seconds_count") - timed == 1


def test_the_state_is_read_when_scraped(client, token, api_as, player):
    send(api_as(player))
    audit_run_due(every=timedelta(0))
    sent_at = Reply.objects.get().message.created_at
    with time_machine.travel(sent_at + timedelta(seconds=90), tick=False):
        figures = scrape(client, token)
    pot = Account.objects.get(kind="pot")
    assert figures[("chatpot_pot_credits", ())] == pot.balance
    assert figures[("chatpot_round", ())] == pot.round.number
    assert figures[("chatpot_replies_waiting", ())] == Reply.objects.count() == 1
    assert figures[("chatpot_reply_oldest_waiting_seconds", ())] == 90
    assert figures[("chatpot_audit_clean", ())] == 1
    assert figures[("chatpot_audit_finished_timestamp_seconds", ())] > 0
    # Counted figures are there too.
    assert figures[("chatpot_messages_sent_total", ())] >= 1
