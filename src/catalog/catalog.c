/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Catalog stretches and owner stretches: the two identities SQL runs
 *	  under in pg_streaming.
 *
 * The catalog tables are readable and writable only by the extension's
 * owner; every role reaches them through the extension's functions.  SQL
 * against them therefore runs as the bootstrap superuser, with a search_path
 * of pg_catalog only so that no object a user created can stand in for a
 * built-in one, and it never reads a user's table: a user's column types,
 * casts and functions would run with the superuser's rights.  Whatever reads
 * a user's stream runs in an owner stretch instead.  Both stretches roll
 * back every setting changed inside them when they end.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "utils/plancache.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid_d.h"
#include "utils/datum.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog/pgs_catalog.h"
#include "pg_streaming.h"

/*
 * Set search_path for the rest of the current GUC nest level.
 */
void
pgs_set_search_path(const char *path)
{
	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Start a stretch of catalog work: become the bootstrap superuser with a
 * safe search_path, and connect to SPI.  Must be paired with
 * pgs_catalog_end() in the same transaction; an error in between is cleaned
 * up by transaction abort.
 */
void
pgs_catalog_begin(PgsCatalogAccess *acc)
{
	GetUserIdAndSecContext(&acc->saved_userid, &acc->saved_sec_context);
	acc->guc_nest_level = NewGUCNestLevel();
	pgs_set_search_path("pg_catalog, pg_temp");
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   acc->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	acc->spi_connected = true;
}

/* end a catalog stretch: its settings go, the caller's identity comes back */
void
pgs_catalog_end(PgsCatalogAccess *acc)
{
	if (acc->spi_connected)
		SPI_finish();
	acc->spi_connected = false;
	AtEOXact_GUC(false, acc->guc_nest_level);
	SetUserIdAndSecContext(acc->saved_userid, acc->saved_sec_context);
}

/*
 * Start a stretch that runs as a query's owner, as PostgreSQL runs code on
 * a table owner's behalf in maintenance commands: a security-restricted
 * operation (no SET ROLE, no temporary objects, no cursors left behind)
 * with its own GUC nest level, so that whatever the owner's code sets, with
 * set_config(), SET or a function's SET clause, is undone by
 * pgs_owner_end() and reaches neither the caller's session nor the next
 * query a worker runs.  An error in between is cleaned up by transaction
 * abort, which pops the nest level too.
 */
void
pgs_owner_begin(PgsCatalogAccess *acc, Oid owner, const char *search_path)
{
	GetUserIdAndSecContext(&acc->saved_userid, &acc->saved_sec_context);
	SetUserIdAndSecContext(owner, acc->saved_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	acc->guc_nest_level = NewGUCNestLevel();
	pgs_set_search_path(search_path);
	/* query texts are written with standard strings, whatever the session says */
	(void) set_config_option("standard_conforming_strings", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("array_nulls", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	acc->spi_connected = true;
}

/* end an owner stretch: whatever the owner's code set is rolled back */
void
pgs_owner_end(PgsCatalogAccess *acc)
{
	if (acc->spi_connected)
		SPI_finish();
	acc->spi_connected = false;
	AtEOXact_GUC(false, acc->guc_nest_level);
	SetUserIdAndSecContext(acc->saved_userid, acc->saved_sec_context);
}

/*
 * SPI needs an active snapshot to run a statement, which a background
 * worker, or a procedure after it committed, does not have.  Returns
 * whether one was pushed (the caller pops it).
 */
bool
pgs_ensure_snapshot(void)
{
	if (ActiveSnapshotSet())
		return false;
	PushActiveSnapshot(GetTransactionSnapshot());
	return true;
}

/* a backend's hash table of entries keyed by a query id (an int64 first) */
HTAB *
pgs_query_id_hash(const char *name, Size entrysize)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = entrysize;
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_BLOBS);
}

/* catalog statements, each prepared once per backend */
typedef struct CatalogPlan
{
	char	   *sql;
	int			nargs;
	SPIPlanPtr	plan;
	struct CatalogPlan *next;
} CatalogPlan;

static CatalogPlan *catalog_plans = NULL;

static SPIPlanPtr
cat_plan(const char *sql, int nargs, Oid *argtypes)
{
	CatalogPlan *p;
	SPIPlanPtr	plan;

	for (p = catalog_plans; p != NULL; p = p->next)
		if (p->nargs == nargs && strcmp(p->sql, sql) == 0)
			return p->plan;

	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare catalog statement (%s): %s",
			 SPI_result_code_string(SPI_result), sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	p = MemoryContextAlloc(TopMemoryContext, sizeof(CatalogPlan));
	p->sql = MemoryContextStrdup(TopMemoryContext, sql);
	p->nargs = nargs;
	p->plan = plan;
	p->next = catalog_plans;
	catalog_plans = p;
	return plan;
}

/*
 * Run one catalog statement; returns SPI_processed.  The statement is
 * prepared on first use and kept (it always runs as the same user with the
 * same search_path).  Errors in the SQL are bugs, so they are reported as
 * such.
 */
/* does the statement write, or lock rows? */
static bool
cat_plan_writes(SPIPlanPtr plan)
{
	ListCell   *lc;

	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *ps = (CachedPlanSource *) lfirst(lc);
		ListCell   *lc2;

		if (ps->query_list == NIL)
			return true;
		foreach(lc2, ps->query_list)
		{
			Query	   *q = lfirst_node(Query, lc2);

			if (q->commandType != CMD_SELECT || q->rowMarks != NIL ||
				q->hasModifyingCTE)
				return true;
		}
	}
	return false;
}

/*
 * Changing or running streaming queries writes the catalog: on a hot
 * standby, or in a read-only transaction, say so in the user's terms
 * before a statement fails with its own words and text.  The calls that
 * manage streams and queries ask first; every catalog statement that
 * writes asks again.
 */
void
pgs_require_writable(void)
{
	if (!XactReadOnly && !RecoveryInProgress())
		return;
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("streaming queries are managed and run on the primary"),
				 errdetail("This server is a standby in recovery: stream tables, targets, stream.queries and stream.progress can be read here, but streaming queries cannot be changed or run."),
				 errhint("Connect to the primary server.")));
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("cannot change or run streaming queries in a read-only transaction"),
			 errhint("Use a read-write transaction (transaction_read_only off).")));
}

