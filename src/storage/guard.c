/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  The utility commands that must know of streams and queries: roles'
 *	  DDL (DROP OWNED BY drops a role's queries, REASSIGN OWNED BY moves
 *	  them, DROP ROLE refuses a role that still owns some, so that no query
 *	  ever runs as a role that no longer exists), VACUUM FULL and CLUSTER of
 *	  streams, DROP EXTENSION ... CASCADE, and the rewrites of stream tables.
 *
 * Queries are rows of the extension's catalog, not objects PostgreSQL
 * records dependencies for, so event triggers around drops, and a utility
 * hook for REASSIGN OWNED and DROP ROLE (which fire no event triggers), do
 * for them what pg_depend and pg_shdepend do for tables.  They see the
 * current database only; a batch whose owner is gone
 * fails before it runs (batch.c) wherever the role was dropped from.  DDL
 * on stream tables themselves is checked by the event trigger of the
 * install script (stream.on_ddl_command_end), with the help of
 * stream._ddl_rewrites_xid below.
 *
 * Only catalog/ runs statements on stream.*, stream_state, stream_batch
 * and stream_query: the queries and checkpoints this file asks about are
 * read by catalog/ (pgs_query.h, pgs_storage_catalog.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "catalog/pgs_storage_catalog.h"
#include "common/pgs_common.h"
#include "storage/pgs_guard.h"

PG_FUNCTION_INFO_V1(stream_ddl_rewrites_xid);
PG_FUNCTION_INFO_V1(stream_on_table_rewrite);
PG_FUNCTION_INFO_V1(stream_on_ddl_command_start);
PG_FUNCTION_INFO_V1(stream_dropping_with_cascade);
PG_FUNCTION_INFO_V1(stream_forget_queries_using);

/* does this database have the extension, with its catalog usable? */
static bool
guard_extension_present(void)
{
	return IsTransactionState() && !creating_extension &&
		OidIsValid(get_extension_oid("pg_streaming", true));
}

/* the OIDs of a statement's roles that exist */
static List *
guard_role_oids(List *rolespecs)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, rolespecs)
	{
		RoleSpec   *rs = lfirst_node(RoleSpec, lc);
		Oid			roleid = get_rolespec_oid(rs, true);

		if (OidIsValid(roleid))
			oids = lappend_oid(oids, roleid);
	}
	return oids;
}

static void
guard_check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, guard_role_oids(stmt->roles))
	{
		Oid			roleid = lfirst_oid(lc);
		int			n = pgs_query_count_owned(roleid);

		if (n > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns streaming queries",
							GetUserNameFromId(roleid, false)),
					 errdetail_plural("The role owns %d streaming query in this database.",
									  "The role owns %d streaming queries in this database.",
									  n, n),
					 errhint("Drop them with DROP OWNED BY or stream.drop_query(), or give them to another role with REASSIGN OWNED BY.")));
	}
}

/*
 * Whether the DDL command running now drops with CASCADE: set by the
 * ddl_command_start trigger for every command, read by the sql_drop trigger
 * of the same command through stream._dropping_with_cascade().
 */
static bool guard_cascading = false;

/*
 * The queries that are part-way through the rows of one large transaction,
 * each with its stream: those rows are split between batches by block, so
 * a rewrite of the stream (VACUUM FULL, CLUSTER, a rewriting ALTER TABLE)
 * would lose or repeat some of them.  One query per stream, of the stream
 * relid or (InvalidOid) of every stream; *relids gets the streams.
 */
static List *
guard_split_queries(Oid relid, List **relids)
{
	return pgs_split_queries(relid, relids);
}

/* a rewrite of a stream part-way through a transaction is refused */
static void
guard_check_rewrite(Oid relid, const char *command)
{
	List	   *relids;
	List	   *queries = guard_split_queries(relid, &relids);
	char	   *query = queries != NIL ? linitial(queries) : NULL;

	if (query != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s stream table \"%s\" while streaming query \"%s\" is part-way through the rows of one transaction",
						command, get_rel_name(relid), query),
				 errdetail("The query splits that transaction's rows between batches by their place in the table, which the rewrite would change."),
				 errhint("Let the query process them first, with CALL stream.process_all_available('%s').",
						 query)));
	queries = pgs_join_queries(relid, &relids);
	if (queries != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s stream table \"%s\" while streaming query \"%s\" joins it with another stream",
						command, get_rel_name(relid), (char *) linitial(queries)),
				 errdetail("The join keeps rows of the stream by their place in the table (rows waiting for a match, rows dropped as late), which the rewrite would change."),
				 errhint("Drop the query first, and start it again after the rewrite.")));
}

