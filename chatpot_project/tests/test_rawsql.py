import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import User
from chatpot_project import rawsql
from pot.models import GameConfig

CONFIG = GameConfig._meta.db_table


@pytest.mark.django_db
def test_a_row_read_by_hand_equals_the_orms(player):
    User.objects.filter(pk=player.pk).update(last_login=timezone.now())
    expected = User.objects.get(pk=player.pk)
    found = rawsql.get(User, player.pk)
    for field in User._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert rawsql.get(User, 0) is None


def change_step(step: int) -> list[tuple]:
    return rawsql.batch(
        [
            (f"UPDATE {CONFIG} SET price_step = %s WHERE id = 1", [step]),  # noqa: S608
            (f"SELECT price_step, price_step + %s FROM {CONFIG} WHERE id = 1", [1]),  # noqa: S608
        ]
    )


@pytest.mark.django_db
def test_statements_sent_together_run_in_order_and_answer_with_the_last():
    with transaction.atomic():
        assert change_step(7) == [(7, 8)]
        assert change_step(8) == [(8, 9)]  # the same statements again, already planned
    assert GameConfig.load().price_step == 8


@pytest.mark.django_db
def test_a_failing_statement_raises_and_its_transaction_keeps_nothing():
    before = GameConfig.load()
    with pytest.raises(DatabaseError), transaction.atomic():
        rawsql.batch(
            [
                (f"UPDATE {CONFIG} SET price_step = %s WHERE id = 1", [9]),  # noqa: S608
                ("SELECT * FROM no_such_table", []),
                (f"UPDATE {CONFIG} SET price_base = %s WHERE id = 1", [9]),  # noqa: S608
            ]
        )
    after = GameConfig.load()
    assert (after.price_step, after.price_base) == (before.price_step, before.price_base)
    with transaction.atomic():  # what was planned in the failed transaction still runs
        assert change_step(11) == [(11, 12)]


SETTING = ("SELECT current_setting('synchronous_commit')", [])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_that_need_not_wait_for_the_disk_does_not_and_no_other_is_affected():
    assert rawsql.batch([SETTING], durable=False) == [("off",)]
    assert rawsql.batch([SETTING]) == [("on",)]  # the setting was the batch's own
    with transaction.atomic():  # inside a transaction its own commit decides
        assert rawsql.batch([SETTING], durable=False) == [("on",)]
