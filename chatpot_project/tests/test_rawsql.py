import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chatpot_project import rawsql
from pot.models import GameConfig


@pytest.mark.django_db
def test_a_row_read_by_hand_equals_the_orms(player):
    User.objects.filter(pk=player.pk).update(last_login=timezone.now())
    expected = User.objects.get(pk=player.pk)
    found = rawsql.get(User, player.pk)
    for field in User._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert rawsql.get(User, 0) is None


@pytest.mark.django_db
def test_statements_sent_together_run_in_order_and_answer_with_the_last():
    with transaction.atomic():
        rows = rawsql.batch(
            [
                (f"UPDATE {GameConfig._meta.db_table} SET price_step = %s WHERE id = 1", [7]),
                (f"SELECT price_step, %s FROM {GameConfig._meta.db_table} WHERE id = 1", ["x"]),
            ]
        )
    assert rows == [(7, "x")]
    assert GameConfig.load().price_step == 7


@pytest.mark.django_db
def test_a_failing_statement_raises_and_its_transaction_keeps_nothing():
    before = GameConfig.load()
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - each backend's own error
        rawsql.batch(
            [
                (f"UPDATE {GameConfig._meta.db_table} SET price_step = 9 WHERE id = 1", []),
                ("SELECT * FROM no_such_table", []),
                (f"UPDATE {GameConfig._meta.db_table} SET price_base = 9 WHERE id = 1", []),
            ]
        )
    after = GameConfig.load()
    assert (after.price_step, after.price_base) == (before.price_step, before.price_base)
