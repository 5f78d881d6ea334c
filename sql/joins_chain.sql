-- A join between streams, then a windowed aggregation over it (append mode;
-- docs/joins/surface.md 2.9 item 2 and 3.6).  j_hourly counts per hour of
-- the impression the rows of the left outer join of impressions and clicks
-- (a click within an hour of its impression; impressions two hours late,
-- clicks three), and the clicks among them.  The hour closes when the
-- join's output watermark, W - 1 hour - 1 ms, reaches its end: after every
-- row the join will ever write for it, NULL rows included.  j_inner_5m
-- counts the inner join's pairs per five minutes of the click.  Both run as
-- an unprivileged role that owns the streams and the queries.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_chain_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_chain_owner;
SET ROLE regress_chain_owner;

CREATE TABLE impressions (ad_id int, imp_time timestamptz);
CREATE TABLE clicks (ad_id int, click_time timestamptz);
CREATE INDEX ON impressions (ad_id, imp_time);
CREATE INDEX ON clicks (ad_id, click_time);
SELECT stream.create_stream('impressions');
SELECT stream.create_stream('clicks');

SELECT stream.start_query('j_hourly',
    $$SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows,
             count(c.click_time) AS clicks
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$,
    'j_hourly', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
-- the inner join's pairs per five minutes of the click
SELECT stream.start_query('j_inner_5m',
    $$SELECT stream.tumble(c.click_time, '5 minutes') AS w, count(*) AS pairs,
             sum(c.ad_id) AS ads
        FROM impressions i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$,
    'j_inner_5m', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
-- the plain join beside them, for the differential check at the end
SELECT stream.start_query('j_left_rows',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_left_rows', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;

-- the aggregation's state is the query's; the join's is <query>_join, a part
-- of it (the catalog read as the superuser)
RESET ROLE;
SELECT q.name, q.state_relid::regclass AS state,
       (SELECT pg_catalog.count(*) FROM pg_depend d
         WHERE d.objid = (SELECT c.oid FROM pg_class c
                           WHERE c.relname = 'j_hourly_join'
                             AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = q.state_relid))
           AND d.refobjid = q.state_relid AND d.deptype = 'i') AS join_state_part
  FROM stream.query_defs q WHERE q.name = 'j_hourly';
SET ROLE regress_chain_owner;

CREATE PROCEDURE run_all() LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_all_available('j_hourly');
    CALL stream.process_all_available('j_inner_5m');
    CALL stream.process_all_available('j_left_rows');
END
$$;
-- the batches of each step: rows in, late rows (for j_hourly the join's and
-- the aggregation's), the watermark W, rows written, state rows (the join's
-- and the aggregation's)
CREATE TABLE seen (query text, batch_id bigint);
CREATE VIEW new_batches AS
SELECT p.query, p.batch_id, p.input_rows, p.late_rows, p.watermark,
       p.output_rows, p.state_rows
  FROM stream.progress p
 WHERE p.query IN ('j_hourly', 'j_inner_5m')
   AND (p.query, p.batch_id) NOT IN (SELECT * FROM seen);

-- step 1
BEGIN;
INSERT INTO impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:05'),
                               (3, '2026-01-01 10:10');
INSERT INTO clicks VALUES (2, '2026-01-01 10:20'), (4, '2026-01-01 10:30');
COMMIT;
CALL run_all();
SELECT * FROM new_batches ORDER BY 1, 2;
INSERT INTO seen SELECT query, batch_id FROM new_batches;
SELECT * FROM j_hourly ORDER BY 1;
SELECT * FROM j_inner_5m ORDER BY 1;

-- step 2
BEGIN;
INSERT INTO clicks VALUES (1, '2026-01-01 10:50'), (2, '2026-01-01 10:45'),
                          (3, '2026-01-01 11:15'), (7, '2026-01-01 07:20');
COMMIT;
BEGIN;
INSERT INTO impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 11:00'),
                               (8, '2026-01-01 08:00'), (6, '2026-01-01 07:30');
COMMIT;
CALL run_all();
SELECT * FROM new_batches ORDER BY 1, 2;
INSERT INTO seen SELECT query, batch_id FROM new_batches;
SELECT * FROM j_hourly ORDER BY 1;
SELECT * FROM j_inner_5m ORDER BY 1;

-- step 3
INSERT INTO impressions VALUES (10, '2026-01-01 12:00'), (11, '2026-01-01 08:00');
INSERT INTO clicks VALUES (5, '2026-01-01 11:40'), (9, '2026-01-01 12:30'),
                          (8, '2026-01-01 08:10'), (11, '2026-01-01 08:30'),
                          (6, '2026-01-01 08:20');
CALL run_all();
SELECT * FROM new_batches ORDER BY 1, 2;
INSERT INTO seen SELECT query, batch_id FROM new_batches;
SELECT * FROM j_hourly ORDER BY 1;
SELECT * FROM j_inner_5m ORDER BY 1;

-- step 4: the hour 08:00 closes (impression 8's NULL row, written in step 3)
INSERT INTO impressions VALUES (12, '2026-01-01 14:00'), (14, '2026-01-01 10:30');
INSERT INTO clicks VALUES (12, '2026-01-01 14:30'), (15, '2026-01-01 11:30');
CALL run_all();
SELECT * FROM new_batches ORDER BY 1, 2;
INSERT INTO seen SELECT query, batch_id FROM new_batches;
SELECT * FROM j_hourly ORDER BY 1;
SELECT * FROM j_inner_5m ORDER BY 1;

-- step 5: no watermark moves, no no-data batch, nothing written
INSERT INTO clicks VALUES (10, '2026-01-01 12:50');
CALL run_all();
SELECT * FROM new_batches ORDER BY 1, 2;
INSERT INTO seen SELECT query, batch_id FROM new_batches;
SELECT * FROM j_hourly ORDER BY 1;
SELECT * FROM j_inner_5m ORDER BY 1;

-- step 6: the hour 10:00 counts impression 14's NULL row, written by the
-- same no-data batch that closes the hour; the hour 20:00 stays open
INSERT INTO impressions VALUES (13, '2026-01-01 20:00');
INSERT INTO clicks VALUES (13, '2026-01-01 20:10');
CALL run_all();
SELECT * FROM new_batches ORDER BY 1, 2;
INSERT INTO seen SELECT query, batch_id FROM new_batches;
SELECT * FROM j_hourly ORDER BY 1;
SELECT * FROM j_inner_5m ORDER BY 1;
SELECT query, side, state_rows FROM stream.query_sides
 WHERE query = 'j_hourly' ORDER BY side;
-- per operator, in the order rows flow: the join's sides, then the
-- aggregation (its groups, the groups changed, the windows closed, the late
-- groups); step 6's no-data batch closes four hours and keeps one
SELECT batch_id, ordinal, operator, side, state_rows, state_rows_updated,
       state_rows_removed, late_rows
  FROM stream.progress_operators WHERE query = 'j_hourly' AND batch_id >= 10
 ORDER BY batch_id, ordinal;

-- differential: every closed hour equals a recomputation over the join's
-- own rows (j_left_rows), and the open hours are those the output
-- watermark has not passed
WITH closed AS (
    SELECT stream.tumble(imp_time, '1 hour') AS hour, count(*) AS rows,
           count(click_time) AS clicks
      FROM j_left_rows GROUP BY 1
    HAVING stream.tumble(imp_time, '1 hour') + interval '1 hour' <=
           (SELECT watermark FROM stream.queries WHERE name = 'j_hourly')
           - interval '1 hour 1 millisecond')
SELECT (SELECT count(*) FROM closed) AS closed_hours,
       (SELECT count(*) FROM ((TABLE closed EXCEPT ALL TABLE j_hourly)
                              UNION ALL (TABLE j_hourly EXCEPT ALL TABLE closed)) d) AS differences;
-- the pairs per five minutes: each window the output watermark closed
SELECT stream.tumble(click_time, '5 minutes') AS w, count(*), sum(ad_id)
  FROM j_left_rows WHERE click_time IS NOT NULL GROUP BY 1
HAVING stream.tumble(click_time, '5 minutes') + interval '5 minutes' <=
       (SELECT watermark FROM stream.queries WHERE name = 'j_inner_5m')
       - interval '1 hour 1 millisecond'
EXCEPT ALL SELECT * FROM j_inner_5m;

-- retention: the chain holds back only the rows its join may still read
-- (read from its own state table), without a WARNING; every join here has
-- passed step 6's rows but impression 13 and click 13
SELECT stream.set_retention('impressions', '0 seconds');
SELECT stream.run_retention('impressions') AS removed;
SELECT count(*) AS kept FROM impressions;

-- alter_query: a new filter is accepted; the aggregation's keys and
-- aggregates are its state's, and the join's keys its join's
\set VERBOSITY default
SELECT stream.alter_query('j_inner_5m', query =>
    $$SELECT stream.tumble(c.click_time, '5 minutes') AS w, count(*) AS pairs,
             sum(c.ad_id) AS ads
        FROM impressions i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       WHERE i.ad_id <> 99
       GROUP BY 1$$);
SELECT stream.alter_query('j_inner_5m', query =>
    $$SELECT stream.tumble(c.click_time, '5 minutes') AS w, count(*) AS pairs,
             max(c.ad_id) AS ads
        FROM impressions i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$);
SELECT stream.alter_query('j_inner_5m', query =>
    $$SELECT c.click_time AS w, 1::bigint AS pairs, c.ad_id::bigint AS ads
        FROM impressions i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$);
-- the filter applies from the next batch: the pair of ad 99 is not counted
-- in the window 20:10 (open since step 6, with ad 13's pair), which a pair
-- a day later closes
INSERT INTO impressions VALUES (99, '2026-01-01 20:00'), (98, '2026-01-01 20:00');
INSERT INTO clicks VALUES (99, '2026-01-01 20:10'), (98, '2026-01-01 20:10');
CALL stream.process_all_available('j_inner_5m');
INSERT INTO impressions VALUES (50, '2026-01-02 12:00');
INSERT INTO clicks VALUES (50, '2026-01-02 12:00');
CALL stream.process_all_available('j_inner_5m');
SELECT * FROM j_inner_5m WHERE w >= '2026-01-01 20:00' ORDER BY 1;

-- started from the latest rows: the join's start snapshot is kept in its
-- own state table, and the first batch reads only the rows after it
SELECT stream.start_query('j_latest',
    $$SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows,
             count(c.click_time) AS clicks
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$,
    'j_latest', starting_from => 'latest',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
INSERT INTO impressions VALUES (60, '2026-01-03 10:00');
INSERT INTO clicks VALUES (60, '2026-01-03 10:10');
CALL stream.process_all_available('j_latest');
SELECT batch_id, input_rows, output_rows FROM stream.progress
 WHERE query = 'j_latest' ORDER BY batch_id;
-- W = min(18:00, 17:30): the hour 10:00 closes
INSERT INTO impressions VALUES (61, '2026-01-03 20:00');
INSERT INTO clicks VALUES (61, '2026-01-03 20:30');
CALL stream.process_all_available('j_latest');
SELECT * FROM j_latest ORDER BY 1;
SELECT stream.drop_query('j_latest');
DROP TABLE j_latest;

-- refusals
-- E1: update (and complete) mode
SELECT stream.start_query('r_update',
    $$SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$,
    'r_update', output_mode => 'update',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
-- E21: grouped by the ad only
SELECT stream.start_query('r_by_ad',
    $$SELECT i.ad_id, count(*) AS rows
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$,
    'r_by_ad',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
-- E21: a window of a side without a watermark
SELECT stream.start_query('r_no_wm',
    $$SELECT stream.tumble(c.click_time, '1 hour') AS hour, count(*) AS rows
        FROM impressions i JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
       GROUP BY 1$$,
    'r_no_wm',
    watermarks => '{"i.imp_time 2 hours"}');
-- a semi join under an aggregation
SELECT stream.start_query('r_semi',
    $$SELECT stream.tumble(i.imp_time, '1 hour') AS hour, count(*) AS rows
        FROM impressions i
       WHERE EXISTS (SELECT 1 FROM clicks c
                      WHERE c.ad_id = i.ad_id
                        AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')
       GROUP BY 1$$,
    'r_semi',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}');
\set VERBOSITY terse
SELECT count(*) FROM stream.queries;
SELECT relname FROM pg_class WHERE relname LIKE 'r\_%';

-- dropping the query drops both state tables
SELECT stream.drop_query('j_hourly');
SELECT count(*) FROM pg_class
 WHERE relnamespace = 'stream_state'::regnamespace AND relname LIKE 'j\_hourly%';

SELECT stream.drop_query('j_inner_5m');
SELECT stream.drop_query('j_left_rows');
DROP PROCEDURE run_all();
DROP VIEW new_batches;
SELECT stream.drop_stream('impressions');
SELECT stream.drop_stream('clicks');
DROP TABLE impressions, clicks, seen, j_hourly, j_inner_5m, j_left_rows;
RESET ROLE;
DROP OWNED BY regress_chain_owner;
DROP ROLE regress_chain_owner;
