-- ---------------------------------------------------------------------------
-- Views for people: each shows only the queries of roles the current role
-- belongs to.  They are security barriers, so that no function in a caller's
-- WHERE clause sees a row before that filter has run.
-- ---------------------------------------------------------------------------

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
       q.created_at,
       coalesce(r.held_by = q.query_id, false) AS holds_retention,
       q.missed_rows_at,
       q.state_relid AS state_table,
       q.event_time,
       q.watermark_delay,
       q.dedup_columns AS deduplicate,
       (SELECT p.next_watermark FROM stream.progress_log p
         WHERE p.query_id = q.query_id ORDER BY p.batch_id DESC LIMIT 1) AS watermark
  FROM stream.query_defs q
  LEFT JOIN stream.retention r ON r.relid = q.stream_relid
  LEFT JOIN LATERAL (SELECT k.batch_id, k.committed_at
                       FROM stream.checkpoint_commits k
                      WHERE k.query_id = q.query_id
                      ORDER BY k.batch_id DESC LIMIT 1) c ON true
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.queries IS 'streaming queries: status, trigger, last committed batch, last error, whether the query holds retention back or missed rows retention removed, a streaming aggregation''s state table, the event-time column, the watermark delay and the watermark in force for the next batch';

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
       o.end_snapshot AS end_offset,
       p.state_rows,
       p.state_rows_updated,
       p.watermark,
       p.event_time_min,
       p.event_time_max,
       p.event_time_avg,
       p.late_rows
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress IS 'one row per committed batch: input rows, rows per second, duration, offsets; for a streaming aggregation, the groups in its state and the groups the batch changed; with an event time, the watermark in force, the batch''s event times and the late groups it dropped';

CREATE VIEW stream.stream_retention WITH (security_barrier) AS
SELECT r.relid AS stream,
       r.keep,
       r.past_inactive_queries,
       r.rows_removed,
       r.blocks_recycled,
       r.last_pass_at,
       CASE WHEN q.query_id IS NULL THEN NULL
            WHEN pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER') THEN q.name
            ELSE 'a query of another role' END AS held_by_query,
       pg_catalog.pg_relation_size(r.relid) AS table_bytes
  FROM stream.retention r
  JOIN pg_catalog.pg_class c ON c.oid = r.relid
  LEFT JOIN stream.query_defs q ON q.query_id = r.held_by
 WHERE pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER');
COMMENT ON VIEW stream.stream_retention IS 'retention of the stream tables the current role owns: what is kept, what was removed, which query holds removal back';

GRANT USAGE ON SCHEMA stream TO PUBLIC;
GRANT SELECT ON stream.queries, stream.progress, stream.stream_retention TO PUBLIC;

