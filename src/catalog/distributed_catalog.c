/*-------------------------------------------------------------------------
 *
 * distributed_catalog.c
 *	  The one owner of stream.distributed_queries and
 *	  stream.distributed_query_shards, on a Citus coordinator.
 *
 * A distributed query is recorded in the caller's transaction; its shard
 * rows say how far each node was brought to what the query's row asks for
 * (applied_status against desired_status).  Every statement runs in a
 * catalog stretch; the tables exist from catalog 0.9 on, which the callers
 * check.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_distributed.h"
#include "common/pgs_common.h"

/* a name taken by a distributed query, whatever its desired status */
bool
pgs_dist_name_taken(const char *name)
{
	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return false;
	return pgs_catalog_int8("SELECT 1::int8 FROM stream.distributed_queries WHERE name = $1",
							TEXTOID, CStringGetTextDatum(name)) > 0;
}

/*
 * The query's row and one row per shard, in the caller's transaction.  A
 * name taken by a local query or by another distributed query is refused
 * as start_query refuses a local query's.
 */
void
pgs_dist_query_insert(const PgsDistQuery *q, List *shards)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[10] = {TEXTOID, OIDOID, TEXTOID, TEXTOID, OIDOID, OIDOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[10];
	char		nulls[10];
	ListCell   *lc;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(q->name);
	values[1] = ObjectIdGetDatum(q->owner);
	values[2] = CStringGetTextDatum(q->query_text);
	values[3] = CStringGetTextDatum(q->search_path);
	values[4] = ObjectIdGetDatum(q->stream_relid);
	values[5] = ObjectIdGetDatum(q->target_relid);
	nulls[5] = OidIsValid(q->target_relid) ? ' ' : 'n';
	values[6] = CStringGetTextDatum(q->distribution_column);
	values[7] = CStringGetTextDatum(q->placement);
	values[8] = CStringGetTextDatum(q->options);
	values[9] = CStringGetTextDatum(q->desired_status ? q->desired_status : "active");

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT 1 FROM stream.query_defs WHERE name = $1"
						 " UNION ALL SELECT 1 FROM stream.distributed_queries WHERE name = $1",
						 1, argtypes, values, NULL, true, 0) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("streaming query \"%s\" already exists", q->name),
				 errhint("Drop it with stream.drop_query(), or choose another name.")));
	pgs_catalog_exec("INSERT INTO stream.distributed_queries (name, owner, query_text,"
					 " search_path, stream_relid, target_relid, distribution_column,"
					 " placement, options, desired_status)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::pg_catalog.jsonb, $10)",
					 10, argtypes, values, nulls, false, 0);
	foreach(lc, shards)
	{
		PgsDistShard *s = lfirst(lc);
		Oid			st[4] = {TEXTOID, INT8OID, INT8OID, TEXTOID};
		Datum		sv[4];
		char		sn[4] = {' ', ' ', ' ', ' '};

		sv[0] = values[0];
		sv[1] = Int64GetDatum(s->shardid);
		sv[2] = Int64GetDatum(s->target_shardid);
		sn[2] = s->target_shardid != 0 ? ' ' : 'n';
		sv[3] = CStringGetTextDatum(s->shard_query);
		pgs_catalog_exec("INSERT INTO stream.distributed_query_shards"
						 " (name, shardid, target_shardid, shard_query)"
						 " VALUES ($1, $2, $3, $4)",
						 4, st, sv, sn, false, 0);
	}
	pgs_catalog_end(&acc);
}

/* fill q from columns first .. first + 9 of the last statement's row */
static void
dc_fill(PgsDistQuery *q, int row, int first, MemoryContext cxt)
{
	bool		isnull;

	q->name = pgs_result_text(row, first, cxt);
	q->owner = DatumGetObjectId(pgs_result_datum(row, first + 1, &isnull));
	q->query_text = pgs_result_text(row, first + 2, cxt);
	q->search_path = pgs_result_text(row, first + 3, cxt);
	q->stream_relid = DatumGetObjectId(pgs_result_datum(row, first + 4, &isnull));
	q->target_relid = DatumGetObjectId(pgs_result_datum(row, first + 5, &isnull));
	if (isnull)
		q->target_relid = InvalidOid;
	q->distribution_column = pgs_result_text(row, first + 6, cxt);
	q->placement = pgs_result_text(row, first + 7, cxt);
	q->options = pgs_result_text(row, first + 8, cxt);
	q->desired_status = pgs_result_text(row, first + 9, cxt);
}

