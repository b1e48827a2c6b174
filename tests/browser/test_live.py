"""The live chat in a real browser: the keeper's reply grows in place, Stop keeps what
was written, and a win anywhere is announced on every open page."""

import itertools
import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from chat.models import Reply
from game.models import GameConfig
from tests.browser.conftest import PHONE, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def site(production_site):
    """These pages' streams through production's engine."""
    return production_site


def say(page: Page, text: str) -> None:
    box = page.get_by_label(re.compile("Your message"))
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".bubble.player .body").last).to_have_text(text)


def reply_texts(page: Page, seconds: float) -> list[str]:
    """What the last reply's bubble showed, sampled every 50 ms until it was done."""
    seen = []
    reply = page.locator(".bubble.bot").last
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # The status first: once it says done, the text read after it is the whole reply.
        status = reply.get_attribute("data-reply-status")
        text = reply.locator(".body").inner_text().strip()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if status in ("done", "stopped"):
            break
        page.wait_for_timeout(50)
    return seen


def test_the_reply_grows_in_place_as_the_keeper_writes_it(
    page: Page, openai_backend, screenshots, browser_errors
):
    openai_backend.behaviour, openai_backend.first_wait, openai_backend.seconds = (
        "slow-start",
        0.6,
        1.5,
    )
    log_in(page, "reader")
    say(page, "tell me about the pot")
    reply = page.locator(".bubble.bot").last
    expect(reply.locator(".typing")).to_be_visible()  # until the first piece
    expect(reply.get_by_role("button", name=re.compile("Stop"))).to_be_visible()
    page.screenshot(path=screenshots / "chat-reply-typing.png")
    grown = reply_texts(page, seconds=8)
    assert len(grown) >= 3, grown  # seen growing, not appearing whole
    for shorter, longer in itertools.pairwise(grown):
        assert longer.startswith(shorter)
    expect(reply).to_have_attribute("data-reply-status", "done")
    stored = Reply.objects.get()
    assert grown[-1] == stored.text
    expect(reply.get_by_role("button", name=re.compile("Stop"))).to_have_count(0)
    expect(page.locator("#announcer")).to_have_text(f"Keeper: {stored.text}")
    expect(page.get_by_label(re.compile("Your message"))).to_be_focused()
    assert browser_errors == []


def test_stop_keeps_the_reply_written_so_far(page: Page, openai_backend, browser_errors):
    openai_backend.behaviour, openai_backend.seconds = "endless", 1.2
    log_in(page, "stopper")
    say(page, "talk forever")
    reply = page.locator(".bubble.bot").last
    expect(reply.locator(".body")).to_have_text(re.compile(r"\w+ \w+ \w+"))  # three words
    page.keyboard.press("Escape")
    expect(reply).to_have_attribute("data-reply-status", "stopped")
    expect(reply.locator(".who")).to_contain_text("stopped")
    kept = reply.locator(".body").inner_text()
    page.wait_for_timeout(800)
    expect(reply.locator(".body")).to_have_text(kept)  # and no more words came
    stored = Reply.objects.get()
    assert (stored.status, stored.text) == ("stopped", kept)
    expect(page.locator("#balance")).to_have_text("95")  # the charge stands
    assert browser_errors == []


def test_a_win_is_announced_on_every_open_page_without_a_reload(
    new_page, screenshots, browser_errors
):
    GameConfig.objects.filter(pk=1).update(win_chance=Decimal("0.000001"))
    winner, watcher = new_page(), new_page(PHONE)
    log_in(winner, "lucky")
    log_in(watcher, "watcher")
    say(watcher, "hello")
    expect(watcher.locator("#quote-round")).to_have_text("1")
    watcher.evaluate("window.chatpotSamePage = true")  # gone if the page ever reloads
    say(winner, "small talk")
    GameConfig.objects.filter(pk=1).update(win_chance=Decimal(1))
    say(winner, "feeling lucky")
    # Told on the watcher's page by the stream, without a reload (how soon: bin/bench's
    # audience scenario measures it).
    announcement = watcher.locator(".toast-win")
    expect(announcement).to_contain_text("lucky won the pot: 20 credits in round 1")
    expect(watcher.locator("#quote-round")).to_have_text("2")
    expect(watcher.locator("#pot-figure .pot-label")).to_have_text("Pot · round 2")
    expect(watcher.locator("#next-price")).to_have_text("5")  # a new round, a new price
    expect(watcher.locator("#send-price")).to_have_text("5")
    assert watcher.evaluate("window.chatpotSamePage") is True
    # It covers no message: the newest stays whole above it.
    toast_box = announcement.bounding_box()
    newest = watcher.locator("#conversation > li").last.bounding_box()
    assert newest["y"] + newest["height"] <= toast_box["y"], (newest, toast_box)
    assert newest["y"] >= 0
    watcher.screenshot(path=screenshots / "win-announced-phone.png")
    expect(winner.locator(".win-card.fresh")).to_be_visible()
    expect(winner.locator(".toast-win")).to_have_count(0)  # the card says it already
    assert browser_errors == []
