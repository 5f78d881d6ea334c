-- The watermarks argument on a query over one stream: each element
-- '<name>.<column> <delay>' names the stream read as the query names it,
-- by SQL's rules for names; it means exactly event_time and watermark
-- (same columns stored, same windows closed); every refusal has its own
-- message and leaves nothing behind; stream.queries shows streams,
-- watermarks and watermark_policy.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';

CREATE TABLE readings (sensor text, ts timestamptz, v int, note text);
SELECT stream.create_stream('readings');
CREATE TABLE "Quoted Readings" ("Sensor" text, "Event Time" timestamptz);
SELECT stream.create_stream('"Quoted Readings"');
CREATE TABLE sensors (sensor text PRIMARY KEY, site text, ts timestamptz);
INSERT INTO sensors VALUES ('a', 'north', now()), ('b', 'south', now());

-- the same windowed count, with event_time/watermark and with watermarks
-- naming the stream read by its alias, then by its table name
SELECT stream.start_query('by_pair',
    $$SELECT stream.tumble(ts, '10 minutes') AS w, sensor, count(*) AS n
        FROM readings GROUP BY 1, 2$$, 'by_pair', output_mode => 'append',
    event_time => 'ts', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('by_alias',
    $$SELECT stream.tumble(r.ts, '10 minutes') AS w, r.sensor, count(*) AS n
        FROM readings r GROUP BY 1, 2$$, 'by_alias', output_mode => 'append',
    watermarks => '{"r.ts 10 minutes"}', trigger => '1 hour') > 0 AS started;
-- unquoted names fold to lower case; ARRAY[...] reads as the literal does
SELECT stream.start_query('by_table',
    $$SELECT stream.tumble(ts, '10 minutes') AS w, sensor, count(*) AS n
        FROM readings GROUP BY 1, 2$$, 'by_table', output_mode => 'append',
    watermarks => ARRAY['  Readings.TS   10 min'], trigger => '1 hour') > 0 AS started;
-- quoted names keep their case
SELECT stream.start_query('quoted',
    $$SELECT stream.tumble("Event Time", '1 hour') AS w, count(*) AS n
        FROM "Quoted Readings" "My Side" GROUP BY 1$$, 'quoted_out', output_mode => 'update',
    watermarks => ARRAY['"My Side"."Event Time" 2 hours']) > 0 AS started;
-- deduplication within the watermark, by watermarks
SELECT stream.start_query('dedup',
    $$SELECT sensor, ts FROM readings$$, 'dedup_out',
    deduplicate => '{sensor}', watermarks => '{"readings.ts 1 hour"}',
    watermark_policy => 'max') > 0 AS started;

-- the same columns are stored either way; the policy belongs to joins
SELECT name, event_time, watermark_delay, watermarks, watermark_policy
  FROM stream.query_defs ORDER BY name;
-- no side rows for a query over one stream
SELECT count(*) AS side_rows FROM stream.query_side_defs;
SELECT count(*) AS sides_shown FROM stream.query_sides;
-- stream.queries: every stream read, the watermarks in their notation (as
-- given, or made from event_time and watermark), the policy
SELECT name, stream, streams, event_time, watermark_delay, watermarks, watermark_policy
  FROM stream.queries ORDER BY name;

-- the same rows close the same windows at the same batches
CREATE PROCEDURE run_three() LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_all_available('by_pair');
    CALL stream.process_all_available('by_alias');
    CALL stream.process_all_available('by_table');
END
$$;
INSERT INTO readings VALUES ('a', '2026-01-01 12:01', 1), ('b', '2026-01-01 12:07', 2);
CALL run_three();
SELECT (SELECT count(*) FROM by_pair) AS pair, (SELECT count(*) FROM by_alias) AS alias,
       (SELECT count(*) FROM by_table) AS tab;
-- the watermark passes 12:10: the window 12:00-12:10 closes
INSERT INTO readings VALUES ('a', '2026-01-01 12:25', 3);
CALL run_three();
SELECT * FROM by_pair ORDER BY 1, 2;
SELECT w, sensor, n FROM by_alias EXCEPT SELECT w, sensor, n FROM by_pair;
SELECT w, sensor, n FROM by_pair EXCEPT SELECT w, sensor, n FROM by_alias;
SELECT w, sensor, n FROM by_table EXCEPT SELECT w, sensor, n FROM by_pair;
SELECT w, sensor, n FROM by_pair EXCEPT SELECT w, sensor, n FROM by_table;
-- a late row is dropped alike, and the watermarks are the same
INSERT INTO readings VALUES ('b', '2026-01-01 12:02', 4), ('b', '2026-01-01 12:40', 5);
CALL run_three();
SELECT query, batch_id, watermark, late_rows
  FROM stream.progress WHERE query IN ('by_pair', 'by_alias', 'by_table')
 ORDER BY batch_id, query;
SELECT (SELECT count(*) FROM by_pair) AS pair, (SELECT count(*) FROM by_alias) AS alias,
       (SELECT count(*) FROM by_table) AS tab;

-- refusals, each leaving nothing behind
SELECT count(*) AS queries_before FROM stream.query_defs \gset
-- E13: watermarks with event_time or watermark
SELECT stream.start_query('r1', 'SELECT sensor, ts FROM readings', 'r1', deduplicate => '{sensor}',
    event_time => 'ts', watermark => '1 hour', watermarks => '{"readings.ts 1 hour"}');
SELECT stream.start_query('r1', 'SELECT sensor, ts FROM readings', 'r1', deduplicate => '{sensor}',
    event_time => 'ts', watermarks => '{"readings.ts 1 hour"}');
-- E16: elements that do not parse
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => '{"readings.ts two hours"}');
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => '{"ts 1 hour"}');
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => '{"readings.ts"}');
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => '{"readings.ts1 hour"}');
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => ARRAY['"readings.ts 1 hour']);
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => ARRAY['readings..ts 1 hour']);
SELECT stream.start_query('r2', 'SELECT sensor, ts FROM readings', 'r2', deduplicate => '{sensor}',
    watermarks => ARRAY[NULL::text]);
