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

-- monitoring from the coordinator: the nodes' figures of each distributed
-- query's shards (stream.query_shards), and the distributed queries in
-- stream.queries and stream.progress (the two views are written once here,
-- in their 0.9 form)
CREATE FUNCTION stream._query_shards(progress boolean)
RETURNS TABLE (name text, shardid bigint, node text, shard_query text,
               applied_status text, last_error text, desired_status text,
               node_error text, figures jsonb)
AS 'MODULE_PATHNAME', 'stream_query_shards'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._query_shards(boolean) IS
'internal: the shards of the distributed queries the current role may see, with the node''s stream.queries row of each shard''s query (progress false), or its stream.progress rows (true), asked of every node at once as the current role';

CREATE FUNCTION stream._node_figures(progress boolean, names text[])
RETURNS text
AS 'MODULE_PATHNAME', 'stream_node_figures'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._node_figures(boolean, text[]) IS
'internal: on a Citus node, the current role''s stream.queries rows (progress false) or stream.progress rows (true) of the named queries as a JSON array, for the coordinator';

CREATE OR REPLACE VIEW stream.queries WITH (security_barrier) AS
-- one subquery under the barrier: a UNION ALL at the top of a view is
-- flattened into its arms, and the caller's quals would reach them first
SELECT * FROM (
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
       pr.n AS pending_rows,
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
       q.created_at,
       EXISTS (SELECT 1 FROM stream.retention r
                WHERE r.held_by = q.query_id) AS holds_retention,
       q.missed_rows_at,
       q.state_relid AS state_table,
       q.event_time,
       q.watermark_delay,
       q.dedup_columns AS deduplicate,
       (SELECT p.next_watermark FROM stream.progress_log p
         WHERE p.query_id = q.query_id ORDER BY p.batch_id DESC LIMIT 1) AS watermark,
       q.query_id AS id,
       q.key_columns AS key,
       stream._foreach_batch_procedure(q.foreach_batch, q.foreach_batch_name)::regprocedure AS foreach_batch,
       q.altered_at,
       round(extract(epoch FROM
                     CASE WHEN pr.n > 0 THEN now() - coalesce(c.planned_at, q.created_at)
                          WHEN c.batch_id IS NULL THEN interval '0'
                          ELSE c.committed_at - c.planned_at END)::numeric, 3) AS lag_seconds,
       rp.input_rows_per_second,
       rp.processed_rows_per_second,
       rp.blocks_read AS last_batch_blocks_read,
       CASE WHEN q.status = 'active' THEN stream._serving(q.query_id) END AS serving,
       coalesce((SELECT pg_catalog.array_agg(s.relid ORDER BY s.side) FROM stream.query_side_defs s
                  WHERE s.query_id = q.query_id),
                ARRAY[q.stream_relid]) AS streams,
       coalesce(q.watermarks,
                (SELECT pg_catalog.array_agg(pg_catalog.format('%s.%s %s', pg_catalog.quote_ident(s.name),
                                                               pg_catalog.quote_ident(s.event_time),
                                                               s.watermark_delay) ORDER BY s.side)
                   FROM stream.query_side_defs s
                  WHERE s.query_id = q.query_id AND s.event_time IS NOT NULL),
                CASE WHEN q.event_time IS NOT NULL THEN
                    ARRAY[pg_catalog.format('%s.%s %s',
                                            (SELECT pg_catalog.quote_ident(c.relname::text) FROM pg_catalog.pg_class c
                                              WHERE c.oid = q.stream_relid),
                                            pg_catalog.quote_ident(q.event_time), q.watermark_delay)] END) AS watermarks,
       q.watermark_policy,
       ARRAY(SELECT u.name FROM stream.query_defs u
              WHERE u.query_id <> q.query_id
                AND (u.target_relid = q.stream_relid
                     OR u.target_relid IN (SELECT s.relid FROM stream.query_side_defs s
                                            WHERE s.query_id = q.query_id))
                AND pg_catalog.pg_has_role(current_user, u.owner, 'MEMBER')
              ORDER BY u.name) AS upstream,
       ARRAY(SELECT d.name FROM stream.query_defs d
              WHERE d.query_id <> q.query_id
                AND (d.stream_relid = q.target_relid
                     OR EXISTS (SELECT 1 FROM stream.query_side_defs s
                                 WHERE s.query_id = d.query_id AND s.relid = q.target_relid))
                AND pg_catalog.pg_has_role(current_user, d.owner, 'MEMBER')
              ORDER BY d.name) AS downstream,
       q.events_channel,
       q.on_error,
       io.input_rows,
       io.output_rows,
       NULL::bigint AS shards
  FROM stream.query_defs q
  LEFT JOIN LATERAL (SELECT k.batch_id, k.committed_at, o.planned_at
                       FROM stream.checkpoint_commits k
                       JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
                      WHERE k.query_id = q.query_id
                      ORDER BY k.batch_id DESC LIMIT 1) c ON true
  CROSS JOIN LATERAL (SELECT stream._pending_rows(q.query_id) AS n OFFSET 0) pr
  LEFT JOIN LATERAL (SELECT round(sum(p.input_rows)
                                  / greatest(extract(epoch FROM max(p.finished_at) - min(p.started_at)), 0.001),
                                  1) AS input_rows_per_second,
                            round(sum(p.input_rows)
                                  / greatest(extract(epoch FROM sum(p.finished_at - p.started_at)), 0.001),
                                  1) AS processed_rows_per_second,
                            (array_agg(p.blocks_read ORDER BY p.batch_id DESC))[1] AS blocks_read
                       FROM (SELECT * FROM stream.progress_log l
                              WHERE l.query_id = q.query_id
                              ORDER BY l.batch_id DESC LIMIT 10) p) rp ON true
  LEFT JOIN LATERAL (SELECT pg_catalog.sum(p.input_rows)::bigint AS input_rows,
                            pg_catalog.sum(p.output_rows)::bigint AS output_rows
                       FROM stream.progress_log p
                      WHERE p.query_id = q.query_id) io ON true
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER')
-- a distributed query (on the coordinator, with Citus): once, its status
-- from the catalog and its shards, its figures summed over the shards (the
-- lag the largest, the watermark the smallest); stream.query_shards has
-- each shard's
UNION ALL
SELECT d.name,
       d.owner,
       CASE WHEN d.desired_status = 'dropped' THEN 'dropping'
            WHEN d.desired_status = 'stopped' THEN 'stopped'
            WHEN f.failed THEN 'failed'
            WHEN f.starting OR f.name IS NULL THEN 'starting'
            ELSE 'active' END,
       coalesce(f.output_mode, d.options ->> 'output_mode'),
       coalesce(f.trigger, d.options ->> 'trigger'),
       coalesce(f.max_rows_per_batch, (d.options ->> 'max_rows_per_batch')::integer),
       d.stream_relid,
       d.target_relid,
       f.last_batch_id,
       f.last_batch_at,
       f.pending_rows,
       f.pending_batches,
       coalesce(f.failed_error, f.start_error, f.node_error),
       f.failed_sqlstate,
       f.failed_at,
       NULL::text,
       NULL::text,
       d.query_text,
       d.created_at,
       f.holds_retention,
       f.missed_rows_at,
       NULL::regclass,
       d.options ->> 'event_time',
       f.watermark_delay,
       NULL::text[],
       f.watermark,
       NULL::bigint,
       NULL::text[],
       NULL::regprocedure,
       d.altered_at,
       f.lag_seconds,
       f.input_rows_per_second,
       f.processed_rows_per_second,
       f.blocks_read,
       NULL::text,
       ARRAY[d.stream_relid],
       NULL::text[],
       NULL::text,
       ARRAY[]::text[],
       ARRAY[]::text[],
       NULL::text,
       f.on_error,
       f.input_rows,
       f.output_rows,
       coalesce(f.shards, 0)
  FROM stream.distributed_queries d
  LEFT JOIN (SELECT s.name,
                    pg_catalog.count(*) AS shards,
                    pg_catalog.bool_or(s.figures ->> 'status' = 'failed') AS failed,
                    pg_catalog.bool_or(s.applied_status IS NULL) AS starting,
                    (pg_catalog.array_agg(pg_catalog.format('shard %s on %s: %s', s.shardid, s.node, s.figures ->> 'last_error')
                                          ORDER BY s.shardid) FILTER (WHERE s.figures ->> 'status' = 'failed'))[1] AS failed_error,
                    (pg_catalog.array_agg(s.figures ->> 'last_error_sqlstate' ORDER BY s.shardid)
                       FILTER (WHERE s.figures ->> 'status' = 'failed'))[1] AS failed_sqlstate,
                    pg_catalog.max((s.figures ->> 'last_error_at')::timestamptz)
                      FILTER (WHERE s.figures ->> 'status' = 'failed') AS failed_at,
                    (pg_catalog.array_agg(pg_catalog.format('shard %s on %s: %s', s.shardid, s.node, s.last_error)
                                          ORDER BY s.shardid) FILTER (WHERE s.last_error IS NOT NULL))[1] AS start_error,
                    (pg_catalog.array_agg(s.node_error ORDER BY s.shardid)
                       FILTER (WHERE s.node_error IS NOT NULL))[1] AS node_error,
                    pg_catalog.min(s.figures ->> 'output_mode') AS output_mode,
                    pg_catalog.min(s.figures ->> 'trigger') AS trigger,
                    pg_catalog.min((s.figures ->> 'max_rows_per_batch')::integer) AS max_rows_per_batch,
                    pg_catalog.sum((s.figures ->> 'last_batch_id')::bigint)::bigint AS last_batch_id,
                    pg_catalog.max((s.figures ->> 'last_batch_at')::timestamptz) AS last_batch_at,
                    pg_catalog.sum((s.figures ->> 'pending_rows')::bigint)::bigint AS pending_rows,
                    pg_catalog.sum((s.figures ->> 'pending_batches')::bigint)::bigint AS pending_batches,
                    pg_catalog.bool_or((s.figures ->> 'holds_retention')::boolean) AS holds_retention,
                    pg_catalog.max((s.figures ->> 'missed_rows_at')::timestamptz) AS missed_rows_at,
                    pg_catalog.min((s.figures ->> 'watermark_delay')::interval) AS watermark_delay,
                    pg_catalog.min((s.figures ->> 'watermark')::timestamptz) AS watermark,
                    pg_catalog.max((s.figures ->> 'lag_seconds')::numeric) AS lag_seconds,
                    pg_catalog.sum((s.figures ->> 'input_rows_per_second')::numeric) AS input_rows_per_second,
                    pg_catalog.sum((s.figures ->> 'processed_rows_per_second')::numeric) AS processed_rows_per_second,
                    pg_catalog.sum((s.figures ->> 'last_batch_blocks_read')::bigint)::bigint AS blocks_read,
                    pg_catalog.min(s.figures ->> 'on_error') AS on_error,
                    pg_catalog.sum((s.figures ->> 'input_rows')::bigint)::bigint AS input_rows,
                    pg_catalog.sum((s.figures ->> 'output_rows')::bigint)::bigint AS output_rows
               FROM stream._query_shards(false) s
              GROUP BY s.name) f ON f.name = d.name
 WHERE pg_catalog.pg_has_role(current_user, d.owner, 'MEMBER')
) queries;
COMMENT ON VIEW stream.queries IS 'streaming queries: id, status, trigger, last committed batch, rows pending (estimated; stream.pending_rows() counts them), lag in seconds, input and processed rows per second over the last ten batches, blocks the last batch read, last error, whether the query holds retention back or missed rows retention removed, a streaming aggregation''s state table, the event-time column, the watermark delay and the watermark in force for the next batch, an upsert key, a foreach_batch procedure, how the background workers serve it now (serving: running, waiting for its trigger, or why a due query is not running), every stream it reads (a join reads two; stream is the first), its watermarks as ''<side>.<column> <delay>'', a join''s watermark policy, and the queries that write a stream it reads (upstream) and that read its target as their stream (downstream), of the roles the current role belongs to only; and the channel its batches'' events are sent on (events_channel: LISTEN to it); what a row whose data fails a batch does (on_error); the rows the batches kept (pg_streaming.retained_batches) read and wrote (input_rows, output_rows); and each distributed query (with Citus, on the coordinator) once: its status from the coordinator''s catalog and its shards (starting while a shard''s query has not started, failed naming the first failed shard), its figures summed over the shards (last_batch_id: the batches of all shards), its lag the largest and its watermark the smallest of the shards'', the number of shards (shards; stream.query_shards shows each)';

