/*
 * pg_streaming 0.1 -> 0.2
 *
 * Errors keep their detail and hint; start_query takes starting_from;
 * drop_stream can cascade to the queries that read the stream; the views
 * are security barriers; event triggers refuse DDL that would change what
 * batches rely on in a stream table, and let drops with CASCADE take the
 * queries on the tables they drop.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.2'" to load this file. \quit

ALTER TABLE stream.query_defs
    ADD COLUMN last_error_detail text,
    ADD COLUMN last_error_hint text;

DROP FUNCTION stream.drop_stream(regclass, boolean);
DROP FUNCTION stream.start_query(text, text, text, text, text, integer);
CREATE FUNCTION stream.start_query(
    name                text,
    query               text,
    target              text,
    output_mode         text DEFAULT 'append',
    trigger             text DEFAULT '500 ms',
    max_rows_per_batch  integer DEFAULT NULL,
    starting_from       text DEFAULT 'earliest')
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.start_query(text, text, text, text, text, integer, text) IS
'register a streaming query over one stream table, writing into target, from the earliest rows or the latest; returns the query id';

CREATE FUNCTION stream.drop_stream(
    relation    regclass,
    if_exists   boolean DEFAULT false,
    cascade     boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_drop_stream'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.drop_stream(regclass, boolean, boolean) IS
'turn a stream table back into an ordinary table; with cascade, drop the streaming queries that read it, whoever owns them';

COMMENT ON FUNCTION stream._pending_rows(bigint) IS
'internal: rows of the query''s stream that no committed batch has processed (NULL where its owner may not read the stream)';

-- the views gain columns in the middle: made anew
DROP VIEW stream.queries;
DROP VIEW stream.progress;
CREATE VIEW stream.queries WITH (security_barrier) AS
SELECT q.name,
       q.owner,
       q.status,
       q.output_mode,
       q.trigger,
       q.max_rows_per_batch,
       q.stream_relid AS stream,
       q.target_relid AS target,
       c.batch_id AS last_batch_id,
       c.committed_at AS last_batch_at,
       stream._pending_rows(q.query_id) AS pending_rows,
       (SELECT count(*) FROM stream.checkpoint_offsets o
         WHERE o.query_id = q.query_id
           AND NOT EXISTS (SELECT 1 FROM stream.checkpoint_commits k
                            WHERE k.query_id = o.query_id
                              AND k.batch_id = o.batch_id)) AS pending_batches,
       q.last_error,
       q.last_error_sqlstate,
       q.last_error_at,
       q.last_error_detail,
       q.last_error_hint,
       q.query_text AS query,
       q.created_at
  FROM stream.query_defs q
  LEFT JOIN LATERAL (SELECT k.batch_id, k.committed_at
                       FROM stream.checkpoint_commits k
                      WHERE k.query_id = q.query_id
                      ORDER BY k.batch_id DESC LIMIT 1) c ON true
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.queries IS 'streaming queries: status, trigger, last committed batch, last error';

CREATE VIEW stream.progress WITH (security_barrier) AS
SELECT q.name AS query,
       p.batch_id,
       p.started_at,
       p.finished_at,
       p.input_rows,
       p.output_rows,
       round(p.input_rows
             / greatest(extract(epoch FROM p.finished_at - p.started_at), 0.001),
             1) AS processed_rows_per_second,
       round(extract(epoch FROM p.finished_at - p.started_at) * 1000, 3) AS duration_ms,
       p.replayed,
       o.start_snapshot AS start_offset,
       o.end_snapshot AS end_offset
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress IS 'one row per committed batch: input rows, rows per second, duration, offsets';

GRANT SELECT ON stream.queries, stream.progress TO PUBLIC;

CREATE FUNCTION stream._dropping_with_cascade()
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_dropping_with_cascade'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._dropping_with_cascade() IS
'internal: does the DDL command running now drop with CASCADE';

CREATE FUNCTION stream._forget_queries_using(relid oid)
RETURNS text
AS 'MODULE_PATHNAME', 'stream_forget_queries_using'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._forget_queries_using(oid) IS
'internal: drop the streaming queries that read or write a table being dropped; their names';

/*
 * A table that a query reads or writes can be dropped only with CASCADE
 * (which drops the queries too, as it drops views), whoever owns the
 * queries: the command has already checked that the caller may drop it.
 */
CREATE OR REPLACE FUNCTION stream.on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped record;
    q record;
    names text;
BEGIN
    FOR dropped IN
        SELECT objid, object_type, object_identity FROM pg_event_trigger_dropped_objects()
         WHERE classid = 'pg_class'::regclass AND objsubid = 0
    LOOP
        IF to_regclass('stream.query_defs') IS NULL THEN
            RETURN;         -- the extension itself is being dropped
        END IF;
        IF stream._dropping_with_cascade() THEN
            names := stream._forget_queries_using(dropped.objid);
            IF names IS NOT NULL THEN
                RAISE NOTICE 'drop cascades to streaming queries that use %', dropped.object_identity
                    USING DETAIL = 'Dropped: ' || names || '.';
            END IF;
        ELSE
            SELECT name, (stream_relid::oid = dropped.objid) AS is_stream
              INTO q
              FROM stream.query_defs
             WHERE stream_relid::oid = dropped.objid
                OR target_relid::oid = dropped.objid
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'cannot drop % % because streaming query "%" uses it',
                        dropped.object_type, dropped.object_identity, q.name
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = CASE WHEN q.is_stream
                                        THEN 'It is the query''s stream.'
                                        ELSE 'It is the query''s target.' END,
                          HINT = 'Drop the queries that use it with stream.drop_query(), or drop with CASCADE, which drops them too.';
            END IF;
        END IF;
        DELETE FROM stream.streams WHERE relid::oid = dropped.objid;
    END LOOP;
