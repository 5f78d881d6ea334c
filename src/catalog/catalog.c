/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Access to pg_streaming's catalog tables.
 *
 * The catalog tables are readable and writable only by the extension's
 * owner; every role reaches them through the extension's functions.  SQL
 * against them therefore runs as the bootstrap superuser, with a search_path
 * of pg_catalog only so that no object a user created can stand in for a
 * built-in one.  The caller's identity is checked before that switch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid_d.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

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

void
pgs_catalog_end(PgsCatalogAccess *acc)
{
	if (acc->spi_connected)
		SPI_finish();
	acc->spi_connected = false;
	SetUserIdAndSecContext(acc->saved_userid, acc->saved_sec_context);
	AtEOXact_GUC(true, acc->guc_nest_level);
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
int
pgs_catalog_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
				 const char *nulls, bool read_only, long count)
{
	int			rc;
	SPIPlanPtr	plan = cat_plan(sql, nargs, argtypes);
	bool		pushed = pgs_ensure_snapshot();

	rc = SPI_execute_plan(plan, values, nulls, read_only, count);
	if (pushed)
		PopActiveSnapshot();
	if (rc < 0)
		elog(ERROR, "catalog statement failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/*
 * Is the relation a registered stream table?  Runs inside a catalog stretch.
 */
bool
pgs_is_stream(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	return pgs_catalog_exec("SELECT 1 FROM stream.streams WHERE relid::oid = $1",
							1, argtypes, values, NULL, false, 1) > 0;
}

/*
 * Only the owner of a query, a member of the owning role, or a superuser
 * may see or change it.  Called with the caller's identity in place.
 */
void
pgs_check_query_access(const char *name, Oid owner)
{
	Oid			caller = GetUserId();

	if (!has_privs_of_role(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for streaming query \"%s\"", name),
				 errdetail("The query is owned by role \"%s\".",
						   GetUserNameFromId(owner, false)),
				 errhint("Only the owner of a query, a member of the owning role or a superuser can manage it.")));
}
