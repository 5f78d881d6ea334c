/*-------------------------------------------------------------------------
 *
 * shard_moves.c
 *	  Citus's shard moves, copies, splits and rebalances refused on the
 *	  coordinator while a distributed query reads or writes the shards.
 *
 * A shard query's offsets are snapshots and block positions of the node
 * that holds the shard.  Citus moves a shard by copying its rows to
 * another node (COPY, then logical replication), where a new transaction
 * writes them again with new stamps: the shard's query would read them
 * again, or never.  So while a distributed query holds a shard
 * (shard_move_catalog.c says which do), every Citus function that would
 * move or copy it is refused before it does anything.
 *
 * The functions are Citus's, found by name in pg_catalog and by their
 * membership in the extension citus (pg_depend), never by OID, and the
 * refusal needs their arguments' values: the shard, the table, the node.
 * A hook on parse analysis sees the call but not the values (a shard id
 * read from pg_dist_shard in the same statement), and misses the calls in
 * SQL functions that are inlined or kept parsed (BEGIN ATOMIC).  The
 * function manager's hook sees every call made through fmgr: a SELECT, a
 * CALL, PL/pgSQL, a prepared statement, and the statements Citus runs for
 * a rebalance in connections of its own and in its background tasks, which
 * call citus_move_shard_placement one shard at a time.  needs_fmgr_hook
 * names the functions; fmgr_hook, called as each call starts with the
 * FmgrInfo the call is about to go through, points that FmgrInfo at
 * sm_guarded_call, which checks the arguments and then calls Citus's C
 * function.  Calls Citus makes from C to C are not seen: a rebalance is
 * therefore checked as a whole, from the plan Citus itself would follow
 * (get_rebalance_table_shards_plan with the same arguments), and each of
 * its moves again when it runs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace_d.h"
#include "catalog/pg_language_d.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "catalog/pgs_shard_move_catalog.h"
#include "common/pgs_common.h"
#include "storage/pgs_shard_moves.h"

/* what a function's arguments say it would move */
typedef enum SmScope
{
	SM_SHARD,					/* arg 1, bigint: a shard (and its group) */
	SM_TABLE,					/* arg 1, regclass: a table's shards */
	SM_NODE,					/* args 1 and 2, text and int: a node's shards */
	SM_PLAN,					/* a rebalance: the moves of Citus's plan */
	SM_ALL						/* arguments not understood: every shard */
} SmScope;

typedef struct SmFunction
{
	const char *name;
	SmScope		scope;
} SmFunction;

/* Citus's functions that move, copy or split shards */
static const SmFunction sm_functions[] = {
	{"citus_move_shard_placement", SM_SHARD},
	{"master_move_shard_placement", SM_SHARD},
	{"citus_copy_shard_placement", SM_SHARD},
	{"master_copy_shard_placement", SM_SHARD},
	{"citus_split_shard_by_split_points", SM_SHARD},
	{"isolate_tenant_to_new_shard", SM_TABLE},
	{"replicate_table_shards", SM_TABLE},
	{"rebalance_table_shards", SM_PLAN},
	{"citus_rebalance_start", SM_PLAN},
	{"citus_drain_node", SM_NODE},
};

#define SM_MAX_GUARDED	64

/* the guarded functions of this database, by OID; rebuilt after pg_proc changes */
typedef struct SmGuarded
{
	Oid			fn_oid;
	SmScope		scope;
} SmGuarded;

static SmGuarded sm_guarded[SM_MAX_GUARDED];
static int	sm_nguarded = 0;
static bool sm_valid = false;
static bool sm_building = false;
static bool sm_callback_registered = false;

static Datum sm_guarded_call(PG_FUNCTION_ARGS);

/* any change of pg_proc (or pg_extension) may add or remove a function */
static void
sm_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	sm_valid = false;
}

/* does the function's signature fit what its scope reads of it? */
static SmScope
sm_scope_checked(SmScope scope, Form_pg_proc proc)
{
	Oid		   *types = proc->proargtypes.values;

	switch (scope)
	{
		case SM_SHARD:
			if (proc->pronargs >= 1 && types[0] == INT8OID)
				return scope;
			break;
		case SM_TABLE:
			if (proc->pronargs >= 1 && types[0] == REGCLASSOID)
				return scope;
			break;
		case SM_NODE:
			if (proc->pronargs >= 2 && types[0] == TEXTOID &&
				types[1] == INT4OID)
				return scope;
			break;
		case SM_PLAN:
		case SM_ALL:
			return scope;
	}
	/* a signature of a later Citus: hold every shard */
	return SM_ALL;
}

