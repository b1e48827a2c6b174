"""One player, many tabs of the chat in one browser, over plain HTTP/1.1 (a browser allows
six connections per site): the tabs share one stream, so every tab loads, every send
goes through, and every tab hears what happens."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from game.models import GameConfig
from tests.browser.conftest import DESKTOP, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def site(production_site):
    """These pages' streams through production's engine."""
    return production_site


TABS = 12


def composer(page: Page):
    return page.get_by_label(re.compile("Your message"))


def test_twelve_tabs_of_one_player_share_one_stream(
    chromium, site, openai_backend, browser_errors, new_page
):
    openai_backend.seconds = 1.0
    GameConfig.objects.filter(pk=1).update(win_chance=Decimal("0.000001"))
    context = chromium.new_context(base_url=site.url, viewport=DESKTOP)
    try:
        first = context.new_page()
        first.signs_up = getattr(site, "production", False)
        first.on("pageerror", lambda error: browser_errors.append(str(error)))
        log_in(first, "many-tabs")
        tabs = [first]
        for _ in range(TABS - 1):
            tab = context.new_page()
            tab.on("pageerror", lambda error: browser_errors.append(str(error)))
            tab.goto("/chat/")
            tabs.append(tab)
        for tab in tabs:  # every tab loaded, and is ready to send
            expect(tab.locator("#send-button")).to_be_enabled()

        # A send from a tab in the middle goes through; its reply streams in that tab.
        sender = tabs[6]
        sender.bring_to_front()
        composer(sender).fill("hello from tab seven")
        composer(sender).press("Enter")
        expect(sender.locator(".bubble.player .body").last).to_have_text(
            "hello from tab seven", timeout=5_000
        )
        reply = sender.locator(".bubble.bot").last
        expect(reply).to_have_attribute("data-reply-status", "streaming")
        expect(reply).to_have_attribute("data-reply-status", "done")
        written = reply.locator(".body").inner_text().strip()
        assert written.startswith("The pot glimmers")
        expect(sender.locator(".composer-error")).to_have_count(0)
        expect(sender.locator(".bubble.player")).to_have_count(1)  # its own send, once

        # One player, one conversation: the message and its reply appear in every tab.
        for tab in tabs:
            expect(tab.locator(".bubble.player")).to_have_count(1)
            expect(tab.locator(".bubble.player .body")).to_have_text("hello from tab seven")
            shown = tab.locator(".bubble.bot").last
            expect(shown).to_have_attribute("data-reply-status", "done")
            expect(shown.locator(".body")).to_have_text(written)
            expect(tab.locator("#send-price")).to_have_text("10")  # the price has risen

        # Another player wins: every one of the twelve tabs is told.
        GameConfig.objects.filter(pk=1).update(win_chance=Decimal(1))
        rival = new_page()
        log_in(rival, "rival")
        composer(rival).fill("feeling lucky")
        composer(rival).press("Enter")
        for tab in tabs:
            expect(tab.locator(".toast-win")).to_contain_text("rival won the pot")
    finally:
        context.close()
    assert browser_errors == []


def test_a_send_that_gets_no_answer_ends_with_a_message(page: Page, site, browser_errors):
    log_in(page, "unlucky-network")
    # The send never gets out of the browser: it is held, unanswered.
    page.route("**/chat/send/", lambda route: None)
    key = page.locator("#idempotency-key").input_value()
    composer(page).fill("are you there?")
    composer(page).press("Enter")
    error = page.locator(".composer-error")
    expect(error).to_contain_text("No answer came in time", timeout=10_000)
    expect(composer(page)).to_have_value("are you there?")  # kept, to send again
    assert page.locator("#idempotency-key").input_value() == key  # charged once at most
    expect(page.locator("#send-button")).to_be_enabled()
    assert page.locator(".bubble.player").count() == 0
    # htmx reports the request it gave up on; nothing else went wrong.
    assert [
        e for e in browser_errors if not e.startswith(("htmx:afterRequest", "htmx:timeout"))
    ] == []
