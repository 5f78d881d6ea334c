-- The upgrade chain: a database created at 0.1, with a live stream and
-- query, is updated with ALTER EXTENSION and keeps processing, exactly once;
-- what the update leaves equals a fresh install of the newest version.
SET client_min_messages = warning;
CREATE DATABASE regress_upgrade_old;
CREATE DATABASE regress_upgrade_new;

-- the same shape, the same way, in both databases: kept in a psql variable
SELECT $shape$
CREATE FUNCTION pg_temp.extension_shape() RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $body$
SELECT pg_describe_object(d.classid, d.objid, 0),
       CASE d.classid
           WHEN 'pg_proc'::regclass THEN
               CASE WHEN (SELECT prokind FROM pg_proc WHERE oid = d.objid) = 'a'
                    THEN (SELECT 'aggregate ' || aggtransfn::text || ' ' || aggtranstype::regtype::text
                            FROM pg_aggregate WHERE aggfnoid = d.objid)
                    ELSE pg_get_functiondef(d.objid) END
           WHEN 'pg_class'::regclass THEN
               coalesce(pg_get_viewdef(d.objid),
                        (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod)
                                           || CASE WHEN attnotnull THEN ' not null' ELSE '' END,
                                           ', ' ORDER BY attnum)
                           FROM pg_attribute
                          WHERE attrelid = d.objid AND attnum > 0 AND NOT attisdropped))
               || coalesce(' ' || (SELECT array_agg(opt ORDER BY opt)::text
                                     FROM unnest((SELECT reloptions FROM pg_class
                                                   WHERE oid = d.objid)) opt), '')
               || coalesce(' constraints ' || (SELECT string_agg(pg_get_constraintdef(k.oid), '; '
                                                                 ORDER BY pg_get_constraintdef(k.oid))
                                                 FROM pg_constraint k WHERE k.conrelid = d.objid), '')
           WHEN 'pg_event_trigger'::regclass THEN
               (SELECT evtevent || ' ' || evtenabled::text || ' ' || evtfoid::regproc::text || ' ' || coalesce(evttags::text, '')
                  FROM pg_event_trigger WHERE oid = d.objid)
       END
       || coalesce(' -- ' || obj_description(d.objid, d.classid::regclass::name), '')
       || coalesce(' acl ' || (SELECT proacl::text FROM pg_proc WHERE oid = d.objid AND d.classid = 'pg_proc'::regclass), '')
       || coalesce(' acl ' || (SELECT relacl::text FROM pg_class WHERE oid = d.objid AND d.classid = 'pg_class'::regclass), '')
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_streaming')
   AND d.deptype = 'e'
$body$;
$shape$ AS shape_function \gset

-- what a fresh install of the newest version holds
\c regress_upgrade_new
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming;
:shape_function
SELECT count(*) > 20 AS has_objects FROM pg_temp.extension_shape();
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) AS fresh
  FROM pg_temp.extension_shape() \gset

-- an extension created anew numbers its queries from 1 again: a statement
-- this session prepared for the old query 1 is not the new query 1's
CREATE TABLE first_s (id int);
SELECT stream.create_stream('first_s');
INSERT INTO first_s VALUES (1);
SELECT stream.start_query('first', 'SELECT id FROM first_s', 'first_out');
CALL stream.process_all_available('first');
SELECT stream.drop_stream('first_s', cascade => true);
DROP EXTENSION pg_streaming;
CREATE EXTENSION pg_streaming;
CREATE TABLE second_s (id int, note text);
SELECT stream.create_stream('second_s');
INSERT INTO second_s VALUES (2, 'second');
SELECT stream.start_query('second', 'SELECT id, note FROM second_s', 'second_out');
CALL stream.process_all_available('second');
SELECT (SELECT count(*) FROM first_out) AS first_rows, id, note FROM second_out;

