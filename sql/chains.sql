-- Chains of stateful operators without joins (Spark 3.5): deduplication
-- within the watermark below an aggregation, in one query and one batch;
-- a windowed aggregation over a windowed aggregation, refused.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE regress_chain_owner LOGIN;
CREATE ROLE regress_chain_other LOGIN;
GRANT CREATE ON SCHEMA public TO regress_chain_owner, regress_chain_other;

-- rows of a target that a query does not give, and the other way round
CREATE FUNCTION pg_temp.mismatch(target text, query text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                   target, query, query, target) INTO n;
    RETURN n;
END
$$;

-- everything below runs as an unprivileged role
SET ROLE regress_chain_owner;
CREATE TABLE views (event_id int, page text, t timestamptz);
SELECT stream.create_stream('views');

-- the chain: deduplicate by event_id within 10 minutes, then count views
-- per 5-minute window and page, append mode
SELECT stream.start_query('j_dedup_agg',
    $$SELECT stream.tumble(t, '5 minutes') AS w, page, count(*) AS n FROM views GROUP BY 1, 2$$,
    'j_dedup_agg', output_mode => 'append', event_time => 't', watermark => '10 minutes',
    deduplicate => '{event_id}', trigger => '1 hour') > 0 AS started;
-- its deduplication state is a table of its own, part of the aggregation's
RESET ROLE;
SELECT c.relname, d.deptype, r.relname AS part_of
  FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
  JOIN pg_class r ON d.refclassid = 'pg_class'::regclass AND r.oid = d.refobjid
 WHERE c.relnamespace = 'stream_state'::regnamespace AND c.relname LIKE 'j_dedup_agg%'
   AND c.relkind = 'r' AND d.deptype = 'i';
SET ROLE regress_chain_owner;

