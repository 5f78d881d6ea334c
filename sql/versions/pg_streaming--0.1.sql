/* pg_streaming--0.1.sql */

\echo Use "CREATE EXTENSION pg_streaming" to load this file. \quit

/*
 * Objects are grouped by kind, in dependency order: the table access method
 * that stream tables use, catalog tables, views, then functions.
 */

-- ---------------------------------------------------------------------------
-- Table access method
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream.stream_heap_handler(internal)
RETURNS table_am_handler
AS 'MODULE_PATHNAME', 'stream_heap_handler'
LANGUAGE C STRICT;

CREATE ACCESS METHOD stream_heap TYPE TABLE HANDLER stream.stream_heap_handler;

COMMENT ON ACCESS METHOD stream_heap IS
'heap storage for stream tables: refuses UPDATE, DELETE and TRUNCATE, and places each transaction''s rows at or after the end of the table';

-- ---------------------------------------------------------------------------
-- Catalog tables (written by the extension's functions only)
-- ---------------------------------------------------------------------------

CREATE TABLE stream.streams (
    relid       regclass PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream.streams IS 'stream tables registered by stream.create_stream';

CREATE TABLE stream.query_defs (
    query_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    owner               regrole NOT NULL,
    query_text          text NOT NULL,
    search_path         text NOT NULL,
    stream_relid        regclass NOT NULL REFERENCES stream.streams (relid),
    target_relid        regclass NOT NULL,
    target_columns      text[] NOT NULL,
    output_mode         text NOT NULL
        CHECK (output_mode IN ('append', 'update', 'complete')),
    trigger             text NOT NULL,
    max_rows_per_batch  integer CHECK (max_rows_per_batch > 0),
    status              text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'stopped', 'finished', 'failed')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    last_error_sqlstate text,
    last_error_at       timestamptz
);
COMMENT ON TABLE stream.query_defs IS 'streaming queries started by stream.start_query';

CREATE TABLE stream.checkpoint_offsets (
    query_id        bigint NOT NULL REFERENCES stream.query_defs ON DELETE CASCADE,
    batch_id        bigint NOT NULL,
    start_snapshot  pg_snapshot,
    end_snapshot    pg_snapshot NOT NULL,
    scan_from_block bigint NOT NULL,
    end_floor_block bigint NOT NULL,
    end_tail_block  bigint NOT NULL,
    relfilenode     oid NOT NULL,
    watermark       timestamptz,
    planned_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (query_id, batch_id)
);
COMMENT ON TABLE stream.checkpoint_offsets IS
'write-ahead offsets: one row per planned batch, committed before the batch runs';

CREATE TABLE stream.checkpoint_commits (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    committed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (query_id, batch_id),
    FOREIGN KEY (query_id, batch_id)
        REFERENCES stream.checkpoint_offsets ON DELETE CASCADE
);
COMMENT ON TABLE stream.checkpoint_commits IS
'commit log: one row per batch, written in the batch''s own transaction';

CREATE TABLE stream.progress_log (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    input_rows      bigint NOT NULL,
    output_rows     bigint NOT NULL,
    replayed        boolean NOT NULL,
    PRIMARY KEY (query_id, batch_id),
    FOREIGN KEY (query_id, batch_id)
        REFERENCES stream.checkpoint_offsets ON DELETE CASCADE
);
COMMENT ON TABLE stream.progress_log IS 'one row per committed batch, written in the batch''s transaction';

REVOKE ALL ON stream.streams, stream.query_defs, stream.checkpoint_offsets,
    stream.checkpoint_commits, stream.progress_log FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('stream.streams', '');
SELECT pg_catalog.pg_extension_config_dump('stream.query_defs', '');
SELECT pg_catalog.pg_extension_config_dump('stream.query_defs_query_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_commits', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_log', '');

-- ---------------------------------------------------------------------------
-- Views for people (each shows only the queries the current role may see)
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream._pending_rows(query_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_pending_rows'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._pending_rows(bigint) IS
'internal: rows of the query''s stream that no committed batch has processed';

CREATE VIEW stream.queries AS
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
       q.query_text AS query,
       q.created_at
  FROM stream.query_defs q
  LEFT JOIN LATERAL (SELECT k.batch_id, k.committed_at
                       FROM stream.checkpoint_commits k
                      WHERE k.query_id = q.query_id
                      ORDER BY k.batch_id DESC LIMIT 1) c ON true
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.queries IS 'streaming queries: status, trigger, last committed batch, last error';

CREATE VIEW stream.progress AS
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
       o.end_snapshot AS end_offset
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress IS 'one row per committed batch: input rows, rows per second, duration, offsets';

GRANT USAGE ON SCHEMA stream TO PUBLIC;
GRANT SELECT ON stream.queries, stream.progress TO PUBLIC;

-- ---------------------------------------------------------------------------
-- Functions and procedures
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream._batch_member(xid8, xid8, xid8, pg_snapshot, xid8[])
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_batch_member'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE COST 0.0001;
COMMENT ON FUNCTION stream._batch_member(xid8, xid8, xid8, pg_snapshot, xid8[]) IS
'internal: is a row of this transaction in the batch being run (and count it)';

CREATE FUNCTION stream.create_stream(relation regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_create_stream'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.create_stream(regclass) IS
'make an ordinary table an append-only stream table; its present rows form the first offsets';

CREATE FUNCTION stream.drop_stream(relation regclass, if_exists boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_drop_stream'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.drop_stream(regclass, boolean) IS
'turn a stream table back into an ordinary table (no query may read it)';

CREATE FUNCTION stream.start_query(
    name                text,
    query               text,
    target              text,
    output_mode         text DEFAULT 'append',
    trigger             text DEFAULT '500 ms',
    max_rows_per_batch  integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.start_query(text, text, text, text, text, integer) IS
'register a streaming query over one stream table, writing into target; returns the query id';

CREATE FUNCTION stream.drop_query(name text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_drop_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.drop_query(text, boolean) IS
'remove a streaming query and its checkpoint (the target table is kept)';

CREATE FUNCTION stream.stop_query(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_stop_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.stop_query(text) IS
'stop a query after the batch in flight; false when it was not active';

CREATE FUNCTION stream.resume_query(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_resume_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.resume_query(text) IS
'make a stopped, finished or failed query active again, from its checkpoint; false when it was active';

CREATE FUNCTION stream.await_termination(name text, timeout interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_await_termination'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.await_termination(text, interval) IS
'wait until a query is stopped or finished (true) or the timeout passes (false); raises the error of a failed query';

CREATE FUNCTION stream._extension_created()
RETURNS void
AS 'MODULE_PATHNAME', 'stream_extension_created'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._extension_created() IS
'internal: tells the launcher that this database has the extension';

CREATE PROCEDURE stream.process_all_available(name text)
AS 'MODULE_PATHNAME', 'stream_process_all_available'
LANGUAGE C;
COMMENT ON PROCEDURE stream.process_all_available(text) IS
'run batches of a query now, in this session, until every row committed before the call is processed';

CREATE PROCEDURE stream.process_batch(name text)
AS 'MODULE_PATHNAME', 'stream_process_batch'
LANGUAGE C;
COMMENT ON PROCEDURE stream.process_batch(text) IS
'run at most one batch of a query now, in this session (a pending batch is replayed first)';

CREATE FUNCTION stream.on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped record;
    q record;
BEGIN
    FOR dropped IN
        SELECT objid, object_identity FROM pg_event_trigger_dropped_objects()
         WHERE classid = 'pg_class'::regclass AND objsubid = 0
           AND object_type = 'table'
    LOOP
        IF to_regclass('stream.query_defs') IS NULL THEN
            RETURN;         -- the extension itself is being dropped
        END IF;
        SELECT name, (stream_relid::oid = dropped.objid) AS is_stream
          INTO q
          FROM stream.query_defs
         WHERE stream_relid::oid = dropped.objid
            OR target_relid::oid = dropped.objid
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'cannot drop table % because streaming query "%" uses it',
                    dropped.object_identity, q.name
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = CASE WHEN q.is_stream
                                    THEN 'The table is the query''s stream.'
                                    ELSE 'The table is the query''s target.' END,
                      HINT = 'Drop the query first with stream.drop_query().';
        END IF;
        DELETE FROM stream.streams WHERE relid::oid = dropped.objid;
    END LOOP;
END
$$;
COMMENT ON FUNCTION stream.on_sql_drop() IS
'keeps the catalog consistent when stream tables or targets are dropped';

CREATE EVENT TRIGGER stream_on_sql_drop ON sql_drop
    EXECUTE FUNCTION stream.on_sql_drop();

REVOKE ALL ON FUNCTION stream.stream_heap_handler(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._extension_created() FROM PUBLIC;

SELECT stream._extension_created();