/*
 * May the current user VACUUM the table?  Its owner may, and so may the
 * database's owner (any table but a shared catalog), as vacuum.c decides.
 */
static bool
guard_may_vacuum(Oid relid)
{
	return pg_class_ownercheck(relid, GetUserId()) ||
		(pg_database_ownercheck(MyDatabaseId, GetUserId()) &&
		 !IsSharedRelation(relid));
}

/*
 * A VACUUM FULL of the whole database while a stream may not be rewritten:
 * the statement becomes a VACUUM FULL of every table the user may vacuum
 * but those streams, each skipped with a WARNING (as VACUUM skips a table
 * it may not vacuum).  The relations are the ones VACUUM itself would take
 * (tables, materialized views, partitioned tables), already checked, so
 * that VACUUM does not expand them again.  NULL when no stream is held;
 * *nothing_left when the held streams are all the user may vacuum.
 */
static VacuumStmt *
guard_vacuum_all_but_split(VacuumStmt *stmt, bool analyze, bool *nothing_left)
{
	List	   *held;
	List	   *joined;
	List	   *queries;
	ListCell   *lq;
	ListCell   *lr;
	List	   *rels = NIL;
	Relation	pg_class_rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	VacuumStmt *result;
	bits32		options = VACOPT_VACUUM | VACOPT_FULL | (analyze ? VACOPT_ANALYZE : 0);

	queries = guard_split_queries(InvalidOid, &held);
	forboth(lq, queries, lr, held)
	{
		Oid			relid = lfirst_oid(lr);
		char	   *query = lfirst(lq);

		/* for others the statement skips it anyway, and we name nothing */
		if (!guard_may_vacuum(relid))
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("skipping stream table \"%s\" --- streaming query \"%s\" is part-way through the rows of one transaction",
						get_rel_name(relid), query),
				 errdetail("The query splits that transaction's rows between batches by their place in the table, which VACUUM FULL would change."),
				 errhint("Let the query process them first, with CALL stream.process_all_available('%s'), then VACUUM FULL the table.",
						 query)));
	}
	queries = pgs_join_queries(InvalidOid, &joined);
	forboth(lq, queries, lr, joined)
	{
		Oid			relid = lfirst_oid(lr);

		if (list_member_oid(held, relid))
			continue;
		held = lappend_oid(held, relid);
		if (!guard_may_vacuum(relid))
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("skipping stream table \"%s\" --- streaming query \"%s\" joins it with another stream",
						get_rel_name(relid), (char *) lfirst(lq)),
				 errdetail("The join keeps rows of the stream by their place in the table, which VACUUM FULL would change."),
				 errhint("Drop the query first, and start it again after VACUUM FULL.")));
	}
	if (held == NIL)
		return NULL;

	pg_class_rel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(pg_class_rel, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

		if (form->relkind != RELKIND_RELATION &&
			form->relkind != RELKIND_MATVIEW &&
			form->relkind != RELKIND_PARTITIONED_TABLE)
			continue;
		if (list_member_oid(held, form->oid))
			continue;
		if (!vacuum_is_relation_owner(form->oid, form, options))
			continue;
		rels = lappend(rels, makeVacuumRelation(NULL, form->oid, NIL));
	}
	table_endscan(scan);
	table_close(pg_class_rel, AccessShareLock);

	/* nothing else to do: VACUUM without relations would take them all */
	if (rels == NIL)
		*nothing_left = true;
	result = copyObject(stmt);
	result->rels = rels;
	return result;
}

/*
 * A bare CLUSTER rewrites every table of the user's that has a clustered
 * index: refused while one of them is a stream that may not be rewritten.
 */
