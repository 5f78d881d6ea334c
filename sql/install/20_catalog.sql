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
        CHECK (output_mode IN ('append', 'update', 'complete', 'partial')),
    trigger             text NOT NULL,
    max_rows_per_batch  integer CHECK (max_rows_per_batch > 0),
    status              text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'stopped', 'finished', 'failed')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    last_error_sqlstate text,
    last_error_at       timestamptz,
    last_error_detail   text,
    last_error_hint     text,
    missed_rows_at      timestamptz,
    state_relid         regclass,
    event_time          text,
    watermark_delay     interval,
    dedup_columns       text[],
    key_columns         text[],
    foreach_batch       oid,
    altered_at          timestamptz,
    definition_view     regclass,
    run_text            text,
    retention_detached_at timestamptz,
    foreach_batch_name  text,
    watermark_policy    text CHECK (watermark_policy IN ('min', 'max')),
    watermarks          text[],
    events_channel      text,
    on_error            text NOT NULL DEFAULT 'fail'
        CHECK (on_error IN ('fail', 'dead_letter')),
    distributed_query   text
);
COMMENT ON TABLE stream.query_defs IS 'streaming queries started by stream.start_query';
COMMENT ON COLUMN stream.query_defs.state_relid IS
'a streaming aggregation''s state table, in schema stream_state; NULL for other queries';
COMMENT ON COLUMN stream.query_defs.event_time IS
'the stream''s event-time column, with watermark_delay: the watermark is the latest event time seen minus the delay';
COMMENT ON COLUMN stream.query_defs.key_columns IS
'a query without aggregation in update mode: the output columns its target is upserted by';
COMMENT ON COLUMN stream.query_defs.foreach_batch IS
'the procedure called once per batch with the batch id; the batch''s rows are in the target, a table in schema stream_batch';
COMMENT ON COLUMN stream.query_defs.foreach_batch_name IS
'the foreach_batch procedure''s qualified name and argument types, kept through renames: what finds it again after pg_dump or pg_upgrade, which keep no function''s oid';
COMMENT ON COLUMN stream.query_defs.definition_view IS
'the query as a view in schema stream_query (its constants hidden): PostgreSQL keeps what it reads from being dropped or altered under it';
COMMENT ON COLUMN stream.query_defs.retention_detached_at IS
'when the stream''s owner detached the query from retention (stream.detach_query): it no longer holds the stream''s rows back (a join: its first stream''s; each side''s is in stream.query_side_defs)';
COMMENT ON COLUMN stream.query_defs.run_text IS
'the query as batches run it: its owner''s analysis deparsed, every name outside pg_catalog qualified, its constants as they were read';
COMMENT ON COLUMN stream.query_defs.watermark_policy IS
'a join between two streams: how its watermark follows its sides'' watermarks, ''min'' (the lowest) or ''max'' (the highest); NULL for a query over one stream';
COMMENT ON COLUMN stream.query_defs.on_error IS
'what a row whose data fails the batch does: ''fail'' fails the batch (its error names the row), ''dead_letter'' sets the row aside in stream.dead_letter_log and delivers the others';
COMMENT ON COLUMN stream.query_defs.watermarks IS
'the watermarks argument as given, one ''<side>.<column> <delay>'' per side with a watermark; NULL when it was not given';
COMMENT ON COLUMN stream.query_defs.events_channel IS
'the channel a NOTIFY is sent on for each committed or failed batch (stream.alter_query(name, events => true)): random, so that only those who read it in stream.queries can LISTEN to it; NULL for no events';

-- the two sides of a query that reads two streams (a join, or a self-join);
-- a query over one stream has no rows here and keeps its stream, event
-- time and delay in stream.query_defs
CREATE TABLE stream.query_side_defs (
    query_id        bigint NOT NULL REFERENCES stream.query_defs ON DELETE CASCADE,
    side            smallint NOT NULL CHECK (side IN (1, 2)),
    relid           regclass NOT NULL REFERENCES stream.streams (relid),
    name            text NOT NULL,
    event_time      text,
    watermark_delay interval,
    retention_detached_at timestamptz,
    PRIMARY KEY (query_id, side)
);
COMMENT ON TABLE stream.query_side_defs IS
'the sides of a join between two streams, 1 and 2 in the order the query reads them: each side''s stream, its name in the query, and its event-time column and watermark delay';
COMMENT ON COLUMN stream.query_side_defs.retention_detached_at IS
'when the owner of the side''s stream detached the join from that stream''s retention (stream.detach_query): it no longer holds that stream''s rows back';

