"""A player's whole evening, in a real browser: sign up, chat, win, claim, leave."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.services import register_player
from chat.services import send_message
from game.models import GameConfig
from pot.models import Round
from tests.browser.conftest import PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "a-long-enough-passphrase"


def configure(**values):
    GameConfig.objects.filter(pk=1).update(**values)


def register(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_role("link", name=re.compile("Sign up")).click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(re.compile(r"/chat/$"))


def say(page: Page, text: str) -> None:
    box = page.get_by_label(re.compile("Your message"))
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".bubble.player .body").last).to_have_text(text)


def test_register_chat_win_claim_and_log_out(page: Page, screenshots, browser_errors):
    configure(win_chance=Decimal("0.000001"))
    register(page, "evening")
    expect(page.locator("#balance")).to_have_text("100")
    expect(page.locator("#next-price")).to_have_text("5")
    page.evaluate("window.chatpotSamePage = true")  # gone if the page ever reloads

    for text, balance, next_price, pot in [
        ("hello keeper", "95", "10", "5"),
        ("what are the odds?", "85", "15", "15"),
        ("<b>bold</b> & <script>x</script>", "70", "20", "30"),
    ]:
        say(page, text)
        expect(page.locator("#balance")).to_have_text(balance)
        expect(page.locator("#next-price")).to_have_text(next_price)
        expect(page.locator("#pot-figure .pot-amount")).to_have_text(pot)
        expect(page.locator(".bubble.bot").last).not_to_be_empty()
        # Focus stays in the composer, which is empty again.
        expect(page.get_by_label(re.compile("Your message"))).to_be_focused()
        expect(page.get_by_label(re.compile("Your message"))).to_have_value("")
    assert page.evaluate("window.chatpotSamePage") is True
    expect(page.locator(".bubble.player b")).to_have_count(0)  # shown as text, not markup

    # The receipt opens on demand.
    receipt = page.locator(".bubble.player .receipt").first
    receipt.locator("summary").click()
    expect(receipt).to_contain_text("Nonce")
    expect(receipt).to_contain_text("secret until round 1 closes")

    configure(win_chance=Decimal(1))
    say(page, "feeling lucky")
    card = page.locator("#conversation .win-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("You won the pot!")
    expect(card).to_contain_text("+50 credits")
    closed = Round.objects.get(number=1)
    check = card.get_by_role("link", name="check the winning draw")
    expect(check).to_have_attribute("href", re.compile(closed.server_seed))
    expect(card).to_contain_text("Round 2 has begun")
    expect(page.locator("#balance")).to_have_text("100")  # 70 - 20 + 50
    expect(page.locator("#pot-figure .pot-amount")).to_have_text("0")
    expect(page.locator("#next-price")).to_have_text("5")
    assert page.evaluate("window.chatpotSamePage") is True

    page.screenshot(path=screenshots / "chat-win-desktop.png")
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot(path=screenshots / "chat-win-phone.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Funds run short: the composer says why and offers the claim.
    configure(win_chance=Decimal("0.000001"), price_base=120)
    page.reload()
    expect(page.locator("#composer-status")).to_contain_text("costs 120 credits and you have 100")
    expect(page.get_by_label(re.compile("Your message"))).to_be_disabled()
    page.get_by_role("button", name="Claim daily credits").click()
    expect(page.locator("#composer-status")).to_contain_text("You claimed 50 credits.")
    expect(page.locator("#balance")).to_have_text("150")
    expect(page.get_by_label(re.compile("Your message"))).to_be_enabled()
    say(page, "back in the game")
    expect(page.locator("#balance")).to_have_text("30")

    # The rest of a first visit: every page once, the won round's draw checked (a CSP
    # violation or a script error on any of them is a console error, counted below).
    page.get_by_role("link", name="check the winning draw").click()
    expect(page.locator("#verifier-result")).to_contain_text("a win")
    for link in ("Wallet", "Winners", "Fairness", "Chat"):
        page.get_by_role("navigation").get_by_role("link", name=link, exact=True).click()
        expect(
            page.get_by_role("navigation").get_by_role("link", name=link, exact=True)
        ).to_have_attribute("aria-current", "page")

    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#flash")).to_contain_text("You're logged out")
    page.goto("/chat/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    assert browser_errors == []


def test_double_click_on_send_charges_once(page: Page, browser_errors):
    configure(win_chance=Decimal("0.000001"))
    register(page, "clicker")
    page.get_by_label(re.compile("Your message")).fill("only once")
    page.get_by_role("button", name=re.compile("Send")).dblclick()
    expect(page.locator(".bubble.player")).to_have_count(1)
    page.wait_for_timeout(500)
    expect(page.locator(".bubble.player")).to_have_count(1)
    expect(page.locator("#balance")).to_have_text("95")
    assert User.objects.get(username="clicker").messages.count() == 1
    assert browser_errors == []


def test_the_pot_follows_the_events_stream(page: Page, browser_errors):
    configure(win_chance=Decimal("0.000001"))
    polled = []
    page.on("request", lambda r: polled.append(r.url) if r.url.endswith("/pot/") else None)
    page.goto("/")
    expect(page.locator("#pot-figure .pot-amount")).to_have_text("0")
    page.wait_for_timeout(500)
    other = register_player(username="someone", password=PASSWORD)
    send_message(player=other, body="feeding the pot")
    expect(page.locator("#pot-figure .pot-amount")).to_have_text("5", timeout=1_500)
    assert polled == []  # pushed, not polled
    assert browser_errors == []


def test_without_the_events_stream_the_pot_is_polled_conditionally(page: Page):
    configure(win_chance=Decimal("0.000001"))
    # A proxy that cuts streams (the page's asks from where it was made: ?last_event_id=).
    page.route(re.compile(r".*/api/v1/events(\?.*)?$"), lambda route: route.abort())
    statuses = []
    page.on("response", lambda r: statuses.append(r.status) if "/pot/" in r.url else None)
    page.goto("/")
    expect(page.locator("#pot-figure .pot-amount")).to_have_text("0")
    page.wait_for_timeout(6_000)  # one quiet refresh: the pot has not changed
    other = register_player(username="someone", password=PASSWORD)
    send_message(player=other, body="feeding the pot")
    expect(page.locator("#pot-figure .pot-amount")).to_have_text("5", timeout=12_000)
    assert statuses, "the pot figure never refreshed"
    assert 304 in statuses, f"an unchanged pot should cost a 304, saw {statuses}"


def test_basic_flow_works_without_javascript(chromium, site):
    configure(win_chance=Decimal("0.000001"))
    context = chromium.new_context(base_url=site.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/accounts/register/")
    page.get_by_label("Username").fill("nojs")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page).to_have_url(re.compile(r"/chat/$"))
    page.get_by_label(re.compile("Your message")).fill("plain old form")
    page.get_by_role("button", name=re.compile("Send")).click()
    expect(page).to_have_url(re.compile(r"/chat/$"))
    expect(page.locator(".bubble.player .body").last).to_have_text("plain old form")
    expect(page.locator("#balance")).to_have_text("95")
    context.close()