-- the same in two queries: deduplication into a stream, aggregation over it
CREATE TABLE views_once (event_id int, page text, t timestamptz);
SELECT stream.create_stream('views_once');
SELECT stream.start_query('views_dd', $$SELECT event_id, page, t FROM views$$,
    'views_once', event_time => 't', watermark => '10 minutes',
    deduplicate => '{event_id}', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('views_two',
    $$SELECT stream.tumble(t, '5 minutes') AS w, page, count(*) AS n FROM views_once GROUP BY 1, 2$$,
    'views_two', output_mode => 'append', event_time => 't', watermark => '10 minutes',
    trigger => '1 hour') > 0 AS started;

-- the chain in update mode (no window: the watermark forgets keys only)
-- and in complete mode
SELECT stream.start_query('j_dedup_upd',
    $$SELECT page, count(*) AS n, min(t) AS first_t FROM views GROUP BY page$$,
    'j_dedup_upd', output_mode => 'update', event_time => 't', watermark => '10 minutes',
    deduplicate => '{event_id}', trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('j_dedup_all',
    $$SELECT page, count(*) AS n FROM views GROUP BY page$$,
    'j_dedup_all', output_mode => 'complete', event_time => 't', watermark => '10 minutes',
    deduplicate => '{event_id}', trigger => '1 hour') > 0 AS started;


-- step 1: the second (2, 10:02) is a duplicate within the batch
INSERT INTO views VALUES (1, 'a', '2026-01-01 10:01'), (2, 'a', '2026-01-01 10:02'),
    (2, 'a', '2026-01-01 10:02'), (3, 'a', '2026-01-01 10:04');
CALL stream.process_all_available('j_dedup_agg');
CALL stream.process_all_available('views_dd');
CALL stream.process_all_available('views_two');
SELECT * FROM j_dedup_agg ORDER BY w, page;
SELECT pg_temp.mismatch('j_dedup_agg', 'TABLE views_two') AS differ;

-- step 2: (2, 10:08) repeats event 2 across batches (remembered until the
-- watermark reaches 10:12); the watermark 10:06 closes the window 10:00
INSERT INTO views VALUES (2, 'a', '2026-01-01 10:08'), (4, 'a', '2026-01-01 10:16');
CALL stream.process_all_available('j_dedup_agg');
CALL stream.process_all_available('views_dd');
CALL stream.process_all_available('views_two');
SELECT * FROM j_dedup_agg ORDER BY w, page;
SELECT pg_temp.mismatch('j_dedup_agg', 'TABLE views_two') AS differ;

-- step 3: the watermark 10:20 closes 10:15; no row for 10:05, whose only
-- row was a duplicate
INSERT INTO views VALUES (5, 'a', '2026-01-01 10:30');
CALL stream.process_all_available('j_dedup_agg');
CALL stream.process_all_available('views_dd');
CALL stream.process_all_available('views_two');
SELECT * FROM j_dedup_agg ORDER BY w, page;
SELECT pg_temp.mismatch('j_dedup_agg', 'TABLE views_two') AS differ;

-- step 4: a duplicate after the watermark passed its time (1, 10:03: late,
-- dropped and counted), a duplicate within the watermark (5, 10:31), a new
-- event on another page, and the same event id twice in one batch
INSERT INTO views VALUES (1, 'a', '2026-01-01 10:03'), (5, 'a', '2026-01-01 10:31'),
    (6, 'b', '2026-01-01 10:33'), (7, 'b', '2026-01-01 10:34'), (7, 'b', '2026-01-01 10:36');
CALL stream.process_all_available('j_dedup_agg');
CALL stream.process_all_available('views_dd');
CALL stream.process_all_available('views_two');
SELECT * FROM j_dedup_agg ORDER BY w, page;
SELECT pg_temp.mismatch('j_dedup_agg', 'TABLE views_two') AS differ;

-- step 5: a final watermark (10:50) closes every window of the rows above
INSERT INTO views VALUES (8, 'c', '2026-01-01 11:00');
CALL stream.process_all_available('j_dedup_agg');
CALL stream.process_all_available('views_dd');
CALL stream.process_all_available('views_two');
SELECT * FROM j_dedup_agg ORDER BY w, page;
SELECT pg_temp.mismatch('j_dedup_agg', 'TABLE views_two') AS differ;

-- equal to the aggregation of the rows without duplicates (each event's
-- first row), over the windows the watermark closed
SELECT pg_temp.mismatch('j_dedup_agg',
    $$SELECT stream.tumble(t, '5 minutes') AS w, page, count(*) AS n
        FROM (SELECT DISTINCT ON (event_id) * FROM views ORDER BY event_id, t) d
       WHERE stream.tumble(t, '5 minutes') + interval '5 minutes'
             <= (SELECT watermark FROM stream.queries WHERE name = 'j_dedup_agg')
       GROUP BY 1, 2$$) AS differ;

-- what each batch did: input rows are the stream's, state rows count the
-- keys remembered and the open windows, late rows the dropped ones
SELECT batch_id, input_rows, output_rows, state_rows, watermark, late_rows
  FROM stream.progress WHERE query = 'j_dedup_agg' ORDER BY batch_id;

-- update and complete mode: each event counted once
CALL stream.process_all_available('j_dedup_upd');
CALL stream.process_all_available('j_dedup_all');
SELECT * FROM j_dedup_upd ORDER BY page;
SELECT * FROM j_dedup_all ORDER BY page;
SELECT pg_temp.mismatch('j_dedup_all',
    $$SELECT page, count(*) AS n FROM (SELECT DISTINCT ON (event_id) * FROM views
       WHERE (event_id, t) <> (1, '2026-01-01 10:03') ORDER BY event_id, t) d GROUP BY page$$) AS differ;

-- a batch that fails after its deduplication state was written (the
-- target's trigger fails) leaves both states as they were; its replay
-- keeps and aggregates the same rows, once
CREATE TABLE fail_switch (fail boolean);
INSERT INTO fail_switch VALUES (true);
CREATE FUNCTION fail_if_asked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT fail FROM fail_switch) THEN
        RAISE EXCEPTION 'target trigger failed on purpose';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fail_if_asked BEFORE INSERT OR UPDATE ON j_dedup_upd
    FOR EACH ROW EXECUTE FUNCTION fail_if_asked();
INSERT INTO views VALUES (9, 'a', '2026-01-01 11:01'), (9, 'a', '2026-01-01 11:02'),
    (8, 'c', '2026-01-01 11:03'), (10, 'c', '2026-01-01 11:04');
RESET ROLE;
SELECT count(*) AS keys_before FROM stream_state.j_dedup_upd_dedup;
SET ROLE regress_chain_owner;
\set VERBOSITY terse
CALL stream.process_batch('j_dedup_upd');
\set VERBOSITY default
RESET ROLE;
SELECT count(*) AS keys_after_failure FROM stream_state.j_dedup_upd_dedup;
SET ROLE regress_chain_owner;
SELECT * FROM j_dedup_upd ORDER BY page;
UPDATE fail_switch SET fail = false;
CALL stream.process_all_available('j_dedup_upd');
SELECT replayed FROM stream.progress WHERE query = 'j_dedup_upd' AND input_rows > 0
 ORDER BY batch_id DESC LIMIT 1;
SELECT * FROM j_dedup_upd ORDER BY page;
SELECT pg_temp.mismatch('j_dedup_upd',
    $$SELECT page, count(*) AS n, min(t) AS first_t FROM (SELECT DISTINCT ON (event_id) * FROM views
       WHERE (event_id, t) <> (1, '2026-01-01 10:03') ORDER BY event_id, t) d GROUP BY page$$) AS differ;

-- alter_query: a new filter is allowed (the deduplication and the groups
-- stay), another aggregate is the state's and refused
SELECT stream.alter_query('j_dedup_upd',
    query => $$SELECT page, count(*) AS n, min(t) AS first_t FROM views WHERE page <> 'zz' GROUP BY page$$);
SELECT stream.alter_query('j_dedup_upd',
    query => $$SELECT page, count(*) AS n, max(t) AS first_t FROM views GROUP BY page$$);
INSERT INTO views VALUES (10, 'c', '2026-01-01 11:05'), (11, 'zz', '2026-01-01 11:05'),
    (12, 'a', '2026-01-01 11:06');
CALL stream.process_all_available('j_dedup_upd');
SELECT * FROM j_dedup_upd ORDER BY page;

-- the stream's column that a chained query deduplicates by keeps its name
ALTER TABLE views RENAME COLUMN event_id TO eid;

-- many batches: events arriving two or three times, some copies in the
-- same batch, others in the next one, all within the watermark
SELECT stream.start_query('j_many',
    $$SELECT stream.tumble(t, '1 minute') AS w, page, count(*) AS n, sum(event_id) AS ids
        FROM views GROUP BY 1, 2$$,
    'j_many', output_mode => 'append', event_time => 't', watermark => '5 minutes',
    deduplicate => '{event_id, page}', trigger => '1 hour', starting_from => 'latest') > 0 AS started;
DO $$
BEGIN
    FOR b IN 0..9 LOOP
        INSERT INTO views
        SELECT 1000 + i, 'p' || (i % 3), '2026-01-02 00:00'::timestamptz + (i * interval '1 second')
          FROM generate_series(b * 60, b * 60 + 59) i
        UNION ALL
        SELECT 1000 + i, 'p' || (i % 3), '2026-01-02 00:00'::timestamptz + (i * interval '1 second') + interval '20 seconds'
          FROM generate_series(greatest(b * 60 - 30, 0), b * 60 + 29) i WHERE i % 4 = 0;
        COMMIT;
        CALL stream.process_all_available('j_many');
    END LOOP;
    INSERT INTO views VALUES (0, 'p0', '2026-01-02 01:00');
    COMMIT;
    CALL stream.process_all_available('j_many');
END $$;
SELECT count(*) AS windows, sum(n) AS events FROM j_many;
SELECT pg_temp.mismatch('j_many',
    $$SELECT stream.tumble(t, '1 minute') AS w, page, count(*) AS n, sum(event_id) AS ids
        FROM (SELECT DISTINCT ON (event_id, page) * FROM views
               WHERE t >= '2026-01-02' AND t < '2026-01-02 01:00' ORDER BY event_id, page, t) d
       GROUP BY 1, 2$$) AS differ;
SELECT sum(input_rows) AS read, sum(late_rows) AS late FROM stream.progress WHERE query = 'j_many';

-- ---------------------------------------------------------------------------
-- refusals
-- ---------------------------------------------------------------------------
-- a deduplicated column that is no column of the stream (42703)
\set VERBOSITY default
SELECT stream.start_query('r1',
    $$SELECT stream.tumble(t, '5 minutes') AS w, count(*) AS n FROM views GROUP BY 1$$,
    'r1', output_mode => 'append', event_time => 't', watermark => '10 minutes',
    deduplicate => '{w}');
SELECT stream.start_query('r2',
    $$SELECT stream.tumble(t, '5 minutes') AS w, count(*) AS n FROM views GROUP BY 1$$,
    'r2', output_mode => 'append', event_time => 't', watermark => '10 minutes',
    deduplicate => '{event_id, event_id}');
-- without a watermark, as deduplication alone
SELECT stream.start_query('r3', $$SELECT page, count(*) AS n FROM views GROUP BY page$$,
    'r3', output_mode => 'update', deduplicate => '{event_id}');
-- a column the owner may not read
RESET ROLE;
CREATE TABLE secret_views (event_id int, secret text, page text, t timestamptz);
SELECT stream.create_stream('secret_views');
GRANT SELECT (page, t) ON secret_views TO regress_chain_other;
SET ROLE regress_chain_other;
SELECT stream.start_query('r4', $$SELECT page, count(*) AS n FROM secret_views GROUP BY page$$,
    'r4', output_mode => 'update', event_time => 't', watermark => '10 minutes',
    deduplicate => '{secret}');
SET ROLE regress_chain_owner;

-- a windowed aggregation over a windowed aggregation: E20 in update and
-- complete mode, built in append mode (agg_over_agg)
SELECT stream.start_query('r5',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(t, '1 minute') AS minute, page, count(*) AS views
                FROM views GROUP BY 1, 2) m GROUP BY 1$$,
    'r5', output_mode => 'update', event_time => 't', watermark => '10 minutes');
SELECT stream.start_query('r6',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(t, '1 minute') AS minute, page, count(*) AS views
                FROM views GROUP BY 1, 2) m GROUP BY 1$$,
    'r6', output_mode => 'complete', event_time => 't', watermark => '10 minutes');