-- A batch's rows in checkpoint_commits, progress_log, checkpoint_watermarks,
-- checkpoint_sides, progress_side_log and progress_operator_log belong to
-- its offsets row here, but have no foreign key to it (from 0.11): a key
-- was checked for every row a batch writes, and cascaded into the six
-- tables whenever old offsets were forgotten.  Whatever removes offsets
-- (old batches forgotten, a query restarted or dropped) removes those rows
-- in the same statement.
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
    start_split_xid     xid8,
    start_split_block   bigint,
    end_split_xid       xid8,
    end_split_block     bigint,
    end_split_stop      bigint,
    end_rest_floor      bigint,
    scan_to_block       bigint,
    end_writer_xids     xid8[],
    end_writer_firsts   bigint[],
    history_id          bigint,
    system_identifier   bigint,
    PRIMARY KEY (query_id, batch_id)
);
COMMENT ON TABLE stream.checkpoint_offsets IS
'write-ahead offsets: one row per planned batch, committed before the batch runs; the batch''s rows of the other checkpoint and progress tables are removed with it';
COMMENT ON COLUMN stream.checkpoint_offsets.history_id IS
'the transaction history the offsets were written in (stream.local_history); a batch never runs on offsets of another';
COMMENT ON COLUMN stream.checkpoint_offsets.system_identifier IS
'the database system identifier of the cluster the offsets were written in, for the message when they are not this history''s';

CREATE TABLE stream.checkpoint_commits (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    committed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (query_id, batch_id)
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
    state_rows      bigint,
    state_rows_updated bigint,
    watermark       timestamptz,
    next_watermark  timestamptz,
    event_time_min  timestamptz,
    event_time_max  timestamptz,
    event_time_avg  timestamptz,
    late_rows       bigint,
    blocks_read     bigint,
    plan_ms         double precision,
    read_ms         double precision,
    merge_ms        double precision,
    write_ms        double precision,
    previous_commit_ms double precision,
    state_bytes     bigint,
    dead_letters    bigint,
    PRIMARY KEY (query_id, batch_id)
);
COMMENT ON TABLE stream.progress_log IS 'one row per committed batch, written in the batch''s transaction';
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
COMMENT ON COLUMN stream.progress_log.dead_letters IS
'the rows the batch set aside in stream.dead_letter_log (on_error => ''dead_letter''); NULL for a batch of a query that fails instead';

CREATE TABLE stream.progress_by_minute (
    query_id        bigint NOT NULL REFERENCES stream.query_defs ON DELETE CASCADE,
    minute          timestamptz NOT NULL,
    batches         integer NOT NULL,
    input_rows      bigint NOT NULL,
    output_rows     bigint NOT NULL,
    busy_ms         double precision NOT NULL,
    max_batch_ms    double precision NOT NULL,
    blocks_read     bigint NOT NULL,
    PRIMARY KEY (query_id, minute)
);
COMMENT ON TABLE stream.progress_by_minute IS
'batches by the minute, kept for pg_streaming.progress_history_minutes: written in each batch''s transaction';

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
    relfilenode             oid,
    max_hold                interval CHECK (max_hold >= '0'),
    blocked_by              xid,
    blocked_since           timestamptz,
    blocked_warned_at       timestamptz
);
COMMENT ON TABLE stream.retention IS
'retention of stream tables: how long rows are kept, and how far removal has come';
COMMENT ON COLUMN stream.retention.max_hold IS
'no query, whoever owns it, keeps a row longer than this after its transaction ended; NULL: as long as it needs';
COMMENT ON COLUMN stream.retention.blocked_by IS
'the transaction whose row lock stopped the last pass (a pass never waits for a lock)';
COMMENT ON COLUMN stream.retention.blocked_since IS
'since when blocked_by has held the passes back';
COMMENT ON COLUMN stream.retention.blocked_warned_at IS
'when a pass last warned that blocked_by holds retention back';

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

-- the watermarks of a batch with an event time, written ahead with its
-- offsets so that a replay uses the same
CREATE TABLE stream.checkpoint_watermarks (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    watermark       timestamptz,
    late_watermark  timestamptz,
    PRIMARY KEY (query_id, batch_id)
);
COMMENT ON TABLE stream.checkpoint_watermarks IS
'watermarks of a batch, written ahead with its offsets: the one in force (state up to it is emitted and evicted) and the one rows at or before which are late';

-- The transaction history this database's checkpoints are written in: one
-- row, made when the extension is created.  It is NOT part of the
-- extension's configuration, so pg_dump leaves it out and a restore makes a
-- new one, while physical copies (standbys, PITR, pg_upgrade) carry it with
-- the transaction ids it vouches for.
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

-- the state tables of streaming aggregations: one per query, created by
-- stream.start_query, owned by the extension's owner, dropped with the query
CREATE SCHEMA stream_state;
COMMENT ON SCHEMA stream_state IS
'state tables of streaming aggregations: one row per group, with each aggregate''s transition state';
REVOKE ALL ON SCHEMA stream_state FROM PUBLIC;

