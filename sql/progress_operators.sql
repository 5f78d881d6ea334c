-- stream.progress_operators: one row per committed batch and stateful
-- operator, written in the batch's transaction: a join between streams
-- writes one per side (the rows it keeps of that side in its state table,
-- the rows the batch added there and removed, the side's rows dropped as
-- late), an aggregation one, a deduplication one, a deduplication then
-- aggregation both, in that order.  Run as a role without privileges of
-- its own; another role sees none of it.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_ops_user;
GRANT CREATE ON SCHEMA public TO regress_ops_user;
SET ROLE regress_ops_user;

CREATE TABLE impressions (ad_id int, imp_time timestamptz);
CREATE TABLE clicks (ad_id int, click_time timestamptz);
SELECT stream.create_stream('impressions');
SELECT stream.create_stream('clicks');
CREATE INDEX ON impressions (ad_id);
CREATE INDEX ON clicks (ad_id);

-- a left outer join: impressions wait in its state for their clicks until
-- the watermark passes them, then get their NULL row
SELECT stream.start_query('j_left',
    $$SELECT i.ad_id, i.imp_time, c.click_time
        FROM impressions i LEFT JOIN clicks c
          ON c.ad_id = i.ad_id
         AND c.click_time BETWEEN i.imp_time AND i.imp_time + interval '1 hour'$$,
    'j_left_out', watermarks => '{"i.imp_time 2 hours", "c.click_time 3 hours"}') > 0 AS started;
-- a windowed count, and a deduplication, over the impressions
SELECT stream.start_query('hourly',
    $$SELECT stream.tumble(imp_time, '1 hour') AS hour, count(*) AS n
        FROM impressions GROUP BY 1$$, 'hourly_out', output_mode => 'append',
    event_time => 'imp_time', watermark => '2 hours') > 0 AS started;
SELECT stream.start_query('first_ads',
    $$SELECT ad_id, imp_time FROM impressions$$, 'first_ads_out',
    deduplicate => '{ad_id}', event_time => 'imp_time', watermark => '2 hours') > 0 AS started;
-- the two in one query: the windowed count of the deduplicated impressions
SELECT stream.start_query('first_hourly',
    $$SELECT stream.tumble(imp_time, '1 hour') AS hour, count(*) AS n
        FROM impressions GROUP BY 1$$, 'first_hourly_out', output_mode => 'append',
    event_time => 'imp_time', watermark => '2 hours', deduplicate => '{ad_id}') > 0 AS started;

CREATE PROCEDURE run_all() LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_all_available('j_left');
    CALL stream.process_all_available('hourly');
    CALL stream.process_all_available('first_ads');
    CALL stream.process_all_available('first_hourly');
END
$$;

-- step 1: one transaction writes both streams
BEGIN;
INSERT INTO impressions VALUES (1, '2026-01-01 10:00'), (2, '2026-01-01 10:05'), (3, '2026-01-01 10:10');
INSERT INTO clicks VALUES (2, '2026-01-01 10:20'), (4, '2026-01-01 10:30');
COMMIT;
CALL run_all();
-- step 2: a click for a waiting impression, a late impression and a late click
INSERT INTO impressions VALUES (4, '2026-01-01 10:25'), (5, '2026-01-01 11:00'),
    (1, '2026-01-01 10:40'), (6, '2026-01-01 07:30');
INSERT INTO clicks VALUES (1, '2026-01-01 10:50'), (3, '2026-01-01 11:15'), (7, '2026-01-01 07:20');
CALL run_all();
-- step 3: both watermarks move past every waiting impression
INSERT INTO impressions VALUES (9, '2026-01-01 16:00');
INSERT INTO clicks VALUES (9, '2026-01-01 16:10');
CALL run_all();

SELECT * FROM j_left_out ORDER BY 1, 2, 3 NULLS LAST;
SELECT * FROM hourly_out ORDER BY 1;
SELECT * FROM first_hourly_out ORDER BY 1;

SELECT query, batch_id, operator, side, state_rows, state_rows_updated,
       state_rows_removed, late_rows, ordinal
  FROM stream.progress_operators ORDER BY query, batch_id, ordinal;
-- a join's rows are its sides' rows in its state table
SELECT o.query, o.batch_id, o.side, o.state_rows = s.state_rows AS same_as_side
  FROM stream.progress_operators o
  JOIN stream.progress_sides s USING (query, batch_id, side)
 ORDER BY 1, 2, 3;
