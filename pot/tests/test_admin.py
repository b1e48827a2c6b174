from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.services import register_operator, register_player
from chat.services import send_message
from game.models import GameConfig
from pot.models import Round
from wallet.audit import audit_ledger
from wallet.models import Account

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/pot/round/"
# The config's change form as the defaults fill it.
CONFIG_FORM = {
    "signup_grant": 100,
    "daily_claim": 50,
    "max_message_chars": 500,
    "price_base": 5,
    "price_step": 5,
    "pricing_window": "round",
    "win_chance": "0.1",
    "pot_share_percent": 100,
    "pot_seed": 0,
}


@pytest.fixture
def operator_client(client):
    operator = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    client.force_login(operator)
    client.operator = operator
    return client


@pytest.fixture
def fed_pot(make_player, configure):
    alice, bob = make_player(username="alice"), make_player(username="bob")
    configure(win_chance=Decimal("0.000001"))
    send_message(player=alice, body="a")
    send_message(player=alice, body="b")
    send_message(player=bob, body="c")
    return alice, bob


def reset_action(client, **extra):
    open_round = Round.objects.get(outcome="open")
    data = {"action": "reset_pot", "_selected_action": [open_round.pk], **extra}
    return client.post(CHANGELIST, data)


def test_reset_shows_a_confirmation_with_the_amount_and_refunds(operator_client, fed_pot):
    response = reset_action(operator_client)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Reset the pot of round 1?" in html
    assert "holds <strong>20</strong> credits" in html
    assert "<td>alice</td><td>15</td>" in html
    assert "<td>bob</td><td>5</td>" in html
    assert Round.objects.get(number=1).outcome == "open"  # nothing happened yet


def test_reset_needs_a_reason(operator_client, fed_pot):
    response = reset_action(operator_client, confirm="yes", reason="")
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert Round.objects.get(number=1).outcome == "open"


def test_confirmed_reset_refunds_and_records_who_and_why(operator_client, fed_pot):
    alice, bob = fed_pot
    response = reset_action(operator_client, confirm="yes", reason="test outage", follow=False)
    assert response.status_code == 302
    closed = Round.objects.get(number=1)
    assert closed.outcome == "reset"
    assert closed.reset_by == operator_client.operator
    assert closed.reset_reason == "test outage"
    assert Account.objects.get(owner=alice).balance == 100
    assert Account.objects.get(owner=bob).balance == 100
    assert Round.objects.get(outcome="open").number == 2
    assert audit_ledger().clean
    history = operator_client.get(f"/admin/pot/round/{closed.pk}/history/").content.decode()
    assert "Reset: test outage" in history


def test_reset_of_an_empty_pot_is_refused_cleanly(operator_client):
    response = operator_client.post(
        CHANGELIST,
        {"action": "reset_pot", "_selected_action": [Round.objects.get().pk]},
        follow=True,
    )
    assert "is empty: nothing to reset" in response.content.decode()
    assert Round.objects.get().outcome == "open"


def test_only_the_open_round_can_be_reset(operator_client, make_player, configure):
    configure(win_chance=Decimal(1))
    send_message(player=make_player(), body="win")
    closed = Round.objects.get(number=1)
    response = operator_client.post(
        CHANGELIST, {"action": "reset_pot", "_selected_action": [closed.pk]}, follow=True
    )
    assert "Select the open round" in response.content.decode()


