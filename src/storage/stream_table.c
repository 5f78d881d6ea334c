/*-------------------------------------------------------------------------
 *
 * stream_table.c
 *	  stream.create_stream and stream.drop_stream.
 *
 * A table becomes a stream by one ALTER TABLE, run as the caller (who must
 * own it): it gets the column _stream_xid, the id of the top-level
 * transaction that inserted the row, and the stream_heap access method.
 * The rewrite gives the rows already present the xid of the creating
 * transaction, so they form the first batch of every query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "storage/pgs_retention.h"

PG_FUNCTION_INFO_V1(stream_create_stream);
PG_FUNCTION_INFO_V1(stream_drop_stream);

static char *
st_qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* the caller owns the table, or an error says what is wrong */
void
pgs_check_table_owner(Oid relid)
{
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
}

/*
 * Lock a table the caller must own.  Ownership is checked before the lock
 * is requested, so that a stranger cannot queue an exclusive lock on
 * somebody else's table, and again once it is held, in case the table
 * changed hands meanwhile.
 */
static Relation
st_open_owned(Oid relid)
{
	Relation	rel;

	pgs_check_table_owner(relid);
	rel = relation_open(relid, AccessExclusiveLock);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
	return rel;
}

/* run a utility statement as the current user */
static void
st_exec_as_caller(const char *sql)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(sql, false, 0);
	if (rc < 0)
		elog(ERROR, "statement failed (%s): %s", SPI_result_code_string(rc), sql);
	SPI_finish();
}

/*
 * stream.create_stream: the owner's ordinary, permanent table gets
 * _stream_xid and the stream_heap access method in one ALTER TABLE run as
 * the caller, and is registered afterwards (so the DDL guard lets it pass).
 */
Datum
stream_create_stream(PG_FUNCTION_ARGS)
{
	pgs_create_stream(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * Make the caller's table a stream, as stream.create_stream does; also how
 * stream.start_query makes a target it created a stream (target_is_stream),
 * with every check of create_stream.
 */
void
pgs_create_stream(Oid relid)
{
	char	   *relname;
	Relation	rel;
	bool		registered;

	pgs_require_writable();
	rel = st_open_owned(relid);
	relname = st_qualified_name(relid);

	registered = pgs_is_stream(relid);
	if (registered)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already a stream", get_rel_name(relid))));

	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" cannot be a stream", get_rel_name(relid)),
				 errdetail("Only ordinary tables can be streams; partitioned tables, views and foreign tables cannot."),
				 errhint("Create an ordinary table for the stream.")));
	if (rel->rd_rel->relpersistence != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" cannot be a stream", get_rel_name(relid)),
				 errdetail("Temporary and unlogged tables lose rows that streaming queries may not have processed yet."),
				 errhint("Use a permanent, logged table.")));
	if (has_subclass(relid) || has_superclass(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" cannot be a stream", get_rel_name(relid)),
				 errdetail("The table takes part in table inheritance."),
				 errhint("Use a table that neither inherits nor is inherited from.")));
	if (get_attnum(relid, PGS_XID_COLUMN) != InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_COLUMN),
				 errmsg("table \"%s\" already has a column named \"%s\"", get_rel_name(relid),
						PGS_XID_COLUMN),
				 errdetail("Stream tables keep the inserting transaction's id in that column."),
				 errhint("Rename the column first.")));
	relation_close(rel, NoLock);

	/*
	 * The stamp is never null: the access method refuses a null one (see
	 * stream_am.c), so a catalog whose guard allows it leaves out the NOT
	 * NULL constraint, which the executor would check on every row.
	 */
	st_exec_as_caller(psprintf("ALTER TABLE %s"
							   " ADD COLUMN " PGS_XID_COLUMN " pg_catalog.xid8%s"
							   " DEFAULT pg_catalog.pg_current_xact_id(),"
							   " SET ACCESS METHOD stream_heap,"
							   " SET (vacuum_truncate = false)",
							   relname,
							   pgs_catalog_stamps_unconstrained() ? "" : " NOT NULL"));
	st_exec_as_caller(psprintf("COMMENT ON COLUMN %s." PGS_XID_COLUMN " IS"
							   " 'id of the top-level transaction that inserted the row (pg_streaming)'",
							   relname));

	pgs_stream_register(relid, true);
}

/*
 * Turn a stream back into an ordinary table.  Queries that read it keep it
 * a stream, unless cascade drops them, whoever owns them: the stream's
 * owner decides what becomes of the table, as with a view on it.  The
 * stream leaves the catalog before its table is changed, so the DDL guard
 * lets the change through.
 */
Datum
stream_drop_stream(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	bool		if_exists = PG_GETARG_BOOL(1);
	bool		cascade = PG_NARGS() > 2 && PG_GETARG_BOOL(2);
	char	   *relname;
	Relation	rel;
	bool		registered;
	char	   *users;

	pgs_require_writable();
	rel = st_open_owned(relid);
	relname = st_qualified_name(relid);
	relation_close(rel, NoLock);

	registered = pgs_is_stream(relid);
	if (!registered)
	{
		if (if_exists)
		{
			ereport(NOTICE,
					(errmsg("table \"%s\" is not a stream, skipping", get_rel_name(relid))));
			PG_RETURN_VOID();
		}
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" is not a stream", get_rel_name(relid))));
	}

	/*
	 * The shards of a distributed stream go with it (Citus runs the ALTER
	 * below on each); the shard queries of a distributed query would lose
	 * their stream on their nodes, so the query goes first.
	 */
	users = pgs_distributed_query_names_reading(relid);
	if (users != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop stream \"%s\" because distributed queries read it", get_rel_name(relid)),
				 errdetail("Distributed queries reading the stream: %s.", users),
				 errhint("Drop them first with stream.drop_query(), and drop the stream once stream.distributed_queries no longer lists them.")));

	users = pgs_query_names_reading(relid);
	if (users != NULL && !cascade)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop stream \"%s\" because streaming queries read it", get_rel_name(relid)),
				 errdetail("Queries reading the stream: %s.", users),
				 errhint("Drop the queries first with stream.drop_query(), or use stream.drop_stream(..., cascade => true) to drop them too.")));
	if (users != NULL)
	{
		int			n = pgs_query_delete_reading(relid);

		ereport(NOTICE,
				(errmsg_plural("drop cascades to %d streaming query",
							   "drop cascades to %d streaming queries", n, n),
				 errdetail("Dropped: %s.", users)));
		pgs_notify_scheduler_at_commit();
	}

	pgs_stream_register(relid, false);

	st_exec_as_caller(psprintf("ALTER TABLE %s DROP COLUMN " PGS_XID_COLUMN ","
							   " SET ACCESS METHOD heap, RESET (vacuum_truncate)",
							   relname));
	PG_RETURN_VOID();
}
