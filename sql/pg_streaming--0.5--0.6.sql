/*
 * pg_streaming 0.5 -> 0.6: no silent loss, no silent starvation.  A
 * checkpoint knows the history it was written in and a query refuses to
 * run on another's; queries that cannot be served say so; retention never
 * waits on a row lock; strangers cannot pin, exhaust or break what is not
 * theirs.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.6'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Retention that never waits, never breaks replication, and belongs to the
-- stream's owner: max_hold bounds how long any query holds a stream's rows
-- back, the stream's owner can detach a query from retention, and the row
-- lock a pass stopped at is shown.
-- ---------------------------------------------------------------------------
ALTER TABLE stream.retention
    ADD COLUMN max_hold interval CHECK (max_hold >= '0'),
    ADD COLUMN blocked_by xid,
    ADD COLUMN blocked_since timestamptz,
    ADD COLUMN blocked_warned_at timestamptz;
COMMENT ON COLUMN stream.retention.max_hold IS
'no query, whoever owns it, keeps a row longer than this after its transaction ended; NULL: as long as it needs';
COMMENT ON COLUMN stream.retention.blocked_by IS
'the transaction whose row lock stopped the last pass (a pass never waits for a lock)';
COMMENT ON COLUMN stream.retention.blocked_since IS
'since when blocked_by has held the passes back';
COMMENT ON COLUMN stream.retention.blocked_warned_at IS
'when a pass last warned that blocked_by holds retention back';

ALTER TABLE stream.query_defs ADD COLUMN retention_detached_at timestamptz;
COMMENT ON COLUMN stream.query_defs.retention_detached_at IS
'when the stream''s owner detached the query from retention (stream.detach_query): it no longer holds the stream''s rows back';

DROP FUNCTION stream.set_retention(regclass, interval, boolean);
CREATE FUNCTION stream.set_retention(
    stream                  regclass,
    keep                    interval,
    past_inactive_queries   boolean DEFAULT false,
    max_hold                interval DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_set_retention'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream.set_retention(regclass, interval, boolean, interval) IS
'keep a stream''s rows for "keep" and until every query has processed them, then remove them in the background and reuse their space; keep => NULL keeps everything; with past_inactive_queries, stopped and failed queries do not hold removal back and are marked as having missed rows; with max_hold, no query holds a row back longer than that after it was written, and a query that had not read it is marked';

CREATE FUNCTION stream.detach_query(stream regclass, query text)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_detach_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.detach_query(regclass, text) IS
'the stream''s owner lets retention go past one of its queries, whoever owns it: the query no longer holds rows back, and is marked when rows it had not read are removed';

CREATE OR REPLACE VIEW stream.stream_retention WITH (security_barrier) AS
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
