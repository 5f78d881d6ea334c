/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  What roles' DDL means for streaming queries: DROP OWNED BY drops a
 *	  role's queries, REASSIGN OWNED BY moves them, and DROP ROLE refuses a
 *	  role that still owns some, so that no query ever runs as a role that
 *	  no longer exists.
 *
 * Queries are rows of the extension's catalog, not objects PostgreSQL
 * records dependencies for, so an event trigger before DROP TABLE and DROP
 * OWNED, and a utility hook for REASSIGN OWNED and DROP ROLE (which fire no
 * event triggers), do for them what pg_depend and pg_shdepend do for
 * tables.  They see the current database only; a batch whose owner is gone
 * fails before it runs (batch.c) wherever the role was dropped from.  DDL
 * on stream tables themselves is checked by the event trigger of the
 * install script (stream.on_ddl_command_end), with the help of
 * stream._ddl_rewrites_xid below.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "bgw/pgs_bgw.h"
#include "catalog/pgs_query.h"
#include "pg_streaming.h"
#include "storage/pgs_guard.h"

PG_FUNCTION_INFO_V1(stream_ddl_rewrites_xid);
PG_FUNCTION_INFO_V1(stream_on_ddl_command_start);

static ProcessUtility_hook_type prev_process_utility = NULL;

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
 * DROP TABLE ... CASCADE: the queries that use a table its owner drops go
 * with it.  Tables the caller does not own are left to DROP TABLE's own
 * error, and say nothing here about the queries on them.
 */
static void
guard_drop_table_cascade(DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);
		char	   *names;

		if (!OidIsValid(relid) || !pg_class_ownercheck(relid, GetUserId()))
			continue;
		names = pgs_query_delete_using(relid);
		if (names != NULL)
		{
			ereport(NOTICE,
					(errmsg("drop cascades to the streaming queries that use table \"%s\"",
							get_rel_name(relid)),
					 errdetail("Dropped: %s.", names)));
			pgs_notify_scheduler_at_commit();
		}
	}
}

/* DROP SCHEMA ... CASCADE by the schema's owner: likewise for its tables */
static void
guard_drop_schema_cascade(DropStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->objects)
	{
		const char *nspname = strVal(lfirst(lc));
		Oid			nspid = get_namespace_oid(nspname, true);
		char	   *names;

		if (!OidIsValid(nspid) || !pg_namespace_ownercheck(nspid, GetUserId()))
			continue;
		names = pgs_query_delete_in_schema(nspid);
		if (names != NULL)
		{
			ereport(NOTICE,
					(errmsg("drop cascades to the streaming queries that use tables of schema \"%s\"",
							nspname),
					 errdetail("Dropped: %s.", names)));
			pgs_notify_scheduler_at_commit();
		}
	}
}

static void
guard_process_utility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	List	   *roles = NIL;
	bool		present;

	present = (IsA(stmt, DropRoleStmt) || IsA(stmt, ReassignOwnedStmt)) &&
		guard_extension_present();
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

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * stream.on_ddl_command_start(): the event trigger that runs before DROP
 * TABLE, DROP SCHEMA and DROP OWNED, in every session (an event trigger loads this
 * library where the utility hook may not be installed yet).  DROP TABLE
 * ... CASCADE by a table's owner drops the queries that use the table (DROP
 * SCHEMA ... CASCADE those that use its tables), and
 * DROP OWNED BY drops the roles' queries, before the command drops their
 * tables, which the sql_drop trigger would otherwise refuse.  The command
 * checks the caller's rights itself, and its error rolls this back.
 */
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
	if (!guard_extension_present())
		PG_RETURN_VOID();
	if (IsA(stmt, DropStmt) &&
		((DropStmt *) stmt)->removeType == OBJECT_TABLE &&
		((DropStmt *) stmt)->behavior == DROP_CASCADE)
		guard_drop_table_cascade((DropStmt *) stmt);
	else if (IsA(stmt, DropStmt) &&
			 ((DropStmt *) stmt)->removeType == OBJECT_SCHEMA &&
			 ((DropStmt *) stmt)->behavior == DROP_CASCADE)
		guard_drop_schema_cascade((DropStmt *) stmt);
	else if (IsA(stmt, DropOwnedStmt))
	{
		ListCell   *lc;
		int			n = 0;

		foreach(lc, guard_role_oids(((DropOwnedStmt *) stmt)->roles))
			n += pgs_query_delete_owned(lfirst_oid(lc));
		if (n > 0)
			pgs_notify_scheduler_at_commit();
	}
	PG_RETURN_VOID();
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
		if (guard_is_add_column(atc) && atc->def != NULL &&
			IsA(atc->def, ColumnDef) &&
			strcmp(((ColumnDef *) atc->def)->colname, PGS_XID_COLUMN) == 0)
			PG_RETURN_BOOL(true);
	}
	PG_RETURN_BOOL(false);
}

/* from _PG_init: chain the utility hook */
void
pgs_install_guards(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = guard_process_utility;
}
