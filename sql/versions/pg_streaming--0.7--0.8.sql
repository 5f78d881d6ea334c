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
