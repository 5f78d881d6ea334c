/*
 * pg_streaming 0.8 -> 0.9: streams distributed with Citus.  A query over a
 * distributed stream, started on the coordinator, runs as one query per
 * shard on the node holding it (stream.distributed_queries and
 * stream.distributed_query_shards on the coordinator,
 * stream.query_defs.distributed_query on the nodes).
 */

\echo Use "ALTER EXTENSION pg_streaming UPDATE TO '0.9'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Distributed queries (with Citus): a query over a distributed stream,
-- started on the coordinator, runs as one query per shard on the node that
-- holds the shard.  The coordinator keeps what the user asked for here; the
-- shard queries are ordinary queries in the nodes' own catalogs.
-- ---------------------------------------------------------------------------
CREATE TABLE stream.distributed_queries (
    name                text PRIMARY KEY,
    owner               regrole NOT NULL,
    query_text          text NOT NULL,
    search_path         text NOT NULL,
    stream_relid        regclass NOT NULL,
    target_relid        regclass,
    distribution_column text NOT NULL,
    placement           text NOT NULL CHECK (placement IN ('per_shard', 'merge')),
    options             jsonb NOT NULL DEFAULT '{}',
    desired_status      text NOT NULL DEFAULT 'active'
        CHECK (desired_status IN ('active', 'stopped', 'dropped')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    altered_at          timestamptz
);
COMMENT ON TABLE stream.distributed_queries IS
'streaming queries over distributed streams (Citus), started on the coordinator: each runs as one query per shard on the node holding the shard';
COMMENT ON COLUMN stream.distributed_queries.placement IS
'per_shard: every shard''s query writes its co-located target shard; merge: the shards'' partial states are merged on the coordinator';
COMMENT ON COLUMN stream.distributed_queries.options IS
'start_query''s other arguments as given (output_mode, trigger, key, event_time, watermark, ...), passed to every shard''s query';
COMMENT ON COLUMN stream.distributed_queries.desired_status IS
'what the owner asked for; the coordinator brings every shard''s query to it (stream.distributed_query_shards says how far)';

CREATE TABLE stream.distributed_query_shards (
    name                text NOT NULL REFERENCES stream.distributed_queries
        ON UPDATE CASCADE ON DELETE CASCADE,
    shardid             bigint NOT NULL,
    target_shardid      bigint,
    shard_query         text NOT NULL,
    applied_status      text
        CHECK (applied_status IN ('active', 'stopped', 'dropped')),
    last_error          text,
    last_error_at       timestamptz,
    PRIMARY KEY (name, shardid)
);
COMMENT ON TABLE stream.distributed_query_shards IS
'the shards of each distributed query: the query of that name runs on the node holding the stream''s shard';
COMMENT ON COLUMN stream.distributed_query_shards.applied_status IS
'the status last brought about on the shard''s node: NULL until the shard''s query was started';
COMMENT ON COLUMN stream.distributed_query_shards.last_error IS
'why the shard''s node could not be brought to the desired status (retried), NULL once it was';
REVOKE ALL ON stream.distributed_queries, stream.distributed_query_shards FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_queries', '');
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_query_shards', '');

-- on a node: the distributed query (named on the coordinator) that a shard's query is part of
ALTER TABLE stream.query_defs ADD COLUMN distributed_query text;
COMMENT ON COLUMN stream.query_defs.distributed_query IS
'on a Citus node: the coordinator''s distributed query this query runs one shard of, NULL for a query of this database alone';

-- on a Citus node: one shard's query of a distributed query
CREATE FUNCTION stream._start_shard_query(
    distributed_query   text,
    shard_query         text,
    query               text,
    search_path         text,
    stream_shard        regclass,
    target_shard        regclass,
    relation_map        jsonb,
    options             jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_start_shard_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._start_shard_query(text, text, text, text, regclass, regclass, jsonb, jsonb) IS
'internal, on a Citus node: start, as the caller, the query shard_query of distributed query distributed_query over this node''s stream_shard into target_shard, its text rewritten to name the local relations of relation_map (distributed table -> local shard) and options as stream.start_query''s named arguments; returns its id (the same call again returns the same id)';
