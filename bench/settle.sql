-- pgbench: the settlement transaction of one losing message, statement for statement as
-- the app sends it (chat/sql.py), for random players of
-- the benchmark. Run with -M prepared: the app plans these statements once per connection.
-- The reply is stored as the app stores it, with its notification, but marked written, so
-- that no worker writes it.
\set player random(:first_player, :last_player)
BEGIN;
SELECT id FROM wallet_account WHERE owner_id = :player FOR UPDATE;
UPDATE accounts_user SET nonce = nonce + 1, messages_sent = messages_sent + 1 WHERE id = :player;
SELECT a.id AS account, a.balance, p.id AS pot, h.id AS house, u.client_seed,
       u.nonce - 1 AS nonce, u.messages_sent,
       CASE c.pricing_window
         WHEN 'round' THEN (SELECT COUNT(*) FROM chat_message m
                             WHERE m.player_id = u.id AND m.round_id = r.id)
         WHEN 'day' THEN (SELECT COUNT(*) FROM chat_message m
                           WHERE m.player_id = u.id AND m.created_at >= current_date)
         ELSE (SELECT COUNT(*) FROM chat_message m WHERE m.player_id = u.id) END AS n,
       nextval(pg_get_serial_sequence('chat_message', 'id')) AS message,
       r.id AS round, r.number, r.outcome, r.server_seed_hash, r.server_seed,
       c.id AS config, c.signup_grant, c.price_base, c.price_step, c.pricing_window,
       c.pot_share_percent, c.win_chance, c.pot_seed, c.daily_claim, c.max_message_chars
  FROM accounts_user u JOIN wallet_account a ON a.owner_id = u.id, wallet_account p,
       wallet_account h, pot_round r, pot_gameconfig c
 WHERE u.id = :player AND p.kind = 'pot' AND h.kind = 'house' AND r.outcome = 'open'
   AND c.id = 1 \gset
UPDATE wallet_account SET balance = balance + CASE id WHEN :account THEN CAST(-5 AS BIGINT)
                                                      ELSE 0 END
  WHERE id IN (:account);
UPDATE wallet_account SET balance = balance + CAST(5 AS BIGINT) WHERE id = :pot;
INSERT INTO keeper_reply (message_id, status, ordinal, attempt, lease_until, text, request_id)
  VALUES (:message, 'done', 1, 0, NULL, '', '');
NOTIFY keeper_replies;
INSERT INTO wallet_transfer (from_account_id, to_account_id, amount, kind, message_id, round_id,
                             actor_id, memo, created_at)
  VALUES (:account, :pot, 5, 'message_fee', :message, :round, NULL, '', now());
INSERT INTO chat_message (id, player_id, round_id, body, price, client_seed, nonce, roll,
                          win_chance, won, payout, balance_after, pot_after, next_price,
                          idempotency_key, created_at)
  SELECT :message, :player, :round, 'what are the odds?', 5, :client_seed, :nonce, 0.5, 0.1,
         false, 0, CAST(:balance AS BIGINT) - 5, pot.balance, 10, '', now()
    FROM wallet_account pot WHERE pot.id = :pot AND pot.round_id = :round
  RETURNING pot_after;
COMMIT;
