"""The admin never shows a usable credential, and only superusers hand out powers."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import User
from accounts.services import register_operator, register_player

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def superuser() -> User:
    return register_operator(username="boss", email="boss@example.com", password=PASSWORD)


def staff_with(*codenames: str, username="clerk") -> User:
    clerk = register_player(username=username, password=PASSWORD, is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=clerk.pk)  # without the permission cache


@pytest.fixture
def issued_tokens(api, player) -> list[str]:
    """A player's tokens as the API handed them out: two log-ins and a rotation."""
    tokens = []
    for _ in range(2):
        pair = api.post(
            "/api/v1/auth/token",
            {"username": player.username, "password": "a-long-enough-passphrase"},
            format="json",
        ).json()
        tokens += [pair["access"], pair["refresh"]]
    rotated = api.post("/api/v1/auth/token/refresh", {"refresh": tokens[-1]}, format="json")
    tokens += [rotated.json()["access"], rotated.json()["refresh"]]
    return tokens


def every_admin_page(client) -> list[str]:
    """The changelist, and the change page of its first object, of every registered model."""
    urls = []
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if (first := model_admin.get_queryset(None).order_by("pk").first()) is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return urls


def test_no_admin_page_shows_a_token_even_to_a_superuser(client, superuser, issued_tokens):
    client.force_login(superuser)
    pages = every_admin_page(client)
    assert "/admin/token_blacklist/outstandingtoken/" in pages
    assert any(
        url.startswith("/admin/token_blacklist/outstandingtoken/") and url.endswith("/change/")
        for url in pages
    )
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for token in issued_tokens:
            # Any recognisable part of a token: its signature or its claims.
            for part in token.split("."):
                assert part not in html, (url, part[:12])


def test_operators_still_see_who_holds_tokens_and_which_are_revoked(
    client, superuser, issued_tokens, player
):
    client.force_login(superuser)
    html = client.get("/admin/token_blacklist/outstandingtoken/").content.decode()
    assert player.username in html
    assert html.count('alt="True"') == 1  # the refresh token rotated away is revoked


def test_a_clerk_who_may_view_tokens_sees_none(client, issued_tokens):
    client.force_login(staff_with("view_outstandingtoken"))
    html = client.get("/admin/token_blacklist/outstandingtoken/").content.decode()
    assert "jti" in html
    for token in issued_tokens:
        assert token.split(".")[2] not in html


def test_staff_cannot_make_themselves_superusers(client):
    clerk = staff_with("change_user", "view_user")
    client.force_login(clerk)
    url = reverse("admin:accounts_user_change", args=[clerk.pk])
    form = client.get(url).context["adminform"].form
    assert {"is_superuser", "is_staff", "groups", "user_permissions"}.isdisjoint(form.fields)
    client.post(
        url,
        {
            "username": clerk.username,
            "client_seed": clerk.client_seed,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "user_permissions": [p.pk for p in Permission.objects.all()],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    clerk.refresh_from_db()
    assert not clerk.is_superuser
    assert clerk.user_permissions.count() == 2


def test_staff_cannot_change_an_operator_or_set_their_password(client, superuser):
    client.force_login(staff_with("change_user", "view_user"))
    change = reverse("admin:accounts_user_change", args=[superuser.pk])
    password = reverse("admin:auth_user_password_change", args=[superuser.pk])
    assert client.get(change).context["has_change_permission"] is False
    response = client.post(
        password, {"password1": "taken-over-passphrase", "password2": "taken-over-passphrase"}
    )
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.check_password(PASSWORD)


def test_staff_may_still_edit_a_player(client, player):
    client.force_login(staff_with("change_user", "view_user"))
    change = reverse("admin:accounts_user_change", args=[player.pk])
    assert client.get(change).context["has_change_permission"] is True


def test_superusers_still_hand_out_powers(client, superuser, player):
    client.force_login(superuser)
    form = (
        client.get(reverse("admin:accounts_user_change", args=[player.pk]))
        .context["adminform"]
        .form
    )
    assert {"is_superuser", "is_staff", "groups", "user_permissions"} <= set(form.fields)


def test_only_superusers_change_groups(client):
    group = Group.objects.create(name="clerks")
    clerk = staff_with("change_group", "view_group", "add_group")
    clerk.groups.add(group)
    client.force_login(User.objects.get(pk=clerk.pk))
    url = reverse("admin:auth_group_change", args=[group.pk])
    client.post(url, {"name": "clerks", "permissions": [p.pk for p in Permission.objects.all()]})
    assert group.permissions.count() == 0
    assert client.post(reverse("admin:auth_group_add"), {"name": "x"}).status_code == 403
