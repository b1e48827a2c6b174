"""Data for the benchmark, run inside the benchmark's Django settings.

python -m bench.fixtures players N TOKENS_FILE [PREFIX]   players with ample credits, a token each
python -m bench.fixtures reader USERNAME PASSWORD MESSAGES   a player to time pages with
python -m bench.fixtures history PLAYERS MESSAGES HEAVY_USERNAME HEAVY_MESSAGES
python -m bench.fixtures rounds COUNT   closed rounds before the ones played
"""

import sys

import django


def players(count: int, tokens_file: str, prefix: str = "bench") -> None:
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from accounts.services import register_operator, register_player
    from wallet.services import grant_credits

    operator = User.objects.filter(username="bench-operator").first()
    if operator is None:
        operator = register_operator(
            username="bench-operator", email="", password="bench-password-0"
        )
    tokens = []
    for index in range(count):
        player = register_player(username=f"{prefix}{index}", password="bench-password-0")
        grant_credits(player=player, amount=10**12, actor=operator, memo="benchmark credits")
        tokens.append(str(RefreshToken.for_user(player).access_token))
    with open(tokens_file, "w") as handle:
        handle.write("\n".join(tokens) + "\n")


def reader(username: str, password: str, messages: int) -> None:
    from accounts.models import User
    from accounts.services import register_player
    from chat.services import send_message
    from wallet.services import grant_credits

    player = register_player(username=username, password=password)
    operator = User.objects.get(username="bench-operator")
    grant_credits(player=player, amount=10**9, actor=operator, memo="benchmark reader")
    for n in range(messages):
        send_message(player=player, body=f"reader message {n}")


