-- pgbench: the settlement transaction of one losing message, statement for statement as
-- the app sends it (see chat/services.py), for random players of the benchmark.
\set player random(:first_player, :last_player)
BEGIN;
SELECT a.id, a.balance, (SELECT id FROM wallet_account WHERE kind = 'pot'),
       (SELECT id FROM wallet_account WHERE kind = 'house'),
       (SELECT id FROM pot_round WHERE outcome = 'open'),
       (SELECT server_seed FROM pot_round WHERE outcome = 'open')
  FROM wallet_account a WHERE a.owner_id = :player FOR UPDATE;
UPDATE accounts_user SET nonce = nonce + 1, messages_sent = messages_sent + 1 WHERE id = :player
  RETURNING client_seed, nonce - 1, messages_sent,
    (SELECT COUNT(*) FROM chat_message m WHERE m.player_id = :player
       AND m.round_id = (SELECT id FROM pot_round WHERE outcome = 'open'));
SAVEPOINT settle;
INSERT INTO chat_message (player_id, round_id, body, price, client_seed, nonce, roll, win_chance,
                          won, payout, balance_after, pot_after, next_price, reply,
                          idempotency_key, created_at)
  SELECT :player, id, 'pgbench', 5, 'pgbench', 0, 0.5, 0.1, false, 0, 0, NULL, 10, '', '', now()
  FROM pot_round WHERE outcome = 'open';
INSERT INTO wallet_transfer (from_account_id, to_account_id, amount, kind, message_id, round_id,
                             actor_id, memo, created_at)
  SELECT a.id, (SELECT id FROM wallet_account WHERE kind = 'pot'), 5, 'message_fee',
         currval('chat_message_id_seq'), (SELECT id FROM pot_round WHERE outcome = 'open'),
         NULL, '', now()
  FROM wallet_account a WHERE a.owner_id = :player;
UPDATE wallet_account SET balance = balance + CASE kind WHEN 'pot' THEN 5 ELSE -5 END
  WHERE owner_id = :player
     OR (kind = 'pot' AND round_id = (SELECT id FROM pot_round WHERE outcome = 'open'))
  RETURNING id, balance;
COMMIT;
