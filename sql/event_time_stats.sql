-- Event-time statistics (stream.progress's event_time_min, _max and _avg)
-- and watermarks, recomputed from each batch's rows: an aggregation that
-- reads them with its groups (no WHERE), one whose WHERE drops some rows
-- (the statistics still cover every row of the batch), a timestamp without
-- time zone, rows without an event time, and late rows (dropped from the
-- windows, still counted in the statistics).  And the aggregation without a
-- WHERE reads the stream's blocks once per batch, not twice.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';

CREATE TABLE evs (step int, k int, t timestamptz);
SELECT stream.create_stream('evs');
CREATE TABLE evl (step int, k int, t timestamp);
SELECT stream.create_stream('evl');
SELECT stream.start_query('stats_append',
    $$SELECT stream.tumble(t, '10 minutes') AS w, k, count(*) AS n
        FROM evs GROUP BY 1, 2$$, 'stats_append', output_mode => 'append',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('stats_update',
    $$SELECT stream.tumble(t, '10 minutes') AS w, sum(k) AS s, count(*) AS n
        FROM evs GROUP BY 1$$, 'stats_update', output_mode => 'update',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('stats_where',
    $$SELECT stream.tumble(t, '10 minutes') AS w, k, count(*) AS n
        FROM evs WHERE k <> 3 GROUP BY 1, 2$$, 'stats_where', output_mode => 'append',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('stats_local',
    $$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n
        FROM evl GROUP BY 1$$, 'stats_local', output_mode => 'update',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;

CREATE PROCEDURE run_stats() LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_all_available('stats_append');
    CALL stream.process_all_available('stats_update');
    CALL stream.process_all_available('stats_where');
    CALL stream.process_all_available('stats_local');
END
$$;

-- step 1: times with fractions of a second, some rows without a time
INSERT INTO evs SELECT 1, g % 5, '2026-03-01 12:00'::timestamptz + g * interval '1.37 seconds'
  FROM generate_series(1, 400) g;
INSERT INTO evs VALUES (1, 1, NULL), (1, 2, NULL);
INSERT INTO evl SELECT step, k, t AT TIME ZONE 'UTC' FROM evs WHERE step = 1;
CALL run_stats();
-- step 2: later rows; the greatest time is on a row the WHERE drops (k 3)
INSERT INTO evs SELECT 2, g % 3, '2026-03-01 12:30'::timestamptz + g * interval '0.731 seconds'
  FROM generate_series(1, 300) g;
INSERT INTO evs VALUES (2, 3, '2026-03-01 12:50:00.25');
INSERT INTO evl SELECT step, k, t AT TIME ZONE 'UTC' FROM evs WHERE step = 2;
CALL run_stats();
-- step 3: a late row (its window closed at the watermark 12:40:00.25) is
-- the batch's earliest time
INSERT INTO evs VALUES (3, 1, '2026-03-01 12:01:02.5'), (3, 2, '2026-03-01 12:55'),
    (3, 4, '2026-03-01 12:52:10.125'), (3, 0, NULL);
INSERT INTO evl SELECT step, k, t AT TIME ZONE 'UTC' FROM evs WHERE step = 3;
CALL run_stats();
-- step 4: only rows without a time: no statistics, the watermark stays
INSERT INTO evs VALUES (4, 1, NULL);
INSERT INTO evl SELECT step, k, t AT TIME ZONE 'UTC' FROM evs WHERE step = 4;
CALL run_stats();

-- each batch with rows is one step's; its figures against the step's rows,
-- and the watermark in force against the steps before it
CREATE VIEW stats_check AS
WITH batches AS (
    SELECT query, batch_id, input_rows, event_time_min, event_time_max,
           event_time_avg, watermark, late_rows,
           row_number() OVER (PARTITION BY query ORDER BY batch_id)::int AS step
      FROM stream.progress
     WHERE query LIKE 'stats\_%' AND input_rows > 0),
rows AS (
    SELECT 'evs' AS stream, step, t FROM evs
    UNION ALL SELECT 'evl', step, timezone('UTC', t) FROM evl),
steps AS (
    SELECT stream, step, count(*) AS n, min(t) AS lo, max(t) AS hi,
           to_timestamp(avg(date_part('epoch', t))) AS av,
           (SELECT max(r2.t) - interval '10 minutes' FROM rows r2
             WHERE r2.stream = r.stream AND r2.step < r.step) AS mark
      FROM rows r GROUP BY stream, step)
SELECT b.query, b.step, b.input_rows = s.n AS input_rows_ok,
       b.event_time_min IS NOT DISTINCT FROM s.lo AS min_ok,
       b.event_time_max IS NOT DISTINCT FROM s.hi AS max_ok,
       CASE WHEN s.av IS NULL THEN b.event_time_avg IS NULL
            ELSE abs(extract(epoch FROM b.event_time_avg - s.av)) < 0.001 END AS avg_ok,
       b.watermark IS NOT DISTINCT FROM s.mark AS watermark_ok,
       b.event_time_max, b.watermark, b.late_rows
  FROM batches b
  JOIN steps s ON s.stream = CASE WHEN b.query = 'stats_local' THEN 'evl' ELSE 'evs' END
              AND s.step = b.step;
SELECT * FROM stats_check ORDER BY query, step;
SELECT count(*) AS batches_checked, bool_and(input_rows_ok AND min_ok AND max_ok AND avg_ok
                                             AND watermark_ok) AS all_ok
  FROM stats_check;
-- the watermark now: the latest time seen less the delay, on every query
SELECT name, watermark,
       watermark = (SELECT max(t) FROM evs) - interval '10 minutes' AS watermark_ok
  FROM stream.queries WHERE name LIKE 'stats\_%' ORDER BY name;

-- infinite event times, which the statistics leave out: grouped by the time
-- itself, each is a group of its own
CREATE TABLE evi (k int, t timestamptz);
SELECT stream.create_stream('evi');
SELECT stream.start_query('stats_by_time',
    $$SELECT t, count(*) AS n FROM evi GROUP BY t$$, 'stats_by_time',
    output_mode => 'update', event_time => 't', watermark => '10 minutes',
    trigger => '1 hour') > 0 AS started;
INSERT INTO evi VALUES (1, '2026-03-01 12:00:00.5'), (2, 'infinity'), (3, '-infinity'),
    (4, NULL), (5, '2026-03-01 12:20:00.25'), (6, '2026-03-01 12:07:13.125');
CALL stream.process_all_available('stats_by_time');
INSERT INTO evi VALUES (7, '2026-03-01 12:30'), (8, '2026-03-01 12:29:59.75');
CALL stream.process_all_available('stats_by_time');
SELECT p.batch_id, p.input_rows, p.event_time_min, p.event_time_max, p.event_time_avg,
       p.watermark,
       p.event_time_min = r.lo AND p.event_time_max = r.hi AND p.event_time_avg = r.av AS ok
  FROM stream.progress p,
       LATERAL (SELECT min(t) AS lo, max(t) AS hi,
                       to_timestamp(avg(date_part('epoch', t))) AS av
                  FROM evi WHERE isfinite(t)
                   AND k BETWEEN CASE p.batch_id WHEN 1 THEN 1 ELSE 7 END
                             AND CASE p.batch_id WHEN 1 THEN 6 ELSE 8 END) r
 WHERE p.query = 'stats_by_time' AND p.input_rows > 0 ORDER BY p.batch_id;
SELECT watermark FROM stream.queries WHERE name = 'stats_by_time';

-- one read of the batch's blocks: the same aggregation with a WHERE (which
-- reads the event times in a pass of their own) reads them twice
CREATE TABLE evb (k int, t timestamptz) WITH (autovacuum_enabled = false);
SELECT stream.create_stream('evb');
SELECT stream.start_query('once',
    $$SELECT stream.tumble(t, '1 minute') AS w, k, count(*) AS n
        FROM evb GROUP BY 1, 2$$, 'once', output_mode => 'append',
    event_time => 't', watermark => '1 minute', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('twice',
    $$SELECT stream.tumble(t, '1 minute') AS w, k, count(*) AS n
        FROM evb WHERE true GROUP BY 1, 2$$, 'twice', output_mode => 'append',
    event_time => 't', watermark => '1 minute', trigger => '1 hour') > 0 AS started;
INSERT INTO evb SELECT g % 10, '2026-03-01'::timestamptz + g * interval '1 second'
  FROM generate_series(1, 3000) g;
SELECT pg_relation_size('evb') / 8192 AS blocks \gset
SELECT pg_stat_force_next_flush();
SELECT heap_blks_read + heap_blks_hit AS b0 FROM pg_statio_user_tables WHERE relname = 'evb' \gset
CALL stream.process_batch('once');
SELECT pg_stat_force_next_flush();
SELECT heap_blks_read + heap_blks_hit AS b1 FROM pg_statio_user_tables WHERE relname = 'evb' \gset
CALL stream.process_batch('twice');
SELECT pg_stat_force_next_flush();
SELECT heap_blks_read + heap_blks_hit AS b2 FROM pg_statio_user_tables WHERE relname = 'evb' \gset
SELECT :blocks > 10 AS several_blocks,
       (:b2 - :b1) - (:b1 - :b0) = :blocks AS once_reads_the_blocks_once;
SELECT query, input_rows, event_time_min, event_time_max, watermark
  FROM stream.progress WHERE query IN ('once', 'twice') ORDER BY query;

SELECT stream.drop_query(name) FROM stream.queries
 WHERE name IN ('stats_append', 'stats_update', 'stats_where', 'stats_local', 'stats_by_time',
                'once', 'twice')
 ORDER BY name;
DROP VIEW stats_check;
DROP PROCEDURE run_stats();
SELECT stream.drop_stream(s) FROM unnest(ARRAY['evs', 'evl', 'evi', 'evb']) s;
DROP TABLE evs, evl, evi, evb, stats_append, stats_update, stats_where, stats_local,
    stats_by_time, once, twice;
