"""The fairness page checks in the browser, with WebCrypto and no request: one draw, a
whole round's transcript (fetched from the API, or a file the player chose), and every
forgery of a transcript caught (docs/GAME.md, "Checking a round")."""

import json
import re

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from chat.models import Message
from tests.fairness.tampering import forgeries, play_round, transcript_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

RESULT = "#transcript-result"


# What the page asks for whatever is checked: its live stream (opened once the page's
# script has settled, or again after a cut) and the icon the browser fetches when it likes.
BACKGROUND = re.compile(r"/api/v1/events|/live/|/static/favicon\.svg")


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
