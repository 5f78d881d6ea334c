-- Nothing a user defines runs with more rights than its owner, nothing a
-- batch sets survives it, and the views show other roles nothing.
CREATE EXTENSION IF NOT EXISTS pg_streaming;
SET client_min_messages = warning;

CREATE ROLE regress_sec_mallory LOGIN;
CREATE ROLE regress_sec_victim LOGIN;
GRANT CREATE ON SCHEMA public TO regress_sec_mallory, regress_sec_victim;

-- ---------------------------------------------------------------------------
-- A stream owner's own type on _stream_xid, with an implicit cast to xid8
-- whose function would run wherever the column is compared
-- ---------------------------------------------------------------------------
SET ROLE regress_sec_mallory;
CREATE TABLE m_events (id int, payload text);
SELECT stream.create_stream('m_events');
CREATE TABLE m_seen (who text, superuser boolean);
CREATE TYPE m_xid AS (x xid8);
CREATE FUNCTION m_cast(m_xid) RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO public.m_seen
    SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
    RETURN ($1).x;
END $$;
CREATE CAST (m_xid AS xid8) WITH FUNCTION m_cast(m_xid) AS IMPLICIT;
-- the DDL guard refuses the change itself
ALTER TABLE m_events ALTER COLUMN _stream_xid DROP DEFAULT,
    ALTER COLUMN _stream_xid TYPE m_xid USING ROW(_stream_xid)::m_xid;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'm_events'::regclass AND attname = '_stream_xid';
INSERT INTO m_events VALUES (1, 'a');
SELECT stream.start_query('m_q', 'SELECT id, payload FROM m_events', 'm_out') > 0 AS started;
RESET ROLE;

-- and were the guard switched off by a superuser, the cast would still run
-- as the stream's owner, never as the role reading the views
ALTER EVENT TRIGGER stream_on_ddl_command_end DISABLE;
SET ROLE regress_sec_mallory;
ALTER TABLE m_events ALTER COLUMN _stream_xid DROP DEFAULT,
    ALTER COLUMN _stream_xid TYPE m_xid USING ROW(_stream_xid)::m_xid;
RESET ROLE;
ALTER EVENT TRIGGER stream_on_ddl_command_end ENABLE ALWAYS;
SELECT name, pending_rows FROM stream.queries WHERE name = 'm_q';
CALL stream.process_all_available('m_q');
SELECT DISTINCT who, superuser FROM m_seen;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_sec_mallory';
SELECT stream.drop_query('m_q');
DROP TABLE m_events, m_out, m_seen;
DROP CAST (m_xid AS xid8);
DROP FUNCTION m_cast(m_xid);
DROP TYPE m_xid;

-- ---------------------------------------------------------------------------
-- Settings changed inside a batch are rolled back with it
-- ---------------------------------------------------------------------------
SET ROLE regress_sec_mallory;
CREATE TABLE s_events (id int);
SELECT stream.create_stream('s_events');
CREATE TABLE s_out (id int);
CREATE FUNCTION s_meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('search_path', 'mallory_schema, public', false);
    PERFORM set_config('work_mem', '1234kB', false);
    PERFORM set_config('application_name', 'meddled', false);
    RETURN NEW;
END $$;
CREATE TRIGGER s_meddle BEFORE INSERT ON s_out
    FOR EACH ROW EXECUTE FUNCTION s_meddle();
SELECT stream.start_query('s_q', 'SELECT id FROM s_events', 's_out') > 0 AS started;
INSERT INTO s_events VALUES (1), (2);
RESET ROLE;
SET work_mem = '4MB';
SET application_name = 'caller';
SET ROLE regress_sec_mallory;
CALL stream.process_batch('s_q');
SELECT current_setting('search_path') AS search_path,
       current_setting('work_mem') AS work_mem,
       current_setting('application_name') AS application_name;
-- the same within a transaction block, batch after batch
INSERT INTO s_events VALUES (3);
BEGIN;
CALL stream.process_all_available('s_q');
SELECT current_setting('search_path') AS search_path,
       current_setting('work_mem') AS work_mem;
COMMIT;
SELECT count(*) FROM s_out;
RESET ROLE;
RESET work_mem;
RESET application_name;

