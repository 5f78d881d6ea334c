/*
 * pg_streaming 0.7 -> 0.8: a join is detached from retention per stream.
 * stream.detach_query finds a join by either of its streams and lets
 * retention go past it on the stream named only; each side keeps when its
 * stream's owner detached it.  Rows set aside instead of failing a batch
 * (on_error => 'dead_letter') are kept in stream.dead_letter_log, shown
 * to their owners by stream.dead_letters.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.8'" to load this file. \quit

ALTER TABLE stream.query_side_defs ADD COLUMN retention_detached_at timestamptz;
COMMENT ON COLUMN stream.query_side_defs.retention_detached_at IS
'when the owner of the side''s stream detached the join from that stream''s retention (stream.detach_query): it no longer holds that stream''s rows back';
COMMENT ON COLUMN stream.query_defs.retention_detached_at IS
'when the stream''s owner detached the query from retention (stream.detach_query): it no longer holds the stream''s rows back (a join: its first stream''s; each side''s is in stream.query_side_defs)';
COMMENT ON FUNCTION stream.detach_query(regclass, text) IS
'the stream''s owner lets retention go past one of its queries, whoever owns it: the query no longer holds rows back, and is marked when rows it had not read are removed; a join is found by either of its streams and detached from the one named only';

-- a join detached before the update was detached by its first stream:
-- the sides on that stream say so
UPDATE stream.query_side_defs s SET retention_detached_at = d.retention_detached_at
  FROM stream.query_defs d
 WHERE d.query_id = s.query_id AND s.relid = d.stream_relid
   AND d.retention_detached_at IS NOT NULL;

CREATE TABLE stream.dead_letter_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    query_id        bigint REFERENCES stream.query_defs ON DELETE CASCADE,
    source          text,
    owner           regrole NOT NULL,
    batch_id        bigint,
    row_data        jsonb,
    raw_line        text,
    position        text,
    sqlstate        text NOT NULL,
    message         text NOT NULL,
    detail          text,
    failed_at       timestamptz NOT NULL,
    delivered_at    timestamptz,
    CHECK ((query_id IS NULL) <> (source IS NULL))
);
CREATE INDEX ON stream.dead_letter_log (query_id, id);
COMMENT ON TABLE stream.dead_letter_log IS
'rows a streaming query or a file source could not take (a cast, a constraint, a malformed line), written instead of failing the batch (on_error => ''dead_letter''), in the transaction that delivered the batch''s other rows: each row is in the target or here, once';
COMMENT ON COLUMN stream.dead_letter_log.query_id IS 'the streaming query whose batch failed on the row (NULL for a file source)';
COMMENT ON COLUMN stream.dead_letter_log.source IS 'the file source that could not load the line (NULL for a query)';
COMMENT ON COLUMN stream.dead_letter_log.owner IS 'the owner of the query or file source: the one role, with its members, that sees the row';
COMMENT ON COLUMN stream.dead_letter_log.batch_id IS 'the batch (of the query, or of the file source) that set the row aside';
COMMENT ON COLUMN stream.dead_letter_log.row_data IS 'the stream''s row as jsonb (a query)';
COMMENT ON COLUMN stream.dead_letter_log.raw_line IS 'the line as read from the file (a file source)';
COMMENT ON COLUMN stream.dead_letter_log.position IS 'where the row was: its key, its place in the stream, or a file and line number';
COMMENT ON COLUMN stream.dead_letter_log.sqlstate IS 'the SQLSTATE of the error the row raised';
COMMENT ON COLUMN stream.dead_letter_log.delivered_at IS 'when the row was delivered again (after its query''s text was fixed), in the transaction that wrote it to the target';
REVOKE ALL ON stream.dead_letter_log FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.dead_letter_log', '');

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

-- start_query learns on_error and target_is_stream
DROP FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[], text[], text, text[], text);
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
    watermark_policy    text DEFAULT 'min',
    on_error            text DEFAULT 'fail',
    target_is_stream    boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.start_query(text, text, text, text, text, integer, text, text, interval, text[], text[], text, text[], text, text, boolean) IS
'register a streaming query over one stream table, or a join of two, writing into target (upserting by key in update mode) or calling a foreach_batch procedure once per batch, from the earliest rows or the latest, with an event-time column and a watermark delay (event_time and watermark, or watermarks: ''<side>.<column> <delay>'' per stream read, and the watermark_policy of a join, min or max) for windowed aggregations, deduplication within the watermark and joins between streams; returns the query id';

-- batch events: a NOTIFY per committed or failed batch on a query's own
-- random channel, turned on with alter_query(name, events => true)
ALTER TABLE stream.query_defs ADD COLUMN events_channel text;
COMMENT ON COLUMN stream.query_defs.events_channel IS
'the channel a NOTIFY is sent on for each committed or failed batch (stream.alter_query(name, events => true)): random, so that only those who read it in stream.queries can LISTEN to it; NULL for no events';

-- layers and cost: where a batch's run went, its commit and its state's
-- size in stream.progress (the views stream.queries and stream.progress
-- are written once, in their 0.8 form, after the last column they show)
ALTER TABLE stream.progress_log ADD COLUMN plan_ms double precision,
    ADD COLUMN read_ms double precision, ADD COLUMN merge_ms double precision,
    ADD COLUMN write_ms double precision, ADD COLUMN previous_commit_ms double precision,
    ADD COLUMN state_bytes bigint;
COMMENT ON COLUMN stream.progress_log.plan_ms IS
'the run''s time, from started_at, until it first read the batch''s rows: the query locked, its offsets checked, statements prepared';
COMMENT ON COLUMN stream.progress_log.read_ms IS
'the run''s time reading the batch''s rows and doing the query''s work over them (partial aggregation; a statement that reads and inserts, as a query without state or a join''s pairs run, counts here)';
COMMENT ON COLUMN stream.progress_log.merge_ms IS
'the run''s time merging into the state, evicting from it, and keeping what a join or deduplication keeps';
COMMENT ON COLUMN stream.progress_log.write_ms IS
'the run''s time writing the target from rows already computed (an aggregation''s groups, deduplication''s new rows), or calling the foreach_batch procedure';
COMMENT ON COLUMN stream.progress_log.previous_commit_ms IS
'how long the commit of the query''s previous batch took, when the process that ran this batch committed that one (a progress row is written before its own commit); stream.progress shows it as that batch''s commit_ms';
COMMENT ON COLUMN stream.progress_log.state_bytes IS
'the size on disk of the query''s state tables (with their indexes and TOAST) at the end of the batch''s run; NULL for a query without state';

-- alter_query learns a new watermark delay and events
DROP FUNCTION stream.alter_query(text, text, text, integer);
CREATE FUNCTION stream.alter_query(
    name                text,
    query               text DEFAULT NULL,
    trigger             text DEFAULT NULL,
    max_rows_per_batch  integer DEFAULT NULL,
    watermark           interval DEFAULT NULL,
    watermarks          text[] DEFAULT NULL,
    events              boolean DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_alter_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.alter_query(text, text, text, integer, interval, text[], boolean) IS
'change a query in place, keeping its checkpoint: its trigger, its max_rows_per_batch (0 for none), its text where the new text reads the same stream into the same target with the same state, its watermark delay (watermark; a join''s sides'' with watermarks: ''<side>.<column> <delay>''), or whether each batch sends an event (events: a NOTIFY on the channel stream.queries shows); takes effect from the next batch, and the watermark never moves back';

-- file sources
CREATE TABLE stream.file_source_defs (
    source_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    owner               regrole NOT NULL,
    directory           text NOT NULL,
    stream_relid        regclass NOT NULL,
    format              text NOT NULL CHECK (format IN ('csv', 'text', 'jsonl')),
    header              boolean NOT NULL,
    delimiter           text NOT NULL,
    null_string         text NOT NULL,
    file_name_column    text,
    pattern             text NOT NULL,
    settle              interval NOT NULL,
    max_files_per_batch integer,
    max_bytes_per_batch bigint,
    after_read          text NOT NULL CHECK (after_read IN ('keep', 'delete', 'archive')),
    archive_directory   text,
    on_error            text NOT NULL CHECK (on_error IN ('fail', 'dead_letter')),
    trigger             text NOT NULL,
    status              text NOT NULL CHECK (status IN ('active', 'stopped', 'failed')),
    batches             bigint NOT NULL DEFAULT 0,
    sqlstate            text,
    error               text,
    error_detail        text,
    created_at          timestamptz NOT NULL,
    last_load_at        timestamptz
);
COMMENT ON TABLE stream.file_source_defs IS
'file sources: a directory on the server whose complete files the background worker loads into a stream table, each file once';
COMMENT ON COLUMN stream.file_source_defs.settle IS 'a file is taken once its modification time is at least this old (a file renamed into the directory is taken at once when it was written earlier)';
COMMENT ON COLUMN stream.file_source_defs.batches IS 'batches that took at least one file; the last one is the batch number of the newest files';

CREATE TABLE stream.file_log (
    source_id       bigint NOT NULL REFERENCES stream.file_source_defs ON DELETE CASCADE,
    file_name       text NOT NULL,
    size            bigint NOT NULL,
    mtime           timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('loaded', 'duplicate')),
    rows            bigint,
    bad_rows        bigint,
    batch_id        bigint,
    taken_at        timestamptz NOT NULL,
    after_read_at   timestamptz,
    PRIMARY KEY (source_id, file_name, size, mtime)
);
COMMENT ON TABLE stream.file_log IS
'every file a file source took: loaded (its rows committed with this row) or a duplicate name (a later file with the name of a loaded one, reported and not loaded)';
COMMENT ON COLUMN stream.file_log.after_read_at IS 'when the file was kept, deleted or archived as the source says, after the commit that loaded it; NULL while that is still to do';
REVOKE ALL ON stream.file_source_defs, stream.file_log FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.file_source_defs', '');
SELECT pg_catalog.pg_extension_config_dump('stream.file_log', '');
SELECT pg_catalog.pg_extension_config_dump('stream.file_source_defs_source_id_seq', '');

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

CREATE FUNCTION stream.create_file_source(
    name                text,
    directory           text,
    stream              regclass,
    format              text DEFAULT 'csv',
    header              boolean DEFAULT false,
    delimiter           text DEFAULT NULL,
    null_string         text DEFAULT NULL,
    file_name_column    text DEFAULT NULL,
    pattern             text DEFAULT '*',
    settle              interval DEFAULT '5 seconds',
    max_files_per_batch integer DEFAULT NULL,
    max_bytes_per_batch bigint DEFAULT NULL,
    after_read          text DEFAULT 'keep',
    archive_directory   text DEFAULT NULL,
    on_error            text DEFAULT 'fail',
    trigger             text DEFAULT '1 second')
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_create_file_source'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.create_file_source(text, text, regclass, text, boolean, text, text, text, text, interval, integer, bigint, text, text, text, text) IS
'register a file source: the complete files of a server directory (csv, text lines or JSON lines) loaded into a stream table by the background worker, each file once; needs pg_read_server_files (and pg_write_server_files to delete or archive read files); returns the source id';

CREATE FUNCTION stream.drop_file_source(name text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_drop_file_source'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.drop_file_source(text, boolean) IS
'remove a file source and its record of files taken (the stream and its rows are kept)';

CREATE FUNCTION stream.stop_file_source(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_stop_file_source'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.stop_file_source(text) IS
'stop the background worker from loading a file source; false when it was not active';

CREATE FUNCTION stream.resume_file_source(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_resume_file_source'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.resume_file_source(text) IS
'make a stopped or failed file source active again (its last error is cleared); false when it was active';

CREATE FUNCTION stream.load_file_source(name text)
RETURNS integer
AS 'MODULE_PATHNAME', 'stream_load_file_source'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.load_file_source(text) IS
'load one batch of the files ready now, in the caller''s transaction, and finish the after-read handling of files loaded by earlier commits; returns the number of files loaded';

-- a query may set rows whose data fails its batch aside (on_error =>
-- 'dead_letter'); each batch counts the rows it set aside
ALTER TABLE stream.query_defs ADD COLUMN on_error text NOT NULL DEFAULT 'fail'
    CHECK (on_error IN ('fail', 'dead_letter'));
COMMENT ON COLUMN stream.query_defs.on_error IS
'what a row whose data fails the batch does: ''fail'' fails the batch (its error names the row), ''dead_letter'' sets the row aside in stream.dead_letter_log and delivers the others';
ALTER TABLE stream.progress_log ADD COLUMN dead_letters bigint;
COMMENT ON COLUMN stream.progress_log.dead_letters IS
'the rows the batch set aside in stream.dead_letter_log (on_error => ''dead_letter''); NULL for a batch of a query that fails instead';

-- stream.queries gains upstream, downstream, events_channel and on_error;
-- stream.progress the parts of a run, commit_ms, state_bytes and dead_letters
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
       q.on_error
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
COMMENT ON VIEW stream.queries IS 'streaming queries: id, status, trigger, last committed batch, rows pending (estimated; stream.pending_rows() counts them), lag in seconds, input and processed rows per second over the last ten batches, blocks the last batch read, last error, whether the query holds retention back or missed rows retention removed, a streaming aggregation''s state table, the event-time column, the watermark delay and the watermark in force for the next batch, an upsert key, a foreach_batch procedure, how the background workers serve it now (serving: running, waiting for its trigger, or why a due query is not running), every stream it reads (a join reads two; stream is the first), its watermarks as ''<side>.<column> <delay>'', a join''s watermark policy, and the queries that write a stream it reads (upstream) and that read its target as their stream (downstream), of the roles the current role belongs to only; and the channel its batches'' events are sent on (events_channel: LISTEN to it); what a row whose data fails a batch does (on_error)';

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
       p.blocks_read,
       round(p.plan_ms::numeric, 3) AS plan_ms,
       round(p.read_ms::numeric, 3) AS read_ms,
       round(p.merge_ms::numeric, 3) AS merge_ms,
       round(p.write_ms::numeric, 3) AS write_ms,
       (SELECT round(n.previous_commit_ms::numeric, 3) FROM stream.progress_log n
         WHERE n.query_id = p.query_id AND n.batch_id = p.batch_id + 1) AS commit_ms,
       p.state_bytes,
       p.dead_letters
  FROM stream.progress_log p
  JOIN stream.query_defs q USING (query_id)
  JOIN stream.checkpoint_offsets o USING (query_id, batch_id)
 WHERE pg_catalog.pg_has_role(current_user, q.owner, 'MEMBER');
COMMENT ON VIEW stream.progress IS 'one row per committed batch of the latest ones (pg_streaming.retained_batches): input rows, rows per second, duration, offsets, blocks read; for a streaming aggregation, the groups in its state and the groups the batch changed; with an event time, the watermark in force, the batch''s event times and the late groups it dropped; where the run''s time went (plan_ms, read_ms, merge_ms, write_ms: parts of duration_ms) and its commit''s (commit_ms, after duration_ms, known once the same process runs the next batch); the size of the state tables after it (state_bytes); the rows it set aside as dead letters';

CREATE FUNCTION stream.deliver_dead_letters(query text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_deliver_dead_letters'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.deliver_dead_letters(text) IS
'deliver the rows a query set aside (stream.dead_letters) again through its current text, as its owner, after stream.alter_query fixed it: each row written is marked delivered in the same transaction, a row that fails again keeps waiting with its new error; returns the rows delivered';
