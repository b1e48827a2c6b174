"""Small helpers for the few hand-written statements on the money path.

The send path runs once per message and holds the pot's lock; building its statements
with the ORM cost more time than running them, so those few are written out here. They
are plain SQL that PostgreSQL and SQLite both accept.

Statements that need nothing from each other's results go to the database together
(`batch`): on PostgreSQL, in one round trip.
"""

import functools
import hashlib
import re
import weakref
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import DEFERRED

type Statement = tuple[str, Sequence]


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def constant(value: str | int) -> str:
    """A constant of the code (a choice's value, a fixed key) written into a statement's
    text instead of bound. A statement planned once (see `batch`) then has a plan that
    fits every execution: one whose values are bound cannot use a partial index that
    names them, such as the one open round's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[a-z_]+", value):
        return f"'{value}'"
    raise ValueError(f"{value!r} is not a constant that can be written into a statement.")


def for_update(of: str = "") -> str:
    """Row locks where the database has them; SQLite locks the whole database instead."""
    if not connection.features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {of}" if of else " FOR UPDATE"


def timestamp(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def decimal(value: Decimal, max_digits: int, decimal_places: int):
    return connection.ops.adapt_decimalfield_value(value, max_digits, decimal_places)


def fetchone(sql: str, params: Sequence = ()) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def batch(statements: Sequence[Statement], *, durable: bool = True) -> list[tuple]:
    """Run the statements in order, in one round trip where the driver allows, and return
    the rows of the last one, which must return rows.

    PostgreSQL's drivers bind parameters on the client here, so the statements travel as
    one text and run one after the other, as if sent apart; the first that fails raises,
    and the ones after it do not run. Each is planned once per connection (`PREPARE`),
    then only executed. SQLite runs in-process: they are run one by one.

    `durable=False` is for what may be lost if the database server itself crashes within
    a moment of the commit, never for money: outside a transaction, the statements are
    then committed without waiting for PostgreSQL to flush them to disk (they are still
    all or nothing, and nothing later can commit before them). Inside a transaction it
    changes nothing: the transaction's own commit decides.
    """
    database = connections[DEFAULT_DB_ALIAS]
    with database.cursor() as cursor:
        if _sends_many_statements(database):
            statements = [_prepared(cursor, database, statement) for statement in statements]
            if not durable and not database.in_atomic_block:
                # Several statements sent as one are one transaction; this setting is its.
                statements.insert(0, ("SET LOCAL synchronous_commit TO OFF", []))
            cursor.execute(
                ";\n".join(sql for sql, _ in statements),
                [value for _, params in statements for value in params],
            )
        else:
            for sql, params in statements:
                cursor.execute(sql, params)
        return cursor.fetchall()


def _sends_many_statements(database) -> bool:
    # psycopg 3 with server-side binding takes one statement per execute.
    return database.vendor == "postgresql" and not database.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )


# The statements prepared on each open PostgreSQL connection, by name. A prepared
# statement lives as long as its connection; transactions that roll back keep it.
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _prepared(cursor, database, statement: Statement) -> Statement:
    """`EXECUTE` of the statement, prepared on this connection first if it is new to it.

    The statement is named after its text, so any text works; the hot path has a handful.
    Preparing is its own round trip, so a failure is never mistaken for a prepared name.
    """
    sql, params = statement
    name, parameterized = _preparable(sql, len(params))
    names = _prepared_on.setdefault(database.connection, set())
    if name not in names:
        cursor.execute(f"PREPARE {name} AS {parameterized}")
        names.add(name)
    arguments = f"({placeholders(len(params))})" if params else ""
    return f"EXECUTE {name}{arguments}", params


@functools.lru_cache(maxsize=512)
def _preparable(sql: str, count: int) -> tuple[str, str]:
    """The statement's name, and its text with numbered parameters ($1, $2 ...)."""
    name = "chatpot_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    numbered = iter(range(1, count + 1))
    text = re.sub(r"%[s%]", lambda m: f"${next(numbered)}" if m[0] == "%s" else "%", sql)
    return name, text


