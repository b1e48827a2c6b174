"""Fairness and money cannot be touched from the admin except through the game's own
services: no form, for anyone, edits a client seed, a nonce, a message count, a balance or
the ledger's records; a new client seed is an action, with a reason, that restarts the
nonce under the account's lock and asks for the ledger's audit."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from accounts.services import register_operator, register_player
from chat.models import Message, Reply
from chat.services import send_message
from pot.models import Round
from wallet.audit import audit_ledger
from wallet.models import Account, LedgerAudit, Transfer

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"

# Fields of the game's fairness and money state, by model.
GAME_STATE = {
    User: {"client_seed", "nonce", "messages_sent", "balance"},
    Account: {field.name for field in Account._meta.fields},
    Transfer: {field.name for field in Transfer._meta.fields},
    Message: {field.name for field in Message._meta.fields},
    Round: {field.name for field in Round._meta.fields},
    Reply: {field.name for field in Reply._meta.fields},
    LedgerAudit: {field.name for field in LedgerAudit._meta.fields},
}


def clerk() -> User:
    """Staff as the review found them: may view and change users, nothing more."""
    staff = register_player(username="clerk", password=PASSWORD, is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    return User.objects.get(pk=staff.pk)


@pytest.fixture
def game(make_player, configure):
    """A player who has sent, a win, a grant: a row in every table the admin shows."""
    player = make_player()
    configure(win_chance=Decimal("0.000001"))
    for _ in range(2):
        send_message(player=player, body="hello")
    configure(win_chance=Decimal(1))
    send_message(player=make_player(), body="win")
    LedgerAudit.objects.create(reason="a test")
    return User.objects.get(pk=player.pk)


def editable_fields(client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    if not response.context.get("has_change_permission", False) and "/add/" not in url:
        return set()
    return set(response.context["adminform"].form.fields)


def change_forms(operator: User) -> list[tuple[type, str]]:
    """The add form and the change form of the first object, of every registered model."""
    request = RequestFactory().get("/admin/")
    request.user = operator
    forms = []
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        if not model_admin.has_view_or_change_permission(request):
            continue
        if model_admin.has_add_permission(request):
            forms.append((model, reverse("admin:{}_{}_add".format(*info))))
        if (first := model_admin.get_queryset(None).order_by("pk").first()) is not None:
            forms.append((model, reverse("admin:{}_{}_change".format(*info), args=[first.pk])))
    return forms


@pytest.mark.parametrize("who", ["superuser", "clerk"])
def test_no_admin_form_edits_the_games_fairness_or_money_state(client, game, who):
    operator = (
        register_operator(username="boss", password=PASSWORD) if who == "superuser" else clerk()
    )
    client.force_login(operator)
    forms = change_forms(operator)
    walked = {model for model, _ in forms}
    assert walked >= (set(GAME_STATE) if who == "superuser" else {User})
    for model, url in forms:
        editable = editable_fields(client, url)
        assert not editable & GAME_STATE.get(model, set()), (url, editable)


def test_staff_posting_a_chosen_client_seed_changes_nothing(client, game):
    """The review's finding: the seed was set, the nonce kept, and the audit broke."""
    client.force_login(clerk())
    url = reverse("admin:accounts_user_change", args=[game.pk])
    before = (game.client_seed, game.nonce)
    assert game.nonce == 2
    client.post(
        url,
        {
            "username": game.username,
            "client_seed": "chosen-by-staff",
            "nonce": "0",
            "messages_sent": "0",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    game.refresh_from_db()
    assert (game.client_seed, game.nonce, game.messages_sent) == (*before, 2)
    assert audit_ledger().clean


def set_seed(client, player: User, **fields):
    return client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "set_client_seed_action",
            "_selected_action": [player.pk],
            "confirm": "yes",
            **fields,
        },
    )


def test_a_new_client_seed_goes_through_the_game_restarting_the_nonce(client, game):
    client.force_login(clerk())
    response = set_seed(client, game, client_seed="chosen-by-staff", reason="player asked")
    assert response.status_code == 302
    game.refresh_from_db()
    assert (game.client_seed, game.nonce) == ("chosen-by-staff", 0)
    entry = LogEntry.objects.get(object_id=str(game.pk))
    assert "chosen-by-staff" in entry.change_message
    assert "player asked" in entry.change_message
    assert LedgerAudit.objects.filter(started_at=None, reason__contains=game.username).exists()
    assert audit_ledger().clean
    send_message(player=game, body="after")  # the next draw takes nonce 0 with the new seed
    assert Message.objects.filter(player=game).latest("pk").nonce == 0
    assert audit_ledger().clean


def test_a_new_client_seed_needs_a_reason_and_a_valid_seed(client, game):
    client.force_login(clerk())
    before = (game.client_seed, game.nonce)
    for fields in ({"client_seed": "fine"}, {"client_seed": "no spaces!", "reason": "why"}):
        response = set_seed(client, game, **fields)
        assert response.status_code == 200  # the form again, with its errors
        assert response.context["form"].errors
    game.refresh_from_db()
    assert (game.client_seed, game.nonce) == before
    assert not LedgerAudit.objects.filter(started_at=None).exclude(reason="a test").exists()


def test_a_blank_seed_gives_each_player_a_fresh_random_one(client, game, make_player):
    other = make_player()
    client.force_login(register_operator(username="boss", password=PASSWORD))
    seeds = {game.client_seed, other.client_seed}
    client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "set_client_seed_action",
            "_selected_action": [game.pk, other.pk],
            "confirm": "yes",
            "reason": "rotation",
        },
    )
    game.refresh_from_db()
    other.refresh_from_db()
    assert game.client_seed != other.client_seed
    assert not {game.client_seed, other.client_seed} & seeds
    assert (game.nonce, other.nonce) == (0, 0)


def test_staff_cannot_set_an_operators_seed(client, game):
    boss = register_operator(username="boss", password=PASSWORD)
    client.force_login(clerk())
    set_seed(client, boss, client_seed="chosen-by-staff", reason="why not")
    boss.refresh_from_db()
    assert boss.client_seed != "chosen-by-staff"


def test_a_new_client_seed_for_a_mixed_selection_changes_nobody_and_says_so(client, game):
    """A clerk selects a player and an operator: the operator is not theirs to change, so
    neither is changed (not the player alone), and the page says so and why."""
    boss = register_operator(username="boss", password=PASSWORD)
    client.force_login(clerk())
    before = (game.client_seed, game.nonce)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {
            "action": "set_client_seed_action",
            "_selected_action": [game.pk, boss.pk],
            "confirm": "yes",
            "client_seed": "chosen-by-staff",
            "reason": "both, please",
        },
        follow=True,
    )
    game.refresh_from_db()
    boss.refresh_from_db()
    assert (game.client_seed, game.nonce) == before
    assert boss.client_seed != "chosen-by-staff"
    said = [str(message) for message in response.context["messages"]]
    assert said == ["Nothing was changed: boss not yours to change."]
