/*
 * pg_streaming 0.3 -> 0.4: streaming aggregations (update and complete
 * output modes).  Each aggregating query gets a state table in the new
 * schema stream_state; the catalog records it, and progress rows count the
 * groups a batch changed.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.4'" to load this file. \quit

ALTER TABLE stream.query_defs ADD COLUMN state_relid regclass,
    ADD COLUMN event_time text,
    ADD COLUMN watermark_delay interval,
    ADD COLUMN dedup_columns text[];
COMMENT ON COLUMN stream.query_defs.state_relid IS
'a streaming aggregation''s state table, in schema stream_state; NULL for other queries';
COMMENT ON COLUMN stream.query_defs.event_time IS
'the stream''s event-time column, with watermark_delay: the watermark is the latest event time seen minus the delay';

ALTER TABLE stream.progress_log ADD COLUMN state_rows bigint,
    ADD COLUMN state_rows_updated bigint,
    ADD COLUMN watermark timestamptz,
    ADD COLUMN next_watermark timestamptz,
    ADD COLUMN event_time_min timestamptz,
    ADD COLUMN event_time_max timestamptz,
    ADD COLUMN event_time_avg timestamptz,
    ADD COLUMN late_rows bigint;

CREATE TABLE stream.checkpoint_watermarks (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    watermark       timestamptz,
    late_watermark  timestamptz,
    PRIMARY KEY (query_id, batch_id),
    FOREIGN KEY (query_id, batch_id)
        REFERENCES stream.checkpoint_offsets ON DELETE CASCADE
);
COMMENT ON TABLE stream.checkpoint_watermarks IS
'watermarks of a batch, written ahead with its offsets: the one in force (state up to it is emitted and evicted) and the one rows at or before which are late';
REVOKE ALL ON stream.checkpoint_watermarks FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_watermarks', '');

DROP FUNCTION stream.start_query(text, text, text, text, text, integer, text);
CREATE FUNCTION stream.start_query(
    name                text,
    query               text,
    target              text,
    output_mode         text DEFAULT 'append',
    trigger             text DEFAULT '500 ms',
    max_rows_per_batch  integer DEFAULT NULL,
    starting_from       text DEFAULT 'earliest',
    event_time          text DEFAULT NULL,
    watermark           interval DEFAULT NULL,
    deduplicate         text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[]) IS
'register a streaming query over one stream table, writing into target, from the earliest rows or the latest, with an event-time column and a watermark delay for windowed aggregations and deduplication within the watermark; returns the query id';

CREATE SCHEMA stream_state;
COMMENT ON SCHEMA stream_state IS
'state tables of streaming aggregations: one row per group, with each aggregate''s transition state';
REVOKE ALL ON SCHEMA stream_state FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Streaming aggregations: combine and final functions over stored states,
-- run by a batch's merge statement only
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream._agg_combine(aggregate oid, collation oid, a anyelement, b anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'stream_agg_combine'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._agg_combine(oid, oid, anyelement, anyelement) IS
'internal: the transition state of an aggregate that combines two stored states';

CREATE FUNCTION stream._agg_final(aggregate oid, collation oid, state "any", result_type anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'stream_agg_final'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._agg_final(oid, oid, "any", anyelement) IS
'internal: the result of an aggregate from a stored state';

-- ---------------------------------------------------------------------------
-- Event-time windows
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream.tumble(ts timestamptz, size interval,
                              origin timestamptz DEFAULT '1970-01-01 00:00:00+00')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'stream_tumble'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.tumble(timestamptz, interval, timestamptz) IS
'the start of the tumbling window of the given size that holds ts: windows [start, start + size), aligned to origin (the Unix epoch)';

CREATE FUNCTION stream.tumble(ts timestamp, size interval,
                              origin timestamp DEFAULT '1970-01-01 00:00:00')
RETURNS timestamp
AS 'MODULE_PATHNAME', 'stream_tumble'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.tumble(timestamp, interval, timestamp) IS
'the start of the tumbling window of the given size that holds ts: windows [start, start + size), aligned to origin (the Unix epoch)';

CREATE FUNCTION stream.hop(ts timestamptz, size interval, slide interval,
                           origin timestamptz DEFAULT '1970-01-01 00:00:00+00')
RETURNS SETOF timestamptz
AS 'MODULE_PATHNAME', 'stream_hop'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION stream.hop(timestamptz, interval, interval, timestamptz) IS
'the starts of every sliding window of the given size, starting every slide, that holds ts, ascending';

CREATE FUNCTION stream.hop(ts timestamp, size interval, slide interval,
                           origin timestamp DEFAULT '1970-01-01 00:00:00')
RETURNS SETOF timestamp
AS 'MODULE_PATHNAME', 'stream_hop'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION stream.hop(timestamp, interval, interval, timestamp) IS
'the starts of every sliding window of the given size, starting every slide, that holds ts, ascending';

CREATE FUNCTION stream.session(ts timestamptz, gap interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'stream_session'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.session(timestamptz, interval) IS
'a session window of the given gap, as a grouping key of a streaming aggregation: the sessions of a key that touch merge, and its value is the session''s start';

CREATE FUNCTION stream.session(ts timestamp, gap interval)
RETURNS timestamp
AS 'MODULE_PATHNAME', 'stream_session'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.session(timestamp, interval) IS
'a session window of the given gap, as a grouping key of a streaming aggregation: the sessions of a key that touch merge, and its value is the session''s start';

CREATE FUNCTION stream._agg_merge_step(state anyelement, aggregate oid, collation oid, value anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'stream_agg_merge_step'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._agg_merge_step(anyelement, oid, oid, anyelement) IS
'internal: the transition function of stream._agg_merge';

CREATE AGGREGATE stream._agg_merge(oid, oid, anyelement) (
    sfunc = stream._agg_merge_step,
    stype = anyelement);
COMMENT ON AGGREGATE stream._agg_merge(oid, oid, anyelement) IS
'internal: the state that combines every stored state of a group (merged session windows)';

REVOKE ALL ON FUNCTION stream._agg_combine(oid, oid, anyelement, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_merge_step(anyelement, oid, oid, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_merge(oid, oid, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_final(oid, oid, "any", anyelement) FROM PUBLIC;

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
       p.late_rows
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress IS 'one row per committed batch: input rows, rows per second, duration, offsets; for a streaming aggregation, the groups in its state and the groups the batch changed; with an event time, the watermark in force, the batch''s event times and the late groups it dropped';

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
                   (state_relid::oid = dropped.objid) AS is_state
              INTO q
              FROM stream.query_defs
             WHERE stream_relid::oid = dropped.objid
                OR target_relid::oid = dropped.objid
                OR state_relid::oid = dropped.objid
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'cannot drop % % because streaming query "%" uses it',
                        dropped.object_type, dropped.object_identity, q.name
                    USING ERRCODE = 'dependent_objects_still_exist',
                          DETAIL = CASE WHEN q.is_stream
                                        THEN 'It is the query''s stream.'
                                        WHEN q.is_state
                                        THEN 'It is the query''s state.'
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