static void
guard_check_cluster_all(void)
{
	List	   *relids;
	ListCell   *lc;

	(void) guard_split_queries(InvalidOid, &relids);
	{
		List	   *joined;

		(void) pgs_join_queries(InvalidOid, &joined);
		relids = list_concat_unique_oid(relids, joined);
	}
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Relation	rel;
		List	   *indexes;
		ListCell   *li;
		bool		clustered = false;

		if (!pg_class_ownercheck(relid, GetUserId()))
			continue;
		rel = relation_open(relid, AccessShareLock);
		indexes = RelationGetIndexList(rel);
		relation_close(rel, AccessShareLock);
		foreach(li, indexes)
			if (get_index_isclustered(lfirst_oid(li)))
				clustered = true;
		if (clustered)
			guard_check_rewrite(relid, "CLUSTER");
	}
}

/*
 * The streams a VACUUM FULL or CLUSTER names, checked before it runs; a
 * database-wide VACUUM FULL goes past the streams it may not rewrite.
 * Returns the statement to run instead, or NULL; *nothing_left when no
 * statement is to run at all.
 */
static Node *
guard_check_rewriting_utility(Node *stmt, bool *nothing_left)
{
	List	   *rels = NIL;
	const char *command = NULL;
	bool		analyze = false;
	ListCell   *lc;

	if (IsA(stmt, VacuumStmt) && ((VacuumStmt *) stmt)->is_vacuumcmd)
	{
		foreach(lc, ((VacuumStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "full") == 0 && defGetBoolean(opt))
				command = "VACUUM FULL";
			else if (strcmp(opt->defname, "analyze") == 0 && defGetBoolean(opt))
				analyze = true;
		}
		if (command != NULL && ((VacuumStmt *) stmt)->rels == NIL)
			return (Node *) guard_vacuum_all_but_split((VacuumStmt *) stmt, analyze,
													   nothing_left);
		if (command != NULL)
			foreach(lc, ((VacuumStmt *) stmt)->rels)
				if (((VacuumRelation *) lfirst(lc))->relation != NULL)
					rels = lappend(rels, ((VacuumRelation *) lfirst(lc))->relation);
	}
	else if (IsA(stmt, ClusterStmt) && ((ClusterStmt *) stmt)->relation != NULL)
	{
		command = "CLUSTER";
		rels = list_make1(((ClusterStmt *) stmt)->relation);
	}
	else if (IsA(stmt, ClusterStmt))
		guard_check_cluster_all();
	foreach(lc, rels)
	{
		Oid			relid = RangeVarGetRelid(lfirst(lc), NoLock, true);
		bool		may;

		if (!OidIsValid(relid))
			continue;
		may = IsA(stmt, VacuumStmt) ? guard_may_vacuum(relid) :
			pg_class_ownercheck(relid, GetUserId());

		/* for others the command refuses itself, and names nothing of ours */
		if (may && pgs_is_stream(relid))
			guard_check_rewrite(relid, command);
	}
	return NULL;
}

/*
 * From the utility hook, before the command runs: refuse what would leave
 * streams or queries broken, and narrow a VACUUM FULL or CLUSTER to the
 * tables it may rewrite (*pstmt is then a copy carrying the narrowed
 * command).  Returns false when nothing is left for the command to do: it
 * must not run at all.
 */
bool
pgs_guard_before_utility(PlannedStmt **pstmtp, ProcessUtilityContext context)
{
	PlannedStmt *pstmt = *pstmtp;
	Node	   *stmt = pstmt->utilityStmt;
	List	   *roles = NIL;
	bool		present;

	present = (IsA(stmt, DropRoleStmt) || IsA(stmt, ReassignOwnedStmt) ||
			   IsA(stmt, VacuumStmt) || IsA(stmt, ClusterStmt)) &&
		guard_extension_present();
	if (present && (IsA(stmt, VacuumStmt) || IsA(stmt, ClusterStmt)))
	{
		bool		nothing_left = false;
		Node	   *instead = guard_check_rewriting_utility(stmt, &nothing_left);

		if (nothing_left)
		{
			/* what VACUUM itself would have refused first */
			PreventInTransactionBlock(context == PROCESS_UTILITY_TOPLEVEL, "VACUUM");
			return false;
		}
		if (instead != NULL)
		{
			pstmt = copyObject(pstmt);
			pstmt->utilityStmt = instead;
			stmt = instead;
			*pstmtp = pstmt;
		}
	}
	if (present && IsA(stmt, DropRoleStmt))
		guard_check_drop_role((DropRoleStmt *) stmt);
	if (present && IsA(stmt, ReassignOwnedStmt))
		roles = guard_role_oids(((ReassignOwnedStmt *) stmt)->roles);

	/* the command itself checks the caller's rights over every role */
	if (roles != NIL)
	{
		Oid			newrole = get_rolespec_oid(((ReassignOwnedStmt *) stmt)->newrole, false);
		ListCell   *lc;

		foreach(lc, roles)
			(void) pgs_query_reassign_owned(lfirst_oid(lc), newrole);
		pgs_notify_scheduler_at_commit();
	}
	return true;
}

