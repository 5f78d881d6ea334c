-- The access method, not a NOT NULL constraint, keeps a row from being
-- stored without its stamp: a stream made on a 0.11 catalog has no NOT NULL
-- constraint on _stream_xid (the executor checks nothing) and still stores
-- every row with its writer's top-level transaction id, and a writer that keeps
-- the stamps it supplies (session_replication_role "replica", a stream
-- created in the same transaction) cannot keep a null.  Also every shape
-- a row reaches the access method in, stamped in place: values (COPY), a
-- formed row deformed by the NOT NULL check or not, a row with a null or a
-- text before the stamp, under subtransactions, with RETURNING and an
-- AFTER ROW trigger.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE snn_with (id int, note text, v float8);
SELECT stream.create_stream('snn_with');
-- as a stream made on an older catalog has it
ALTER TABLE snn_with ALTER COLUMN _stream_xid SET NOT NULL;
CREATE TABLE snn_without (id int, note text, v float8);
SELECT stream.create_stream('snn_without');
SELECT attrelid::regclass AS stream, attnotnull FROM pg_attribute
 WHERE attrelid = 'snn_without'::regclass AND attname = '_stream_xid';
CREATE TABLE snn_fixed (id int, v float8);
SELECT stream.create_stream('snn_fixed');

-- what each row's writer was, kept by an AFTER ROW trigger
CREATE TABLE snn_seen (tab text, id int, stamp xid8);
CREATE FUNCTION snn_see() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO snn_seen VALUES (TG_TABLE_NAME, NEW.id, NEW._stream_xid);
    RETURN NULL;
END $$;
CREATE TRIGGER snn_see AFTER INSERT ON snn_fixed
    FOR EACH ROW EXECUTE FUNCTION snn_see();

CREATE TABLE snn_xids (id int, xid xid8);
BEGIN;
INSERT INTO snn_xids VALUES (1, pg_current_xact_id());
-- an explicit null, a null before the stamp, a text before it, many rows
INSERT INTO snn_with (id, note, v) VALUES (1, 'a', 1), (1, NULL, NULL);
INSERT INTO snn_without (id, note, v, _stream_xid) VALUES (1, 'a', 1, NULL), (1, NULL, 2, NULL);
INSERT INTO snn_without (id, note, v) SELECT 1, 'b', g FROM generate_series(1, 5) g;
INSERT INTO snn_fixed (id, v, _stream_xid) VALUES (1, 1, NULL), (1, NULL, '3');
INSERT INTO snn_fixed (id, v) SELECT 1, g FROM generate_series(1, 5) g;
SAVEPOINT s1;
INSERT INTO snn_fixed (id, v, _stream_xid) SELECT 1, g, NULL FROM generate_series(1, 3) g;
INSERT INTO snn_with (id, note, v) SELECT 1, 'c', g FROM generate_series(1, 3) g;
SAVEPOINT s2;
-- RETURNING sees the stamp the row has
WITH r AS (INSERT INTO snn_fixed (id, v, _stream_xid) VALUES (1, 9, NULL), (1, 10, '7')
           RETURNING _stream_xid)
SELECT count(*) AS returned, count(*) FILTER (WHERE _stream_xid = pg_current_xact_id()) AS own_xid
  FROM r;
RELEASE SAVEPOINT s2;
COPY snn_without (id, note, v, _stream_xid) FROM STDIN;
1	d	1	\N
1	\N	2	\N
1	e	3	5
\.
COPY snn_fixed (id, v) FROM STDIN;
1	1
1	\N
\.
COPY snn_fixed (id, v, _stream_xid) FROM STDIN;
1	1	\N
1	2	0
\.
RELEASE SAVEPOINT s1;
-- a subtransaction rolled back leaves nothing behind
SAVEPOINT s3;
INSERT INTO snn_fixed (id, v, _stream_xid) VALUES (99, 1, NULL);
ROLLBACK TO SAVEPOINT s3;
COMMIT;

SELECT 'with' AS t, count(*) AS n_rows, count(*) FILTER (WHERE s._stream_xid = x.xid) AS stamped
  FROM snn_with s JOIN snn_xids x USING (id)
UNION ALL
SELECT 'without', count(*), count(*) FILTER (WHERE s._stream_xid = x.xid)
  FROM snn_without s JOIN snn_xids x USING (id)
UNION ALL
SELECT 'fixed', count(*), count(*) FILTER (WHERE s._stream_xid = x.xid)
  FROM snn_fixed s JOIN snn_xids x USING (id)
UNION ALL
SELECT 'seen by the trigger', count(*), count(*) FILTER (WHERE s.stamp = x.xid)
  FROM snn_seen s JOIN snn_xids x USING (id);
SELECT count(*) AS unstamped FROM snn_without WHERE _stream_xid IS NULL;
SELECT count(*) AS unstamped FROM snn_fixed WHERE _stream_xid IS NULL;

-- writers that keep what they supply cannot keep a null
SET session_replication_role = replica;
INSERT INTO snn_without (id, note, v, _stream_xid) VALUES (2, 'restored', 1, NULL);
INSERT INTO snn_fixed (id, v, _stream_xid) SELECT 2, 1, NULL;
COPY snn_fixed (id, v, _stream_xid) FROM STDIN;
2	1	\N
\.
INSERT INTO snn_fixed (id, v, _stream_xid) VALUES (2, 1, '5');
RESET session_replication_role;
SELECT id, _stream_xid::text AS kept FROM snn_fixed WHERE id = 2;

BEGIN;
CREATE TABLE snn_new (id int, v float8);
SELECT stream.create_stream('snn_new');
INSERT INTO snn_new (id, v, _stream_xid) VALUES (1, 1, NULL);
ROLLBACK;
BEGIN;
CREATE TABLE snn_new (id int, v float8);
SELECT stream.create_stream('snn_new');
COPY snn_new (id, v, _stream_xid) FROM STDIN WITH (FREEZE);
1	1	\N
\.
ROLLBACK;

-- and the constraint, where the catalog has it, refuses first
SET session_replication_role = replica;
INSERT INTO snn_with (id, note, v, _stream_xid) VALUES (2, 'restored', 1, NULL);
RESET session_replication_role;

DROP TABLE snn_with, snn_without, snn_fixed, snn_seen, snn_xids;
DROP FUNCTION snn_see();