-- the chain's deduplication is the deduplicating query's, batch by batch
SELECT c.batch_id, c.state_rows, c.state_rows_updated, c.state_rows_removed, c.late_rows,
       (c.state_rows, c.state_rows_updated, c.state_rows_removed, c.late_rows)
       = (d.state_rows, d.state_rows_updated, d.state_rows_removed, d.late_rows) AS same_as_alone
  FROM stream.progress_operators c
  JOIN stream.progress_operators d USING (batch_id, operator)
 WHERE c.query = 'first_hourly' AND d.query = 'first_ads'
 ORDER BY 1;
-- stream.progress sums them over the operators
SELECT p.query, p.batch_id, p.state_rows, p.state_rows_updated, p.late_rows,
       sum(o.state_rows) AS operator_state_rows, sum(o.state_rows_updated) AS operator_updated,
       sum(o.late_rows) AS operator_late_rows
  FROM stream.progress p
  JOIN stream.progress_operators o USING (query, batch_id)
 GROUP BY 1, 2, 3, 4, 5
HAVING p.state_rows <> sum(o.state_rows) OR p.state_rows_updated <> sum(o.state_rows_updated)
    OR p.late_rows <> sum(o.late_rows);
-- a query over one stream without state writes none
SELECT stream.start_query('copy', 'SELECT ad_id FROM clicks', 'copy_out') > 0 AS started;
CALL stream.process_all_available('copy');
SELECT count(*) AS copy_batches FROM stream.progress WHERE query = 'copy';
SELECT count(*) AS copy_operators FROM stream.progress_operators WHERE query = 'copy';
RESET ROLE;
-- each figure is what the state tables hold
SELECT (SELECT count(*) FROM stream_state.first_hourly_dedup) AS dedup_keys,
       (SELECT state_rows FROM stream.progress_operators
         WHERE query = 'first_hourly' AND operator = 'deduplication'
         ORDER BY batch_id DESC LIMIT 1) AS reported;
SELECT (SELECT count(*) FROM stream_state.j_left WHERE kind <> 's') AS join_rows,
       (SELECT sum(state_rows) FROM stream.progress_operators
         WHERE query = 'j_left'
           AND batch_id = (SELECT max(batch_id) FROM stream.progress_operators
                            WHERE query = 'j_left')) AS reported;
-- a chain whose batches ran before the catalog kept these rows (one
-- updated from 0.6) counts its keys once
DELETE FROM stream.progress_operator_log
 WHERE query_id = (SELECT query_id FROM stream.query_defs WHERE name = 'first_hourly');
INSERT INTO impressions VALUES (11, '2026-01-01 16:30'), (9, '2026-01-01 16:40');
SET ROLE regress_ops_user;
CALL stream.process_all_available('first_hourly');
RESET ROLE;
SELECT (SELECT count(*) FROM stream_state.first_hourly_dedup) AS dedup_keys,
       operator, state_rows, state_rows_updated, state_rows_removed, late_rows
  FROM stream.progress_operators WHERE query = 'first_hourly' ORDER BY batch_id, ordinal;

-- the rows go with their batches' offsets, and with the query
SET pg_streaming.retained_batches = 1;
SET ROLE regress_ops_user;
INSERT INTO impressions VALUES (10, '2026-01-01 17:00');
CALL stream.process_all_available('first_ads');
SELECT query, count(DISTINCT batch_id) AS batches FROM stream.progress_operators
 GROUP BY query ORDER BY query;
RESET ROLE;
RESET pg_streaming.retained_batches;

-- another role sees none of it, and cannot read the log
CREATE ROLE regress_ops_other;
SET ROLE regress_ops_other;
SELECT count(*) AS operators_seen FROM stream.progress_operators;
SELECT count(*) FROM stream.progress_operator_log;
RESET ROLE;
DROP ROLE regress_ops_other;

SET ROLE regress_ops_user;
SELECT stream.drop_query('j_left');
SELECT stream.drop_query('hourly');
SELECT stream.drop_query('first_ads');
SELECT stream.drop_query('first_hourly');
SELECT stream.drop_query('copy');
RESET ROLE;
SELECT count(*) AS operator_rows_left FROM stream.progress_operator_log;
SET ROLE regress_ops_user;
SELECT stream.drop_stream('impressions');
SELECT stream.drop_stream('clicks');
DROP TABLE impressions, clicks, j_left_out, hourly_out, first_ads_out, first_hourly_out, copy_out;
DROP PROCEDURE run_all();
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_ops_user;
DROP ROLE regress_ops_user;