CREATE OR REPLACE VIEW stream.progress WITH (security_barrier) AS
-- one subquery under the barrier (see stream.queries)
SELECT * FROM (
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
       o.end_snapshot AS end_offset,
       p.state_rows,
       p.state_rows_updated,
       p.watermark,
       p.event_time_min,
       p.event_time_max,
       p.event_time_avg,
       p.late_rows,
       p.blocks_read,
       round(p.plan_ms::numeric, 3) AS plan_ms,
       round(p.read_ms::numeric, 3) AS read_ms,
       round(p.merge_ms::numeric, 3) AS merge_ms,
       round(p.write_ms::numeric, 3) AS write_ms,
       (SELECT round(n.previous_commit_ms::numeric, 3) FROM stream.progress_log n
         WHERE n.query_id = p.query_id AND n.batch_id = p.batch_id + 1) AS commit_ms,
       p.state_bytes,
       p.dead_letters,
       NULL::bigint AS shard
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER')
-- a distributed query's batches (on the coordinator, with Citus): a row per
-- batch of each shard's query that its node keeps, the shard named
UNION ALL
SELECT s.name,
       (s.figures ->> 'batch_id')::bigint,
       (s.figures ->> 'started_at')::timestamptz,
       (s.figures ->> 'finished_at')::timestamptz,
       (s.figures ->> 'input_rows')::bigint,
       (s.figures ->> 'output_rows')::bigint,
       (s.figures ->> 'processed_rows_per_second')::numeric,
       (s.figures ->> 'duration_ms')::numeric,
       (s.figures ->> 'replayed')::boolean,
       (s.figures ->> 'start_offset')::pg_snapshot,
       (s.figures ->> 'end_offset')::pg_snapshot,
       (s.figures ->> 'state_rows')::bigint,
       (s.figures ->> 'state_rows_updated')::bigint,
       (s.figures ->> 'watermark')::timestamptz,
       (s.figures ->> 'event_time_min')::timestamptz,
       (s.figures ->> 'event_time_max')::timestamptz,
       (s.figures ->> 'event_time_avg')::timestamptz,
       (s.figures ->> 'late_rows')::bigint,
       (s.figures ->> 'blocks_read')::bigint,
       (s.figures ->> 'plan_ms')::numeric,
       (s.figures ->> 'read_ms')::numeric,
       (s.figures ->> 'merge_ms')::numeric,
       (s.figures ->> 'write_ms')::numeric,
       (s.figures ->> 'commit_ms')::numeric,
       (s.figures ->> 'state_bytes')::bigint,
       (s.figures ->> 'dead_letters')::bigint,
       s.shardid
  FROM stream._query_shards(true) s
 WHERE s.figures IS NOT NULL
) progress;
COMMENT ON VIEW stream.progress IS 'one row per committed batch of the latest ones (pg_streaming.retained_batches): input rows, rows per second, duration, offsets, blocks read; for a streaming aggregation, the groups in its state and the groups the batch changed; with an event time, the watermark in force, the batch''s event times and the late groups it dropped; where the run''s time went (plan_ms, read_ms, merge_ms, write_ms: parts of duration_ms) and its commit''s (commit_ms, after duration_ms, known once the same process runs the next batch); the size of the state tables after it (state_bytes); the rows it set aside as dead letters; for a distributed query (with Citus, on the coordinator), each shard''s batches that its node keeps, the shard named (shard)';

