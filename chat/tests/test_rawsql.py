import pytest
from django.db import DatabaseError, connection, transaction

from chat import rawsql
from chat.rawsql import Statement
from game.models import GameConfig

CONFIG = GameConfig._meta.db_table


def change_step(step: int, *, prepared: bool = True) -> list[dict]:
    return rawsql.batch(
        [
            Statement(f"UPDATE {CONFIG} SET price_step = %s WHERE id = 1", [step], prepared),  # noqa: S608
            Statement(
                f"SELECT price_step AS step, price_step + %s AS next FROM {CONFIG} WHERE id = 1",  # noqa: S608
                [1],
                prepared,
            ),
        ]
    )


@pytest.mark.django_db
def test_statements_sent_together_run_in_order_and_answer_with_the_last():
    with transaction.atomic():
        assert change_step(7) == [{"step": 7, "next": 8}]
        assert change_step(8) == [{"step": 8, "next": 9}]  # again, already planned
        assert change_step(9, prepared=False) == [{"step": 9, "next": 10}]
    assert GameConfig.load().price_step == 9


@pytest.mark.django_db
def test_a_failing_statement_raises_and_its_transaction_keeps_nothing():
    before = GameConfig.load()
    with pytest.raises(DatabaseError), transaction.atomic():
        rawsql.batch(
            [
                Statement(f"UPDATE {CONFIG} SET price_step = %s WHERE id = 1", [9], True),  # noqa: S608
                Statement("SELECT * FROM no_such_table"),
                Statement(f"UPDATE {CONFIG} SET price_base = %s WHERE id = 1", [9], True),  # noqa: S608
            ]
        )
    after = GameConfig.load()
    assert (after.price_step, after.price_base) == (before.price_step, before.price_base)
    with transaction.atomic():  # what was planned in the failed transaction still runs
        assert change_step(11) == [{"step": 11, "next": 12}]


def prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares")
@pytest.mark.django_db
def test_only_statements_marked_so_are_prepared():
    text = f"SELECT price_step * 2 AS doubled FROM {CONFIG} WHERE id = %s"  # noqa: S608
    assert rawsql.batch([Statement(text, [1])]) == [{"doubled": 10}]
    assert not [s for s in prepared_statements() if "price_step * 2" in s]
    assert rawsql.batch([Statement(text, [1], prepared=True)]) == [{"doubled": 10}]
    assert [s for s in prepared_statements() if "price_step * 2" in s]
