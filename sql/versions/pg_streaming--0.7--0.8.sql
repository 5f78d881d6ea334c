/*
 * pg_streaming 0.7 -> 0.8: a join is detached from retention per stream.
 * stream.detach_query finds a join by either of its streams and lets
 * retention go past it on the stream named only; each side keeps when its
 * stream's owner detached it.
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
