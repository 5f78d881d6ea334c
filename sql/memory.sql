-- Batches run with CALL inside one transaction block keep what they
-- allocate per batch to the batch: the transaction's memory does not grow
-- with the number of batches.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE mem_s (id int);
SELECT stream.create_stream('mem_s');
-- one transaction per row, and one row per batch
DO $$ BEGIN FOR i IN 1..450 LOOP INSERT INTO mem_s VALUES (i); COMMIT; END LOOP; END $$;
SELECT stream.start_query('mem_q', 'SELECT id FROM mem_s', 'mem_out',
                          max_rows_per_batch => 1) > 0 AS started;

BEGIN;
DO $$ BEGIN FOR i IN 1..50 LOOP CALL stream.process_batch('mem_q'); END LOOP; END $$;
SELECT sum(total_bytes) AS before FROM pg_backend_memory_contexts
 WHERE name IN ('TopTransactionContext', 'pg_streaming batch') \gset
DO $$ BEGIN FOR i IN 1..400 LOOP CALL stream.process_batch('mem_q'); END LOOP; END $$;
SELECT sum(total_bytes) - :before < 400 * 256 AS flat,
       (SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'pg_streaming batch') AS batch_contexts_left
  FROM pg_backend_memory_contexts
 WHERE name IN ('TopTransactionContext', 'pg_streaming batch');
COMMIT;
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM mem_out;

SELECT stream.drop_query('mem_q');
DROP TABLE mem_s, mem_out;

-- a backend's prepared batch statements go with their queries: after 20
-- queries were run here and dropped, only the live query's statement stays
CREATE TABLE pc_s (id int);
SELECT stream.create_stream('pc_s');
INSERT INTO pc_s VALUES (1);
SELECT stream.start_query('pc_live', 'SELECT id FROM pc_s', 'pc_out') > 0 AS started;
CALL stream.process_all_available('pc_live');
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM stream.start_query('pc_' || i, 'SELECT id FROM pc_s', 'pc_out');
    END LOOP;
END $$;
DO $$ BEGIN FOR i IN 1..20 LOOP CALL stream.process_all_available('pc_' || i); END LOOP; END $$;
SELECT count(*) AS statements_prepared FROM pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident LIKE 'INSERT INTO public.pc_out%';
SELECT count(*) AS dropped FROM generate_series(1, 20) i
 WHERE stream.drop_query('pc_' || i);
INSERT INTO pc_s VALUES (2);
CALL stream.process_all_available('pc_live');
SELECT count(*) AS statements_prepared FROM pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident LIKE 'INSERT INTO public.pc_out%';
SELECT count(*) FROM pc_out;
SELECT stream.drop_query('pc_live');
DROP TABLE pc_s, pc_out;

-- every statement a backend keeps for its queries is under one memory
-- context, "pg_streaming plans": batch and aggregation statements, and the
-- owner statements that read a stream for a query; a dropped query's owner
-- statements go with it (the queries have a WHERE, so that they read their
-- batch's event times in an owner statement of its own)
CREATE TABLE pm_s (k int, t timestamptz);
SELECT stream.create_stream('pm_s');
INSERT INTO pm_s VALUES (1, '2026-01-01 00:00:00+00');
SELECT stream.start_query('pm_live', $q$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM pm_s WHERE k > 0 GROUP BY 1$q$,
                          'pm_live_out', output_mode => 'update', event_time => 't',
                          watermark => '1 minute') > 0 AS started;
CALL stream.process_all_available('pm_live');
SELECT count(*) AS plans_context FROM pg_backend_memory_contexts
 WHERE name = 'pg_streaming plans' AND parent = 'CacheMemoryContext';
-- the query's statements, and the generic plans PostgreSQL built for them
SELECT count(*) FILTER (WHERE name = 'CachedPlanSource') > 0 AS statements_inside,
       count(*) FILTER (WHERE name = 'CachedPlan') > 0 AS generic_plans_inside,
       count(*) FILTER (WHERE parent <> 'pg_streaming plans') AS outside
  FROM pg_backend_memory_contexts
 WHERE name IN ('CachedPlanSource', 'CachedPlan')
   AND (ident LIKE '%public.pm\_s %' OR ident LIKE '%pm\_live%');
SELECT count(*) > 0 AS catalog_statements_inside FROM pg_backend_memory_contexts
 WHERE parent = 'pg_streaming plans' AND name = 'CachedPlanSource'
   AND ident LIKE '%stream.checkpoint_offsets%';
DO $$
BEGIN
    FOR i IN 1..10 LOOP
        PERFORM stream.start_query('pm_' || i, $q$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM pm_s WHERE k > 0 GROUP BY 1$q$,
                                   'pm_out_' || i, output_mode => 'update', event_time => 't',
                                   watermark => '1 minute');
    END LOOP;
END $$;
DO $$ BEGIN FOR i IN 1..10 LOOP CALL stream.process_all_available('pm_' || i); END LOOP; END $$;
-- one owner statement (the batch's event times) per query
SELECT count(*) AS owner_statements FROM pg_backend_memory_contexts
 WHERE parent = 'pg_streaming plans' AND name = 'CachedPlanSource'
   AND ident LIKE 'SELECT pg_catalog.min(%public.pm_s %';
SELECT sum(total_bytes) AS plans_bytes FROM pg_backend_memory_contexts
 WHERE name = 'pg_streaming plans' OR parent = 'pg_streaming plans' \gset
SELECT count(*) AS dropped FROM generate_series(1, 10) i
 WHERE stream.drop_query('pm_' || i);
INSERT INTO pm_s VALUES (1, '2026-01-01 00:01:00+00');
CALL stream.process_all_available('pm_live');
SELECT count(*) AS owner_statements FROM pg_backend_memory_contexts
 WHERE parent = 'pg_streaming plans' AND name = 'CachedPlanSource'
   AND ident LIKE 'SELECT pg_catalog.min(%public.pm_s %';
SELECT sum(total_bytes) < :plans_bytes AS plans_freed FROM pg_backend_memory_contexts
 WHERE name = 'pg_streaming plans' OR parent = 'pg_streaming plans';
SELECT w, n FROM pm_live_out;
SELECT stream.drop_query('pm_live');
DO $$ BEGIN FOR i IN 1..10 LOOP EXECUTE format('DROP TABLE pm_out_%s', i); END LOOP; END $$;
SELECT stream.drop_stream('pm_s');
DROP TABLE pm_s, pm_live_out;

-- a backend keeps at most 256 owner statements: past that, the least
-- recently used go (one statement counts each query's pending rows)
CREATE TABLE pb_s (id int);
SELECT stream.create_stream('pb_s');
INSERT INTO pb_s VALUES (1);
DO $$
BEGIN
    FOR i IN 1..260 LOOP
        PERFORM stream.start_query('pb_' || i, 'SELECT id FROM pb_s', 'pb_out');
    END LOOP;
END $$;
SELECT count(*) AS counted FROM generate_series(1, 260) i
 WHERE stream.pending_rows('pb_' || i) = 1;
SELECT count(*) AS owner_statements FROM pg_backend_memory_contexts
 WHERE parent = 'pg_streaming plans' AND name = 'CachedPlanSource'
   AND ident LIKE '%pg_catalog.count(*)%public.pb_s %';
SELECT count(*) AS dropped FROM generate_series(1, 260) i
 WHERE stream.drop_query('pb_' || i);
SELECT stream.drop_stream('pb_s');
DROP TABLE pb_s, pb_out;