-- a batch's code cannot run another batch; a batch that failed inside an
-- exception block leaves the next one free to run
SET ROLE regress_sec_mallory;
CREATE TABLE s_nested_out (id int);
CREATE FUNCTION s_nest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    CALL stream.process_batch('s_q');
    RETURN NEW;
END $$;
CREATE TRIGGER s_nest BEFORE INSERT ON s_nested_out
    FOR EACH ROW EXECUTE FUNCTION s_nest();
SELECT stream.start_query('s_nested', 'SELECT id FROM s_events', 's_nested_out') > 0 AS started;
CALL stream.process_batch('s_nested');
DROP TRIGGER s_nest ON s_nested_out;
INSERT INTO s_events VALUES (10);
BEGIN;
DO $$
BEGIN
    BEGIN
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN NULL;
    END;
    CALL stream.process_batch('s_nested');
END $$;
COMMIT;
CALL stream.process_all_available('s_nested');
SELECT count(*) AS nested_rows FROM s_nested_out;
SELECT stream.drop_query('s_nested');
DROP TABLE s_nested_out;
DROP FUNCTION s_nest();
RESET ROLE;

-- a session's temporary tables never stand in for tables a batch reads,
-- whatever the query's search_path says
SET ROLE regress_sec_mallory;
CREATE TABLE s_dim (id int, label text);
INSERT INTO s_dim SELECT g, 'real' FROM generate_series(1, 20) g;
SET search_path = public, xpg_temp;
SELECT stream.start_query('s_join', 'SELECT e.id, d.label FROM s_events e JOIN s_dim d USING (id)', 's_join_out') > 0 AS started;
SET search_path = pg_temp, public;
SELECT stream.start_query('s_join2', 'SELECT e.id, d.label FROM s_events e JOIN s_dim d USING (id)', 's_join_out') > 0 AS started;
RESET search_path;
CREATE TEMP TABLE s_dim (id int, label text);
INSERT INTO s_dim SELECT g, 'shadow' FROM generate_series(1, 20) g;
CALL stream.process_all_available('s_join');
CALL stream.process_all_available('s_join2');
SELECT label, count(*) FROM s_join_out GROUP BY label;
DROP TABLE pg_temp.s_dim;
SELECT stream.drop_query('s_join');
SELECT stream.drop_query('s_join2');
DROP TABLE s_join_out, s_dim;
RESET ROLE;

-- ---------------------------------------------------------------------------
-- The views show other roles nothing, whatever their WHERE clause runs
-- ---------------------------------------------------------------------------
SET ROLE regress_sec_victim;
CREATE TABLE v_events (id int, secret text);
SELECT stream.create_stream('v_events');
SELECT stream.start_query('v_secret_query',
    $$SELECT id, secret FROM v_events WHERE secret <> 'password123'$$, 'v_out') > 0 AS started;
INSERT INTO v_events VALUES (1, 'x');
CALL stream.process_batch('v_secret_query');
SELECT name, pending_rows FROM stream.queries;
SET ROLE regress_sec_mallory;
CREATE TABLE leaked (v text);
CREATE FUNCTION leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    INSERT INTO leaked VALUES ($1);
    RETURN true;
END $$;
SELECT count(*) FROM stream.queries WHERE leak(name) AND leak(query);
SELECT count(*) FROM stream.progress WHERE leak(query);
SELECT v FROM leaked ORDER BY v;
-- the internal functions say nothing about others' queries either
SELECT count(*) AS own_queries_answered FROM generate_series(1, 100) g
 WHERE stream._pending_rows(g) IS NOT NULL;
SELECT has_function_privilege('stream._extension_created()', 'EXECUTE') AS extension_created,
       has_function_privilege('stream.stream_heap_handler(internal)', 'EXECUTE') AS am_handler,
       has_function_privilege('stream.on_sql_drop()', 'EXECUTE') AS on_sql_drop,
       has_function_privilege('stream.on_ddl_command_end()', 'EXECUTE') AS on_ddl_command_end;
SELECT count(*) FROM stream.query_defs;
RESET ROLE;