-- the tables that hold the current batch's rows for foreach_batch procedures
CREATE SCHEMA stream_batch;
COMMENT ON SCHEMA stream_batch IS
'one table per foreach_batch query, named after it and owned by its owner: the rows of the batch being processed';
REVOKE ALL ON SCHEMA stream_batch FROM PUBLIC;
GRANT USAGE ON SCHEMA stream_batch TO PUBLIC;

-- one view per query over its text, for PostgreSQL's dependencies
CREATE SCHEMA stream_query;
COMMENT ON SCHEMA stream_query IS
'one view per streaming query, over its text: what a query reads cannot be dropped or altered under it without CASCADE, which drops the query, and renames are followed';
REVOKE ALL ON SCHEMA stream_query FROM PUBLIC;

-- side 2's part of a join batch's offsets (side 1's is the batch's
-- checkpoint_offsets row), written ahead with them
CREATE TABLE stream.checkpoint_sides (
    query_id            bigint NOT NULL,
    batch_id            bigint NOT NULL,
    side                smallint NOT NULL CHECK (side = 2),
    scan_from_block     bigint NOT NULL,
    end_floor_block     bigint NOT NULL,
    end_tail_block      bigint NOT NULL,
    relfilenode         oid NOT NULL,
    end_rest_floor      bigint,
    end_writer_xids     xid8[],
    end_writer_firsts   bigint[],
    PRIMARY KEY (query_id, batch_id, side)
);
COMMENT ON TABLE stream.checkpoint_sides IS
'write-ahead offsets of a join''s second stream: one row per planned batch, with the batch''s offsets row (whose snapshots both sides share)';

-- what each side of a join batch read, dropped and kept, written in the
-- batch's transaction
CREATE TABLE stream.progress_side_log (
    query_id        bigint NOT NULL,
    batch_id        bigint NOT NULL,
    side            smallint NOT NULL CHECK (side IN (1, 2)),
    input_rows      bigint NOT NULL,
    late_rows       bigint NOT NULL,
    state_rows      bigint,
    watermark       timestamptz,
    event_time_min  timestamptz,
    event_time_max  timestamptz,
    PRIMARY KEY (query_id, batch_id, side)
);
COMMENT ON TABLE stream.progress_side_log IS
'one row per committed batch of a join and per side: the side''s new rows, its rows dropped as late, its rows the join keeps, its watermark after the batch and its event times';

