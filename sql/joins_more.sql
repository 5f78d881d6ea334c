-- Stream-stream joins with the rest of a query: ordinary tables joined to
-- both sides, filters in WHERE and in ON, a self-join, a join without
-- watermarks, row-level security on a side, and a side its owner may not
-- read.  Run by unprivileged roles.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_jm_owner LOGIN;
CREATE ROLE regress_jm_other LOGIN;
GRANT CREATE ON SCHEMA public TO regress_jm_owner, regress_jm_other;
SET ROLE regress_jm_owner;

CREATE TABLE impressions (ad_id int, imp_time timestamptz, campaign text);
CREATE TABLE clicks (ad_id int, click_time timestamptz, country text);
CREATE INDEX ON impressions (ad_id, imp_time);
CREATE INDEX ON clicks (ad_id, click_time);
SELECT stream.create_stream('impressions');
SELECT stream.create_stream('clicks');
-- ordinary tables, read as of each batch and never revised
CREATE TABLE campaigns (campaign text PRIMARY KEY, manager text);
CREATE TABLE countries (country text PRIMARY KEY, region text);
INSERT INTO campaigns VALUES ('a', 'alice'), ('test', 'tess');
INSERT INTO countries VALUES ('fr', 'europe');

-- ---------------------------------------------------------------------------
-- an ordinary table joined to each side
-- ---------------------------------------------------------------------------
SELECT stream.start_query('j_static',
    $$SELECT i.ad_id, p.manager, c.click_time, n.region
        FROM impressions i
        JOIN clicks c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
        JOIN campaigns p ON p.campaign = i.campaign
        JOIN countries n ON n.country = c.country$$,
    'j_static', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;

-- ---------------------------------------------------------------------------
-- filters: in ON on the nullable side (a bot's click matches nothing), in ON
-- on the preserved side only (an impression of the test campaign can match
-- nothing: its NULL row comes in the batch it arrives in, and it is not
-- kept), in WHERE (ad 100 is not part of the join at all)
-- ---------------------------------------------------------------------------
SELECT stream.start_query('j_filtered',
    $$SELECT i.ad_id, i.imp_time, i.campaign, c.click_time
        FROM impressions i
        LEFT JOIN clicks c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'
         AND c.country <> 'bot'
         AND i.campaign <> 'test'
       WHERE i.ad_id < 100$$,
    'j_filtered', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;

-- ---------------------------------------------------------------------------
-- an inner join without watermarks: accepted, keeping both sides for ever,
-- and it says so
-- ---------------------------------------------------------------------------
SELECT stream.start_query('j_unbounded',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id$$,
    'j_unbounded', trigger => '1 hour') > 0 AS started;

-- step 1
INSERT INTO impressions VALUES (1, '2026-01-01 10:00', 'a'), (2, '2026-01-01 10:00', 'test'),
                               (3, '2026-01-01 10:00', 'a'), (100, '2026-01-01 10:00', 'a');
INSERT INTO clicks VALUES (1, '2026-01-01 10:10', 'fr'), (2, '2026-01-01 10:10', 'fr'),
                          (3, '2026-01-01 10:10', 'bot'), (100, '2026-01-01 10:10', 'fr');
CALL stream.process_all_available('j_static');
CALL stream.process_all_available('j_unbounded');
-- j_filtered's data batch: the test campaign's NULL row now; impression 3
-- (its only click a bot's) waits for the watermark
CALL stream.process_batch('j_filtered');
SELECT * FROM j_filtered ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT side, state_rows FROM stream.query_sides WHERE query = 'j_filtered' ORDER BY side;
CALL stream.process_all_available('j_filtered');
SELECT * FROM j_static ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_filtered ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_unbounded ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;

-- step 2: the ordinary table changes (later pairs see it, earlier rows stay);
-- a click ten hours after impression 1 meets it only in the unbounded join;
-- the watermark passes impression 3: its NULL row.  Ad 5's impression and
-- click have no time: not late, no match through the range (the unbounded
-- join, without one, pairs them), the impression's NULL row at once, and
-- nothing kept
UPDATE campaigns SET manager = 'anna' WHERE campaign = 'a';
INSERT INTO impressions VALUES (4, '2026-01-01 14:00', 'a'), (5, NULL, 'a');
INSERT INTO clicks VALUES (4, '2026-01-01 14:30', 'fr'), (1, '2026-01-01 20:00', 'fr'),
                          (5, NULL, 'fr');
CALL stream.process_all_available('j_static');
CALL stream.process_all_available('j_filtered');
CALL stream.process_all_available('j_unbounded');
SELECT * FROM j_static ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_filtered ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST;
SELECT * FROM j_unbounded ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST;
SELECT query, side, name, watermark, state_rows, late_rows
  FROM stream.query_sides WHERE query IN ('j_static', 'j_filtered', 'j_unbounded')
 ORDER BY query, side;

-- ---------------------------------------------------------------------------
-- a self-join: the next page a user visits within ten minutes; both sides
-- read one stream and get its event_time/watermark
-- ---------------------------------------------------------------------------
CREATE TABLE visits (user_id int, t timestamptz, page text);
CREATE INDEX ON visits (user_id, t);
SELECT stream.create_stream('visits');
SELECT stream.start_query('j_self',
    $$SELECT a.user_id, a.page AS page, b.page AS next_page, a.t AS t, b.t AS next_t
        FROM visits a JOIN visits b ON a.user_id = b.user_id
         AND b.t > a.t AND b.t <= a.t + interval '10 minutes'$$,
    'j_self', trigger => '1 hour', event_time => 't', watermark => '10 minutes') > 0 AS started;
SELECT query, side, name, stream, event_time, delay
  FROM stream.query_sides WHERE query = 'j_self' ORDER BY side;
-- step 1: two visits of user 1 in one batch make one pair (not two, and no
-- row with itself)
INSERT INTO visits VALUES (1, '2026-01-01 10:00', 'home'), (1, '2026-01-01 10:04', 'cart'),
                          (2, '2026-01-01 10:01', 'home');
CALL stream.process_all_available('j_self');
SELECT * FROM j_self ORDER BY 1, 4, 5;
-- step 2: a visit meeting both of step 1's; one 19 minutes later (none);
-- one late (09:50, at or before the watermark 09:54) that would follow
-- 10:00's visit within ten minutes: dropped
INSERT INTO visits VALUES (1, '2026-01-01 10:09', 'pay'), (2, '2026-01-01 10:20', 'home'),
                          (1, '2026-01-01 09:50', 'old');
CALL stream.process_all_available('j_self');
SELECT * FROM j_self ORDER BY 1, 4, 5;
-- step 3 (the watermark is 10:10): 10:15 follows 10:09 and not 10:04
INSERT INTO visits VALUES (2, '2026-01-01 10:25', 'cart'), (1, '2026-01-01 10:15', 'help');
CALL stream.process_all_available('j_self');
SELECT * FROM j_self ORDER BY 1, 4, 5;
SELECT side, watermark, late_rows FROM stream.query_sides WHERE query = 'j_self' ORDER BY side;

-- ---------------------------------------------------------------------------
-- another role's stream: row-level security applies to the owner's reads of
-- it, both of the batch's new rows and of the rows a later impression meets;
-- reading it at all needs the grant, checked at start and at every batch
-- ---------------------------------------------------------------------------
RESET ROLE;
SET ROLE regress_jm_other;
CREATE TABLE shared_clicks (ad_id int, click_time timestamptz, country text);
CREATE INDEX ON shared_clicks (ad_id, click_time);
SELECT stream.create_stream('shared_clicks');
ALTER TABLE shared_clicks ENABLE ROW LEVEL SECURITY;
CREATE POLICY fr_only ON shared_clicks FOR SELECT TO regress_jm_owner USING (country = 'fr');
RESET ROLE;
SET ROLE regress_jm_owner;
CREATE TABLE own_impressions (ad_id int, imp_time timestamptz);
CREATE INDEX ON own_impressions (ad_id, imp_time);
SELECT stream.create_stream('own_impressions');
-- without the grant: refused, nothing started
SELECT stream.start_query('j_rls',
    $$SELECT i.ad_id, i.imp_time, c.click_time, c.country
        FROM own_impressions i JOIN shared_clicks c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_rls', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
SELECT count(*) AS started FROM stream.queries WHERE name = 'j_rls';
RESET ROLE;
SET ROLE regress_jm_other;
GRANT SELECT ON shared_clicks TO regress_jm_owner;
RESET ROLE;
SET ROLE regress_jm_owner;
SELECT stream.start_query('j_rls',
    $$SELECT i.ad_id, i.imp_time, c.click_time, c.country
        FROM own_impressions i JOIN shared_clicks c ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_rls', trigger => '1 hour',
    watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
-- step 1: impressions and clicks together; clicks of ads 4 and 5 come
-- before their impressions
INSERT INTO own_impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:00');
RESET ROLE;
SET ROLE regress_jm_other;
INSERT INTO shared_clicks VALUES (1, '2026-01-01 10:10', 'fr'), (2, '2026-01-01 10:10', 'de'),
                                 (4, '2026-01-01 10:30', 'de'), (5, '2026-01-01 10:31', 'fr');
RESET ROLE;
SET ROLE regress_jm_owner;
CALL stream.process_all_available('j_rls');
SELECT * FROM j_rls ORDER BY 1, 2, 3, 4;
-- step 2: the impressions of ads 4 and 5 meet the clicks of step 1 the
-- owner may see: 5's, not 4's
INSERT INTO own_impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 10:26');
CALL stream.process_all_available('j_rls');
SELECT * FROM j_rls ORDER BY 1, 2, 3, 4;
-- the grant revoked: the next batch fails, loudly, and writes nothing
RESET ROLE;
SET ROLE regress_jm_other;
REVOKE SELECT ON shared_clicks FROM regress_jm_owner;
INSERT INTO shared_clicks VALUES (6, '2026-01-01 10:40', 'fr');
RESET ROLE;
SET ROLE regress_jm_owner;
INSERT INTO own_impressions VALUES (6, '2026-01-01 10:35');
\set VERBOSITY terse
CALL stream.process_all_available('j_rls');
\set VERBOSITY default
SELECT * FROM j_rls ORDER BY 1, 2, 3, 4;
-- granted again: the batch runs, its pair once
RESET ROLE;
SET ROLE regress_jm_other;
GRANT SELECT ON shared_clicks TO regress_jm_owner;
RESET ROLE;
SET ROLE regress_jm_owner;
CALL stream.process_all_available('j_rls');
SELECT * FROM j_rls ORDER BY 1, 2, 3, 4;

SELECT stream.drop_query(name) FROM stream.queries ORDER BY name;
SELECT stream.drop_stream('impressions');
SELECT stream.drop_stream('clicks');
SELECT stream.drop_stream('visits');
SELECT stream.drop_stream('own_impressions');
DROP TABLE impressions, clicks, campaigns, countries, visits, own_impressions,
    j_static, j_filtered, j_unbounded, j_self, j_rls;
RESET ROLE;
SET ROLE regress_jm_other;
SELECT stream.drop_stream('shared_clicks');
DROP TABLE shared_clicks;
RESET ROLE;
DROP OWNED BY regress_jm_owner, regress_jm_other;
DROP ROLE regress_jm_owner, regress_jm_other;