-- pending rows are counted with the owner's rights: an owner who may no
-- longer read the stream gets no count, not an error and not the superuser's
SET ROLE regress_sec_victim;
INSERT INTO v_events VALUES (2, 'y');
SELECT name, pending_rows FROM stream.queries;
REVOKE SELECT ON v_events FROM regress_sec_victim;
SELECT name, pending_rows FROM stream.queries;
GRANT SELECT ON v_events TO regress_sec_victim;
SELECT name, pending_rows FROM stream.queries;
RESET ROLE;

-- ---------------------------------------------------------------------------
-- A stream's owner decides what becomes of the table
-- ---------------------------------------------------------------------------
GRANT SELECT ON v_events TO regress_sec_mallory;
SET ROLE regress_sec_mallory;
SELECT stream.start_query('pin', 'SELECT id FROM v_events', 'pin_out') > 0 AS started;
-- a stranger cannot turn the stream back, nor queue for its lock
SELECT stream.drop_stream('v_events', cascade => true);
SELECT stream.create_stream('v_out');
SET ROLE regress_sec_victim;
DROP TABLE v_events;
SELECT stream.drop_stream('v_events');
SELECT stream.drop_stream('v_events', cascade => true);
SELECT name FROM stream.queries;
RESET ROLE;
-- nor a table another role's query writes into: DROP TABLE ... CASCADE
-- drops the queries that use it, as it drops views; a stranger's CASCADE
-- drops nothing
SET ROLE regress_sec_victim;
CREATE TABLE victim_target (id int);
GRANT INSERT ON victim_target TO regress_sec_mallory;
SET ROLE regress_sec_mallory;
SELECT stream.start_query('pin_target', 'SELECT id FROM s_events', 'victim_target') > 0 AS started;
DROP TABLE victim_target CASCADE;
SET ROLE regress_sec_victim;
DROP TABLE victim_target;
DROP TABLE victim_target CASCADE;
RESET ROLE;
SELECT name FROM stream.query_defs WHERE name = 'pin_target';
-- and DROP SCHEMA ... CASCADE by the schema's owner takes the queries on
-- its tables with them
CREATE SCHEMA victim_schema AUTHORIZATION regress_sec_victim;
SET ROLE regress_sec_victim;
CREATE TABLE victim_schema.ev (id int);
SELECT stream.create_stream('victim_schema.ev');
GRANT USAGE ON SCHEMA victim_schema TO regress_sec_mallory;
GRANT SELECT ON victim_schema.ev TO regress_sec_mallory;
SET ROLE regress_sec_mallory;
SELECT stream.start_query('pin_schema', 'SELECT id FROM victim_schema.ev', 'pin_schema_out') > 0 AS started;
DROP SCHEMA victim_schema CASCADE;
SET ROLE regress_sec_victim;
DROP SCHEMA victim_schema;
DROP SCHEMA victim_schema CASCADE;
RESET ROLE;
SELECT name FROM stream.query_defs WHERE name = 'pin_schema';
DROP TABLE pin_schema_out;
SELECT name, owner FROM stream.query_defs ORDER BY name;
SELECT count(*) FROM stream.streams WHERE relid = 'v_events'::regclass;
DROP TABLE v_events, v_out, pin_out;

-- ---------------------------------------------------------------------------
-- Roles: DROP ROLE refuses an owner of queries, REASSIGN OWNED moves them,
-- DROP OWNED drops them
-- ---------------------------------------------------------------------------
CREATE ROLE regress_sec_heir;
DROP ROLE regress_sec_mallory;
REASSIGN OWNED BY regress_sec_mallory TO regress_sec_heir;
DROP OWNED BY regress_sec_mallory;
SELECT name, owner FROM stream.query_defs ORDER BY name;
SELECT relname, pg_get_userbyid(relowner) FROM pg_class
 WHERE relname IN ('s_events', 's_out') ORDER BY relname;
INSERT INTO s_events VALUES (4);
CALL stream.process_all_available('s_q');
SELECT count(*) FROM s_out;
DROP ROLE regress_sec_mallory;
DROP OWNED BY regress_sec_heir;
SELECT count(*) FROM stream.query_defs;
SELECT count(*) FROM pg_class WHERE relname IN ('s_events', 's_out');
DROP ROLE regress_sec_heir;
DROP OWNED BY regress_sec_victim;
DROP ROLE regress_sec_victim;
