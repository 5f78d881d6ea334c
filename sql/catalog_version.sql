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

\c contrib_regression
DROP DATABASE regress_catalog_version;
