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

-- Shapes whose analysis passes are refused at the very end until their
-- batches run: the warnings before it, and the shape at DEBUG1 (each side's
-- eviction and the output watermark, surface.md 2.6 and 2.9), come from the
-- analysis.
SET client_min_messages = debug1;
-- an inner join that nothing bounds keeps both sides for ever
SELECT stream.start_query('j', 'SELECT i.ad_id, c.click_time FROM impressions i JOIN clicks c ON c.ad_id = i.ad_id', 'j_out');
-- a stream without an index led by its join key is read whole by each batch
SELECT stream.start_query('j', 'SELECT a.page FROM views a JOIN views b USING (page)', 'j_out');
SELECT stream.start_query('j', 'SELECT a.page, b.t FROM views a JOIN views b ON b.page = a.page AND b.t > a.t', 'j_out');
-- a key that is an expression: an index on that expression serves it
SELECT stream.start_query('j', 'SELECT a.page FROM views a JOIN views b ON lower(b.page) = lower(a.page)', 'j_out');
SET client_min_messages = warning;
CREATE INDEX ON views (lower(page));
SET client_min_messages = debug1;
SELECT stream.start_query('j', 'SELECT a.page FROM views a JOIN views b ON lower(b.page) = lower(a.page)', 'j_out');
-- a range that bounds one side only: b after a keeps the rows of a for ever
SELECT stream.start_query('j', 'SELECT a.ad_id, b.click_time AS t FROM clicks a JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time > a.click_time', 'j_out', event_time => 'click_time', watermark => '3 hours');
-- the left outer self-join of surface.md 3.7, bounded on both sides
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time > a.click_time AND b.click_time <= a.click_time + interval '10 minutes'$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
-- the old spelling of an inner join, its conditions in WHERE
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a, clicks b WHERE b.ad_id = a.ad_id AND b.click_time > a.click_time AND b.click_time <= a.click_time + interval '10 minutes'$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
-- a stream whose event time is a timestamp without time zone
SELECT stream.start_query('j', $$SELECT a.id, b.t FROM ticks a LEFT JOIN ticks b ON b.id = a.id AND b.t BETWEEN a.t - interval '1 minute' AND a.t + interval '1 minute'$$, 'j_out', event_time => 't', watermark => '1 hour');
-- a key watermark: equal event times, equal windows
SELECT stream.start_query('j', 'SELECT a.ad_id, b.click_time AS t FROM clicks a FULL JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time = a.click_time', 'j_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND stream.tumble(b.click_time, '1 hour') = stream.tumble(a.click_time, '1 hour')$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
-- the spelling of surface.md 1.1 as a self-join: BETWEEN, the lowest of two bounds
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a LEFT JOIN clicks b ON b.ad_id = a.ad_id AND b.click_time BETWEEN a.click_time AND a.click_time + interval '1 hour' AND b.click_time < a.click_time + interval '2 hours'$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j', $$SELECT a.ad_id, b.click_time AS t FROM clicks a RIGHT JOIN clicks b ON a.ad_id = b.ad_id AND a.click_time + interval '1 hour' >= b.click_time AND interval '1 day' + b.click_time > a.click_time$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
-- semi joins, EXISTS, and IN bounded by a range written with a folded interval
SELECT stream.start_query('j', $$SELECT a.ad_id, a.click_time AS t FROM clicks a WHERE a.country <> 'test' AND EXISTS (SELECT 1 FROM clicks b WHERE b.ad_id = a.ad_id AND b.click_time >= a.click_time AND b.click_time < a.click_time + interval '30 minutes')$$, 'j_out', event_time => 'click_time', watermark => '3 hours');
SELECT stream.start_query('j', $$SELECT a.ad_id, a.click_time AS t FROM clicks a WHERE a.ad_id IN (SELECT b.ad_id FROM clicks b WHERE b.click_time BETWEEN a.click_time - interval '5 minutes' * 2 AND a.click_time)$$, 'j_out', event_time => 'click_time', watermark => '3 hours');

SET client_min_messages = warning;
-- each refusal changed nothing
SELECT count(*) AS queries_after FROM stream.queries;
SELECT relname FROM pg_class WHERE relname = 'j_out';

RESET ROLE;
DROP TABLE impressions, clicks, views, ticks, dim CASCADE;
REVOKE CREATE ON SCHEMA public FROM regress_join_dana;
DROP ROLE regress_join_dana;
