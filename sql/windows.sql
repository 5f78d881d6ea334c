-- Event-time windows: stream.tumble and stream.hop, aligned to the epoch
-- (or an origin) by floor division, start inclusive and end exclusive, of
-- fixed lengths; as grouping keys of streaming aggregations, equal after
-- every batch to the same query over all rows.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';

-- tumbling: the one window that holds the time
SELECT stream.tumble('2026-01-01 12:07:30+00', '5 minutes') AS w5,
       stream.tumble('2026-01-01 12:10:00+00', '5 minutes') AS at_a_start,
       stream.tumble('1969-12-31 23:59:59+00', '1 hour') AS before_epoch,
       stream.tumble('2026-01-01 12:07:30+00', '1 day') AS day,
       stream.tumble('2026-01-01 12:07:30+00', '1 hour', '2026-01-01 00:30:00+00') AS origin_half_past,
       stream.tumble('2026-01-01 12:07:30'::timestamp, '10 minutes') AS without_zone;
-- sliding: every window that holds it, ascending; Spark's example (size 10,
-- slide 3): 3 or 4 windows
SELECT array_agg(extract(epoch FROM w)::int) AS starts_for_2s
  FROM stream.hop('1970-01-01 00:00:02+00', '10 seconds', '3 seconds') w;
SELECT array_agg(extract(epoch FROM w)::int) AS starts_for_0s
  FROM stream.hop('1970-01-01 00:00:00+00', '10 seconds', '3 seconds') w;
SELECT count(*) AS equal_to_tumble FROM stream.hop('2026-01-01 12:07:30+00', '5 minutes', '5 minutes') w
 WHERE w = stream.tumble('2026-01-01 12:07:30+00', '5 minutes');
-- NULL in, nothing out
SELECT stream.tumble(NULL::timestamptz, '5 minutes') IS NULL AS null_time,
       (SELECT count(*) FROM stream.hop(NULL::timestamptz, '5 minutes', '1 minute')) AS null_hops;

-- refusals
\set VERBOSITY default
SELECT stream.tumble(now(), '1 month');
SELECT stream.tumble(now(), '0 seconds');
SELECT stream.tumble(now(), '-5 minutes');
SELECT stream.hop(now(), '1 minute', '2 minutes');
SELECT stream.tumble('infinity'::timestamptz, '5 minutes');
SELECT stream.tumble(now(), '5 minutes', '-infinity'::timestamptz);
SELECT stream.hop('2024-01-01'::timestamptz, '10 minutes', '5 minutes', 'infinity'::timestamptz);
SELECT stream.tumble(now(), '300000000 days');
SELECT stream.hop(now(), '1 minute', '1 month');
SELECT stream.hop(now(), '1 minute', '0 seconds');
SELECT stream.hop(now(), '1 minute', '300000000 days');
SELECT stream.session(now(), '1 year');
SELECT stream.session(now(), '-5 minutes');
SELECT stream.session(now(), '300000000 days');
\set VERBOSITY terse

-- windowed streaming aggregations, update and complete
CREATE TABLE words (word text, t timestamptz);
SELECT stream.create_stream('words');
SELECT stream.start_query('tumbling',
    $$SELECT stream.tumble(t, '10 minutes') AS window_start,
             stream.tumble(t, '10 minutes') + interval '10 minutes' AS window_end,
             word, count(*) AS n
        FROM words GROUP BY 1, 3$$, 'tumbling', output_mode => 'update') > 0 AS started;
SELECT stream.start_query('sliding',
    $$SELECT stream.hop(t, '10 minutes', '5 minutes') AS window_start, word, count(*) AS n
        FROM words GROUP BY 1, 2$$, 'sliding', output_mode => 'complete') > 0 AS started;
INSERT INTO words VALUES ('cat', '2026-01-01 12:07'), ('dog', '2026-01-01 12:07'),
                         ('dog', '2026-01-01 12:11');
CALL stream.process_all_available('tumbling');
CALL stream.process_all_available('sliding');
INSERT INTO words VALUES ('dog', '2026-01-01 12:13'), ('owl', '2026-01-01 12:03'),
                         ('cat', NULL);
CALL stream.process_all_available('tumbling');
CALL stream.process_all_available('sliding');
SELECT * FROM tumbling ORDER BY window_start NULLS FIRST, word;
SELECT * FROM sliding ORDER BY window_start NULLS FIRST, word;
SELECT count(*) AS sliding_differs FROM (
    (TABLE sliding EXCEPT ALL
     SELECT stream.hop(t, '10 minutes', '5 minutes'), word, count(*) FROM words GROUP BY 1, 2)
    UNION ALL
    (SELECT stream.hop(t, '10 minutes', '5 minutes'), word, count(*) FROM words GROUP BY 1, 2
     EXCEPT ALL TABLE sliding)) d;
-- a set-returning function over the groups' results has no place
SELECT stream.start_query('srf_out', $$SELECT word, generate_series(1, count(*)::int) AS g FROM words GROUP BY word$$,
                          'srf_out', output_mode => 'update');

SELECT stream.drop_stream('words', cascade => true);
DROP TABLE words, tumbling, sliding;
