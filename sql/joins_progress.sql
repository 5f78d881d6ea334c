-- stream.progress of a join batch: the event times over both sides' rows,
-- their mean as a batch over one stream has it (the same rows read by a
-- query over one stream give the same figures).
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';

CREATE TABLE jp_imp (ad_id int, imp_time timestamptz);
CREATE TABLE jp_clk (ad_id int, click_time timestamptz);
CREATE INDEX ON jp_imp (ad_id, imp_time);
CREATE INDEX ON jp_clk (ad_id, click_time);
SELECT stream.create_stream('jp_imp');
SELECT stream.create_stream('jp_clk');
SELECT stream.start_query('jp_q',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM jp_imp i
        JOIN jp_clk c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'jp_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
-- the same rows, one stream
CREATE TABLE jp_all (t timestamptz);
SELECT stream.create_stream('jp_all');
SELECT stream.start_query('jp_one',
    $$SELECT stream.tumble(t, '1 day') AS w, count(*) AS n FROM jp_all GROUP BY 1$$,
    'jp_one_out', output_mode => 'update', trigger => '1 hour', event_time => 't',
    watermark => '2 hours') > 0 AS started;

INSERT INTO jp_imp VALUES (1, '2026-01-01 00:00:00+00'), (2, '2026-01-01 00:01:00+00'),
                          (3, '2026-01-01 00:02:00+00');
INSERT INTO jp_clk VALUES (1, '2026-01-01 00:10:00+00');
INSERT INTO jp_all VALUES ('2026-01-01 00:00:00+00'), ('2026-01-01 00:01:00+00'),
                          ('2026-01-01 00:02:00+00'), ('2026-01-01 00:10:00+00');
CALL stream.process_batch('jp_q');
CALL stream.process_batch('jp_one');
SELECT query, input_rows, event_time_min, event_time_max, event_time_avg
  FROM stream.progress WHERE query IN ('jp_q', 'jp_one') ORDER BY query;

-- rows dropped as late are counted per batch and kept with the batch, for
-- a join (stream.progress, progress_sides, and query_sides' sum per side)
-- as for a query over one stream (stream.progress): over the latest
-- pg_streaming.retained_batches only, with no running total anywhere
SET pg_streaming.retained_batches = 2;
SELECT stream.start_query('jp_late',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM jp_imp i
        JOIN jp_clk c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'jp_late_out', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 2 hours"}') > 0 AS started;
SELECT stream.start_query('jp_late_one', 'SELECT t FROM jp_all', 'jp_late_one_out',
    trigger => '1 hour', event_time => 't', watermark => '2 hours',
    deduplicate => '{t}') > 0 AS started;
CALL stream.process_batch('jp_late');
CALL stream.process_batch('jp_late_one');
-- the watermark moves to 10:00, then each of three rounds writes four
-- rows older than it: two on each side of the join, and the same four
-- times in the stream of the query over one stream
INSERT INTO jp_imp VALUES (5, '2026-01-01 12:00:00+00');
INSERT INTO jp_clk VALUES (5, '2026-01-01 12:00:00+00');
INSERT INTO jp_all VALUES ('2026-01-01 12:00:00+00');
CALL stream.process_batch('jp_late');
CALL stream.process_batch('jp_late_one');
INSERT INTO jp_imp VALUES (6, '2026-01-01 12:30:00+00');
INSERT INTO jp_clk VALUES (6, '2026-01-01 12:30:00+00');
INSERT INTO jp_all VALUES ('2026-01-01 12:30:00+00');
CALL stream.process_batch('jp_late');
CALL stream.process_batch('jp_late_one');
DO $$
DECLARE
    r int;
BEGIN
    FOR r IN 1..3 LOOP
        INSERT INTO jp_imp VALUES (7, '2026-01-01 08:00:00+00'::timestamptz + r * interval '1 minute'),
                                  (8, '2026-01-01 09:00:00+00'::timestamptz + r * interval '1 minute');
        INSERT INTO jp_clk VALUES (7, '2026-01-01 08:30:00+00'::timestamptz + r * interval '1 minute'),
                                  (8, '2026-01-01 09:30:00+00'::timestamptz + r * interval '1 minute');
        INSERT INTO jp_all VALUES ('2026-01-01 08:00:00+00'::timestamptz + r * interval '1 minute'),
                                  ('2026-01-01 09:00:00+00'::timestamptz + r * interval '1 minute'),
                                  ('2026-01-01 08:30:00+00'::timestamptz + r * interval '1 minute'),
                                  ('2026-01-01 09:30:00+00'::timestamptz + r * interval '1 minute');
        COMMIT;
        CALL stream.process_batch('jp_late');
        CALL stream.process_batch('jp_late_one');
    END LOOP;
END $$;
-- each query dropped 12 rows as late, 4 in each round: the 2 batches kept
-- count 8, and each side of the join 4 of them
SELECT query, count(*) AS batches_kept, sum(late_rows) AS late_rows
  FROM stream.progress WHERE query IN ('jp_late', 'jp_late_one')
 GROUP BY query ORDER BY query;
SELECT side, late_rows,
       late_rows = (SELECT sum(p.late_rows) FROM stream.progress_sides p
                     WHERE p.query = 'jp_late' AND p.side = s.side) AS as_progress_sides
  FROM stream.query_sides s WHERE query = 'jp_late' ORDER BY side;
RESET pg_streaming.retained_batches;
SELECT stream.drop_query('jp_late');
SELECT stream.drop_query('jp_late_one');
DROP TABLE jp_late_out, jp_late_one_out;

SELECT stream.drop_query('jp_q');
SELECT stream.drop_query('jp_one');
DROP TABLE jp_out, jp_one_out;
SELECT stream.drop_stream('jp_imp');
SELECT stream.drop_stream('jp_clk');
SELECT stream.drop_stream('jp_all');
DROP TABLE jp_imp, jp_clk, jp_all;
