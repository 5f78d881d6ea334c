-- Refusals: every bad argument and unsupported query shape gets a clear
-- error, and a refused call leaves nothing behind.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
\set VERBOSITY default

CREATE TABLE src (id int, grp int, ts timestamptz, payload text);
SELECT stream.create_stream('src');
CREATE TABLE src2 (id int);
SELECT stream.create_stream('src2');
CREATE TABLE dim (grp int PRIMARY KEY, label text);
CREATE VIEW src_view AS SELECT id, grp FROM src;

-- query shapes
SELECT stream.start_query('r', 'SELECT grp FROM dim', 'r_out');
SELECT stream.start_query('r', 'SELECT 1 AS one', 'r_out');
-- a join between two streams, and a self-join: accepted in append mode, with
-- the state that nothing bounds said aloud; refused in update mode
SELECT stream.start_query('join1', 'SELECT a.id FROM src a JOIN src2 b ON a.id = b.id', 'join1_out') > 0 AS started;
SELECT stream.start_query('join2', 'SELECT a.id FROM src a JOIN src b USING (id)', 'join2_out') > 0 AS started;
SELECT stream.start_query('r', 'SELECT a.id FROM src a JOIN src b USING (id)', 'r_out', output_mode => 'update');
SELECT stream.start_query('r', 'SELECT grp, count(*) AS n FROM src GROUP BY grp', 'r_out');
SELECT stream.start_query('r', 'SELECT count(*) AS n FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id, row_number() OVER (ORDER BY id) AS rn FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src ORDER BY id', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src LIMIT 10', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM (SELECT id FROM src OFFSET 1) s', 'r_out');
SELECT stream.start_query('r', 'SELECT DISTINCT grp FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src UNION SELECT grp FROM dim', 'r_out');
SELECT stream.start_query('r', 'SELECT d.label FROM dim d LEFT JOIN src s USING (grp)', 'r_out');
SELECT stream.start_query('r', 'SELECT d.label FROM src s RIGHT JOIN dim d USING (grp)', 'r_out');
SELECT stream.start_query('r', 'SELECT d.label FROM src s FULL JOIN dim d USING (grp)', 'r_out');
SELECT stream.start_query('r', 'SELECT label FROM dim WHERE grp IN (SELECT grp FROM src)', 'r_out');
SELECT stream.start_query('r', 'SELECT id, random() AS r FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id, clock_timestamp() AS t FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src_view', 'r_out');
SELECT stream.start_query('r', 'SELECT ctid AS where_is FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src TABLESAMPLE SYSTEM (10)', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src FOR UPDATE', 'r_out');
SELECT stream.start_query('r', 'WITH RECURSIVE t(n) AS (SELECT id FROM src UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT n FROM t', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src WHERE id = $1', 'r_out');
-- the same shapes written through CTEs and nested subqueries
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT a.id FROM c a JOIN c b USING (id)', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT count(*) AS n FROM c', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id, grp FROM src) SELECT grp, max(id) AS m FROM c GROUP BY grp', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT id FROM c LIMIT 5', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT id FROM c ORDER BY id', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT DISTINCT id FROM c', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT id, sum(id) OVER () AS s FROM c', 'r_out');
SELECT stream.start_query('r', 'WITH c AS MATERIALIZED (SELECT id FROM src) SELECT x.id FROM c x, LATERAL (SELECT id FROM c) y', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT id FROM (SELECT id FROM (SELECT id FROM c) i1 LIMIT 3) i2', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT id FROM (WITH d AS (SELECT id FROM c) SELECT count(*) AS id FROM d) i', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT id FROM c UNION ALL SELECT id FROM c', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id FROM src) SELECT label FROM dim WHERE grp IN (SELECT id FROM c)', 'r_out');
SELECT stream.start_query('r', 'WITH c AS (SELECT id, grp FROM src) SELECT d.label FROM dim d LEFT JOIN c USING (grp)', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM (SELECT id FROM (SELECT id FROM src) a GROUP BY id) b', 'r_out');
SELECT stream.start_query('r', 'WITH d AS (DELETE FROM dim RETURNING grp) SELECT id FROM src', 'r_out');
SELECT stream.start_query('r', 'WITH d AS (INSERT INTO dim VALUES (9, ''x'') RETURNING grp) SELECT s.id FROM src s JOIN d USING (grp)', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM no_such_table', 'r_out');
SELECT stream.start_query('r', 'SELECT no_such_column FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src; SELECT id FROM src', 'r_out');
SELECT stream.start_query('r', 'INSERT INTO dim VALUES (1, ''x'')', 'r_out');
SELECT stream.start_query('r', 'SELECT id INTO other_table FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id + 1, id FROM src', 'r_out');
SELECT stream.start_query('r', 'SELECT id, grp AS id FROM src', 'r_out');
SELECT stream.start_query('r', 'SELEKT id FROM src', 'r_out');
-- stream-static joins the other way round, and stable functions, are fine
SELECT stream.start_query('ok1', 'SELECT s.id, d.label FROM dim d RIGHT JOIN src s USING (grp)', 'ok1_out') > 0 AS started;
SELECT stream.start_query('ok3', 'WITH c AS (SELECT id, grp FROM src WHERE id > 0) SELECT c.id, d.label FROM c JOIN dim d USING (grp)', 'ok3_out') > 0 AS started;
SELECT stream.start_query('ok2', 'SELECT id, date_trunc(''hour'', ts) AS hour FROM src WHERE EXISTS (SELECT 1 FROM dim WHERE dim.grp = src.grp)', 'ok2_out') > 0 AS started;

-- arguments
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', output_mode => 'upsert');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', output_mode => 'complete');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => 'sometimes');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '-5 seconds');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '0 ms');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '367 days');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '0.5 ms');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '300000000 days');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '213503982 days 1 hour');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => '-178000000 years');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', max_rows_per_batch => 0);
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', max_rows_per_batch => -3);
SELECT stream.start_query('', 'SELECT id FROM src', 'r_out');
SELECT stream.start_query(NULL, 'SELECT id FROM src', 'r_out');
SELECT stream.start_query('r', NULL, 'r_out');
SELECT stream.start_query('r', 'SELECT id FROM src', NULL);
SELECT stream.start_query('r', 'SELECT id FROM src', 'no_such_schema.r_out');
SELECT stream.start_query('r', 'SELECT id FROM src', 'a.b.c.d');
SELECT stream.start_query('ok1', 'SELECT id FROM src', 'r_out');
-- WITH RECURSIVE over the stream, even where the CTE does not recurse
SELECT stream.start_query('r', 'WITH RECURSIVE t AS (SELECT id FROM src) SELECT id FROM t', 'r_out');
-- arguments by name in any order, each NULL one refused or taken as its
-- default, and the first bad argument the one reported
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', output_mode => NULL);
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', trigger => NULL);
SELECT stream.start_query('', 'SELECT id FROM src', 'r_out', starting_from => NULL);
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', starting_from => 'never',
                          max_rows_per_batch => 0);
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', watermark => '1 minute');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', event_time => 'ts',
                          max_rows_per_batch => 0);
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', max_rows_per_batch => 0,
                          output_mode => 'sometimes');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', output_mode => 'sometimes',
                          trigger => 'whenever');
