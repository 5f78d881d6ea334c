-- What another role does with my stream, or its own, never pins, breaks or
-- hides what is mine: a stranger's query over my stream goes when I drop
-- the stream with CASCADE (with the objects that depend on its tables),
-- monitoring survives another role's row-level security policy, and
-- DROP EXTENSION never takes the rows of stream tables with it.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = notice;

CREATE ROLE regress_str_owner LOGIN;
CREATE ROLE regress_str_stranger LOGIN;
CREATE ROLE regress_str_watcher LOGIN IN ROLE regress_str_stranger;
GRANT CREATE ON SCHEMA public TO regress_str_owner, regress_str_stranger;

-- ---------------------------------------------------------------------------
-- A stranger's foreach_batch query over my stream, and their view on its
-- table of batch rows, do not stop me from dropping my stream
-- ---------------------------------------------------------------------------
SET ROLE regress_str_owner;
CREATE TABLE mine (id int, v text);
SELECT stream.create_stream('mine');
GRANT SELECT ON mine TO regress_str_stranger;
CREATE TABLE mine2 (id int, v text);
SELECT stream.create_stream('mine2');
GRANT SELECT ON mine2 TO regress_str_stranger;
INSERT INTO mine VALUES (1, 'a');
INSERT INTO mine2 VALUES (1, 'a');

