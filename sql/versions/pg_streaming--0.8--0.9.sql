/*
 * pg_streaming 0.8 -> 0.9: streams distributed with Citus.  A query over a
 * distributed stream, started on the coordinator, runs as one query per
 * shard on the node holding it (stream.distributed_queries and
 * stream.distributed_query_shards on the coordinator,
 * stream.query_defs.distributed_query on the nodes).
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.9'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Distributed queries (with Citus): a query over a distributed stream,
-- started on the coordinator, runs as one query per shard on the node that
-- holds the shard.  The coordinator keeps what the user asked for here; the
-- shard queries are ordinary queries in the nodes' own catalogs.
-- ---------------------------------------------------------------------------
CREATE TABLE stream.distributed_queries (
    name                text PRIMARY KEY,
    owner               regrole NOT NULL,
    query_text          text NOT NULL,
    search_path         text NOT NULL,
    stream_relid        regclass NOT NULL,
    target_relid        regclass,
    distribution_column text NOT NULL,
    placement           text NOT NULL CHECK (placement IN ('per_shard', 'merge')),
    options             jsonb NOT NULL DEFAULT '{}',
    desired_status      text NOT NULL DEFAULT 'active'
        CHECK (desired_status IN ('active', 'stopped', 'dropped')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    altered_at          timestamptz
);
COMMENT ON TABLE stream.distributed_queries IS
'streaming queries over distributed streams (Citus), started on the coordinator: each runs as one query per shard on the node holding the shard';
COMMENT ON COLUMN stream.distributed_queries.placement IS
'per_shard: every shard''s query writes its co-located target shard; merge: the shards'' partial states are merged on the coordinator';
COMMENT ON COLUMN stream.distributed_queries.options IS
'start_query''s other arguments as given (output_mode, trigger, key, event_time, watermark, ...), passed to every shard''s query';
COMMENT ON COLUMN stream.distributed_queries.desired_status IS
'what the owner asked for; the coordinator brings every shard''s query to it (stream.distributed_query_shards says how far)';

CREATE TABLE stream.distributed_query_shards (
    name                text NOT NULL REFERENCES stream.distributed_queries
        ON UPDATE CASCADE ON DELETE CASCADE,
    shardid             bigint NOT NULL,
    target_shardid      bigint,
    shard_query         text NOT NULL,
    applied_status      text
        CHECK (applied_status IN ('active', 'stopped', 'dropped')),
    last_error          text,
    last_error_at       timestamptz,
    PRIMARY KEY (name, shardid)
);
COMMENT ON TABLE stream.distributed_query_shards IS
'the shards of each distributed query: the query of that name runs on the node holding the stream''s shard';
COMMENT ON COLUMN stream.distributed_query_shards.applied_status IS
'the status last brought about on the shard''s node: NULL until the shard''s query was started';
COMMENT ON COLUMN stream.distributed_query_shards.last_error IS
'why the shard''s node could not be brought to the desired status (retried), NULL once it was';
REVOKE ALL ON stream.distributed_queries, stream.distributed_query_shards FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_queries', '');
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_query_shards', '');

-- on a node: the distributed query (named on the coordinator) that a shard's query is part of
ALTER TABLE stream.query_defs ADD COLUMN distributed_query text;
COMMENT ON COLUMN stream.query_defs.distributed_query IS
'on a Citus node: the coordinator''s distributed query this query runs one shard of, NULL for a query of this database alone';

-- on a Citus node: one shard's query of a distributed query
CREATE FUNCTION stream._start_shard_query(
    distributed_query   text,
    shard_query         text,
    query               text,
    search_path         text,
    stream_shard        regclass,
    target_shard        regclass,
    relation_map        jsonb,
    options             jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_shard_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._start_shard_query(text, text, text, text, regclass, regclass, jsonb, jsonb) IS
'internal, on a Citus node: start, as the caller, the query shard_query of distributed query distributed_query over this node''s stream_shard into target_shard, its text rewritten to name the local relations of relation_map (distributed table -> local shard) and options as stream.start_query''s named arguments; returns its id (the same call again returns the same id)';

CREATE FUNCTION stream._reconcile_distributed(name text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'stream_reconcile_distributed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._reconcile_distributed(text) IS
'on a Citus coordinator: bring each shard of the named distributed query (NULL: of every one the caller may manage) to the status its query asks for, on the shard''s node; returns the shard rows still not as desired';

-- on a Citus node: the DDL guard sees shards (hidden from pg_class in client
-- sessions), and a shard that stops being a stream as its distributed table does
-- leaves stream.streams unless queries of the node read it
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

-- the exchanges of merged distributed aggregations (Citus), made by the
-- coordinator, owned by the extension's owner: names visible to the shards'
-- queries' owners (who pass the exchange's shard as a regclass), tables
-- readable and writable by the extension's owner alone
CREATE SCHEMA stream_exchange;
COMMENT ON SCHEMA stream_exchange IS
'exchanges of merged distributed aggregations: each shard''s batches append their partial groups, the coordinator merges them';
REVOKE ALL ON SCHEMA stream_exchange FROM PUBLIC;
GRANT USAGE ON SCHEMA stream_exchange TO PUBLIC;

-- merge placement: on the coordinator, a distributed aggregation whose shards'
-- partial states are merged there, and how far each shard's were merged
CREATE TABLE stream.distributed_merges (
    name                text PRIMARY KEY REFERENCES stream.distributed_queries
        ON UPDATE CASCADE ON DELETE CASCADE,
    merge_id            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    output_mode         text NOT NULL
        CHECK (output_mode IN ('append', 'update', 'complete')),
    target_columns      text[] NOT NULL,
    event_time          text,
    watermark_delay     interval,
    state_relid         regclass NOT NULL,
    exchange_relid      regclass NOT NULL,
    merges              bigint NOT NULL DEFAULT 0,
    watermark           timestamptz,
    last_merge_at       timestamptz
);
COMMENT ON TABLE stream.distributed_merges IS
'on the coordinator: distributed aggregations not grouped by the distribution column, whose shards'' partial states (the exchange table) are merged into the coordinator''s state and target';
COMMENT ON COLUMN stream.distributed_merges.output_mode IS
'the output mode of the coordinator''s target (the shards'' queries run in output mode partial)';
COMMENT ON COLUMN stream.distributed_merges.exchange_relid IS
'the exchange: a table distributed and co-located with the stream, where each shard''s batch appends its partial groups in its own transaction';
COMMENT ON COLUMN stream.distributed_merges.merges IS
'the merges committed: each merge combines the exchange rows of the shards'' batches after their marks';
COMMENT ON COLUMN stream.distributed_merges.watermark IS
'the watermark in force after the latest merge: the least of the shards'' latest event times less the delay, NULL while a shard has merged none';

CREATE TABLE stream.distributed_merge_shards (
    name                text NOT NULL REFERENCES stream.distributed_merges
        ON UPDATE CASCADE ON DELETE CASCADE,
    shard_query         text NOT NULL,
    merged_batch        bigint NOT NULL DEFAULT 0,
    max_event_time      timestamptz,
    merged_at           timestamptz,
    PRIMARY KEY (name, shard_query)
);
COMMENT ON TABLE stream.distributed_merge_shards IS
'the mark of each shard of a merged distributed query: the latest of its batches whose partial groups the coordinator merged';
COMMENT ON COLUMN stream.distributed_merge_shards.max_event_time IS
'the latest event time among the shard''s merged batches; NULL (an idle shard) holds the query''s watermark back';
REVOKE ALL ON stream.distributed_merges, stream.distributed_merge_shards FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_merges', '');
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_merge_shards', '');

-- a shard's query of a merged aggregation writes its batches' partial groups
ALTER TABLE stream.query_defs DROP CONSTRAINT query_defs_output_mode_check;
ALTER TABLE stream.query_defs ADD CONSTRAINT query_defs_output_mode_check
    CHECK (output_mode IN ('append', 'update', 'complete', 'partial'));

CREATE FUNCTION stream._merge_distributed(name text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_merge_distributed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._merge_distributed(text) IS
'internal, on a Citus coordinator: merge the partial groups the shards'' batches wrote since the last merge into the coordinator''s state and target, and advance each shard''s mark, in the caller''s transaction; returns the exchange rows merged';
