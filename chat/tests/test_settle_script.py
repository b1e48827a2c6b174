"""bench/settle.sql, pgbench's copy of a losing send (the ceiling `bin/bench` prints beside
every figure), is the app's send statement for statement: its inserts name the columns
the app's do, its read reads what the app's reads, and it runs as many statements, in the
same order of tables."""

import re
from pathlib import Path

from chat import sql
from chat.models import Message, Reply
from wallet.models import Transfer

SCRIPT = (Path(__file__).resolve().parents[2] / "bench" / "settle.sql").read_text()
STATEMENTS = [
    " ".join(line.strip() for line in statement.strip().rstrip(";").splitlines())
    for statement in re.split(
        r";\s*\n|\\gset\s*\n",
        "\n".join(line for line in SCRIPT.splitlines() if not line.startswith(("--", "\\set"))),
    )
    if statement.strip()
]


def inserted_columns(table: str) -> list[str]:
    (statement,) = [s for s in STATEMENTS if s.startswith(f"INSERT INTO {table} ")]
    return [c.strip() for c in re.match(r"INSERT INTO \w+ \(([^)]*)\)", statement)[1].split(",")]


def app_columns(model, *, key_given: bool) -> list[str]:
    """The columns the app's insert of an unsaved instance names (chat.rawsql.row_of)."""
    return [
        field.column for field in model._meta.concrete_fields if key_given or not field.primary_key
    ]


def test_its_inserts_name_the_columns_the_apps_do():
    assert inserted_columns(Message._meta.db_table) == app_columns(Message, key_given=True)
    assert inserted_columns(Reply._meta.db_table) == app_columns(Reply, key_given=True)
    assert inserted_columns(Transfer._meta.db_table) == app_columns(Transfer, key_given=False)


def test_its_read_reads_what_the_apps_reads():
    (read,) = [s for s in STATEMENTS if s.startswith("SELECT a.id AS account")]
    aliases = {"round": "r", "config": "c"}
    for prefix, alias in aliases.items():
        _, names = sql.OPENED[prefix]
        model = sql.OPENED[prefix][0]
        columns = [model._meta.get_field(name).column for name in names]
        read_here = re.findall(rf"\b{alias}\.(\w+)", read.split(" FROM accounts_user ")[0])
        assert sorted(set(read_here)) == sorted(set(columns)), prefix


def test_it_runs_the_apps_statements_in_the_apps_order():
    lock, advance, read = sql._open_statements("postgresql")
    tables = [re.search(r"(?:FROM|UPDATE|INTO)\s+(\w+)", s)[1] for s in (lock, advance, read)]
    settled = [
        "wallet_account",
        "wallet_account",
        "keeper_reply",
        None,
        "wallet_transfer",
        "chat_message",
    ]
    expected = ["BEGIN", *tables, *settled, "COMMIT"]
    found = [
        statement
        if statement in {"BEGIN", "COMMIT"}
        else None
        if statement.startswith("NOTIFY")
        else re.search(r"(?:FROM|UPDATE|INTO)\s+(\w+)", statement)[1]
        for statement in STATEMENTS
    ]
    assert found == expected
