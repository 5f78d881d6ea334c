-- A join between two streams run by unprivileged roles, tried the way a
-- careless owner and a hostile stranger would: the owner's rights on both
-- sides, row level security on a side, the owner's code in the condition
-- (its settings never reach the caller's session), stream._join_mark()
-- called from code other than the join's own, and DDL on the sides of a
-- live join.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
SET timezone = 'UTC';
SET datestyle = 'ISO';
CREATE ROLE regress_js_owner LOGIN;
CREATE ROLE regress_js_stranger LOGIN;
GRANT CREATE ON SCHEMA public TO regress_js_owner, regress_js_stranger;

-- the stranger's stream: one the owner may not read, and one it may read,
-- behind a policy
SET ROLE regress_js_stranger;
CREATE TABLE js_hidden (k int, t timestamptz);
SELECT stream.create_stream('js_hidden');
CREATE TABLE js_theirs (k int, t timestamptz);
CREATE INDEX ON js_theirs (k);
SELECT stream.create_stream('js_theirs');
GRANT SELECT ON js_theirs TO regress_js_owner;
ALTER TABLE js_theirs ENABLE ROW LEVEL SECURITY;
CREATE POLICY js_small ON js_theirs USING (k < 100);
CREATE TABLE js_cols (k int, t timestamptz, secret text);
SELECT stream.create_stream('js_cols');
GRANT SELECT (k, t) ON js_cols TO regress_js_owner;
RESET ROLE;

SET ROLE regress_js_owner;
CREATE TABLE js_a (k int, t timestamptz, note text);
CREATE TABLE js_b (k int PRIMARY KEY, "b time" timestamptz, note text, spare int);
CREATE INDEX ON js_a (k);
SELECT stream.create_stream('js_a');
SELECT stream.create_stream('js_b');

-- refused at start: the owner may not read the second stream; nothing stays,
-- and no warning of the analysis tells about the table it may not read
SELECT stream.start_query('js_refused',
    $$SELECT a.k, h.t FROM js_a a JOIN js_hidden h ON h.k = a.k$$, 'js_refused_out');
SELECT count(*) AS refused_queries FROM stream.queries WHERE name = 'js_refused';
SELECT to_regclass('js_refused_out') AS refused_target;
-- ... nor when it may read only the columns the query names: a batch reads
-- every column of a side and the rows' tids, as a query over one stream does
SELECT stream.start_query('js_refused',
    $$SELECT a.k, c.t FROM js_a a JOIN js_cols c ON c.k = a.k$$, 'js_refused_out');
SELECT stream.start_query('js_refused', $$SELECT c.k, c.t FROM js_cols c$$, 'js_refused_out');
SELECT count(*) AS refused_queries FROM stream.queries WHERE name = 'js_refused';

-- the owner's code in the condition: it changes settings and search_path,
-- and fails on key 99
CREATE FUNCTION js_meddle(k int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM set_config('search_path', 'pg_temp', false);
    PERFORM set_config('work_mem', '77kB', false);
    PERFORM set_config('jit', 'off', false);
    PERFORM set_config('enable_nestloop', 'off', false);
    IF k = 99 THEN
        RAISE EXCEPTION 'js_meddle refuses key %', k;
    END IF;
    RETURN true;
END $$;
-- ... and marks rows as matched, as the join's own term does
CREATE FUNCTION js_mark(k int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    FOR i IN 1..50 LOOP
        PERFORM stream._join_mark(('(0,' || i || ')')::tid, ('(0,' || i || ')')::tid);
    END LOOP;
    RETURN true;
END $$;
SELECT stream.start_query('js_left',
    $$SELECT a.k, a.t, b."b time" AS bt, a.note
        FROM js_a a LEFT JOIN js_b b
          ON b.k = a.k AND b."b time" BETWEEN a.t AND a.t + interval '1 hour'
         AND js_meddle(b.k) AND js_mark(b.k)$$,
    'js_left_out', watermarks => ARRAY['a.t 1 hour', 'b."b time" 1 hour']) > 0 AS started;

INSERT INTO js_a VALUES (1, '2026-01-01 10:00', 'matches'), (2, '2026-01-01 10:00', 'alone');
INSERT INTO js_b VALUES (1, '2026-01-01 10:10', 'b1');
SET jit = on;
SET enable_hashjoin = on;
SET enable_mergejoin = on;
SET enable_nestloop = on;
SET work_mem = '4MB';
CALL stream.process_batch('js_left');
SELECT current_setting('jit') AS jit, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin,
       current_setting('enable_nestloop') AS nestloop,
       current_setting('work_mem') AS work_mem, current_setting('search_path') AS search_path;
-- a call of its own marks nothing, in a batch or outside one
SELECT stream._join_mark('(0,2)', '(0,1)') AS direct_mark;
-- the watermark passes key 2's row: its NULL row, whatever js_mark marked
INSERT INTO js_a VALUES (3, '2026-01-01 13:00', 'later');
INSERT INTO js_b VALUES (4, '2026-01-01 13:00', 'b4');
CALL stream.process_all_available('js_left');
SELECT * FROM js_left_out ORDER BY k;

-- the batch that fails inside the owner's code leaves nothing either:
-- not a setting, not a row, not a batch
INSERT INTO js_a VALUES (99, '2026-01-01 13:30', 'refused');
INSERT INTO js_b VALUES (99, '2026-01-01 13:40', 'b99');
SELECT last_batch_id AS batch_before FROM stream.queries WHERE name = 'js_left';
CALL stream.process_batch('js_left');
SELECT current_setting('jit') AS jit, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin,
       current_setting('enable_nestloop') AS nestloop,
       current_setting('work_mem') AS work_mem, current_setting('search_path') AS search_path;
BEGIN;
SAVEPOINT before_batch;
CALL stream.process_batch('js_left');
ROLLBACK TO before_batch;
SELECT current_setting('jit') AS jit, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin,
       current_setting('enable_nestloop') AS nestloop,
       current_setting('work_mem') AS work_mem, current_setting('search_path') AS search_path;
COMMIT;
SELECT last_batch_id AS batch_after FROM stream.queries WHERE name = 'js_left';
SELECT count(*) AS rows_of_99 FROM js_left_out WHERE k = 99;
SELECT stream.drop_query('js_left');
RESET jit;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET work_mem;

-- a stranger may neither run the owner's join nor read its state
SELECT stream.start_query('js_mine',
    $$SELECT a.k, a.t, b."b time" AS bt
        FROM js_a a LEFT JOIN js_b b
          ON b.k = a.k AND b."b time" BETWEEN a.t AND a.t + interval '1 hour'$$,
    'js_mine_out', watermarks => ARRAY['a.t 1 hour', 'b."b time" 1 hour']) > 0 AS started;
RESET ROLE;
SET ROLE regress_js_stranger;
CALL stream.process_batch('js_mine');
SELECT count(*) FROM stream_state.js_mine;
RESET ROLE;
SET ROLE regress_js_owner;

-- a side of another owner: its policy applies to the join as to a read of
-- one stream, and a policy that calls stream._join_mark() takes no NULL row
-- out of the owner's output
RESET ROLE;
SET ROLE regress_js_stranger;
CREATE FUNCTION js_mark_all() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..50 LOOP
        PERFORM stream._join_mark(('(0,' || i || ')')::tid, ('(0,' || i || ')')::tid);
    END LOOP;
    RETURN true;
END $$;
CREATE POLICY js_marking ON js_theirs AS RESTRICTIVE USING (js_mark_all());
RESET ROLE;
SET ROLE regress_js_owner;
CREATE TABLE js_mine2 (k int, t timestamptz);
CREATE INDEX ON js_mine2 (k);
SELECT stream.create_stream('js_mine2');
SELECT stream.start_query('js_rls',
    $$SELECT m.k, m.t, x.t AS xt
        FROM js_mine2 m LEFT JOIN js_theirs x
          ON x.k = m.k AND x.t BETWEEN m.t AND m.t + interval '1 hour'$$,
    'js_rls_out', watermarks => '{"m.t 1 hour", "x.t 1 hour"}') > 0 AS started;
-- a semi join: the owner's row that waits for a partner is written when it
-- comes, whatever the stranger's policy marked meanwhile
SELECT stream.start_query('js_rls_semi',
    $$SELECT m.k, m.t
        FROM js_mine2 m
       WHERE EXISTS (SELECT 1 FROM js_theirs x
                      WHERE x.k = m.k AND x.t BETWEEN m.t AND m.t + interval '1 hour')$$,
    'js_rls_semi_out', watermarks => '{"m.t 1 hour", "x.t 1 hour"}') > 0 AS started;
-- the stranger's side preserved: a row its policy hides is no NULL row
SELECT stream.start_query('js_rls_right',
    $$SELECT x.k, m.t, x.t AS xt
        FROM js_mine2 m RIGHT JOIN js_theirs x
          ON x.k = m.k AND x.t BETWEEN m.t AND m.t + interval '1 hour'$$,
    'js_rls_right_out', watermarks => '{"m.t 1 hour", "x.t 1 hour"}') > 0 AS started;
INSERT INTO js_mine2 VALUES (1, '2026-01-01 10:00'), (150, '2026-01-01 10:00'),
    (7, '2026-01-01 10:00');
RESET ROLE;
SET ROLE regress_js_stranger;
INSERT INTO js_theirs VALUES (1, '2026-01-01 10:05'), (150, '2026-01-01 10:05'),
    (8, '2026-01-01 10:00');
RESET ROLE;
SET ROLE regress_js_owner;
CALL stream.process_batch('js_rls');
SELECT side, state_rows FROM stream.progress_sides WHERE query = 'js_rls' ORDER BY side;
INSERT INTO js_mine2 VALUES (2, '2026-01-01 14:00');
RESET ROLE;
SET ROLE regress_js_stranger;
INSERT INTO js_theirs VALUES (3, '2026-01-01 14:00');
RESET ROLE;
SET ROLE regress_js_owner;
-- in a transaction block, the caller's SET LOCAL values stay in force after
-- the batch, and its session values after the commit
SET jit = off;
BEGIN;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL jit = on;
CALL stream.process_batch('js_rls');
SELECT current_setting('jit') AS jit, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin;
COMMIT;
SELECT current_setting('jit') AS jit, current_setting('enable_hashjoin') AS hashjoin,
       current_setting('enable_mergejoin') AS mergejoin;
RESET jit;
CALL stream.process_all_available('js_rls');
-- 150 of the owner's has no partner it may see; 1 has its pair; 7 its NULL row
SELECT * FROM js_rls_out ORDER BY k;
-- 1 has its pair, 8 its NULL row; 150 of the stranger's is hidden
CALL stream.process_all_available('js_rls_right');
SELECT * FROM js_rls_right_out ORDER BY k;
SELECT stream.drop_query('js_rls_right');
CALL stream.process_all_available('js_rls_semi');
INSERT INTO js_mine2 VALUES (30, '2026-01-01 15:00');
RESET ROLE;
SET ROLE regress_js_stranger;
INSERT INTO js_theirs VALUES (31, '2026-01-01 15:00');
RESET ROLE;
SET ROLE regress_js_owner;
CALL stream.process_all_available('js_rls_semi');
SELECT side, state_rows FROM stream.progress_sides
  WHERE query = 'js_rls_semi' ORDER BY batch_id DESC, side LIMIT 2;
RESET ROLE;
SET ROLE regress_js_stranger;
INSERT INTO js_theirs VALUES (30, '2026-01-01 15:20');
RESET ROLE;
SET ROLE regress_js_owner;
CALL stream.process_all_available('js_rls_semi');
-- 1 matched at once, 30 when its partner came
SELECT * FROM js_rls_semi_out ORDER BY k;
SELECT stream.drop_query('js_rls_semi');

-- SELECT on a side revoked after the start: the batch fails loudly and
-- writes nothing; the query counts no pending rows it cannot read
INSERT INTO js_mine2 VALUES (4, '2026-01-01 14:10');
RESET ROLE;
SET ROLE regress_js_stranger;
INSERT INTO js_theirs VALUES (4, '2026-01-01 14:15');
REVOKE SELECT ON js_theirs FROM regress_js_owner;
RESET ROLE;
SET ROLE regress_js_owner;
SELECT last_batch_id AS batch_before, pending_rows FROM stream.queries WHERE name = 'js_rls';
\set VERBOSITY terse
CALL stream.process_batch('js_rls');
\set VERBOSITY default
SELECT last_batch_id AS batch_after, status FROM stream.queries WHERE name = 'js_rls';
SELECT count(*) AS rows_of_4 FROM js_rls_out WHERE k = 4;
RESET ROLE;
SET ROLE regress_js_stranger;
GRANT SELECT ON js_theirs TO regress_js_owner;
RESET ROLE;
SET ROLE regress_js_owner;
CALL stream.process_all_available('js_rls');
SELECT * FROM js_rls_out WHERE k = 4;

-- DDL on the sides of a live join: columns added and dropped, a column the
-- join uses kept, renames followed, the key's index dropped
INSERT INTO js_a VALUES (5, '2026-01-01 15:00', 'before ddl');
INSERT INTO js_b VALUES (5, '2026-01-01 15:05', 'b5');
CALL stream.process_all_available('js_mine');
ALTER TABLE js_a ADD COLUMN added int;
ALTER TABLE js_b DROP COLUMN spare;
ALTER TABLE js_b DROP COLUMN note;
ALTER TABLE js_b DROP COLUMN "b time";
ALTER TABLE js_a DROP COLUMN k;
ALTER TABLE js_b RENAME COLUMN "b time" TO "when b";
ALTER TABLE js_a RENAME COLUMN k TO key;
ALTER TABLE js_b RENAME TO js_b2;
SELECT query, watermarks FROM stream.queries WHERE name = 'js_mine';
DROP INDEX js_a_k_idx;
ALTER TABLE js_b2 DROP CONSTRAINT js_b_pkey;
INSERT INTO js_a (key, t, note, added) VALUES (6, '2026-01-01 16:00', 'after ddl', 1);
INSERT INTO js_b2 VALUES (6, '2026-01-01 16:30');
INSERT INTO js_b2 VALUES (5, '2026-01-01 15:30');
CALL stream.process_all_available('js_mine');
INSERT INTO js_a (key, t) VALUES (7, '2026-01-01 19:00');
INSERT INTO js_b2 VALUES (7, '2026-01-01 19:00');
CALL stream.process_all_available('js_mine');
SELECT * FROM js_mine_out WHERE k >= 5 ORDER BY k, bt;

-- a publication on a side changes nothing of the join
RESET ROLE;
SET client_min_messages = error;
CREATE PUBLICATION js_pub FOR TABLE js_a;
SET client_min_messages = warning;
SET ROLE regress_js_owner;
INSERT INTO js_a (key, t) VALUES (8, '2026-01-01 19:10');
INSERT INTO js_b2 VALUES (8, '2026-01-01 19:20');
CALL stream.process_all_available('js_mine');
SELECT * FROM js_mine_out WHERE k = 8;
RESET ROLE;
DROP PUBLICATION js_pub;
SET ROLE regress_js_owner;

-- dropping a side's stream takes the query with it, as for one stream
SELECT stream.drop_stream('js_b2');
SELECT stream.drop_stream('js_b2', cascade => true);
SELECT count(*) AS queries_left FROM stream.queries WHERE name = 'js_mine';
RESET ROLE;
SELECT to_regclass('stream_state.js_mine') AS state_left;
SET ROLE regress_js_owner;

-- the stranger drops its table, which the owner's join reads: the query goes
RESET ROLE;
SET ROLE regress_js_stranger;
DROP TABLE js_theirs;
DROP TABLE js_theirs CASCADE;
RESET ROLE;
SELECT count(*) AS queries_left FROM stream.queries WHERE name = 'js_rls';
SELECT count(*) AS sides_left FROM stream.query_side_defs d
  WHERE NOT EXISTS (SELECT 1 FROM stream.query_defs q WHERE q.query_id = d.query_id);
SELECT to_regclass('stream_state.js_rls') AS state_left;
SET ROLE regress_js_owner;

-- cleanup
DROP TABLE js_left_out, js_mine_out, js_rls_out, js_rls_right_out, js_rls_semi_out;
SELECT stream.drop_stream('js_a');
SELECT stream.drop_stream('js_mine2');
DROP TABLE js_a, js_b2, js_mine2;
DROP FUNCTION js_meddle(int), js_mark(int);
RESET ROLE;
SET ROLE regress_js_stranger;
SELECT stream.drop_stream('js_hidden');
SELECT stream.drop_stream('js_cols');
DROP TABLE js_hidden, js_cols;
DROP FUNCTION js_mark_all();
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_js_owner, regress_js_stranger;
DROP ROLE regress_js_owner;
DROP ROLE regress_js_stranger;
