-- Streaming queries: batches, exactly-once results, caps, ownership.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE clicks (id int, user_id int, url text, ms int);
SELECT stream.create_stream('clicks');
CREATE TABLE users (user_id int PRIMARY KEY, name text);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob');
INSERT INTO clicks SELECT g, g % 3, '/p/' || g, g * 10 FROM generate_series(1, 10) g;

-- a projection, a filter and a join with an ordinary table
SELECT stream.start_query(
    name => 'enriched',
    query => $$SELECT c.id, u.name, c.url, c.ms / 1000.0 AS seconds
               FROM clicks c LEFT JOIN users u USING (user_id)
               WHERE c.ms >= 20$$,
    target => 'enriched_clicks') > 0 AS started;
\d enriched_clicks
SELECT name, status, output_mode, trigger, stream, target, last_batch_id FROM stream.queries;

CALL stream.process_all_available('enriched');
SELECT count(*) FROM enriched_clicks;
-- nothing new: no batch
CALL stream.process_all_available('enriched');
CALL stream.process_batch('enriched');

-- three writers' transactions, then one batch takes them all
INSERT INTO clicks VALUES (11, 1, '/a', 500);
INSERT INTO clicks VALUES (12, 2, '/b', 600), (13, 5, '/c', 700);
INSERT INTO clicks VALUES (14, 1, '/d', 5);
CALL stream.process_batch('enriched');
SELECT batch_id, input_rows, output_rows, replayed FROM stream.progress
 WHERE query = 'enriched' ORDER BY batch_id;

-- the target equals the query run once over all rows
SELECT count(*) AS missing_or_extra FROM (
    (SELECT c.id, u.name, c.url, c.ms / 1000.0 AS seconds
       FROM clicks c LEFT JOIN users u USING (user_id) WHERE c.ms >= 20
     EXCEPT ALL SELECT * FROM enriched_clicks)
    UNION ALL
    (SELECT * FROM enriched_clicks
     EXCEPT ALL SELECT c.id, u.name, c.url, c.ms / 1000.0 AS seconds
       FROM clicks c LEFT JOIN users u USING (user_id) WHERE c.ms >= 20)) d;

-- offsets: each batch starts where the previous one ended
SELECT o.batch_id, o.start_snapshot IS NULL AS from_start,
       o.start_snapshot::text = lag(o.end_snapshot::text) OVER (ORDER BY o.batch_id) AS contiguous,
       k.batch_id IS NOT NULL AS committed
  FROM stream.checkpoint_offsets o
  LEFT JOIN stream.checkpoint_commits k USING (query_id, batch_id)
 ORDER BY o.batch_id;
-- the snapshots the extension builds are valid values of the type: their
-- text form reads back the same, and xmin <= every running xid < xmax
SELECT bool_and(end_snapshot::text::pg_snapshot::text = end_snapshot::text) AS round_trip,
       bool_and(pg_snapshot_xmin(end_snapshot) <= pg_snapshot_xmax(end_snapshot)) AS ordered,
       bool_and(NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(end_snapshot) x
                             WHERE x < pg_snapshot_xmin(end_snapshot)
                                OR x >= pg_snapshot_xmax(end_snapshot))) AS running_within
  FROM stream.checkpoint_offsets;

-- a batch in the caller's transaction: rows of that transaction wait for
-- its commit, and arrive once after it
BEGIN;
INSERT INTO clicks VALUES (15, 1, '/own', 900);
CALL stream.process_all_available('enriched');
SELECT count(*) FROM enriched_clicks WHERE id = 15;
COMMIT;
CALL stream.process_all_available('enriched');
SELECT count(*) FROM enriched_clicks WHERE id = 15;
-- not under a transaction snapshot
BEGIN ISOLATION LEVEL REPEATABLE READ;
CALL stream.process_batch('enriched');
ROLLBACK;
-- outside a transaction block a higher default level is no obstacle: the
-- batch plans and runs in READ COMMITTED transactions of its own
SET default_transaction_isolation = 'repeatable read';
INSERT INTO clicks VALUES (16, 2, '/rr', 900);
CALL stream.process_all_available('enriched');
SELECT count(*) FROM enriched_clicks WHERE id = 16;
SHOW transaction_isolation;
RESET default_transaction_isolation;

