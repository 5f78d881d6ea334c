-- Layers chained in one call: bronze -> silver -> gold as three queries,
-- each target created as a stream by target_is_stream and read by the
-- next query at once, run as unprivileged roles; the results against a
-- recomputation from the raw rows; each query's upstream and downstream
-- queries in stream.queries, only those the viewer may see; the refusals;
-- and where each batch's time went (stream.progress).
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_lp_owner LOGIN;
CREATE ROLE regress_lp_other LOGIN;
GRANT CREATE ON SCHEMA public TO regress_lp_owner, regress_lp_other;

SET ROLE regress_lp_owner;
CREATE TABLE lp_raw (id int, line text, at timestamptz);
SELECT stream.create_stream('lp_raw');
CREATE TABLE lp_devices (device text PRIMARY KEY, room text);
INSERT INTO lp_devices VALUES ('d1', 'kitchen'), ('d2', 'kitchen'), ('d3', 'hall');

-- bronze: the raw lines parsed, into a stream created by the call
SELECT stream.start_query('lp_bronze',
    $$SELECT id, split_part(line, ',', 1) AS device,
             split_part(line, ',', 2)::numeric AS reading, at
        FROM lp_raw WHERE line LIKE '%,%'$$,
    'lp_bronze', target_is_stream => true) > 0 AS started;
-- silver, started in the same transaction as nothing else: bronze is a
-- stream already, so a query reads it at once (a stream-static join)
SELECT stream.start_query('lp_silver',
    $$SELECT b.id, d.room, b.reading, b.at
        FROM lp_bronze b JOIN lp_devices d USING (device)
       WHERE b.reading >= 0$$,
    'lp_silver', target_is_stream => true) > 0 AS started;
-- gold: an hourly aggregation per room over silver, upserted into a table
SELECT stream.start_query('lp_gold',
    $$SELECT room, stream.tumble(at, '1 hour') AS hour, count(*) AS n,
             sum(reading) AS total, max(reading) AS peak
        FROM lp_silver GROUP BY 1, 2$$,
    'lp_gold', output_mode => 'update') > 0 AS started;