/* find the guarded functions: Citus's, by name, in pg_catalog */
static void
sm_build(void)
{
	Oid			citus = get_extension_oid("citus", true);
	int			i;

	sm_nguarded = 0;
	if (!OidIsValid(citus))
		return;
	for (i = 0; i < lengthof(sm_functions); i++)
	{
		CatCList   *list = SearchSysCacheList1(PROCNAMEARGSNSP,
											   CStringGetDatum(sm_functions[i].name));
		int			j;

		for (j = 0; j < list->n_members; j++)
		{
			HeapTuple	tup = &list->members[j]->tuple;
			Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);

			if (proc->pronamespace != PG_CATALOG_NAMESPACE ||
				proc->prolang != ClanguageId ||
				getExtensionOfObject(ProcedureRelationId, proc->oid) != citus ||
				sm_nguarded >= SM_MAX_GUARDED)
				continue;
			sm_guarded[sm_nguarded].fn_oid = proc->oid;
			sm_guarded[sm_nguarded].scope =
				sm_scope_checked(sm_functions[i].scope, proc);
			sm_nguarded++;
		}
		ReleaseSysCacheList(list);
	}
}

/* the guarded function's entry, or NULL */
static const SmGuarded *
sm_lookup(Oid fn_oid)
{
	int			i;

	if (!sm_valid)
	{
		/* catalogs can be read only in a transaction of a database */
		if (sm_building || !IsTransactionState() || !OidIsValid(MyDatabaseId))
			return NULL;
		if (!sm_callback_registered)
		{
			CacheRegisterSyscacheCallback(PROCOID, sm_invalidate, (Datum) 0);
			sm_callback_registered = true;
		}
		/*
		 * Valid from before the build: an invalidation that arrives while
		 * the catalogs are read makes the next call build again.
		 */
		sm_valid = true;
		sm_building = true;
		PG_TRY();
		{
			sm_build();
		}
		PG_CATCH();
		{
			sm_valid = false;
			sm_building = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		sm_building = false;
	}
	for (i = 0; i < sm_nguarded; i++)
		if (sm_guarded[i].fn_oid == fn_oid)
			return &sm_guarded[i];
	return NULL;
}

/*
 * needs_fmgr_hook's part: is fn_oid a Citus function that moves shards?
 * Called for every function the function manager looks up that is not
 * built in, so it answers from the array above.
 */
bool
pgs_shard_moves_needs_hook(Oid fn_oid)
{
	return sm_lookup(fn_oid) != NULL;
}

/*
 * fmgr_hook's part: as a guarded function's call starts, send it through
 * sm_guarded_call.  flinfo is the one the call goes through next
 * (fmgr_security_definer's own, filled without the hook), kept for the
 * following calls of the same expression, so the change is made once.
 */
void
pgs_shard_moves_fmgr_event(FmgrHookEventType event, FmgrInfo *flinfo)
{
	if (event != FHET_START || flinfo->fn_addr == sm_guarded_call)
		return;
	if (sm_lookup(flinfo->fn_oid) != NULL)
		flinfo->fn_addr = sm_guarded_call;
}

/* run a statement of Citus's tables as the caller; the int8[] it returns */
static ArrayType *
sm_shard_array(const char *sql, int nargs, Oid *argtypes, Datum *values,
			   const char *nulls)
{
	MemoryContext caller = CurrentMemoryContext;
	ArrayType  *result = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
							  true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the shards of a Citus operation");
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			result = DatumGetArrayTypePCopy(d);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return result;
}

/*
 * The shards a rebalance would move: Citus's own plan, asked with those
 * of the call's arguments that get_rebalance_table_shards_plan takes
 * (matched by name; the transfer mode is not one of them).
 */
static ArrayType *
sm_plan_shards(FunctionCallInfo fcinfo)
{
	HeapTuple	tup;
	Datum	   *names;
	int			nnames;
	Oid		   *types;
	bool		isnull;
	Datum		d;
	StringInfoData sql;
	Oid			argtypes[FUNC_MAX_ARGS];
	Datum		values[FUNC_MAX_ARGS];
	char		nulls[FUNC_MAX_ARGS];
	int			nargs = 0;
	int			i;
	static const char *const plan_args[] = {
		"relation", "threshold", "max_shard_moves", "excluded_shard_list",
		"drain_only", "rebalance_strategy", "improvement_threshold"
	};

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u",
			 fcinfo->flinfo->fn_oid);
	types = ((Form_pg_proc) GETSTRUCT(tup))->proargtypes.values;
	d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proargnames, &isnull);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.array_agg(shardid)"
						   "  FROM pg_catalog.get_rebalance_table_shards_plan(");
	if (!isnull)
	{
		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false,
						  TYPALIGN_INT, &names, NULL, &nnames);
		for (i = 0; i < nnames && i < fcinfo->nargs; i++)
		{
			char	   *name = TextDatumGetCString(names[i]);
			int			k;

			for (k = 0; k < lengthof(plan_args); k++)
				if (strcmp(name, plan_args[k]) == 0)
					break;
			if (k == lengthof(plan_args))
				continue;
			argtypes[nargs] = types[i];
			values[nargs] = fcinfo->args[i].value;
			nulls[nargs] = fcinfo->args[i].isnull ? 'n' : ' ';
			nargs++;
			appendStringInfo(&sql, "%s%s => $%d", nargs > 1 ? ", " : "",
							 quote_identifier(name), nargs);
		}
	}
	appendStringInfoChar(&sql, ')');
	ReleaseSysCache(tup);
	return sm_shard_array(sql.data, nargs, argtypes, values, nulls);
}

