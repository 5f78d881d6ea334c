-- Rows whose data fails a batch (on_error => 'dead_letter') are set aside
-- in stream.dead_letters and the others delivered, in the batch's
-- transaction; with 'fail' the error names a failing row; dead letters are
-- delivered again after alter_query.  Everything runs as the query's owner,
-- and only the owner sees its dead letters.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE ROLE regress_dl_alice LOGIN;
CREATE ROLE regress_dl_bob LOGIN;
GRANT CREATE ON SCHEMA public TO regress_dl_alice, regress_dl_bob;

SET ROLE regress_dl_alice;
CREATE TABLE dl_ev (id int, amount text, qty int);
SELECT stream.create_stream('dl_ev');

-- refusals
SELECT stream.start_query('dl_bad', 'SELECT id FROM dl_ev', 'dl_bad_out', on_error => 'skip');
SET client_min_messages = error;
SELECT stream.start_query('dl_bad', 'SELECT a.id FROM dl_ev a JOIN dl_ev b ON b.id = a.id', 'dl_bad_out',
                          on_error => 'dead_letter');
SET client_min_messages = warning;
CREATE TABLE dl_ts (id int, ts timestamptz);
SELECT stream.create_stream('dl_ts');
SELECT stream.start_query('dl_bad', 'SELECT id, ts FROM dl_ts', 'dl_bad_out', deduplicate => '{id}',
                          event_time => 'ts', watermark => '1 minute', on_error => 'dead_letter');
SELECT count(*) FROM stream.queries WHERE name = 'dl_bad';

-- an append query: a cast, a division by zero, a CHECK, a NOT NULL and a
-- UNIQUE constraint of the target, and a trigger of the target (run as the
-- owner) that raises a check violation
CREATE TABLE dl_out (id int PRIMARY KEY, amount numeric CHECK (amount >= 0),
                     per numeric NOT NULL, who text);
CREATE FUNCTION dl_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.amount = 99 THEN
        RAISE EXCEPTION 'amount 99 is refused' USING ERRCODE = 'check_violation';
    END IF;
    NEW.who := current_user;
    RETURN NEW;
END $$;
CREATE TRIGGER dl_trig BEFORE INSERT ON dl_out FOR EACH ROW EXECUTE FUNCTION dl_trig();
SELECT stream.start_query('dl_append',
    $$SELECT id, amount::numeric AS amount, 100 / qty AS per FROM dl_ev$$,
    'dl_out', on_error => 'dead_letter') > 0 AS started;
SELECT name, on_error FROM stream.queries WHERE name = 'dl_append';
INSERT INTO dl_ev SELECT g, g::text, 1 FROM generate_series(1, 10) g;
INSERT INTO dl_ev VALUES (11, '12,50', 1), (12, '5', 0), (13, '-1', 1), (3, '7', 1),
                         (14, '8', 2), (15, NULL, NULL), (16, '99', 1);
RESET ROLE;
-- whoever runs the batch, the owner's code runs as the owner
CALL stream.process_all_available('dl_append');
SET ROLE regress_dl_alice;
SELECT id, amount, per, who FROM dl_out ORDER BY id;
SELECT query, batch_id, row_data - '_stream_xid' AS row_data, position, sqlstate, message,
       delivered_at IS NULL AS waiting
  FROM stream.dead_letters WHERE query = 'dl_append' ORDER BY id;
SELECT batch_id, input_rows, output_rows, dead_letters FROM stream.progress
 WHERE query = 'dl_append' ORDER BY batch_id;

-- a batch without failing rows counts none
INSERT INTO dl_ev VALUES (20, '20', 1);
CALL stream.process_all_available('dl_append');
SELECT batch_id, input_rows, output_rows, dead_letters FROM stream.progress
 WHERE query = 'dl_append' ORDER BY batch_id;

-- a keyed update
SELECT stream.start_query('dl_keyed', $$SELECT id, 100 / qty AS per FROM dl_ev$$,
                          'dl_keyed_out', output_mode => 'update', key => '{id}',
                          on_error => 'dead_letter') > 0 AS started;
CALL stream.process_all_available('dl_keyed');
SELECT id, per FROM dl_keyed_out ORDER BY id;
SELECT query, position, sqlstate FROM stream.dead_letters WHERE query = 'dl_keyed' ORDER BY id;

