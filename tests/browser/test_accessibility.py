"""Every page passes axe-core (vendored from npm: tests/browser/vendor) with no violation at
all, on a phone (390x844) and a desktop (1280x800); the phone's header keeps its figures on
one line each at 360 px, six digits included; the skip link lands in the composer; an
exchange costs a keyboard user one Tab stop, not three."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.services import register_player
from chat.services import send_message
from game.models import GameConfig
from tests.browser.conftest import PASSWORD, sign_in
from wallet.models import Account
from wallet.services import claim_daily

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
SCREENS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
SIGNED_IN = ["/", "/chat/", "/wallet/", "/fairness/", "/winners/"]
SIGNED_OUT = ["/", "/accounts/login/", "/accounts/register/", "/winners/", "/fairness/"]


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"
    )
    return found


@pytest.fixture
def history(db):
    """A winner, and a player with a few exchanges of their own."""
    GameConfig.objects.filter(pk=1).update(win_chance=Decimal(1))
    send_message(player=register_player(username="winner", password=PASSWORD), body="win")
    GameConfig.objects.filter(pk=1).update(win_chance=Decimal("0.000001"))
    player = register_player(username="ada", password=PASSWORD)
    for text in ["hello", "what are my odds?", "how big is the pot?"]:
        send_message(player=player, body=text)
    return player


@pytest.mark.parametrize("screen", SCREENS)
def test_every_page_has_no_accessibility_violation(chromium, site, history, screen):
    # The tests inject axe as a script of their own: the site's policy rightly refuses it.
    context = chromium.new_context(base_url=site.url, viewport=SCREENS[screen], bypass_csp=True)
    page = context.new_page()
    found = {}
    for path in SIGNED_OUT:
        page.goto(path)
        found[f"signed out {path}"] = violations(page)
    sign_in(page, "ada")
    expect(page.locator(".bubble.bot").last).to_have_attribute("data-reply-status", "done")
    for path in SIGNED_IN:
        page.goto(path)
        found[f"signed in {path}"] = violations(page)
    context.close()
    assert {where: said for where, said in found.items() if said} == {}


ONE_LINE = """e => {
  const rects = [];
  const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim() || node.parentElement.closest(".visually-hidden")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    rects.push(...range.getClientRects());
  }
  const top = Math.min(...rects.map(r => r.top)), bottom = Math.max(...rects.map(r => r.bottom));
  return bottom - top < 1.8 * Math.max(...rects.map(r => r.height));
}"""


def test_the_phone_header_keeps_six_digit_figures_on_one_line(
    chromium, site, history, screenshots
):
    before = dict(Account.objects.values_list("pk", "balance"))
    Account.objects.filter(owner=history).update(balance=987_654)
    Account.objects.filter(kind=Account.Kind.POT).update(balance=123_456)
    context = chromium.new_context(base_url=site.url, viewport={"width": 360, "height": 740})
    page = context.new_page()
    sign_in(page, "ada")
    expect(page.locator("#balance")).to_have_text("987654")
    expect(page.locator("#pot-figure .pot-amount")).to_have_text("123456")
    for figure in ["#pot-figure", ".balance-chip", ".header-status .link-button"]:
        element = page.locator(figure)
        assert element.evaluate(ONE_LINE), (figure, element.inner_text())
    page.screenshot(path=str(screenshots / "header-360-six-digits.png"))
    assert page.locator(".site-header nav ul").evaluate("u => u.scrollWidth <= u.clientWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > 360.5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide
    context.close()
    # The figures were set outside the ledger for the width alone: put them back.
    for pk, balance in before.items():
        Account.objects.filter(pk=pk).update(balance=balance)


def tab_to_composer(page) -> list[str]:
    """The Tab stops from the skip link to the message box, each as the start of its tag.
    Counted once the page's script has made the conversation one stop (its newest message
    in the Tab order, the others out)."""
    expect(page.locator("#conversation > li.bubble").last).to_have_attribute("tabindex", "0")
    page.locator(".skip-link").focus()
    stops = []
    while len(stops) < 60:
        page.keyboard.press("Tab")
        stops.append(page.evaluate("document.activeElement.outerHTML.split('>')[0]"))
        if page.evaluate("document.activeElement.id") == "composer-body":
            return stops
    raise AssertionError(f"the message box was never reached: {stops}")


def test_the_skip_link_lands_in_the_composer_and_a_conversation_is_one_tab_stop(
    chromium, site, history
):
    context = chromium.new_context(base_url=site.url, viewport=SCREENS["desktop"])
    page = context.new_page()
    sign_in(page, "ada")
    page.goto("/wallet/")  # no field takes the focus first here: the skip link is first
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.goto("/chat/")
    expect(page.locator(".bubble.bot").last).to_have_attribute("data-reply-status", "done")
    page.locator(".skip-link").focus()
    expect(page.locator(".skip-link")).to_have_text("Skip to the message box")
    page.keyboard.press("Enter")
    expect(page.get_by_label(re.compile("Your message"))).to_be_focused()
    with_three = tab_to_composer(page)
    claim_daily(player=history)
    for text in ["one", "two", "three"]:
        send_message(player=history, body=text)
    page.reload()
    expect(page.locator(".bubble.bot")).to_have_count(6)
    # Every reply finished, not only the newest: one still being written when the page
    # loaded shows its Stop button, a stop of its own, until it ends.
    expect(page.locator('.bubble.bot[data-reply-status="done"]')).to_have_count(6)
    # More exchanges cost no more stops: the conversation is one, its newest message's
    # controls two more.
    with_six = tab_to_composer(page)
    assert len(with_six) == len(with_three), (with_three, with_six)
    assert len(with_three) <= 12, with_three
    # The arrow keys reach an older message, and Tab its receipt.
    page.locator("#conversation > li.bubble").last.focus()
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    focused = page.locator("#conversation > li.bubble:focus")
    expect(focused).to_have_class(re.compile("player"))
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text(re.compile("Draw receipt"))
    context.close()
