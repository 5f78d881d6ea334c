-- Streaming aggregations: GROUP BY queries in update and complete output
-- modes, computed batch by batch from a state of one row per group, and
-- equal after every batch to the same query run over all rows.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
CREATE EXTENSION IF NOT EXISTS hll;
CREATE EXTENSION IF NOT EXISTS tdigest;
SET client_min_messages = warning;
CREATE ROLE regress_agg_owner LOGIN;
CREATE ROLE regress_agg_other LOGIN;
GRANT CREATE ON SCHEMA public TO regress_agg_owner, regress_agg_other;

-- rows of the target that the query over all rows does not give, and the
-- other way round (0 when they are equal, duplicates counted)
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

SET ROLE regress_agg_owner;
CREATE TABLE clicks (id bigint PRIMARY KEY, page text, user_id int, ms int,
                     score float8, amount numeric, ok boolean, flags int);
CREATE INDEX ON clicks (page);
SELECT stream.create_stream('clicks');
CREATE TABLE pages (page text PRIMARY KEY, section text);
INSERT INTO pages VALUES ('home', 'front'), ('cart', 'shop'), ('pay', 'shop'), ('help', NULL);

-- ---------------------------------------------------------------------------
-- update mode: the groups a batch changed are upserted; NULL is a group
-- ---------------------------------------------------------------------------
SELECT stream.start_query('per_page',
    $$SELECT page, count(*) AS clicks, count(ms) AS timed, sum(ms) AS total_ms,
             avg(ms) AS avg_ms, min(ms) AS min_ms, max(score) AS best
        FROM clicks GROUP BY page$$,
    'per_page', output_mode => 'update') > 0 AS started;
-- the target was made with a unique key over the grouping column, NULL a value
SELECT indexdef FROM pg_indexes WHERE tablename = 'per_page';
INSERT INTO clicks VALUES (1, 'home', 1, 10, 1.5, 1, true, 1),
                          (2, 'home', 2, NULL, 2.5, 2, false, 2),
                          (3, NULL, 3, 30, NULL, 3, NULL, 3);
CALL stream.process_all_available('per_page');
SELECT * FROM per_page ORDER BY page NULLS FIRST;
INSERT INTO clicks VALUES (4, 'cart', 1, 40, 0.5, 4, true, 4),
                          (5, NULL, 2, 50, 9.5, 5, true, 5);
CALL stream.process_all_available('per_page');
-- only the groups of the batch were written; home is as it was
SELECT batch_id, input_rows, output_rows, state_rows, state_rows_updated
  FROM stream.progress WHERE query = 'per_page' ORDER BY batch_id;
SELECT * FROM per_page ORDER BY page NULLS FIRST;
SELECT pg_temp.mismatch('per_page',
    $$SELECT page, count(*), count(ms), sum(ms), avg(ms), min(ms), max(score) FROM clicks GROUP BY page$$) AS mismatch;
SELECT state_table FROM stream.queries WHERE name = 'per_page';

