-- Batches run with CALL inside one transaction block keep what they
-- allocate per batch to the batch: the transaction's memory does not grow
-- with the number of batches.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE mem_s (id int);
SELECT stream.create_stream('mem_s');
-- one transaction per row, and one row per batch
SELECT 'INSERT INTO mem_s VALUES (' || g || ')' FROM generate_series(1, 450) g \gexec
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
