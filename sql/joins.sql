-- Stream-stream joins: Spark's ad impressions and clicks (docs/joins/surface.md
-- 3.1-3.5).  A click counts within an hour of its impression; impressions may
-- come two hours late, clicks three.  Six queries over the same rows: inner,
-- left, right and full outer, left semi, and left outer under the "max"
-- watermark policy, run by an unprivileged role that owns the streams and the
-- queries.  After each step every target is printed whole; the expected rows
-- are those of the specification's tables (3.4, 3.5), which
-- docs/joins/scenario_model.py recomputes from the rules.
--
-- state_rows of a side counts the rows the join keeps in its state table: the
-- rows of a preserved side (outer, semi) waiting for a match, and the rows
-- dropped as late that a read of the stream could still meet (a late row is
-- forgotten once its side's eviction bound passes it: impressions with
-- imp_time < W - 1 hour, clicks with click_time < W).
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_join_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_join_owner;
SET ROLE regress_join_owner;

CREATE TABLE impressions (ad_id int, imp_time timestamptz);
CREATE TABLE clicks (ad_id int, click_time timestamptz);
CREATE INDEX ON impressions (ad_id, imp_time);
CREATE INDEX ON clicks (ad_id, click_time);
SELECT stream.create_stream('impressions');
SELECT stream.create_stream('clicks');

