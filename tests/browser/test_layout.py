"""How the pages lay out where players read them, at 1280x800 and 390x844: a sentence
reads as one, a long list stays compact on a phone, a heading and its field do not say
the same, and a win's confetti never covers its words."""

import itertools
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.services import register_player
from chat.services import send_message
from game.models import GameConfig
from tests.browser.conftest import DESKTOP, PHONE, sign_in
from wallet.services import claim_daily

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def configure(**values):
    GameConfig.objects.filter(pk=1).update(**values)


@pytest.fixture
def history():
    """'ada' has claimed and sent eight messages; three rounds were won."""
    configure(win_chance=Decimal("0.000001"), price_step=0)
    ada = register_player(username="ada", password="a-long-enough-passphrase")
    claim_daily(player=ada)
    for n in range(8):
        send_message(player=ada, body=f"message {n}")
    for winner in ("bob", "carol", "dave"):
        configure(win_chance=Decimal(1))
        send_message(player=register_player(username=winner, password="x" * 20), body="luck")
        configure(win_chance=Decimal("0.000001"))
    return ada


# Where each piece of text lies on the page: the box of a text node's words, as a Range
# reads them.
TEXT_BOXES = """(root) => {
  const boxes = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      boxes.push({text: node.textContent.trim(), left: r.left, right: r.right,
                  top: r.top, bottom: r.bottom});
    }
  }
  return boxes;
}"""


def test_the_winners_strip_reads_as_one_sentence_at_1280(new_page, history, browser_errors):
    page = new_page(DESKTOP)
    sign_in(page, "ada")
    page.goto("/winners/")
    strip = page.locator(".open-round")
    expect(strip).to_contain_text("Round 4 is open with")
    boxes = strip.evaluate(TEXT_BOXES)
    words = [box for box in boxes if box["text"] != "Chat for it"]
    assert [box["text"] for box in words] == [
        "Round 4 is open with",
        "0",
        "credits in the pot.",
    ]
    # One line, each part right after the one before (a space apart, not a panel apart).
    assert len({round(box["top"]) for box in words}) == 1, words
    for before, after in itertools.pairwise(words):
        assert 0 <= after["left"] - before["right"] < 12, (before, after)
    assert browser_errors == []


def test_long_lists_stay_compact_on_a_phone(new_page, history, browser_errors):
    page = new_page(PHONE)
    sign_in(page, "ada")
    for path, rows in (("/wallet/", 10), ("/winners/", 3)):
        page.goto(path)
        shown = page.locator("table.data tbody tr")
        expect(shown).to_have_count(rows)
        heights = [shown.nth(n).bounding_box()["height"] for n in range(rows)]
        # A row is a line or two of print, never a card of labelled lines.
        assert max(heights) <= 56, (path, heights)
        assert page.locator("table.data tbody").inner_text().count("When") == 0
    # The wallet's seven newest entries fit on the first screen, below the balance.
    page.goto("/wallet/")
    seventh = page.locator("table.data tbody tr").nth(6).bounding_box()
    assert seventh["y"] + seventh["height"] <= PHONE["height"], seventh
    assert browser_errors == []


def test_the_client_seed_heading_and_its_field_say_different_things(new_page, history):
    page = new_page(PHONE)
    sign_in(page, "ada")
    page.goto("/fairness/")
    heading = page.locator("#seed-title").inner_text()
    field = page.locator("#seed-title ~ form label[for=id_client_seed]").inner_text()
    assert heading.strip().lower() != field.strip().lower(), (heading, field)
    expect(page.get_by_label("New client seed")).to_be_visible()


# The card's dots (those still to be seen) and the boxes of its words, at a moment of its
# entrance and the confetti's flight (every animation of the page held at `at` ms).
CONFETTI_AT = (
    """([card, at]) => {
  for (const animation of document.getAnimations()) {
    animation.pause();
    animation.currentTime = at;
  }
  const dots = [...card.querySelectorAll(".burst i")]
    .filter((dot) => Number(getComputedStyle(dot).opacity) > 0.05)
    .map((dot) => dot.getBoundingClientRect().toJSON());
  return [dots, ("""
    + TEXT_BOXES
    + """)(card)];
}"""
)


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_a_wins_confetti_never_covers_its_words(new_page, screen, browser_errors):
    page = new_page(DESKTOP if screen == "desktop" else PHONE)
    register_player(username="lucky", password="a-long-enough-passphrase")
    sign_in(page, "lucky")
    configure(win_chance=Decimal(1))
    box = page.get_by_label(re.compile("Your message"))
    box.fill("feeling lucky")
    box.press("Enter")
    card = page.locator("#conversation .win-card.fresh")
    expect(card).to_be_visible()
    flown = 0
    for at in (0, 200, 500, 800, 1100, 1300):
        dots, words = page.evaluate(CONFETTI_AT, [card.element_handle(), at])
        assert "You won the pot!" in [word["text"] for word in words]
        if at == 0:
            assert len(dots) == 6, dots  # all of it, at the start
        flown += len(dots)
        for dot in dots:
            for word in words:
                apart = (
                    dot["right"] <= word["left"]
                    or dot["left"] >= word["right"]
                    or dot["bottom"] <= word["top"]
                    or dot["top"] >= word["bottom"]
                )
                assert apart, (at, dot, word)
    assert flown >= 6
    assert browser_errors == []