/*
 * stream.on_table_rewrite(): the table_rewrite event trigger, which runs
 * in every session before an ALTER TABLE rewrites a table.
 */
Datum
stream_on_table_rewrite(PG_FUNCTION_ARGS)
{
	Oid			relid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by event trigger manager");
	relid = DatumGetObjectId(DirectFunctionCall1(pg_event_trigger_table_rewrite_oid,
												 (Datum) 0));
	if (pgs_is_stream(relid))
		guard_check_rewrite(relid, "rewrite");
	PG_RETURN_VOID();
}

/*
 * stream.on_ddl_command_start(): the event trigger that runs before every
 * DDL command, in every session (an event trigger loads this library where
 * the utility hook may not be installed yet).  It notes whether the command
 * drops with CASCADE: then the sql_drop trigger drops the streaming queries
 * that use any table the command drops, as CASCADE drops dependent views,
 * instead of refusing.  DROP OWNED BY drops the roles' own queries first
 * either way.  The command checks the caller's rights itself, and its error
 * rolls all of this back.
 */
/* does an ALTER TABLE (or ALTER TYPE) drop something with CASCADE? */
static bool
guard_alter_cascades(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if ((cmd->subtype == AT_DropColumn || cmd->subtype == AT_DropConstraint) &&
			cmd->behavior == DROP_CASCADE)
			return true;
	}
	return false;
}

/*
 * DROP EXTENSION pg_streaming CASCADE would drop every stream table with
 * its rows, since they depend on the access method; PostgreSQL would say
 * so in a NOTICE only.  Refuse while there are any, and say how to keep
 * them: drop_stream turns a stream back into an ordinary table.  (Without
 * CASCADE, PostgreSQL refuses by itself.)
 */
static void
guard_check_drop_extension(DropStmt *stmt)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;
	bool		ours = false;
	char	   *names = NULL;
	int64		n = 0;

	if (stmt->removeType != OBJECT_EXTENSION || stmt->behavior != DROP_CASCADE)
		return;
	foreach(lc, stmt->objects)
		if (strcmp(strVal(lfirst(lc)), "pg_streaming") == 0)
			ours = true;
	if (!ours || !guard_extension_present())
		return;
	pgs_catalog_begin(&acc);
	/* the first ten of them by name, for the message */
	if (pgs_catalog_exec("SELECT pg_catalog.count(*),"
						 " pg_catalog.string_agg(t.name, ', ' ORDER BY t.name)"
						 "   FILTER (WHERE t.i <= 10)"
						 "   || CASE WHEN pg_catalog.count(*) > 10 THEN ', ...' ELSE '' END"
						 " FROM (SELECT c.oid::pg_catalog.regclass::pg_catalog.text AS name,"
						 "              pg_catalog.row_number() OVER"
						 "                (ORDER BY c.oid::pg_catalog.regclass::pg_catalog.text) AS i"
						 "        FROM pg_catalog.pg_class c"
						 "        JOIN pg_catalog.pg_am a ON a.oid = c.relam"
						 "       WHERE a.amname = 'stream_heap') t",
						 0, NULL, NULL, NULL, true, 0) > 0)
	{
		bool		isnull;

		n = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		if (n > 0)
			names = pgs_result_text(0, 2, cxt);
	}
	pgs_catalog_end(&acc);
	if (n > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop extension \"pg_streaming\" with CASCADE while stream tables exist"),
				 errdetail_plural("It would drop %lld stream table with its rows: %s.",
								  "It would drop %lld stream tables with their rows: %s.",
								  n, (long long) n, names),
				 errhint("Turn each stream back into an ordinary table, which keeps its rows, with stream.drop_stream(), or drop the stream tables first.")));
}

