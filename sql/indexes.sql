-- Stream tables take every kind of index, before or after create_stream,
-- also CONCURRENTLY; index scans return the right rows, ON CONFLICT DO
-- NOTHING works, and batches deliver each row once whatever the indexes.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
CREATE EXTENSION IF NOT EXISTS btree_gist;
SET client_min_messages = warning;

-- a table with a primary key and rows becomes a stream
CREATE TABLE ix_ev (id int PRIMARY KEY, tags text[], ts timestamptz, note text);
INSERT INTO ix_ev
SELECT g, ARRAY['t' || g % 5], '2026-01-01'::timestamptz + g * interval '1 minute', 'n' || g
  FROM generate_series(1, 2000) g;
SELECT stream.create_stream('ix_ev');
SELECT stream.start_query('ix_q', 'SELECT id, note FROM ix_ev', 'ix_out') > 0 AS started;

-- every index kind after create_stream
CREATE INDEX ix_brin ON ix_ev USING brin (ts);
CREATE INDEX ix_gin ON ix_ev USING gin (tags);
CREATE INDEX ix_gist ON ix_ev USING gist (ts);
CREATE INDEX ix_hash ON ix_ev USING hash (note);
CREATE INDEX ix_expr ON ix_ev (lower(note));
CREATE INDEX ix_partial ON ix_ev (id) WHERE id % 100 = 0;
CREATE UNIQUE INDEX CONCURRENTLY ix_note ON ix_ev (note);
SELECT indexrelid::regclass AS index, indisvalid AS valid
  FROM pg_index WHERE indrelid = 'ix_ev'::regclass ORDER BY 1::text;

-- index scans, bitmap scans and index-only scans return the right rows
SET enable_seqscan = off;
SELECT id, note FROM ix_ev WHERE id = 1234;
SELECT count(*) FROM ix_ev WHERE tags @> '{t3}';
SELECT count(*) FROM ix_ev WHERE ts < '2026-01-01 01:00';
SELECT count(*) FROM ix_ev WHERE lower(note) = 'n77';
SELECT count(*) FROM ix_ev WHERE id % 100 = 0;
SELECT count(*) FROM ix_ev WHERE note = 'n1999';
VACUUM ix_ev;
EXPLAIN (COSTS OFF) SELECT id FROM ix_ev WHERE id BETWEEN 10 AND 20;
SELECT count(id) FROM ix_ev WHERE id BETWEEN 10 AND 20;
RESET enable_seqscan;

-- ON CONFLICT DO NOTHING inserts what does not conflict; DO UPDATE on a
-- conflict is refused like UPDATE
INSERT INTO ix_ev VALUES (2001, '{x}', now(), 'fresh') ON CONFLICT DO NOTHING;
INSERT INTO ix_ev VALUES (5, '{x}', now(), 'clash') ON CONFLICT DO NOTHING;
INSERT INTO ix_ev VALUES (2002, '{x}', now(), 'n7') ON CONFLICT (note) DO NOTHING;
INSERT INTO ix_ev VALUES (5, '{x}', now(), 'clash') ON CONFLICT (id) DO UPDATE SET note = 'changed';
INSERT INTO ix_ev VALUES (6, '{x}', now(), 'dup');
-- a stream table and its indexes after a CLUSTER and a REINDEX
CLUSTER ix_ev USING ix_ev_pkey;
REINDEX TABLE ix_ev;
INSERT INTO ix_ev VALUES (2003, '{y}', now(), 'after');

-- each row once, and the target equals the stream
CALL stream.process_all_available('ix_q');
SELECT (SELECT count(*) FROM ix_ev) AS stream_rows, count(*) AS target_rows,
       count(DISTINCT id) AS ids, count(*) FILTER (WHERE note IN ('clash', 'changed')) AS conflicting
  FROM ix_out;

SELECT stream.drop_query('ix_q');
SELECT stream.drop_stream('ix_ev');
SELECT count(*) AS indexes_kept FROM pg_index WHERE indrelid = 'ix_ev'::regclass;
DROP TABLE ix_ev, ix_out;
