-- Retention: rows every query has processed and older than "keep" are
-- removed, never a row a query has yet to read; a stopped query holds
-- removal back and says so, unless the stream lets removal go past it,
-- which marks the query as having missed rows.  Bad settings change
-- nothing.  (Recycling the space needs shared memory: see the TAP tests.)
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_ret_owner LOGIN;
CREATE ROLE regress_ret_other LOGIN;
GRANT CREATE ON SCHEMA public TO regress_ret_owner, regress_ret_other;

SET ROLE regress_ret_owner;
CREATE TABLE r_events (id int PRIMARY KEY, kind text);
CREATE INDEX ON r_events (kind);
SELECT stream.create_stream('r_events');
CREATE TABLE r_plain (id int);

-- refusals, each leaving nothing behind
SELECT stream.set_retention('r_plain', '1 day');
SELECT stream.set_retention('r_events', '-1 day');
SELECT stream.set_retention(NULL, '1 day');
SELECT stream.run_retention('r_plain');
SET ROLE regress_ret_other;
SELECT stream.set_retention('r_events', '1 day');
SELECT stream.run_retention('r_events');
SET ROLE regress_ret_owner;
SELECT count(*) AS settings FROM stream.stream_retention;

-- without retention, a pass removes nothing
INSERT INTO r_events SELECT g, 'a' FROM generate_series(1, 100) g;
SELECT stream.run_retention('r_events') AS removed;

-- two queries; rows are kept for an hour: nothing is old enough yet
SELECT stream.start_query('r_fast', 'SELECT id FROM r_events', 'r_fast_out',
                          trigger => '1 hour') > 0 AS started;
SELECT stream.start_query('r_slow', 'SELECT id, kind FROM r_events', 'r_slow_out',
                          trigger => '1 hour') > 0 AS started;
SELECT stream.set_retention('r_events', '1 hour');
CALL stream.process_all_available('r_fast');
CALL stream.process_all_available('r_slow');
SELECT stream.run_retention('r_events') AS removed;
SELECT stream, keep, past_inactive_queries, rows_removed, held_by_query
  FROM stream.stream_retention;

-- keep nothing past the queries: processed rows go, the rest stays
SELECT stream.set_retention('r_events', '0 seconds');
SELECT stream.run_retention('r_events') AS removed;
SELECT count(*) AS left_in_stream FROM r_events;

-- a stopped query holds removal back, and the view says which
SELECT stream.stop_query('r_slow');
INSERT INTO r_events SELECT g, 'b' FROM generate_series(101, 150) g;
CALL stream.process_all_available('r_fast');
SELECT stream.run_retention('r_events') AS removed;
SELECT count(*) AS left_in_stream FROM r_events;
SELECT name, status, holds_retention, missed_rows_at IS NOT NULL AS missed
  FROM stream.queries ORDER BY name;
SELECT held_by_query FROM stream.stream_retention;

-- resumed, it reads every row it had not read, and the rows go
SELECT stream.resume_query('r_slow');
CALL stream.process_all_available('r_slow');
SELECT stream.run_retention('r_events') AS removed;
SELECT count(*) AS left_in_stream FROM r_events;
SELECT count(*) AS rows, count(DISTINCT id) AS ids, min(id), max(id) FROM r_slow_out;

-- a writer's uncommitted rows are never removed: they arrive afterwards
BEGIN;
INSERT INTO r_events SELECT g, 'c' FROM generate_series(151, 160) g;
SELECT stream.run_retention('r_events') AS removed_in_writer;
COMMIT;
SELECT stream.run_retention('r_events') AS removed;
CALL stream.process_all_available('r_fast');
CALL stream.process_all_available('r_slow');
SELECT (SELECT count(*) FROM r_fast_out) AS fast_rows,
       (SELECT count(DISTINCT id) FROM r_fast_out) AS fast_ids,
       (SELECT count(*) FROM r_slow_out) AS slow_rows;

-- with past_inactive_queries, a stopped query no longer holds removal back;
-- it is marked as having missed the rows removed before it read them
SELECT stream.set_retention('r_events', '0 seconds', past_inactive_queries => true);
SELECT stream.stop_query('r_slow');
INSERT INTO r_events SELECT g, 'd' FROM generate_series(161, 170) g;
CALL stream.process_all_available('r_fast');
SELECT stream.run_retention('r_events') AS removed;
SELECT name, holds_retention, missed_rows_at IS NOT NULL AS missed
  FROM stream.queries ORDER BY name;
SELECT stream.resume_query('r_slow');
CALL stream.process_all_available('r_slow');
SELECT count(*) AS slow_rows, max(id) AS slow_max FROM r_slow_out;

-- the primary key and the index still answer after removal and VACUUM
RESET ROLE;
VACUUM r_events;
SET ROLE regress_ret_owner;
INSERT INTO r_events VALUES (1, 'again');
SET enable_seqscan = off;
SELECT id, kind FROM r_events WHERE kind = 'again';
RESET enable_seqscan;

-- another role sees neither the setting nor the stream's retention
SET ROLE regress_ret_other;
SELECT count(*) AS visible FROM stream.stream_retention;
SET ROLE regress_ret_owner;

-- keep => NULL ends retention
SELECT stream.set_retention('r_events', NULL);
SELECT count(*) AS settings FROM stream.stream_retention;

SELECT stream.drop_stream('r_events', cascade => true);
DROP TABLE r_events, r_plain, r_fast_out, r_slow_out;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_ret_owner, regress_ret_other;
DROP ROLE regress_ret_owner, regress_ret_other;
