/*
 * pg_streaming 0.5 -> 0.6: no silent loss, no silent starvation.  A
 * checkpoint knows the history it was written in and a query refuses to
 * run on another's; queries that cannot be served say so; retention never
 * waits on a row lock; strangers cannot pin, exhaust or break what is not
 * theirs.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.6'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- A checkpoint belongs to one transaction history.  The history is a row
-- that physical copies and pg_upgrade carry and pg_dump does not (it is no
-- configuration table); the offsets written before this update were written
-- in this database, so they are adopted as this history's.
-- ---------------------------------------------------------------------------
CREATE TABLE stream.local_history (
    history_id          bigint PRIMARY KEY,
    system_identifier   bigint NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stream.local_history IS
'the transaction history of this database''s checkpoints: a random id made by CREATE EXTENSION, carried by physical copies and pg_upgrade, never by a dump';
INSERT INTO stream.local_history (history_id, system_identifier)
SELECT ('x' || pg_catalog.translate(pg_catalog.left(pg_catalog.gen_random_uuid()::text, 18), '-', ''))::bit(64)::bigint,
       system_identifier
  FROM pg_catalog.pg_control_system();
REVOKE ALL ON stream.local_history FROM PUBLIC;

ALTER TABLE stream.checkpoint_offsets
    ADD COLUMN history_id bigint,
    ADD COLUMN system_identifier bigint;
COMMENT ON COLUMN stream.checkpoint_offsets.history_id IS
'the transaction history the offsets were written in (stream.local_history); a batch never runs on offsets of another';
COMMENT ON COLUMN stream.checkpoint_offsets.system_identifier IS
'the database system identifier of the cluster the offsets were written in, for the message when they are not this history''s';
UPDATE stream.checkpoint_offsets
   SET history_id = h.history_id, system_identifier = h.system_identifier
  FROM stream.local_history h;

CREATE FUNCTION stream.resume_restored_query(name text, restored_rows text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_resume_restored_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.resume_restored_query(text, text) IS
'carry on a query whose checkpoint came with a logical restore: restored_rows ''checkpoint'' (same cluster, stamps kept: exactly once), ''skip'' (the restored rows count as processed) or ''deliver'' (every restored row again, into an emptied target); false when its checkpoint is already this database''s';