END
$$;
ALTER EVENT TRIGGER stream_on_sql_drop ENABLE ALWAYS;
CREATE FUNCTION stream._ddl_rewrites_xid(command pg_ddl_command)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_ddl_rewrites_xid'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION stream._ddl_rewrites_xid(pg_ddl_command) IS
'internal: does an ALTER TABLE change the type of _stream_xid or drop it';

/*
 * Batches find a stream's rows by the _stream_xid column and by where the
 * stream_heap access method places them; a command that changes either would
 * make offsets already written select the wrong rows.  After each command
 * that can change a table, the streams it touched (named by it, or linked to
 * a table it names by inheritance or a rule) are checked: the command fails,
 * and rolls back, when one no longer has the state batches rely on, or when
 * it retyped or dropped _stream_xid on the way (which rewrites the stamps of
 * rows already processed, whatever the column looks like afterwards).
 * stream.drop_stream() leaves the catalog before it changes the table, so it
 * passes.
 */
CREATE FUNCTION stream.on_ddl_command_end()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    problem text;
    touched oid[];
    rewriting oid[];
BEGIN
    IF to_regclass('stream.streams') IS NULL THEN
        RETURN;
    END IF;
    SELECT array_agg(CASE WHEN c.classid = 'pg_rewrite'::regclass
                          THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = c.objid)
                          ELSE c.objid END),
           array_agg(c.objid) FILTER (WHERE c.classid = 'pg_class'::regclass
                                        AND c.objid IN (SELECT relid FROM stream.streams)
                                        AND stream._ddl_rewrites_xid(c.command))
      INTO touched, rewriting
      FROM pg_event_trigger_ddl_commands() c
     WHERE c.classid IN ('pg_class'::regclass, 'pg_rewrite'::regclass);
    IF touched IS NULL THEN
        RETURN;
    END IF;
    FOR s IN
        SELECT c.oid, c.relname, n.nspname, c.relkind, c.reloftype, c.relpersistence,
               c.relispartition, am.amname,
               a.atttypid, a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid) AS xid_default,
               EXISTS (SELECT 1 FROM pg_inherits i
                        WHERE i.inhrelid = c.oid OR i.inhparent = c.oid) AS inherits
          FROM stream.streams st
          JOIN pg_class c ON c.oid = st.relid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_am am ON am.oid = c.relam
          LEFT JOIN pg_attribute a
                 ON a.attrelid = c.oid AND a.attname = '_stream_xid'
                AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
         WHERE c.oid = ANY (touched)
            OR EXISTS (SELECT 1 FROM pg_inherits i
                        WHERE (i.inhrelid = c.oid AND i.inhparent = ANY (touched))
                           OR (i.inhparent = c.oid AND i.inhrelid = ANY (touched)))
    LOOP
        problem := CASE
            WHEN s.oid = ANY (coalesce(rewriting, '{}'))
                THEN 'the stamps in its column _stream_xid would be rewritten'
            WHEN s.relkind <> 'r' OR s.reloftype <> 0
                THEN 'it would no longer be an ordinary table (not a view, not typed)'
            WHEN s.amname IS DISTINCT FROM 'stream_heap'
                THEN 'its access method would no longer be stream_heap'
            WHEN s.relpersistence <> 'p'
                THEN 'it would no longer be a logged, permanent table'
            WHEN s.relispartition OR s.inherits
                THEN 'it would take part in inheritance or partitioning'
            WHEN s.atttypid IS NULL
                THEN 'it would lose its column _stream_xid'
            WHEN s.atttypid <> 'pg_catalog.xid8'::pg_catalog.regtype
                 OR NOT s.attnotnull
                 OR s.xid_default IS DISTINCT FROM 'pg_current_xact_id()'
                THEN 'its column _stream_xid would no longer be a NOT NULL xid8 filled by pg_current_xact_id()'
            END;
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'cannot change stream table %.% this way',
                    quote_ident(s.nspname), quote_ident(s.relname)
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'After this command ' || problem
                               || ', and batches find a stream''s rows through those.',
                      HINT = 'Turn the table back into an ordinary table with stream.drop_stream() first.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stream.on_ddl_command_end() IS
'refuses DDL that would change what batches rely on in a stream table';

CREATE EVENT TRIGGER stream_on_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO',
                 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'CREATE RULE',
                 'CREATE SCHEMA')
    EXECUTE FUNCTION stream.on_ddl_command_end();
-- whatever session_replication_role says
ALTER EVENT TRIGGER stream_on_ddl_command_end ENABLE ALWAYS;

CREATE FUNCTION stream.on_ddl_command_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_ddl_command_start'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_ddl_command_start() IS
'notes whether a DDL command drops with CASCADE, and drops the queries of the roles DROP OWNED names';

CREATE EVENT TRIGGER stream_on_ddl_command_start ON ddl_command_start
    EXECUTE FUNCTION stream.on_ddl_command_start();
ALTER EVENT TRIGGER stream_on_ddl_command_start ENABLE ALWAYS;

REVOKE ALL ON FUNCTION stream.on_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_ddl_command_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._ddl_rewrites_xid(pg_ddl_command) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_ddl_command_start() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._dropping_with_cascade() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._forget_queries_using(oid) FROM PUBLIC;