-- the targets: the owner's tables, streams (stream_heap, _stream_xid,
-- registered in stream.streams)
SELECT c.relname, c.relowner::regrole AS owner, a.amname,
       (SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS columns
  FROM pg_class c JOIN pg_am a ON a.oid = c.relam
 WHERE c.oid IN ('lp_bronze'::regclass, 'lp_silver'::regclass, 'lp_gold'::regclass) ORDER BY 1;
RESET ROLE;
SELECT relid FROM stream.streams WHERE relid::text LIKE 'lp\_%' ORDER BY 1;
SET ROLE regress_lp_owner;

-- a stream is append-only: the batch's inserts are the only way in
INSERT INTO lp_raw VALUES
    (1, 'd1,20.5', '2026-01-01 10:05'), (2, 'd2,21', '2026-01-01 10:10'),
    (3, 'd3,18', '2026-01-01 10:20'), (4, 'garbage', '2026-01-01 10:25'),
    (5, 'd9,30', '2026-01-01 10:30'), (6, 'd1,-1', '2026-01-01 11:05');
CALL stream.process_all_available('lp_bronze');
CALL stream.process_all_available('lp_silver');
CALL stream.process_all_available('lp_gold');
SELECT * FROM lp_gold ORDER BY room, hour;
UPDATE lp_bronze SET reading = 0;

-- two more rounds, the layers run in another order each time
INSERT INTO lp_raw VALUES
    (7, 'd1,22', '2026-01-01 10:40'), (8, 'd3,19.5', '2026-01-01 11:15');
CALL stream.process_all_available('lp_bronze');
INSERT INTO lp_raw VALUES (9, 'd2,23.25', '2026-01-01 11:45');
CALL stream.process_all_available('lp_silver');
CALL stream.process_all_available('lp_gold');
CALL stream.process_all_available('lp_bronze');
INSERT INTO lp_raw VALUES (10, 'd3,17', '2026-01-01 12:01'), (11, 'd1,24', '2026-01-01 10:59');
CALL stream.process_all_available('lp_bronze');
CALL stream.process_all_available('lp_silver');
CALL stream.process_all_available('lp_gold');
SELECT * FROM lp_gold ORDER BY room, hour;

-- gold equals the same pipeline computed once over every raw row
CREATE TEMP VIEW lp_recomputed AS
SELECT d.room, stream.tumble(r.at, '1 hour') AS hour, count(*) AS n,
       sum(split_part(r.line, ',', 2)::numeric) AS total,
       max(split_part(r.line, ',', 2)::numeric) AS peak
  FROM lp_raw r JOIN lp_devices d ON d.device = split_part(r.line, ',', 1)
 WHERE r.line LIKE '%,%' AND split_part(r.line, ',', 2)::numeric >= 0
 GROUP BY 1, 2;
SELECT (SELECT count(*) FROM lp_recomputed) AS groups,
       (SELECT count(*) FROM (SELECT * FROM lp_gold EXCEPT SELECT * FROM lp_recomputed) x) AS gold_only,
       (SELECT count(*) FROM (SELECT * FROM lp_recomputed EXCEPT SELECT * FROM lp_gold) x) AS recomputed_only;
-- and every layer holds each row once
SELECT (SELECT count(*) FROM lp_bronze) AS bronze_rows,
       (SELECT count(DISTINCT id) FROM lp_bronze) AS bronze_ids,
       (SELECT count(*) FROM lp_silver) AS silver_rows,
       (SELECT count(DISTINCT id) FROM lp_silver) AS silver_ids;

-- the graph, computed from the catalog
SELECT name, upstream, downstream FROM stream.queries
 WHERE name LIKE 'lp\_%' ORDER BY name;
RESET ROLE;

-- another role reads silver: its query is downstream of silver, but each
-- role sees only the names of queries of roles it belongs to
GRANT SELECT ON lp_silver TO regress_lp_other;
SET ROLE regress_lp_other;
SELECT stream.start_query('lp_other_copy', $$SELECT id, room FROM lp_silver$$,
    'lp_other_copy') > 0 AS started;
SELECT name, upstream, downstream FROM stream.queries ORDER BY name;
RESET ROLE;
SET ROLE regress_lp_owner;
SELECT name, upstream, downstream FROM stream.queries ORDER BY name;
RESET ROLE;
SELECT name, upstream, downstream FROM stream.queries
 WHERE name LIKE 'lp\_%' ORDER BY name;

SET ROLE regress_lp_owner;
-- an existing stream may be named: a second source appends to bronze
CREATE TABLE lp_raw2 (id int, line text, at timestamptz);
SELECT stream.create_stream('lp_raw2');
SELECT stream.start_query('lp_bronze2',
    $$SELECT id, split_part(line, ',', 1) AS device,
             split_part(line, ',', 2)::numeric AS reading, at
        FROM lp_raw2 WHERE line LIKE '%,%'$$,
    'lp_bronze', target_is_stream => true) > 0 AS started;
INSERT INTO lp_raw2 VALUES (100, 'd2,25', '2026-01-01 12:30');
CALL stream.process_all_available('lp_bronze2');
CALL stream.process_all_available('lp_silver');
SELECT id, room, reading FROM lp_silver WHERE id = 100;
SELECT name, upstream, downstream FROM stream.queries
 WHERE name IN ('lp_bronze', 'lp_bronze2', 'lp_silver') ORDER BY name;

-- a join between streams is downstream of the query that writes either
-- of its sides (here its second)
SELECT stream.start_query('lp_join',
    $$SELECT r.id, s.room, r.line FROM lp_raw r JOIN lp_silver s ON s.id = r.id$$,
    'lp_join') > 0 AS started;
SELECT name, upstream, downstream FROM stream.queries
 WHERE name IN ('lp_join', 'lp_silver') ORDER BY name;
SELECT stream.drop_query('lp_join');
DROP TABLE lp_join;

-- refused, and nothing is left of a refused call
CREATE TABLE lp_plain (room text, n bigint);
SELECT stream.start_query('lp_r1',
    $$SELECT room, count(*) AS n FROM lp_silver GROUP BY 1$$,
    'lp_r1', output_mode => 'update', target_is_stream => true);
SELECT stream.start_query('lp_r2',
    $$SELECT room, count(*) AS n FROM lp_silver GROUP BY 1$$,
    'lp_r2', output_mode => 'complete', target_is_stream => true);
SELECT stream.start_query('lp_r3',
    $$SELECT room, count(*) AS n FROM lp_silver GROUP BY 1$$,
    'lp_plain', output_mode => 'update', target_is_stream => true);
SELECT stream.start_query('lp_r4', $$SELECT room, id AS n FROM lp_silver$$,
    'lp_plain', target_is_stream => true);
CREATE PROCEDURE lp_each(batch_id bigint) LANGUAGE sql AS $$SELECT 1$$;
SELECT stream.start_query('lp_r5', $$SELECT id, room FROM lp_silver$$,
    foreach_batch => 'lp_each', target_is_stream => true);
-- a query's own stream is no target, stream or not
SELECT stream.start_query('lp_r6', $$SELECT id, room, reading, at FROM lp_silver$$,
    'lp_silver', target_is_stream => true);
-- nor is a stream that leads back to it through other queries: silver's
-- rows written into raw would come back through bronze and silver
SELECT stream.start_query('lp_r7', $$SELECT id, room AS line, at FROM lp_silver$$,
    'lp_raw');
SELECT stream.start_query('lp_r8', $$SELECT id, room AS line, at FROM lp_silver$$,
    'lp_raw2', target_is_stream => true);
SELECT count(*) AS refused_queries FROM stream.queries WHERE name LIKE 'lp\_r_';
SELECT to_regclass('lp_r1') AS r1, to_regclass('lp_r2') AS r2,
       (SELECT amname FROM pg_am WHERE oid = (SELECT relam FROM pg_class WHERE oid = 'lp_plain'::regclass)) AS plain_am;
-- target_is_stream => false changes nothing: an ordinary table is created
SELECT stream.start_query('lp_flat', $$SELECT id, room FROM lp_silver$$,
    'lp_flat', target_is_stream => false) > 0 AS started;
SELECT (SELECT amname FROM pg_am WHERE oid = (SELECT relam FROM pg_class WHERE oid = 'lp_flat'::regclass)) AS am;
SELECT stream.drop_query('lp_flat');
RESET ROLE;
SELECT relid FROM stream.streams WHERE relid::text LIKE 'lp\_%' ORDER BY 1;
SET ROLE regress_lp_owner;

-- where each batch's time went: every part measured, none negative, the
-- run's parts within its duration; the commit of every batch but each
-- query's latest (this session ran them all, one after the other); the
-- state's bytes for the aggregation only
SELECT query,
       count(*) AS batches,
       bool_and(plan_ms >= 0 AND read_ms >= 0 AND merge_ms >= 0 AND write_ms >= 0) AS parts_measured,
       bool_and(plan_ms + read_ms + merge_ms + write_ms <= duration_ms) AS within_duration,
       bool_and(read_ms > 0) AS reads_take_time,
       count(commit_ms) AS commits_known,
       bool_and(commit_ms >= 0) AS commits_non_negative,
       bool_and(state_bytes > 0) AS state_bytes_positive,
       count(state_bytes) AS state_bytes_known
  FROM stream.progress WHERE query LIKE 'lp\_%'
 GROUP BY query ORDER BY query;
-- each part where the work is: an aggregation reads, merges into its
-- state and writes its groups; a query without state runs one statement
-- that reads and inserts, counted as read
SELECT query, bool_and(merge_ms > 0) AS merges, bool_and(write_ms > 0) AS writes,
       bool_and(merge_ms = 0 AND write_ms = 0) AS one_statement
  FROM stream.progress WHERE query IN ('lp_bronze', 'lp_gold')
 GROUP BY query ORDER BY query;
-- the commit shown for a batch is the one the next batch's row measured
SELECT count(*) AS misplaced
  FROM stream.progress p
 WHERE p.query = 'lp_gold' AND p.commit_ms IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM stream.progress n
                    WHERE n.query = p.query AND n.batch_id = p.batch_id + 1);
