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