-- the condition and the watermarks of every query
SELECT stream.start_query('j_inner',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_inner', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
SELECT stream.start_query('j_left',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_left', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
SELECT stream.start_query('j_right',
    $$SELECT c.ad_id, i.imp_time, c.click_time
        FROM impressions i RIGHT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_right', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
SELECT stream.start_query('j_full',
    $$SELECT i.ad_id AS imp_ad, i.imp_time, c.ad_id AS click_ad, c.click_time
        FROM impressions i FULL JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_full', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
SELECT stream.start_query('j_semi',
    $$SELECT i.ad_id, i.imp_time
        FROM impressions i
       WHERE EXISTS (SELECT 1 FROM clicks c
                      WHERE c.ad_id = i.ad_id
                        AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')$$,
    'j_semi', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
SELECT stream.start_query('j_left_max',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_left_max', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}',
    watermark_policy => 'max') > 0 AS started;
-- the semi join spelled with IN: the same rows as j_semi after every step
SELECT stream.start_query('s_in',
    $$SELECT i.ad_id, i.imp_time
        FROM impressions i
       WHERE i.ad_id IN (SELECT c.ad_id FROM clicks c
                          WHERE c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')$$,
    's_in', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;

-- what the catalog shows: side 1 is the first stream read in FROM order (the
-- outer query's for the semi join), side 2 the other; a join has no
-- event_time/watermark of its own, its watermarks as given
SELECT name, stream, streams, event_time, watermark_delay, watermarks, watermark_policy
  FROM stream.queries WHERE name LIKE 'j\_%' ORDER BY name;
SELECT query, side, name, stream, event_time, delay, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- a step: the inserts, then every query runs its data batch and, when that
-- batch moved the watermark, the no-data batch after it
CREATE PROCEDURE run_all() LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_all_available('j_inner');
    CALL stream.process_all_available('j_left');
    CALL stream.process_all_available('j_right');
    CALL stream.process_all_available('j_full');
    CALL stream.process_all_available('j_semi');
    CALL stream.process_all_available('j_left_max');
    CALL stream.process_all_available('s_in');
END
$$;

-- ---------------------------------------------------------------------------
-- step 1: one transaction writes both streams (one event: the pair of
-- impression 2 and its click is new in one batch, written once); the click
-- of ad 4 comes before its impression
-- ---------------------------------------------------------------------------
BEGIN;
INSERT INTO impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:05'),
                               (3, '2026-01-01 10:10');
INSERT INTO clicks VALUES (2, '2026-01-01 10:20'), (4, '2026-01-01 10:30');
COMMIT;
CALL run_all();
SELECT * FROM j_inner ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_right ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_full ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_semi ORDER BY 1 NULLS LAST, 2 NULLS LAST;
(TABLE j_semi EXCEPT ALL TABLE s_in) UNION ALL (TABLE s_in EXCEPT ALL TABLE j_semi);
SELECT * FROM j_left_max ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- ---------------------------------------------------------------------------
-- step 2: two transactions, the clicks' committed first.  Impression
-- (8, 08:00) is older than its side's watermark (08:10) but not than the
-- query's (07:30, the min policy): kept (late under max).  Impression
-- (6, 07:30) and click (7, 07:20) are late (at or before 07:30).  The click
-- (4, 10:30) of step 1 meets its impression now; impression 2 gets a second
-- click (a second inner pair, no second semi row).
-- ---------------------------------------------------------------------------
BEGIN;
INSERT INTO clicks VALUES (1, '2026-01-01 10:50'), (2, '2026-01-01 10:45'),
                          (3, '2026-01-01 11:15'), (7, '2026-01-01 07:20');
COMMIT;
BEGIN;
INSERT INTO impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 11:00'),
                               (8, '2026-01-01 08:00'), (6, '2026-01-01 07:30');
COMMIT;
CALL run_all();
-- no NULL row yet: impressions 3 and 8 may still meet a click
SELECT * FROM j_inner ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_right ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_full ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_semi ORDER BY 1 NULLS LAST, 2 NULLS LAST;
(TABLE j_semi EXCEPT ALL TABLE s_in) UNION ALL (TABLE s_in EXCEPT ALL TABLE j_semi);
SELECT * FROM j_left_max ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- ---------------------------------------------------------------------------
-- step 3: one transaction per stream.  Click (6, 08:20) is not late and
-- falls within the hour of impression (6, 07:30), dropped as late in step 2:
-- no pair.  Impression (11, 08:00) is late, its click (11, 08:30) is not:
-- no pair.  Click (8, 08:10) is late (at or before 08:15): impression 8
-- gets its NULL row when the watermark passes it, in the no-data batch.
-- ---------------------------------------------------------------------------
INSERT INTO impressions VALUES (10, '2026-01-01 12:00'), (11, '2026-01-01 08:00');
INSERT INTO clicks VALUES (5, '2026-01-01 11:40'), (9, '2026-01-01 12:30'),
                          (8, '2026-01-01 08:10'), (11, '2026-01-01 08:30'),
                          (6, '2026-01-01 08:20');
-- j_left's data batch alone: no NULL row before the no-data batch
CALL stream.process_batch('j_left');
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
CALL run_all();
SELECT * FROM j_inner ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_right ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_full ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_semi ORDER BY 1 NULLS LAST, 2 NULLS LAST;
(TABLE j_semi EXCEPT ALL TABLE s_in) UNION ALL (TABLE s_in EXCEPT ALL TABLE j_semi);
SELECT * FROM j_left_max ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- the max policy is kept across a restart of the query
SELECT stream.stop_query('j_left_max');
SELECT stream.resume_query('j_left_max');
SELECT name, status, watermark_policy FROM stream.queries WHERE name = 'j_left_max';

-- ---------------------------------------------------------------------------
-- step 4: impression (14, 10:30) and click (15, 11:30) sit exactly on the
-- eviction bounds after this step (W - 1 hour = 10:30, W = 11:30): kept,
-- their NULL rows come in step 6
-- ---------------------------------------------------------------------------
INSERT INTO impressions VALUES (12, '2026-01-01 14:00'), (14, '2026-01-01 10:30');
INSERT INTO clicks VALUES (12, '2026-01-01 14:30'), (15, '2026-01-01 11:30');
CALL run_all();
SELECT * FROM j_inner ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_right ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_full ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_semi ORDER BY 1 NULLS LAST, 2 NULLS LAST;
(TABLE j_semi EXCEPT ALL TABLE s_in) UNION ALL (TABLE s_in EXCEPT ALL TABLE j_semi);
SELECT * FROM j_left_max ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- ---------------------------------------------------------------------------
-- step 5: one click, meeting impression 10 of step 3; no watermark moves,
-- so no no-data batch
-- ---------------------------------------------------------------------------
INSERT INTO clicks VALUES (10, '2026-01-01 12:50');
CALL run_all();
SELECT * FROM j_inner ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_right ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_full ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_semi ORDER BY 1 NULLS LAST, 2 NULLS LAST;
(TABLE j_semi EXCEPT ALL TABLE s_in) UNION ALL (TABLE s_in EXCEPT ALL TABLE j_semi);
SELECT * FROM j_left_max ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- ---------------------------------------------------------------------------
-- step 6: the watermark jumps to 17:10: every row still kept is evicted,
-- with the NULL rows of those that never matched
-- ---------------------------------------------------------------------------
INSERT INTO impressions VALUES (13, '2026-01-01 20:00');
INSERT INTO clicks VALUES (13, '2026-01-01 20:10');
CALL run_all();
SELECT * FROM j_inner ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_left ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_right ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT * FROM j_full ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_semi ORDER BY 1 NULLS LAST, 2 NULLS LAST;
(TABLE j_semi EXCEPT ALL TABLE s_in) UNION ALL (TABLE s_in EXCEPT ALL TABLE j_semi);
SELECT * FROM j_left_max ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query LIKE 'j\_%' ORDER BY query, side;

-- ---------------------------------------------------------------------------
-- j_inner's batches: per batch the watermark in force, the rows read and
-- dropped as late (summed over the sides, then per side with each side's
-- watermark after the batch), the rows written; a no-data batch after
-- every step but step 5
-- ---------------------------------------------------------------------------
SELECT p.batch_id, p.input_rows, p.late_rows, p.watermark, p.output_rows,
       s1.input_rows AS imp_in, s1.late_rows AS imp_late, s1.watermark AS imp_watermark,
       s2.input_rows AS click_in, s2.late_rows AS click_late, s2.watermark AS click_watermark
  FROM stream.progress p
  JOIN stream.progress_sides s1 ON s1.query = p.query AND s1.batch_id = p.batch_id AND s1.side = 1
  JOIN stream.progress_sides s2 ON s2.query = p.query AND s2.batch_id = p.batch_id AND s2.side = 2
 WHERE p.query = 'j_inner' ORDER BY p.batch_id;
SELECT batch_id, side, stream, event_time_min, event_time_max
  FROM stream.progress_sides WHERE query = 'j_inner' AND input_rows > 0
 ORDER BY batch_id, side;

-- each target equals its join over the rows not dropped as late (EXCEPT ALL
-- both ways), every row that will ever come having come
CREATE TEMP TABLE imp_ok AS
SELECT * FROM impressions
 WHERE (ad_id, imp_time) NOT IN ((6, '2026-01-01 07:30'), (11, '2026-01-01 08:00'));
CREATE TEMP TABLE click_ok AS
SELECT * FROM clicks
 WHERE (ad_id, click_time) NOT IN ((7, '2026-01-01 07:20'), (8, '2026-01-01 08:10'));
SELECT 'j_inner' AS query, count(*) AS differing FROM (
    (TABLE j_inner EXCEPT ALL
     SELECT i.ad_id, i.imp_time, c.click_time FROM imp_ok i JOIN click_ok c
         ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')
    UNION ALL
    (SELECT i.ad_id, i.imp_time, c.click_time FROM imp_ok i JOIN click_ok c
         ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
     EXCEPT ALL TABLE j_inner)) d
UNION ALL
SELECT 'j_full', count(*) FROM (
    (TABLE j_full EXCEPT ALL
     SELECT i.ad_id, i.imp_time, c.ad_id, c.click_time FROM imp_ok i FULL JOIN click_ok c
         ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')
    UNION ALL
    (SELECT i.ad_id, i.imp_time, c.ad_id, c.click_time FROM imp_ok i FULL JOIN click_ok c
         ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
     EXCEPT ALL TABLE j_full)) d
UNION ALL
SELECT 'j_semi', count(*) FROM (
    (TABLE j_semi EXCEPT ALL
     SELECT i.ad_id, i.imp_time FROM imp_ok i
      WHERE EXISTS (SELECT 1 FROM click_ok c WHERE c.ad_id = i.ad_id
                       AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'))
    UNION ALL
    (SELECT i.ad_id, i.imp_time FROM imp_ok i
      WHERE EXISTS (SELECT 1 FROM click_ok c WHERE c.ad_id = i.ad_id
                       AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')
     EXCEPT ALL TABLE j_semi)) d;

-- the policy cannot be changed: alter_query has no argument for it
\set VERBOSITY terse
SELECT stream.alter_query('j_left_max', watermark_policy => 'min');
\set VERBOSITY default

SELECT stream.drop_query(name) FROM stream.queries WHERE name LIKE 'j\_%' ORDER BY name;
SELECT stream.drop_query('s_in');
SELECT stream.drop_stream('impressions');
SELECT stream.drop_stream('clicks');
DROP PROCEDURE run_all();
DROP TABLE impressions, clicks, j_inner, j_left, j_right, j_full, j_semi, j_left_max, s_in;
RESET ROLE;
DROP OWNED BY regress_join_owner;
DROP ROLE regress_join_owner;
