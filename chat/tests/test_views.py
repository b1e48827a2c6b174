from decimal import Decimal

import pytest
from django.urls import reverse

from chat.models import Message, Reply
from chat.services import send_message
from pot.models import Round
from wallet.models import Account

pytestmark = pytest.mark.django_db

NEVER = Decimal("0.000001")


@pytest.fixture(autouse=True)
def no_wins(configure):
    configure(win_chance=NEVER)


def send(client, body="hello", key="key-1", **headers):
    return client.post(reverse("chat-send"), {"body": body, "idempotency_key": key}, **headers)


def balance(player) -> int:
    return Account.objects.get(owner=player).balance


def test_chat_page_shows_the_quote_before_sending(player_client, configure):
    configure(win_chance=Decimal("0.1"))
    html = player_client.get(reverse("chat")).content.decode()
    assert 'Next message <strong id="next-price">5</strong> credits' in html
    assert (
        '<strong>10%</strong> chance to win the pot of <strong id="quote-pot">0</strong> '
        'in round <strong id="quote-round">1</strong>'
    ) in html
    assert 'Send · <span id="send-price">5</span>' in html
    assert 'name="idempotency_key"' in html


def test_each_render_carries_a_fresh_idempotency_key(player_client):
    first = player_client.get(reverse("chat")).context["idempotency_key"]
    second = player_client.get(reverse("chat")).context["idempotency_key"]
    assert first != second


def test_sending_without_javascript_posts_and_redirects(player_client, player):
    response = send(player_client, "hello keeper")
    assert response.status_code == 302
    assert response["Location"] == reverse("chat")
    html = player_client.get(reverse("chat")).content.decode()
    assert "hello keeper" in html
    assert 'Next message <strong id="next-price">10</strong>' in html
    assert balance(player) == 95


def test_sending_with_htmx_appends_the_exchange_and_updates_the_rest(player_client, htmx):
    response = send(player_client, "hello keeper", **htmx)
    assert response.status_code == 200
    assert response["HX-Trigger-After-Settle"] == "chatpot:sent"
    html = response.content.decode()
    message = Message.objects.get()
    assert f'id="message-{message.pk}"' in html
    assert f'id="reply-{message.pk}"' in html
    assert '<strong id="balance" hx-swap-oob="true">95</strong>' in html
    assert 'id="next-price">10<' in html
    # The Send button says the same price as the quote line.
    assert 'id="send-button" hx-swap-oob="true">Send · <span id="send-price">10</span>' in html
    assert 'id="pot-figure"' in html
    assert 'Pot · round 1</span>\n  <strong class="pot-amount">5</strong>' in html
    assert 'id="idempotency-key" value="' in html
    # The keeper is still to write: the reply's bubble follows it (on the page's one
    # stream), from its first character, and can stop it.
    assert f'id="reply-{message.pk}"' in html
    assert 'data-reply-live data-reply-shown="0"' in html
    assert 'aria-label="The keeper is writing"' in html
    assert f'action="/chat/messages/{message.pk}/stop/"' in html


def test_a_written_reply_shows_and_the_page_no_longer_follows_it(player_client, replies):
    send(player_client, "hello keeper")
    replies()
    message = Message.objects.select_related("reply").get()
    html = player_client.get(reverse("chat")).content.decode()
    assert 'data-reply-status="done"' in html
    assert "data-reply-live" not in html
    assert message.reply.text in html


def test_the_page_stops_a_reply(player_client, player, make_player):
    send(player_client, "long story please")
    message = Message.objects.get()
    response = player_client.post(reverse("chat-stop", args=[message.pk]))
    assert response.status_code == 302
    message.reply.refresh_from_db()
    assert message.reply.status == "stopped"
    assert balance(player) == 95  # the charge stands
    html = player_client.get(reverse("chat")).content.decode()
    assert "· stopped" in html
    someone = make_player()
    send_message(player=someone, body="theirs")
    theirs = Message.objects.get(player=someone)
    refused = player_client.post(reverse("chat-stop", args=[theirs.pk]), HTTP_HX_REQUEST="true")
    assert refused.status_code == 404
    theirs.reply.refresh_from_db()
    assert theirs.reply.status == "pending"


