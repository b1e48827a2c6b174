"""The chat page as a player meets it, on a desktop (1280x800) and a phone (390x844):
every figure agrees after each action, the conversation keeps most of the screen, long
messages are counted and refused rather than cut, and a refused send keeps its text."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.services import register_player
from chat.models import Message, Reply
from chat.services import send_message
from game.models import GameConfig
from tests.browser.conftest import PASSWORD, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENS = {
    "desktop": ({"width": 1280, "height": 800}, 0.70),
    "phone": ({"width": 390, "height": 844}, 0.60),
}
MAX_CHARS = 500

# The share of the screen left to the conversation: between the sticky header and the
# composer, once scrolled to the newest message.
CONVERSATION_SHARE = """() => {
  window.scrollTo(0, document.body.scrollHeight);
  const header = document.querySelector(".site-header").getBoundingClientRect();
  const composer = document.getElementById("composer").getBoundingClientRect();
  const top = Math.max(header.bottom, 0);
  const bottom = Math.min(composer.top, window.innerHeight);
  return (bottom - top) / window.innerHeight;
}"""


def configure(**values):
    GameConfig.objects.filter(pk=1).update(**values)


def composer(page: Page):
    return page.get_by_label(re.compile("Your message"))


def say(page: Page, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(page.locator(".bubble.player .body").last).to_have_text(text)
    expect(page.locator(".bubble.bot").last).to_have_attribute("data-reply-status", "done")


def assert_figures_agree(page: Page, *, balance: str, price: str, pot: str, round_: str):
    """Every figure on the page, where it shows: the header, the quote line, the button."""
    expect(page.locator("#balance")).to_have_text(balance)
    expect(page.locator("#next-price")).to_have_text(price)
    expect(page.locator("#send-price")).to_have_text(price)
    expect(page.locator("#pot-figure .pot-amount")).to_have_text(pot)
    expect(page.locator("#pot-figure .pot-label")).to_contain_text(f"round {round_}")
    if page.locator("#quote-pot").count():
        expect(page.locator("#quote-pot")).to_have_text(pot)
        expect(page.locator("#quote-round")).to_have_text(round_)


def shoot(page: Page, screenshots, name: str) -> None:
    # caret="initial": Playwright's hiding of the caret injects a style that our CSP
    # (rightly) reports once htmx next settles the page.
    page.screenshot(path=screenshots / f"{name}.png", caret="initial")


def assert_room(page: Page, share: float, screenshots, name: str) -> None:
    page.wait_for_timeout(100)  # the scroll settles
    measured = page.evaluate(CONVERSATION_SHARE)
    shoot(page, screenshots, name)
    assert measured >= share, (name, measured)


@pytest.mark.parametrize("screen", SCREENS)
def test_figures_agree_and_the_conversation_keeps_the_screen(
    new_page, screen, screenshots, browser_errors
):
    viewport, share = SCREENS[screen]
    page = new_page(viewport)
    configure(win_chance=Decimal("0.000001"))
    log_in(page, f"figures-{screen}")
    assert_figures_agree(page, balance="100", price="5", pot="0", round_="1")
    assert_room(page, share, screenshots, f"chat-{screen}-new")

    for text, balance, price, pot in [
        ("hello keeper", "95", "10", "5"),
        ("how much is the pot?", "85", "15", "15"),
        ("what are my odds?", "70", "20", "30"),
    ]:
        say(page, text)
        assert_figures_agree(page, balance=balance, price=price, pot=pot, round_="1")
        if "pot" in text:  # the keeper's answer agrees too
            expect(page.locator(".bubble.bot .body").last).to_contain_text(pot)
    assert_room(page, share, screenshots, f"chat-{screen}-sends")

    # A win: celebrated in the conversation, the composer's figures those of round 2.
    configure(win_chance=Decimal(1))
    say(page, "feeling lucky")
    card = page.locator("#conversation .win-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("+50 credits")
    expect(card).to_contain_text("Round 2 has begun")
    expect(page.locator("#composer .win-card")).to_have_count(0)
    assert_figures_agree(page, balance="100", price="5", pot="0", round_="2")
    expect(page.locator(".bubble.bot").last).to_contain_text("50")
    assert_room(page, share, screenshots, f"chat-{screen}-win")

    # Out of credits, then a claim: the notice shows by the composer, and goes with the
    # next send.
    configure(win_chance=Decimal("0.000001"), price_base=120)
    page.reload()
    expect(page.locator("#composer-status")).to_contain_text("costs 120 credits and you have 100")
    assert_room(page, share, screenshots, f"chat-{screen}-short")
    page.get_by_role("button", name="Claim daily credits").click()
    notice = page.locator("#composer-status .notice")
    expect(notice).to_contain_text("You claimed 50 credits.")
    assert_figures_agree(page, balance="150", price="120", pot="0", round_="2")
    assert_room(page, share, screenshots, f"chat-{screen}-claimed")
    say(page, "back in the game")
    expect(notice).to_have_count(0)
    assert_figures_agree(page, balance="30", price="125", pot="120", round_="2")
    assert browser_errors == [], browser_errors


@pytest.mark.parametrize("screen", SCREENS)
def test_long_messages_are_counted_and_refused_never_cut(
    new_page, screen, screenshots, browser_errors
):
    page = new_page(SCREENS[screen][0])
    configure(win_chance=Decimal("0.000001"))
    log_in(page, f"counter-{screen}")
    counter = page.locator("#char-count")
    composer(page).fill("short")
    expect(counter).to_be_hidden()
    composer(page).fill("a" * 420)
    expect(counter).to_have_text(f"420 / {MAX_CHARS}")
    too_long = "word " * 101 + "end"  # 508 characters
    composer(page).fill(too_long)
    expect(counter).to_contain_text("8 over the limit")
    shoot(page, screenshots, f"chat-{screen}-too-long")
    composer(page).press("Enter")
    page.wait_for_timeout(300)
    expect(page.locator(".bubble.player")).to_have_count(0)
    expect(composer(page)).to_have_value(too_long)  # all of it, not cut at 500
    assert not Message.objects.exists()
    assert browser_errors == [], browser_errors


@pytest.mark.parametrize("screen", SCREENS)
def test_a_refused_send_keeps_the_text_and_says_why_once(
    new_page, screen, screenshots, browser_errors
):
    page = new_page(SCREENS[screen][0])
    configure(win_chance=Decimal("0.000001"))
    log_in(page, f"refused-{screen}")
    configure(price_base=500)  # the page still quotes 5
    composer(page).fill("a message I took a while to write")
    composer(page).press("Enter")
    status = page.locator("#composer-status")
    expect(status).to_contain_text("costs 500 credits and you have 100")
    expect(status.locator("[role=alert]")).to_have_count(1)  # one reason, not two
    expect(composer(page)).to_have_value("a message I took a while to write")
    assert_figures_agree(page, balance="100", price="500", pot="0", round_="1")
    shoot(page, screenshots, f"chat-{screen}-refused")
    assert User.objects.get(username=f"refused-{screen}").messages.count() == 0
    assert browser_errors == [], browser_errors


def test_the_page_follows_new_messages_only_from_the_bottom(
    page: Page, openai_backend, browser_errors
):
    configure(price_base=1, price_step=0)
    log_in(page, "scroller")
    player = User.objects.get(username="scroller")
    for n in range(12):
        send_message(player=player, body=f"earlier message {n}")
    Reply.objects.update(text="An earlier reply.", status="done", lease_until=None)
    page.reload()
    openai_backend.behaviour, openai_backend.first_wait = "slow-start", 0.8
    composer(page).fill("one more")
    composer(page).press("Enter")
    expect(page.locator(".bubble.player .body").last).to_have_text("one more")
    page.wait_for_timeout(300)  # the page has followed the player's own message down
    page.evaluate("window.scrollTo(0, 0)")  # and the player reads back as the reply comes
    jump = page.get_by_role("button", name=re.compile("New messages"))
    expect(jump).to_be_visible()
    assert page.evaluate("window.scrollY") == 0  # not pulled down
    jump.click()
    expect(jump).to_be_hidden()
    # At the bottom, and kept there while the reply goes on growing (a swap settles a
    # moment after it lands: waited for, not timed).
    page.wait_for_function("window.innerHeight + window.scrollY >= document.body.scrollHeight - 2")
    expect(page.locator(".bubble.bot").last).to_have_attribute("data-reply-status", "done")
    page.wait_for_function("window.innerHeight + window.scrollY >= document.body.scrollHeight - 2")
    assert browser_errors == [], browser_errors


def test_model_replies_render_markdown_safely_and_can_be_copied(
    new_page, openai_backend, browser_errors
):
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    openai_backend.text = (
        "**Bold** and *quiet* words, [a link](https://example.com) and "
        "[a trap](javascript:alert(1)) <img src=x onerror=alert(2)>"
    )
    log_in(page, "reader")
    composer(page).fill("<b>my own</b> *text*")
    composer(page).press("Enter")
    reply = page.locator(".bubble.bot").last
    expect(reply).to_have_attribute("data-reply-status", "done")
    expect(reply.locator(".body strong")).to_have_text("Bold")
    expect(reply.locator(".body em")).to_have_text("quiet")
    expect(reply.locator(".body a")).to_have_count(0)  # a model's link is its words only
    expect(reply.locator(".body")).to_contain_text("a link")
    expect(reply.locator(".body img")).to_have_count(0)
    # The player's own words stay as written.
    mine = page.locator(".bubble.player .body").last
    expect(mine).to_have_text("<b>my own</b> *text*")
    expect(mine.locator("b, em")).to_have_count(0)

    reply.get_by_role("button", name="Copy").click()
    expect(reply.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Bold and quiet words, a link and a trap")
    assert browser_errors == [], browser_errors


def test_the_composer_reads_right_on_a_phone(new_page):
    page = new_page(SCREENS["phone"][0])
    log_in(page, "thumbs")
    box = composer(page)
    expect(box).to_have_attribute("enterkeyhint", "send")
    assert "Shift" not in (box.get_attribute("placeholder") or "")
    expect(page.locator(".keys-hint")).to_be_hidden()
    # The header is two short rows, not three.
    assert page.evaluate("document.querySelector('.site-header').offsetHeight") <= 90


def test_tables_fit_a_phone_and_a_win_keeps_still_for_reduced_motion(
    chromium, site, screenshots, browser_errors
):
    configure(win_chance=Decimal(1))
    for name in ["a-rather-long-winner-name", "second"]:
        send_message(player=register_player(username=name, password=PASSWORD), body="win")
    context = chromium.new_context(
        base_url=site.url, viewport=SCREENS["phone"][0], reduced_motion="reduce"
    )
    page = context.new_page()
    page.on("pageerror", lambda error: browser_errors.append(str(error)))
    for path, name in [("/winners/", "winners"), ("/fairness/", "fairness")]:
        page.goto(path)
        expect(page.locator("table.data tbody tr").first).to_be_visible()
        # Nothing wider than the screen: every column readable without scrolling sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        assert page.evaluate(
            "[...document.querySelectorAll('.table-wrap')]"
            ".every(wrap => wrap.scrollWidth <= wrap.clientWidth)"
        ), name
        shoot(page, screenshots, f"{name}-phone")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("second")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    composer(page).fill("once more")
    composer(page).press("Enter")
    card = page.locator(".win-card.fresh")
    expect(card).to_be_visible()
    assert card.evaluate("card => getComputedStyle(card).animationName") == "none"
    context.close()
    assert browser_errors == [], browser_errors
