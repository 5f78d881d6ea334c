-- An INSERT that does not name _stream_xid carries the constant 0 in its
-- place instead of the column's default, and the access method sets the
-- stamp: every row still gets its top-level transaction's id, whatever
-- path the row takes; where something looks at the row before the access
-- method (BEFORE triggers, rules, CHECK, generated columns, row-level
-- security, ON CONFLICT), the statement keeps the default.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE sp_a (id int, note text, v float8);
SELECT stream.create_stream('sp_a');
SELECT stream.start_query('sp_q', 'SELECT id FROM sp_a', 'sp_out') > 0 AS started;

-- the placeholder, and the default where the column is named
EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO sp_a (id, v) VALUES (1, 1);
EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO sp_a (id, _stream_xid) VALUES (1, DEFAULT);

-- single rows, rows with a null or a text before the stamp, many rows,
-- INSERT ... SELECT, RETURNING, a subtransaction
BEGIN;
INSERT INTO sp_a (id, v) VALUES (1, 1);
INSERT INTO sp_a (id, note, v) VALUES (2, 'text before the stamp', 2);
INSERT INTO sp_a (v) VALUES (3);
INSERT INTO sp_a (id, note) VALUES (4, NULL), (5, 'five'), (6, repeat('x', 5000));
INSERT INTO sp_a (id, v) SELECT g, g FROM generate_series(7, 9) g;
INSERT INTO sp_a (id) VALUES (10) RETURNING _stream_xid = pg_current_xact_id() AS returned_own;
SAVEPOINT s;
INSERT INTO sp_a (id) VALUES (11);
RELEASE SAVEPOINT s;
SELECT count(*) AS rows, count(*) FILTER (WHERE _stream_xid = pg_current_xact_id()) AS own
  FROM sp_a;
COMMIT;