\c regress_upgrade_old
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE u_events (id int, v text);
SELECT stream.create_stream('u_events');
INSERT INTO u_events SELECT g, 'before' FROM generate_series(1, 10) g;
SELECT stream.start_query('u_q', 'SELECT id, v FROM u_events WHERE id % 2 = 0', 'u_out') > 0 AS started;
-- the newest library runs the old catalog until the update
CALL stream.process_all_available('u_q');
-- an aggregation needs the update first, and says so; nothing is left of it
SELECT stream.start_query('u_agg', 'SELECT v, count(*) AS n FROM u_events GROUP BY v', 'u_agg',
                          output_mode => 'update');
SELECT count(*) AS agg_queries FROM stream.query_defs WHERE name = 'u_agg';
SELECT to_regclass('u_agg') AS agg_target;
INSERT INTO u_events SELECT g, 'pending' FROM generate_series(11, 20) g;
SELECT name, status, last_batch_id, pending_rows FROM stream.queries;

ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
INSERT INTO u_events SELECT g, 'after' FROM generate_series(21, 30) g;
CALL stream.process_all_available('u_q');
SELECT name, status, last_batch_id, pending_rows, last_error_detail FROM stream.queries;
SELECT batch_id, input_rows, output_rows FROM stream.progress ORDER BY batch_id;
SELECT count(*) AS rows, count(DISTINCT id) AS ids,
       bool_and(id % 2 = 0) AS only_even FROM u_out;

-- the same objects, with the same definitions, as the fresh install
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();