SET ROLE regress_str_stranger;
CREATE TABLE got (batch_id bigint, id int);
CREATE PROCEDURE take(batch_id bigint) LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO got SELECT batch_id, id FROM stream_batch.pin; END $$;
SELECT stream.start_query('pin', 'SELECT id FROM mine', foreach_batch => 'take',
                          trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('pin');
CREATE VIEW pin_view AS SELECT id FROM stream_batch.pin;
CREATE PROCEDURE take2(batch_id bigint) LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO got SELECT batch_id, id FROM stream_batch.pin2; END $$;
SELECT stream.start_query('pin2', 'SELECT id FROM mine2', foreach_batch => 'take2',
                          trigger => '1 hour') > 0 AS started;
CREATE VIEW pin2_view AS SELECT id FROM stream_batch.pin2;
SELECT count(*) AS delivered FROM got;

-- without CASCADE, the drop is refused as before
SET ROLE regress_str_owner;
DROP TABLE mine;
-- with it, the stranger's query goes, and what depended on its tables
DROP TABLE mine CASCADE;
SELECT to_regclass('mine') AS mine, to_regclass('stream_batch.pin') AS batch_table,
       to_regclass('public.pin_view') AS stranger_view;
-- drop_stream(cascade => true) keeps the table, an ordinary one again
SELECT stream.drop_stream('mine2', cascade => true);
SELECT a.amname, (SELECT count(*) FROM mine2) AS rows_kept
  FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'mine2'::regclass;
SELECT to_regclass('stream_batch.pin2') AS batch_table,
       to_regclass('public.pin2_view') AS stranger_view;
RESET ROLE;
SELECT count(*) AS stranger_queries_left FROM stream.query_defs
 WHERE owner = 'regress_str_stranger'::regrole;
-- the stranger's own objects are untouched
SELECT to_regclass('public.got') IS NOT NULL AS got_kept;

-- DROP OWNED BY a query's owner drops its queries; with CASCADE, a view
-- another role built on a query's batch table goes too, as PostgreSQL
-- drops what depends on a dropped role's objects; without, it is refused
CREATE ROLE regress_str_passing LOGIN;
GRANT CREATE ON SCHEMA public TO regress_str_passing;
SET ROLE regress_str_owner;
CREATE TABLE mine3 (id int);
SELECT stream.create_stream('mine3');
GRANT SELECT ON mine3 TO regress_str_passing;
SET ROLE regress_str_passing;
CREATE PROCEDURE take3(batch_id bigint) LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
SELECT stream.start_query('pin3', 'SELECT id FROM mine3', foreach_batch => 'take3',
                          trigger => '1 hour') > 0 AS started;
GRANT SELECT ON stream_batch.pin3 TO regress_str_owner;
SET ROLE regress_str_owner;
CREATE VIEW pin3_view AS SELECT id FROM stream_batch.pin3;
RESET ROLE;
\set VERBOSITY terse
DROP OWNED BY regress_str_passing;
\set VERBOSITY default
SELECT count(*) AS passing_queries FROM stream.query_defs WHERE name = 'pin3';
DROP OWNED BY regress_str_passing CASCADE;
SELECT count(*) AS passing_queries FROM stream.query_defs WHERE name = 'pin3';
SELECT to_regclass('stream_batch.pin3') AS batch_table, to_regclass('public.pin3_view') AS owner_view,
       to_regclass('public.mine3') IS NOT NULL AS stream_kept;
DROP TABLE mine3;
DROP ROLE regress_str_passing;

-- ---------------------------------------------------------------------------
-- Monitoring never runs another role's code: a policy that raises, or one
-- that sleeps, on the stranger's stream leaves that row's pending count
-- NULL, for a superuser and for a member of the stranger's role
-- ---------------------------------------------------------------------------
SET ROLE regress_str_stranger;
CREATE TABLE theirs (id int, v text);
SELECT stream.create_stream('theirs');
INSERT INTO theirs SELECT g, 'x' FROM generate_series(1, 5) g;
CREATE FUNCTION boom(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'policy says no';
END $$;
CREATE FUNCTION nap(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(30);
    RETURN true;
END $$;
ALTER TABLE theirs ENABLE ROW LEVEL SECURITY;
ALTER TABLE theirs FORCE ROW LEVEL SECURITY;
CREATE POLICY p_boom ON theirs USING (boom(id));
SELECT stream.start_query('watched', 'SELECT id FROM theirs', 'watched_out',
                          trigger => '1 hour') > 0 AS started;
RESET ROLE;
SET statement_timeout = '10s';
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
SET ROLE regress_str_watcher;
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
RESET ROLE;
SET ROLE regress_str_stranger;
DROP POLICY p_boom ON theirs;
CREATE POLICY p_nap ON theirs USING (nap(id));
RESET ROLE;
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
SET ROLE regress_str_watcher;
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
RESET ROLE;
-- without a policy to run, the count is there again
SET ROLE regress_str_stranger;
ALTER TABLE theirs NO FORCE ROW LEVEL SECURITY;
RESET ROLE;
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
-- nor does it wait on another role's lock: here a prepared transaction of
-- the stream's owner holds one that nothing else would release
SET ROLE regress_str_stranger;
BEGIN;
LOCK TABLE theirs IN ACCESS EXCLUSIVE MODE;
PREPARE TRANSACTION 'regress_str_lock';
RESET ROLE;
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
-- a cancel while the count waits is the reader's, and leaves the session
-- whole: caught in a block, then in a transaction that commits
SET statement_timeout = '20ms';
DO $$ BEGIN PERFORM * FROM stream.queries; EXCEPTION WHEN query_canceled THEN RAISE NOTICE 'canceled'; END $$;
SET statement_timeout = '10s';
BEGIN;
SET LOCAL statement_timeout = '20ms';
DO $$ BEGIN PERFORM * FROM stream.queries; EXCEPTION WHEN query_canceled THEN RAISE NOTICE 'canceled'; END $$;
COMMIT;
SELECT 'session alive' AS after_cancel;
COMMIT PREPARED 'regress_str_lock';
SELECT name, pending_rows FROM stream.queries WHERE name = 'watched';
RESET statement_timeout;
SELECT stream.drop_query('watched');

-- ---------------------------------------------------------------------------
-- DROP EXTENSION ... CASCADE never takes stream tables and their rows
-- ---------------------------------------------------------------------------
SET ROLE regress_str_stranger;
INSERT INTO theirs VALUES (6, 'y');
RESET ROLE;
DROP EXTENSION pg_streaming CASCADE;
SELECT count(*) AS rows_kept FROM theirs;
SELECT stream.drop_stream('theirs');
SELECT count(*) AS streams_left FROM stream.streams;

DROP OWNED BY regress_str_owner, regress_str_stranger, regress_str_watcher CASCADE;
DROP ROLE regress_str_owner, regress_str_stranger, regress_str_watcher;