/* a started shard not yet brought to its query's last alter_query */
#define DC_ALTER_PENDING \
	"(s.applied_status IS NOT NULL AND q.desired_status <> 'dropped'" \
	" AND q.altered_at IS NOT NULL AND s.applied_at IS DISTINCT FROM q.altered_at)"

#define DC_QUERY_COLUMNS \
	"q.name, q.owner::pg_catalog.oid, q.query_text, q.search_path," \
	" q.stream_relid::pg_catalog.oid, q.target_relid::pg_catalog.oid," \
	" q.distribution_column, q.placement, q.options::pg_catalog.text, q.desired_status"

/*
 * Read a distributed query that is not being dropped, locking its row
 * until the end of the transaction; false when there is none (or the
 * catalog is older than 0.9).
 */
bool
pgs_dist_query_read(const char *name, PgsDistQuery *q)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		found;

	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return false;
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT " DC_QUERY_COLUMNS
							 " FROM stream.distributed_queries q WHERE q.name = $1"
							 " AND q.desired_status <> 'dropped' FOR UPDATE",
							 1, argtypes, values, NULL, false, 0) > 0;
	if (found)
		dc_fill(q, 0, 1, cxt);
	pgs_catalog_end(&acc);
	return found;
}

/* what the owner now asks of every shard */
void
pgs_dist_query_set_desired(const char *name, const char *status)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(name), CStringGetTextDatum(status)};

	/* the shards brought to the definition stay so: a status is no new text */
	pgs_catalog_run("WITH old AS (SELECT altered_at FROM stream.distributed_queries WHERE name = $1),"
					" q AS (UPDATE stream.distributed_queries SET desired_status = $2,"
					" altered_at = pg_catalog.now() WHERE name = $1 RETURNING altered_at)"
					" UPDATE stream.distributed_query_shards s SET applied_at = (SELECT altered_at FROM q)"
					" FROM old WHERE s.name = $1 AND s.applied_at OPERATOR(pg_catalog.=) old.altered_at",
					2, argtypes, values, NULL, false, 0);
}

/*
 * A new definition, in the caller's transaction; altered_at tells the
 * reconciler which shards are not yet brought to it (applied_at).
 */
void
pgs_dist_query_alter(const char *name, const char *query_text,
					 const char *search_path, const char *options)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = CStringGetTextDatum(name);
	values[1] = query_text ? CStringGetTextDatum(query_text) : (Datum) 0;
	values[2] = CStringGetTextDatum(search_path);
	values[3] = CStringGetTextDatum(options);
	if (query_text == NULL)
		nulls[1] = 'n';
	pgs_catalog_run("UPDATE stream.distributed_queries SET"
					" query_text = COALESCE($2, query_text),"
					" search_path = CASE WHEN $2 IS NULL THEN search_path ELSE $3 END,"
					" options = $4::pg_catalog.jsonb,"
					" altered_at = pg_catalog.clock_timestamp() WHERE name = $1",
					4, argtypes, values, nulls, false, 0);
}

/* is some shard row not as its query wants? */
bool
pgs_dist_pending(void)
{
	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return false;
	return pgs_dist_count_pending(NULL) > 0;
}

/*
 * The shard rows of one query (or of all, name NULL) whose applied status
 * is not the desired one, each with its query's row, locked so that two
 * passes at once act on a shard one after the other (the second sees the
 * first's result and skips the row).  The pass over all queries (the
 * scheduler's) leaves a row that failed in the last 10 seconds for later:
 * a node that does not answer may take citus.node_connection_timeout to
 * say so, and the scheduler has local queries to serve meanwhile.
 */