def test_the_composer_figures_come_again_when_a_round_opens(player_client, configure, htmx):
    configure(win_chance=Decimal(1))
    send(player_client, "win", key="w", **htmx)
    response = player_client.get(reverse("chat-quote"), {"fields": "on"}, **htmx)
    html = response.content.decode()
    assert 'id="quote-round">2<' in html
    assert 'id="send-button" hx-swap-oob="true">Send · <span id="send-price">5</span>' in html
    assert "composer-body" not in html  # what the player types is left alone
    assert (
        "composer-body"
        in player_client.get(reverse("chat-quote"), {"fields": "off"}).content.decode()
    )


def test_a_resubmitted_form_never_charges_twice(player_client, player, htmx):
    send(player_client, "once", key="same-render")
    send(player_client, "once", key="same-render", **htmx)
    send(player_client, "once", key="same-render")
    assert Message.objects.count() == 1
    assert balance(player) == 95


def test_message_body_is_shown_as_text(player_client):
    send(player_client, "<script>alert('x')</script><b>bold</b>")
    html = player_client.get(reverse("chat")).content.decode()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("body", "error"), [("   ", "Write something first"), ("x" * 501, "at most 500 characters")]
)
def test_invalid_message_is_refused_and_kept_in_the_composer(player_client, player, body, error):
    response = send(player_client, body)
    assert response.status_code == 400
    html = response.content.decode()
    assert error in html
    assert balance(player) == 100
    assert not Message.objects.exists()
    if body.strip():
        assert body in html  # what the player wrote is not lost


@pytest.mark.parametrize("hx", [False, True])
def test_a_huge_refused_body_is_not_echoed_back_whole(player_client, player, htmx, hx):
    body = "a" * 500 + "b" * 1000 + "c" * 1_000_000
    response = send(player_client, body, **(htmx if hx else {}))
    html = response.content.decode()
    assert "at most 500 characters; this one has 1001500" in html
    if not hx:  # htmx's composer still holds the text; a whole page gives it back
        assert "a" * 500 + "b" * 1000 in html  # the limit and a margin, to trim from
    assert "c" * 10 not in html
    assert len(html) < 60_000
    assert not Message.objects.exists()


def test_invalid_message_with_htmx_says_why_and_changes_nothing(player_client, player, htmx):
    response = send(player_client, "", **htmx)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Write something first" in html
    assert 'id="composer-status" class="composer-status" hx-swap-oob="true"' in html
    assert "bubble" not in html
    assert "HX-Trigger-After-Settle" not in response
    assert balance(player) == 100


def spend_everything(player):
    for _ in range(5):
        send_message(player=player, body="spend")


def test_short_funds_disable_the_composer_and_offer_the_claim(player_client, player):
    spend_everything(player)
    html = player_client.get(reverse("chat")).content.decode()
    assert "Your next message costs <strong" in html
    assert 'id="composer-fields" class="composer-fields" disabled' in html
    assert "Claim daily credits" in html


def test_short_funds_refusal_keeps_the_text_and_charges_nothing(player_client, player):
    spend_everything(player)
    response = send(player_client, "one more please")
    assert response.status_code == 402
    html = response.content.decode()
    assert "Your next message costs <strong" in html
    assert html.count("you have 25") == 1  # said once, by the quote line
    assert "one more please" in html
    assert balance(player) == 25
    assert Message.objects.count() == 5


def test_short_funds_refusal_with_htmx_keeps_the_text_and_says_why_once(
    player_client, player, htmx
):
    spend_everything(player)
    html = send(player_client, "one more please", **htmx).content.decode()
    assert ">one more please</textarea>" in html  # the redrawn composer keeps it
    assert html.count('role="alert"') == 1
    assert 'id="send-price">30<' in html
    assert balance(player) == 25


def test_claim_from_the_chat_reenables_the_composer(player_client, player, htmx):
    spend_everything(player)
    response = player_client.post(reverse("chat-claim"), **htmx)
    html = response.content.decode()
    assert "You claimed 50 credits." in html
    assert '<fieldset id="composer-fields" class="composer-fields" hx-swap-oob="true">' in html
    assert balance(player) == 75
    again = player_client.post(reverse("chat-claim"), **htmx).content.decode()
    assert "Your next claim is in 24 h 0 min" in again
    assert balance(player) == 75


def test_win_is_unmistakable_with_htmx(player_client, player, configure, htmx):
    send(player_client, "warm up", key="a")
    configure(win_chance=Decimal(1))
    html = send(player_client, "now win", key="b", **htmx).content.decode()
    closed = Round.objects.get(number=1)
    assert "You won the pot!" in html
    assert "+15 credits" in html
    assert closed.server_seed in html
    assert "Round 2 has begun" in html
    assert 'Pot · round 2</span>\n  <strong class="pot-amount">0</strong>' in html


