-- A new watermark delay with stream.alter_query (Spark allows one between
-- restarts): the next batch moves the watermark by the new delay, the
-- watermark never moves back (a longer delay holds it where it is until the
-- latest event time less the new delay passes it), and what the state
-- already emitted and evicted stays so.  Refused loudly where there is no
-- event time, and for a join the delays are per side.  As an unprivileged role.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
SET intervalstyle = 'postgres';

CREATE ROLE regress_aw_owner LOGIN;
CREATE ROLE regress_aw_stranger LOGIN;
GRANT CREATE ON SCHEMA public TO regress_aw_owner;
SET ROLE regress_aw_owner;

CREATE TABLE aw (id int, t timestamptz);
SELECT stream.create_stream('aw');
SELECT stream.start_query('aw_windows',
    $$SELECT stream.tumble(t, '10 minutes') AS window_start, count(*) AS n
        FROM aw GROUP BY 1$$, 'aw_windows', output_mode => 'append',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
CREATE VIEW aw_state AS
SELECT q.watermark_delay, q.watermark AS next_watermark,
       (SELECT p.watermark FROM stream.progress p WHERE p.query = q.name
         ORDER BY p.batch_id DESC LIMIT 1) AS last_batch_watermark,
       (SELECT sum(p.late_rows) FROM stream.progress p WHERE p.query = q.name) AS late_rows
  FROM stream.queries q WHERE q.name = 'aw_windows';

-- delay 10 minutes: 12:01 and 12:05 move the watermark to 11:55
INSERT INTO aw VALUES (1, '2026-01-01 12:01'), (2, '2026-01-01 12:05');
CALL stream.process_all_available('aw_windows');
SELECT * FROM aw_windows ORDER BY 1;
SELECT * FROM aw_state;

-- a shorter delay, 2 minutes: 12:13 moves the watermark to 12:11 (with 10
-- minutes it would be 12:03), which closes the window of 12:00 at once
SELECT stream.alter_query('aw_windows', watermark => '2 minutes');
SELECT * FROM aw_state;
INSERT INTO aw VALUES (3, '2026-01-01 12:13');
CALL stream.process_all_available('aw_windows');
SELECT * FROM aw_windows ORDER BY 1;
SELECT * FROM aw_state;

-- a longer delay, 30 minutes: 12:25 less 30 minutes is 11:55, behind the
-- watermark, which stays at 12:11 (it never moves back)
SELECT stream.alter_query('aw_windows', watermark => '30 minutes');
INSERT INTO aw VALUES (4, '2026-01-01 12:25');
CALL stream.process_all_available('aw_windows');
SELECT * FROM aw_state;
-- 12:09 is late still: its window was emitted and evicted, and stays so
INSERT INTO aw VALUES (5, '2026-01-01 12:09');
CALL stream.process_all_available('aw_windows');
SELECT * FROM aw_windows ORDER BY 1;
SELECT * FROM aw_state;
-- 12:45 less 30 minutes is 12:15: the watermark moves again, not far enough
-- for the window of 12:10; 12:52 moves it to 12:22, which closes it
INSERT INTO aw VALUES (6, '2026-01-01 12:45');
CALL stream.process_all_available('aw_windows');
SELECT * FROM aw_windows ORDER BY 1;
SELECT * FROM aw_state;
INSERT INTO aw VALUES (7, '2026-01-01 12:52');
CALL stream.process_all_available('aw_windows');
SELECT * FROM aw_windows ORDER BY 1;
SELECT * FROM aw_state;
-- every batch's watermark in force, in order: it never went back
SELECT batch_id, input_rows, output_rows, watermark, late_rows
  FROM stream.progress WHERE query = 'aw_windows' ORDER BY batch_id;

-- a query started with watermarks => keeps that spelling, with the new delay
CREATE TABLE aw_dedup_out (id int, t timestamptz);
SELECT stream.start_query('aw_dedup', 'SELECT id, t FROM aw a', 'aw_dedup_out',
    watermarks => '{"a.t 1 hour"}', deduplicate => '{id}', trigger => '1 hour') > 0 AS started;
SELECT stream.alter_query('aw_dedup', watermark => '90 minutes');
SELECT watermark_delay, watermarks FROM stream.queries WHERE name = 'aw_dedup';

-- deduplication: a key keeps the expiry it was given (its first row's time
-- plus the delay then in force), a new key gets the new delay
CREATE TABLE aw_keys (id int, t timestamptz);
SELECT stream.create_stream('aw_keys');
CREATE TABLE aw_keys_out (id int, t timestamptz);
SELECT stream.start_query('aw_keys_q', 'SELECT id, t FROM aw_keys', 'aw_keys_out',
    event_time => 't', watermark => '10 minutes', deduplicate => '{id}',
    trigger => '1 hour') > 0 AS started;
INSERT INTO aw_keys VALUES (1, '2026-01-01 12:00');
CALL stream.process_all_available('aw_keys_q');
SELECT stream.alter_query('aw_keys_q', watermark => '1 hour');
INSERT INTO aw_keys VALUES (2, '2026-01-01 12:05');
CALL stream.process_all_available('aw_keys_q');
-- 13:20 moves the watermark to 12:20: key 1 expired at 12:10 and goes, key 2
-- (12:05 plus the new hour) stays until 13:05
INSERT INTO aw_keys VALUES (9, '2026-01-01 13:20');
CALL stream.process_all_available('aw_keys_q');
RESET ROLE;
SELECT key_1 AS id, _expires_at FROM stream_state.aw_keys_q ORDER BY 1;
SET ROLE regress_aw_owner;
-- so 1 is delivered again, 2 is a duplicate still
INSERT INTO aw_keys VALUES (1, '2026-01-01 12:25'), (2, '2026-01-01 12:25');
CALL stream.process_all_available('aw_keys_q');
SELECT * FROM aw_keys_out ORDER BY t, id;

-- a join: each side's delay by watermarks =>, the other side's kept
CREATE TABLE aw_imp (ad_id int, imp_time timestamptz);
CREATE TABLE aw_clk (ad_id int, click_time timestamptz);
SELECT stream.create_stream('aw_imp');
SELECT stream.create_stream('aw_clk');
SELECT stream.start_query('aw_join',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM aw_imp i
        JOIN aw_clk c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'aw_join_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
INSERT INTO aw_imp VALUES (1, '2026-01-01 10:00');
INSERT INTO aw_clk VALUES (1, '2026-01-01 10:30');
CALL stream.process_all_available('aw_join');
SELECT side, name, delay, watermark FROM stream.query_sides WHERE query = 'aw_join' ORDER BY side;
SELECT stream.alter_query('aw_join', watermarks => '{"c.click_time 20 minutes"}');
SELECT watermarks FROM stream.queries WHERE name = 'aw_join';
INSERT INTO aw_imp VALUES (2, '2026-01-01 11:00');
INSERT INTO aw_clk VALUES (2, '2026-01-01 11:10');
CALL stream.process_all_available('aw_join');
-- the clicks' watermark is 11:10 less 20 minutes, the impressions' 11:00 less 2 hours
SELECT side, name, delay, watermark FROM stream.query_sides WHERE query = 'aw_join' ORDER BY side;
SELECT * FROM aw_join_out ORDER BY 1;

-- refusals, each changing nothing
CREATE TABLE aw_plain_out (id int);
SELECT stream.start_query('aw_plain', 'SELECT id FROM aw', 'aw_plain_out', trigger => '1 hour') > 0 AS started;
SELECT stream.alter_query('aw_plain', watermark => '5 minutes');
SELECT stream.alter_query('aw_windows', watermarks => '{"aw.t 5 minutes"}');
SELECT stream.alter_query('aw_windows', watermark => '5 minutes', watermarks => '{"aw.t 5 minutes"}');
SELECT stream.alter_query('aw_windows', watermark => '-5 minutes');
SELECT stream.alter_query('aw_join', watermark => '5 minutes');
SELECT stream.alter_query('aw_join', watermarks => '{"x.imp_time 5 minutes"}');
SELECT stream.alter_query('aw_join', watermarks => '{"i.ad_id 5 minutes"}');
SELECT stream.alter_query('aw_join', watermarks => '{"i.imp_time 5 minutes", "i.imp_time 6 minutes"}');
SELECT stream.alter_query('aw_join', watermarks => '{"i.imp_time"}');
CREATE TABLE aw_inner_out (ad_id int);
SELECT stream.start_query('aw_inner',
    $$SELECT i.ad_id FROM aw_imp i JOIN aw_clk c ON c.ad_id = i.ad_id$$,
    'aw_inner_out', trigger => '1 hour') > 0 AS started;
SELECT stream.alter_query('aw_inner', watermarks => '{"i.imp_time 5 minutes"}');
SELECT stream.alter_query('aw_windows', watermark => NULL);
SET ROLE regress_aw_stranger;
SELECT stream.alter_query('aw_windows', watermark => '1 minute');
SET ROLE regress_aw_owner;
-- nothing changed
SELECT name, watermark_delay, watermarks FROM stream.queries
 WHERE name IN ('aw_windows', 'aw_join', 'aw_plain', 'aw_inner') ORDER BY name;

RESET ROLE;
SELECT stream.drop_query(name) FROM stream.queries WHERE name LIKE 'aw\_%' ORDER BY name;
DROP VIEW aw_state;
DROP TABLE aw, aw_windows, aw_dedup_out, aw_keys, aw_keys_out, aw_imp, aw_clk, aw_join_out, aw_plain_out, aw_inner_out CASCADE;
REVOKE CREATE ON SCHEMA public FROM regress_aw_owner;
DROP ROLE regress_aw_owner, regress_aw_stranger;
