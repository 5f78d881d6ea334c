-- ---------------------------------------------------------------------------
-- Event triggers: keep the catalog consistent with dropped tables, and keep
-- DDL from turning a stream table into something its offsets do not cover
-- ---------------------------------------------------------------------------

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
CREATE FUNCTION stream.on_sql_drop()
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
            SELECT name, (stream_relid::oid = dropped.objid) AS is_stream,
                   (state_relid::oid = dropped.objid) AS is_state,
                   (definition_view::oid = dropped.objid) AS is_view
              INTO q
              FROM stream.query_defs
             WHERE stream_relid::oid = dropped.objid
                OR target_relid::oid = dropped.objid
                OR state_relid::oid = dropped.objid
                OR definition_view::oid = dropped.objid
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'cannot drop % % because streaming query "%" uses it',
                        dropped.object_type, dropped.object_identity, q.name
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = CASE WHEN q.is_stream
                                        THEN 'It is the query''s stream.'
                                        WHEN q.is_state
                                        THEN 'It is the query''s state.'
                                        WHEN q.is_view
                                        THEN 'It is the query''s definition.'
                                        ELSE 'It is the query''s target.' END,
                          HINT = 'Drop the queries that use it with stream.drop_query(), or drop with CASCADE, which drops them too.';
            END IF;
        END IF;
        -- on a Citus coordinator: the distributed queries over the table
        IF to_regclass('stream.distributed_queries') IS NOT NULL THEN
            IF stream._dropping_with_cascade() THEN
                SELECT string_agg(quote_literal(name), ', ' ORDER BY name) INTO names
                  FROM stream.distributed_queries
                 WHERE (stream_relid::oid = dropped.objid OR target_relid::oid = dropped.objid)
                   AND desired_status <> 'dropped';
                IF names IS NOT NULL THEN
                    UPDATE stream.distributed_queries SET desired_status = 'dropped'
                     WHERE (stream_relid::oid = dropped.objid OR target_relid::oid = dropped.objid);
                    RAISE NOTICE 'drop cascades to distributed streaming queries that use %', dropped.object_identity
                        USING DETAIL = 'Dropped: ' || names || '; their shards'' queries are dropped on the nodes after the commit.';
                END IF;
            ELSE
                SELECT name, (stream_relid::oid = dropped.objid) AS is_stream INTO q
                  FROM stream.distributed_queries
                 WHERE (stream_relid::oid = dropped.objid OR target_relid::oid = dropped.objid)
                   AND desired_status <> 'dropped'
                 ORDER BY name LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'cannot drop % % because distributed streaming query "%" uses it',
                            dropped.object_type, dropped.object_identity, q.name
                        USING ERRCODE = 'dependent_objects_still_exist',
                              DETAIL = CASE WHEN q.is_stream THEN 'It is the query''s stream.'
                                            ELSE 'It is the query''s target.' END,
                              HINT = 'Drop the queries that use it with stream.drop_query(), or drop with CASCADE, which drops them too.';
                END IF;
            END IF;
        END IF;
        DELETE FROM stream.streams WHERE relid::oid = dropped.objid;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stream.on_sql_drop() IS
'keeps the catalog consistent when stream tables or targets are dropped';

CREATE EVENT TRIGGER stream_on_sql_drop ON sql_drop
    EXECUTE FUNCTION stream.on_sql_drop();
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
    citus boolean;
    readers text;
BEGIN
    IF to_regclass('stream.streams') IS NULL THEN
        RETURN;
    END IF;
    -- on a Citus node, shards are hidden from pg_class in client sessions;
    -- not from this check (undone when the function returns)
    citus := to_regprocedure('pg_catalog.relation_is_a_known_shard(regclass)') IS NOT NULL;
    IF citus THEN
        PERFORM pg_catalog.set_config('citus.override_table_visibility', 'off', true);
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
               a.atttypid,
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
            -- NOT NULL or not: the access method refuses a null stamp itself
            WHEN s.atttypid <> 'pg_catalog.xid8'::pg_catalog.regtype
                 OR s.xid_default IS DISTINCT FROM 'pg_current_xact_id()'
                THEN 'its column _stream_xid would no longer be an xid8 filled by pg_current_xact_id()'
            END;
        -- a shard of a distributed stream follows the coordinator's table
        -- (stream.drop_stream there): it stops being a stream of this node,
        -- unless queries of this node read it
        IF problem IS NOT NULL AND citus THEN
            IF pg_catalog.relation_is_a_known_shard(s.oid) THEN
                SELECT pg_catalog.string_agg(pg_catalog.quote_ident(q.name), ', ' ORDER BY q.name)
                  INTO readers
                  FROM stream.query_defs q
                 WHERE q.stream_relid::oid = s.oid
                    OR q.query_id IN (SELECT sd.query_id FROM stream.query_side_defs sd
                                       WHERE sd.relid::oid = s.oid);
                IF readers IS NULL THEN
                    DELETE FROM stream.streams WHERE relid::oid = s.oid;
                    CONTINUE;
                END IF;
                RAISE EXCEPTION 'cannot change shard %.% of a distributed stream this way',
                        quote_ident(s.nspname), quote_ident(s.relname)
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          DETAIL = 'After this command ' || problem
                                   || ', and streaming queries of this node read the shard: '
                                   || readers || '.',
                          HINT = 'Drop the distributed queries over the stream on the coordinator first.';
            END IF;
        END IF;
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

CREATE FUNCTION stream.on_table_rewrite()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_table_rewrite'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_table_rewrite() IS
'refuses to rewrite a stream table while a query is part-way through the rows of one transaction it splits by block';

CREATE EVENT TRIGGER stream_on_table_rewrite ON table_rewrite
    EXECUTE FUNCTION stream.on_table_rewrite();
ALTER EVENT TRIGGER stream_on_table_rewrite ENABLE ALWAYS;

CREATE FUNCTION stream.on_rename()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_rename'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_rename() IS
'after a rename, the text of each query that reads what was renamed becomes its analyzed form deparsed, which follows the rename';

CREATE FUNCTION stream.on_rename_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_rename_start'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_rename_start() IS
'before a rename, lock the rows of the queries, as a batch does before it opens what its query reads';

CREATE EVENT TRIGGER stream_on_rename_start ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW',
                 'ALTER FOREIGN TABLE', 'ALTER FUNCTION', 'ALTER PROCEDURE', 'ALTER ROUTINE',
                 'ALTER AGGREGATE', 'ALTER TYPE', 'ALTER DOMAIN', 'ALTER OPERATOR',
                 'ALTER COLLATION', 'ALTER SEQUENCE', 'ALTER TEXT SEARCH CONFIGURATION',
                 'ALTER TEXT SEARCH DICTIONARY', 'ALTER EXTENSION')
    EXECUTE FUNCTION stream.on_rename_start();
ALTER EVENT TRIGGER stream_on_rename_start ENABLE ALWAYS;

CREATE EVENT TRIGGER stream_on_rename ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER SCHEMA', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW',
                 'ALTER FOREIGN TABLE', 'ALTER FUNCTION', 'ALTER PROCEDURE', 'ALTER ROUTINE',
                 'ALTER AGGREGATE', 'ALTER TYPE', 'ALTER DOMAIN', 'ALTER OPERATOR',
                 'ALTER COLLATION', 'ALTER SEQUENCE', 'ALTER TEXT SEARCH CONFIGURATION',
                 'ALTER TEXT SEARCH DICTIONARY', 'ALTER EXTENSION')
    EXECUTE FUNCTION stream.on_rename();
ALTER EVENT TRIGGER stream_on_rename ENABLE ALWAYS;
