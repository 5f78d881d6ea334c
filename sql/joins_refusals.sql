-- Joins between two streams: every shape that cannot be served is refused at
-- start with its message (docs/joins/surface.md 2.8), and changes nothing.
-- Run by an owner without superuser rights.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
\set VERBOSITY default

CREATE ROLE regress_join_dana;
GRANT CREATE ON SCHEMA public TO regress_join_dana;
SET ROLE regress_join_dana;

CREATE TABLE impressions (ad_id int, imp_time timestamptz, campaign text);
CREATE TABLE clicks      (ad_id int, click_time timestamptz, country text);
SELECT stream.create_stream('impressions');
SELECT stream.create_stream('clicks');
CREATE INDEX ON impressions (ad_id, imp_time);
CREATE INDEX ON clicks (ad_id, click_time);
CREATE TABLE views (page text, t timestamptz);
SELECT stream.create_stream('views');
CREATE TABLE ticks (id int, t timestamp);
SELECT stream.create_stream('ticks');
CREATE INDEX ON ticks (id, t);
CREATE TABLE dim (ad_id int PRIMARY KEY, country text);
CREATE VIEW clicks_view AS SELECT ad_id, click_time FROM clicks;
SELECT count(*) AS queries_before FROM stream.queries;

SET client_min_messages = notice;

-- E1: a join between streams writes in append mode only
SELECT stream.start_query('j', 'SELECT i.ad_id, c.click_time FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id', 'j_out', output_mode => 'update');
SELECT stream.start_query('j', 'SELECT a.ad_id, count(*) AS n FROM clicks a JOIN clicks b USING (ad_id) GROUP BY a.ad_id', 'j_out', output_mode => 'complete');

-- E2: no equality between the sides
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i, clicks c', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i CROSS JOIN clicks c', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON true', 'j_out');
SELECT stream.start_query('j', $$SELECT i.ad_id FROM impressions i JOIN clicks c ON c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$, 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id OR c.country = i.campaign', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id + c.ad_id', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id < i.ad_id', 'j_out');

-- E3: a left outer join needs a watermark on the nullable side and a range
SELECT stream.start_query('j', $$SELECT i.ad_id, c.click_time FROM impressions i LEFT JOIN clicks c ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$, 'j_out');
SELECT stream.start_query('j', 'SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id', 'j_out', event_time => 'click_time', watermark => '3 hours');
-- the range bounds only b (b after a): nothing says when a row of a is unmatched
SELECT stream.start_query('j', 'SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time > a.click_time', 'j_out', event_time => 'click_time', watermark => '3 hours');
-- the range reads a column that is not the watermark's
ALTER TABLE clicks ADD COLUMN seen_at timestamptz;
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.seen_at BETWEEN a.click_time AND a.click_time + interval '10 minutes'$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
-- windows of different sizes are no key watermark
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND stream.tumble(b.click_time, '1 hour') = stream.tumble(a.click_time, '2 hours')$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
-- the equality on the time is no key watermark without a watermark
SELECT stream.start_query('j', 'SELECT i.ad_id, c.click_time FROM impressions i LEFT JOIN clicks c ON c.ad_id = i.ad_id AND c.click_time = i.imp_time', 'j_out');

-- E4: right outer, the mirror
SELECT stream.start_query('j', $$SELECT c.ad_id, c.click_time FROM impressions i RIGHT JOIN clicks c ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$, 'j_out');
SELECT stream.start_query('j', 'SELECT b.ad_id, b.click_time AS t FROM clicks a RIGHT JOIN clicks b ON b.ad_id = a.ad_id AND a.click_time > b.click_time', 'j_out', event_time => 'click_time', watermark => '3 hours');

-- E5: full outer
SELECT stream.start_query('j', $$SELECT c.ad_id, c.click_time FROM impressions i FULL JOIN clicks c ON c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$, 'j_out');
SELECT stream.start_query('j', 'SELECT a.ad_id, b.click_time AS t FROM clicks a FULL JOIN clicks b USING (ad_id)', 'j_out', event_time => 'click_time', watermark => '3 hours');

-- E6: left semi, EXISTS and IN
SELECT stream.start_query('j', $$SELECT i.ad_id, i.imp_time FROM impressions i WHERE EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour')$$, 'j_out');
SELECT stream.start_query('j', $$SELECT i.ad_id, i.imp_time FROM impressions i WHERE i.campaign <> 'test' AND i.ad_id IN (SELECT c.ad_id FROM clicks c WHERE c.click_time >= i.imp_time)$$, 'j_out');
SELECT stream.start_query('j', 'SELECT a.ad_id, a.click_time AS t FROM clicks a WHERE a.ad_id IN (SELECT b.ad_id FROM clicks b)', 'j_out', event_time => 'click_time', watermark => '3 hours');
-- a semi join without an equality between the sides
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i WHERE EXISTS (SELECT 1 FROM clicks c WHERE c.click_time > i.imp_time)', 'j_out');

-- E7: anti joins over a stream
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i WHERE NOT EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id)', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i WHERE i.ad_id NOT IN (SELECT c.ad_id FROM clicks c)', 'j_out');
SELECT stream.start_query('j', 'SELECT d.ad_id FROM dim d WHERE NOT EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = d.ad_id)', 'j_out');