SELECT stream.start_query('r7',
    $$SELECT stream.tumble(m.minute, '1 hour') AS hour, sum(m.views) AS views
        FROM (SELECT stream.tumble(t, '1 minute') AS minute, page, count(*) AS views
                FROM views GROUP BY 1, 2) m GROUP BY 1$$,
    'r7', output_mode => 'append', event_time => 't', watermark => '10 minutes') > 0 AS started;
SELECT stream.drop_query('r7');
SELECT count(*) AS refused_left FROM stream.queries WHERE name LIKE 'r_';

-- dropping the query drops both its state tables
SELECT stream.drop_query('j_dedup_agg');
RESET ROLE;
SELECT count(*) AS left_behind FROM pg_class
 WHERE relnamespace = 'stream_state'::regnamespace AND relname LIKE 'j_dedup_agg%';
SET ROLE regress_chain_owner;
SELECT stream.drop_stream('views', cascade => true);
SELECT stream.drop_stream('views_once', cascade => true);
RESET ROLE;
SELECT stream.drop_stream('secret_views', cascade => true);
SELECT count(*) AS state_tables_left FROM pg_class
 WHERE relnamespace = 'stream_state'::regnamespace AND relkind = 'r';
DROP TABLE views, views_once, j_dedup_agg, views_two, j_dedup_upd, j_dedup_all, j_many,
    secret_views, fail_switch;
DROP FUNCTION fail_if_asked();
DROP OWNED BY regress_chain_owner, regress_chain_other;
DROP ROLE regress_chain_owner, regress_chain_other;