-- ---------------------------------------------------------------------------
-- every family of built-in aggregates with a combine function, FILTER,
-- expressions over aggregates, a join with an ordinary table before the
-- aggregation
-- ---------------------------------------------------------------------------
SELECT stream.start_query('families',
    $$SELECT p.section,
             count(*) AS n, sum(c.ms) AS s_int, sum(c.amount) AS s_num,
             sum(c.score) AS s_float, avg(c.amount) AS a_num,
             round(avg(c.score)::numeric, 6) AS a_float,
             min(c.page) AS min_text, max(c.amount) AS max_num,
             bool_and(c.ok) AS all_ok, bool_or(c.ok) AS any_ok, every(c.ok) AS every_ok,
             bit_and(c.flags) AS band, bit_or(c.flags) AS bor,
             round(stddev(c.score)::numeric, 6) AS sd, round(var_pop(c.amount), 6) AS vp,
             round(variance(c.ms), 6) AS var_ms,
             round(corr(c.score, c.ms)::numeric, 6) AS corr,
             round(regr_slope(c.score, c.ms)::numeric, 6) AS slope,
             regr_count(c.score, c.ms) AS rc,
             round(covar_samp(c.score, c.ms)::numeric, 6) AS cov,
             count(*) FILTER (WHERE c.ms > 20) AS slow,
             sum(c.amount) / nullif(count(*), 0) AS mean_by_hand,
             round(avg(c.ms) * 2, 6) AS twice_avg,
             CASE WHEN count(*) > 2 THEN 'busy' ELSE 'quiet' END AS load
        FROM clicks c JOIN pages p USING (page)
       GROUP BY p.section$$,
    'families', output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('families');
INSERT INTO clicks SELECT 100 + g, (ARRAY['home', 'cart', 'pay', 'help'])[1 + g % 4],
                          g % 7, CASE WHEN g % 5 = 0 THEN NULL ELSE g * 3 END,
                          g / 4.0, g * 1.25, g % 3 <> 0, g
                     FROM generate_series(1, 60) g;
CALL stream.process_all_available('families');
INSERT INTO clicks SELECT 200 + g, (ARRAY['home', 'pay'])[1 + g % 2], g % 5, g, g / 2.0, g, true, 255
                     FROM generate_series(1, 30) g;
CALL stream.process_all_available('families');
SELECT section, n, s_int, s_num, all_ok, any_ok, band, bor, slow, load FROM families ORDER BY section NULLS FIRST;
SELECT pg_temp.mismatch('families',
    $$SELECT p.section,
             count(*), sum(c.ms), sum(c.amount), sum(c.score), avg(c.amount),
             round(avg(c.score)::numeric, 6), min(c.page), max(c.amount),
             bool_and(c.ok), bool_or(c.ok), every(c.ok), bit_and(c.flags), bit_or(c.flags),
             round(stddev(c.score)::numeric, 6), round(var_pop(c.amount), 6),
             round(variance(c.ms), 6), round(corr(c.score, c.ms)::numeric, 6),
             round(regr_slope(c.score, c.ms)::numeric, 6), regr_count(c.score, c.ms),
             round(covar_samp(c.score, c.ms)::numeric, 6),
             count(*) FILTER (WHERE c.ms > 20), sum(c.amount) / nullif(count(*), 0),
             round(avg(c.ms) * 2, 6), CASE WHEN count(*) > 2 THEN 'busy' ELSE 'quiet' END
        FROM clicks c JOIN pages p USING (page) GROUP BY p.section$$) AS mismatch;

-- ---------------------------------------------------------------------------
-- HAVING: a group enters the target when it starts satisfying it, and
-- leaves when it stops
-- ---------------------------------------------------------------------------
SELECT stream.start_query('slow_pages',
    $$SELECT page, avg(ms) AS avg_ms FROM clicks GROUP BY page HAVING avg(ms) > 40$$,
    'slow_pages', output_mode => 'update', starting_from => 'latest') > 0 AS started;
INSERT INTO clicks VALUES (301, 'slowpage', 1, 100, 0, 0, true, 0), (302, 'fastpage', 1, 5, 0, 0, true, 0);
CALL stream.process_all_available('slow_pages');
SELECT * FROM slow_pages ORDER BY page;
INSERT INTO clicks VALUES (303, 'slowpage', 1, 1, 0, 0, true, 0), (304, 'fastpage', 1, 500, 0, 0, true, 0);
CALL stream.process_all_available('slow_pages');
SELECT * FROM slow_pages ORDER BY page;
INSERT INTO clicks VALUES (305, 'fastpage', 1, 1, 0, 0, true, 0), (306, NULL, 1, 1000, 0, 0, true, 0);
CALL stream.process_all_available('slow_pages');
SELECT * FROM slow_pages ORDER BY page NULLS FIRST;

-- ---------------------------------------------------------------------------
-- complete mode: the whole result after each batch; a top-N; one group
-- without GROUP BY; GROUP BY without aggregates
-- ---------------------------------------------------------------------------
CREATE TABLE top_pages (page text, clicks bigint);
INSERT INTO top_pages VALUES ('stale row', 1);
SELECT stream.start_query('top_pages',
    $$SELECT page, count(*) AS clicks FROM clicks WHERE page IS NOT NULL
       GROUP BY page ORDER BY count(*) DESC, page LIMIT 2$$,
    'top_pages', output_mode => 'complete') > 0 AS started;
SELECT stream.start_query('totals',
    $$SELECT count(*) AS n, sum(amount) AS amount, max(id) AS last_id FROM clicks$$,
    'totals', output_mode => 'complete') > 0 AS started;
SELECT stream.start_query('users_seen',
    $$SELECT user_id FROM clicks GROUP BY user_id$$,
    'users_seen', output_mode => 'complete') > 0 AS started;
CALL stream.process_all_available('top_pages');
CALL stream.process_all_available('totals');
CALL stream.process_all_available('users_seen');
SELECT * FROM top_pages ORDER BY clicks DESC, page;
SELECT * FROM totals;
INSERT INTO clicks SELECT 400 + g, 'cart', 1, 1, 1, 1, true, 1 FROM generate_series(1, 40) g;
INSERT INTO clicks VALUES (441, 'new', 99, 1, 1, 1, true, 1);
CALL stream.process_all_available('top_pages');
CALL stream.process_all_available('totals');
CALL stream.process_all_available('users_seen');
SELECT * FROM top_pages ORDER BY clicks DESC, page;
SELECT * FROM totals;
SELECT pg_temp.mismatch('totals', $$SELECT count(*), sum(amount), max(id) FROM clicks$$) AS mismatch;
SELECT pg_temp.mismatch('users_seen', $$SELECT user_id FROM clicks GROUP BY user_id$$) AS mismatch;

-- ---------------------------------------------------------------------------
-- hll and tdigest, whose states are internal and serialized: incremental,
-- and equal to the aggregate over all rows
-- ---------------------------------------------------------------------------
SELECT stream.start_query('sketches',
    $$SELECT page, hll_cardinality(hll_add_agg(hll_hash_integer(user_id)))::int AS users,
             round(tdigest_percentile(ms::float8, 100, 0.5)::numeric, 3) AS median_ms
        FROM clicks GROUP BY page$$,
    'sketches', output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('sketches');
INSERT INTO clicks SELECT 500 + g, (ARRAY['home', 'cart'])[1 + g % 2], g % 50, g, 0, 0, true, 0
                     FROM generate_series(1, 400) g;
CALL stream.process_all_available('sketches');
INSERT INTO clicks SELECT 900 + g, 'home', 1000 + g, 7, 0, 0, true, 0 FROM generate_series(1, 100) g;
CALL stream.process_all_available('sketches');
SELECT * FROM sketches WHERE page IN ('home', 'cart') ORDER BY page;
SELECT page, hll_cardinality(hll_add_agg(hll_hash_integer(user_id)))::int AS users
  FROM clicks WHERE page IN ('home', 'cart') GROUP BY page ORDER BY page;
-- a t-digest is an approximation that depends on the order of its merges:
-- the medians agree within 2%
WITH f AS (SELECT page, hll_cardinality(hll_add_agg(hll_hash_integer(user_id)))::int AS users,
                  tdigest_percentile(ms::float8, 100, 0.5) AS median
             FROM clicks GROUP BY page)
SELECT count(*) AS groups, (SELECT count(*) FROM sketches) AS in_target,
       count(*) FILTER (WHERE s.users = f.users) AS same_users,
       count(*) FILTER (WHERE abs(s.median_ms - f.median::numeric)
                              <= 0.02 * greatest(abs(f.median::numeric), 1)) AS close_medians
  FROM f JOIN sketches s ON s.page IS NOT DISTINCT FROM f.page;

-- ---------------------------------------------------------------------------
-- a batch that fails after its write-ahead changes nothing, and its replay
-- counts every row once
-- ---------------------------------------------------------------------------
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
CREATE TRIGGER fail_if_asked BEFORE INSERT OR UPDATE ON per_page
    FOR EACH ROW EXECUTE FUNCTION fail_if_asked();
SELECT state_rows, state_rows_updated FROM stream.progress
 WHERE query = 'per_page' ORDER BY batch_id DESC LIMIT 1;
CALL stream.process_batch('per_page');
SELECT name, status, last_error FROM stream.queries WHERE name = 'per_page';
SELECT pg_temp.mismatch('per_page',
    $$SELECT page, count(*), count(ms), sum(ms), avg(ms), min(ms), max(score) FROM clicks GROUP BY page$$) > 0 AS behind;
UPDATE fail_switch SET fail = false;
CALL stream.process_all_available('per_page');
SELECT replayed, state_rows FROM stream.progress
 WHERE query = 'per_page' ORDER BY batch_id DESC LIMIT 1;
SELECT pg_temp.mismatch('per_page',
    $$SELECT page, count(*), count(ms), sum(ms), avg(ms), min(ms), max(score) FROM clicks GROUP BY page$$) AS mismatch;

-- ---------------------------------------------------------------------------
-- the owner's code runs as the owner, never as the superuser that merges
-- the states: a domain's CHECK over an aggregate's result, a final and a
-- combine function written in plpgsql; the settings they change do not
-- outlive them
-- ---------------------------------------------------------------------------
CREATE TABLE who_ran (what text, role name, super boolean);
CREATE FUNCTION note(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO who_ran VALUES (what, current_user,
                                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user));
    PERFORM set_config('work_mem', '77kB', false);
    RETURN true;
END
$$;
CREATE DOMAIN checked_int AS int CHECK (note('domain check'));
CREATE FUNCTION to_checked(int) RETURNS checked_int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM note('final function');
    RETURN $1;
END
$$;
CREATE FUNCTION noted_larger(int, int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    PERFORM note('combine function');
    RETURN greatest($1, $2);
END
$$;
CREATE AGGREGATE checked_max(int) (sfunc = int4larger, stype = int4,
    combinefunc = noted_larger, finalfunc = to_checked);
SELECT stream.start_query('checked', $$SELECT page, checked_max(ms) AS m FROM clicks GROUP BY page$$,
                          'checked', output_mode => 'update') > 0 AS started;
CALL stream.process_all_available('checked');
INSERT INTO clicks VALUES (1001, 'home', 1, 99999, 0, 0, true, 0);
SHOW work_mem;
CALL stream.process_all_available('checked');
SHOW work_mem;
SHOW synchronous_commit;
SELECT what, role, super, count(*) > 0 AS ran FROM who_ran GROUP BY 1, 2, 3 ORDER BY 1;
SELECT m FROM checked WHERE page = 'home';

-- an aggregate replaced in place by one with another state type: the batch
-- refuses the old states instead of reading them as the new type
CREATE OR REPLACE FUNCTION to_checked(int) RETURNS checked_int LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION text_longer(text, text) RETURNS text LANGUAGE sql AS 'SELECT greatest($1, $2)';
CREATE FUNCTION text_add(text, int) RETURNS text LANGUAGE sql AS 'SELECT greatest($1, $2::text)';
CREATE FUNCTION text_to_checked(text) RETURNS checked_int LANGUAGE sql AS 'SELECT length($1)';
CREATE OR REPLACE AGGREGATE checked_max(int) (sfunc = text_add, stype = text,
    combinefunc = text_longer, finalfunc = text_to_checked);
INSERT INTO clicks VALUES (1002, 'home', 1, 5, 0, 0, true, 0);
CALL stream.process_batch('checked');
SELECT stream.drop_query('checked');

-- ---------------------------------------------------------------------------
-- existing targets: keyed by a unique key over the grouping columns
-- ---------------------------------------------------------------------------
CREATE TABLE by_user (user_id int, clicks bigint);
SELECT stream.start_query('by_user', $$SELECT user_id, count(*) AS clicks FROM clicks GROUP BY user_id$$,
                          'by_user', output_mode => 'update');
CREATE UNIQUE INDEX ON by_user (user_id);
SELECT stream.start_query('by_user', $$SELECT user_id, count(*) AS clicks FROM clicks GROUP BY user_id$$,
                          'by_user', output_mode => 'update');
ALTER TABLE by_user ALTER user_id SET NOT NULL;
SELECT stream.start_query('by_user', $$SELECT user_id, count(*) AS clicks FROM clicks WHERE user_id IS NOT NULL GROUP BY user_id$$,
                          'by_user', output_mode => 'update') > 0 AS started;
CREATE TABLE by_page_c (page text, clicks bigint);
CREATE UNIQUE INDEX ON by_page_c (page COLLATE "C") NULLS NOT DISTINCT;
SELECT stream.start_query('by_page_c', $$SELECT page, count(*) AS clicks FROM clicks GROUP BY page$$,
                          'by_page_c', output_mode => 'update');
CREATE TABLE by_user_bigint (user_id bigint UNIQUE NULLS NOT DISTINCT, clicks bigint);
SELECT stream.start_query('by_user_bigint', $$SELECT user_id, count(*) AS clicks FROM clicks GROUP BY user_id$$,
                          'by_user_bigint', output_mode => 'update');
CALL stream.process_all_available('by_user');
SELECT pg_temp.mismatch('by_user', $$SELECT user_id, count(*) FROM clicks GROUP BY user_id$$) AS mismatch;

-- ---------------------------------------------------------------------------
-- refusals: each by name, each leaving nothing behind
-- ---------------------------------------------------------------------------
SELECT count(*) AS queries_before FROM stream.queries \gset
\set VERBOSITY default
SELECT stream.start_query('r1', 'SELECT page, count(*) AS n FROM clicks GROUP BY page', 'r1');
SELECT stream.start_query('r2', 'SELECT page, count(*) AS n FROM clicks GROUP BY page ORDER BY n LIMIT 3', 'r2', output_mode => 'update');
SELECT stream.start_query('r3', 'SELECT page, count(DISTINCT user_id) AS n FROM clicks GROUP BY page', 'r3', output_mode => 'update');
SELECT stream.start_query('r4', 'SELECT page, array_agg(ms) AS a FROM clicks GROUP BY page', 'r4', output_mode => 'update');
SELECT stream.start_query('r5', $$SELECT page, string_agg(page, ',' ORDER BY id) AS a FROM clicks GROUP BY page$$, 'r5', output_mode => 'update');
SELECT stream.start_query('r6', 'SELECT page, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p FROM clicks GROUP BY page', 'r6', output_mode => 'update');
SELECT stream.start_query('r7', 'SELECT page, rank(10) WITHIN GROUP (ORDER BY ms) AS r FROM clicks GROUP BY page', 'r7', output_mode => 'update');
SELECT stream.start_query('r8', 'SELECT page, user_id, count(*) AS n FROM clicks GROUP BY ROLLUP (page, user_id)', 'r8', output_mode => 'update');
SELECT stream.start_query('r9', 'SELECT a.page, count(*) AS n FROM clicks a JOIN clicks b USING (id) GROUP BY a.page', 'r9', output_mode => 'update');
SELECT stream.start_query('r10', 'SELECT page, n * 2 AS twice FROM (SELECT page, count(*) AS n FROM clicks GROUP BY page) t', 'r10', output_mode => 'update');
SELECT stream.start_query('r11', 'SELECT count(*) AS n FROM clicks GROUP BY page', 'r11', output_mode => 'update');
SELECT stream.start_query('r12', 'SELECT id, page, count(*) AS n FROM clicks GROUP BY id', 'r12', output_mode => 'update');
SELECT stream.start_query('r13', 'SELECT page, (SELECT count(*) FROM pages) AS p, count(*) AS n FROM clicks GROUP BY page', 'r13', output_mode => 'update');
SELECT stream.start_query('r14', 'SELECT page, rank() OVER (ORDER BY count(*)) AS r FROM clicks GROUP BY page', 'r14', output_mode => 'update');
SELECT stream.start_query('r15', 'SELECT page, generate_series(1, count(*)::int) AS g FROM clicks GROUP BY page', 'r15', output_mode => 'update');
SELECT stream.start_query('r16', 'SELECT DISTINCT page, count(*) AS n FROM clicks GROUP BY page', 'r16', output_mode => 'update');
SELECT stream.start_query('r17', 'SELECT ms::text::xid AS x, count(*) AS n FROM clicks GROUP BY 1', 'r17', output_mode => 'update');
SELECT stream.start_query('r18', 'SELECT id, page FROM clicks', 'r18', output_mode => 'complete');
SELECT stream.start_query('r19', 'SELECT 1 AS one FROM clicks HAVING true', 'r19', output_mode => 'update');
SELECT stream.start_query('r20', 'SELECT page, GROUPING(page) AS g, count(*) AS n FROM clicks GROUP BY page', 'r20', output_mode => 'update');
SELECT stream.start_query('r21', 'SELECT page, count(*) AS n FROM clicks GROUP BY page ORDER BY n FETCH FIRST 2 ROWS WITH TIES', 'r21', output_mode => 'complete');
SELECT stream.start_query('r22', 'SELECT page, count(*) AS n FROM clicks GROUP BY page ORDER BY n LIMIT extract(day FROM now())::int', 'r22', output_mode => 'complete');
SELECT stream.start_query('r23', 'SELECT page, json_agg(ms) AS a FROM clicks GROUP BY page', 'r23', output_mode => 'update');
\set VERBOSITY terse
SELECT count(*) - :queries_before AS queries_added FROM stream.queries;
SELECT count(*) AS tables_r FROM pg_class WHERE relname ~ '^r[0-9]+$';

-- the state belongs to the extension: its functions and tables are not the
-- owner's to call or touch
SELECT stream._agg_combine(2147, 0, 1::bigint, 2::bigint);
SELECT count(*) FROM stream_state.per_page;

-- ---------------------------------------------------------------------------
-- dropping a query drops its state; so does dropping its stream
-- ---------------------------------------------------------------------------
SELECT stream.drop_query('users_seen');
RESET ROLE;
SELECT relname FROM pg_class WHERE relnamespace = 'stream_state'::regnamespace ORDER BY relname;
SET ROLE regress_agg_owner;
SELECT stream.drop_stream('clicks', cascade => true);
RESET ROLE;
SELECT count(*) AS state_tables_left FROM pg_class
 WHERE relnamespace = 'stream_state'::regnamespace AND relkind = 'r';
DROP TABLE clicks, pages, per_page, families, slow_pages, top_pages, totals,
    users_seen, sketches, fail_switch, by_user, by_user_bigint, by_page_c,
    checked, who_ran;
DROP FUNCTION fail_if_asked();
DROP AGGREGATE checked_max(int);
DROP FUNCTION to_checked(int), noted_larger(int, int), text_longer(text, text),
    text_add(text, int), text_to_checked(text);
DROP DOMAIN checked_int;
DROP FUNCTION note(text);
DROP OWNED BY regress_agg_owner, regress_agg_other;
DROP ROLE regress_agg_owner, regress_agg_other;