-- E14: a side named twice, also when spelt otherwise
SELECT stream.start_query('r3', 'SELECT sensor, ts FROM readings r', 'r3', deduplicate => '{sensor}',
    watermarks => '{"r.ts 1 hour", "R.ts 2 hours"}');
-- E15: no stream read by that name: an unknown name, the table's name when
-- the query reads it under an alias, an ordinary table of the query, a
-- quoted name whose case differs
SELECT stream.start_query('r4', 'SELECT sensor, ts FROM readings r', 'r4', deduplicate => '{sensor}',
    watermarks => '{"x.ts 1 hour"}');
SELECT stream.start_query('r4', 'SELECT sensor, ts FROM readings r', 'r4', deduplicate => '{sensor}',
    watermarks => '{"readings.ts 1 hour"}');
SELECT stream.start_query('r4',
    'SELECT r.sensor, r.ts, s.site FROM readings r JOIN sensors s ON s.sensor = r.sensor', 'r4',
    deduplicate => '{sensor}', watermarks => '{"s.ts 1 hour"}');
SELECT stream.start_query('r4', 'SELECT "Sensor", "Event Time" FROM "Quoted Readings"', 'r4',
    deduplicate => '{Sensor}', watermarks => ARRAY['"quoted readings"."Event Time" 1 hour']);
-- E17: a missing column, a column of another type, a delay out of range,
-- an interval out of interval's range
SELECT stream.start_query('r5', 'SELECT sensor, ts FROM readings r', 'r5', deduplicate => '{sensor}',
    watermarks => '{"r.tz 1 hour"}');
SELECT stream.start_query('r5', 'SELECT sensor, ts FROM readings r', 'r5', deduplicate => '{sensor}',
    watermarks => '{"r.note 1 hour"}');
SELECT stream.start_query('r5', 'SELECT sensor, ts FROM readings r', 'r5', deduplicate => '{sensor}',
    watermarks => '{"r.ts -1 minute"}');
