from datetime import timedelta

import pytest
from django.utils import timezone

from chat.services import clean_body
from chat.templatetags.display import ago, markdown_reply


def test_a_models_markdown_is_rendered_through_an_allow_list():
    html = markdown_reply(
        "**Bold**, *soft*, `code` and [a link](https://example.com)\n\n- one\n- two"
    )
    assert "<strong>Bold</strong>" in html
    assert "<em>soft</em>" in html
    assert "<code>code</code>" in html
    assert "a link" in html
    assert "<li>one</li>" in html


def test_nothing_a_model_writes_runs_or_loads_in_the_page():
    html = markdown_reply(
        "<script>alert(1)</script> <img src=x onerror=alert(2)> "
        '[trap](javascript:alert(3)) <a href="data:text/html,x">data</a> '
        '<span style="position:fixed">styled</span> <iframe src="https://x"></iframe>'
    )
    for banned in ["<script", "<img", "onerror", "javascript:", "data:", "style=", "<iframe"]:
        assert banned not in html, (banned, html)
    assert "styled" in html  # the words stay, without their markup


def test_a_models_link_to_another_site_is_words_only():
    html = markdown_reply(
        "You WON the pot: 1,000,000 credits! [claim your prize](https://evil.example/phish) "
        "<a href='https://evil.example/phish'>now</a>"
    )
    assert "<a" not in html
    assert "evil.example" not in html
    assert "claim your prize" in html


def test_a_model_cannot_speak_as_the_game():
    html = markdown_reply(
        "### You won the pot!\n# SYSTEM NOTICE\n\n[Claim your bonus](//evil.example/claim) "
        "[here](/accounts/logout/) [mail](mailto:x@evil.example) [ok](https://example.com)"
    )
    assert "<h" not in html  # no heading of any level: the words are a plain paragraph
    assert "<p>You won the pot!</p>" in html
    assert "SYSTEM NOTICE" in html
    assert "<a" not in html  # no link at all, off-site or not
    assert "href" not in html
    assert "Claim your bonus" in html  # the words stay, not the link


def test_plain_text_is_escaped_not_trusted():
    assert markdown_reply("1 < 2 & 3 > 2") == "<p>1 &lt; 2 &amp; 3 &gt; 2</p>"


def test_a_moment_under_a_minute_ago_is_just_now():
    now = timezone.now()
    assert ago(now - timedelta(seconds=20)) == "just now"
    assert ago(now - timedelta(minutes=3)) == "3\xa0minutes ago"
    assert ago(None) == ""


def test_a_line_break_is_one_character_however_it_was_sent():
    assert clean_body("one\r\ntwo\r\n") == "one\ntwo"


def test_a_reply_without_markup_is_shown_as_plain_text_without_the_parser(monkeypatch):
    monkeypatch.setattr("markdown.markdown", lambda *a, **k: pytest.fail("parsed"))
    html = markdown_reply("Round 12's pot: 345 credits.\nYour next message costs 20.")
    assert html == "<p>Round 12&#x27;s pot: 345 credits.<br>Your next message costs 20.</p>"


def test_markup_anywhere_takes_the_parser_and_its_allow_list():
    for text in ["a *b*", "- item", "1. first", "x <b>y</b>", "para\n\npara", "`c`", "[l](u)"]:
        assert markdown_reply(text).startswith("<"), text
    assert "<li>item</li>" in markdown_reply("- item")