static void
cat_check_writable(SPIPlanPtr plan)
{
	if ((XactReadOnly || RecoveryInProgress()) && cat_plan_writes(plan))
		pgs_require_writable();
}

int
pgs_catalog_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
				 const char *nulls, bool read_only, long count)
{
	int			rc;
	SPIPlanPtr	plan = cat_plan(sql, nargs, argtypes);
	bool		pushed;

	cat_check_writable(plan);
	pushed = pgs_ensure_snapshot();

	rc = SPI_execute_plan(plan, values, nulls, read_only, count);
	if (pushed)
		PopActiveSnapshot();
	if (rc < 0)
		elog(ERROR, "catalog statement failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/* a column of the last statement's row as text, copied into cxt */
char *
pgs_result_text(int row, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/* a pass-by-value column of the last statement's row */
Datum
pgs_result_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/* any column of the last statement's row, copied into cxt */
Datum
pgs_result_copy(int row, int col, bool *isnull, MemoryContext cxt)
{
	Datum		d = pgs_result_datum(row, col, isnull);
	Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, col - 1);
	MemoryContext old;

	if (*isnull || att->attbyval)
		return d;
	old = MemoryContextSwitchTo(cxt);
	d = datumCopy(d, att->attbyval, att->attlen);
	MemoryContextSwitchTo(old);
	return d;
}

/* the OID of stream.query_defs, looked up once per backend */
Oid
pgs_query_defs_relid(void)
{
	static Oid	relid = InvalidOid;

	if (!OidIsValid(relid) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		relid = get_relname_relid("query_defs", get_namespace_oid("stream", false));
	return relid;
}

/*
 * Run, in a catalog stretch of its own, a statement of one argument that
 * returns one bigint (or no row, for 0).
 */
int64
pgs_catalog_int8(const char *sql, Oid argtype, Datum arg)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {argtype};
	Datum		values[1] = {arg};
	bool		isnull = true;
	int64		result = 0;

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec(sql, 1, argtypes, values, NULL, false, 1) > 0)
	{
		Datum		d = pgs_result_datum(0, 1, &isnull);

		if (!isnull)
			result = DatumGetInt64(d);
	}
	pgs_catalog_end(&acc);
	return result;
}

/* Is the relation a registered stream table? */
bool
pgs_is_stream(Oid relid)
{
	return pgs_catalog_int8("SELECT 1::int8 FROM stream.streams WHERE relid::oid = $1",
							OIDOID, ObjectIdGetDatum(relid)) > 0;
}

/* add a stream table to stream.streams, or remove it */
void
pgs_stream_register(Oid relid, bool add)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	pgs_catalog_begin(&acc);
	pgs_catalog_exec(add ?
					 "INSERT INTO stream.streams (relid) VALUES ($1)" :
					 "DELETE FROM stream.streams WHERE relid::oid = $1",
					 1, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
}