-- a plan made once and run in later transactions, and in
-- session_replication_role "replica", which keeps supplied stamps but
-- never the placeholder
PREPARE sp_ins(int) AS INSERT INTO sp_a (id) VALUES ($1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE sp_ins(0);
BEGIN;
EXECUTE sp_ins(20);
SELECT _stream_xid = pg_current_xact_id() AS own FROM sp_a WHERE id = 20;
COMMIT;
BEGIN;
EXECUTE sp_ins(21);
SELECT _stream_xid = pg_current_xact_id() AS own FROM sp_a WHERE id = 21;
COMMIT;
SET session_replication_role = replica;
BEGIN;
EXECUTE sp_ins(22);
INSERT INTO sp_a (id, _stream_xid) VALUES (23, '0');
INSERT INTO sp_a (id, _stream_xid) VALUES (24, '5');
SELECT id, _stream_xid = pg_current_xact_id() AS own, _stream_xid::text = '5' AS kept
  FROM sp_a WHERE id IN (22, 23, 24) ORDER BY id;
COMMIT;
RESET session_replication_role;
DEALLOCATE sp_ins;

-- COPY: a stamp of 0 is replaced, and rows formed with a null or a text
-- before the stamp
BEGIN;
COPY sp_a (id, note, v, _stream_xid) FROM STDIN;
30	\N	1	0
31	thirty-one	\N	0
32	\N	\N	7
\.
COPY sp_a (id, note) FROM STDIN;
33	\N
34	thirty-four
\.
SELECT id, _stream_xid = pg_current_xact_id() AS own FROM sp_a WHERE id >= 30 ORDER BY id;
COMMIT;

-- a stream created in the same transaction keeps supplied stamps (a
-- rewrite's), but not the placeholder
BEGIN;
CREATE TABLE sp_new (id int);
SELECT stream.create_stream('sp_new');
INSERT INTO sp_new (id) VALUES (1);
SELECT _stream_xid = pg_current_xact_id() AS own FROM sp_new;
COMMIT;

-- what looks at the row before the access method sees the real stamp
CREATE TABLE sp_seen (what text, own boolean);
CREATE TABLE sp_t (id int);
SELECT stream.create_stream('sp_t');
CREATE FUNCTION sp_look() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sp_seen VALUES ('before trigger', NEW._stream_xid = pg_current_xact_id());
    RETURN NEW;
END $$;
CREATE TRIGGER sp_look BEFORE INSERT ON sp_t FOR EACH ROW EXECUTE FUNCTION sp_look();
EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO sp_t (id) VALUES (1);
INSERT INTO sp_t (id) VALUES (1);
-- a plan made before the trigger is made again after it
DROP TRIGGER sp_look ON sp_t;
PREPARE sp_t_ins AS INSERT INTO sp_t (id) VALUES (2);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE sp_t_ins;
CREATE TRIGGER sp_look BEFORE INSERT ON sp_t FOR EACH ROW EXECUTE FUNCTION sp_look();
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE sp_t_ins;
EXECUTE sp_t_ins;
DEALLOCATE sp_t_ins;

CREATE TABLE sp_r (id int);
SELECT stream.create_stream('sp_r');
CREATE RULE sp_log AS ON INSERT TO sp_r
    DO ALSO INSERT INTO sp_seen VALUES ('rule', NEW._stream_xid = pg_current_xact_id());
INSERT INTO sp_r (id) VALUES (1);

CREATE TABLE sp_c (id int);
SELECT stream.create_stream('sp_c');
ALTER TABLE sp_c ADD CHECK (_stream_xid <> '0');
INSERT INTO sp_c (id) VALUES (1);

CREATE TABLE sp_g (id int);
SELECT stream.create_stream('sp_g');
ALTER TABLE sp_g ADD COLUMN g text GENERATED ALWAYS AS (_stream_xid::text) STORED;
INSERT INTO sp_g (id) VALUES (1);
INSERT INTO sp_seen SELECT 'generated', g = _stream_xid::text AND g <> '0' FROM sp_g;

CREATE UNIQUE INDEX sp_a_stamp_id ON sp_a (_stream_xid, id);
INSERT INTO sp_a (id) VALUES (40) ON CONFLICT (_stream_xid, id) DO NOTHING;
INSERT INTO sp_seen SELECT 'on conflict', _stream_xid::text <> '0' FROM sp_a WHERE id = 40;

-- row-level security: a WITH CHECK on the stamp, as a role without rights
-- beyond the policy's
CREATE ROLE regress_sp_writer LOGIN;
CREATE TABLE sp_p (id int);
SELECT stream.create_stream('sp_p');
ALTER TABLE sp_p ENABLE ROW LEVEL SECURITY;
CREATE POLICY sp_p_write ON sp_p FOR INSERT TO regress_sp_writer
    WITH CHECK (_stream_xid <> '0');
GRANT INSERT (id) ON sp_p TO regress_sp_writer;
SET ROLE regress_sp_writer;
INSERT INTO sp_p (id) VALUES (1);
RESET ROLE;
INSERT INTO sp_seen SELECT 'row security', _stream_xid::text <> '0' FROM sp_p;

SELECT what, own FROM sp_seen ORDER BY what;
SELECT 'sp_c' AS stream, count(*) FILTER (WHERE _stream_xid::text = '0') AS zero FROM sp_c
UNION ALL
SELECT 'sp_t', count(*) FILTER (WHERE _stream_xid::text = '0') FROM sp_t
UNION ALL
SELECT 'sp_r', count(*) FILTER (WHERE _stream_xid::text = '0') FROM sp_r;

-- no row of any stream here has the placeholder, and the query delivers
-- every row once
SELECT count(*) AS zero_stamps FROM sp_a WHERE _stream_xid::text = '0';
CALL stream.process_all_available('sp_q');
SELECT count(*) AS delivered,
       count(*) = (SELECT count(*) FROM sp_a) AS all_delivered,
       count(DISTINCT coalesce(id, -1)) = count(*) AS once FROM sp_out;

SELECT stream.drop_query('sp_q');
DROP TABLE sp_a, sp_new, sp_seen, sp_t, sp_r, sp_c, sp_g, sp_p, sp_out;
DROP FUNCTION sp_look();
DROP ROLE regress_sp_writer;