-- starting_from: 'latest' takes only the rows committed after the start
CREATE TABLE late_src (id int);
SELECT stream.create_stream('late_src');
INSERT INTO late_src SELECT g FROM generate_series(1, 5) g;
SELECT stream.start_query('from_latest', 'SELECT id FROM late_src', 'from_latest_out',
                          starting_from => 'latest') > 0 AS started;
SELECT stream.start_query('from_earliest', 'SELECT id FROM late_src', 'from_earliest_out',
                          starting_from => 'earliest') > 0 AS started;
SELECT name, last_batch_id, pending_rows FROM stream.queries
 WHERE name LIKE 'from_%' ORDER BY name;
INSERT INTO late_src SELECT g FROM generate_series(6, 8) g;
CALL stream.process_all_available('from_latest');
CALL stream.process_all_available('from_earliest');
SELECT array_agg(id ORDER BY id) AS latest FROM from_latest_out;
SELECT array_agg(id ORDER BY id) AS earliest FROM from_earliest_out;
SELECT query, batch_id, input_rows FROM stream.progress
 WHERE query LIKE 'from_%' ORDER BY query, batch_id;
SELECT stream.start_query('bad_start', 'SELECT id FROM late_src', 'bad_start_out',
                          starting_from => 'middle');
SELECT stream.start_query('bad_start', 'SELECT id FROM late_src', 'bad_start_out',
                          starting_from => NULL);
SELECT count(*) FROM pg_class WHERE relname = 'bad_start_out';
SELECT stream.drop_query('from_latest'), stream.drop_query('from_earliest');
DROP TABLE late_src, from_latest_out, from_earliest_out;

-- max_rows_per_batch caps batches without splitting a transaction
CREATE TABLE events (id int, kind text);
SELECT stream.create_stream('events');
SELECT stream.start_query('capped', 'SELECT id, kind FROM events', 'capped_out',
                          max_rows_per_batch => 5) > 0 AS started;
INSERT INTO events SELECT g, 'a' FROM generate_series(1, 4) g;
INSERT INTO events SELECT g, 'b' FROM generate_series(5, 8) g;
INSERT INTO events SELECT g, 'c' FROM generate_series(9, 20) g;
INSERT INTO events SELECT g, 'd' FROM generate_series(21, 22) g;
CALL stream.process_all_available('capped');
SELECT batch_id, input_rows FROM stream.progress WHERE query = 'capped' ORDER BY batch_id;
SELECT kind, count(*), count(DISTINCT id) FROM capped_out GROUP BY kind ORDER BY kind;
-- stream.queries: the rows the kept batches read and wrote; without Citus
-- no shards, no shard batches, no rows in stream.query_shards
SELECT input_rows, output_rows, shards FROM stream.queries WHERE name = 'capped';
SELECT count(*) AS shard_batches FROM stream.progress WHERE shard IS NOT NULL;
SELECT count(*) AS query_shards FROM stream.query_shards;

-- SELECT * does not carry the stream's own column into the target
SELECT stream.start_query('star', 'SELECT * FROM events WHERE kind = ''a''', 'star_out') > 0 AS started;
CALL stream.process_all_available('star');
\d star_out
SELECT * FROM star_out ORDER BY id;

-- an existing target: columns by name, assignment casts, defaults for the rest
CREATE TABLE typed_out (kind varchar(10), id bigint, seen timestamptz DEFAULT now(), note text DEFAULT 'x');
SELECT stream.start_query('typed', 'SELECT id, kind FROM events WHERE id <= 2', 'typed_out') > 0 AS started;
CALL stream.process_all_available('typed');
SELECT id, kind, seen IS NOT NULL AS seen, note FROM typed_out ORDER BY id;

-- subqueries and CTEs in FROM; the stream may change shape
SELECT stream.start_query('nested',
    $$WITH recent AS (SELECT id, kind FROM events WHERE id > 18)
      SELECT s.id * 10 AS id10, s.kind FROM (SELECT * FROM recent) s$$,
    'nested_out') > 0 AS started;
