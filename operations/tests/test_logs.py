"""Log lines as production writes them: JSON, each saying the request it belongs to and,
on the game's lines, the player, the message and the round."""

import io
import json
import logging
import re

import pytest

from chat.models import Reply
from operations.logs import ContextFilter, JsonFormatter, SuspiciousIsAWarning

pytestmark = pytest.mark.django_db

PROXY_ID = "0123456789abcdef0123456789abcdef"  # as nginx's $request_id


@pytest.fixture
def lines():
    """What the app logs meanwhile, as production's handler writes it: a JSON object a
    line (LOGGING's console handler: the context filter, the JSON formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.addFilter(SuspiciousIsAWarning())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.level = level


def test_a_line_is_one_json_object_with_what_it_is_about():
    record = logging.LogRecord("chat", logging.INFO, __file__, 1, "sent %s", ("x",), None)
    record.player_id, record.message_id, record.round = 7, 42, 3
    ContextFilter().filter(record)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "sent x"
    assert (line["level"], line["logger"]) == ("INFO", "chat")
    assert (line["player_id"], line["message_id"], line["round"]) == (7, 42, 3)
    assert "request_id" not in line  # none is known outside a request
    assert "ValueError: boom" in line["exception"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_the_proxys_request_id_is_answered_and_a_made_up_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID=PROXY_ID)["X-Request-ID"] == PROXY_ID
    for given in ["", "short", "x" * 200, 'a"b\nc{"level": "ERROR"}']:
        answered = client.get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", answered), given
        assert answered != given


def test_the_request_id_goes_from_the_send_into_the_reply_and_the_workers_line(
    api_as, player, replies, lines
):
    response = api_as(player).post(
        "/api/v1/messages", {"body": "hello"}, format="json", HTTP_X_REQUEST_ID=PROXY_ID
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == PROXY_ID
    message = response.json()["message"]
    assert Reply.objects.get(pk=message["id"]).request_id == PROXY_ID
    replies()

    about = {"request_id": PROXY_ID, "player_id": player.pk, "message_id": message["id"]}
    sent = [line for line in lines() if line["message"].startswith("Message sent")]
    written = [line for line in lines() if line["message"].startswith("Reply builtin")]
    assert [{key: line[key] for key in about} for line in sent] == [about]
    assert [{key: line[key] for key in about} for line in written] == [about]
    assert sent[0]["round"] == written[0]["round"] == message["draw"]["round"]


def test_a_refused_send_is_a_game_line_of_its_request(api_as, player, lines):
    api_as(player).post(
        "/api/v1/messages", {"body": " "}, format="json", HTTP_X_REQUEST_ID=PROXY_ID
    )
    refused = [line for line in lines() if line["message"].startswith("Send refused")]
    assert [(r["request_id"], r["player_id"], r["message"]) for r in refused] == [
        (PROXY_ID, player.pk, "Send refused: invalid")
    ]
    # Django's own line of the 400 says the request too, though it comes after it.
    answered = [line for line in lines() if line["logger"] == "django.request"]
    assert [line["request_id"] for line in answered] == [PROXY_ID]


def test_a_host_nobody_allowed_is_a_warning_without_a_traceback(client, lines):
    """Anybody can send a Host the site does not serve: a line that says so, no error."""
    answer = client.get("/", HTTP_HOST="evil.example")
    assert answer.status_code == 400
    said = [line for line in lines() if line["logger"].startswith("django.security")]
    assert [(line["level"], "exception" in line) for line in said] == [("WARNING", False)]


def test_a_page_not_found_is_one_line(client, lines):
    """Django's lines reach the console once: through the root's handler, not also through
    the handler Django keeps for DEBUG (which printed each of them a second time)."""
    assert client.get("/no-such-page/").status_code == 404
    said = [line["message"] for line in lines() if line["logger"] == "django.request"]
    assert said == ["Not Found: /no-such-page/"]
    assert logging.getLogger("django").handlers == []
