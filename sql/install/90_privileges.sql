
-- ---------------------------------------------------------------------------
-- Privileges: the catalog tables are the extension owner's alone (above);
-- every role may call the SQL surface, whose functions check what the caller
-- may see or change.  Internal functions that only the server calls are
-- closed to PUBLIC.
-- ---------------------------------------------------------------------------
REVOKE ALL ON FUNCTION stream.stream_heap_handler(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._extension_created() FROM PUBLIC;

REVOKE ALL ON FUNCTION stream.on_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_ddl_command_end() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._ddl_rewrites_xid(pg_ddl_command) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_ddl_command_start() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_table_rewrite() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._dropping_with_cascade() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._forget_queries_using(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_combine(oid, oid, anyelement, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_final(oid, oid, "any", anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_merge_step(anyelement, oid, oid, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._agg_merge(oid, oid, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream._create_query_view(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_rename() FROM PUBLIC;
REVOKE ALL ON FUNCTION stream.on_rename_start() FROM PUBLIC;

-- the launcher should look at this database
SELECT stream._extension_created();
