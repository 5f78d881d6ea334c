-- Retention belongs to the stream's owner: a role that may only read a
-- stream can start a query over it, but the owner bounds how long any
-- query holds the stream's rows back (max_hold) and can detach one from
-- retention; either way the query that missed rows is marked, never
-- silently.  A stream with no blocks has nothing to walk.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
CREATE ROLE regress_hold_owner LOGIN;
CREATE ROLE regress_hold_reader LOGIN;
GRANT CREATE ON SCHEMA public TO regress_hold_owner, regress_hold_reader;

SET ROLE regress_hold_owner;

-- a stream with no blocks: a pass reads nothing and removes nothing
CREATE TABLE h_empty (id int);
SELECT stream.create_stream('h_empty');
SELECT stream.set_retention('h_empty', '0 seconds');
SELECT stream.run_retention('h_empty') AS removed;
SELECT stream.run_retention('h_empty') AS removed_again;
SELECT stream, rows_removed, held_by_query, blocked_by FROM stream.stream_retention;
SELECT stream.drop_stream('h_empty');
DROP TABLE h_empty;

CREATE TABLE h_events (id int);
SELECT stream.create_stream('h_events');
GRANT SELECT ON h_events TO regress_hold_reader;
INSERT INTO h_events SELECT generate_series(1, 50);

