-- Stream tables: creation, append-only enforcement, removal.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE TABLE readings (id int, sensor text, temperature float8);
INSERT INTO readings VALUES (1, 'a', 20.5), (2, 'b', 21.0);
SELECT stream.create_stream('readings');

-- the rows present form the first offsets; the table gained one column
SELECT count(*) AS rows, count(DISTINCT _stream_xid) AS transactions FROM readings;
SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'readings'::regclass;
SELECT relid FROM stream.streams;

-- INSERT and COPY work as usual
INSERT INTO readings (id, sensor, temperature) VALUES (3, 'c', 19.0);
INSERT INTO readings VALUES (4, 'd', 18.5);
COPY readings (id, sensor, temperature) FROM stdin;
5	e	17.0
6	f	16.5
\.
SELECT id, sensor, temperature FROM readings ORDER BY id;
-- a transaction's rows share one id; a savepoint does not change it
BEGIN;
INSERT INTO readings VALUES (7, 'g', 1);
SAVEPOINT s;
INSERT INTO readings VALUES (8, 'h', 2);
RELEASE s;
COMMIT;
SELECT count(DISTINCT _stream_xid) FROM readings WHERE id IN (7, 8);

-- changes are refused, whatever the triggers and replication role say
UPDATE readings SET temperature = 0 WHERE id = 1;
DELETE FROM readings WHERE id = 1;
TRUNCATE readings;
MERGE INTO readings r USING (VALUES (1)) v(id) ON r.id = v.id
    WHEN MATCHED THEN UPDATE SET temperature = 0;
MERGE INTO readings r USING (VALUES (1)) v(id) ON r.id = v.id
    WHEN MATCHED THEN DELETE;
SET session_replication_role = replica;
UPDATE readings SET temperature = 0 WHERE id = 1;
DELETE FROM readings;
RESET session_replication_role;
ALTER TABLE readings DISABLE TRIGGER ALL;
DELETE FROM readings;
ALTER TABLE readings ENABLE TRIGGER ALL;
-- statements that change no row are fine, and so is MERGE that inserts
UPDATE readings SET temperature = 0 WHERE id = -1;
DELETE FROM readings WHERE false;
MERGE INTO readings r USING (VALUES (100)) v(id) ON r.id = v.id
    WHEN NOT MATCHED THEN INSERT (id, sensor, temperature) VALUES (v.id, 'm', 0);
SELECT count(*) FROM readings;
-- SELECT ... FOR UPDATE locks, it does not change
BEGIN;
SELECT id FROM readings WHERE id = 1 FOR UPDATE;
COMMIT;
-- rewrites keep the rows
VACUUM FULL readings;
VACUUM readings;
SELECT count(*) FROM readings;

-- bad candidates
SELECT stream.create_stream('readings');
CREATE TABLE parted (id int) PARTITION BY RANGE (id);
SELECT stream.create_stream('parted');
CREATE TEMP TABLE tmp_t (id int);
SELECT stream.create_stream('tmp_t');
CREATE UNLOGGED TABLE unlogged_t (id int);
SELECT stream.create_stream('unlogged_t');
CREATE TABLE parent_t (id int);
CREATE TABLE child_t () INHERITS (parent_t);
SELECT stream.create_stream('parent_t');
SELECT stream.create_stream('child_t');
CREATE TABLE has_col (id int, _stream_xid int);
SELECT stream.create_stream('has_col');
CREATE VIEW a_view AS SELECT 1 AS x;
SELECT stream.create_stream('a_view');
SELECT stream.create_stream('no_such_table');
SELECT stream.create_stream(NULL);
-- none of them became a stream
SELECT relid FROM stream.streams ORDER BY 1;

-- only the owner makes or unmakes a stream
CREATE ROLE regress_stream_other;
CREATE TABLE owned_t (id int);
SET ROLE regress_stream_other;
SELECT stream.create_stream('owned_t');
SELECT stream.drop_stream('readings');
RESET ROLE;

-- drop_stream turns it back into an ordinary table
CREATE TABLE short_lived (id int);
SELECT stream.create_stream('short_lived');
INSERT INTO short_lived VALUES (1);
SELECT stream.drop_stream('short_lived');
\d short_lived
DELETE FROM short_lived;
SELECT stream.drop_stream('short_lived');
SELECT stream.drop_stream('short_lived', if_exists => true);

-- dropping a stream table with DROP TABLE cleans the catalog
CREATE TABLE dropped_t (id int);
SELECT stream.create_stream('dropped_t');
DROP TABLE dropped_t;
SELECT relid FROM stream.streams ORDER BY 1;

-- the catalog is not for direct use
SET ROLE regress_stream_other;
SELECT * FROM stream.streams;
SELECT * FROM stream.query_defs;
RESET ROLE;

DROP TABLE readings, parted, parent_t CASCADE;
DROP TABLE has_col, owned_t, short_lived, unlogged_t;
DROP VIEW a_view;
DROP ROLE regress_stream_other;
