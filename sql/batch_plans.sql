-- What a session keeps between batches (a query's definition, plans made
-- once) never outlives what it was made from, and a kept plan still reads
-- only the batch's blocks.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_bp_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_bp_owner;
SET ROLE regress_bp_owner;

-- ---------------------------------------------------------------------------
-- An append query whose filter an index on the stream could serve: the
-- plan a session keeps for its batches still reads the batch's blocks, not
-- every matching row of the history through the index
-- ---------------------------------------------------------------------------
CREATE TABLE bp_ev (id bigint, kind text, pad text);
SELECT stream.create_stream('bp_ev');
CREATE INDEX bp_ev_kind ON bp_ev (kind);
INSERT INTO bp_ev SELECT g, CASE WHEN g % 1000 = 0 THEN 'rare' ELSE 'common' END,
                         repeat('x', 200)
  FROM generate_series(1, 50000) g;
ANALYZE bp_ev;
SELECT stream.start_query('bp_q', 'SELECT id, kind FROM bp_ev WHERE kind = ''rare''',
                          'bp_out', trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('bp_q');
INSERT INTO bp_ev VALUES (1, 'rare', 'y');
CALL stream.process_batch('bp_q');
INSERT INTO bp_ev VALUES (2, 'rare', 'y');
CALL stream.process_batch('bp_q');
INSERT INTO bp_ev VALUES (3, 'common', 'y');
CALL stream.process_batch('bp_q');
INSERT INTO bp_ev VALUES (4, 'rare', 'y');
CALL stream.process_batch('bp_q');
-- the history's 50 rare rows lie on some 100 blocks: a one-row batch reads a few
SELECT batch_id, input_rows, output_rows, blocks_read < 20 AS reads_its_blocks
  FROM stream.progress WHERE query = 'bp_q' AND batch_id > 1 ORDER BY batch_id;
SELECT count(*) AS delivered, count(DISTINCT id) AS distinct_ids FROM bp_out;

-- ---------------------------------------------------------------------------
-- A query's definition changed behind the session's back (a direct update
-- of the catalog, which sends no invalidation): the next batch of the same
-- session runs the new definition
-- ---------------------------------------------------------------------------
RESET ROLE;
UPDATE stream.query_defs
   SET run_text = 'SELECT id, kind FROM public.bp_ev WHERE kind = ''common'''
 WHERE name = 'bp_q';
SET ROLE regress_bp_owner;
INSERT INTO bp_ev VALUES (7, 'rare', 'y'), (8, 'common', 'y');
CALL stream.process_batch('bp_q');
SELECT id, kind FROM bp_out WHERE id IN (7, 8) ORDER BY id;
SELECT count(*) AS delivered, count(DISTINCT id) AS distinct_ids FROM bp_out;

-- a query stopped behind the session's back is stopped to it: resuming it
-- says it was not active
RESET ROLE;
UPDATE stream.query_defs SET status = 'stopped' WHERE name = 'bp_q';
SET ROLE regress_bp_owner;
SELECT stream.resume_query('bp_q') AS resumed;
SELECT stream.resume_query('bp_q') AS resumed_again;

SELECT stream.drop_query('bp_q');
RESET ROLE;
DROP TABLE bp_ev, bp_out;
REVOKE CREATE ON SCHEMA public FROM regress_bp_owner;
DROP ROLE regress_bp_owner;
