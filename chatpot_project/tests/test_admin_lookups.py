"""Every admin changelist filters only by what it offers on its page (its filters, its date
links): a staff member may not ask a table about a field it does not offer to filter by, a
secret field least of all (the open round's seed, one character at a time)."""

import re
from html import unescape

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.tests.factories import PlayerFactory
from chat.services import send_message

pytestmark = pytest.mark.django_db

LOOKUPS = ["exact", "iexact", "startswith", "contains", "regex", "gt", "lt", "in", "isnull"]
# Never to be filtered by, whatever an admin offers.
SECRETS = {
    ("pot", "round"): {"server_seed"},
    ("token_blacklist", "outstandingtoken"): {"token"},
    ("accounts", "user"): {"password"},
    ("sessions", "session"): {"session_key", "session_data"},
}


@pytest.fixture
def viewer(client):
    """Staff who may view every table the admin shows, and change none."""
    staff = PlayerFactory(username="viewer", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(staff)
    return client


def changelists():
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        yield (
            reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
            model,
            model_admin,
        )


def filtered_fields(model_admin) -> set[str]:
    """The fields the changelist offers to filter by: its filters' and its date links'."""
    fields = set()
    for entry in model_admin.list_filter:
        if isinstance(entry, str):
            fields.add(entry.split("__")[0])
        elif isinstance(entry, (tuple, list)):
            fields.add(str(entry[0]).split("__")[0])
    if model_admin.date_hierarchy:
        fields.add(model_admin.date_hierarchy)
    return fields


def test_no_changelist_filters_by_a_field_it_does_not_offer(viewer, player):
    """Any lookup on any other field of the model is refused (400), a secret one always;
    one of an offered filter's own lookups is answered."""
    send_message(player=player, body="something to list")
    probed = refused = 0
    for url, model, model_admin in changelists():
        secret = SECRETS.get((model._meta.app_label, model._meta.model_name), set())
        offered = filtered_fields(model_admin) - secret
        for field in model._meta.concrete_fields:
            for lookup in LOOKUPS:
                parameter = f"{field.name}__{lookup}"
                answer = viewer.get(url, {parameter: "1"})
                probed += 1
                assert answer.status_code in (200, 302, 400), (url, parameter)
                if field.name not in offered:
                    assert answer.status_code == 400, (url, parameter, answer.status_code)
                    refused += 1
        # What its own page offers (its filters' and dates' links) it answers.
        page = viewer.get(url).content.decode()
        for link in set(re.findall(r'href="(\?[^"]*)"', page)):
            assert viewer.get(url + unescape(link)).status_code == 200, (url, link)
    assert probed > 500
    assert refused > 0


def test_the_open_rounds_seed_cannot_be_read_through_the_round_filter(viewer):
    url = reverse("admin:pot_round_changelist")
    seed_probe = viewer.get(url, {"outcome__exact": "open", "server_seed__startswith": "7"})
    regex_probe = viewer.get(url, {"server_seed__regex": "^[0-7]"})
    assert (seed_probe.status_code, regex_probe.status_code) == (400, 400)
    assert viewer.get(url, {"outcome__exact": "open"}).status_code == 200  # what it offers


def test_no_admin_searches_a_secret_field():
    for _, model, model_admin in changelists():
        secret = SECRETS.get((model._meta.app_label, model._meta.model_name), set())
        searched = {name.lstrip("^=@").split("__")[0] for name in model_admin.search_fields}
        assert searched & secret == set(), model


def test_the_seeds_to_come_cannot_be_read_through_a_chain_or_a_round(viewer):
    """The seed chain's checkpoints (every seed to come derives from them) are reachable from
    no changelist: not through the chain's own admin, not through a round's chain."""
    probes = [
        ("admin:pot_seedchain_changelist", "checkpoints__seed__startswith"),
        ("admin:pot_seedchain_changelist", "checkpoints__seed__regex"),
        ("admin:pot_round_changelist", "chain__checkpoints__seed__startswith"),
        ("admin:pot_round_changelist", "chain__terminal_hash__startswith"),
    ]
    for name, parameter in probes:
        assert viewer.get(reverse(name), {parameter: "7"}).status_code == 400, parameter
    page = viewer.get(reverse("admin:pot_seedchain_change", args=[1])).content.decode()
    assert "checkpoint" not in page.lower()