List *
pgs_dist_shards_to_reconcile(const char *name)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1] = {'n'};
	List	   *result = NIL;
	int			n;
	int			i;

	if (name != NULL)
	{
		values[0] = CStringGetTextDatum(name);
		nulls[0] = ' ';
	}
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT s.shardid, s.target_shardid, s.shard_query, s.applied_status, "
						 DC_QUERY_COLUMNS ", q.altered_at::pg_catalog.text, " DC_ALTER_PENDING
						 " FROM stream.distributed_query_shards s"
						 " JOIN stream.distributed_queries q ON q.name = s.name"
						 " WHERE ($1 IS NULL OR s.name = $1)"
						 " AND (s.applied_status IS DISTINCT FROM q.desired_status OR " DC_ALTER_PENDING ")"
						 " AND ($1 IS NOT NULL OR s.last_error_at IS NULL"
						 " OR s.last_error_at < pg_catalog.clock_timestamp() - interval '10 seconds')"
						 " ORDER BY s.name, s.shardid FOR UPDATE OF s",
						 1, argtypes, values, nulls, false, 0);
	for (i = 0; i < n; i++)
	{
		PgsDistShard *s = MemoryContextAllocZero(cxt, sizeof(PgsDistShard));
		MemoryContext old;
		bool		isnull;

		s->shardid = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		s->target_shardid = DatumGetInt64(pgs_result_datum(i, 2, &isnull));
		if (isnull)
			s->target_shardid = 0;
		s->shard_query = pgs_result_text(i, 3, cxt);
		s->applied_status = pgs_result_text(i, 4, cxt);
		dc_fill(&s->query, i, 5, cxt);
		s->altered_at = pgs_result_text(i, 15, cxt);
		s->alter_pending = DatumGetBool(pgs_result_datum(i, 16, &isnull));
		old = MemoryContextSwitchTo(cxt);
		result = lappend(result, s);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return result;
}

/* the shard's node was brought to status: no error left */
void
pgs_dist_shard_applied(const char *name, int64 shardid, const char *status)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(name), Int64GetDatum(shardid),
	CStringGetTextDatum(status)};

	pgs_catalog_run("UPDATE stream.distributed_query_shards SET applied_status = $3,"
					" last_error = NULL, last_error_at = NULL"
					" WHERE name = $1 AND shardid = $2",
					3, argtypes, values, NULL, false, 0);
}

/* the shard's query was brought to the definition of its query's altered_at */
void
pgs_dist_shard_altered(const char *name, int64 shardid, const char *altered_at)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(name), Int64GetDatum(shardid),
	CStringGetTextDatum(altered_at)};

	pgs_catalog_run("UPDATE stream.distributed_query_shards"
					" SET applied_at = $3::pg_catalog.timestamptz,"
					" last_error = NULL, last_error_at = NULL"
					" WHERE name = $1 AND shardid = $2",
					3, argtypes, values, NULL, false, 0);
}

/* the shard's node could not be brought to the desired status: why */
void
pgs_dist_shard_failed(const char *name, int64 shardid, const char *error)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(name), Int64GetDatum(shardid),
	CStringGetTextDatum(error)};

	pgs_catalog_run("UPDATE stream.distributed_query_shards SET last_error = $3,"
					" last_error_at = pg_catalog.clock_timestamp()"
					" WHERE name = $1 AND shardid = $2",
					3, argtypes, values, NULL, false, 0);
}

/* a dropped query goes once its every shard query is dropped */
void
pgs_dist_forget_dropped(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1] = {'n'};

	if (name != NULL)
	{
		values[0] = CStringGetTextDatum(name);
		nulls[0] = ' ';
	}
	pgs_catalog_run("DELETE FROM stream.distributed_queries q"
					" WHERE q.desired_status = 'dropped' AND ($1 IS NULL OR q.name = $1)"
					" AND NOT EXISTS (SELECT 1 FROM stream.distributed_query_shards s"
					" WHERE s.name = q.name AND s.applied_status IS DISTINCT FROM 'dropped')",
					1, argtypes, values, nulls, false, 0);
}

/* the shard rows not as desired, of one query or of all */
int
pgs_dist_count_pending(const char *name)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1] = {'n'};
	int64		n = 0;
	bool		isnull;

	if (name != NULL)
	{
		values[0] = CStringGetTextDatum(name);
		nulls[0] = ' ';
	}
	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT pg_catalog.count(*) FROM stream.distributed_query_shards s"
						 " JOIN stream.distributed_queries q ON q.name = s.name"
						 " WHERE ($1 IS NULL OR s.name = $1)"
						 " AND (s.applied_status IS DISTINCT FROM q.desired_status OR " DC_ALTER_PENDING ")",
						 1, argtypes, values, nulls, false, 0) > 0)
		n = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	pgs_catalog_end(&acc);
	return (int) n;
}
