"""Small helpers for the few hand-written statements on the money path.

The send path runs once per message and holds the pot's lock; building its statements
with the ORM cost more time than running them, so those few are written out here. They
are plain SQL that PostgreSQL and SQLite both accept.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def for_update(of: str = "") -> str:
    """Row locks where the database has them; SQLite locks the whole database instead."""
    if not connection.features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {of}" if of else " FOR UPDATE"


def timestamp(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def decimal(value: Decimal, max_digits: int, decimal_places: int):
    return connection.ops.adapt_decimalfield_value(value, max_digits, decimal_places)


def fetchall(sql: str, params: Sequence = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetchone(sql: str, params: Sequence = ()) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def execute(sql: str, params: Sequence = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def instance(model, field_names: Sequence[str], row: Sequence):
    """A model instance from a row whose columns are named by `field_names` (attnames),
    in any order; the fields not given are deferred, as with .only()."""
    values = dict(zip(field_names, row, strict=True))
    ordered = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, ordered, [values[name] for name in ordered])