-- an aggregation: a row whose aggregate argument fails
SELECT stream.start_query('dl_agg',
    $$SELECT id % 3 AS g, sum(amount::numeric) AS total, count(*) AS n FROM dl_ev GROUP BY 1$$,
    'dl_agg_out', output_mode => 'update', on_error => 'dead_letter') > 0 AS started;
CALL stream.process_all_available('dl_agg');
SELECT g, total, n FROM dl_agg_out ORDER BY g;
-- equal to the query over the rows not set aside
SELECT id % 3 AS g, sum(amount::numeric) AS total, count(*) AS n FROM dl_ev
 WHERE amount IS NULL OR amount <> '12,50' GROUP BY 1 ORDER BY 1;
SELECT query, position, sqlstate FROM stream.dead_letters WHERE query = 'dl_agg' ORDER BY id;
SELECT batch_id, input_rows, state_rows, dead_letters FROM stream.progress
 WHERE query = 'dl_agg' ORDER BY batch_id;

-- rows that fail only together (a group's count against a CHECK of the
-- target) set nothing aside: the batch fails, and says so
CREATE TABLE dl_small (g int PRIMARY KEY, n bigint CHECK (n < 3));
SELECT stream.start_query('dl_together', $$SELECT id % 2 AS g, count(*) AS n FROM dl_ev GROUP BY 1$$,
                          'dl_small', output_mode => 'update', on_error => 'dead_letter') > 0 AS started;
\set SHOW_CONTEXT always
CALL stream.process_all_available('dl_together');
\set SHOW_CONTEXT errors
SELECT count(*) FROM dl_small;
SELECT count(*) FROM stream.dead_letters WHERE query = 'dl_together';

-- a query that fails without any row (a constant division by zero, folded
-- when the batch's statement is planned) fails the batch: no row is set aside
SELECT stream.start_query('dl_const', $$SELECT id, 1 / 0 AS x FROM dl_ev$$,
                          'dl_const_out', on_error => 'dead_letter') > 0 AS started;
\set SHOW_CONTEXT always
CALL stream.process_all_available('dl_const');
\set SHOW_CONTEXT errors
SELECT count(*) FROM stream.dead_letters WHERE query = 'dl_const';

-- nor does one whose target's statement trigger always refuses (the row
-- read last fails alone, but so does the statement without any row)
CREATE TABLE dl_closed (id int, amount text);
CREATE FUNCTION dl_closed_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dl_closed takes no rows' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER dl_closed_trig AFTER INSERT ON dl_closed FOR EACH STATEMENT
    EXECUTE FUNCTION dl_closed_trig();
SELECT stream.start_query('dl_closed', $$SELECT id, amount FROM dl_ev$$,
                          'dl_closed', on_error => 'dead_letter') > 0 AS started;
\set VERBOSITY terse
CALL stream.process_all_available('dl_closed');
\set VERBOSITY default
SELECT count(*) FROM stream.dead_letters WHERE query = 'dl_closed';

-- foreach_batch: rows that fail on their way into the batch table are set
-- aside, the procedure sees the others
CREATE TABLE dl_outbox (batch_id bigint, id int, amount numeric);
CREATE PROCEDURE dl_deliver(batch_id bigint) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dl_outbox SELECT batch_id, b.id, b.amount FROM stream_batch.dl_sink b;
END $$;
SELECT stream.start_query('dl_sink', $$SELECT id, amount::numeric AS amount FROM dl_ev$$,
                          foreach_batch => 'dl_deliver', on_error => 'dead_letter') > 0 AS started;
CALL stream.process_all_available('dl_sink');
SELECT batch_id, count(*), count(DISTINCT id) FROM dl_outbox GROUP BY 1;
SELECT position, sqlstate FROM stream.dead_letters WHERE query = 'dl_sink' ORDER BY id;

