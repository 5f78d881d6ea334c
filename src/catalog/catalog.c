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
#include "utils/inval.h"
#include "utils/plancache.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid_d.h"
#include "common/hashfn.h"
#include "lib/ilist.h"
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
#include "common/pgs_common.h"
#include "common/pgs_plans.h"

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

/*
 * A backend's hash table of entries keyed by a query id (an int64 first),
 * for the plan caches of the batches: under the plan context.
 */
HTAB *
pgs_query_id_hash(const char *name, Size entrysize)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = entrysize;
	ctl.hcxt = pgs_plan_context();
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * The two executors' statement caches.  Catalog statements are the
 * extension's own, a fixed set; owner statements read users' streams, are
 * built from a query's tables and columns, and belong to that query.  Each
 * cache holds at most "limit" statements and evicts the one used least
 * recently past that, except while one of its statements runs (a statement
 * can run code that runs others): it then grows, and shrinks back at the
 * next statement prepared with none running.
 */
#define PGS_CATALOG_STATEMENTS_MAX	256
#define PGS_OWNER_STATEMENTS_MAX	256

typedef struct ExecKey
{
	int64		query_id;		/* the owner statement's query; 0 otherwise */
	int			nargs;
	const char *sql;
} ExecKey;

typedef struct ExecEntry
{
	ExecKey		key;			/* hash key; key.sql is the entry's own copy */
	SPIPlanPtr	plan;
	dlist_node	lru;			/* the most recently used first */
} ExecEntry;

typedef struct ExecCache
{
	const char *name;
	int			limit;
	HTAB	   *entries;
	dlist_head	lru;
	int			count;
	int			running;		/* of its statements, executing now */
	bool		stale;			/* forget them all when none runs */
} ExecCache;

static ExecCache catalog_cache = {"pg_streaming catalog statements", PGS_CATALOG_STATEMENTS_MAX};
static ExecCache owner_cache = {"pg_streaming owner statements", PGS_OWNER_STATEMENTS_MAX};
static Oid	owner_cache_defs_relid = InvalidOid;
static bool owner_cache_callback = false;

static uint32
exec_key_hash(const void *key, Size keysize)
{
	const ExecKey *k = key;

	return hash_combine(hash_bytes((const unsigned char *) k->sql, strlen(k->sql)),
						hash_bytes((const unsigned char *) &k->query_id,
								   sizeof(k->query_id)));
}

static int
exec_key_match(const void *key1, const void *key2, Size keysize)
{
	const ExecKey *a = key1;
	const ExecKey *b = key2;

	if (a->query_id != b->query_id || a->nargs != b->nargs)
		return 1;
	return strcmp(a->sql, b->sql);
}

static void
exec_free_entry(ExecCache *c, ExecEntry *e)
{
	SPIPlanPtr	plan = e->plan;
	char	   *sql = (char *) e->key.sql;

	dlist_delete(&e->lru);
	(void) hash_search(c->entries, &e->key, HASH_REMOVE, NULL);
	c->count--;
	SPI_freeplan(plan);
	pfree(sql);
}

/* free every statement of the cache */
static void
exec_forget_all(ExecCache *c)
{
	dlist_mutable_iter it;

	if (c->entries == NULL)
		return;
	dlist_foreach_modify(it, &c->lru)
	{
		ExecEntry  *e = dlist_container(ExecEntry, lru, it.cur);

		exec_free_entry(c, e);
	}
}

/*
 * The statement, prepared on first use and kept in the cache until it is
 * evicted (the least recently used, past the cache's bound) or, for an
 * owner statement, until stream.query_defs changes.  A statement that cannot
 * be prepared is a bug in the extension (the texts are its own), or an
 * error that SPI_prepare raised itself.
 */
static SPIPlanPtr
exec_plan(ExecCache *c, int64 query_id, const char *sql, int nargs,
		  Oid *argtypes)
{
	ExecKey		key;
	ExecEntry  *e;
	SPIPlanPtr	plan;

	if (c->stale && c->running == 0)
	{
		exec_forget_all(c);
		c->stale = false;
	}
	if (c->entries == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(ExecKey);
		ctl.entrysize = sizeof(ExecEntry);
		ctl.hash = exec_key_hash;
		ctl.match = exec_key_match;
		ctl.hcxt = pgs_plan_context();
		c->entries = hash_create(c->name, 64, &ctl,
								 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
		dlist_init(&c->lru);
	}
	key.query_id = query_id;
	key.nargs = nargs;
	key.sql = sql;
	e = hash_search(c->entries, &key, HASH_FIND, NULL);
	if (e != NULL)
	{
		dlist_move_head(&c->lru, &e->lru);
		return e->plan;
	}

	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare %s statement (%s): %s",
			 c == &catalog_cache ? "catalog" : "owner",
			 SPI_result_code_string(SPI_result), sql);
	pgs_keep_plan(plan);
	while (c->count >= c->limit && c->running == 0)
		exec_free_entry(c, dlist_container(ExecEntry, lru, dlist_tail_node(&c->lru)));

	key.sql = MemoryContextStrdup(pgs_plan_context(), sql);
	e = hash_search(c->entries, &key, HASH_ENTER, NULL);
	e->plan = plan;
	dlist_push_head(&c->lru, &e->lru);
	c->count++;
	return plan;
}