CREATE VIEW stream.query_shards WITH (security_barrier) AS
SELECT s.name,
       s.shardid,
       s.node,
       s.shard_query,
       s.applied_status,
       s.last_error,
       s.node_error,
       s.figures ->> 'status' AS status,
       (s.figures ->> 'last_batch_id')::bigint AS batches,
       (s.figures ->> 'last_batch_at')::timestamptz AS last_batch_at,
       (s.figures ->> 'input_rows')::bigint AS input_rows,
       (s.figures ->> 'output_rows')::bigint AS output_rows,
       (s.figures ->> 'pending_rows')::bigint AS pending_rows,
       (s.figures ->> 'lag_seconds')::numeric AS lag_seconds,
       (s.figures ->> 'watermark')::timestamptz AS watermark,
       (s.figures ->> 'input_rows_per_second')::numeric AS input_rows_per_second,
       s.figures ->> 'last_error' AS query_error,
       s.figures ->> 'last_error_sqlstate' AS query_error_sqlstate,
       (s.figures ->> 'last_error_at')::timestamptz AS query_error_at,
       s.figures ->> 'serving' AS serving
  FROM stream._query_shards(false) s;
COMMENT ON VIEW stream.query_shards IS 'on a Citus coordinator: one row per shard of each distributed query of the roles the current role belongs to: the node holding the shard now (name:port), the shard''s query there, the status the coordinator last brought it to (applied_status) or why it could not (last_error), and the node''s own figures for the shard''s query, read from the node at once as the current role: its status, batches, last batch, rows read and written by the batches it keeps, rows pending, lag, watermark, rows per second, its last error (query_error), how its background worker serves it; node_error when the node did not answer (then the figures are NULL)';
GRANT SELECT ON stream.query_shards TO PUBLIC;

-- on a Citus coordinator: a table that a distributed query reads or writes
-- is dropped only with CASCADE, which drops the query too
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

-- alter_query on a distributed query: the definition each shard was brought to
ALTER TABLE stream.distributed_query_shards ADD COLUMN applied_at timestamptz;
COMMENT ON COLUMN stream.distributed_query_shards.applied_at IS
'the query''s altered_at whose definition the shard''s query was last brought to; the shard is brought to the query''s text and options again while they differ';

CREATE FUNCTION stream._alter_shard_query(
    distributed_query   text,
    shard_query         text,
    query               text,
    search_path         text,
    relation_map        jsonb,
    options             jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_alter_shard_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._alter_shard_query(text, text, text, text, jsonb, jsonb) IS
'internal, on a Citus node: bring the query shard_query of distributed query distributed_query to the text query (rewritten as stream._start_shard_query rewrites it) and to the trigger, cap and watermark of options, with stream.alter_query as the caller; the same call again changes nothing';