/* the shards the call of a guarded function would move, copy or split */
static ArrayType *
sm_call_shards(SmScope scope, FunctionCallInfo fcinfo)
{
	Oid			argtypes[2];
	Datum		values[2];

	switch (scope)
	{
		case SM_SHARD:
			if (fcinfo->args[0].isnull)
				return NULL;
			argtypes[0] = INT8OID;
			values[0] = fcinfo->args[0].value;
			return sm_shard_array("SELECT ARRAY[$1]", 1, argtypes, values, NULL);
		case SM_TABLE:
			if (fcinfo->args[0].isnull)
				return NULL;
			argtypes[0] = OIDOID;
			values[0] = fcinfo->args[0].value;
			return sm_shard_array("SELECT pg_catalog.array_agg(shardid)"
								  "  FROM pg_catalog.pg_dist_shard"
								  " WHERE logicalrelid::oid = $1",
								  1, argtypes, values, NULL);
		case SM_NODE:
			if (fcinfo->args[0].isnull || fcinfo->args[1].isnull)
				return NULL;
			argtypes[0] = TEXTOID;
			argtypes[1] = INT4OID;
			values[0] = fcinfo->args[0].value;
			values[1] = fcinfo->args[1].value;
			return sm_shard_array("SELECT pg_catalog.array_agg(p.shardid)"
								  "  FROM pg_catalog.pg_dist_placement p"
								  "  JOIN pg_catalog.pg_dist_node n"
								  "    ON n.groupid = p.groupid"
								  " WHERE n.nodename = $1 AND n.nodeport = $2",
								  2, argtypes, values, NULL);
		case SM_PLAN:
			return sm_plan_shards(fcinfo);
		case SM_ALL:
			return sm_shard_array("SELECT pg_catalog.array_agg(shardid)"
								  "  FROM pg_catalog.pg_dist_shard",
								  0, NULL, NULL, NULL);
	}
	return NULL;
}

/* refuse the call if a distributed query holds a shard it would move */
static void
sm_check_call(const SmGuarded *guarded, FunctionCallInfo fcinfo)
{
	ArrayType  *shards;
	PgsShardMoveConflict conflict;

	if (!pgs_catalog_has_distributed_queries())
		return;
	shards = sm_call_shards(guarded->scope, fcinfo);
	if (shards == NULL ||
		!pgs_catalog_shard_move_conflict(shards, &conflict))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot move shards of stream \"%s\"",
					pgs_qualified_relname(conflict.stream_relid)),
			 errdetail("%s would move or copy shard " INT64_FORMAT " of \"%s\", co-located with the stream that distributed query \"%s\" reads; the rows of a moved shard are written again on the new node by a new transaction, which the shard's query would read again or never.",
					   get_func_name(fcinfo->flinfo->fn_oid),
					   conflict.shardid,
					   pgs_qualified_relname(conflict.shard_relid),
					   conflict.query),
			 errhint("Stop the stream's writers, run stream.process_all_available on the query, drop it, move the shards, and start the query again with starting_from => 'latest'; or place the stream's shards before starting queries on it.")));
}

/*
 * What a guarded function's FmgrInfo calls instead of Citus's C function:
 * the check, then Citus's function itself, found from pg_proc's library
 * and symbol as the function manager finds it (the FmgrInfo is
 * fmgr_security_definer's own, which has already applied the function's
 * SECURITY DEFINER and SET clauses, if any).
 */
static Datum
sm_guarded_call(PG_FUNCTION_ARGS)
{
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	const SmGuarded *guarded = sm_lookup(fn_oid);
	HeapTuple	tup;
	Datum		d;
	bool		isnull;
	char	   *probin;
	char	   *prosrc;
	PGFunction	function;

	if (guarded != NULL)
		sm_check_call(guarded, fcinfo);

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_probin, &isnull);
	if (isnull)
		elog(ERROR, "null probin for C function %u", fn_oid);
	probin = TextDatumGetCString(d);
	prosrc = TextDatumGetCString(SysCacheGetAttr(PROCOID, tup,
												 Anum_pg_proc_prosrc, &isnull));
	ReleaseSysCache(tup);
	function = load_external_function(probin, prosrc, true, NULL);
	return function(fcinfo);
}