def insert(obj, *, read: dict[str, Statement] | None = None) -> Statement:
    """The INSERT of an unsaved model instance: every concrete field, each value prepared
    as the ORM prepares it for saving (its default, `auto_now_add`, the database's own
    types), so a field added to the model is stored without a change here. `read` gives
    fields whose value an SQL expression reads instead, as (text, parameters)."""
    model = type(obj)
    read = read or {}
    database = connections[DEFAULT_DB_ALIAS]
    fields = _insert_fields(model)
    slots, params = [], []
    for field in fields:
        value = field.pre_save(obj, True)
        if field.attname in read:
            sql, expression_params = read[field.attname]
            slots.append(sql)
            params.extend(expression_params)
        else:
            slots.append("%s")
            params.append(field.get_db_prep_save(value, database))
    columns = ", ".join(field.column for field in fields)
    table = model._meta.db_table
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(slots)})", params  # noqa: S608


@functools.cache
def _insert_fields(model) -> tuple:
    return tuple(model._meta.concrete_fields)


def next_key(model) -> str:
    """An SQL expression that reserves the key the next row of `model` gets, so statements
    sent together with its insert can refer to it. PostgreSQL takes it from the table's
    sequence; elsewhere (SQLite, whose writers take turns) it is the largest key plus one."""
    table, column = model._meta.db_table, model._meta.pk.column
    if connection.vendor == "postgresql":
        return f"nextval(pg_get_serial_sequence('{table}', '{column}'))"
    return f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table})"  # noqa: S608


def instance(model, field_names: Sequence[str], row: Sequence):
    """A model instance from a row whose columns are named by `field_names` (attnames),
    in any order; the fields not given are deferred, as with .only()."""
    values = [DEFERRED if i is None else row[i] for i in _positions(model, tuple(field_names))]
    return model.from_db(DEFAULT_DB_ALIAS, None, values)


@functools.cache
def _positions(model, field_names: tuple[str, ...]) -> tuple[int | None, ...]:
    """Where each of the model's concrete fields is in a row of `field_names` (None: not
    there), so that a row becomes the model's arguments in one pass."""
    index = {name: i for i, name in enumerate(field_names)}
    if len(index) != len(field_names):
        raise ValueError(f"Fields named twice: {field_names}")
    positions = tuple(index.pop(f.attname, None) for f in model._meta.concrete_fields)
    if index:
        raise ValueError(f"{model.__name__} has no fields {sorted(index)}")
    return positions


def get(model, pk):
    """The row of `model` with this key, every field read and converted as the ORM would,
    or None: for the lookups made on every request."""
    sql, field_names = _select_by_key(model)
    rows = batch([(sql, [pk])])
    return converted(model, field_names, rows[0]) if rows else None


@functools.cache
def _select_by_key(model) -> tuple[str, tuple[str, ...]]:
    fields = model._meta.concrete_fields
    columns = ", ".join(field.column for field in fields)
    table, key = model._meta.db_table, model._meta.pk.column
    sql = f"SELECT {columns} FROM {table} WHERE {key} = %s"  # noqa: S608
    return sql, tuple(field.attname for field in fields)


def converted(model, field_names: Sequence[str], row: Sequence):
    """Like `instance`, for a row as the database driver returned it: each value is first
    converted as the ORM would (SQLite's decimals and datetimes, for instance)."""
    field_names = tuple(field_names)
    database = connections[DEFAULT_DB_ALIAS]
    converters = _converters(model, field_names, database.alias)
    if converters:
        row = list(row)
        for index, column, functions in converters:
            for convert in functions:
                row[index] = convert(row[index], column, database)
    return instance(model, field_names, row)


@functools.cache
def _converters(model, field_names: tuple[str, ...], alias: str) -> list[tuple]:
    database = connections[alias]
    converters = []
    for index, name in enumerate(field_names):
        column = model._meta.get_field(name).get_col(model._meta.db_table)
        functions = database.ops.get_db_converters(column) + column.get_db_converters(database)
        if functions:
            converters.append((index, column, functions))
    return converters
