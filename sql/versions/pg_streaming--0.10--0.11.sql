/*
 * pg_streaming 0.10 -> 0.11: the checkpoint and progress tables whose rows
 * belong to a batch's offsets lose their foreign keys to
 * stream.checkpoint_offsets.  A key was checked for every row a batch
 * writes (its commit, progress and operator rows, its watermarks and a
 * join's side rows), and every few batches the removal of old offsets
 * cascaded into the six tables; the statements that remove offsets now
 * remove those rows themselves.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.11'" to load this file. \quit

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT k.conrelid::regclass AS tab, k.conname
          FROM pg_catalog.pg_constraint k
         WHERE k.contype = 'f'
           AND k.confrelid = 'stream.checkpoint_offsets'::regclass
           AND k.conrelid IN ('stream.checkpoint_commits'::regclass,
                              'stream.progress_log'::regclass,
                              'stream.checkpoint_watermarks'::regclass,
                              'stream.checkpoint_sides'::regclass,
                              'stream.progress_side_log'::regclass,
                              'stream.progress_operator_log'::regclass)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', c.tab, c.conname);
    END LOOP;
END
$$;

COMMENT ON TABLE stream.checkpoint_offsets IS
'write-ahead offsets: one row per planned batch, committed before the batch runs; the batch''s rows of the other checkpoint and progress tables are removed with it';

-- A stream's _stream_xid need not be declared NOT NULL: the access method
-- refuses a null stamp itself, and streams made from now on leave the
-- constraint out (the executor's check of it cost every row it writes).
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
CREATE OR REPLACE FUNCTION stream.on_ddl_command_end()
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
