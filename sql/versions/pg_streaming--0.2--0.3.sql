/*
 * pg_streaming 0.2 -> 0.3
 *
 * Batches honour max_rows_per_batch within one transaction too: a boundary
 * can split a large transaction's rows (the rows a table had when it
 * became a stream, a large COPY) by block, and the offsets log keeps where.
 * Streams can have retention: stream.set_retention, stream.run_retention,
 * the view stream.stream_retention, and the runs of blocks that retention
 * recycles.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.3'" to load this file. \quit

ALTER TABLE stream.checkpoint_offsets
    ADD COLUMN start_split_xid xid8,
    ADD COLUMN start_split_block bigint,
    ADD COLUMN end_split_xid xid8,
    ADD COLUMN end_split_block bigint,
    ADD COLUMN end_split_stop bigint,
    ADD COLUMN end_rest_floor bigint,
    ADD COLUMN scan_to_block bigint,
    ADD COLUMN end_writer_xids xid8[],
    ADD COLUMN end_writer_firsts bigint[];

DROP FUNCTION stream._batch_member(xid8, xid8, xid8, pg_snapshot, xid8[]);
CREATE FUNCTION stream._batch_member(xid8, tid, xid8, xid8, pg_snapshot, xid8[],
                                     xid8, bigint, xid8, bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_batch_member_split'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE COST 0.0001;
COMMENT ON FUNCTION stream._batch_member(xid8, tid, xid8, xid8, pg_snapshot, xid8[], xid8, bigint, xid8, bigint) IS
'internal: is this row, of this transaction, in the batch being run (and count it)';

ALTER TABLE stream.query_defs ADD COLUMN missed_rows_at timestamptz;

-- ---------------------------------------------------------------------------
-- Retention (stream.set_retention): what a stream keeps, how far removal has
-- come, and the runs of blocks its rows were written in
-- ---------------------------------------------------------------------------

CREATE TABLE stream.retention (
    relid                   regclass PRIMARY KEY REFERENCES stream.streams ON DELETE CASCADE,
    keep                    interval NOT NULL CHECK (keep >= '0'),
    past_inactive_queries   boolean NOT NULL DEFAULT false,
    walk_position           bigint NOT NULL DEFAULT 0,
    recycled_position       bigint NOT NULL DEFAULT 0,
    horizon                 xid8,
    held_by                 bigint,
    rows_removed            bigint NOT NULL DEFAULT 0,
    blocks_recycled         bigint NOT NULL DEFAULT 0,
    last_pass_at            timestamptz,
    relfilenode             oid
);
COMMENT ON TABLE stream.retention IS
'retention of stream tables: how long rows are kept, and how far removal has come';

CREATE TABLE stream.retention_marks (
    relid       regclass NOT NULL REFERENCES stream.streams ON DELETE CASCADE,
    taken_at    timestamptz NOT NULL,
    snapshot    pg_snapshot NOT NULL,
    PRIMARY KEY (relid, taken_at)
);
COMMENT ON TABLE stream.retention_marks IS
'which transactions had ended by when: rows of the transactions visible in snapshot are older than taken_at';

CREATE TABLE stream.stream_runs (
    relid       regclass NOT NULL REFERENCES stream.streams ON DELETE CASCADE,
    run         bigint NOT NULL,
    first_block bigint NOT NULL,
    end_block   bigint,
    recycled    boolean NOT NULL,
    relfilenode oid NOT NULL,
    PRIMARY KEY (relid, run)
);
COMMENT ON TABLE stream.stream_runs IS
'the runs of blocks a stream''s rows were written in, in order: appended at the end, or in recycled blocks';

REVOKE ALL ON stream.retention, stream.retention_marks, stream.stream_runs FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.retention', '');
SELECT pg_catalog.pg_extension_config_dump('stream.retention_marks', '');
SELECT pg_catalog.pg_extension_config_dump('stream.stream_runs', '');

CREATE FUNCTION stream.set_retention(
    stream                  regclass,
    keep                    interval,
    past_inactive_queries   boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_set_retention'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.set_retention(regclass, interval, boolean) IS
'keep a stream''s rows for "keep" and until every query has processed them, then remove them in the background and reuse their space; keep => NULL keeps everything; with past_inactive_queries, stopped and failed queries do not hold removal back and are marked as having missed rows';

CREATE FUNCTION stream.run_retention(stream regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_run_retention'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.run_retention(regclass) IS
'one retention pass now, in this transaction: reuse the blocks a VACUUM has emptied since the last pass, then remove the rows that may go; returns the rows removed';

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
       q.missed_rows_at
  FROM stream.query_defs q
  LEFT JOIN stream.retention r ON r.relid = q.stream_relid
  LEFT JOIN LATERAL (SELECT k.batch_id, k.committed_at
                       FROM stream.checkpoint_commits k
                      WHERE k.query_id = q.query_id
                      ORDER BY k.batch_id DESC LIMIT 1) c ON true
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.queries IS 'streaming queries: status, trigger, last committed batch, last error, whether the query holds retention back or missed rows retention removed';

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

GRANT SELECT ON stream.stream_retention TO PUBLIC;

CREATE FUNCTION stream.on_table_rewrite()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'stream_on_table_rewrite'
LANGUAGE C;
COMMENT ON FUNCTION stream.on_table_rewrite() IS
'refuses to rewrite a stream table while a query is part-way through the rows of one transaction it splits by block';

CREATE EVENT TRIGGER stream_on_table_rewrite ON table_rewrite
    EXECUTE FUNCTION stream.on_table_rewrite();
ALTER EVENT TRIGGER stream_on_table_rewrite ENABLE ALWAYS;
REVOKE ALL ON FUNCTION stream.on_table_rewrite() FROM PUBLIC;
