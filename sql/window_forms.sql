-- A window written in FROM, in a subquery or in a CTE is the same window as
-- the one written in the select list: the watermark drops the same late
-- rows and closes the same groups, whatever the spelling, in update and in
-- append mode.  Shapes whose watermark would do nothing are refused, and a
-- refusal leaves nothing behind.  All as a role without special rights.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_wf_owner;
GRANT CREATE ON SCHEMA public TO regress_wf_owner;
SET ROLE regress_wf_owner;

CREATE TABLE wf_words (word text, ts timestamptz);
SELECT stream.create_stream('wf_words');

-- every spelling, in both modes; 'plain' is the select-list form
CREATE TABLE wf_forms (form text, body text);
INSERT INTO wf_forms VALUES
  ('plain', $$SELECT stream.tumble(ts, '10 minutes') AS ws, word, count(*) AS n
                FROM wf_words GROUP BY 1, 2$$),
  ('from', $$SELECT w.ws, word, count(*) AS n
               FROM wf_words, stream.tumble(ts, '10 minutes') AS w(ws) GROUP BY w.ws, word$$),
  ('lateral', $$SELECT w.ws, x.word, count(*) AS n
                  FROM wf_words x CROSS JOIN LATERAL stream.tumble(x.ts, '10 minutes') w(ws)
                 GROUP BY 1, 2$$),
  ('subquery', $$SELECT ws, word, count(*) AS n
                   FROM (SELECT stream.tumble(ts, '10 minutes') AS ws, word FROM wf_words) s
                  GROUP BY ws, word$$),
  ('alias', $$SELECT stream.tumble(t, '10 minutes') AS ws, word, count(*) AS n
                FROM (SELECT ts AS t, word FROM wf_words WHERE word IS NOT NULL) s GROUP BY 1, 2$$),
  ('cte', $$WITH s AS (SELECT w.ws, word FROM wf_words, stream.tumble(ts, '10 minutes') w(ws))
            SELECT ws, word, count(*) AS n FROM s GROUP BY ws, word$$);
SELECT form, stream.start_query('wf_' || form || '_' || mode, body, 'wf_' || form || '_' || mode,
                                output_mode => mode, event_time => 'ts', watermark => '5 minutes',
                                trigger => '1 hour') > 0 AS started
  FROM wf_forms, (VALUES ('update'), ('append')) m(mode) ORDER BY form, mode;

CREATE PROCEDURE wf_run_all() LANGUAGE plpgsql AS $$
DECLARE
    q text;
BEGIN
    FOR q IN SELECT name FROM stream.queries WHERE name LIKE 'wf\_%' ORDER BY name LOOP
        CALL stream.process_all_available(q);
    END LOOP;
END $$;

-- the watermark goes to 10:20; the 10:00 window closes
INSERT INTO wf_words VALUES ('a', '2026-01-01 10:00'), ('b', '2026-01-01 10:02'),
                            ('a', '2026-01-01 10:25');
CALL wf_run_all();
-- late for the closed window: dropped, not counted into it
INSERT INTO wf_words VALUES ('a', '2026-01-01 10:01'), ('a', '2026-01-01 10:22');
CALL wf_run_all();
-- 10:40 closes the 10:20 window
INSERT INTO wf_words VALUES ('c', '2026-01-01 10:40');
CALL wf_run_all();

-- what each spelling wrote, state kept and rows dropped: all equal to 'plain'
SELECT q.name, p.late_rows, p.state_rows,
       (SELECT count(*) FROM stream.progress WHERE query = q.name) AS batches
  FROM stream.queries q
  JOIN LATERAL (SELECT sum(late_rows) AS late_rows,
                       (array_agg(state_rows ORDER BY batch_id DESC))[1] AS state_rows
                  FROM stream.progress WHERE query = q.name) p ON true
 WHERE q.name LIKE 'wf\_%' ORDER BY q.name;
SELECT * FROM wf_plain_update ORDER BY ws, word;
SELECT * FROM wf_plain_append ORDER BY ws, word;
CREATE FUNCTION wf_differs(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL TABLE %s) UNION ALL (TABLE %s EXCEPT ALL TABLE %s)) d',
                   a, b, b, a) INTO n;
    RETURN n;
