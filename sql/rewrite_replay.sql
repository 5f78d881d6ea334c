-- A batch whose offsets were written before the stream was rewritten
-- (VACUUM FULL, a rewriting ALTER TABLE; CLUSTER takes the same path) and whose first run failed
-- delivers its rows exactly once when it is replayed after the rewrite.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE w_events (id int, pad text, note int);
SELECT stream.create_stream('w_events');
CREATE TABLE w_out (id int, pad text);
-- the target refuses rows while w_block holds a row: the batch fails after
-- its offsets were committed
CREATE TABLE w_block (on_id int);
CREATE FUNCTION w_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM w_block) THEN
        RAISE EXCEPTION 'target is closed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER w_gate BEFORE INSERT ON w_out FOR EACH ROW EXECUTE FUNCTION w_gate();
SELECT stream.start_query('w_q', 'SELECT id, pad FROM w_events', 'w_out') > 0 AS started;

-- committed rows, then many rolled-back rows that a rewrite will remove,
-- then more committed rows: the first batch ends past the dead blocks
INSERT INTO w_events SELECT g, repeat('x', 200) FROM generate_series(1, 100) g;
BEGIN;
INSERT INTO w_events SELECT g, repeat('y', 200) FROM generate_series(1, 3000) g;
ROLLBACK;
INSERT INTO w_events SELECT g, repeat('x', 200) FROM generate_series(101, 120) g;
CALL stream.process_all_available('w_q');
SELECT count(*) FROM w_out;

-- the next batch is planned, fails, and the table is rewritten before it
-- is tried again
CREATE FUNCTION w_round(rewrite text, first_id int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO w_events SELECT g, %L FROM generate_series(%s, %s) g',
                   repeat('z', 200), first_id, first_id + 49);
END $$;

SELECT w_round('vacuum full', 1001);
INSERT INTO w_block VALUES (1);
CALL stream.process_batch('w_q');
SELECT batch_id, k.batch_id IS NOT NULL AS committed, o.scan_from_block > 0 AS scans_from_a_floor
  FROM stream.checkpoint_offsets o LEFT JOIN stream.checkpoint_commits k USING (query_id, batch_id)
 ORDER BY batch_id;
VACUUM FULL w_events;
DELETE FROM w_block;
CALL stream.process_all_available('w_q');
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids FROM w_out WHERE id BETWEEN 1001 AND 1050;

-- a rewriting ALTER TABLE
BEGIN;
INSERT INTO w_events SELECT g, repeat('y', 200) FROM generate_series(1, 3000) g;
ROLLBACK;
INSERT INTO w_events SELECT g, 'flush' FROM generate_series(4001, 4001) g;
CALL stream.process_all_available('w_q');
SELECT w_round('alter', 5001);
INSERT INTO w_block VALUES (1);
CALL stream.process_batch('w_q');
-- a column the query reads cannot change its type under it; another can,
-- which rewrites the table
ALTER TABLE w_events ALTER COLUMN id TYPE bigint;
ALTER TABLE w_events ALTER COLUMN note TYPE bigint;
DELETE FROM w_block;
CALL stream.process_all_available('w_q');
SELECT count(*) AS rows, count(DISTINCT id) AS distinct_ids FROM w_out WHERE id BETWEEN 5001 AND 5050;

-- in all: the target equals the stream, each row once, and two batches
-- were replays
SELECT (SELECT count(*) FROM w_out) AS target_rows,
       (SELECT count(*) FROM w_events) AS stream_rows,
       (SELECT count(*) FROM (SELECT id, pad FROM w_events EXCEPT ALL SELECT id, pad FROM w_out) d) AS missing,
       (SELECT count(*) FROM (SELECT id, pad FROM w_out EXCEPT ALL SELECT id, pad FROM w_events) d) AS extra;
SELECT count(*) AS replayed_batches FROM stream.progress WHERE query = 'w_q' AND replayed;
SELECT batch_id, input_rows, output_rows, replayed FROM stream.progress WHERE query = 'w_q' ORDER BY batch_id;
-- the query follows its stream's renames, as a view does: a new table put
-- in the stream's old place is not read
INSERT INTO w_events SELECT g, 'renamed' FROM generate_series(7001, 7003) g;
ALTER TABLE w_events RENAME TO w_events_moved;
SELECT query FROM stream.queries WHERE name = 'w_q';
CREATE TABLE w_events (id int, pad text);
INSERT INTO w_events SELECT g, 'impostor' FROM generate_series(1, 5) g;
CALL stream.process_all_available('w_q');
SELECT count(*) AS impostor_rows FROM w_out WHERE pad = 'impostor';
SELECT count(*) AS renamed_rows, count(DISTINCT id) AS ids FROM w_out WHERE pad = 'renamed';
DROP TABLE w_events;
ALTER TABLE w_events_moved RENAME TO w_events;
INSERT INTO w_events SELECT g, 'back' FROM generate_series(7004, 7005) g;
CALL stream.process_all_available('w_q');
SELECT count(*) AS back_rows FROM w_out WHERE pad = 'back';
SELECT stream.drop_query('w_q');

-- a stream can be neither a typed table nor made one
ALTER TABLE w_events DROP COLUMN pad, DROP COLUMN note;
CREATE TYPE w_row AS (id int, _stream_xid xid8);
ALTER TABLE w_events OF w_row;
DROP TYPE w_row;

DROP TABLE w_events, w_out, w_block;
DROP FUNCTION w_gate(), w_round(text, int);
