from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from chat.models import Message
from wallet.audit import audit_ledger

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_an_operator_and_players_with_history():
    out = StringIO()
    call_command("seed_demo", "--players", "3", "--messages", "4", stdout=out)
    text = out.getvalue()
    assert "Operator 'admin' created, password: " in text
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(text.split("password: ")[1].split()[0])
    players = User.objects.filter(username__startswith="demo-")
    assert players.count() == 3
    assert Message.objects.filter(player__in=players).count() == 12
    assert (
        players.get(username="demo-bob").account.transfers_in.filter(kind="admin_grant").exists()
    )
    assert "Ledger audit: clean" in text
    assert audit_ledger().clean


def test_seed_demo_twice_adds_nothing():
    call_command("seed_demo", "--players", "2", "--messages", "1", stdout=StringIO())
    again = StringIO()
    call_command("seed_demo", "--players", "2", "--messages", "1", stdout=again)
    assert "exist already; nothing added" in again.getvalue()
    assert User.objects.filter(username__startswith="demo-").count() == 2