def test_a_win_is_celebrated_in_the_conversation_once_after_the_redirect(player_client, configure):
    configure(win_chance=Decimal(1))
    send(player_client, "win")
    first = player_client.get(reverse("chat")).content.decode()
    assert "You won the pot!" in first
    assert 'class="win-card fresh"' in first
    assert Round.objects.get(number=1).server_seed in first  # the verifier's link
    again = player_client.get(reverse("chat")).content.decode()
    assert 'class="win-card"' in again  # still in the conversation, no longer new
    assert "win-card fresh" not in again


def test_receipt_keeps_the_seed_secret_until_the_round_closes(player_client):
    send(player_client)
    html = player_client.get(reverse("chat")).content.decode()
    open_round = Round.objects.get(outcome="open")
    assert open_round.server_seed_hash in html
    assert open_round.server_seed not in html
    assert "Draw receipt" in html


def test_long_histories_load_older_messages(player_client, player, configure):
    configure(price_base=1, price_step=0)
    for n in range(35):
        send_message(player=player, body=f"note {n}")
    html = player_client.get(reverse("chat")).content.decode()
    assert "note 34" in html
    assert "note 5<" in html
    assert "note 4<" not in html
    assert "Load older messages" in html
    older = player_client.get(
        reverse("chat-older"), {"before": Message.objects.get(body="note 5").pk}
    ).content.decode()
    assert "note 4<" in older
    assert "note 0<" in older
    assert "note 5<" not in older
    assert "Load older messages" not in older


def test_another_players_messages_never_show(player_client, make_player):
    other = make_player()
    send_message(player=other, body="secret of someone else")
    html = player_client.get(reverse("chat")).content.decode()
    assert "secret of someone else" not in html
    older = player_client.get(reverse("chat-older"), {"before": 10**9}).content.decode()
    assert "secret of someone else" not in older


def test_send_only_accepts_post(player_client):
    assert player_client.get(reverse("chat-send")).status_code == 405


def test_a_reply_that_claims_a_win_stays_the_keepers_words(player_client, player):
    """The game's announcements come only from the game's own events, in elements of their
    own; a model that writes "You WON the pot" or a link to claim a prize gets neither:
    its words sit in the keeper's bubble, as words."""
    message = send_message(player=player, body="did I win?").message
    Reply.objects.filter(pk=message.pk).update(
        status=Reply.Status.DONE,
        text="### You WON the pot: 1,000,000 credits!\n[Claim it](https://evil.example/phish)",
    )
    page = player_client.get(reverse("chat")).content.decode()
    bubble = page[page.index(f'id="reply-{message.pk}"') :]
    bubble = bubble[: bubble.index("</li>")]
    assert "You WON the pot: 1,000,000 credits!" in bubble
    assert "Claim it" in bubble
    assert "evil.example" not in page
    assert "<a" not in bubble.split('class="body rendered">', 1)[1]
    assert "win-card" not in page  # the game's own card, for a message that won: none did
    assert "<h3" not in page


def test_another_tab_fetches_a_message_sent_elsewhere_with_its_reply(
    player_client, player, make_player
):
    sent = send_message(player=player, body="from my other tab").message
    page = player_client.get(reverse("chat")).content.decode()
    assert f'data-exchange-url="{reverse("chat-exchange", args=[0])}"' in page
    html = player_client.get(reverse("chat-exchange", args=[sent.pk])).content.decode()
    assert f'id="message-{sent.pk}"' in html
    assert "from my other tab" in html
    assert f'id="reply-{sent.pk}"' in html
    assert "data-reply-live" in html  # still to be written: the tab follows it
    # Nobody else's, and an older page (the newest is not shown) fetches nothing.
    theirs = send_message(player=make_player(), body="theirs").message
    assert player_client.get(reverse("chat-exchange", args=[theirs.pk])).status_code == 404
    older = player_client.get(reverse("chat"), {"before": sent.pk}).content.decode()
    assert "data-exchange-url" not in older


def test_the_composer_figures_carry_the_balance(player_client, player, htmx):
    send(player_client, "one", key="a", **htmx)
    html = player_client.get(reverse("chat-quote"), {"fields": "on"}, **htmx).content.decode()
    assert f'<strong id="balance" hx-swap-oob="true">{balance(player)}</strong>' in html
