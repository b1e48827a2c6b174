"""The fairness page checks in the browser, with WebCrypto and no request: one draw, a
whole round's transcript (fetched from the API, or a file the player chose), and every
forgery of a transcript caught (docs/GAME.md, "Checking a round")."""

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts.models import User
from chat.models import Message
from chat.services import send_message
from tests.browser.conftest import log_in
from tests.fairness.tampering import forgeries, play_round, transcript_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

RESULT = "#transcript-result"


# What a page asks for whatever is checked: its live stream (opened once the page's script
# has settled, or again after a cut), the icon the browser fetches when it likes, and on
# the chat page a reply the worker finished meanwhile.
BACKGROUND = re.compile(r"/api/v1/events|/live/|/static/favicon\.svg|/chat/messages/\d+/reply/")


def watch_requests(page) -> list[str]:
    """The requests the page makes from now on, but for its background ones."""
    made = []
    page.on(
        "request",
        lambda request: None if BACKGROUND.search(request.url) else made.append(request.url),
    )
    return made


def test_a_round_is_checked_in_the_browser_and_every_forgery_caught_with_no_request(
    page, site, make_player, configure, browser_errors
):
    number = play_round(make_player, configure)
    transcript = transcript_of(APIClient(), number)
    page.goto("/fairness/")
    expect(page.locator("#chain")).to_contain_text(transcript["round"]["chain"]["terminal_hash"])

    # A closed round of the table: its transcript fetched, then checked here.
    page.locator(f'button[data-check-round][data-round="{number}"]').click()
    expect(page.locator(RESULT)).to_contain_text(
        f"Round {number}: every check holds (5 draws recomputed in your browser)."
    )

    made = watch_requests(page)
    chooser = page.get_by_label("Transcript (JSON)")
    check = page.get_by_role("button", name="Check the transcript")
    chooser.set_input_files(
        files=[
            {
                "name": "true.json",
                "mimeType": "application/json",
                "buffer": json.dumps(transcript).encode(),
            }
        ]
    )
    check.click()
    expect(page.locator(RESULT)).to_contain_text("every check holds")
    expect(page.locator(RESULT)).to_contain_text("reaches the chain's terminal hash")
    for name, (forged, problem) in forgeries(transcript).items():
        chooser.set_input_files(
            files=[
                {
                    "name": "forged.json",
                    "mimeType": "application/json",
                    "buffer": json.dumps(forged).encode(),
                }
            ]
        )
        page.locator(RESULT).evaluate("element => element.replaceChildren()")
        check.click()
        expect(page.locator(RESULT), name).to_contain_text(re.compile(r"\d+ problems? found"))
        expect(page.locator(RESULT), name).to_contain_text(problem)
    assert made == []
    assert browser_errors == []


def test_a_draw_is_recomputed_in_the_browser_with_no_request(
    page, site, make_player, configure, browser_errors
):
    number = play_round(make_player, configure)
    message = Message.objects.filter(round__number=number).order_by("pk").first()
    page.goto("/fairness/")
    made = watch_requests(page)
    page.locator("#verify_server_seed").fill(message.round.server_seed)
    page.locator("#verify_client_seed").fill(message.client_seed)
    page.locator("#verify_nonce").fill(str(message.nonce))
    page.locator("#verify_win_chance").fill(str(message.win_chance))
    page.get_by_role("button", name="Recompute").click()
    result = page.locator("#verifier-result")
    expect(result).to_contain_text("Computed in your browser.")
    expect(result).to_contain_text(f"{message.roll:.8f}")
    expect(result).to_contain_text(message.round.server_seed_hash)
    expect(result).to_contain_text("no win")
    assert made == []
    assert browser_errors == []


def test_a_receipt_is_checked_in_the_browser_once_its_round_is_closed(
    page, site, configure, browser_errors
):
    log_in(page, "carol")
    carol = User.objects.get(username="carol")
    configure(win_chance=Decimal(1))
    won = send_message(player=carol, body="a win, to reveal the round's seed")
    configure(win_chance=Decimal("0.000001"))
    send_message(player=carol, body="a draw in the open round")
    page.goto("/chat/")
    made = watch_requests(page)
    closed = page.locator(f"#message-{won.message.pk} details.receipt")
    closed.locator("summary").click()
    closed.get_by_role("button", name="Check here").click()
    expect(closed.locator("output")).to_have_text(
        f"Checked in your browser: the seed matches its commitment, the roll is "
        f"{won.message.roll:.8f}, a win."
    )
    # A receipt of the open round has no seed to check yet.
    still_open = page.locator("details.receipt").filter(has_text="secret until round")
    expect(still_open.get_by_role("button", name="Check here")).to_have_count(0)
    assert made == []
    assert browser_errors == []