-- the reader starts a query, reads the first rows and stops it
SET ROLE regress_hold_reader;
SELECT stream.start_query('h_reader_q', 'SELECT id FROM h_events', 'h_reader_out',
                          trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('h_reader_q');
SELECT stream.stop_query('h_reader_q');
SET ROLE regress_hold_owner;
INSERT INTO h_events SELECT generate_series(51, 80);

-- the stopped query of another role holds the rows it has not read, and
-- the stream's owner sees which query it is
SELECT stream.set_retention('h_events', '0 seconds');
SELECT stream.run_retention('h_events') AS removed;
SELECT count(*) AS left_in_stream FROM h_events;
SELECT held_by_query, max_hold FROM stream.stream_retention;

-- bad settings change nothing; only the stream's owner sets or detaches
SELECT stream.set_retention('h_events', '0 seconds', max_hold => '-1 hour');
SET ROLE regress_hold_reader;
SELECT stream.set_retention('h_events', '0 seconds', max_hold => '0 seconds');
SELECT stream.detach_query('h_events', 'h_reader_q');
SET ROLE regress_hold_owner;
SELECT stream.detach_query('h_events', 'no_such_query');
SELECT max_hold FROM stream.stream_retention;

-- a max_hold longer than the rows' age: the query still holds them
SELECT stream.set_retention('h_events', '0 seconds', max_hold => '1 day');
SELECT stream.run_retention('h_events') AS removed;
SELECT count(*) AS left_in_stream FROM h_events;
SELECT held_by_query, max_hold FROM stream.stream_retention;

-- past max_hold no query holds a row: removed, and the query is marked;
-- the pass remembers when it saw which transactions had ended
SELECT stream.set_retention('h_events', '0 seconds', max_hold => '1 second');
SELECT stream.run_retention('h_events') AS removed_at_once;
SELECT pg_sleep(1.2);
SELECT stream.run_retention('h_events') AS removed;
SELECT count(*) AS left_in_stream FROM h_events;
SELECT held_by_query FROM stream.stream_retention;
SET ROLE regress_hold_reader;
SELECT name, status, holds_retention, missed_rows_at IS NOT NULL AS missed
  FROM stream.queries;
-- resumed, it reads what is left and goes on; it never sees a row twice
SELECT stream.resume_query('h_reader_q');
CALL stream.process_all_available('h_reader_q');
SELECT count(*) AS rows, count(DISTINCT id) AS ids, max(id) FROM h_reader_out;
SELECT stream.stop_query('h_reader_q');

-- without max_hold the stopped query holds rows again, until the stream's
-- owner detaches it
SET ROLE regress_hold_owner;
SELECT stream.set_retention('h_events', '0 seconds');
INSERT INTO h_events SELECT generate_series(81, 100);
SELECT stream.run_retention('h_events') AS removed;
SELECT count(*) AS left_in_stream FROM h_events;
SELECT held_by_query FROM stream.stream_retention;
SELECT stream.detach_query('h_events', 'h_reader_q');
SELECT stream.run_retention('h_events') AS removed;
SELECT count(*) AS left_in_stream FROM h_events;
SELECT held_by_query FROM stream.stream_retention;

-- the reader's query is detached, not dropped: it runs on, and rows it
-- reads before a pass removes them still arrive once
SET ROLE regress_hold_reader;
SELECT stream.resume_query('h_reader_q');
SET ROLE regress_hold_owner;
INSERT INTO h_events SELECT generate_series(101, 110);
SET ROLE regress_hold_reader;
CALL stream.process_all_available('h_reader_q');
SELECT count(*) AS rows, count(DISTINCT id) AS ids, max(id) FROM h_reader_out;
SELECT name, status, missed_rows_at IS NOT NULL AS missed FROM stream.queries;
SELECT stream.drop_query('h_reader_q');
DROP TABLE h_reader_out;

-- a join reads two streams: their owner detaches it from either one, and
-- removal then goes past it on that stream only; the query is marked once
-- removal takes rows it had not read.  A join without watermarks holds
-- every row of both streams until then.
SET ROLE regress_hold_owner;
CREATE TABLE h_imps (ad int);
CREATE TABLE h_clicks (ad int);
CREATE INDEX ON h_imps (ad);
CREATE INDEX ON h_clicks (ad);
SELECT stream.create_stream('h_imps');
SELECT stream.create_stream('h_clicks');
GRANT SELECT ON h_imps, h_clicks TO regress_hold_reader;
INSERT INTO h_imps SELECT generate_series(1, 10);
INSERT INTO h_clicks SELECT generate_series(1, 10);
SET ROLE regress_hold_reader;
SELECT stream.start_query('h_join_q',
    'SELECT i.ad FROM h_imps i JOIN h_clicks c ON c.ad = i.ad', 'h_join_out',
    trigger => '1 hour') > 0 AS started;
CALL stream.process_all_available('h_join_q');
SELECT stream.stop_query('h_join_q');
SET ROLE regress_hold_owner;
INSERT INTO h_imps SELECT generate_series(11, 15);
INSERT INTO h_clicks SELECT generate_series(11, 15);
SELECT stream.set_retention('h_imps', '0 seconds');
SELECT stream.set_retention('h_clicks', '0 seconds');
SELECT stream.run_retention('h_imps') AS imps_removed,
       stream.run_retention('h_clicks') AS clicks_removed;
SELECT stream, held_by_query FROM stream.stream_retention
 WHERE stream IN ('h_imps'::regclass, 'h_clicks'::regclass) ORDER BY 1;
SET ROLE regress_hold_reader;
SELECT name, missed_rows_at IS NOT NULL AS missed FROM stream.queries
 WHERE name = 'h_join_q';
SET ROLE regress_hold_owner;
-- detached from its first stream, it still holds the second's rows
SELECT stream.detach_query('h_imps', 'h_join_q');
SELECT stream.run_retention('h_imps') AS imps_removed,
       stream.run_retention('h_clicks') AS clicks_removed;
SELECT (SELECT count(*) FROM h_imps) AS imps_left,
       (SELECT count(*) FROM h_clicks) AS clicks_left;
SELECT stream, held_by_query FROM stream.stream_retention
 WHERE stream IN ('h_imps'::regclass, 'h_clicks'::regclass) ORDER BY 1;
SET ROLE regress_hold_reader;
SELECT name, missed_rows_at IS NOT NULL AS missed FROM stream.queries
 WHERE name = 'h_join_q';
-- and it is found by its second stream too, and detached from it
SET ROLE regress_hold_owner;
SELECT stream.detach_query('h_clicks', 'h_join_q');
SELECT stream.run_retention('h_clicks') AS clicks_removed;
SELECT count(*) AS clicks_left FROM h_clicks;
SELECT stream, held_by_query FROM stream.stream_retention
 WHERE stream IN ('h_imps'::regclass, 'h_clicks'::regclass) ORDER BY 1;
-- a stream the join does not read has no such query; only the streams'
-- owner detaches
SELECT stream.detach_query('h_events', 'h_join_q');
SET ROLE regress_hold_reader;
SELECT stream.detach_query('h_clicks', 'h_join_q');
SELECT stream.drop_query('h_join_q');
DROP TABLE h_join_out;
SET ROLE regress_hold_owner;
SELECT stream.drop_stream('h_imps');
SELECT stream.drop_stream('h_clicks');
DROP TABLE h_imps, h_clicks;

-- a retention mark that came with a dump of another history (taken before
-- this database's history began) never makes rows look old: with it in
-- the catalog, a pass removes nothing younger than keep
SET ROLE regress_hold_owner;
CREATE TABLE h_marked (id int);
SELECT stream.create_stream('h_marked');
SELECT stream.start_query('h_marked_q', 'SELECT id FROM h_marked', 'h_marked_out',
                          trigger => '1 hour') > 0 AS started;
INSERT INTO h_marked SELECT generate_series(1, 10);
CALL stream.process_all_available('h_marked_q');
SELECT stream.set_retention('h_marked', keep => '1 day', max_hold => '2 days');
RESET ROLE;
INSERT INTO stream.retention_marks (relid, taken_at, snapshot)
SELECT 'h_marked'::regclass, (SELECT created_at FROM stream.local_history) - interval '3 days',
       pg_current_snapshot();
INSERT INTO stream.retention_marks (relid, taken_at, snapshot)
SELECT 'h_marked'::regclass, (SELECT created_at FROM stream.local_history) - interval '4 days',
       ((pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000) || ':'
        || (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1000000) || ':')::pg_snapshot;
SET ROLE regress_hold_owner;
SELECT stream.run_retention('h_marked') AS removed;
SELECT count(*) AS kept FROM h_marked;
SELECT stream.drop_stream('h_marked', cascade => true);
DROP TABLE h_marked, h_marked_out;

SELECT stream.drop_stream('h_events', cascade => true);
DROP TABLE h_events;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_hold_owner, regress_hold_reader;
DROP ROLE regress_hold_owner, regress_hold_reader;
