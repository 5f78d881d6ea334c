-- Event time: watermarks, late rows, windows closed and emitted once, no-data
-- batches; Spark's windowed word count with late data, row by row.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';

CREATE TABLE words (word text, t timestamptz);
SELECT stream.create_stream('words');
SELECT stream.start_query('counts_append',
    $$SELECT stream.tumble(t, '10 minutes') AS window_start, word, count(*) AS n
        FROM words GROUP BY 1, 2$$, 'counts_append', output_mode => 'append',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('counts_update',
    $$SELECT stream.tumble(t, '10 minutes') AS window_start, word, count(*) AS n
        FROM words GROUP BY 1, 2$$, 'counts_update', output_mode => 'update',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('counts_complete',
    $$SELECT stream.tumble(t, '10 minutes') AS window_start, word, count(*) AS n
        FROM words GROUP BY 1, 2$$, 'counts_complete', output_mode => 'complete',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('sliding_update',
    $$SELECT stream.hop(t, '10 minutes', '5 minutes') AS window_start, word, count(*) AS n
        FROM words GROUP BY 1, 2$$, 'sliding_update', output_mode => 'update',
    event_time => 't', watermark => '10 minutes', trigger => '1 hour') > 0 AS started;

CREATE PROCEDURE run_all() LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_all_available('counts_append');
    CALL stream.process_all_available('counts_update');
    CALL stream.process_all_available('counts_complete');
    CALL stream.process_all_available('sliding_update');
END
$$;

-- batch 1: no watermark yet
INSERT INTO words VALUES ('dog', '2026-01-01 12:07'), ('owl', '2026-01-01 12:08');
CALL run_all();
SELECT * FROM counts_append ORDER BY 1, 2;
SELECT * FROM counts_update ORDER BY 1, 2;
-- batch 2: the watermark is now 12:08 - 10 min = 11:58
INSERT INTO words VALUES ('dog', '2026-01-01 12:14'), ('cat', '2026-01-01 12:09');
CALL run_all();
SELECT * FROM counts_update ORDER BY 1, 2;
-- batch 3: a row 12:25 moves the watermark to 12:15 after the batch; donkey
-- at 12:04 is not late (its window ends 12:10, after the watermark of 12:04)
INSERT INTO words VALUES ('owl', '2026-01-01 12:25'), ('donkey', '2026-01-01 12:04');
CALL run_all();
-- the window 12:00-12:10 closed at the watermark 12:15: written once in
-- append mode (by a batch without rows), evicted from the state
SELECT * FROM counts_append ORDER BY 1, 2;
-- batch 4: cat at 12:08 is late now (its window ended at 12:10, the
-- watermark in force for late rows is 12:15); it is dropped and counted,
-- except in complete mode, which keeps every window
INSERT INTO words VALUES ('cat', '2026-01-01 12:08'), ('cat', '2026-01-01 12:31');
CALL run_all();
SELECT * FROM counts_append ORDER BY 1, 2;
SELECT * FROM counts_update ORDER BY 1, 2;
SELECT * FROM counts_complete ORDER BY 1, 2;
-- sliding windows overlap: each row counted in both windows that hold it,
-- the late cat dropped only from windows already closed
SELECT * FROM sliding_update ORDER BY 1, 2;
SELECT query, batch_id, input_rows, output_rows, state_rows, watermark,
       event_time_min, event_time_max, late_rows
  FROM stream.progress WHERE query IN ('counts_append', 'counts_update')
 ORDER BY query, batch_id;
SELECT name, event_time, watermark_delay, watermark FROM stream.queries ORDER BY name;

-- the state holds only open windows
SELECT count(*) AS open_windows_in_state,
       (SELECT count(DISTINCT (stream.tumble(t, '10 minutes'), word)) FROM words
         WHERE stream.tumble(t, '10 minutes') + interval '10 minutes' > '2026-01-01 12:21') AS open_windows
  FROM stream_state.counts_append;

-- a batch that fails is replayed with the same watermarks
CREATE TABLE fail_switch (fail boolean);
INSERT INTO fail_switch VALUES (true);
CREATE FUNCTION fail_if_asked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT fail FROM fail_switch) THEN
        RAISE EXCEPTION 'target trigger failed on purpose';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER fail_if_asked BEFORE INSERT ON counts_append
    FOR EACH ROW EXECUTE FUNCTION fail_if_asked();
INSERT INTO words VALUES ('emu', '2026-01-01 12:55');
CALL stream.process_all_available('counts_append');
CALL stream.process_all_available('counts_append');
SELECT batch_id, watermark, late_watermark FROM stream.checkpoint_watermarks w
  JOIN stream.query_defs q USING (query_id) WHERE q.name = 'counts_append'
 ORDER BY batch_id DESC LIMIT 2;
UPDATE fail_switch SET fail = false;
CALL stream.process_all_available('counts_append');
SELECT batch_id, replayed, watermark, output_rows FROM stream.progress
 WHERE query = 'counts_append' ORDER BY batch_id DESC LIMIT 3;
SELECT * FROM counts_append ORDER BY 1, 2;

-- a long run: many windows go through, the state stays bounded
CREATE TABLE ticks (k int, t timestamptz);
SELECT stream.create_stream('ticks');
SELECT stream.start_query('tick_counts',
    $$SELECT stream.tumble(t, '1 minute') AS window_start, k, count(*) AS n
        FROM ticks GROUP BY 1, 2$$, 'tick_counts', output_mode => 'append',
    event_time => 't', watermark => '2 minutes', trigger => '1 hour') > 0 AS started;
CREATE PROCEDURE feed(minutes int) LANGUAGE plpgsql AS $$
DECLARE
    m int;
BEGIN
    FOR m IN 0 .. minutes - 1 LOOP
        INSERT INTO ticks SELECT g % 5, '2026-01-01 00:00'::timestamptz + m * interval '1 minute' + g * interval '1 second'
          FROM generate_series(0, 59) g;
        COMMIT;
        CALL stream.process_all_available('tick_counts');
    END LOOP;
END
$$;
CALL feed(120);
SELECT max(state_rows) AS most_state_rows,
       sum(late_rows) AS late FROM stream.progress WHERE query = 'tick_counts';
SELECT count(*) AS windows_emitted, sum(n) AS rows_counted,
       count(*) = count(DISTINCT (window_start, k)) AS each_once FROM tick_counts;
SELECT count(*) AS differ FROM (
    (TABLE tick_counts EXCEPT ALL
     SELECT stream.tumble(t, '1 minute'), k, count(*) FROM ticks
      WHERE stream.tumble(t, '1 minute') + interval '1 minute'
            <= (SELECT watermark FROM stream.queries WHERE name = 'tick_counts')
      GROUP BY 1, 2)
    UNION ALL
    (SELECT stream.tumble(t, '1 minute'), k, count(*) FROM ticks
      WHERE stream.tumble(t, '1 minute') + interval '1 minute'
            <= (SELECT watermark FROM stream.queries WHERE name = 'tick_counts')
      GROUP BY 1, 2
     EXCEPT ALL TABLE tick_counts)) d;

-- deduplication within the watermark: a key seen less than the delay
-- before is dropped; a key is forgotten once the watermark passes its first
-- row's time plus the delay; late rows are dropped; NULL is a key like any
CREATE TABLE clicks (event_id int, user_id int, t timestamptz);
SELECT stream.create_stream('clicks');
SELECT stream.start_query('clicks_once', $$SELECT event_id, user_id, t FROM clicks$$,
    'clicks_once', event_time => 't', watermark => '10 minutes',
    deduplicate => '{event_id}', trigger => '1 hour') > 0 AS started;
INSERT INTO clicks VALUES (1, 1, '2026-01-01 12:00'), (1, 1, '2026-01-01 12:01'),
    (2, 2, '2026-01-01 12:02'), (NULL, 3, '2026-01-01 12:03'), (NULL, 4, '2026-01-01 12:03');
CALL stream.process_all_available('clicks_once');
SELECT * FROM clicks_once ORDER BY t, event_id;
INSERT INTO clicks VALUES (1, 9, '2026-01-01 12:05'), (3, 3, '2026-01-01 12:30');
CALL stream.process_all_available('clicks_once');
-- the watermark is now 12:20: key 1 (seen at 12:00) is forgotten, so a 1 at
-- 12:25 is new; a row of 12:15 is late; 3 at 12:31 is a duplicate
INSERT INTO clicks VALUES (1, 7, '2026-01-01 12:25'), (4, 4, '2026-01-01 12:15'),
    (3, 3, '2026-01-01 12:31');
CALL stream.process_all_available('clicks_once');
SELECT * FROM clicks_once ORDER BY t, event_id;
SELECT batch_id, input_rows, output_rows, state_rows, watermark, late_rows
  FROM stream.progress WHERE query = 'clicks_once' ORDER BY batch_id;
SELECT name, deduplicate, watermark FROM stream.queries WHERE name = 'clicks_once';
-- a text ending in a semicolon, an output column named like the rows'
-- place in the batch, a row without a time (dropped, counted as late)
SELECT stream.start_query('clicks_ord', $$SELECT event_id AS _ord, t FROM clicks;$$,
    'clicks_ord', event_time => 't', watermark => '10 minutes',
    deduplicate => '{_ord}', trigger => '1 hour') > 0 AS started;
INSERT INTO clicks VALUES (7, 1, NULL), (8, 1, '2026-01-01 12:40'), (8, 2, '2026-01-01 12:41');
CALL stream.process_all_available('clicks_ord');
SELECT * FROM clicks_ord WHERE _ord IN (7, 8) ORDER BY 1;
SELECT sum(late_rows) AS late FROM stream.progress WHERE query = 'clicks_ord';
-- a function the query calls cannot be dropped under it; and another put
-- earlier on the query's search_path, of another result type, changes
-- nothing: batches run the query as its owner's analysis bound it
CREATE SCHEMA mk_first;
CREATE FUNCTION mk(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
SET search_path = mk_first, public;
SELECT stream.start_query('clicks_mk', $$SELECT mk(event_id) AS k, t FROM clicks$$,
    'public.clicks_mk', event_time => 't', watermark => '10 minutes',
    deduplicate => '{k}', trigger => '1 hour') > 0 AS started;
RESET search_path;
CALL stream.process_all_available('clicks_mk');
DROP FUNCTION mk(int);
CREATE FUNCTION mk_first.mk(int) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1::text';
\c
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
INSERT INTO clicks VALUES (9, 1, '2026-01-01 12:42');
CALL stream.process_all_available('clicks_mk');
SELECT k, pg_typeof(k) FROM clicks_mk WHERE k = 9;

-- session windows: each row starts [t, t + gap); a key's sessions that touch
-- merge, also when a later row bridges two; a session is written once in
-- append mode, when the watermark passes its end; complete mode keeps and
-- merges every session, late rows included
CREATE TABLE acts (u text, t timestamptz);
SELECT stream.create_stream('acts');
SELECT stream.start_query('sessions',
    $$SELECT u, stream.session(t, '10 minutes') AS session_start, count(*) AS n,
             max(t) + interval '10 minutes' AS session_end
        FROM acts GROUP BY 1, 2$$, 'sessions', output_mode => 'append',
    event_time => 't', watermark => '5 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('sessions_all',
    $$SELECT u, stream.session(t, '10 minutes') AS session_start, count(*) AS n
        FROM acts GROUP BY 1, 2$$, 'sessions_all', output_mode => 'complete',
    event_time => 't', watermark => '5 minutes', trigger => '1 hour') > 0 AS started;
INSERT INTO acts VALUES ('a', '2026-01-01 12:00'), ('a', '2026-01-01 12:05'),
    ('a', '2026-01-01 12:30'), ('b', '2026-01-01 12:01'), (NULL, '2026-01-01 12:02');
CALL stream.process_all_available('sessions');
CALL stream.process_all_available('sessions_all');
-- the watermark (12:25) closed a's first session, b's and the NULL user's
SELECT * FROM sessions ORDER BY 1 NULLS FIRST, 2;
-- 12:14 is late now; 12:22 starts a session that touches a's open one
INSERT INTO acts VALUES ('a', '2026-01-01 12:14'), ('a', '2026-01-01 12:22');
CALL stream.process_all_available('sessions');
CALL stream.process_all_available('sessions_all');
SELECT * FROM sessions_all ORDER BY 1 NULLS FIRST, 2;
INSERT INTO acts VALUES ('c', '2026-01-01 13:30');
CALL stream.process_all_available('sessions');
SELECT * FROM sessions ORDER BY 1 NULLS FIRST, 2;
SELECT batch_id, input_rows, output_rows, state_rows, watermark, late_rows
  FROM stream.progress WHERE query = 'sessions' ORDER BY batch_id;

-- infinite event times do not move the watermark, NULL times are in no window
CREATE TABLE odd (k int, t timestamptz);
SELECT stream.create_stream('odd');
SELECT stream.start_query('odd_counts',
    $$SELECT t AS at, count(*) AS n FROM odd GROUP BY 1$$, 'odd_counts',
    output_mode => 'append', event_time => 't', watermark => '1 minute', trigger => '1 hour') > 0 AS started;
INSERT INTO odd VALUES (1, 'infinity'), (2, '-infinity'), (3, '2026-01-01 00:00'), (4, NULL);
CALL stream.process_all_available('odd_counts');
INSERT INTO odd VALUES (5, '2026-01-01 00:05');
CALL stream.process_all_available('odd_counts');
SELECT * FROM odd_counts ORDER BY at;
SELECT name, watermark FROM stream.queries WHERE name = 'odd_counts';
-- sliding windows at the end of the range: an error, never a runaway
SELECT count(*) AS windows_near_the_end
  FROM stream.hop('294276-12-31 23:59:59+00', '30 days', '30 days');

-- refusals, each changing nothing
\set VERBOSITY default
SELECT stream.start_query('r14', $$SELECT u, stream.session(t, '10 minutes') AS s, count(*) AS n FROM acts GROUP BY 1, 2$$,
                          'r14', output_mode => 'update', event_time => 't', watermark => '1 minute');
SELECT stream.start_query('r15', $$SELECT stream.session(t, '10 minutes') AS s, count(*) AS n FROM acts GROUP BY 1$$,
                          'r15', output_mode => 'append', event_time => 't', watermark => '1 minute');
SELECT stream.start_query('r16', $$SELECT u, stream.session(t, '10 minutes') AS s, count(*) AS n FROM acts GROUP BY 1, 2$$,
                          'r16', output_mode => 'complete');
SELECT stream.start_query('r13', $$SELECT stream.tumble(t, '0 seconds') AS w, count(*) AS n FROM words GROUP BY 1$$,
                          'r13', output_mode => 'append', event_time => 't', watermark => '1 minute');
SELECT stream.start_query('r8', $$SELECT event_id, t FROM clicks$$, 'r8', deduplicate => '{event_id}');
SELECT stream.start_query('r9', $$SELECT event_id, user_id FROM clicks$$, 'r9',
                          event_time => 't', watermark => '1 minute', deduplicate => '{event_id}');
SELECT stream.start_query('r10', $$SELECT event_id, t FROM clicks$$, 'r10',
                          event_time => 't', watermark => '1 minute', deduplicate => '{nope}');
-- deduplication below an aggregation is a chain of stateful operators,
-- accepted (chains.sql tests it)
SELECT stream.start_query('r11', $$SELECT event_id, count(*) AS n, max(t) AS t FROM clicks GROUP BY 1$$, 'r11',
                          output_mode => 'update', event_time => 't', watermark => '1 minute',
                          deduplicate => '{event_id}') > 0 AS started;
SELECT stream.drop_query('r11');
DROP TABLE r11;
SELECT stream.start_query('r12', $$SELECT event_id, t FROM clicks$$, 'r12',
                          event_time => 't', watermark => '1 minute', deduplicate => '{}');
SELECT stream.start_query('r17', $$SELECT event_id, t + interval '1 hour' AS t FROM clicks$$, 'r17',
                          event_time => 't', watermark => '1 minute', deduplicate => '{event_id}');
SELECT stream.start_query('r1', $$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM words GROUP BY 1$$,
                          'r1', output_mode => 'append');
SELECT stream.start_query('r2', $$SELECT word, count(*) AS n FROM words GROUP BY 1$$,
                          'r2', output_mode => 'append', event_time => 't', watermark => '1 minute');
SELECT stream.start_query('r3', $$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM words GROUP BY 1$$,
                          'r3', output_mode => 'update', event_time => 't');
SELECT stream.start_query('r4', $$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM words GROUP BY 1$$,
                          'r4', output_mode => 'update', event_time => 'nope', watermark => '1 minute');
SELECT stream.start_query('r5', $$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM words GROUP BY 1$$,
                          'r5', output_mode => 'update', event_time => 'word', watermark => '1 minute');
SELECT stream.start_query('r6', $$SELECT word, t FROM words$$, 'r6',
                          event_time => 't', watermark => '1 minute');
SELECT stream.start_query('r7', $$SELECT stream.tumble(t, '10 minutes') AS w, count(*) AS n FROM words GROUP BY 1$$,
                          'r7', output_mode => 'update', event_time => 't', watermark => '-1 minute');
\set VERBOSITY terse
SELECT count(*) AS refused_left_nothing FROM stream.queries WHERE name ~ '^r[0-9]+$';

SELECT stream.drop_stream('words', cascade => true);
SELECT stream.drop_stream('ticks', cascade => true);
SELECT stream.drop_stream('clicks', cascade => true);
SELECT stream.drop_stream('odd', cascade => true);
SELECT stream.drop_stream('acts', cascade => true);
DROP PROCEDURE run_all();
DROP PROCEDURE feed(int);
DROP TABLE words, ticks, counts_append, counts_update, counts_complete, sliding_update,
    tick_counts, fail_switch, clicks, clicks_once, odd, odd_counts, acts, sessions,
    sessions_all, clicks_ord, clicks_mk;
DROP FUNCTION mk(int);
DROP SCHEMA mk_first CASCADE;
DROP FUNCTION fail_if_asked();