-- an error that is not the data's fails the batch, and nothing is set aside
CREATE FUNCTION dl_lock(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF t = 'lock' THEN
        RAISE EXCEPTION 'no lock for %', t USING ERRCODE = 'lock_not_available';
    END IF;
    RETURN t;
END $$;
SELECT stream.start_query('dl_other', $$SELECT id, public.dl_lock(amount) AS a FROM dl_ev$$,
                          'dl_other_out', on_error => 'dead_letter') > 0 AS started;
INSERT INTO dl_ev VALUES (30, 'lock', 1);
\set VERBOSITY terse
CALL stream.process_all_available('dl_other');
\set VERBOSITY default
SELECT count(*) FROM dl_other_out;
SELECT count(*) FROM stream.dead_letters WHERE query = 'dl_other';

-- 'fail': the error names a failing row in its context
SELECT stream.start_query('dl_fail', $$SELECT id, amount::numeric AS amount FROM dl_ev$$,
                          'dl_fail_out') > 0 AS started;
\set SHOW_CONTEXT always
CALL stream.process_all_available('dl_fail');
\set SHOW_CONTEXT errors
SELECT count(*) FROM dl_fail_out;

-- visible to the owner (and its members) only
RESET ROLE;
SET ROLE regress_dl_bob;
SELECT count(*) FROM stream.dead_letters;
SELECT * FROM stream.dead_letter_log;
SELECT stream.deliver_dead_letters('dl_append');
RESET ROLE;

-- delivered again after alter_query fixed the text: the rows that now
-- pass are delivered and marked, in one transaction; the others wait
SET ROLE regress_dl_alice;
SELECT stream.alter_query('dl_append',
    query => $$SELECT id, replace(amount, ',', '.')::numeric AS amount,
                      100 / greatest(qty, 1) AS per FROM dl_ev$$);
BEGIN;
SELECT stream.deliver_dead_letters('dl_append');
SELECT id, amount, per FROM dl_out WHERE id >= 11 ORDER BY id;
ROLLBACK;
SELECT count(*) FROM stream.dead_letters WHERE query = 'dl_append' AND delivered_at IS NOT NULL;
SELECT stream.deliver_dead_letters('dl_append');
SELECT id, amount, per FROM dl_out WHERE id >= 11 ORDER BY id;
SELECT position, sqlstate, message, delivered_at IS NULL AS waiting
  FROM stream.dead_letters WHERE query = 'dl_append' ORDER BY id;
SELECT stream.deliver_dead_letters('dl_append');

-- an aggregation's row fails again while its aggregate's argument fails
SELECT stream.deliver_dead_letters('dl_agg');
SELECT position, sqlstate, delivered_at IS NULL AS waiting
  FROM stream.dead_letters WHERE query = 'dl_agg' ORDER BY id;

-- an aggregation in update mode, whose owner's function is fixed (its
-- grouping keys and aggregates are its state's: alter_query cannot change
-- them): the row goes through the partial aggregation and merges into the
-- state; its group's target row changes by exactly the row, once; a
-- rolled-back call changes nothing; a row that fails again waits
-- declared immutable to be let in
CREATE FUNCTION dl_num(t text) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$ SELECT t::numeric $$;
SELECT stream.start_query('dl_agg_fn',
    $$SELECT id % 3 AS g, sum(dl_num(amount)) AS total, count(*) AS n FROM dl_ev GROUP BY 1$$,
    'dl_agg_fn_out', output_mode => 'update', on_error => 'dead_letter') > 0 AS started;
CALL stream.process_all_available('dl_agg_fn');
SELECT row_data->>'id' AS id, row_data->>'amount' AS amount, sqlstate
  FROM stream.dead_letters WHERE query = 'dl_agg_fn' ORDER BY id;
CREATE TABLE dl_agg_before AS SELECT g, total, n FROM dl_agg_fn_out;
CREATE OR REPLACE FUNCTION dl_num(t text) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$
    SELECT replace(t, ',', '.')::numeric $$;
BEGIN;
SELECT stream.deliver_dead_letters('dl_agg_fn');
SELECT g, a.total - b.total AS total_change, a.n - b.n AS n_change
  FROM dl_agg_fn_out a JOIN dl_agg_before b USING (g) ORDER BY g;
ROLLBACK;
SELECT g, a.total - b.total AS total_change, a.n - b.n AS n_change
  FROM dl_agg_fn_out a JOIN dl_agg_before b USING (g) ORDER BY g;
SELECT count(*) AS waiting FROM stream.dead_letters
 WHERE query = 'dl_agg_fn' AND delivered_at IS NULL;
SELECT stream.deliver_dead_letters('dl_agg_fn');
SELECT g, a.total - b.total AS total_change, a.n - b.n AS n_change
  FROM dl_agg_fn_out a JOIN dl_agg_before b USING (g) ORDER BY g;
