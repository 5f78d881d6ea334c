/*
 * pg_streaming 0.4 -> 0.5: living with queries.  stream.alter_query changes
 * a query in place, keeping its checkpoint; queries without aggregation can
 * upsert into a keyed target; foreach_batch calls a procedure once per
 * batch; stream.queries shows lag in seconds, rates and blocks read at a
 * cost that does not grow with the backlog, and progress is also kept by
 * the minute.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.5'" to load this file. \quit

ALTER TABLE stream.query_defs ADD COLUMN key_columns text[],
    ADD COLUMN foreach_batch regprocedure,
    ADD COLUMN altered_at timestamptz,
    ADD COLUMN definition_view regclass,
    ADD COLUMN run_text text;
COMMENT ON COLUMN stream.query_defs.key_columns IS
'a query without aggregation in update mode: the output columns its target is upserted by';
COMMENT ON COLUMN stream.query_defs.foreach_batch IS
'the procedure called once per batch with the batch id; the batch''s rows are in the target, a table in schema stream_batch';
COMMENT ON COLUMN stream.query_defs.definition_view IS
'the query as a view in schema stream_query (its constants hidden): PostgreSQL keeps what it reads from being dropped or altered under it';
COMMENT ON COLUMN stream.query_defs.run_text IS
'the query as batches run it: its owner''s analysis deparsed, every name outside pg_catalog qualified, its constants as they were read';

ALTER TABLE stream.progress_log ADD COLUMN blocks_read bigint;

CREATE TABLE stream.progress_by_minute (
    query_id        bigint NOT NULL REFERENCES stream.query_defs ON DELETE CASCADE,
    minute          timestamptz NOT NULL,
    batches         integer NOT NULL,
    input_rows      bigint NOT NULL,
    output_rows     bigint NOT NULL,
    busy_ms         double precision NOT NULL,
    max_batch_ms    double precision NOT NULL,
    blocks_read     bigint NOT NULL,
    PRIMARY KEY (query_id, minute)
);
COMMENT ON TABLE stream.progress_by_minute IS
'batches by the minute, kept for pg_streaming.progress_history_minutes: written in each batch''s transaction';
REVOKE ALL ON stream.progress_by_minute FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.progress_by_minute', '');

-- the tables that hold the current batch's rows for foreach_batch procedures
CREATE SCHEMA stream_batch;
COMMENT ON SCHEMA stream_batch IS
'one table per foreach_batch query, named after it and owned by its owner: the rows of the batch being processed';
REVOKE ALL ON SCHEMA stream_batch FROM PUBLIC;
GRANT USAGE ON SCHEMA stream_batch TO PUBLIC;

-- one view per query over its text, for PostgreSQL's dependencies
CREATE SCHEMA stream_query;
COMMENT ON SCHEMA stream_query IS
'one view per streaming query, over its text: what a query reads cannot be dropped or altered under it without CASCADE, which drops the query, and renames are followed';
REVOKE ALL ON SCHEMA stream_query FROM PUBLIC;

DROP FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[]);
CREATE FUNCTION stream.start_query(
    name                text,
    query               text,
    target              text DEFAULT NULL,
    output_mode         text DEFAULT 'append',
    trigger             text DEFAULT '500 ms',
    max_rows_per_batch  integer DEFAULT NULL,
    starting_from       text DEFAULT 'earliest',
    event_time          text DEFAULT NULL,
    watermark           interval DEFAULT NULL,
    deduplicate         text[] DEFAULT NULL,
    key                 text[] DEFAULT NULL,
    foreach_batch       text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[], text[], text) IS
'register a streaming query over one stream table, writing into target (upserting by key in update mode) or calling a foreach_batch procedure once per batch, from the earliest rows or the latest, with an event-time column and a watermark delay for windowed aggregations and deduplication within the watermark; returns the query id';

CREATE FUNCTION stream.alter_query(
    name                text,
    query               text DEFAULT NULL,
    trigger             text DEFAULT NULL,
    max_rows_per_batch  integer DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_alter_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.alter_query(text, text, text, integer) IS
'change a query in place, keeping its checkpoint: its trigger, its max_rows_per_batch (0 for none), or its text where the new text reads the same stream into the same target with the same state; takes effect from the next batch';

CREATE FUNCTION stream.pending_rows(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_pending_rows_exact'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.pending_rows(text) IS
'the exact number of committed rows of the query''s stream that no committed batch has processed; reads them all (stream.queries shows an estimate)';

COMMENT ON FUNCTION stream._pending_rows(bigint) IS
'internal: rows of the query''s stream that no committed batch has processed, counted in the first blocks and estimated beyond them (NULL where its owner may not read the stream)';

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
       rp.blocks_read AS last_batch_blocks_read
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
COMMENT ON VIEW stream.queries IS 'streaming queries: id, status, trigger, last committed batch, rows pending (estimated; stream.pending_rows() counts them), lag in seconds, input and processed rows per second over the last ten batches, blocks the last batch read, last error, whether the query holds retention back or missed rows retention removed, a streaming aggregation''s state table, the event-time column, the watermark delay and the watermark in force for the next batch, an upsert key, a foreach_batch procedure';

CREATE OR REPLACE VIEW stream.progress WITH (security_barrier) AS
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
       p.blocks_read
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress IS 'one row per committed batch of the latest ones (pg_streaming.retained_batches): input rows, rows per second, duration, offsets, blocks read; for a streaming aggregation, the groups in its state and the groups the batch changed; with an event time, the watermark in force, the batch''s event times and the late groups it dropped';

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
GRANT SELECT ON stream.progress_history TO PUBLIC;

CREATE FUNCTION stream._create_query_view(query_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_create_query_view'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._create_query_view(bigint) IS
'internal: give a query started before version 0.5 its view in schema stream_query';
REVOKE ALL ON FUNCTION stream._create_query_view(bigint) FROM PUBLIC;

-- the queries started before: each gets its view, unless its text no
-- longer analyzes (it then fails at its next batch, as before)
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT query_id, name FROM stream.query_defs ORDER BY query_id LOOP
        BEGIN
            PERFORM stream._create_query_view(q.query_id);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'streaming query "%" gets no view in schema stream_query: %', q.name, SQLERRM
                USING HINT = 'What it reads is not protected from DROP and ALTER until it is started again.';
        END;
    END LOOP;
END
$$;

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
        DELETE FROM stream.streams WHERE relid::oid = dropped.objid;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stream.on_sql_drop() IS
'keeps the catalog consistent when stream tables or targets are dropped';

CREATE FUNCTION stream.on_rename()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_rename'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_rename() IS
'after a rename, the text of each query that reads what was renamed becomes its analyzed form deparsed, which follows the rename';
REVOKE ALL ON FUNCTION stream.on_rename() FROM PUBLIC;

CREATE FUNCTION stream.on_rename_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_rename_start'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_rename_start() IS
'before a rename, lock the rows of the queries, as a batch does before it opens what its query reads';
REVOKE ALL ON FUNCTION stream.on_rename_start() FROM PUBLIC;

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