/* run a statement of the cache; the count of running ones survives errors */
static int
exec_run(ExecCache *c, SPIPlanPtr plan, Datum *values, const char *nulls,
		 bool read_only, long count)
{
	int			rc;
	bool		pushed = pgs_ensure_snapshot();

	c->running++;
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, values, nulls, read_only, count);
	}
	PG_FINALLY();
	{
		c->running--;
	}
	PG_END_TRY();
	if (pushed)
		PopActiveSnapshot();
	/* a generic plan built by this execution goes under the plan context */
	pgs_adopt_plan(plan);
	return rc;
}

/*
 * stream.query_defs changed (a query dropped, altered, or given to another
 * owner): the owner statements go, prepared again when next used.  Nothing
 * is freed here; a callback may come while one of them runs.
 */
static void
exec_owner_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == owner_cache_defs_relid)
	{
		owner_cache.stale = true;
		/* looked up again: the extension may be made anew */
		owner_cache_defs_relid = InvalidOid;
	}
}

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

/*
 * Run one of the extension's own statements in a catalog stretch; returns
 * SPI_processed.  The statement is prepared on first use and kept in a
 * bounded cache (it always runs as the same user with the same
 * search_path).  Errors in the
 * SQL are bugs, so they are reported as such.
 */
int
pgs_catalog_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
				 const char *nulls, bool read_only, long count)
{
	int			rc;
	SPIPlanPtr	plan = exec_plan(&catalog_cache, 0, sql, nargs, argtypes);

	cat_check_writable(plan);
	rc = exec_run(&catalog_cache, plan, values, nulls, read_only, count);
	if (rc < 0)
		elog(ERROR, "catalog statement failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/*
 * Run a statement over a user's table for query query_id, in an owner
 * stretch; returns SPI_processed.  Kept like a catalog statement, in a
 * cache of its own from which the query's statements go when the query is
 * dropped or changed.  Only an owner stretch runs these: a statement over a
 * user's table never runs with the extension's rights.
 */
int
pgs_owner_exec(int64 query_id, const char *sql, int nargs, Oid *argtypes,
			   Datum *values, const char *nulls, bool read_only, long count)
{
	int			rc;
	SPIPlanPtr	plan;

	if (!InSecurityRestrictedOperation())
		elog(ERROR, "statement over a stream run outside an owner stretch: %s", sql);
	if (!owner_cache_callback)
	{
		CacheRegisterRelcacheCallback(exec_owner_relcache_callback, (Datum) 0);
		owner_cache_callback = true;
	}
	if (!OidIsValid(owner_cache_defs_relid))
		owner_cache_defs_relid = pgs_query_defs_relid();
	plan = exec_plan(&owner_cache, query_id, sql, nargs, argtypes);
	rc = exec_run(&owner_cache, plan, values, nulls, read_only, count);
	if (rc < 0)
		elog(ERROR, "statement over a stream failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/*
 * Run one of the extension's own statements in a catalog stretch of its
 * own; returns SPI_processed.  The results go with the stretch.
 */
int
pgs_catalog_run(const char *sql, int nargs, Oid *argtypes, Datum *values,
				const char *nulls, bool read_only, long count)
{
	PgsCatalogAccess acc = {0};
	int			n;

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec(sql, nargs, argtypes, values, nulls, read_only, count);
	pgs_catalog_end(&acc);
	return n;
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

/*
 * The snapshot a statement of the catalog would run under, as SPI takes
 * one: after this transaction's earlier commands.  Registered: the caller
 * unregisters it.  For the catalog's reads by index scans in C.
 */
Snapshot
pgs_catalog_statement_snapshot(void)
{
	CommandCounterIncrement();
	return RegisterSnapshot(GetTransactionSnapshot());
}

/* the OID of stream.query_defs, looked up again only once it is gone */
Oid
pgs_query_defs_relid(void)
{
	static Oid	relid = InvalidOid;

	if (!OidIsValid(relid) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		relid = get_relname_relid("query_defs", get_namespace_oid("stream", false));
	return relid;
}

/*
 * The extension's tables that every batch writes, which the scheduler
 * vacuums after its retention passes: their relids, those that exist, in
 * the given context.
 */
List *
pgs_catalog_busy_tables(MemoryContext cxt)
{
	static const char *const names[] = {"checkpoint_offsets",
	"checkpoint_commits", "progress_log"};
	List	   *result = NIL;
	Oid			nsp = get_namespace_oid("stream", true);
	int			i;

	for (i = 0; i < lengthof(names) && OidIsValid(nsp); i++)
	{
		Oid			relid = get_relname_relid(names[i], nsp);

		if (OidIsValid(relid))
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			result = lappend_oid(result, relid);
			MemoryContextSwitchTo(old);
		}
	}
	return result;
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
