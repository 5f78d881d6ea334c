/*
 * pg_streaming 0.5 -> 0.6: no silent loss, no silent starvation.  A
 * checkpoint knows the history it was written in and a query refuses to
 * run on another's; queries that cannot be served say so; retention never
 * waits on a row lock; strangers cannot pin, exhaust or break what is not
 * theirs.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.6'" to load this file. \quit

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

CREATE OR REPLACE VIEW stream.queries WITH (security_barrier) AS
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
       q.foreach_batch,
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
