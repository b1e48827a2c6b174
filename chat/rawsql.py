"""How the send's hand-written statements (chat.sql) go to the database.

Statements that need nothing from each other's results go together (`batch`): on
PostgreSQL, in one round trip. A statement whose text never varies is planned once per
connection (`Statement.prepared`); any other is planned on each run, as the ORM's are.
"""

import functools
import hashlib
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections


class Statement(NamedTuple):
    sql: str
    params: Sequence = ()
    # Planned once per connection (PREPARE), then only executed. Only for a text that is a
    # constant of the code, or that varies within a few shapes the code fixes: a prepared
    # statement lives as long as its connection, so texts that vary with their inputs
    # would pile up there.
    prepared: bool = False


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def constant(value: str | int) -> str:
    """A constant of the code (a choice's value, a fixed key) written into a statement's
    text instead of bound. A statement planned once (see `Statement.prepared`) then has a
    plan that fits every execution: one whose values are bound cannot use a partial index
    that names them, such as the one open round's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"[a-z_]+", value):
        return f"'{value}'"
    raise ValueError(f"{value!r} is not a constant that can be written into a statement.")


def for_update() -> str:
    """Row locks where the database has them; SQLite locks the whole database instead."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def batch(statements: Sequence[Statement]) -> list[dict]:
    """Run the statements in order, in one round trip where the driver allows, and return
    the rows of the last one, each as a dict by column name.

    PostgreSQL's drivers bind parameters on the client here, so the statements travel as
    one text and run one after the other, as if sent apart; the first that fails raises,
    and the ones after it do not run. SQLite runs in-process: they are run one by one.
    """
    database = connections[DEFAULT_DB_ALIAS]
    with database.cursor() as cursor:
        if _sends_many_statements(database):
            texts = [_executable(cursor, database, statement) for statement in statements]
            params = [value for statement in statements for value in statement.params]
            cursor.execute(";\n".join(texts), params)
        else:
            for statement in statements:
                cursor.execute(statement.sql, statement.params)
        if cursor.description is None:
            return []
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _sends_many_statements(database) -> bool:
    # psycopg 3 with server-side binding takes one statement per execute.
    return database.vendor == "postgresql" and not database.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )


# The statements prepared on each open PostgreSQL connection, by name. A prepared
# statement lives as long as its connection; transactions that roll back keep it.
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _executable(cursor, database, statement: Statement) -> str:
    """The statement's text, or for a prepared one `EXECUTE` of it, prepared on this
    connection first if it is new to it. Preparing is its own round trip, so a failure is
    never mistaken for a prepared name."""
    if not statement.prepared or not prepares():
        return statement.sql
    name, parameterized = _preparable(statement.sql, len(statement.params))
    names = _prepared_on.setdefault(database.connection, set())
    if name not in names:
        cursor.execute(f"PREPARE {name} AS {parameterized}")
        names.add(name)
    return (
        f"EXECUTE {name}({placeholders(len(statement.params))})"
        if statement.params
        else (f"EXECUTE {name}")
    )


def prepares() -> bool:
    """Whether statements may be prepared on the connection: not through a pooler in
    transaction mode, whose next transaction may run on another server connection, which
    never saw the PREPARE (settings.DATABASE_POOLER)."""
    return settings.DATABASE_POOLER != "transaction"


@functools.lru_cache(maxsize=64)
def _preparable(sql: str, count: int) -> tuple[str, str]:
    """The statement's name, and its text with numbered parameters ($1, $2 ...)."""
    name = "chatpot_" + hashlib.sha256(sql.encode()).hexdigest()[:24]
    numbered = iter(range(1, count + 1))
    text = re.sub(r"%[s%]", lambda m: f"${next(numbered)}" if m[0] == "%s" else "%", sql)
    return name, text


def insert(objs: Sequence) -> tuple[str, list]:
    """The INSERT of unsaved instances of one model (see `row_of`). Its text varies only
    with the number of rows."""
    rows = [row_of(obj) for obj in objs]
    columns = rows[0][0]
    values = ", ".join(f"({', '.join(slots)})" for _, slots, _ in rows)
    sql = f"INSERT INTO {type(objs[0])._meta.db_table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608
    return sql, [value for *_, params in rows for value in params]


def row_of(obj, *, read: Mapping[str, str] | None = None) -> tuple[list[str], list[str], list]:
    """The row an unsaved model instance inserts: its columns (every concrete field's; a
    key left unset is the database's to give), the SQL of each value, and the values of
    their placeholders, each prepared as the ORM prepares it for saving (its default,
    `auto_now_add`, the database's own types), so a field added to the model is stored
    without a change here. `read` gives fields (by attname) whose value an SQL expression
    reads instead."""
    read = read or {}
    database = connections[DEFAULT_DB_ALIAS]
    columns, slots, params = [], [], []
    for field in type(obj)._meta.concrete_fields:
        if field.primary_key and getattr(obj, field.attname) is None:
            continue
        columns.append(field.column)
        if field.attname in read:
            slots.append(read[field.attname])
        else:
            slots.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(obj, True), database))
    return columns, slots, params


def next_key(model) -> str:
    """An SQL expression that reserves the key the next row of `model` gets, so statements
    sent together with its insert can refer to it. PostgreSQL takes it from the table's
    sequence; elsewhere (SQLite, whose writers take turns) it is the largest key plus one."""
    table, column = model._meta.db_table, model._meta.pk.column
    if connection.vendor == "postgresql":
        return f"nextval(pg_get_serial_sequence('{table}', '{column}'))"
    return f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table})"  # noqa: S608
