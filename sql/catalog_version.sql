-- The catalog's version is read once per backend and forgotten whenever
-- pg_extension changes: a session that used the newest catalog, dropped the
-- extension and created it again at an older version reads that catalog as
-- the older one (its queries run, what it has no place for is refused), and
-- after ALTER EXTENSION UPDATE as the newest, all without reconnecting.
SET client_min_messages = warning;
CREATE DATABASE regress_catalog_version;
\c regress_catalog_version
SET client_min_messages = warning;

-- the newest catalog, read and kept by this session
CREATE EXTENSION pg_streaming;
CREATE TABLE cv_s (id int, v text);
SELECT stream.create_stream('cv_s');
INSERT INTO cv_s VALUES (1, 'a');
SELECT stream.start_query('cv_agg', 'SELECT v, count(*) AS n FROM cv_s GROUP BY v', 'cv_agg_out',
                          output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('cv_agg');
SELECT v, n FROM cv_agg_out;
SELECT stream.drop_stream('cv_s', cascade => true);
DROP TABLE cv_s, cv_agg_out;
DROP EXTENSION pg_streaming;

-- the same session, the catalog of 0.3: its queries read and run as 0.3's
CREATE EXTENSION pg_streaming VERSION '0.3';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE cv_s (id int, v text);
SELECT stream.create_stream('cv_s');
INSERT INTO cv_s VALUES (1, 'a'), (2, 'b');
SELECT stream.start_query('cv_q', 'SELECT id, v FROM cv_s', 'cv_out') > 0 AS started;
CALL stream.process_all_available('cv_q');
SELECT id, v FROM cv_out ORDER BY id;
SELECT name, status, last_batch_id FROM stream.queries;
-- an aggregation waits for the update, and says so
SELECT stream.start_query('cv_agg', 'SELECT v, count(*) AS n FROM cv_s GROUP BY v', 'cv_agg_out',
                          output_mode => 'update');

-- updated in the same session: seen at once
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
INSERT INTO cv_s VALUES (3, 'a');
CALL stream.process_all_available('cv_q');
SELECT id, v FROM cv_out ORDER BY id;
SELECT stream.start_query('cv_agg', 'SELECT v, count(*) AS n FROM cv_s GROUP BY v', 'cv_agg_out',
                          output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('cv_agg');
SELECT v, n FROM cv_agg_out ORDER BY v;
SELECT stream.drop_stream('cv_s', cascade => true);
DROP TABLE cv_out, cv_agg_out;
DROP EXTENSION pg_streaming;

-- the catalog of 0.6: its start_query has no watermarks argument, and the
-- library refuses the watermarks of a 0.7 declaration of its entry point
-- until the update, naming it; nothing is left of the refused query
CREATE EXTENSION pg_streaming VERSION '0.6';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE cv_t (k text, ts timestamptz);
SELECT stream.create_stream('cv_t');
SELECT stream.start_query('cv_wm', 'SELECT k, ts FROM cv_t', 'cv_wm_out',
                          deduplicate => '{k}', watermarks => '{"cv_t.ts 1 hour"}');
CREATE FUNCTION cv_start_query_07(name text, query text, target text DEFAULT NULL,
    output_mode text DEFAULT 'append', trigger text DEFAULT '500 ms',
    max_rows_per_batch integer DEFAULT NULL, starting_from text DEFAULT 'earliest',
    event_time text DEFAULT NULL, watermark interval DEFAULT NULL,
    deduplicate text[] DEFAULT NULL, key text[] DEFAULT NULL,
    foreach_batch text DEFAULT NULL, watermarks text[] DEFAULT NULL,
    watermark_policy text DEFAULT 'min')
RETURNS bigint AS '$libdir/pg_streaming', 'stream_start_query' LANGUAGE C;
SELECT cv_start_query_07('cv_wm', 'SELECT k, ts FROM cv_t', 'cv_wm_out',
                         deduplicate => '{k}', watermarks => '{"cv_t.ts 1 hour"}');
SELECT cv_start_query_07('cv_wm', 'SELECT k, ts FROM cv_t', 'cv_wm_out',
                         deduplicate => '{k}', event_time => 'ts', watermark => '1 hour',
                         watermark_policy => 'max');
SELECT count(*) AS queries, to_regclass('cv_wm_out') AS target FROM stream.query_defs;
-- without them, the 0.7 declaration starts a query on the 0.6 catalog
SELECT cv_start_query_07('cv_wm', 'SELECT k, ts FROM cv_t', 'cv_wm_out',
                         deduplicate => '{k}', event_time => 'ts', watermark => '1 hour') > 0 AS started;
SELECT name, event_time, watermark_delay FROM stream.queries;
DROP FUNCTION cv_start_query_07;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
SELECT stream.start_query('cv_wm2', 'SELECT k, ts FROM cv_t', 'cv_wm2_out',
                          deduplicate => '{k}', watermarks => '{"cv_t.ts 1 hour"}') > 0 AS started;
INSERT INTO cv_t VALUES ('x', '2026-01-01 10:00+00'), ('x', '2026-01-01 10:05+00');
CALL stream.process_all_available('cv_wm');
CALL stream.process_all_available('cv_wm2');
SELECT (SELECT count(*) FROM cv_wm_out) AS deduplicated, (SELECT count(*) FROM cv_wm2_out) AS deduplicated_too;
SELECT name, watermarks, watermark_policy FROM stream.queries ORDER BY name;
SELECT stream.drop_stream('cv_t', cascade => true);

\c contrib_regression
DROP DATABASE regress_catalog_version;