-- E8: a range in months bounds nothing
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time BETWEEN a.click_time AND a.click_time + interval '1 month'$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time >= a.click_time AND b.click_time < a.click_time + interval '1 year' - interval '1 day'$$, 'j_out', event_time => 'click_time', watermark => '3 hours');

-- E9: a third read of a stream
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id JOIN views v ON v.page = i.campaign', 'j_out');
SELECT stream.start_query('j', 'SELECT a.ad_id FROM clicks a JOIN clicks b USING (ad_id) JOIN clicks c USING (ad_id)', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id WHERE EXISTS (SELECT 1 FROM clicks d WHERE d.ad_id = i.ad_id)', 'j_out');
SELECT stream.start_query('j', 'WITH c AS (SELECT ad_id FROM clicks) SELECT a.ad_id FROM c a JOIN c b USING (ad_id) JOIN c x USING (ad_id)', 'j_out');

-- E10: the second read elsewhere than in FROM or a semi join's subquery
SELECT stream.start_query('j', 'SELECT i.ad_id, (SELECT max(c.click_time) FROM clicks c WHERE c.ad_id = i.ad_id) AS last_click FROM impressions i', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id, l.click_time FROM impressions i, LATERAL (SELECT c.click_time FROM clicks c WHERE c.ad_id = i.ad_id) l', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id, c.click_time FROM impressions i JOIN clicks_view c ON c.ad_id = i.ad_id', 'j_out');
SELECT stream.start_query('j', 'WITH c AS (SELECT ad_id, click_time FROM clicks) SELECT i.ad_id, c.click_time FROM impressions i JOIN c ON c.ad_id = i.ad_id', 'j_out');
SELECT stream.start_query('j', $$SELECT i.ad_id, c.click_time FROM impressions i JOIN (SELECT ad_id, click_time FROM clicks WHERE country = 'fr') c ON c.ad_id = i.ad_id$$, 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM dim d JOIN impressions i USING (ad_id) WHERE EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = d.ad_id)', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM (SELECT * FROM impressions) i WHERE EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id)', 'j_out');
-- not built yet: a semi join elsewhere than ANDed at the top of the WHERE
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i WHERE i.ad_id = 1 OR EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id)', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id, EXISTS (SELECT 1 FROM clicks c WHERE c.ad_id = i.ad_id) AS clicked FROM impressions i', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i WHERE EXISTS (SELECT 1 FROM (SELECT * FROM clicks) c WHERE c.ad_id = i.ad_id)', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id AND EXISTS (SELECT 1 FROM views v WHERE v.page = c.country)', 'j_out');