ALTER TABLE events ADD COLUMN extra int DEFAULT 7;
INSERT INTO events (id, kind) VALUES (30, 'e');
CALL stream.process_all_available('nested');
CALL stream.process_all_available('star');
SELECT * FROM nested_out ORDER BY id10;
SELECT count(*) FROM star_out;

-- ownership: a role's query runs with that role's rights
CREATE ROLE regress_stream_alice;
CREATE ROLE regress_stream_bob;
GRANT SELECT ON events TO regress_stream_alice;
GRANT CREATE ON SCHEMA public TO regress_stream_alice;
SET ROLE regress_stream_alice;
SELECT stream.start_query('alice_q', 'SELECT id, kind FROM events', 'alice_out') > 0 AS started;
CALL stream.process_all_available('alice_q');
SELECT count(*) FROM alice_out;
SELECT name, owner FROM stream.queries ORDER BY name;
SET ROLE regress_stream_bob;
SELECT name FROM stream.queries ORDER BY name;
SELECT count(*) FROM stream.progress;
CALL stream.process_all_available('alice_q');
SELECT stream.drop_query('alice_q');
SELECT stream.start_query('bob_q', 'SELECT id, kind FROM events', 'bob_out');
RESET ROLE;
-- a revoked privilege fails the next batch, which then writes nothing
REVOKE SELECT ON events FROM regress_stream_alice;
INSERT INTO events (id, kind) VALUES (31, 'f');
CALL stream.process_all_available('alice_q');
SELECT count(*) FROM alice_out;
SELECT count(*) AS pending FROM stream.checkpoint_offsets o
 JOIN stream.query_defs q USING (query_id)
 WHERE q.name = 'alice_q'
   AND NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits k
                    WHERE k.query_id = o.query_id AND k.batch_id = o.batch_id);
GRANT SELECT ON events TO regress_stream_alice;
CALL stream.process_all_available('alice_q');
SELECT count(*) FROM alice_out;

-- drop_query removes the query and its checkpoint, not the target
SELECT stream.drop_query('alice_q');
SELECT count(*) FROM stream.checkpoint_offsets o JOIN stream.query_defs q USING (query_id)
 WHERE q.name = 'alice_q';
SELECT count(*) FROM alice_out;
SELECT stream.drop_query('alice_q');
SELECT stream.drop_query('alice_q', if_exists => true);
CALL stream.process_batch('alice_q');

-- a rewrite of the stream moves its rows: the next batch reads the whole
-- table once, and still takes only rows no batch has taken
CREATE TABLE moved (id int, pad text);
SELECT stream.create_stream('moved');
SELECT stream.start_query('moved_q', 'SELECT id FROM moved', 'moved_out') > 0 AS started;
INSERT INTO moved SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;
CALL stream.process_all_available('moved_q');
SELECT pg_relation_size('moved') > 0 AS has_blocks;
VACUUM FULL moved;
INSERT INTO moved SELECT g, repeat('x', 200) FROM generate_series(2001, 2100) g;
CALL stream.process_all_available('moved_q');
SELECT batch_id, input_rows, scan_from_block FROM stream.progress p
  JOIN stream.checkpoint_offsets o USING (batch_id)
  JOIN stream.query_defs q ON q.query_id = o.query_id AND q.name = p.query
 WHERE p.query = 'moved_q' ORDER BY batch_id;
SELECT count(*), count(DISTINCT id) FROM moved_out;
-- and a batch after it reads only the new blocks again
INSERT INTO moved SELECT g, repeat('x', 200) FROM generate_series(2101, 2110) g;
CALL stream.process_all_available('moved_q');
SELECT input_rows, scan_from_block > 0 AS from_the_end FROM stream.progress p
  JOIN stream.checkpoint_offsets o USING (batch_id)
  JOIN stream.query_defs q ON q.query_id = o.query_id AND q.name = p.query
 WHERE p.query = 'moved_q' ORDER BY batch_id DESC LIMIT 1;