HISTORY_SQL = """
-- A large, consistent history in bulk: closed rounds of ten messages each, every round won
-- by its last message; a signup grant per player; one heavy player with many messages.
CREATE TEMP TABLE hist_params AS SELECT
    %(players)s::bigint AS players, %(messages)s::bigint AS messages,
    %(heavy_messages)s::bigint AS heavy_messages, %(heavy)s::text AS heavy,
    (SELECT id FROM wallet_account WHERE kind = 'house') AS house,
    (SELECT id FROM wallet_account WHERE kind = 'pot') AS pot;

-- Round numbers 1..H go to the history; the rounds played so far move up past them.
CREATE TEMP TABLE hist_rounds_count AS
    SELECT (messages / 10 + heavy_messages) AS rounds FROM hist_params;
UPDATE pot_round SET number = number + (SELECT rounds FROM hist_rounds_count);

INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, client_seed, nonce, messages_sent)
SELECT '!', false, 'hist' || g, '', '', '', false, true, now() - interval '30 days',
       substr(md5(g::text), 1, 16), 0, 0
FROM generate_series(1, (SELECT players FROM hist_params)) g;

INSERT INTO wallet_account (kind, owner_id, balance, created_at, round_id)
SELECT 'player', u.id, 0, now() - interval '30 days', NULL
FROM accounts_user u WHERE u.username LIKE 'hist%%';

CREATE TEMP TABLE hist_players AS
SELECT row_number() OVER (ORDER BY u.id) AS n, u.id AS user_id, a.id AS account_id, u.client_seed
FROM accounts_user u JOIN wallet_account a ON a.owner_id = u.id
WHERE u.username LIKE 'hist%%';
CREATE INDEX ON hist_players (n);

INSERT INTO pot_round (number, opened_at, closed_at, outcome, winner_id, payout,
                       server_seed_hash, server_seed, message_count, reset_by_id, reset_reason)
SELECT g, now() - interval '30 days', now() - interval '29 days', 'won',
       (SELECT user_id FROM hist_players WHERE n = 1), 0,
       encode(sha256(md5(g::text)::bytea), 'hex'), md5(g::text), 0, NULL, ''
FROM generate_series(1, (SELECT rounds FROM hist_rounds_count)) g;

CREATE TEMP TABLE hist_round_ids AS
SELECT number, id FROM pot_round WHERE number <= (SELECT rounds FROM hist_rounds_count);
CREATE INDEX ON hist_round_ids (number);

-- Ten messages per round from ten different players; then the heavy player's messages,
-- one per round of their own.
INSERT INTO chat_message (player_id, round_id, body, price, client_seed, nonce, roll, win_chance,
                          won, payout, balance_after, pot_after, next_price,
                          idempotency_key, created_at)
SELECT p.user_id, r.id, 'history message ' || g, 5, p.client_seed, (g - 1) / hp.players,
       random() * 0.9 + 0.1, 0.1, false, 0, 0, 0, 10, '',
       now() - interval '29 days'
FROM generate_series(1, (SELECT messages FROM hist_params)) g
CROSS JOIN hist_params hp
JOIN hist_players p ON p.n = (g - 1) %% hp.players + 1
JOIN hist_round_ids r ON r.number = (g - 1) / 10 + 1;

INSERT INTO chat_message (player_id, round_id, body, price, client_seed, nonce, roll, win_chance,
                          won, payout, balance_after, pot_after, next_price,
                          idempotency_key, created_at)
SELECT u.id, r.id, 'heavy history message ' || g, 5, u.client_seed, u.nonce + g - 1,
       random() * 0.9 + 0.1, 0.1, false, 0, 0, 0, 10, '',
       now() - interval '29 days' + g * interval '1 second'
FROM generate_series(1, (SELECT heavy_messages FROM hist_params)) g
CROSS JOIN accounts_user u
JOIN hist_round_ids r ON r.number = (SELECT messages FROM hist_params) / 10 + g
WHERE u.username = (SELECT heavy FROM hist_params);

-- Each history message answered.
INSERT INTO keeper_reply (message_id, status, ordinal, attempt, lease_until, text, request_id)
SELECT m.id, 'done', ROW_NUMBER() OVER (PARTITION BY m.player_id ORDER BY m.id), 1, NULL,
       'An answer from the keeper.', ''
FROM chat_message m JOIN hist_round_ids r ON r.id = m.round_id;

-- Each history round is won by its last message, which takes all its fees.
CREATE TEMP TABLE hist_wins AS
SELECT m.round_id, max(m.id) AS message_id, count(*) AS messages, sum(m.price) AS pot
FROM chat_message m JOIN hist_round_ids r ON r.id = m.round_id GROUP BY m.round_id;
UPDATE chat_message m SET won = true, payout = w.pot, roll = 0.05
FROM hist_wins w WHERE m.id = w.message_id;
UPDATE pot_round r SET winner_id = m.player_id, payout = w.pot, message_count = w.messages
FROM hist_wins w JOIN chat_message m ON m.id = w.message_id WHERE r.id = w.round_id;

-- The money, transfer by transfer: grants, fees, wins.
INSERT INTO wallet_transfer (from_account_id, to_account_id, amount, kind, message_id, round_id,
                             actor_id, memo, created_at)
SELECT hp.house, p.account_id, 100, 'signup_grant', NULL, NULL, NULL, 'Welcome to ChatPot',
       now() - interval '30 days'
FROM hist_players p CROSS JOIN hist_params hp;

INSERT INTO wallet_transfer (from_account_id, to_account_id, amount, kind, message_id, round_id,
                             actor_id, memo, created_at)
SELECT hp.house, a.id, 100000, 'admin_grant', NULL, NULL, NULL, 'history: heavy player',
       now() - interval '30 days'
FROM wallet_account a JOIN accounts_user u ON u.id = a.owner_id CROSS JOIN hist_params hp
WHERE u.username = hp.heavy;

INSERT INTO wallet_transfer (from_account_id, to_account_id, amount, kind, message_id, round_id,
                             actor_id, memo, created_at)
SELECT a.id, hp.pot, m.price, 'message_fee', m.id, m.round_id, NULL, '', m.created_at
FROM chat_message m JOIN hist_round_ids r ON r.id = m.round_id
JOIN wallet_account a ON a.owner_id = m.player_id CROSS JOIN hist_params hp;

INSERT INTO wallet_transfer (from_account_id, to_account_id, amount, kind, message_id, round_id,
                             actor_id, memo, created_at)
SELECT hp.pot, a.id, m.payout, 'pot_win', m.id, m.round_id, NULL, '', m.created_at
FROM hist_wins w JOIN chat_message m ON m.id = w.message_id
JOIN wallet_account a ON a.owner_id = m.player_id CROSS JOIN hist_params hp;

-- Balances follow from the transfers, as the audit demands.
UPDATE wallet_account a SET balance = a.balance + t.delta FROM (
    SELECT account, sum(delta) AS delta FROM (
        SELECT to_account_id AS account, amount AS delta FROM wallet_transfer t
        WHERE t.memo = 'Welcome to ChatPot' AND t.created_at < now() - interval '1 day'
           OR t.round_id IN (SELECT id FROM hist_round_ids) OR t.memo = 'history: heavy player'
        UNION ALL
        SELECT from_account_id, -amount FROM wallet_transfer t
        WHERE t.memo = 'Welcome to ChatPot' AND t.created_at < now() - interval '1 day'
           OR t.round_id IN (SELECT id FROM hist_round_ids) OR t.memo = 'history: heavy player'
    ) moves GROUP BY account
) t WHERE a.id = t.account;

-- Each player's nonce and count go on from their history, as the audit checks.
UPDATE accounts_user u SET nonce = u.nonce + c.n, messages_sent = u.messages_sent + c.n
FROM (SELECT player_id, count(*) AS n FROM chat_message m
      JOIN hist_round_ids r ON r.id = m.round_id GROUP BY player_id) c
WHERE u.id = c.player_id;
"""


def history(players: int, messages: int, heavy: str, heavy_messages: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            HISTORY_SQL,
            {
                "players": players,
                "messages": messages,
                "heavy": heavy,
                "heavy_messages": heavy_messages,
            },
        )
    with connection.cursor() as cursor:
        # Settle the bulk load, so what is measured next is the app, not the clean-up.
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")


ROUNDS_SQL = """
-- Closed rounds before the ones played: won by the first player, paying nothing (no
-- transfer to account for), their seeds revealed. The rounds played move up past them.
UPDATE pot_round SET number = number + %(count)s;
INSERT INTO pot_round (number, opened_at, closed_at, outcome, winner_id, payout,
                       server_seed_hash, server_seed, message_count, reset_reason)
SELECT g, now() - interval '1 day', now() - interval '1 day', 'won',
       (SELECT id FROM accounts_user ORDER BY id LIMIT 1), 0,
       md5(g::text) || md5((g + 1)::text), md5((g + 2)::text) || md5((g + 3)::text), 0, ''
FROM generate_series(1, %(count)s) g;
"""


def rounds(count: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(ROUNDS_SQL, {"count": count})


def main(argv: list[str]) -> None:
    django.setup()
    match argv:
        case ["players", count, tokens_file, *prefix]:
            players(int(count), tokens_file, *prefix)
        case ["reader", username, password, messages]:
            reader(username, password, int(messages))
        case ["history", count, messages, heavy, heavy_messages]:
            history(int(count), int(messages), heavy, int(heavy_messages))
        case ["rounds", count]:
            rounds(int(count))
        case _:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
