-- An aggregation over a join counts each group its batch changed once:
-- a batch whose rows reach one group through both of the join's
-- statements (side 1's new rows with side 2's, and side 2's new rows with
-- side 1's earlier rows) changed one group, not two (stream.progress and
-- stream.progress_operators, state_rows_updated: "groups the batch changed
-- or added"), and a group late in both statements is one late group
-- (late_rows).  Run as an unprivileged role.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_chain_counts LOGIN;
GRANT CREATE ON SCHEMA public TO regress_chain_counts;
SET ROLE regress_chain_counts;

CREATE TABLE cc_a (k int, t timestamptz);
CREATE TABLE cc_b (k int, t timestamptz);
CREATE INDEX ON cc_a (k, t);
CREATE INDEX ON cc_b (k, t);
SELECT stream.create_stream('cc_a');
SELECT stream.create_stream('cc_b');
SELECT stream.start_query('cc_hourly',
    $$SELECT stream.tumble(a.t, '1 hour') AS hour, count(*) AS pairs
        FROM cc_a a JOIN cc_b b
          ON b.k = a.k AND b.t BETWEEN a.t AND a.t + interval '1 hour'
       GROUP BY 1$$,
    'cc_hourly', watermarks => '{"a.t 1 hour", "b.t 1 hour"}') > 0 AS started;

-- batch 1: a row of side 1 waits
INSERT INTO cc_a VALUES (1, '2026-01-01 10:00');
CALL stream.process_all_available('cc_hourly');
-- batch 2: a new row of each side; the pairs (10:05, 10:10) and
-- (10:00, 10:10) fall in the hour of 10:00, and the pair (11:30, 11:40)
-- in the hour of 11:00: two groups changed, one of them new
INSERT INTO cc_a VALUES (1, '2026-01-01 10:05'), (2, '2026-01-01 11:30');
INSERT INTO cc_b VALUES (1, '2026-01-01 10:10'), (2, '2026-01-01 11:40');
CALL stream.process_all_available('cc_hourly');
SELECT batch_id, ordinal, operator, side, state_rows, state_rows_updated
  FROM stream.progress_operators WHERE query = 'cc_hourly' AND batch_id <= 2
 ORDER BY batch_id, ordinal;
-- the groups the state's rows say the batch changed, as the superuser
RESET ROLE;
SELECT count(*) AS changed_groups
  FROM stream_state.cc_hourly WHERE _last_batch = 2;
SET ROLE regress_chain_counts;
-- the batch's total: the join's rows added plus the groups changed
SELECT p.state_rows_updated =
       (SELECT sum(o.state_rows_updated) FROM stream.progress_operators o
         WHERE o.query = 'cc_hourly' AND o.batch_id = 2) AS sums_agree
  FROM stream.progress p WHERE p.query = 'cc_hourly' AND p.batch_id = 2;
-- the state keeps the two groups
RESET ROLE;
SELECT count(*) AS groups FROM stream_state.cc_hourly;
SET ROLE regress_chain_counts;

SELECT stream.drop_query('cc_hourly');

-- a group late in both of a batch's statements is one late group: a
-- self-join grouped by the hour of its side without a watermark, whose new
-- rows the join does not drop, reaches the old hour of 10:00 through side
-- 1's new row paired with side 2's old rows and through side 2's new row
-- of 10:30 paired with side 1's old rows; the old hour of 12:00 only
-- through the first: two late groups, not three
CREATE TABLE cc_s (k int, t timestamptz);
CREATE INDEX ON cc_s (k);
SELECT stream.create_stream('cc_s');
SELECT stream.start_query('cc_self',
    $$SELECT stream.tumble(b.t, '1 hour') AS hour, count(*) AS pairs
        FROM cc_s a JOIN cc_s b ON b.k = a.k
       GROUP BY 1$$,
    'cc_self', watermarks => '{"a.t 1 hour"}') > 0 AS started;
INSERT INTO cc_s VALUES (1, '2026-01-01 10:00'), (1, '2026-01-01 12:00');
CALL stream.process_all_available('cc_self');
INSERT INTO cc_s VALUES (9, '2026-01-01 20:00');
CALL stream.process_all_available('cc_self');
SELECT max(batch_id) AS before_late FROM stream.progress WHERE query = 'cc_self' \gset
-- 20:30 is new on both sides; 10:30 is late on side 1 and new on side 2
INSERT INTO cc_s VALUES (1, '2026-01-01 20:30'), (1, '2026-01-01 10:30');
CALL stream.process_all_available('cc_self');
-- side 1 dropped one row, the aggregation two groups (10:00 and 12:00)
SELECT batch_id - :before_late AS batch, ordinal, operator, side, late_rows
  FROM stream.progress_operators
 WHERE query = 'cc_self' AND batch_id > :before_late AND late_rows > 0
 ORDER BY batch_id, ordinal;
SELECT batch_id - :before_late AS batch, late_rows
  FROM stream.progress
 WHERE query = 'cc_self' AND batch_id > :before_late AND late_rows > 0;
-- the hours of 10:00 and 12:00 were written once, closed with their
-- first batch's pairs only
SELECT hour, pairs FROM cc_self ORDER BY hour;
SELECT stream.drop_query('cc_self');

RESET ROLE;
DROP TABLE cc_a, cc_b, cc_s;
DROP OWNED BY regress_chain_counts;
DROP ROLE regress_chain_counts;