SELECT row_data->>'id' AS id, sqlstate, message, delivered_at IS NULL AS waiting
  FROM stream.dead_letters WHERE query = 'dl_agg_fn' ORDER BY id;
SELECT stream.deliver_dead_letters('dl_agg_fn');
-- the state holds the row: the next batch's groups equal the query over
-- every row of the stream but the one still waiting
INSERT INTO dl_ev VALUES (31, '31', 1), (32, '32', 1);
CALL stream.process_all_available('dl_agg_fn');
SELECT g, total, n FROM dl_agg_fn_out
EXCEPT
SELECT id % 3, sum(dl_num(amount)), count(*) FROM dl_ev
 WHERE ctid NOT IN (SELECT (position_tid)::tid FROM (
         SELECT substring(position FROM '^row (\([0-9]+,[0-9]+\))') AS position_tid
           FROM stream.dead_letters WHERE query = 'dl_agg_fn' AND delivered_at IS NULL) w)
 GROUP BY 1;
SELECT count(*) FROM dl_agg_fn_out;

-- complete mode, by key and without keys: after the delivery the target
-- is the query over every row of the stream
CREATE FUNCTION dl_cnum(t text) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$ SELECT t::numeric $$;
SELECT stream.start_query('dl_complete',
    $$SELECT id % 2 AS g, sum(dl_cnum(amount)) AS total, count(*) AS n FROM dl_ev GROUP BY 1$$,
    'dl_complete_out', output_mode => 'complete', on_error => 'dead_letter') > 0 AS started;
SELECT stream.start_query('dl_complete_all',
    $$SELECT sum(dl_cnum(amount)) AS total, count(*) AS n FROM dl_ev$$,
    'dl_complete_all_out', output_mode => 'complete', on_error => 'dead_letter') > 0 AS started;
CALL stream.process_all_available('dl_complete');
CALL stream.process_all_available('dl_complete_all');
SELECT query, count(*) FROM stream.dead_letters WHERE query LIKE 'dl_complete%' GROUP BY 1 ORDER BY 1;
CREATE OR REPLACE FUNCTION dl_cnum(t text) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN t ~ '^[0-9,.-]+$' THEN replace(t, ',', '.')::numeric END $$;
SELECT stream.deliver_dead_letters('dl_complete'), stream.deliver_dead_letters('dl_complete_all');
(SELECT g, total, n FROM dl_complete_out
 EXCEPT SELECT id % 2, sum(dl_cnum(amount)), count(*) FROM dl_ev GROUP BY 1)
UNION ALL
(SELECT id % 2, sum(dl_cnum(amount)), count(*) FROM dl_ev GROUP BY 1
 EXCEPT SELECT g, total, n FROM dl_complete_out);
SELECT (SELECT total FROM dl_complete_all_out) = (SELECT sum(dl_cnum(amount)) FROM dl_ev) AS total_equal,
       (SELECT n FROM dl_complete_all_out) = (SELECT count(*) FROM dl_ev) AS n_equal,
       (SELECT count(*) FROM dl_complete_all_out) AS target_rows;

-- a windowed aggregation in append mode: a row whose window is still open
-- merges, and its window is written when the watermark closes it; a row
-- whose window the watermark closed (its group written) is late and stays
-- a dead letter
CREATE FUNCTION dl_wnum(t text) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$ SELECT t::numeric $$;
CREATE TABLE dl_win (ts timestamptz, amount text);
SELECT stream.create_stream('dl_win');
SELECT stream.start_query('dl_win',
    $$SELECT stream.tumble(ts, '10 minutes') AS w, sum(dl_wnum(amount)) AS total, count(*) AS n
        FROM dl_win GROUP BY 1$$, 'dl_win_out', output_mode => 'append',
    event_time => 'ts', watermark => '5 minutes', trigger => '1 hour',
    on_error => 'dead_letter') > 0 AS started;
SET TIME ZONE 'UTC';
INSERT INTO dl_win VALUES ('2026-01-01 12:00+00', '1'), ('2026-01-01 12:01+00', '1,5'),
                          ('2026-01-01 12:21+00', '2'), ('2026-01-01 12:22+00', '2,5');
