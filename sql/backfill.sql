-- max_rows_per_batch holds within one transaction too: the rows a table
-- had when it became a stream (one transaction's, create_stream's), and a
-- large transaction written later, arrive in batches of at most the cap,
-- split by block, exactly once, also when a split batch is replayed.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

-- a table with history, a primary key and an index becomes a stream
CREATE TABLE b_events (id int PRIMARY KEY, kind text, pad text);
CREATE INDEX ON b_events (kind);
INSERT INTO b_events SELECT g, 'old', repeat('p', 40) FROM generate_series(1, 3000) g;
SELECT stream.create_stream('b_events');
SELECT count(DISTINCT _stream_xid) AS stamps FROM b_events;

CREATE TABLE b_out (id int, kind text);
-- the target refuses rows while b_block holds a row
CREATE TABLE b_block (on_id int);
CREATE FUNCTION b_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM b_block) THEN
        RAISE EXCEPTION 'target is closed';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER b_gate BEFORE INSERT ON b_out FOR EACH ROW EXECUTE FUNCTION b_gate();
SELECT stream.start_query('b_q', 'SELECT id, kind FROM b_events', 'b_out',
                          max_rows_per_batch => 500, trigger => '1 hour') > 0 AS started;

-- live rows arrive while the history is being read
INSERT INTO b_events SELECT g, 'live', 'l' FROM generate_series(10001, 10020) g;
CALL stream.process_batch('b_q');
CALL stream.process_batch('b_q');
SELECT count(*) BETWEEN 2 AND 1000 AS two_capped_batches,
       (SELECT pending_rows FROM stream.queries WHERE name = 'b_q') + count(*) AS pending_and_delivered,
       count(*) FILTER (WHERE kind = 'live') AS live_delivered
  FROM b_out;
INSERT INTO b_events SELECT g, 'live', 'l' FROM generate_series(10021, 10030) g;

-- a split batch fails after its offsets were committed, and is replayed
SELECT count(*) AS delivered FROM b_out \gset
INSERT INTO b_block VALUES (1);
CALL stream.process_batch('b_q');
SELECT count(*) = :delivered AS nothing_delivered FROM b_out;
DELETE FROM b_block;
CALL stream.process_all_available('b_q');

-- every batch within the cap, the history before the live rows, each row once
SELECT count(*) FILTER (WHERE input_rows > 500) AS over_cap,
       count(*) FILTER (WHERE replayed) AS replayed,
       sum(input_rows) AS input_rows,
       count(*) > 6 AS many_batches
  FROM stream.progress WHERE query = 'b_q';
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM b_out;
SELECT count(*) AS missing FROM (SELECT id, kind FROM b_events EXCEPT SELECT id, kind FROM b_out) m;
SELECT pending_rows FROM stream.queries WHERE name = 'b_q';

-- a batch reads about its own rows, not the rest of the history: the
-- blocks between its first and its last are few
SELECT max(o.scan_to_block - o.scan_from_block) <= 20 AS narrow_scans,
       count(*) FILTER (WHERE o.end_split_xid IS NOT NULL) > 4 AS split_boundaries
  FROM stream.checkpoint_offsets o JOIN stream.query_defs d USING (query_id)
 WHERE d.name = 'b_q' AND o.scan_to_block IS NOT NULL;

-- one large transaction written later is split as well, with small
-- transactions before and after it
INSERT INTO b_events VALUES (20000, 'small', 's');
INSERT INTO b_events SELECT g, 'bulk', repeat('b', 40) FROM generate_series(20001, 21700) g;
INSERT INTO b_events VALUES (30000, 'small', 's');
CALL stream.process_all_available('b_q');
SELECT kind, count(*) FROM b_out WHERE id >= 20000 GROUP BY kind ORDER BY kind;
SELECT count(*) FILTER (WHERE input_rows > 500) AS over_cap FROM stream.progress WHERE query = 'b_q';
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM b_out;

-- without a cap the history is one batch, as before
CREATE TABLE b_all (id int);
SELECT stream.start_query('b_all_q', 'SELECT id FROM b_events', 'b_all') > 0 AS started;
CALL stream.process_all_available('b_all_q');
SELECT count(*) AS batches, sum(input_rows) AS rows FROM stream.progress WHERE query = 'b_all_q';

-- a rewrite in the middle of a split is refused: the split is by block,
-- which the rewrite would change
CREATE TABLE b2_events (id int, pad text);
INSERT INTO b2_events SELECT g, repeat('q', 40) FROM generate_series(1, 2000) g;
SELECT stream.create_stream('b2_events');
CREATE TABLE b2_out (id int);
SELECT stream.start_query('b2_q', 'SELECT id FROM b2_events', 'b2_out',
                          max_rows_per_batch => 400, trigger => '1 hour') > 0 AS started;
CALL stream.process_batch('b2_q');
\set VERBOSITY default
VACUUM FULL b2_events;
ALTER TABLE b2_events ALTER COLUMN pad TYPE varchar(100);
\set VERBOSITY terse
-- once the query has read them, the rewrites go through
CALL stream.process_all_available('b2_q');
VACUUM FULL b2_events;
ALTER TABLE b2_events ALTER COLUMN pad TYPE varchar(100);
INSERT INTO b2_events VALUES (2001, 'after');
CALL stream.process_all_available('b2_q');
SELECT count(*) AS rows, count(DISTINCT id) AS ids, max(id) FROM b2_out;

SELECT stream.drop_stream('b_events', cascade => true);
SELECT stream.drop_stream('b2_events', cascade => true);
DROP TABLE b_events, b_out, b_block, b_all, b2_events, b2_out;
DROP FUNCTION b_gate();