-- state_bytes is the state table's size as the batch left it
RESET ROLE;
SELECT (SELECT state_bytes FROM stream.progress WHERE query = 'lp_gold'
         ORDER BY batch_id DESC LIMIT 1)
       = pg_total_relation_size('stream_state.lp_gold') AS latest_state_bytes;
SET ROLE regress_lp_owner;

-- a batch run inside a transaction block commits when its caller does:
-- its commit is not measured
INSERT INTO lp_raw2 VALUES (102, 'd1,1', '2026-01-01 12:50');
BEGIN;
CALL stream.process_batch('lp_bronze2');
COMMIT;
INSERT INTO lp_raw2 VALUES (103, 'd1,2', '2026-01-01 12:55');
CALL stream.process_batch('lp_bronze2');
SELECT batch_id, commit_ms IS NULL AS commit_unknown FROM stream.progress
 WHERE query = 'lp_bronze2' ORDER BY batch_id;

-- dropping a query leaves its stream target to its owner, and the next
-- layer goes on reading it
SELECT stream.drop_query('lp_bronze');
SELECT to_regclass('lp_bronze') IS NOT NULL AS kept,
       (SELECT amname FROM pg_am WHERE oid = (SELECT relam FROM pg_class WHERE oid = 'lp_bronze'::regclass)) AS am;
SELECT name, upstream, downstream FROM stream.queries
 WHERE name IN ('lp_bronze2', 'lp_silver') ORDER BY name;
INSERT INTO lp_raw2 VALUES (101, 'd3,26', '2026-01-01 12:40');
CALL stream.process_all_available('lp_bronze2');
CALL stream.process_all_available('lp_silver');
SELECT count(*) AS silver_rows FROM lp_silver;
RESET ROLE;

SET ROLE regress_lp_other;
SELECT stream.drop_query('lp_other_copy');
DROP TABLE lp_other_copy;
RESET ROLE;
SET ROLE regress_lp_owner;
SELECT stream.drop_query('lp_bronze2');
SELECT stream.drop_query('lp_silver');
SELECT stream.drop_query('lp_gold');
SELECT stream.drop_stream('lp_raw');
SELECT stream.drop_stream('lp_raw2');
SELECT stream.drop_stream('lp_bronze');
SELECT stream.drop_stream('lp_silver');
DROP VIEW lp_recomputed;
DROP TABLE lp_raw, lp_raw2, lp_bronze, lp_silver, lp_gold, lp_devices, lp_plain, lp_flat;
DROP PROCEDURE lp_each(bigint);
RESET ROLE;
DROP OWNED BY regress_lp_owner, regress_lp_other;
DROP ROLE regress_lp_owner, regress_lp_other;