CALL stream.process_all_available('dl_win');
SELECT w, total, n FROM dl_win_out ORDER BY w;
SELECT row_data->>'ts' AS ts, sqlstate FROM stream.dead_letters WHERE query = 'dl_win' ORDER BY id;
CREATE OR REPLACE FUNCTION dl_wnum(t text) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$
    SELECT replace(t, ',', '.')::numeric $$;
SELECT stream.deliver_dead_letters('dl_win');
SELECT row_data->>'ts' AS ts, sqlstate, message, delivered_at IS NULL AS waiting
  FROM stream.dead_letters WHERE query = 'dl_win' ORDER BY id;
-- the closed window is as it was; the open one is written with the row
SELECT w, total, n FROM dl_win_out ORDER BY w;
INSERT INTO dl_win VALUES ('2026-01-01 12:40+00', '4');
CALL stream.process_all_available('dl_win');
SELECT w, total, n FROM dl_win_out ORDER BY w;
SELECT stream.deliver_dead_letters('dl_win');
RESET TIME ZONE;
RESET ROLE;

-- a batch over many blocks runs in chunks of blocks, each delivered in a
-- subtransaction of its own: a bad row makes only its chunk run again,
-- wherever it lies in the batch.  A sequence counts the rows the query
-- evaluates, rolled back or not.  A bad cast at the start, a key taken
-- by a row of an earlier chunk in the middle, a bad cast at the end.
SET ROLE regress_dl_alice;
CREATE TABLE dl_big (id int, amount text, pad text);
SELECT stream.create_stream('dl_big');
CREATE TABLE dl_big_out (id int PRIMARY KEY, amount numeric);
CREATE SEQUENCE dl_calls;
-- declared immutable to be let in: it counts its calls
CREATE FUNCTION dl_counted(t text) RETURNS numeric IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('dl_calls');
    RETURN t::numeric;
END $$;
SELECT stream.start_query('dl_big', $$SELECT id, dl_counted(amount) AS amount FROM dl_big$$,
    'dl_big_out', trigger => '1 hour', on_error => 'dead_letter') > 0 AS started;
CREATE TABLE dl_big_runs (batch int, calls bigint);
CREATE PROCEDURE dl_big_batch(b int, bad int, bad_amount text, bad_id int) LANGUAGE plpgsql AS $$
DECLARE
    c0 bigint := nextval('dl_calls');
BEGIN
    INSERT INTO dl_big SELECT CASE WHEN g = bad THEN bad_id ELSE b * 100000 + g END,
                              CASE WHEN g = bad THEN bad_amount ELSE g::text END, repeat('x', 500)
      FROM generate_series(1, 10000) g;
    COMMIT;
    CALL stream.process_batch('dl_big');
    INSERT INTO dl_big_runs VALUES (b, nextval('dl_calls') - c0 - 1);
END $$;
CALL dl_big_batch(1, 5, '1,5', 100005);
CALL dl_big_batch(2, 5000, '7', 200001);
CALL dl_big_batch(3, 9996, 'x', 309996);
SELECT pg_relation_size('dl_big') / current_setting('block_size')::int > 600 AS many_blocks;
-- each batch evaluates its 10,000 rows, and its bad row's chunk again:
-- less than a quarter more (one run over the whole batch ran the rows
-- before the bad one twice)
SELECT batch, calls >= 10000 AS every_row, calls < 12500 AS its_chunk_again FROM dl_big_runs ORDER BY batch;
SELECT batch_id, input_rows, output_rows, dead_letters FROM stream.progress
 WHERE query = 'dl_big' ORDER BY batch_id;
SELECT (SELECT count(*) FROM dl_big_out) AS delivered,
       (SELECT count(*) FROM dl_big_out o WHERE o.amount::text <> (o.id % 100000)::text) AS wrong;
SELECT batch_id, row_data->>'id' AS id, row_data->>'amount' AS amount, sqlstate
  FROM stream.dead_letters WHERE query = 'dl_big' ORDER BY id;
RESET ROLE;

SELECT stream.drop_query(name) FROM stream.queries WHERE name LIKE 'dl\_%' ORDER BY name;
DROP OWNED BY regress_dl_alice, regress_dl_bob CASCADE;
DROP ROLE regress_dl_alice;
DROP ROLE regress_dl_bob;
