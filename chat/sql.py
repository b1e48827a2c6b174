"""The statements of the per-message path, written by hand: the project's one module of
SQL. Everything else goes through the ORM.

A send runs for every message and holds the player's lock, then the pot's, the one lock
every message takes. Each statement below says what the ORM cost in its place, measured
in-process on PostgreSQL over one connection (the CPU of the process that sends them, per
run). Together, under load at 32 connections with the worker beside the web processes
(docs/PERFORMANCE.md): the send through the ORM, the same steps in the same transaction,
139 to 143 messages/s and 8.3 ms of the web processes' CPU per message; with these
statements, 346 to 356 messages/s and 2.6 to 2.7 ms.

The statements are whole and plain, in SQL both PostgreSQL and SQLite accept. Their column
lists come from the models, their rows are read by column name, and the code's constants
are written into their text (`rawsql.constant`), so that on PostgreSQL each is planned
once per connection and only executed after that (`Statement.prepared`).
"""

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from accounts.models import User
from game.models import GameConfig
from pot.models import Round
from pot.services import CLOSING_FIELDS
from wallet.models import Account

from .models import REPLIES_CHANNEL, Message, Reply
from .rawsql import (
    Statement,
    batch,
    constant,
    for_update,
    insert,
    next_key,
    placeholders,
    row_of,
)
from .selectors import start_of_today

ACCOUNT = Account._meta.db_table
MESSAGE = Message._meta.db_table
USER = User._meta.db_table
ROUND = Round._meta.db_table

# What a send reads of each model, by its prefix in `open_send`'s row.
OPENED = {
    "player": (User, ["id", "username", "client_seed"]),
    "account": (Account, ["id", "kind", "balance"]),
    "pot": (Account, ["id", "kind"]),
    "house": (Account, ["id", "kind"]),
    "round": (Round, ["id", "number", "outcome", "server_seed_hash", "server_seed"]),
    # Every parameter of the game; not when an operator last changed them.
    "config": (
        GameConfig,
        [f.attname for f in GameConfig._meta.concrete_fields if f.name != "updated_at"],
    ),
}


def open_send(player_id: int) -> dict | None:
    """Lock the player's account, advance their nonce and message count, and read what
    the message is priced, drawn and settled with: the player, their account, the pot's and
    the house's keys, the open round, the game's config, the player's messages in the
    pricing window (`n`), the draw's nonce and the player's message number (`ordinal`), and
    a key reserved for the message (`message_id`). None if the player is gone or inactive.

    Only the player's account is locked; the rest is read unlocked (the pot's update checks
    its round). The read comes after the lock, as a statement of its own, so it sees the
    counters as the player's last message committed them. In one round trip, 0.26 ms: through
    the ORM (select_for_update(), update() with F(), then the player, the config, the open
    round, the pot and house and the count), seven round trips and 3.6 ms.
    """
    lock, advance, read = _open_statements(connection.vendor)
    rows = batch(
        [
            Statement(lock, [player_id], prepared=True),
            Statement(advance, [player_id], prepared=True),
            Statement(read, [_day_start(), player_id], prepared=True),
        ]
    )
    return rows[0] if rows else None


@functools.cache
def _open_statements(vendor: str) -> tuple[str, str, str]:
    """The texts of `open_send`'s statements, written once per database vendor."""
    aliases = dict(player="u", account="a", pot="p", house="h", round="r", config="c")
    columns = ", ".join(
        f"{aliases[prefix]}.{model._meta.get_field(name).column} AS {prefix}_{name}"
        for prefix, (model, names) in OPENED.items()
        for name in names
    )
    window = GameConfig.PricingWindow
    count = f"(SELECT COUNT(*) FROM {MESSAGE} m WHERE m.player_id = u.id"  # noqa: S608
    n = (
        f"CASE c.pricing_window WHEN {constant(window.ROUND)} THEN {count} AND m.round_id = r.id) "
        f"WHEN {constant(window.DAY)} THEN {count} AND m.created_at >= %s) ELSE {count}) END"
    )
    return (
        f"SELECT id FROM {ACCOUNT} WHERE owner_id = %s{for_update()}",  # noqa: S608
        f"UPDATE {USER} SET nonce = nonce + 1, messages_sent = messages_sent + 1 "  # noqa: S608
        "WHERE id = %s",
        f"SELECT {columns}, {n} AS n, u.nonce - 1 AS nonce, u.messages_sent AS ordinal, "  # noqa: S608
        f"{next_key(Message)} AS message_id "
        f"FROM {USER} u JOIN {ACCOUNT} a ON a.owner_id = u.id, {ACCOUNT} p, {ACCOUNT} h, "
        f"{Round._meta.db_table} r, {GameConfig._meta.db_table} c "
        f"WHERE u.id = %s AND u.is_active AND p.kind = {constant(Account.Kind.POT)} "
        f"AND h.kind = {constant(Account.Kind.HOUSE)} "
        f"AND r.outcome = {constant(Round.Outcome.OPEN)} AND c.id = {constant(1)}",
    )


def _day_start():
    return Message._meta.get_field("created_at").get_db_prep_value(start_of_today(), connection)


def opened(row: dict, prefix: str):
    """The instance of OPENED[prefix] in `open_send`'s row, its other fields deferred."""
    model, names = OPENED[prefix]
    values = [_python(model._meta.get_field(name), row[f"{prefix}_{name}"]) for name in names]
    return model.from_db(DEFAULT_DB_ALIAS, names, values)


def _python(field, value):
    """A column's value as the model holds it. PostgreSQL's driver gives Python's types
    already; SQLite gives a decimal as a float and a boolean as 0 or 1."""
    value = field.to_python(value)
    if isinstance(field, models.DecimalField) and value is not None:
        value = value.quantize(Decimal(1).scaleb(-field.decimal_places))
    return value


