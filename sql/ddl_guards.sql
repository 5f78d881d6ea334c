-- DDL cannot turn a live stream into something its offsets do not cover:
-- every such command is refused, and the table is left as it was.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;
\set VERBOSITY default

CREATE TABLE g_events (id int, note text);
SELECT stream.create_stream('g_events');
INSERT INTO g_events VALUES (1, 'a'), (2, 'b');
SELECT stream.start_query('g_q', 'SELECT id, note FROM g_events', 'g_out') > 0 AS started;

-- what a stream is, before and after each refused command
CREATE VIEW g_shape AS
SELECT am.amname, c.relpersistence, c.relispartition,
       (SELECT count(*) FROM pg_inherits i
         WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) AS inherits,
       format_type(a.atttypid, a.atttypmod) AS xid_type, a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid) AS xid_default
  FROM pg_class c
  JOIN pg_am am ON am.oid = c.relam
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_stream_xid'
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.oid = 'g_events'::regclass;
SELECT * FROM g_shape;

-- the access method, persistence, inheritance and partitioning
ALTER TABLE g_events SET ACCESS METHOD heap;
ALTER TABLE g_events SET UNLOGGED;
CREATE TABLE g_parent (id int, note text, _stream_xid xid8);
ALTER TABLE g_events INHERIT g_parent;
CREATE TABLE g_child () INHERITS (g_events);
CREATE TABLE g_parted (id int, note text, _stream_xid xid8) PARTITION BY RANGE (id);
ALTER TABLE g_parted ATTACH PARTITION g_events FOR VALUES FROM (0) TO (1000);
-- the column the offsets are made of
ALTER TABLE g_events DROP COLUMN _stream_xid;
ALTER TABLE g_events RENAME COLUMN _stream_xid TO xid;
ALTER TABLE g_events ALTER COLUMN _stream_xid DROP DEFAULT;
ALTER TABLE g_events ALTER COLUMN _stream_xid SET DEFAULT '5'::xid8;
ALTER TABLE g_events ALTER COLUMN _stream_xid TYPE text;
ALTER TABLE g_events ALTER COLUMN _stream_xid DROP DEFAULT,
    ALTER COLUMN _stream_xid TYPE bigint USING _stream_xid::text::bigint;
-- whatever session_replication_role says
SET session_replication_role = replica;
ALTER TABLE g_events SET ACCESS METHOD heap;
RESET session_replication_role;
-- keeping the column's shape while rewriting its stamps
ALTER TABLE g_events ALTER COLUMN _stream_xid TYPE xid8 USING pg_current_xact_id();
ALTER TABLE g_events DROP COLUMN _stream_xid,
    ADD COLUMN _stream_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
-- turning a stream into a view
CREATE TABLE g_empty (id int);
SELECT stream.create_stream('g_empty');
CREATE RULE "_RETURN" AS ON SELECT TO g_empty DO INSTEAD
    SELECT 1::int AS id, '1'::xid8 AS _stream_xid;
SELECT relkind FROM pg_class WHERE oid = 'g_empty'::regclass;
SELECT stream.drop_stream('g_empty');
DROP TABLE g_empty;
-- several subcommands at once roll back whole
ALTER TABLE g_events ADD COLUMN extra int, SET ACCESS METHOD heap;
SELECT * FROM g_shape;
SELECT count(*) AS extra_columns FROM pg_attribute
 WHERE attrelid = 'g_events'::regclass AND attname = 'extra';
SELECT count(*) AS children FROM pg_class WHERE relname = 'g_child';

-- the guard looks at the streams a command touches only: a stream broken
-- while the guard was off does not block other tables' DDL
ALTER EVENT TRIGGER stream_on_ddl_command_end DISABLE;
CREATE TABLE g_broken (id int);
SELECT stream.create_stream('g_broken');
ALTER TABLE g_broken SET UNLOGGED;
ALTER EVENT TRIGGER stream_on_ddl_command_end ENABLE ALWAYS;
CREATE TABLE g_unrelated (id int);
ALTER TABLE g_unrelated ADD COLUMN note text;
ALTER TABLE g_broken ADD COLUMN note text;
ALTER EVENT TRIGGER stream_on_ddl_command_end DISABLE;
ALTER TABLE g_broken SET LOGGED;
ALTER EVENT TRIGGER stream_on_ddl_command_end ENABLE ALWAYS;
SELECT stream.drop_stream('g_broken');
DROP TABLE g_broken, g_unrelated;