-- VACUUM does not shrink a stream, whatever it is asked
DELETE FROM moved WHERE false;
VACUUM (TRUNCATE true) moved;
SELECT stream.drop_query('moved_q');

-- management without the background worker: start and resume say that
-- nothing will run the query on its own; stop, resume and await work
SET client_min_messages = notice;
SELECT stream.start_query('managed', 'SELECT id FROM events', 'managed_out') > 0 AS started;
SELECT stream.stop_query('managed');
SELECT stream.stop_query('managed');
SELECT name, status FROM stream.queries WHERE name = 'managed';
SELECT stream.await_termination('managed');
SELECT stream.resume_query('managed');
SELECT stream.resume_query('managed');
SELECT stream.await_termination('managed', timeout => '10 ms');
SELECT stream.await_termination('managed', timeout => '-1 s');
SELECT stream.await_termination('managed', timeout => '300000000 days');
SELECT stream.stop_query('no such query');
SELECT pending_rows FROM stream.queries WHERE name = 'managed';
CALL stream.process_all_available('managed');
SELECT pending_rows FROM stream.queries WHERE name = 'managed';
SELECT stream.drop_query('managed');
SET client_min_messages = warning;

-- only the latest batches' offsets and progress are kept
SET pg_streaming.retained_batches = 2;
INSERT INTO events (id, kind) VALUES (40, 'r');
CALL stream.process_all_available('capped');
INSERT INTO events (id, kind) VALUES (41, 'r');
CALL stream.process_all_available('capped');
SELECT batch_id, input_rows FROM stream.progress WHERE query = 'capped' ORDER BY batch_id;
SELECT count(*) FROM stream.checkpoint_offsets o JOIN stream.query_defs q USING (query_id)
 WHERE q.name = 'capped';
-- at least the latest retained_batches are kept: older ones go every few
-- batches (every second one at 8), their progress rows with them
SET pg_streaming.retained_batches = 8;
CREATE TEMP TABLE capped_kept (batches_run int, latest bigint, oldest bigint,
                               offsets bigint, progress bigint);
SELECT format('INSERT INTO events (id, kind) VALUES (%s, ''r'')', 1000 + i),
       'CALL stream.process_all_available(''capped'')',
       format('INSERT INTO capped_kept SELECT %s, max(o.batch_id), min(o.batch_id), count(*),'
              ' (SELECT count(*) FROM stream.progress_log l WHERE l.query_id = q.query_id)'
              ' FROM stream.checkpoint_offsets o JOIN stream.query_defs q USING (query_id)'
              ' WHERE q.name = ''capped'' GROUP BY q.query_id', i)
  FROM generate_series(1, 14) AS i \gexec
SELECT latest, oldest, offsets, progress FROM capped_kept ORDER BY batches_run;
SELECT bool_and(offsets >= least(8, latest - 4)) AS at_least_retained,
       bool_and(offsets <= 9) AS at_most_one_more,
       bool_and(progress = offsets) AS progress_with_offsets
  FROM capped_kept;
-- a lowered setting takes effect at the next batch
SET pg_streaming.retained_batches = 3;
INSERT INTO events (id, kind) VALUES (1100, 'r');
CALL stream.process_all_available('capped');
SELECT batch_id FROM stream.progress WHERE query = 'capped' ORDER BY batch_id;
DROP TABLE capped_kept;
RESET pg_streaming.retained_batches;

-- tables in use by queries cannot be dropped or unmade
DROP TABLE events;
DROP TABLE capped_out;
SELECT stream.drop_stream('events');

SELECT stream.drop_query(name) FROM stream.queries ORDER BY name;
SELECT count(*) FROM stream.checkpoint_offsets;
SELECT count(*) FROM stream.progress_log;
DROP TABLE clicks, users, enriched_clicks, events, capped_out, star_out, typed_out,
    nested_out, alice_out, managed_out, moved, moved_out;
REVOKE CREATE ON SCHEMA public FROM regress_stream_alice;
DROP ROLE regress_stream_alice, regress_stream_bob;