END $$;
SELECT form, mode, wf_differs(format('wf_%s_%s', form, mode)::regclass,
                              format('wf_plain_%s', mode)::regclass) AS rows_differing
  FROM wf_forms, (VALUES ('update'), ('append')) m(mode)
 WHERE form <> 'plain' ORDER BY form, mode;

-- hop in FROM: a row in every window that holds it, late rows dropped from
-- the closed ones only, as stream.hop in the select list
SELECT stream.start_query('wh_from',
    $$SELECT w.ws, count(*) AS n FROM wf_words, stream.hop(ts, '10 minutes', '5 minutes') w(ws)
       GROUP BY 1$$, 'wh_from', output_mode => 'update', event_time => 'ts',
    watermark => '5 minutes', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('wh_plain',
    $$SELECT stream.hop(ts, '10 minutes', '5 minutes') AS ws, count(*) AS n FROM wf_words
       GROUP BY 1$$, 'wh_plain', output_mode => 'update', event_time => 'ts',
    watermark => '5 minutes', trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('wh_from');
CALL stream.process_all_available('wh_plain');
INSERT INTO wf_words VALUES ('d', '2026-01-01 10:33'), ('d', '2026-01-01 10:46');
CALL stream.process_all_available('wh_from');
CALL stream.process_all_available('wh_plain');
SELECT wf_differs('wh_from', 'wh_plain') AS hop_rows_differing,
       (SELECT sum(late_rows) FROM stream.progress WHERE query = 'wh_from') AS late_from,
       (SELECT sum(late_rows) FROM stream.progress WHERE query = 'wh_plain') AS late_plain;
SELECT * FROM wh_from ORDER BY ws;

-- refused, leaving nothing behind: a session window outside GROUP BY's own
-- expression, and watermarks that no grouping key would honour
\set VERBOSITY default
SELECT stream.start_query('wr_session',
    $$SELECT s.ss, word, count(*) AS n FROM wf_words, stream.session(ts, '5 minutes') s(ss) GROUP BY 1, 2$$,
    'wr_session', output_mode => 'append', event_time => 'ts', watermark => '5 minutes');
SELECT stream.start_query('wr_trunc',
    $$SELECT date_trunc('hour', ts) AS h, count(*) AS n FROM wf_words GROUP BY 1$$,
    'wr_trunc', output_mode => 'update', event_time => 'ts', watermark => '5 minutes');
SELECT stream.start_query('wr_shifted',
    $$SELECT stream.tumble(ts + interval '1 hour', '10 minutes') AS ws, count(*) AS n FROM wf_words GROUP BY 1$$,
    'wr_shifted', output_mode => 'update', event_time => 'ts', watermark => '5 minutes');
SELECT stream.start_query('wr_nokey',
    $$SELECT word, count(*) AS n FROM wf_words GROUP BY word$$,
    'wr_nokey', output_mode => 'update', event_time => 'ts', watermark => '5 minutes');
SELECT stream.start_query('wr_months',
    $$SELECT stream.tumble(ts, '1 month') AS ws, count(*) AS n FROM wf_words GROUP BY 1$$,
    'wr_months', output_mode => 'update', event_time => 'ts', watermark => '5 minutes');
SELECT stream.start_query('wr_size',
    $$SELECT stream.tumble(ts, make_interval(mins => length(word))) AS ws, count(*) AS n FROM wf_words GROUP BY 1$$,
    'wr_size', output_mode => 'update', event_time => 'ts', watermark => '5 minutes');
\set VERBOSITY terse
SELECT count(*) AS refused_queries FROM stream.queries WHERE name LIKE 'wr\_%';
SELECT count(*) AS refused_targets FROM pg_class WHERE relname LIKE 'wr\_%';
-- without a watermark the same aggregation is fine in update mode
SELECT stream.start_query('wr_nokey', $$SELECT word, count(*) AS n FROM wf_words GROUP BY word$$,
                          'wr_nokey', output_mode => 'update') > 0 AS started;

RESET ROLE;
SELECT stream.drop_stream('wf_words', cascade => true);
DROP OWNED BY regress_wf_owner;
DROP ROLE regress_wf_owner;