-- each stateful operator's state after a batch, written in the batch's
-- transaction: one row per operator (a join's two sides, one row each), in
-- the order the rows flow through them
CREATE TABLE stream.progress_operator_log (
    query_id            bigint NOT NULL,
    batch_id            bigint NOT NULL,
    ordinal             smallint NOT NULL CHECK (ordinal >= 1),
    operator            text NOT NULL CHECK (operator IN ('join', 'deduplication', 'aggregation')),
    side                smallint CHECK (side IN (1, 2)),
    state_rows          bigint NOT NULL,
    state_rows_updated  bigint NOT NULL,
    state_rows_removed  bigint NOT NULL,
    late_rows           bigint NOT NULL,
    PRIMARY KEY (query_id, batch_id, ordinal),
    CHECK ((operator = 'join') = (side IS NOT NULL))
);
COMMENT ON TABLE stream.progress_operator_log IS
'one row per committed batch and stateful operator (a join: one per side), in the order rows flow through them: the rows the operator keeps in its state after the batch, the rows the batch added or changed and removed there, and the input rows (a join, a deduplication) or groups (an aggregation) it dropped as late';

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

REVOKE ALL ON stream.checkpoint_watermarks, stream.progress_by_minute FROM PUBLIC;
REVOKE ALL ON stream.query_side_defs, stream.checkpoint_sides,
    stream.progress_side_log FROM PUBLIC;
REVOKE ALL ON stream.progress_operator_log FROM PUBLIC;
REVOKE ALL ON stream.dead_letter_log FROM PUBLIC;
REVOKE ALL ON stream.streams, stream.query_defs, stream.checkpoint_offsets,
    stream.checkpoint_commits, stream.progress_log, stream.retention,
    stream.retention_marks, stream.stream_runs FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('stream.streams', '');
SELECT pg_catalog.pg_extension_config_dump('stream.query_defs', '');
SELECT pg_catalog.pg_extension_config_dump('stream.query_defs_query_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_commits', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_log', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_by_minute', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_watermarks', '');
SELECT pg_catalog.pg_extension_config_dump('stream.retention', '');
SELECT pg_catalog.pg_extension_config_dump('stream.retention_marks', '');
SELECT pg_catalog.pg_extension_config_dump('stream.stream_runs', '');
SELECT pg_catalog.pg_extension_config_dump('stream.query_side_defs', '');
SELECT pg_catalog.pg_extension_config_dump('stream.checkpoint_sides', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_side_log', '');
SELECT pg_catalog.pg_extension_config_dump('stream.progress_operator_log', '');
SELECT pg_catalog.pg_extension_config_dump('stream.dead_letter_log', '');

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
    applied_at          timestamptz,
    PRIMARY KEY (name, shardid)
);
COMMENT ON TABLE stream.distributed_query_shards IS
'the shards of each distributed query: the query of that name runs on the node holding the stream''s shard';
COMMENT ON COLUMN stream.distributed_query_shards.applied_status IS
'the status last brought about on the shard''s node: NULL until the shard''s query was started';
COMMENT ON COLUMN stream.distributed_query_shards.last_error IS
'why the shard''s node could not be brought to the desired status (retried), NULL once it was';
COMMENT ON COLUMN stream.distributed_query_shards.applied_at IS
'the query''s altered_at whose definition the shard''s query was last brought to; the shard is brought to the query''s text and options again while they differ';
REVOKE ALL ON stream.distributed_queries, stream.distributed_query_shards FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_queries', '');
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_query_shards', '');
COMMENT ON COLUMN stream.query_defs.distributed_query IS
'on a Citus node: the coordinator''s distributed query this query runs one shard of, NULL for a query of this database alone';

-- the exchanges of merged distributed aggregations (Citus), made by the
-- coordinator, owned by the extension's owner: names visible to the shards'
-- queries' owners (who pass the exchange's shard as a regclass), tables
-- readable and writable by the extension's owner alone
CREATE SCHEMA stream_exchange;
COMMENT ON SCHEMA stream_exchange IS
'exchanges of merged distributed aggregations: each shard''s batches append their partial groups, the coordinator merges them';
REVOKE ALL ON SCHEMA stream_exchange FROM PUBLIC;
GRANT USAGE ON SCHEMA stream_exchange TO PUBLIC;

-- merge placement: on the coordinator, a distributed aggregation whose shards'
-- partial states are merged there, and how far each shard's were merged
CREATE TABLE stream.distributed_merges (
    name                text PRIMARY KEY REFERENCES stream.distributed_queries
        ON UPDATE CASCADE ON DELETE CASCADE,
    merge_id            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    output_mode         text NOT NULL
        CHECK (output_mode IN ('append', 'update', 'complete')),
    target_columns      text[] NOT NULL,
    event_time          text,
    watermark_delay     interval,
    state_relid         regclass NOT NULL,
    exchange_relid      regclass NOT NULL,
    merges              bigint NOT NULL DEFAULT 0,
    watermark           timestamptz,
    last_merge_at       timestamptz
);
COMMENT ON TABLE stream.distributed_merges IS
'on the coordinator: distributed aggregations not grouped by the distribution column, whose shards'' partial states (the exchange table) are merged into the coordinator''s state and target';
COMMENT ON COLUMN stream.distributed_merges.output_mode IS
'the output mode of the coordinator''s target (the shards'' queries run in output mode partial)';
COMMENT ON COLUMN stream.distributed_merges.exchange_relid IS
'the exchange: a table distributed and co-located with the stream, where each shard''s batch appends its partial groups in its own transaction';
COMMENT ON COLUMN stream.distributed_merges.merges IS
'the merges committed: each merge combines the exchange rows of the shards'' batches after their marks';
COMMENT ON COLUMN stream.distributed_merges.watermark IS
'the watermark in force after the latest merge: the least of the shards'' latest event times less the delay, NULL while a shard has merged none';

CREATE TABLE stream.distributed_merge_shards (
    name                text NOT NULL REFERENCES stream.distributed_merges
        ON UPDATE CASCADE ON DELETE CASCADE,
    shard_query         text NOT NULL,
    merged_batch        bigint NOT NULL DEFAULT 0,
    max_event_time      timestamptz,
    merged_at           timestamptz,
    PRIMARY KEY (name, shard_query)
);
COMMENT ON TABLE stream.distributed_merge_shards IS
'the mark of each shard of a merged distributed query: the latest of its batches whose partial groups the coordinator merged';
COMMENT ON COLUMN stream.distributed_merge_shards.max_event_time IS
'the latest event time among the shard''s merged batches; NULL (an idle shard) holds the query''s watermark back';
REVOKE ALL ON stream.distributed_merges, stream.distributed_merge_shards FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_merges', '');
SELECT pg_catalog.pg_extension_config_dump('stream.distributed_merge_shards', '');