def settle(
    changes: Mapping[int, int],
    *,
    pot_id: int,
    pot_change: int,
    pot_round_id: int,
    message: Message,
    reply: Reply,
    transfers: Sequence,
) -> int | None:
    """Settle the send in one round trip: apply its balance changes (account key: credits; the
    pot's apart), insert its reply (waiting for a worker, which PostgreSQL notifies as the
    transaction commits) and its transfers, and last the message, which joins its round
    only while the pot is still in it. The pot's balance as the message left it (stored as
    `pot_after`, unless the message gives it), or None if the pot has moved on to another
    round: the insert then stores no row, and the caller must roll back.

    The pot's update comes after the others, in the lock order of every money path
    (players, the house, the pot), so the one lock every message needs is taken last; the
    message's insert is last so that its row, or none, is what comes back. (Its transfers
    name it before it exists: the foreign keys are checked at the commit.) The transfers'
    text varies only with their number, one to three legs; the account updates', with the
    player alone or with the house.

    0.6 ms: through the ORM (update() per account, the pot's balance read back, save()
    of the message and of its reply, bulk_create()), six round trips and 2.8 ms.
    """
    statements = []
    if changes:
        # Typed, so that one plan takes any amount.
        cases = " ".join(["WHEN %s THEN CAST(%s AS BIGINT)"] * len(changes))
        statements.append(
            Statement(
                f"UPDATE {ACCOUNT} SET balance = balance + CASE id {cases} ELSE 0 END "  # noqa: S608
                f"WHERE id IN ({placeholders(len(changes))})",
                [value for item in changes.items() for value in item] + list(changes),
                prepared=True,
            )
        )
    statements += [
        Statement(
            f"UPDATE {ACCOUNT} SET balance = balance + CAST(%s AS BIGINT) WHERE id = %s",  # noqa: S608
            [pot_change, pot_id],
            prepared=True,
        ),
        Statement(*insert([reply]), prepared=True),
        *_notify(REPLIES_CHANNEL),
        Statement(*insert(transfers), prepared=True),
        _message_in_round(message, pot_id=pot_id, pot_round_id=pot_round_id),
    ]
    rows = batch(statements)
    return rows[0]["pot_after"] if rows else None


def _notify(channel: str) -> list[Statement]:
    """Tell whoever listens on `channel` once the transaction commits (PostgreSQL's NOTIFY;
    nothing elsewhere)."""
    return [Statement(f"NOTIFY {channel}")] if connection.vendor == "postgresql" else []


def _message_in_round(message: Message, *, pot_id: int, pot_round_id: int) -> Statement:
    read = {"pot_after": "pot.balance"} if message.pot_after is None else {}
    columns, values, params = row_of(message, read=read)
    sql = (
        f"INSERT INTO {MESSAGE} ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608
        f"FROM {ACCOUNT} pot WHERE pot.id = %s AND pot.round_id = %s RETURNING pot_after"
    )
    return Statement(sql, [*params, pot_id, pot_round_id], prepared=True)


LOCKED = ["id", "kind", "balance", "round_id"]


def lock_house_and_pot() -> dict[int, Account]:
    """A win's locks, which it takes before it pays the pot out: the house's, then the
    pot's, in the lock order of every money path: 0.19 ms; by the ORM
    (`wallet.services.lock_accounts`), 1.15 ms. With the default 10 % win chance, one
    message in ten takes them."""
    rows = batch(
        [
            Statement(
                f"SELECT {', '.join(LOCKED)} FROM {ACCOUNT} "  # noqa: S608
                f"WHERE kind IN ({constant(Account.Kind.HOUSE)}, {constant(Account.Kind.POT)}) "
                f"ORDER BY kind = {constant(Account.Kind.POT)}{for_update()}",
                prepared=True,
            )
        ]
    )
    return {
        row["id"]: Account.from_db(DEFAULT_DB_ALIAS, LOCKED, list(row.values())) for row in rows
    }


def close_won_round(pot_round: Round, next_round: Round, *, pot_id: int) -> None:
    """Store a won round's closing (pot.services.close), with the count of its messages,
    open the next round and point the pot at it, in one round trip. With the win's lock,
    1.0 ms: by the ORM (`lock_accounts`, then `pot.services.close_round_and_start_next`:
    count(), save() twice, update()), five round trips and 3.1 ms."""
    closing = [Round._meta.get_field(name) for name in CLOSING_FIELDS if name != "message_count"]
    database = connections[DEFAULT_DB_ALIAS]
    values = [
        field.get_db_prep_save(getattr(pot_round, field.attname), database) for field in closing
    ]
    assignments = ", ".join(f"{field.column} = %s" for field in closing)
    [row] = batch(
        [
            Statement(
                f"UPDATE {ROUND} SET {assignments}, message_count = "  # noqa: S608
                f"(SELECT COUNT(*) FROM {MESSAGE} WHERE round_id = %s) WHERE id = %s",
                [*values, pot_round.pk, pot_round.pk],
                prepared=True,
            ),
            Statement(*insert([next_round]), prepared=True),
            Statement(
                f"UPDATE {ACCOUNT} SET round_id = (SELECT id FROM {ROUND} WHERE number = %s) "  # noqa: S608
                f"WHERE id = %s RETURNING round_id, "
                f"(SELECT message_count FROM {ROUND} WHERE id = %s) AS message_count",
                [next_round.number, pot_id, pot_round.pk],
                prepared=True,
            ),
        ]
    )
    pot_round.message_count = row["message_count"]
    next_round.pk = row["round_id"]
    next_round._state.adding, next_round._state.db = False, DEFAULT_DB_ALIAS  # as save() does
