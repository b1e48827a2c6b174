from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import register_operator, register_player
from wallet.errors import ClaimTooEarly, ClaimUnavailable, GrantInvalid, InsufficientFunds
from wallet.models import Account, Transfer
from wallet.services import Leg, claim_daily, grant_credits, lock_accounts, transfer

pytestmark = pytest.mark.django_db


def test_new_user_gets_an_account_and_the_signup_grant(make_player, balance):
    player = make_player()
    assert balance(player) == 100
    grant = Transfer.objects.get(to_account__owner=player)
    assert grant.kind == "signup_grant"
    assert grant.from_account.kind == "house"
    assert balance("house") == -100


def test_signup_grant_follows_the_config(make_player, configure, balance):
    configure(signup_grant=7)
    assert balance(make_player()) == 7


def test_superusers_get_an_account_too(balance):
    admin = register_operator(
        username="root", email="root@example.com", password="a-long-enough-passphrase"
    )
    assert balance(admin) == 100


def test_user_and_account_are_created_together_or_not_at_all(monkeypatch):
    def fail(*legs, **kwargs):
        raise RuntimeError("the grant failed")

    monkeypatch.setattr("wallet.services.transfer", fail)
    with pytest.raises(RuntimeError):
        register_player(username="half-made", password="a-long-enough-passphrase")
    assert not User.objects.filter(username="half-made").exists()
    assert not Account.objects.filter(owner__username="half-made").exists()


def test_transfer_moves_credits_and_records_it(make_player, balance):
    alice, bob = make_player(), make_player()
    with transaction.atomic():
        [record] = transfer(
            Leg(
                source=alice.account,
                destination=bob.account,
                amount=30,
                kind=Transfer.Kind.ADMIN_GRANT,
                memo="test",
            )
        )
    assert (balance(alice), balance(bob)) == (70, 130)
    assert (record.amount, record.from_account_id, record.to_account_id) == (
        30,
        alice.account.pk,
        bob.account.pk,
    )


def test_transfer_refuses_to_overdraw_a_player(make_player, balance):
    alice, bob = make_player(), make_player()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        transfer(Leg(source=alice.account, destination=bob.account, amount=101, kind="rake"))
    assert (balance(alice), balance(bob)) == (100, 100)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_transfer_must_run_in_a_transaction(make_player, balance):
    alice, bob = make_player(), make_player()
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        transfer(Leg(source=alice.account, destination=bob.account, amount=1, kind="rake"))
    assert balance(alice) == 100


def test_transfer_refuses_to_take_from_an_account_the_caller_did_not_lock(make_player):
    alice, bob = make_player(), make_player()
    with transaction.atomic():
        locked = lock_accounts(ids=[bob.account.pk])
        with pytest.raises(ValueError, match="lose credits but were not locked"):
            transfer(
                Leg(source=alice.account, destination=bob.account, amount=1, kind="rake"),
                locked=locked,
            )


def test_accounts_that_only_receive_need_no_lock(make_player, balance):
    alice, bob = make_player(), make_player()
    with transaction.atomic():
        locked = lock_accounts(ids=[alice.account.pk])
        transfer(
            Leg(source=alice.account, destination=bob.account, amount=7, kind="admin_grant"),
            locked=locked,
        )
        assert locked[alice.account.pk].balance == 93
    assert (balance(alice), balance(bob)) == (93, 107)


def test_locks_follow_one_order_players_then_house_then_pot(make_player):
    alice, bob = make_player(), make_player()
    with transaction.atomic():
        locked = lock_accounts(owners=[bob.pk, alice.pk], kinds=["pot", "house"])
    assert [a.kind for a in locked.values()] == ["player", "player", "house", "pot"]
    assert list(locked)[:2] == sorted([alice.account.pk, bob.account.pk])


@pytest.mark.parametrize("amount", [0, -5])
def test_transfer_amount_must_be_positive(make_player, amount):
    alice, bob = make_player(), make_player()
    with pytest.raises(ValueError, match="positive"), transaction.atomic():
        transfer(Leg(source=alice.account, destination=bob.account, amount=amount, kind="rake"))


def test_database_refuses_negative_players_and_non_positive_transfers(player):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(owner=player).update(balance=-1)
    house = Account.objects.get(kind="house")
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(
            from_account=house, to_account=player.account, amount=0, kind="admin_grant"
        )


def test_transfers_are_append_only(player):
    record = Transfer.objects.get(to_account__owner=player)
    record.memo = "edited"
    with pytest.raises(TypeError, match="append-only"):
        record.save()
    with pytest.raises(TypeError, match="append-only"):
        record.delete()
    with pytest.raises(TypeError, match="append-only"):
        Transfer.objects.filter(pk=record.pk).update(amount=1)
    with pytest.raises(TypeError, match="append-only"):
        Transfer.objects.all().delete()


def test_daily_claim_once_per_24_hours(player, balance):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        result = claim_daily(player=player)
        assert (result.amount, result.balance) == (50, 150)
        assert result.next_claim_at == start + timedelta(hours=24)

        clock.shift(timedelta(hours=23, minutes=30))
        with pytest.raises(ClaimTooEarly) as early:
            claim_daily(player=player)
        assert early.value.retry_after == 30 * 60
        assert "30 min" in early.value.detail
        assert balance(player) == 150

        clock.shift(timedelta(minutes=30))
        assert claim_daily(player=player).balance == 200


def test_claim_refusal_says_how_long_to_wait(player):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        claim_daily(player=player)
        clock.shift(timedelta(hours=2))
        with pytest.raises(ClaimTooEarly, match="next claim is in 22 h 0 min"):
            claim_daily(player=player)


def test_claims_can_be_switched_off(player, configure, balance):
    configure(daily_claim=0)
    with pytest.raises(ClaimUnavailable):
        claim_daily(player=player)
    assert balance(player) == 100


def test_operator_grant_is_recorded_with_who_and_why(make_player, balance):
    admin = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    player = make_player()
    grant = grant_credits(player=player, amount=40, actor=admin, memo="  apology for downtime ")
    assert balance(player) == 140
    assert (grant.kind, grant.actor, grant.memo) == ("admin_grant", admin, "apology for downtime")


@pytest.mark.parametrize(("amount", "memo"), [(0, "why"), (-3, "why"), (5, "  ")])
def test_operator_grant_needs_a_positive_amount_and_a_reason(player, balance, amount, memo):
    admin = register_operator(
        username="op", email="op@example.com", password="a-long-enough-passphrase"
    )
    with pytest.raises(GrantInvalid):
        grant_credits(player=player, amount=amount, actor=admin, memo=memo)
    assert balance(player) == 100