-- what leaves the stream as it was is allowed, and batches go on
ALTER TABLE g_events ADD COLUMN source text DEFAULT 'web';
ALTER TABLE g_events ALTER COLUMN _stream_xid SET DEFAULT pg_current_xact_id();
-- the access method refuses a null stamp whatever the column declares
ALTER TABLE g_events ALTER COLUMN _stream_xid SET NOT NULL;
ALTER TABLE g_events ALTER COLUMN _stream_xid DROP NOT NULL;
ALTER TABLE g_events SET (fillfactor = 90);
COMMENT ON TABLE g_events IS 'a guarded stream';
SELECT * FROM g_shape;
INSERT INTO g_events (id, note) VALUES (3, 'c');
CALL stream.process_all_available('g_q');
SELECT id, note FROM g_out ORDER BY id;

-- drop_stream changes the table on purpose, and the guard lets it
SELECT stream.drop_query('g_q');
SELECT stream.drop_stream('g_events');
ALTER TABLE g_events SET UNLOGGED;
SELECT amname FROM pg_am WHERE oid = (SELECT relam FROM pg_class WHERE oid = 'g_events'::regclass);
DROP VIEW g_shape;
DROP TABLE g_events, g_out, g_parent, g_parted;

-- CREATE SCHEMA with a table inside that inherits from a stream
CREATE TABLE g2_events (id int);
SELECT stream.create_stream('g2_events');
CREATE SCHEMA g2_schema CREATE TABLE g2_child (extra int) INHERITS (public.g2_events);
SELECT count(*) AS children FROM pg_inherits WHERE inhparent = 'g2_events'::regclass;
-- ADD COLUMN IF NOT EXISTS that changes nothing is no rewrite
ALTER TABLE g2_events ADD COLUMN IF NOT EXISTS _stream_xid xid8;

-- drops with CASCADE drop the queries on every table they drop, also
-- tables reached through inheritance; without CASCADE they are refused
CREATE TABLE g2_parent (id int);
CREATE TABLE g2_target () INHERITS (g2_parent);
SELECT stream.start_query('g2_q', 'SELECT id FROM g2_events', 'g2_target') > 0 AS started;
DROP TABLE g2_parent;
DROP TABLE g2_parent CASCADE;
SELECT count(*) AS queries_left FROM stream.query_defs WHERE name = 'g2_q';
CREATE SCHEMA g2_s;
CREATE TABLE g2_s.t (id int);
SELECT stream.start_query('g2_q2', 'SELECT id FROM g2_events', 'g2_s.t') > 0 AS started;
DROP SCHEMA g2_s CASCADE;
SELECT count(*) AS queries_left FROM stream.query_defs WHERE name = 'g2_q2';

-- a temporary target is refused; a target that stops being a table fails
-- the batch with a clear error
SELECT stream.start_query('g2_tmp', 'SELECT id FROM g2_events', 'pg_temp.g2_tmp_out');
SELECT count(*) FROM pg_class WHERE relname = 'g2_tmp_out';
CREATE TABLE g2_view_target (id int);
SELECT stream.start_query('g2_v', 'SELECT id FROM g2_events', 'g2_view_target') > 0 AS started;
CREATE RULE "_RETURN" AS ON SELECT TO g2_view_target DO INSTEAD SELECT 1::int AS id;
INSERT INTO g2_events VALUES (1);
CALL stream.process_batch('g2_v');
DROP VIEW g2_view_target;
DROP VIEW g2_view_target CASCADE;
SELECT count(*) AS queries_left FROM stream.query_defs WHERE name = 'g2_v';
SELECT stream.drop_stream('g2_events');
DROP TABLE g2_events;