def test_players_and_unprivileged_staff_cannot_reset(client, fed_pot):
    alice, _ = fed_pot
    client.force_login(alice)
    assert client.get(CHANGELIST).status_code == 302  # to the admin log-in
    assert reset_action(client).status_code == 302
    staff = register_player(username="clerk", password="a-long-enough-passphrase", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_round"))
    client.force_login(staff)
    page = client.get(CHANGELIST).content.decode()
    assert "reset_pot" not in page
    response = reset_action(client, confirm="yes", reason="sneaky")
    assert response.status_code == 200  # the changelist again: no such action for them
    assert Round.objects.get(number=1).outcome == "open"


def test_config_change_takes_effect_on_the_next_message(operator_client, player, caplog):
    config = GameConfig.load()
    data = {**CONFIG_FORM, "price_base": 7, "price_step": 3, "win_chance": "0.000001"}
    response = operator_client.post(f"/admin/game/gameconfig/{config.pk}/change/", data)
    assert response.status_code == 302
    assert "price_base: 5 -> 7" in caplog.text
    first = send_message(player=player, body="under the new rules")
    assert first.price == 7
    assert first.next_price == 10
    history = operator_client.get(f"/admin/game/gameconfig/{config.pk}/history/").content.decode()
    assert "price_base (5 -&gt; 7)" in history


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("win_chance", "0", "greater than or equal to 0.000001"),
        ("win_chance", "1.5", "less than or equal to 1"),
        ("price_base", "0", "greater than or equal to 1"),
        ("pot_share_percent", "101", "less than or equal to 100"),
        ("max_message_chars", "0", "greater than or equal to 1"),
        ("pricing_window", "week", "Select a valid choice"),
    ],
)
def test_config_refuses_values_outside_the_rules(operator_client, field, value, error):
    config = GameConfig.load()
    data = {**CONFIG_FORM, field: value}
    response = operator_client.post(f"/admin/game/gameconfig/{config.pk}/change/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    config.refresh_from_db()
    assert (config.win_chance, config.price_base) == (Decimal("0.1"), 5)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/wallet/account/{account}/change/",
        "/admin/wallet/account/{account}/delete/",
        "/admin/wallet/transfer/{transfer}/delete/",
        "/admin/chat/message/{message}/delete/",
        "/admin/accounts/user/{user}/delete/",
        "/admin/pot/round/{round}/delete/",
        "/admin/game/gameconfig/1/delete/",
    ],
)
def test_no_admin_path_edits_a_balance_or_deletes_history(operator_client, fed_pot, path):
    alice, _ = fed_pot
    ids = {
        "account": alice.account.pk,
        "transfer": alice.account.transfers_out.first().pk,
        "message": alice.messages.first().pk,
        "user": alice.pk,
        "round": Round.objects.get().pk,
    }
    url = path.format(**ids)
    response = operator_client.post(url, {"balance": 1_000_000, "post": "yes"})
    assert response.status_code == 403
    assert Account.objects.get(owner=alice).balance == 85
    assert audit_ledger().clean


def test_account_and_transfer_pages_are_read_only(operator_client, fed_pot):
    alice, _ = fed_pot
    page = operator_client.get(f"/admin/wallet/account/{alice.account.pk}/change/")
    assert page.status_code == 200
    assert 'name="balance"' not in page.content.decode()
    listing = operator_client.get("/admin/wallet/transfer/?kind=message_fee&q=alice")
    assert listing.status_code == 200
    assert "Message fee" in listing.content.decode()
    assert operator_client.get("/admin/wallet/transfer/add/").status_code == 403
    assert operator_client.get("/admin/chat/message/?won__exact=0").status_code == 200


def test_grant_credits_action(operator_client, fed_pot):
    alice, bob = fed_pot
    select = {"action": "grant_credits_action", "_selected_action": [alice.pk, bob.pk]}
    confirm_page = operator_client.post("/admin/accounts/user/", select)
    assert "Grant credits" in confirm_page.content.decode()
    missing_memo = operator_client.post(
        "/admin/accounts/user/", {**select, "confirm": "yes", "amount": 40, "memo": ""}
    )
    assert "This field is required" in missing_memo.content.decode()
    done = operator_client.post(
        "/admin/accounts/user/",
        {**select, "confirm": "yes", "amount": 40, "memo": "contest prize"},
    )
    assert done.status_code == 302
    assert Account.objects.get(owner=alice).balance == 85 + 40
    assert Account.objects.get(owner=bob).balance == 95 + 40
    assert alice.account.transfers_in.filter(kind="admin_grant", memo="contest prize").exists()
    assert audit_ledger().clean


def test_players_cannot_reach_the_admin(client, player):
    client.force_login(player)
    for url in ["/admin/", "/admin/game/gameconfig/1/change/", "/admin/accounts/user/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


@pytest.mark.parametrize(
    ("players", "said"), [(1, "1 player refunded"), (2, "2 players refunded")]
)
def test_a_reset_says_how_many_players_it_refunded(
    operator_client, make_player, configure, players, said
):
    configure(win_chance=Decimal("0.000001"))
    for n in range(players):
        send_message(player=make_player(username=f"p{n}"), body="hello")
    open_round = Round.objects.get(outcome="open")
    data = {"action": "reset_pot", "_selected_action": [open_round.pk], "confirm": "yes"}
    response = operator_client.post(CHANGELIST, {**data, "reason": "outage"}, follow=True)
    assert f"Round 1 reset: {5 * players} credits returned ({said}, " in response.content.decode()