-- the update is seen at once by the session that ran it: the aggregation
-- refused above starts now, and runs
SELECT stream.start_query('u_agg', 'SELECT v, count(*) AS n FROM u_events GROUP BY v', 'u_agg',
                          output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('u_agg');
SELECT v, n FROM u_agg ORDER BY v;
SELECT stream.drop_query('u_agg');
DROP TABLE u_agg;

-- what 0.2 brings works on the updated catalog
ALTER TABLE u_events SET ACCESS METHOD heap;
-- what 0.3 brings too: the rows a table had when it became a stream arrive
-- in batches of at most max_rows_per_batch
CREATE TABLE u_history (id int);
INSERT INTO u_history SELECT generate_series(1, 1000);
SELECT stream.create_stream('u_history');
SELECT stream.start_query('u_h', 'SELECT id FROM u_history', 'u_h_out',
                          max_rows_per_batch => 300) > 0 AS started;
CALL stream.process_all_available('u_h');
SELECT count(*) > 3 AS batches, max(input_rows) <= 300 AS within_cap,
       sum(input_rows) AS rows
  FROM stream.progress WHERE query = 'u_h';
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM u_h_out;
SELECT stream.drop_stream('u_history', cascade => true);
SELECT stream.drop_stream('u_events', cascade => true);
SELECT count(*) AS queries_left FROM stream.query_defs;

-- the last step alone: a database at 0.2, with a live capped query part-way
-- through its rows, updated to the newest version
\c contrib_regression
CREATE DATABASE regress_upgrade_02;
\c regress_upgrade_02
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming VERSION '0.2';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE v_events (id int, pad text);
SELECT stream.create_stream('v_events');
SELECT stream.start_query('v_q', 'SELECT id FROM v_events', 'v_out',
                          max_rows_per_batch => 50) > 0 AS started;
INSERT INTO v_events SELECT g, 'a' FROM generate_series(1, 40) g;
INSERT INTO v_events SELECT g, 'b' FROM generate_series(41, 80) g;
INSERT INTO v_events SELECT g, 'c' FROM generate_series(81, 120) g;
CALL stream.process_batch('v_q');
SELECT count(*) AS delivered_at_02 FROM v_out;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
INSERT INTO v_events SELECT g, 'after' FROM generate_series(121, 400) g;
CALL stream.process_all_available('v_q');
SELECT count(*) AS rows, count(DISTINCT id) AS ids, max(id) FROM v_out;
-- the 280-row transaction is split by block (a block holds more than 50 of
-- these rows, and a batch takes at least one)
SELECT count(*) >= 6 AS split_into_batches FROM stream.progress WHERE query = 'v_q';
SELECT stream.set_retention('v_events', '0 seconds');
SELECT stream.run_retention('v_events') AS removed;
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();
SELECT stream.drop_stream('v_events', cascade => true);

-- the last step alone: a database at 0.3 with a live query that has rows
-- pending, updated; the query goes on exactly once, and the update's
-- streaming aggregations work beside it, over the same stream
\c contrib_regression
CREATE DATABASE regress_upgrade_03;
\c regress_upgrade_03
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming VERSION '0.3';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE w_events (id int, kind text);
SELECT stream.create_stream('w_events');
SELECT stream.start_query('w_q', 'SELECT id, kind FROM w_events', 'w_out') > 0 AS started;
INSERT INTO w_events SELECT g, 'k' || g % 3 FROM generate_series(1, 30) g;
CALL stream.process_all_available('w_q');
INSERT INTO w_events SELECT g, 'k' || g % 3 FROM generate_series(31, 60) g;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
SELECT stream.start_query('w_counts', 'SELECT kind, count(*) AS n, sum(id) AS s FROM w_events GROUP BY kind',
                          'w_counts', output_mode => 'update') > 0 AS started;
INSERT INTO w_events SELECT g, 'k' || g % 4 FROM generate_series(61, 90) g;
CALL stream.process_all_available('w_q');
CALL stream.process_all_available('w_counts');
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM w_out;
SELECT * FROM w_counts ORDER BY kind;
SELECT query, sum(input_rows) AS rows, max(state_rows) AS groups
  FROM stream.progress GROUP BY query ORDER BY query;
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();
SELECT stream.drop_stream('w_events', cascade => true);
SELECT count(*) AS state_tables_left FROM pg_class WHERE relnamespace = 'stream_state'::regnamespace;

-- the last step alone: a database at 0.4 with a live aggregation that has
-- rows pending, updated; it goes on exactly once, and can then be altered in
-- place; upserting and foreach_batch queries work beside it
\c contrib_regression
CREATE DATABASE regress_upgrade_04;
\c regress_upgrade_04
SET client_min_messages = warning;
CREATE EXTENSION pg_streaming VERSION '0.4';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE x_events (id int, kind text);
SELECT stream.create_stream('x_events');
SELECT stream.start_query('x_counts', 'SELECT kind, count(*) AS n FROM x_events GROUP BY kind',
                          'x_counts', output_mode => 'update') > 0 AS started;
INSERT INTO x_events SELECT g, 'k' || g % 3 FROM generate_series(1, 30) g;
CALL stream.process_all_available('x_counts');
INSERT INTO x_events SELECT g, 'k' || g % 3 FROM generate_series(31, 60) g;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
SELECT name, pending_rows, key, foreach_batch FROM stream.queries;
-- the checkpoints written before the update are adopted as this database's
-- transaction history (the update runs where they were written)
SELECT count(*) AS histories FROM stream.local_history;
SELECT count(*) > 0 AS has_offsets, bool_and(o.history_id = h.history_id
       AND o.system_identifier = h.system_identifier) AS adopted
  FROM stream.checkpoint_offsets o, stream.local_history h;
-- the update gave the query its view: what it reads is protected
SELECT relname FROM pg_class WHERE relnamespace = 'stream_query'::regnamespace;
ALTER TABLE x_events DROP COLUMN kind;
CALL stream.process_all_available('x_counts');
SELECT stream.alter_query('x_counts', query => 'SELECT kind, count(*) AS n FROM x_events WHERE id > 0 GROUP BY kind HAVING count(*) > 0');
CREATE TABLE x_latest (kind text PRIMARY KEY, id int);
SELECT stream.start_query('x_up', 'SELECT kind, id FROM x_events', 'x_latest',
                          output_mode => 'update') > 0 AS started;
CREATE TABLE x_outbox (batch_id bigint, n bigint);
CREATE PROCEDURE x_deliver(batch_id bigint) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO x_outbox SELECT batch_id, count(*) FROM stream_batch.x_fe;
END $$;
SELECT stream.start_query('x_fe', 'SELECT id FROM x_events', foreach_batch => 'x_deliver') > 0 AS started;
INSERT INTO x_events SELECT g, 'k' || g % 4 FROM generate_series(61, 90) g;
CALL stream.process_all_available('x_counts');
CALL stream.process_all_available('x_up');
CALL stream.process_all_available('x_fe');
SELECT * FROM x_counts ORDER BY kind;
SELECT * FROM x_latest ORDER BY kind;
SELECT sum(n) AS delivered FROM x_outbox;
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();
SELECT stream.drop_stream('x_events', cascade => true);
SELECT count(*) AS batch_tables_left FROM pg_class WHERE relnamespace = 'stream_batch'::regnamespace;

-- the last step alone: a database at 0.5 with a live windowed aggregation
-- and a keyed copy that have rows pending, updated; both go on exactly once
-- and the update equals a fresh install
\c contrib_regression
CREATE DATABASE regress_upgrade_05;
\c regress_upgrade_05
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION pg_streaming VERSION '0.5';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE y_events (id int PRIMARY KEY, kind text, ts timestamptz);
SELECT stream.create_stream('y_events');
SELECT stream.start_query('y_windows',
    $$SELECT stream.tumble(ts, '10 minutes') AS ws, kind, count(*) AS n FROM y_events GROUP BY 1, 2$$,
    'y_windows', output_mode => 'update', event_time => 'ts', watermark => '5 minutes') > 0 AS started;
SELECT stream.start_query('y_latest', 'SELECT kind, id FROM y_events', 'y_latest',
                          output_mode => 'update', key => '{kind}') > 0 AS started;
INSERT INTO y_events SELECT g, 'k' || g % 3, '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 30) g;
CALL stream.process_all_available('y_windows');
CALL stream.process_all_available('y_latest');
INSERT INTO y_events SELECT g, 'k' || g % 3, '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(31, 60) g;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
INSERT INTO y_events SELECT g, 'k' || g % 3, '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(61, 90) g;
CALL stream.process_all_available('y_windows');
CALL stream.process_all_available('y_latest');
SELECT sum(n) AS counted, count(*) AS windows FROM y_windows;
SELECT * FROM y_latest ORDER BY kind;
SELECT query, sum(input_rows) AS rows FROM stream.progress GROUP BY query ORDER BY query;
-- the shape is compared in the time zone it was taken in (views show constants in it)
RESET timezone;
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();
SELECT stream.drop_stream('y_events', cascade => true);

-- the last step alone: a database at 0.6 with a live windowed aggregation
-- and a plain query that have rows pending, updated; both go on exactly
-- once, keep their definitions (no side rows), show the new columns, and
-- the update equals a fresh install; the update's watermarks work beside
\c contrib_regression
CREATE DATABASE regress_upgrade_06;
\c regress_upgrade_06
SET client_min_messages = warning;
SET timezone = 'UTC';
CREATE EXTENSION pg_streaming VERSION '0.6';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE z_events (id int, kind text, ts timestamptz);
SELECT stream.create_stream('z_events');
SELECT stream.start_query('z_windows',
    $$SELECT stream.tumble(ts, '10 minutes') AS ws, kind, count(*) AS n FROM z_events GROUP BY 1, 2$$,
    'z_windows', output_mode => 'append', event_time => 'ts', watermark => '5 minutes') > 0 AS started;
SELECT stream.start_query('z_copy', 'SELECT id, kind FROM z_events', 'z_copy') > 0 AS started;
INSERT INTO z_events SELECT g, 'k' || g % 3, '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 30) g;
CALL stream.process_all_available('z_windows');
CALL stream.process_all_available('z_copy');
INSERT INTO z_events SELECT g, 'k' || g % 3, '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(31, 60) g;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
SELECT name, pending_rows > 0 AS pending, streams, watermarks IS NOT NULL AS has_watermarks,
       watermark_policy FROM stream.queries ORDER BY name;
SELECT count(*) AS side_rows FROM stream.query_side_defs;
INSERT INTO z_events SELECT g, 'k' || g % 3, '2026-01-01 10:00'::timestamptz + g * interval '1 minute'
  FROM generate_series(61, 90) g;
CALL stream.process_all_available('z_windows');
CALL stream.process_all_available('z_copy');
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM z_copy;
SELECT sum(n) AS counted, count(*) AS windows, max(ws) AS last_closed FROM z_windows;
SELECT stream.start_query('z_windows_wm',
    $$SELECT stream.tumble(e.ts, '10 minutes') AS ws, e.kind, count(*) AS n FROM z_events e GROUP BY 1, 2$$,
    'z_windows_wm', output_mode => 'append', watermarks => '{"e.ts 5 minutes"}') > 0 AS started;
CALL stream.process_all_available('z_windows_wm');
SELECT count(*) AS differing FROM (SELECT * FROM z_windows EXCEPT SELECT * FROM z_windows_wm) d;
SELECT count(*) AS side_rows, (SELECT count(*) FROM stream.checkpoint_sides) AS side_offsets,
       (SELECT count(*) FROM stream.progress_side_log) AS side_progress
  FROM stream.query_side_defs;
RESET timezone;
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();
SELECT stream.drop_stream('z_events', cascade => true);

-- the last step alone: a database at 0.7 with a join between two streams.
-- The library of 0.8 detaches the join from its first stream alone and
-- refuses its second until the update; updated, the first's mark is the
-- side's, the second is detached as well, and the update equals a fresh
-- install
\c contrib_regression
CREATE DATABASE regress_upgrade_07;
\c regress_upgrade_07
SET client_min_messages = error;
CREATE EXTENSION pg_streaming VERSION '0.7';
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
CREATE TABLE w_a (k int);
CREATE TABLE w_b (k int);
SELECT stream.create_stream('w_a');
SELECT stream.create_stream('w_b');
SELECT stream.start_query('w_join', 'SELECT a.k FROM w_a a JOIN w_b b ON b.k = a.k', 'w_join',
                          trigger => '1 hour') > 0 AS started;
INSERT INTO w_a SELECT generate_series(1, 5);
INSERT INTO w_b SELECT generate_series(1, 5);
CALL stream.process_all_available('w_join');
SELECT stream.stop_query('w_join');
INSERT INTO w_a SELECT generate_series(6, 8);
INSERT INTO w_b SELECT generate_series(6, 8);
SELECT stream.set_retention('w_a', '0 seconds');
SELECT stream.set_retention('w_b', '0 seconds');
SELECT stream.detach_query('w_b', 'w_join');
SELECT stream.detach_query('w_a', 'w_join');
SELECT stream.run_retention('w_a') AS a_removed, stream.run_retention('w_b') AS b_removed;
ALTER EXTENSION pg_streaming UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'pg_streaming';
SELECT side, retention_detached_at IS NOT NULL AS detached
  FROM stream.query_side_defs ORDER BY side;
SELECT stream.detach_query('w_b', 'w_join');
SELECT stream.run_retention('w_a') AS a_removed, stream.run_retention('w_b') AS b_removed;
SELECT name, missed_rows_at IS NOT NULL AS missed FROM stream.queries;
:shape_function
SELECT md5(string_agg(object || ': ' || coalesce(definition, ''), E'\n' ORDER BY object)) = :'fresh' AS same_as_fresh
  FROM pg_temp.extension_shape();
SELECT stream.drop_stream('w_a', cascade => true);
SELECT stream.drop_stream('w_b', cascade => true);

\c contrib_regression
DROP DATABASE regress_upgrade_07;
DROP DATABASE regress_upgrade_06;
DROP DATABASE regress_upgrade_05;
DROP DATABASE regress_upgrade_old;
DROP DATABASE regress_upgrade_new;
DROP DATABASE regress_upgrade_02;
DROP DATABASE regress_upgrade_03;
DROP DATABASE regress_upgrade_04;
