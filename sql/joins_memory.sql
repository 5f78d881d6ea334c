-- What a backend keeps for a join between two streams stays flat: its
-- statements and their texts are prepared again whenever stream.query_defs
-- changes (here: another query started and dropped before each batch), and
-- the texts of the ones they replace are freed with them.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';

CREATE TABLE jm_imp (ad_id int, imp_time timestamptz);
CREATE TABLE jm_clk (ad_id int, click_time timestamptz);
CREATE INDEX ON jm_imp (ad_id, imp_time);
CREATE INDEX ON jm_clk (ad_id, click_time);
SELECT stream.create_stream('jm_imp');
SELECT stream.create_stream('jm_clk');
CREATE TABLE jm_other_s (id int);
SELECT stream.create_stream('jm_other_s');
SELECT stream.start_query('jm_q',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM jm_imp i
        LEFT JOIN jm_clk c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'jm_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;

-- one batch after each change of stream.query_defs
CREATE PROCEDURE jm_round(n int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        PERFORM stream.start_query('jm_other', 'SELECT id FROM jm_other_s', 'jm_other_out');
        PERFORM stream.drop_query('jm_other');
        INSERT INTO jm_imp VALUES (i, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 minute');
        INSERT INTO jm_clk VALUES (i, '2026-01-01 00:00:30+00'::timestamptz + i * interval '1 minute');
        COMMIT;
        CALL stream.process_batch('jm_q');
    END LOOP;
END $$;
CALL jm_round(5);
SELECT total_bytes AS before FROM pg_backend_memory_contexts
 WHERE name = 'pg_streaming plans' AND parent = 'CacheMemoryContext' \gset
CALL jm_round(40);
SELECT total_bytes - :before < 8192 AS flat FROM pg_backend_memory_contexts
 WHERE name = 'pg_streaming plans' AND parent = 'CacheMemoryContext';
SELECT count(*) AS pairs, count(DISTINCT ad_id) AS ads FROM jm_out;

SELECT stream.drop_query('jm_q');
DROP PROCEDURE jm_round(int);
DROP TABLE jm_out, jm_other_out;
SELECT stream.drop_stream('jm_imp');
SELECT stream.drop_stream('jm_clk');
SELECT stream.drop_stream('jm_other_s');
DROP TABLE jm_imp, jm_clk, jm_other_s;
