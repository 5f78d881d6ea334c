-- ---------------------------------------------------------------------------
-- Views for people: each shows only the queries of roles the current role
-- belongs to.  They are security barriers, so that no function in a caller's
-- WHERE clause sees a row before that filter has run.
-- ---------------------------------------------------------------------------

CREATE VIEW stream.queries WITH (security_barrier) AS
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

CREATE VIEW stream.progress WITH (security_barrier) AS
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

CREATE VIEW stream.query_sides WITH (security_barrier) AS
SELECT q.name AS query,
       s.side,
       s.name,
       s.relid AS stream,
       s.event_time,
       s.watermark_delay AS delay,
       l.watermark,
       l.state_rows,
       (SELECT pg_catalog.sum(p.late_rows)::bigint FROM stream.progress_side_log p
         WHERE p.query_id = s.query_id AND p.side = s.side) AS late_rows
  FROM stream.query_side_defs s
  JOIN stream.query_defs q USING (query_id)
  LEFT JOIN LATERAL (SELECT p.watermark, p.state_rows FROM stream.progress_side_log p
                      WHERE p.query_id = s.query_id AND p.side = s.side
                      ORDER BY p.batch_id DESC LIMIT 1) l ON true
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.query_sides IS 'the two sides of each join between streams: the side''s name in the query, its stream, its event-time column and watermark delay, its watermark and the rows the join keeps of it after the latest committed batch, and its rows dropped as late over the batches kept (pg_streaming.retained_batches)';

CREATE VIEW stream.progress_sides WITH (security_barrier) AS
SELECT q.name AS query,
       p.batch_id,
       p.side,
       s.relid AS stream,
       p.input_rows,
       p.late_rows,
       p.state_rows,
       p.watermark,
       p.event_time_min,
       p.event_time_max
  FROM stream.progress_side_log p
  JOIN stream.query_defs q USING (query_id)
  LEFT JOIN stream.query_side_defs s USING (query_id, side)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress_sides IS 'one row per committed batch of a join between streams and per side, of the latest batches (pg_streaming.retained_batches): the side''s new rows, its rows dropped as late, the rows the join keeps of it, its watermark after the batch and its event times';

CREATE VIEW stream.progress_operators WITH (security_barrier) AS
SELECT q.name AS query,
       p.batch_id,
       p.operator,
       p.side,
       p.state_rows,
       p.state_rows_updated,
       p.state_rows_removed,
       p.late_rows,
       p.ordinal
  FROM stream.progress_operator_log p
  JOIN stream.query_defs q USING (query_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress_operators IS 'one row per committed batch and stateful operator of the latest batches (pg_streaming.retained_batches), in the order rows flow through them (ordinal): join (one row per side), deduplication or aggregation; the rows in its state after the batch, the rows the batch added or changed there and the rows it removed, and the input rows (join, deduplication) or groups (aggregation) it dropped as late';

CREATE VIEW stream.progress_history WITH (security_barrier) AS
SELECT q.name AS query,
       h.minute,
       h.batches,
       h.input_rows,
       h.output_rows,
       round((h.input_rows / 60.0)::numeric, 1) AS input_rows_per_second,
       round((h.input_rows / greatest(h.busy_ms / 1000, 0.001))::numeric, 1) AS processed_rows_per_second,
       round(h.busy_ms::numeric, 3) AS busy_ms,
       round(h.max_batch_ms::numeric, 3) AS max_batch_ms,
       h.blocks_read
  FROM stream.progress_by_minute h
  JOIN stream.query_defs q USING (query_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress_history IS 'batches of each query by the minute, over the last pg_streaming.progress_history_minutes: batches, rows in and out, time busy, the longest batch, blocks read';

CREATE VIEW stream.stream_retention WITH (security_barrier) AS
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

GRANT USAGE ON SCHEMA stream TO PUBLIC;
GRANT SELECT ON stream.queries, stream.progress, stream.progress_history,
    stream.stream_retention TO PUBLIC;
GRANT SELECT ON stream.query_sides, stream.progress_sides, stream.progress_operators TO PUBLIC;

CREATE VIEW stream.dead_letters WITH (security_barrier) AS
SELECT d.id,
       q.name AS query,
       d.source,
       d.batch_id,
       d.row_data,
       d.raw_line,
       d.position,
       d.sqlstate,
       d.message,
       d.detail,
       d.failed_at,
       d.delivered_at
  FROM stream.dead_letter_log d
  LEFT JOIN stream.query_defs q USING (query_id)
 WHERE pg_catalog.pg_has_role(current_user, d.owner, 'MEMBER');
COMMENT ON VIEW stream.dead_letters IS
'the rows your streaming queries and file sources set aside instead of failing (on_error => ''dead_letter''): the row (as jsonb) or the raw line, where it was, and the error it raised; delivered_at once it was delivered again';
GRANT SELECT ON stream.dead_letters TO PUBLIC;

CREATE VIEW stream.file_sources WITH (security_barrier) AS
SELECT d.name,
       d.owner,
       d.directory,
       d.stream_relid AS stream,
       d.format,
       d.header,
       d.delimiter,
       d.null_string,
       d.file_name_column,
       d.pattern,
       d.settle,
       d.max_files_per_batch,
       d.max_bytes_per_batch,
       d.after_read,
       d.archive_directory,
       d.on_error,
       d.trigger,
       d.status,
       d.batches,
       (SELECT count(*) FROM stream.file_log f
         WHERE f.source_id = d.source_id AND f.status = 'loaded') AS files_loaded,
       d.sqlstate,
       d.error,
       d.error_detail,
       d.created_at,
       d.last_load_at
  FROM stream.file_source_defs d
 WHERE pg_catalog.pg_has_role(current_user, d.owner, 'MEMBER');
COMMENT ON VIEW stream.file_sources IS
'your file sources: the directory, the stream, the format and limits, the status (active, stopped, failed) with the last error';
GRANT SELECT ON stream.file_sources TO PUBLIC;

CREATE VIEW stream.files WITH (security_barrier) AS
SELECT d.name AS source,
       f.file_name,
       f.size,
       f.mtime,
       f.status,
       f.rows,
       f.bad_rows,
       f.batch_id,
       f.taken_at,
       f.after_read_at
  FROM stream.file_log f
  JOIN stream.file_source_defs d USING (source_id)
 WHERE pg_catalog.pg_has_role(current_user, d.owner, 'MEMBER');
COMMENT ON VIEW stream.files IS
'the files your file sources took: loaded (with rows and bad rows) or a duplicate name reported, the batch, and when the file was kept, deleted or archived';
GRANT SELECT ON stream.files TO PUBLIC;
