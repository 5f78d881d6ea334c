/*
 * pg_streaming 0.6 -> 0.7: joins between two streams.  A query may read two
 * streams, each side with its own offsets and its own watermark; a query
 * over one stream keeps its checkpoint and its definition as they are (no
 * side rows, nothing in a checkpoint changes).
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.7'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- A join's sides, watermarks and policy
-- ---------------------------------------------------------------------------
ALTER TABLE stream.query_defs
    ADD COLUMN watermark_policy text CHECK (watermark_policy IN ('min', 'max')),
    ADD COLUMN watermarks text[];
COMMENT ON COLUMN stream.query_defs.watermark_policy IS
'a join between two streams: how its watermark follows its sides'' watermarks, ''min'' (the lowest) or ''max'' (the highest); NULL for a query over one stream';
COMMENT ON COLUMN stream.query_defs.watermarks IS
'the watermarks argument as given, one ''<side>.<column> <delay>'' per side with a watermark; NULL when it was not given';

-- the two sides of a query that reads two streams (a join, or a self-join);
-- a query over one stream has no rows here and keeps its stream, event
-- time and delay in stream.query_defs
CREATE TABLE stream.query_side_defs (
    query_id        bigint NOT NULL REFERENCES stream.query_defs ON DELETE CASCADE,
    side            smallint NOT NULL CHECK (side IN (1, 2)),
    relid           regclass NOT NULL REFERENCES stream.streams (relid),
    name            text NOT NULL,
    event_time      text,
    watermark_delay interval,
    PRIMARY KEY (query_id, side)
);
COMMENT ON TABLE stream.query_side_defs IS
'the sides of a join between two streams, 1 and 2 in the order the query reads them: each side''s stream, its name in the query, and its event-time column and watermark delay';

-- side 2's part of a join batch's offsets (side 1's is the batch's
-- checkpoint_offsets row), written ahead with them
CREATE TABLE stream.checkpoint_sides (
    query_id            bigint NOT NULL,
    batch_id            bigint NOT NULL,
    side                smallint NOT NULL CHECK (side = 2),
    scan_from_block     bigint NOT NULL,
    end_floor_block     bigint NOT NULL,
    end_tail_block      bigint NOT NULL,
    relfilenode         oid NOT NULL,
    end_rest_floor      bigint,
    end_writer_xids     xid8[],
    end_writer_firsts   bigint[],
    PRIMARY KEY (query_id, batch_id, side),
    FOREIGN KEY (query_id, batch_id)
        REFERENCES stream.checkpoint_offsets ON DELETE CASCADE
);
COMMENT ON TABLE stream.checkpoint_sides IS
'write-ahead offsets of a join''s second stream: one row per planned batch, with the batch''s offsets row (whose snapshots both sides share)';

-- what each side of a join batch read, dropped and kept, written in the
-- batch's transaction
CREATE TABLE stream.progress_side_log (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    side            smallint NOT NULL CHECK (side IN (1, 2)),
    input_rows      bigint NOT NULL,
    late_rows       bigint NOT NULL,
    state_rows      bigint,
    watermark       timestamptz,
    event_time_min  timestamptz,
    event_time_max  timestamptz,
    PRIMARY KEY (query_id, batch_id, side),
    FOREIGN KEY (query_id, batch_id)
        REFERENCES stream.checkpoint_offsets ON DELETE CASCADE
);
COMMENT ON TABLE stream.progress_side_log IS
'one row per committed batch of a join and per side: the side''s new rows, its rows dropped as late, its rows the join keeps, its watermark after the batch and its event times';

-- each stateful operator's state after a batch, written in the batch's
-- transaction: one row per operator (a join's two sides, one row each), in
-- the order the rows flow through them
CREATE TABLE stream.progress_operator_log (
    query_id            bigint NOT NULL,
    batch_id            bigint NOT NULL,
    ordinal             smallint NOT NULL CHECK (ordinal >= 1),
    operator            text NOT NULL CHECK (operator IN ('join', 'deduplication', 'aggregation')),
    side                smallint CHECK (side IN (1, 2)),
    state_rows          bigint NOT NULL,
    state_rows_updated  bigint NOT NULL,
    state_rows_removed  bigint NOT NULL,
    late_rows           bigint NOT NULL,
    PRIMARY KEY (query_id, batch_id, ordinal),
    CHECK ((operator = 'join') = (side IS NOT NULL)),
    FOREIGN KEY (query_id, batch_id)
        REFERENCES stream.checkpoint_offsets ON DELETE CASCADE
);
COMMENT ON TABLE stream.progress_operator_log IS
'one row per committed batch and stateful operator (a join: one per side), in the order rows flow through them: the rows the operator keeps in its state after the batch, the rows the batch added or changed and removed there, and the input rows (a join, a deduplication) or groups (an aggregation) it dropped as late';

REVOKE ALL ON stream.query_side_defs, stream.checkpoint_sides,
    stream.progress_side_log FROM PUBLIC;
REVOKE ALL ON stream.progress_operator_log FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.query_side_defs', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_sides', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_side_log', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_operator_log', '');

-- ---------------------------------------------------------------------------
-- start_query learns the watermarks of each side and a join's policy
-- ---------------------------------------------------------------------------
DROP FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[], text[], text);
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
    foreach_batch       text DEFAULT NULL,
    watermarks          text[] DEFAULT NULL,
    watermark_policy    text DEFAULT 'min')
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[], text[], text, text[], text) IS
'register a streaming query over one stream table, or a join of two, writing into target (upserting by key in update mode) or calling a foreach_batch procedure once per batch, from the earliest rows or the latest, with an event-time column and a watermark delay (event_time and watermark, or watermarks: ''<side>.<column> <delay>'' per stream read, and the watermark_policy of a join, min or max) for windowed aggregations, deduplication within the watermark and joins between streams; returns the query id';

-- ---------------------------------------------------------------------------
-- The views: stream.queries shows every stream a query reads, its
-- watermarks and its policy (columns added at its end); the sides of each
-- join and their progress per batch
-- ---------------------------------------------------------------------------
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
       q.watermark_policy
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
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.queries IS 'streaming queries: id, status, trigger, last committed batch, rows pending (estimated; stream.pending_rows() counts them), lag in seconds, input and processed rows per second over the last ten batches, blocks the last batch read, last error, whether the query holds retention back or missed rows retention removed, a streaming aggregation''s state table, the event-time column, the watermark delay and the watermark in force for the next batch, an upsert key, a foreach_batch procedure, how the background workers serve it now (serving: running, waiting for its trigger, or why a due query is not running), every stream it reads (a join reads two; stream is the first), its watermarks as ''<side>.<column> <delay>'' and a join''s watermark policy';

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

GRANT SELECT ON stream.query_sides, stream.progress_sides, stream.progress_operators TO PUBLIC;

CREATE FUNCTION stream._join_mark(tid, tid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_join_mark'
LANGUAGE C VOLATILE PARALLEL UNSAFE COST 1000000;
COMMENT ON FUNCTION stream._join_mark(tid, tid) IS
'internal: the last term of a join batch''s condition, recording that the two rows matched';