-- not built yet: an outer or semi join condition reading a third table,
-- a semi join's subquery over more than the stream
SELECT stream.start_query('j', $$SELECT i.ad_id, c.click_time FROM impressions i JOIN dim d ON d.ad_id = i.ad_id LEFT JOIN clicks c ON c.ad_id = i.ad_id AND c.country = d.country AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$, 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i WHERE EXISTS (SELECT 1 FROM clicks c JOIN dim d USING (ad_id) WHERE c.ad_id = i.ad_id)', 'j_out');

-- the refusals of one stream hold for a join
SELECT stream.start_query('j', 'SELECT DISTINCT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id, c.n FROM impressions i JOIN (SELECT ad_id, count(*) AS n FROM clicks GROUP BY ad_id) c ON c.ad_id = i.ad_id', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id ORDER BY i.ad_id', 'j_out');
SELECT stream.start_query('j', 'SELECT d.ad_id FROM dim d LEFT JOIN (impressions i JOIN clicks c ON c.ad_id = i.ad_id) ON i.ad_id = d.ad_id', 'j_out');
SELECT stream.start_query('j', 'SELECT i.ad_id, c.ctid AS row_at FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id', 'j_out');

SET client_min_messages = warning;
-- each refusal changed nothing
SELECT count(*) AS queries_after FROM stream.queries;
SELECT relname FROM pg_class WHERE relname = 'j_out';

-- Shapes whose analysis passes are started, each under its own name, with
-- the warnings of surface.md 2.7 naming the query.
-- an inner join that nothing bounds keeps both sides for ever
\set q1 'SELECT i.ad_id, c.click_time FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id'
SELECT stream.start_query('j1', :'q1', 'j1_out') > 0 AS started;
-- a stream without an index led by its join key is read whole by each batch
\set q2 'SELECT a.page FROM views a JOIN views b USING (page)'
SELECT stream.start_query('j2', :'q2', 'j2_out') > 0 AS started;
\set q3 'SELECT a.page, b.t FROM views a JOIN views b ON b.page = a.page AND b.t > a.t'
SELECT stream.start_query('j3', :'q3', 'j3_out') > 0 AS started;
-- a key that is an expression: an index on that expression serves it
\set q4 'SELECT a.page FROM views a JOIN views b ON lower(b.page) = lower(a.page)'
SELECT stream.start_query('j4', :'q4', 'j4_out') > 0 AS started;
CREATE INDEX ON views (lower(page));
SELECT stream.start_query('j5', :'q4', 'j5_out') > 0 AS started;
-- a range that bounds one side only: b after a keeps the rows of a for ever
\set q6 'SELECT a.ad_id, b.click_time AS t FROM clicks a JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time > a.click_time'
SELECT stream.start_query('j6', :'q6', 'j6_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
-- the left outer self-join of surface.md 3.7, bounded on both sides
\set q7 'SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time > a.click_time AND b.click_time <= a.click_time + interval ''10 minutes'''
SELECT stream.start_query('j7', :'q7', 'j7_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
-- the old spelling of an inner join, its conditions in WHERE
\set q8 'SELECT a.ad_id, b.click_time AS t FROM clicks a, clicks b WHERE b.ad_id = a.ad_id AND b.click_time > a.click_time AND b.click_time <= a.click_time + interval ''10 minutes'''
SELECT stream.start_query('j8', :'q8', 'j8_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
-- a stream whose event time is a timestamp without time zone
\set q9 'SELECT a.id, b.t FROM ticks a LEFT JOIN ticks b ON b.id = a.id AND b.t BETWEEN a.t - interval ''1 minute'' AND a.t + interval ''1 minute'''
SELECT stream.start_query('j9', :'q9', 'j9_out', event_time => 't', watermark => '1 hour') > 0 AS started;
-- a key watermark: equal event times, equal windows
\set q10 'SELECT a.ad_id, b.click_time AS t FROM clicks a FULL JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time = a.click_time'
SELECT stream.start_query('j10', :'q10', 'j10_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
\set q11 'SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND stream.tumble(b.click_time, ''1 hour'') = stream.tumble(a.click_time, ''1 hour'')'
SELECT stream.start_query('j11', :'q11', 'j11_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
-- the spelling of surface.md 1.1 as a self-join: BETWEEN, the lowest of two bounds
\set q12 'SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time BETWEEN a.click_time AND a.click_time + interval ''1 hour'' AND b.click_time < a.click_time + interval ''2 hours'''
SELECT stream.start_query('j12', :'q12', 'j12_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
\set q13 'SELECT a.ad_id, b.click_time AS t FROM clicks a RIGHT JOIN clicks b ON a.ad_id = b.ad_id AND a.click_time + interval ''1 hour'' >= b.click_time AND interval ''1 day'' + b.click_time > a.click_time'
SELECT stream.start_query('j13', :'q13', 'j13_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
-- semi joins, EXISTS, and IN bounded by a range written with a folded interval
\set q14 'SELECT a.ad_id, a.click_time AS t FROM clicks a WHERE a.country <> ''test'' AND EXISTS (SELECT 1 FROM clicks b WHERE b.ad_id = a.ad_id AND b.click_time >= a.click_time AND b.click_time < a.click_time + interval ''30 minutes'')'
SELECT stream.start_query('j14', :'q14', 'j14_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
\set q15 'SELECT a.ad_id, a.click_time AS t FROM clicks a WHERE a.ad_id IN (SELECT b.ad_id FROM clicks b WHERE b.click_time BETWEEN a.click_time - interval ''5 minutes'' * 2 AND a.click_time)'
SELECT stream.start_query('j15', :'q15', 'j15_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;

-- The shape of each (each side's eviction and the output watermark,
-- surface.md 2.6 and 2.9) is the analysis's DEBUG1 line, shown here by a
-- second start under the same name: the name is refused after the analysis,
-- before anything is created.  The warnings above come again, tersely.
\set VERBOSITY terse
SET client_min_messages = debug1;
SELECT stream.start_query('j1', :'q1', 'j1_out');
SELECT stream.start_query('j2', :'q2', 'j2_out');
SELECT stream.start_query('j3', :'q3', 'j3_out');
SELECT stream.start_query('j5', :'q4', 'j5_out');
SELECT stream.start_query('j6', :'q6', 'j6_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j7', :'q7', 'j7_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j8', :'q8', 'j8_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j9', :'q9', 'j9_out', event_time => 't', watermark => '1 hour');
SELECT stream.start_query('j10', :'q10', 'j10_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j11', :'q11', 'j11_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j12', :'q12', 'j12_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j13', :'q13', 'j13_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j14', :'q14', 'j14_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j15', :'q15', 'j15_out', event_time => 'click_time', watermark => '3 hours');
SET client_min_messages = warning;
\set VERBOSITY default

-- The key watermark of equal windows, by its behaviour: a row's window is
-- over once the watermark reaches the window's end, not its time plus the
-- window's size, and an unmatched row's NULL row comes then.
SET TIME ZONE 'UTC';
\set qw 'SELECT a.ad_id, a.click_time AS a_time, b.click_time AS b_time FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.country <> a.country AND stream.tumble(b.click_time, ''1 hour'') = stream.tumble(a.click_time, ''1 hour'')'
SELECT stream.start_query('jw', :'qw', 'jw_out', event_time => 'click_time', watermark => '3 hours') > 0 AS started;
-- the window [10:00, 11:00) waits
INSERT INTO clicks VALUES (1, '2026-01-01 10:10+00', 'fr');
CALL stream.process_batch('jw');
SELECT * FROM jw_out ORDER BY a_time;
-- the watermark becomes 11:05, past the window's end (not past 10:10 + 1 hour)
INSERT INTO clicks VALUES (2, '2026-01-01 14:05+00', 'fr');
CALL stream.process_batch('jw');
SELECT side, watermark, state_rows FROM stream.query_sides WHERE query = 'jw' ORDER BY side;
-- the next batch, with no new rows, writes the NULL row of 10:10
CALL stream.process_batch('jw');
SELECT * FROM jw_out ORDER BY a_time;
SELECT side, watermark, state_rows FROM stream.query_sides WHERE query = 'jw' ORDER BY side;
-- windows with an origin, over a timestamp without time zone: the window of
-- 10:10 is [09:30, 10:30), over once the watermark reaches 10:30
\set qo 'SELECT a.id, a.t AS a_time, b.t AS b_time FROM ticks a LEFT JOIN ticks b ON b.id = a.id AND b.t <> a.t AND stream.tumble(b.t, ''1 hour'', ''2026-01-01 00:30'') = stream.tumble(a.t, ''1 hour'', ''2026-01-01 00:30'')'
SELECT stream.start_query('jo', :'qo', 'jo_out', event_time => 't', watermark => '3 hours') > 0 AS started;
INSERT INTO ticks VALUES (1, '2026-01-01 10:10');
CALL stream.process_batch('jo');
-- the watermark becomes 10:29: the window goes on
INSERT INTO ticks VALUES (2, '2026-01-01 13:29');
CALL stream.process_batch('jo');
CALL stream.process_batch('jo');
SELECT * FROM jo_out ORDER BY a_time;
-- 10:31: it is over (with the epoch's grid it would end at 11:00)
INSERT INTO ticks VALUES (3, '2026-01-01 13:31');
CALL stream.process_batch('jo');
CALL stream.process_batch('jo');
SELECT * FROM jo_out ORDER BY a_time;
SELECT side, watermark, state_rows FROM stream.query_sides WHERE query = 'jo' ORDER BY side;
RESET TIME ZONE;

SELECT name FROM stream.queries ORDER BY name;
SELECT stream.drop_query(name) FROM stream.queries ORDER BY name;

RESET ROLE;
DROP TABLE impressions, clicks, views, ticks, dim CASCADE;
DROP TABLE j1_out, j2_out, j3_out, j4_out, j5_out, j6_out, j7_out, j8_out, j9_out,
    j10_out, j11_out, j12_out, j13_out, j14_out, j15_out, jw_out, jo_out;
REVOKE CREATE ON SCHEMA public FROM regress_join_dana;
DROP ROLE regress_join_dana;
