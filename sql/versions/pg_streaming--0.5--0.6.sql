/*
 * pg_streaming 0.5 -> 0.6: no silent loss, no silent starvation.  A
 * checkpoint knows the history it was written in and a query refuses to
 * run on another's; queries that cannot be served say so; retention never
 * waits on a row lock; strangers cannot pin, exhaust or break what is not
 * theirs.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.6'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Retention that never waits, never breaks replication, and belongs to the
-- stream's owner: max_hold bounds how long any query holds a stream's rows
-- back, the stream's owner can detach a query from retention, and the row
-- lock a pass stopped at is shown.
-- ---------------------------------------------------------------------------
ALTER TABLE stream.retention
    ADD COLUMN max_hold interval CHECK (max_hold >= '0'),
    ADD COLUMN blocked_by xid,
    ADD COLUMN blocked_since timestamptz,
    ADD COLUMN blocked_warned_at timestamptz;
COMMENT ON COLUMN stream.retention.max_hold IS
'no query, whoever owns it, keeps a row longer than this after its transaction ended; NULL: as long as it needs';
COMMENT ON COLUMN stream.retention.blocked_by IS
'the transaction whose row lock stopped the last pass (a pass never waits for a lock)';
COMMENT ON COLUMN stream.retention.blocked_since IS
'since when blocked_by has held the passes back';
COMMENT ON COLUMN stream.retention.blocked_warned_at IS
'when a pass last warned that blocked_by holds retention back';

ALTER TABLE stream.query_defs ADD COLUMN retention_detached_at timestamptz;
COMMENT ON COLUMN stream.query_defs.retention_detached_at IS
'when the stream''s owner detached the query from retention (stream.detach_query): it no longer holds the stream''s rows back';

DROP FUNCTION stream.set_retention(regclass, interval, boolean);
CREATE FUNCTION stream.set_retention(
    stream                  regclass,
    keep                    interval,
    past_inactive_queries   boolean DEFAULT false,
    max_hold                interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_set_retention'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.set_retention(regclass, interval, boolean, interval) IS
'keep a stream''s rows for "keep" and until every query has processed them, then remove them in the background and reuse their space; keep => NULL keeps everything; with past_inactive_queries, stopped and failed queries do not hold removal back and are marked as having missed rows; with max_hold, no query holds a row back longer than that after it was written, and a query that had not read it is marked';

CREATE FUNCTION stream.detach_query(stream regclass, query text)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_detach_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.detach_query(regclass, text) IS
'the stream''s owner lets retention go past one of its queries, whoever owns it: the query no longer holds rows back, and is marked when rows it had not read are removed';

CREATE OR REPLACE VIEW stream.stream_retention WITH (security_barrier) AS
SELECT r.relid AS stream,
       r.keep,
       r.past_inactive_queries,
       r.rows_removed,
       r.blocks_recycled,
       r.last_pass_at,
       q.name AS held_by_query,
       pg_catalog.pg_relation_size(r.relid) AS table_bytes,
       r.max_hold,
       r.blocked_by,
       r.blocked_since
  FROM stream.retention r
  JOIN pg_catalog.pg_class c ON c.oid = r.relid
  LEFT JOIN stream.query_defs q ON q.query_id = r.held_by
 WHERE pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER');
COMMENT ON VIEW stream.stream_retention IS 'retention of the stream tables the current role owns: what is kept, what was removed, which query holds removal back (whoever owns it: stream.detach_query lets removal go past it), how long any query may hold rows back, and the transaction whose row lock stopped the last pass';

-- ---------------------------------------------------------------------------
-- A checkpoint belongs to one transaction history.  The history is a row
-- that physical copies and pg_upgrade carry and pg_dump does not (it is no
-- configuration table); the offsets written before this update were written
-- in this database, so they are adopted as this history's.
-- ---------------------------------------------------------------------------
CREATE TABLE stream.local_history (
    history_id          bigint PRIMARY KEY,
    system_identifier   bigint NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream.local_history IS
'the transaction history of this database''s checkpoints: a random id made by CREATE EXTENSION, carried by physical copies and pg_upgrade, never by a dump';
-- this history holds every retention mark taken before the update too
INSERT INTO stream.local_history (history_id, system_identifier, created_at)
SELECT ('x' || pg_catalog.translate(pg_catalog.left(pg_catalog.gen_random_uuid()::text, 18), '-', ''))::bit(64)::bigint,
       system_identifier, '-infinity'
  FROM pg_catalog.pg_control_system();
REVOKE ALL ON stream.local_history FROM PUBLIC;

ALTER TABLE stream.checkpoint_offsets
    ADD COLUMN history_id bigint,
    ADD COLUMN system_identifier bigint;
COMMENT ON COLUMN stream.checkpoint_offsets.history_id IS
'the transaction history the offsets were written in (stream.local_history); a batch never runs on offsets of another';
COMMENT ON COLUMN stream.checkpoint_offsets.system_identifier IS
'the database system identifier of the cluster the offsets were written in, for the message when they are not this history''s';
UPDATE stream.checkpoint_offsets
   SET history_id = h.history_id, system_identifier = h.system_identifier
  FROM stream.local_history h;

CREATE FUNCTION stream.resume_restored_query(name text, restored_rows text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_resume_restored_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.resume_restored_query(text, text) IS
'carry on a query whose checkpoint came with a logical restore: restored_rows ''checkpoint'' (the restore kept the rows'' stamps: exactly once; in another cluster the stream''s owner stamps its restored rows again), ''skip'' (the restored rows count as processed) or ''deliver'' (every restored row again, into an emptied target); false when its checkpoint is already this database''s';

-- ---------------------------------------------------------------------------
-- pg_upgrade: it refuses a cluster with a column of type regprocedure (it
-- keeps no function's oid), so a foreach_batch procedure is kept as an oid
-- and as its qualified name, which renames update and by which pg_dump and
-- pg_upgrade find it again.  stream.queries shows the procedure as before.
-- ---------------------------------------------------------------------------
CREATE FUNCTION stream._procedure_signature(procedure oid)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog
AS $$
SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes))
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.oid = procedure
$$;
COMMENT ON FUNCTION stream._procedure_signature(oid) IS
'a function''s schema, name and argument types, quoted: how a foreach_batch procedure is found by name';

CREATE FUNCTION stream._foreach_batch_procedure(procedure oid, signature text)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
SELECT CASE WHEN procedure IS NULL THEN NULL
            WHEN signature IS NULL OR stream._procedure_signature(procedure) = signature THEN procedure
            ELSE coalesce(pg_catalog.to_regprocedure(signature)::oid, procedure) END
$$;
COMMENT ON FUNCTION stream._foreach_batch_procedure(oid, text) IS
'a query''s foreach_batch procedure: the recorded oid while it is the procedure of the recorded name, else the procedure of that name (after pg_dump or pg_upgrade, which keep no function''s oid)';

-- ---------------------------------------------------------------------------
-- Scheduling that never starves silently: stream.queries shows how the
-- background workers serve each active query (serving)
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream._serving(query_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'stream_serving'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._serving(bigint) IS
'internal: how the background workers serve an active query now (running, waiting for its trigger, or why a due query is not running: no scheduler, no worker slot, all workers busy), read from shared memory (stream.queries calls it for active queries only)';

-- stream.queries is made anew: the column type below is changed under it,
-- and it shows how the background workers serve each query
DROP VIEW stream.queries;
ALTER TABLE stream.query_defs
    ALTER COLUMN foreach_batch TYPE oid USING foreach_batch::oid,
    ADD COLUMN foreach_batch_name text;
UPDATE stream.query_defs
   SET foreach_batch_name = stream._procedure_signature(foreach_batch)
 WHERE foreach_batch IS NOT NULL;
COMMENT ON COLUMN stream.query_defs.foreach_batch_name IS
'the foreach_batch procedure''s qualified name and argument types, kept through renames: what finds it again after pg_dump or pg_upgrade, which keep no function''s oid';

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
       coalesce(r.held_by = q.query_id, false) AS holds_retention,
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
       CASE WHEN q.status = 'active' THEN stream._serving(q.query_id) END AS serving
  FROM stream.query_defs q
  LEFT JOIN stream.retention r ON r.relid = q.stream_relid
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
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.queries IS 'streaming queries: id, status, trigger, last committed batch, rows pending (estimated; stream.pending_rows() counts them), lag in seconds, input and processed rows per second over the last ten batches, blocks the last batch read, last error, whether the query holds retention back or missed rows retention removed, a streaming aggregation''s state table, the event-time column, the watermark delay and the watermark in force for the next batch, an upsert key, a foreach_batch procedure, and how the background workers serve it now (serving: running, waiting for its trigger, or why a due query is not running)';
GRANT SELECT ON stream.queries TO PUBLIC;
