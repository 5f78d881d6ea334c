-- A windowed aggregation over a windowed aggregation (surface.md 2.9 item
-- 3), append mode: the lower aggregation's windows are the upper one's
-- input, each once, in the batch in which the watermark closes them; the
-- upper closes its windows by the same watermark.  Everything runs as an
-- unprivileged owner.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE regress_aoa_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_aoa_owner;
SET ROLE regress_aoa_owner;

CREATE TABLE page_views (page text, viewed_at timestamptz);
SELECT stream.create_stream('page_views');

-- views per hour, summed from views per minute and page
SELECT stream.start_query('hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
             count(*) AS minute_pages
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m
       GROUP BY 1$$,
    'hourly', output_mode => 'append', event_time => 'viewed_at',
    watermark => '10 minutes', trigger => '1 hour') > 0 AS started;

-- two state tables: the query's (the upper aggregation's) and the
-- subquery's, a part of it
RESET ROLE;
SELECT c.relname,
       (SELECT r.relname FROM pg_depend d JOIN pg_class r ON r.oid = d.refobjid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i') AS part_of
  FROM pg_class c
 WHERE c.relnamespace = 'stream_state'::regnamespace AND c.relkind = 'r'
   AND c.relname LIKE 'hourly%' ORDER BY 1;
SET ROLE regress_aoa_owner;

-- what the batches did: both aggregations, lower (ordinal 1) then upper
CREATE VIEW ops AS
SELECT batch_id, ordinal, operator, state_rows, state_rows_updated AS updated,
       state_rows_removed AS removed, late_rows
  FROM stream.progress_operators WHERE query = 'hourly';

-- step 1: four rows of three minutes; no watermark yet, nothing closes
INSERT INTO page_views VALUES ('a', '2026-01-01 10:00:30'), ('b', '2026-01-01 10:00:40'),
    ('a', '2026-01-01 10:01:10'), ('a', '2026-01-01 10:05:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;
SELECT * FROM ops ORDER BY batch_id, ordinal;

-- step 2: 10:20 moves the watermark to 10:10; the no-data batch that
-- follows closes the minutes 10:00 (two pages), 10:01 and 10:05, whose four
-- rows go to the upper hour 10:00, still open
INSERT INTO page_views VALUES ('a', '2026-01-01 10:20:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;
SELECT * FROM ops WHERE batch_id > 1 ORDER BY batch_id, ordinal;
RESET ROLE;
SELECT key_1 AS minute, key_2 AS page FROM stream_state.hourly_lower ORDER BY 1, 2;
SELECT key_1 AS hour FROM stream_state.hourly ORDER BY 1;
SET ROLE regress_aoa_owner;

-- step 3: 10:03 is late (its minute ended at 10:04, before the watermark
-- 10:10): dropped by the lower aggregation; 10:30 moves the watermark to
-- 10:20, which closes the minute 10:20
INSERT INTO page_views VALUES ('a', '2026-01-01 10:03:00'), ('b', '2026-01-01 10:30:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;
SELECT * FROM ops WHERE batch_id > 3 ORDER BY batch_id, ordinal;

-- step 4: 11:15 moves the watermark to 11:05: the no-data batch closes the
-- minute 10:30 and then the hour 10:00, in one batch; its row is the
-- target's first
INSERT INTO page_views VALUES ('c', '2026-01-01 11:15:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;
SELECT * FROM ops WHERE batch_id > 5 ORDER BY batch_id, ordinal;

-- step 5: 12:20 closes 11:15's minute, and the hour 11:00 in the same
-- batch, in a batch without rows of that hour
INSERT INTO page_views VALUES ('c', '2026-01-01 12:20:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;
SELECT * FROM ops WHERE batch_id > 7 ORDER BY batch_id, ordinal;
SELECT sum(input_rows) AS input_rows, sum(output_rows) AS output_rows
  FROM stream.progress WHERE query = 'hourly';

-- the owner's rights: a function of the owner's in both aggregations
-- fails unless it runs as the owner; batches run by the superuser run it so
CREATE FUNCTION aoa_owner_only(v bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $f$
BEGIN
    IF current_user <> 'regress_aoa_owner' THEN
        RAISE EXCEPTION 'runs as %', current_user;
    END IF;
    RETURN v;
END
$f$;
REVOKE EXECUTE ON FUNCTION aoa_owner_only(bigint) FROM PUBLIC;
SELECT stream.start_query('checked_hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(aoa_owner_only(m.views)) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute,
                     aoa_owner_only(count(*)) AS views
                FROM page_views GROUP BY 1 HAVING aoa_owner_only(count(*)) > 0) m
       GROUP BY 1$$,
    'checked_hourly', output_mode => 'append', event_time => 'viewed_at',
    watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
RESET ROLE;
CALL stream.process_all_available('checked_hourly');
SELECT * FROM checked_hourly ORDER BY hour;
SELECT status, last_error FROM stream.queries WHERE name = 'checked_hourly';
SET ROLE regress_aoa_owner;

-- alter_query: the select lists, HAVING and filters of both aggregations
-- may change; the keys, aggregates and windows of either may not
SELECT stream.alter_query('hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
             count(*) AS minute_pages
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views WHERE page <> 'x' GROUP BY 1, 2 HAVING count(*) > 0) m
       GROUP BY 1$$);
SELECT stream.alter_query('hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
             count(*) AS minute_pages
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, count(*) AS views
                FROM page_views GROUP BY 1) m
       GROUP BY 1$$);
SELECT stream.alter_query('hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
             count(*) AS minute_pages
        FROM (SELECT stream.tumble(viewed_at, '5 minutes') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m
       GROUP BY 1$$);
SELECT stream.alter_query('hourly',
    $$SELECT stream.tumble(m.minute, '2 hours') AS hour, sum(m.views) AS views,
             count(*) AS minute_pages
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m
       GROUP BY 1$$);
SELECT stream.alter_query('hourly',
    $$SELECT stream.tumble(viewed_at, '1 hour') AS hour, count(*) AS views,
             count(*) AS minute_pages
        FROM page_views GROUP BY 1$$);
-- the altered query goes on: page 'x' is filtered out from now on
INSERT INTO page_views VALUES ('x', '2026-01-01 12:25:00'), ('c', '2026-01-01 12:26:00'),
    ('c', '2026-01-01 13:40:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;

-- retention removes the rows both queries processed, 13:40 among them; the
-- minute 13:40 stays open in the lower state, and its hour closes with
-- 13:45's minute
CALL stream.process_all_available('checked_hourly');
SELECT stream.set_retention('page_views', '0 seconds');
SELECT stream.run_retention('page_views') > 0 AS removed_some;
SELECT count(*) AS rows_left FROM page_views;
INSERT INTO page_views VALUES ('c', '2026-01-01 13:45:00'), ('a', '2026-01-01 15:00:00');
CALL stream.process_all_available('hourly');
SELECT * FROM hourly ORDER BY hour;

-- refusals.  E20: another output mode
SELECT stream.start_query('r1',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m GROUP BY 1$$,
    'r1', output_mode => 'update', event_time => 'viewed_at', watermark => '10 minutes');
SELECT stream.start_query('r2',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m GROUP BY 1$$,
    'r2', output_mode => 'complete', event_time => 'viewed_at', watermark => '10 minutes');
-- E24: windows of 7 minutes under an hour; minutes of another origin
SELECT stream.start_query('r3',
    $$SELECT stream.tumble(m.w, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '7 minutes') AS w, count(*) AS views
                FROM page_views GROUP BY 1) m GROUP BY 1$$,
    'r3', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
SELECT stream.start_query('r4',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute', '2026-01-01 00:00:30+00') AS minute,
                     count(*) AS views
                FROM page_views GROUP BY 1) m GROUP BY 1$$,
    'r4', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
-- E24: overlapping lower windows cannot nest in any upper window
SELECT stream.start_query('r5',
    $$SELECT stream.tumble(m.w, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.hop(viewed_at, '10 minutes', '5 minutes') AS w, count(*) AS views
                FROM page_views GROUP BY 1) m GROUP BY 1$$,
    'r5', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
-- E24: upper windows sliding by 15 minutes over 10-minute windows
SELECT stream.start_query('r10',
    $$SELECT stream.hop(m.w, '1 hour', '15 minutes') AS ws, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '10 minutes') AS w, count(*) AS views
                FROM page_views GROUP BY 1) m GROUP BY 1$$,
    'r10', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
-- E22: the lower window written in FROM
SELECT stream.start_query('r11',
    $$SELECT stream.tumble(m.ws, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT w.ws, count(*) AS views
                FROM page_views, stream.hop(viewed_at, '10 minutes', '5 minutes') w(ws)
               GROUP BY 1) m GROUP BY 1$$,
    'r11', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
-- E21: the upper aggregation grouped by no window of the lower window
SELECT stream.start_query('r6',
    $$SELECT m.page, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m GROUP BY 1$$,
    'r6', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
-- E21: a lower aggregation without a window, and no watermark at all
SELECT stream.start_query('r7',
    $$SELECT stream.tumble(m.last_seen, '1 hour') AS hour, count(*) AS pages
        FROM (SELECT page, max(viewed_at) AS last_seen FROM page_views GROUP BY 1) m GROUP BY 1$$,
    'r7', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes');
SELECT stream.start_query('r8',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m GROUP BY 1$$,
    'r8', output_mode => 'append');
-- E22: three operators
SELECT stream.start_query('r9',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM page_views GROUP BY 1, 2) m GROUP BY 1$$,
    'r9', output_mode => 'append', event_time => 'viewed_at', watermark => '10 minutes',
    deduplicate => '{page}');
SELECT count(*) AS refused_left FROM stream.queries WHERE name LIKE 'r%';

-- the upper aggregation may join an ordinary table: views per hour and site
CREATE TABLE sites (page text PRIMARY KEY, site text);
INSERT INTO sites VALUES ('a', 's1'), ('b', 's1'), ('c', 's2');
CREATE TABLE site_views (page text, viewed_at timestamptz);
SELECT stream.create_stream('site_views');
SELECT stream.start_query('by_site',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, s.site, sum(m.views) AS views
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM site_views GROUP BY 1, 2) m
        JOIN sites s USING (page)
       GROUP BY 1, 2$$,
    'by_site', output_mode => 'append', event_time => 'viewed_at',
    watermark => '1 minute', trigger => '1 hour') > 0 AS started;
INSERT INTO site_views VALUES ('a', '2026-01-01 10:00'), ('b', '2026-01-01 10:10'),
    ('c', '2026-01-01 10:20'), ('b', '2026-01-01 10:21'), ('d', '2026-01-01 10:30'),
    ('a', '2026-01-01 12:00');
CALL stream.process_all_available('by_site');
SELECT * FROM by_site ORDER BY hour, site;

-- differential: random rows in many batches, some late; then a watermark
-- far ahead.  The targets equal the two aggregations recomputed over the
-- rows that were not late: a row is late when its inner window ended at
-- or before the watermark in force, the latest time sent before its batch
-- less 10 minutes.
CREATE TABLE d_views (page text, viewed_at timestamptz);
SELECT stream.create_stream('d_views');
SELECT stream.start_query('d_hourly',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
             max(m.views) AS busiest, count(*) AS minute_pages
        FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
                FROM d_views GROUP BY 1, 2) m
       GROUP BY 1$$,
    'd_hourly', output_mode => 'append', event_time => 'viewed_at',
    watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
-- sliding upper windows over five-minute windows, with HAVING below
SELECT stream.start_query('d_hop',
    $$SELECT stream.hop(m.w, '2 hours', '30 minutes') AS ws, m.page,
             sum(m.n) AS views, count(*) AS windows
        FROM (SELECT stream.tumble(viewed_at, '5 minutes') AS w, page, count(*) AS n
                FROM d_views GROUP BY 1, 2 HAVING count(*) > 1) m
       GROUP BY 1, 2$$,
    'd_hop', output_mode => 'append', event_time => 'viewed_at',
    watermark => '10 minutes', trigger => '1 hour') > 0 AS started;
CREATE TABLE d_sent (page text, viewed_at timestamptz, batch int);
CREATE PROCEDURE d_run(batches int) LANGUAGE plpgsql AS $p$
DECLARE
    base timestamptz := '2026-01-02 00:00+00';
BEGIN
    PERFORM setseed(0.19);
    FOR i IN 1 .. batches LOOP
        -- rows up to 40 minutes behind the batch's front, which moves 15
        INSERT INTO d_sent
        SELECT chr(97 + (random() * 3)::int),
               base + (i * 15 - random() * 40) * interval '1 minute', i
          FROM generate_series(1, 20 + (random() * 40)::int);
        INSERT INTO d_views SELECT page, viewed_at FROM d_sent WHERE batch = i;
        COMMIT;
        CALL stream.process_all_available('d_hourly');
        CALL stream.process_all_available('d_hop');
        COMMIT;
    END LOOP;
    -- a row far ahead closes every window before it
    INSERT INTO d_sent VALUES ('z', '2027-01-01 00:00+00', batches + 1);
    INSERT INTO d_views VALUES ('z', '2027-01-01 00:00+00');
    COMMIT;
    CALL stream.process_all_available('d_hourly');
    CALL stream.process_all_available('d_hop');
END
$p$;
CALL d_run(40);
CREATE VIEW d_kept AS
SELECT s.* FROM d_sent s
 WHERE s.batch = 1 OR stream.tumble(s.viewed_at, '1 minute') + interval '1 minute' >
       (SELECT max(p.viewed_at) - interval '10 minutes' FROM d_sent p WHERE p.batch < s.batch);
CREATE VIEW d_kept5 AS
SELECT s.* FROM d_sent s
 WHERE s.batch = 1 OR stream.tumble(s.viewed_at, '5 minutes') + interval '5 minutes' >
       (SELECT max(p.viewed_at) - interval '10 minutes' FROM d_sent p WHERE p.batch < s.batch);
SELECT count(*) AS sent, count(*) - (SELECT count(*) FROM d_kept) AS late_minute,
       count(*) - (SELECT count(*) FROM d_kept5) AS late_five
  FROM d_sent WHERE viewed_at < '2027-01-01';
-- the recomputations, over every closed window
CREATE VIEW d_hourly_expected AS
SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views,
       max(m.views) AS busiest, count(*) AS minute_pages
  FROM (SELECT stream.tumble(viewed_at, '1 minute') AS minute, page, count(*) AS views
          FROM d_kept WHERE viewed_at < '2027-01-01' GROUP BY 1, 2) m
 GROUP BY 1;
CREATE VIEW d_hop_expected AS
SELECT stream.hop(m.w, '2 hours', '30 minutes') AS ws, m.page, sum(m.n) AS views,
       count(*) AS windows
  FROM (SELECT stream.tumble(viewed_at, '5 minutes') AS w, page, count(*) AS n
          FROM d_kept5 WHERE viewed_at < '2027-01-01' GROUP BY 1, 2 HAVING count(*) > 1) m
 GROUP BY 1, 2;
SELECT (SELECT count(*) FROM d_hourly) AS hours,
       (SELECT count(*) FROM ((TABLE d_hourly EXCEPT ALL TABLE d_hourly_expected)
          UNION ALL (TABLE d_hourly_expected EXCEPT ALL TABLE d_hourly)) d) AS hourly_differ,
       (SELECT count(*) FROM d_hop) AS hop_windows,
       (SELECT count(*) FROM ((TABLE d_hop EXCEPT ALL TABLE d_hop_expected)
          UNION ALL (TABLE d_hop_expected EXCEPT ALL TABLE d_hop)) d) AS hop_differ;
SELECT sum(late_rows) FILTER (WHERE ordinal = 1) AS lower_late,
       sum(late_rows) FILTER (WHERE ordinal = 2) AS upper_late
  FROM stream.progress_operators WHERE query = 'd_hourly';

-- dropping the query drops both its state tables
SELECT stream.drop_query('hourly');
RESET ROLE;
SELECT count(*) AS left_of_hourly FROM pg_class
 WHERE relnamespace = 'stream_state'::regnamespace AND relname LIKE 'hourly%';
SELECT stream.drop_query(name) FROM stream.queries ORDER BY name;
DROP OWNED BY regress_aoa_owner CASCADE;
DROP ROLE regress_aoa_owner;
