/*
 * pg_streaming 0.9 -> 0.10: the batch predicate takes the batch's
 * boundaries as one packed parameter, which it decodes once per statement,
 * in place of eight parameters evaluated for every row.
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.10'" to load this file. \quit

CREATE FUNCTION stream._batch_member(xid8, tid, bytea)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_batch_member_packed'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE COST 0.0001;
COMMENT ON FUNCTION stream._batch_member(xid8, tid, bytea) IS
'internal: is this row, of this transaction, in the batch whose boundaries the bytea packs (and count it)';