SELECT stream.start_query('r5', 'SELECT sensor, ts FROM readings r', 'r5', deduplicate => '{sensor}',
    watermarks => '{"r.ts 367 days"}');
SELECT stream.start_query('r5', 'SELECT sensor, ts FROM readings r', 'r5', deduplicate => '{sensor}',
    watermarks => '{"r.ts 99999999999 hours"}');
-- E18: a watermark on a query that keeps no state
SELECT stream.start_query('r6', 'SELECT sensor, ts FROM readings r', 'r6',
    watermarks => '{"r.ts 1 hour"}');
-- E19: a policy other than min or max, or NULL
SELECT stream.start_query('r7', 'SELECT sensor, ts FROM readings r', 'r7', deduplicate => '{sensor}',
    watermarks => '{"r.ts 1 hour"}', watermark_policy => 'avg');
SELECT stream.start_query('r7', 'SELECT sensor, ts FROM readings r', 'r7',
    watermark_policy => NULL);
SELECT count(*) - :queries_before AS queries_added FROM stream.query_defs;
SELECT count(*) AS targets_left FROM pg_class WHERE relname ~ '^r[0-9]$';

-- an empty array is no watermark; the policy alone is accepted for any query
SELECT stream.start_query('plain', 'SELECT sensor, v FROM readings', 'plain_out',
    watermarks => '{}', watermark_policy => 'max') > 0 AS started;
SELECT name, event_time, watermarks, watermark_policy FROM stream.queries WHERE name = 'plain';

-- another role sees its own queries only, in every view
CREATE ROLE regress_wm_user;
GRANT SELECT ON readings TO regress_wm_user;
GRANT CREATE ON SCHEMA public TO regress_wm_user;
SET ROLE regress_wm_user;
SELECT stream.start_query('theirs',
    $$SELECT sensor, ts FROM readings x$$, 'theirs_out',
    deduplicate => '{sensor}', watermarks => '{"x.ts 5 minutes"}') > 0 AS started;
SELECT name, streams, watermarks FROM stream.queries;
SELECT count(*) AS sides FROM stream.query_sides;
SELECT count(*) AS progress_sides FROM stream.progress_sides;
RESET ROLE;
SELECT stream.drop_query('theirs');
DROP TABLE theirs_out;
REVOKE CREATE ON SCHEMA public FROM regress_wm_user;
REVOKE SELECT ON readings FROM regress_wm_user;
DROP ROLE regress_wm_user;

-- a join between two streams: its catalog rows as its start and its
-- batches write them; the views show them to the owner only; a batch's
-- per-side rows go with its offsets row when old batches are forgotten,
-- and everything goes with the query
SET pg_streaming.retained_batches = 2;
CREATE TABLE marks (sensor text, ts timestamptz);
SELECT stream.create_stream('marks');
CREATE INDEX ON readings (sensor);
CREATE INDEX ON marks (sensor);
SELECT stream.start_query('pair',
    $$SELECT a.sensor, a.ts, b.ts AS marked FROM readings a JOIN marks b
        ON b.sensor = a.sensor AND b.ts BETWEEN a.ts AND a.ts + interval '1 hour'$$,
    'pair_out', watermarks => '{"a.ts 1 hour", "b.ts 30 minutes"}') > 0 AS started;