Datum
stream_on_ddl_command_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *stmt;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function stream.on_ddl_command_start() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	stmt = trigdata->parsetree;
	guard_cascading =
		(IsA(stmt, DropStmt) && ((DropStmt *) stmt)->behavior == DROP_CASCADE) ||
		(IsA(stmt, DropOwnedStmt) && ((DropOwnedStmt *) stmt)->behavior == DROP_CASCADE) ||
		(IsA(stmt, AlterTableStmt) && guard_alter_cascades((AlterTableStmt *) stmt));
	if (IsA(stmt, DropStmt))
		guard_check_drop_extension((DropStmt *) stmt);
	if (IsA(stmt, DropOwnedStmt) && guard_extension_present())
	{
		ListCell   *lc;
		int			n = 0;

		/* with CASCADE, what other roles built on the queries' tables goes too */
		foreach(lc, guard_role_oids(((DropOwnedStmt *) stmt)->roles))
			n += pgs_query_delete_owned(lfirst_oid(lc),
										((DropOwnedStmt *) stmt)->behavior == DROP_CASCADE);
		if (n > 0)
			pgs_notify_scheduler_at_commit();
	}
	PG_RETURN_VOID();
}

/* stream._dropping_with_cascade(): see guard_cascading */
Datum
stream_dropping_with_cascade(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(guard_cascading);
}

/*
 * stream._forget_queries_using(relid oid): drop the queries that read or
 * write a table being dropped; their names, or NULL.  Called by the
 * sql_drop trigger only.
 */
Datum
stream_forget_queries_using(PG_FUNCTION_ARGS)
{
	char	   *names = pgs_query_delete_using(PG_GETARG_OID(0));

	if (names == NULL)
		PG_RETURN_NULL();
	pgs_notify_scheduler_at_commit();
	PG_RETURN_TEXT_P(cstring_to_text(names));
}

/* PostgreSQL 15 reports a command that recurses to children as its own kind */
static bool
guard_is_drop_column(AlterTableCmd *atc)
{
#if PG_VERSION_NUM < 160000
	if (atc->subtype == AT_DropColumnRecurse)
		return true;
#endif
	return atc->subtype == AT_DropColumn;
}

static bool
guard_is_add_column(AlterTableCmd *atc)
{
#if PG_VERSION_NUM < 160000
	if (atc->subtype == AT_AddColumnRecurse)
		return true;
#endif
	return atc->subtype == AT_AddColumn;
}

/*
 * stream._ddl_rewrites_xid(command pg_ddl_command): does an ALTER TABLE, as
 * the event trigger sees it, change the type of _stream_xid, drop it or add
 * it?  Each rewrites the stamps of rows already processed (ALTER COLUMN ...
 * TYPE xid8 USING pg_current_xact_id() keeps the column as it was, and a
 * column dropped and added again looks the same afterwards), so the event
 * trigger refuses them, whatever the table looks like after the command.
 */
Datum
stream_ddl_rewrites_xid(PG_FUNCTION_ARGS)
{
	CollectedCommand *cmd = (CollectedCommand *) PG_GETARG_POINTER(0);
	ListCell   *lc;

	if (cmd->type != SCT_AlterTable)
		PG_RETURN_BOOL(false);
	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = (CollectedATSubcmd *) lfirst(lc);
		AlterTableCmd *atc;

		if (sub->parsetree == NULL || !IsA(sub->parsetree, AlterTableCmd))
			continue;
		atc = (AlterTableCmd *) sub->parsetree;
		if (atc->name != NULL && strcmp(atc->name, PGS_XID_COLUMN) == 0 &&
			(atc->subtype == AT_AlterColumnType || guard_is_drop_column(atc)))
			PG_RETURN_BOOL(true);
		if (guard_is_add_column(atc) && OidIsValid(sub->address.objectId) &&
			atc->def != NULL &&
			IsA(atc->def, ColumnDef) &&
			strcmp(((ColumnDef *) atc->def)->colname, PGS_XID_COLUMN) == 0)
			PG_RETURN_BOOL(true);
	}
	PG_RETURN_BOOL(false);
}
