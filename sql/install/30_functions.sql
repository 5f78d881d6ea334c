-- ---------------------------------------------------------------------------
-- Functions and procedures
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream._batch_member(xid8, tid, xid8, xid8, pg_snapshot, xid8[],
                                     xid8, bigint, xid8, bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_batch_member_split'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE COST 0.0001;
COMMENT ON FUNCTION stream._batch_member(xid8, tid, xid8, xid8, pg_snapshot, xid8[], xid8, bigint, xid8, bigint) IS
'internal: is this row, of this transaction, in the batch being run (and count it)';

CREATE FUNCTION stream._batch_member(xid8, tid, bytea)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_batch_member_packed'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE COST 0.0001;
COMMENT ON FUNCTION stream._batch_member(xid8, tid, bytea) IS
'internal: is this row, of this transaction, in the batch whose boundaries the bytea packs (and count it)';

CREATE FUNCTION stream._join_mark(tid, tid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_join_mark'
LANGUAGE C VOLATILE PARALLEL UNSAFE COST 1000000;
COMMENT ON FUNCTION stream._join_mark(tid, tid) IS
'internal: the last term of a join batch''s condition, recording that the two rows matched';

CREATE FUNCTION stream.create_stream(relation regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_create_stream'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.create_stream(regclass) IS
'make an ordinary table an append-only stream table; its present rows form the first offsets';

CREATE FUNCTION stream.drop_stream(
    relation    regclass,
    if_exists   boolean DEFAULT false,
    cascade     boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_drop_stream'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.drop_stream(regclass, boolean, boolean) IS
'turn a stream table back into an ordinary table; with cascade, drop the streaming queries that read it, whoever owns them';

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
'the stream''s owner lets retention go past one of its queries, whoever owns it: the query no longer holds rows back, and is marked when rows it had not read are removed; a join is found by either of its streams and detached from the one named only';

CREATE FUNCTION stream.run_retention(stream regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_run_retention'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.run_retention(regclass) IS
'one retention pass now, in this transaction: reuse the blocks a VACUUM has emptied since the last pass, then remove the rows that may go; returns the rows removed';

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

CREATE FUNCTION stream._alter_shard_query(
    distributed_query   text,
    shard_query         text,
    query               text,
    search_path         text,
    relation_map        jsonb,
    options             jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_alter_shard_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._alter_shard_query(text, text, text, text, jsonb, jsonb) IS
'internal, on a Citus node: bring the query shard_query of distributed query distributed_query to the text query (rewritten as stream._start_shard_query rewrites it) and to the trigger, cap and watermark of options, with stream.alter_query as the caller; the same call again changes nothing';

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

CREATE FUNCTION stream._procedure_signature(procedure oid)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog
AS $$
SELECT pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes))
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.oid = procedure
$$;
COMMENT ON FUNCTION stream._procedure_signature(oid) IS
'a function''s schema, name and argument types, quoted: how a foreach_batch procedure is found by name';

CREATE FUNCTION stream._foreach_batch_procedure(procedure oid, signature text)
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog
AS $$
SELECT CASE WHEN procedure IS NULL THEN NULL
            WHEN signature IS NULL OR stream._procedure_signature(procedure) = signature THEN procedure
            ELSE coalesce(pg_catalog.to_regprocedure(signature)::oid, procedure) END
$$;
COMMENT ON FUNCTION stream._foreach_batch_procedure(oid, text) IS
'a query''s foreach_batch procedure: the recorded oid while it is the procedure of the recorded name, else the procedure of that name (after pg_dump or pg_upgrade, which keep no function''s oid)';

CREATE FUNCTION stream.resume_restored_query(name text, restored_rows text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'stream_resume_restored_query'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.resume_restored_query(text, text) IS
'carry on a query whose checkpoint came with a logical restore: restored_rows ''checkpoint'' (the restore kept the rows'' stamps: exactly once; in another cluster the stream''s owner stamps its restored rows again), ''skip'' (the restored rows count as processed) or ''deliver'' (every restored row again, into an emptied target); false when its checkpoint is already this database''s';

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

CREATE FUNCTION stream._pending_rows(query_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_pending_rows'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._pending_rows(bigint) IS
'internal: rows of the query''s stream that no committed batch has processed, counted in the first blocks and estimated beyond them (NULL where its owner may not read the stream)';

CREATE FUNCTION stream._serving(query_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'stream_serving'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._serving(bigint) IS
'internal: how the background workers serve an active query now (running, waiting for its trigger, or why a due query is not running: no scheduler, no worker slot, all workers busy), read from shared memory (stream.queries calls it for active queries only)';

CREATE FUNCTION stream.pending_rows(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_pending_rows_exact'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.pending_rows(text) IS
'the exact number of committed rows of the query''s stream that no committed batch has processed; reads them all (stream.queries shows an estimate)';


-- ---------------------------------------------------------------------------
-- Streaming aggregations: combine and final functions over stored states,
-- run by a batch's merge statement only
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream._agg_combine(aggregate oid, collation oid, a anyelement, b anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'stream_agg_combine'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._agg_combine(oid, oid, anyelement, anyelement) IS
'internal: the transition state of an aggregate that combines two stored states';

CREATE FUNCTION stream._agg_final(aggregate oid, collation oid, state "any", result_type anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'stream_agg_final'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._agg_final(oid, oid, "any", anyelement) IS
'internal: the result of an aggregate from a stored state';

-- ---------------------------------------------------------------------------
-- Event-time windows
-- ---------------------------------------------------------------------------

CREATE FUNCTION stream.tumble(ts timestamptz, size interval,
                              origin timestamptz DEFAULT '1970-01-01 00:00:00+00')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'stream_tumble'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.tumble(timestamptz, interval, timestamptz) IS
'the start of the tumbling window of the given size that holds ts: windows [start, start + size), aligned to origin (the Unix epoch)';

CREATE FUNCTION stream.tumble(ts timestamp, size interval,
                              origin timestamp DEFAULT '1970-01-01 00:00:00')
RETURNS timestamp
AS 'MODULE_PATHNAME', 'stream_tumble'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.tumble(timestamp, interval, timestamp) IS
'the start of the tumbling window of the given size that holds ts: windows [start, start + size), aligned to origin (the Unix epoch)';

CREATE FUNCTION stream.hop(ts timestamptz, size interval, slide interval,
                           origin timestamptz DEFAULT '1970-01-01 00:00:00+00')
RETURNS SETOF timestamptz
AS 'MODULE_PATHNAME', 'stream_hop'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION stream.hop(timestamptz, interval, interval, timestamptz) IS
'the starts of every sliding window of the given size, starting every slide, that holds ts, ascending';

CREATE FUNCTION stream.hop(ts timestamp, size interval, slide interval,
                           origin timestamp DEFAULT '1970-01-01 00:00:00')
RETURNS SETOF timestamp
AS 'MODULE_PATHNAME', 'stream_hop'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION stream.hop(timestamp, interval, interval, timestamp) IS
'the starts of every sliding window of the given size, starting every slide, that holds ts, ascending';

CREATE FUNCTION stream.session(ts timestamptz, gap interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'stream_session'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.session(timestamptz, interval) IS
'a session window of the given gap, as a grouping key of a streaming aggregation: the sessions of a key that touch merge, and its value is the session''s start';

CREATE FUNCTION stream.session(ts timestamp, gap interval)
RETURNS timestamp
AS 'MODULE_PATHNAME', 'stream_session'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION stream.session(timestamp, interval) IS
'a session window of the given gap, as a grouping key of a streaming aggregation: the sessions of a key that touch merge, and its value is the session''s start';

CREATE FUNCTION stream._agg_merge_step(state anyelement, aggregate oid, collation oid, value anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'stream_agg_merge_step'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._agg_merge_step(anyelement, oid, oid, anyelement) IS
'internal: the transition function of stream._agg_merge';

CREATE AGGREGATE stream._agg_merge(oid, oid, anyelement) (
    sfunc = stream._agg_merge_step,
    stype = anyelement);
COMMENT ON AGGREGATE stream._agg_merge(oid, oid, anyelement) IS
'internal: the state that combines every stored state of a group (merged session windows)';

CREATE FUNCTION stream._create_query_view(query_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'stream_create_query_view'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._create_query_view(bigint) IS
'internal: give a query started before version 0.5 its view in schema stream_query';

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
CREATE FUNCTION stream.deliver_dead_letters(query text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_deliver_dead_letters'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream.deliver_dead_letters(text) IS
'deliver the rows a query set aside (stream.dead_letters) again through its current text, as its owner, after stream.alter_query fixed it: each row written is marked delivered in the same transaction, a row that fails again keeps waiting with its new error; returns the rows delivered';

CREATE FUNCTION stream._reconcile_distributed(name text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'stream_reconcile_distributed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._reconcile_distributed(text) IS
'on a Citus coordinator: bring each shard of the named distributed query (NULL: of every one the caller may manage) to the status its query asks for, on the shard''s node; returns the shard rows still not as desired';

CREATE FUNCTION stream._query_shards(progress boolean)
RETURNS TABLE (name text, shardid bigint, node text, shard_query text,
               applied_status text, last_error text, desired_status text,
               node_error text, figures jsonb)
AS 'MODULE_PATHNAME', 'stream_query_shards'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._query_shards(boolean) IS
'internal: the shards of the distributed queries the current role may see, with the node''s stream.queries row of each shard''s query (progress false), or its stream.progress rows (true), asked of every node at once as the current role';

CREATE FUNCTION stream._node_figures(progress boolean, names text[])
RETURNS text
AS 'MODULE_PATHNAME', 'stream_node_figures'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION stream._node_figures(boolean, text[]) IS
'internal: on a Citus node, the current role''s stream.queries rows (progress false) or stream.progress rows (true) of the named queries as a JSON array, for the coordinator';

CREATE FUNCTION stream._merge_distributed(name text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'stream_merge_distributed'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION stream._merge_distributed(text) IS
'internal, on a Citus coordinator: merge the partial groups the shards'' batches wrote since the last merge into the coordinator''s state and target, and advance each shard''s mark, in the caller''s transaction; returns the exchange rows merged';