SELECT query_id AS pair_id FROM stream.query_defs WHERE name = 'pair' \gset
INSERT INTO readings VALUES ('x', '2026-01-02 10:00', 1), ('y', '2026-01-02 10:05', 1);
INSERT INTO marks VALUES ('x', '2026-01-02 10:20');
CALL stream.process_all_available('pair');
SELECT * FROM pair_out ORDER BY 1, 2, 3;
SELECT name, stream, streams, watermarks, watermark_policy FROM stream.queries WHERE name = 'pair';
SELECT * FROM stream.query_sides;
SELECT * FROM stream.progress_sides ORDER BY batch_id, side;
-- a pair, and a row late on side 2 (at or before the watermark, 09:05)
INSERT INTO marks VALUES ('y', '2026-01-02 10:30'), ('x', '2026-01-02 07:00');
CALL stream.process_all_available('pair');
SELECT query, side, watermark, state_rows, late_rows FROM stream.query_sides;
INSERT INTO readings VALUES ('x', '2026-01-02 12:00', 1);
CALL stream.process_all_available('pair');
SELECT * FROM pair_out ORDER BY 1, 2, 3;
-- two batches kept: the older rows went with their offsets
SELECT batch_id FROM stream.checkpoint_offsets WHERE query_id = :pair_id ORDER BY 1;
SELECT batch_id, side FROM stream.checkpoint_sides ORDER BY 1, 2;
SELECT batch_id, side FROM stream.progress_side_log ORDER BY 1, 2;
SELECT query, side, watermark, state_rows, late_rows FROM stream.query_sides;
-- retention holds back every row of both streams of a join: with
-- retention on its second stream alone, the join is the query holding it
SELECT stream.set_retention('marks', '0 seconds');
SELECT stream.run_retention('marks') AS removed;
SELECT count(*) AS marks_kept FROM marks;
SELECT name, holds_retention FROM stream.queries WHERE name = 'pair';
SELECT stream, held_by_query FROM stream.stream_retention;
SELECT stream.set_retention('marks', NULL);
-- a rename of a side's event-time column follows to its side row (and
-- the watermarks given, which named the old column, are shown from the
-- columns from then on)
SELECT stream.drop_query('dedup');
ALTER TABLE readings RENAME COLUMN ts TO event_ts;
SELECT name, event_time, watermarks FROM stream.queries WHERE name IN ('pair', 'by_alias') ORDER BY name;
SELECT side, event_time FROM stream.query_sides ORDER BY side;
ALTER TABLE readings RENAME COLUMN event_ts TO ts;
-- another role sees none of it
CREATE ROLE regress_wm_other;
SET ROLE regress_wm_other;
SELECT count(*) AS sides FROM stream.query_sides;
SELECT count(*) AS progress_sides FROM stream.progress_sides;
SELECT count(*) FROM stream.query_side_defs;
RESET ROLE;
DROP ROLE regress_wm_other;
-- after a restore into another history a join cannot take its restored
-- rows as processed ('skip'): refused, and neither side's offsets change
UPDATE stream.checkpoint_offsets SET history_id = NULL WHERE query_id = :pair_id;
SELECT pg_catalog.string_agg(format('%s %s %s %s %s', o.batch_id, o.end_floor_block,
           s.end_floor_block, s.end_tail_block, s.end_rest_floor), ', ' ORDER BY o.batch_id) AS offsets_before
  FROM stream.checkpoint_offsets o JOIN stream.checkpoint_sides s USING (query_id, batch_id)
 WHERE o.query_id = :pair_id \gset
SELECT stream.resume_restored_query('pair', 'skip');
SELECT pg_catalog.string_agg(format('%s %s %s %s %s', o.batch_id, o.end_floor_block,
           s.end_floor_block, s.end_tail_block, s.end_rest_floor), ', ' ORDER BY o.batch_id)
       = :'offsets_before' AS offsets_unchanged
  FROM stream.checkpoint_offsets o JOIN stream.checkpoint_sides s USING (query_id, batch_id)
 WHERE o.query_id = :pair_id;
RESET pg_streaming.retained_batches;
SELECT stream.drop_query('pair');
SELECT (SELECT count(*) FROM stream.query_side_defs) AS side_rows,
       (SELECT count(*) FROM stream.checkpoint_sides) AS side_offsets,
       (SELECT count(*) FROM stream.progress_side_log) AS side_progress;
DROP TABLE pair_out;
SELECT stream.drop_stream('marks');
DROP TABLE marks;

SELECT stream.drop_stream('readings', cascade => true);
SELECT stream.drop_stream('"Quoted Readings"', cascade => true);
DROP TABLE by_pair, by_alias, by_table, quoted_out, dedup_out, plain_out, sensors,
    readings, "Quoted Readings";
DROP PROCEDURE run_three();