SELECT stream.start_query('r', 'SELECT id, ts FROM src', 'r_out', event_time => 'ts',
                          watermark => '1 minute', deduplicate => '{id,NULL}');
SELECT stream.start_query('r', 'SELECT id FROM src', 'r_out', output_mode => 'update',
                          key => '{NULL}');
SELECT stream.start_query('r', 'SELECT id FROM src', key => '{id}',
                          foreach_batch => 'no_such_procedure');
SELECT stream.start_query('r', 'SELECT id FROM src', foreach_batch => 'no_such_procedure',
                          target => 'r_out');
SELECT stream.start_query(trigger => 'once', target => 'named_out',
                          query => 'SELECT id, grp FROM src', max_rows_per_batch => NULL,
                          name => 'named', starting_from => 'latest', key => NULL,
                          event_time => NULL, watermark => NULL, deduplicate => NULL,
                          foreach_batch => NULL) > 0 AS started;
SELECT name, output_mode, trigger, max_rows_per_batch, target FROM stream.queries
 WHERE name = 'named';
SELECT attname FROM pg_attribute WHERE attrelid = 'named_out'::regclass AND attnum > 0
 ORDER BY attnum;
-- alter_query's arguments: a name, something to change, the first bad one reported
SELECT stream.alter_query(NULL, trigger => 'once');
SELECT stream.alter_query('named', query => NULL, trigger => NULL, max_rows_per_batch => NULL);
SELECT stream.alter_query('no such query', trigger => 'whenever');
SELECT stream.alter_query('named', max_rows_per_batch => -1, trigger => 'whenever');
SELECT stream.alter_query('named', max_rows_per_batch => -1, trigger => '2 minutes');
SELECT stream.alter_query(max_rows_per_batch => 7, name => 'named');
SELECT name, trigger, max_rows_per_batch FROM stream.queries WHERE name = 'named';
SELECT stream.drop_query('named');
DROP TABLE named_out;
-- triggers that are accepted
SELECT stream.start_query('t1', 'SELECT id FROM src', 't_out', trigger => 'once') > 0 AS started;
SELECT stream.start_query('t2', 'SELECT id FROM src', 't_out', trigger => 'available_now') > 0 AS started;
SELECT stream.start_query('t3', 'SELECT id FROM src', 't_out', trigger => 'continuous') > 0 AS started;
SELECT stream.start_query('t4', 'SELECT id FROM src', 't_out', trigger => '2 minutes') > 0 AS started;
SELECT name, trigger FROM stream.queries WHERE name LIKE 't_' ORDER BY name;

-- targets
CREATE TABLE bad_target (id text, other int NOT NULL);
CREATE TABLE narrow_target (other int);
CREATE TABLE point_target (id point);
SELECT stream.start_query('r', 'SELECT id FROM src', 'narrow_target');
SELECT stream.start_query('r', 'SELECT id FROM src', 'point_target');
SELECT stream.start_query('r', 'SELECT id FROM src', 'src');
SELECT stream.start_query('r', 'SELECT id FROM src', 'src_view');
CREATE SEQUENCE a_seq;
SELECT stream.start_query('r', 'SELECT id FROM src', 'a_seq');
-- an int output fits a text column by assignment; a NOT NULL column without
-- a default is the target's own business and fails the batch, not the start
SELECT stream.start_query('r_ok', 'SELECT id FROM src', 'bad_target') > 0 AS started;
INSERT INTO src (id) VALUES (1);
CALL stream.process_all_available('r_ok');
SELECT count(*) FROM bad_target;

-- privileges: reading every table the query names, inserting into the target
CREATE ROLE regress_stream_carol;
GRANT CREATE ON SCHEMA public TO regress_stream_carol;
GRANT SELECT ON dim TO regress_stream_carol;
CREATE TABLE carol_target (id int);
SET ROLE regress_stream_carol;
SELECT stream.start_query('carol', 'SELECT id FROM src', 'carol_new');
SELECT stream.start_query('carol', 'SELECT grp FROM dim', 'carol_new');
SELECT stream.start_query('carol', 'SELECT id FROM src', 'carol_target');
RESET ROLE;
GRANT SELECT ON src TO regress_stream_carol;
SET ROLE regress_stream_carol;
SELECT stream.start_query('carol', 'SELECT id FROM src', 'carol_target');
RESET ROLE;

-- nothing was left behind by the refused calls
SELECT name FROM stream.queries ORDER BY name;
SELECT relname FROM pg_class WHERE relname IN ('r_out', 'carol_new', 'other_table') ;
SELECT count(*) AS inserted_by_a_refused_cte FROM dim WHERE grp = 9;

SELECT stream.drop_query(name) FROM stream.queries ORDER BY name;
DROP TABLE src, src2, dim, bad_target, narrow_target, point_target, carol_target,
    ok1_out, ok2_out, ok3_out, t_out, join1_out, join2_out CASCADE;
DROP SEQUENCE a_seq;
REVOKE CREATE ON SCHEMA public FROM regress_stream_carol;
DROP ROLE regress_stream_carol;
