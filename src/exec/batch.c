/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Running one batch of a streaming query: the single code path that
 *	  stream.process_batch, stream.process_all_available and the background
 *	  worker share.
 *
 * A batch has two steps.  Planning takes the query's lock, replays the
 * pending batch if the offsets log has one without a commit, or else takes
 * a new end snapshot and writes the offsets row.  When the caller can
 * commit (a CALL outside a transaction block, or a worker), the offsets row
 * is committed before the batch runs: write-ahead.  Running takes the lock
 * again, checks that nobody committed the batch meanwhile, evaluates the
 * query as its owner and writes the target, the commit row and the progress
 * row in one transaction.  A crash or error between the steps leaves the
 * offsets row, and the next attempt replays exactly those offsets.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "pg_streaming.h"
#include "shared.h"

PG_FUNCTION_INFO_V1(stream_process_all_available);
PG_FUNCTION_INFO_V1(stream_process_batch);

/* a query's prepared batch statement, kept for the life of the backend */
typedef struct BatchPlanEntry
{
	int64		query_id;		/* hash key */
	char	   *sql;
	SPIPlanPtr	plan;
} BatchPlanEntry;

static HTAB *batch_plans = NULL;


/* the definition of a query, as the batch needs it */
typedef struct BatchQuery
{
	int64		query_id;
	char	   *name;
	Oid			owner;
	Oid			stream_relid;
	Oid			target_relid;
	char	   *query_text;
	char	   *search_path;
	List	   *target_columns;
	int32		max_rows;		/* 0: no cap */
	bool		active;
} BatchQuery;

static char *
batch_text_copy(int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(TopTransactionContext, v) : NULL;
}

/*
 * Lock the query's catalog row and read its definition.  Runs inside a
 * catalog stretch; the lock lasts until the end of the transaction and
 * serializes every batch step of the query.
 */
static void
batch_lock_query(int64 query_id, BatchQuery *bq)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};
	bool		isnull;
	Datum		d;
	ArrayType  *arr;
	Datum	   *elems;
	int			nelems;
	int			i;
	MemoryContext old;

	if (pgs_catalog_exec("SELECT name, owner::oid, stream_relid::oid, target_relid::oid,"
						 " query_text, search_path, target_columns,"
						 " coalesce(max_rows_per_batch, 0), status = 'active'"
						 " FROM stream.query_defs WHERE query_id = $1 FOR UPDATE",
						 1, argtypes, values, NULL, false, 0) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("streaming query with id " INT64_FORMAT " does not exist",
						query_id),
				 errdetail("The query was dropped while its batch was running.")));

	bq->query_id = query_id;
	bq->name = batch_text_copy(0, 1);
	bq->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	bq->stream_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	bq->target_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	bq->query_text = batch_text_copy(0, 5);
	bq->search_path = batch_text_copy(0, 6);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull);
	arr = DatumGetArrayTypeP(d);
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nelems);
	old = MemoryContextSwitchTo(TopTransactionContext);
	bq->target_columns = NIL;
	for (i = 0; i < nelems; i++)
		bq->target_columns = lappend(bq->target_columns, TextDatumGetCString(elems[i]));
	MemoryContextSwitchTo(old);
	bq->max_rows = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull));
	bq->active = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9, &isnull));
}

/* the latest committed batch id, or 0 */
static int64
batch_last_commit(int64 query_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};
	bool		isnull;
	Datum		d;

	pgs_catalog_exec("SELECT coalesce(max(batch_id), 0) FROM stream.checkpoint_commits"
					 " WHERE query_id = $1",
					 1, argtypes, values, NULL, false, 0);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return DatumGetInt64(d);
}

/* a datum from the current SPI result, copied out of SPI's memory */
static Datum
batch_copy_datum(int row, int col, bool *isnull, Oid typid)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, isnull);
	int16		typlen;
	bool		typbyval;

	if (*isnull)
		return (Datum) 0;
	get_typlenbyval(typid, &typlen, &typbyval);
	return datumTransfer(d, typbyval, typlen);
}

/*
 * Read offsets row "batch_id" (or the latest one when batch_id is 0).
 * Returns false when there is none.
 */
static bool
batch_read_offsets(int64 query_id, int64 batch_id, int64 *found_id,
				   PgsBoundary *start, PgsBoundary *end, int64 *scan_from)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(query_id), Int64GetDatum(batch_id)};
	bool		isnull;
	MemoryContext old;

	if (pgs_catalog_exec("SELECT batch_id, start_snapshot, end_snapshot,"
						 " scan_from_block, end_floor_block, relfilenode,"
						 " end_tail_block"
						 " FROM stream.checkpoint_offsets"
						 " WHERE query_id = $1 AND ($2 = 0 OR batch_id = $2)"
						 " ORDER BY batch_id DESC LIMIT 1",
						 2, argtypes, values, NULL, false, 0) == 0)
		return false;

	old = MemoryContextSwitchTo(TopTransactionContext);
	*found_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	start->snapshot = batch_copy_datum(0, 2, &isnull, PG_SNAPSHOTOID);
	start->is_start = isnull;
	end->is_start = false;
	end->snapshot = batch_copy_datum(0, 3, &isnull, PG_SNAPSHOTOID);
	end->xmax = pgs_snapshot_xmax(end->snapshot);
	if (!start->is_start)
		start->xmax = pgs_snapshot_xmax(start->snapshot);
	*scan_from = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	end->from_block = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	end->relfilenode = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));
	end->tail_block = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull));
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * With max_rows_per_batch, end the batch before the first transaction that
 * would take it over the cap (but take at least one whole transaction).
 * Returns the end snapshot to use, which is hi itself when no cut is needed;
 * *empty is set when the batch has no rows at all.
 */
static Datum
batch_choose_end(const BatchQuery *bq, const PgsBoundary *lo, Datum hi,
				 PgsBatchParams *params, bool *empty, bool *capped)
{
	char	   *sql;
	int			n;
	int			i;
	int64		total = 0;
	int			keep;
	FullTransactionId *excluded;
	int			nexcluded = 0;
	bool		isnull;

	*capped = false;
	if (bq->max_rows <= 0)
	{
		sql = pgs_batch_select_sql(bq->stream_relid, "1", "LIMIT 1");
		n = pgs_catalog_exec(sql, PGS_BATCH_NPARAMS, pgs_batch_param_types,
							 params->values, params->nulls, false, 1);
		*empty = (n == 0);
		return hi;
	}

	sql = pgs_batch_select_sql(bq->stream_relid,
							   "s." PGS_XID_COLUMN ", pg_catalog.count(*)",
							   "GROUP BY 1 ORDER BY 1");
	n = pgs_catalog_exec(sql, PGS_BATCH_NPARAMS, pgs_batch_param_types,
						 params->values, params->nulls, false, 0);
	*empty = (n == 0);
	if (n == 0)
		return hi;
	for (keep = 0; keep < n; keep++)
	{
		int64		rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[keep], SPI_tuptable->tupdesc, 2, &isnull));

		if (keep > 0 && total + rows > bq->max_rows)
			break;
		total += rows;
	}
	if (keep == n)
		return hi;

	*capped = true;
	excluded = palloc(sizeof(FullTransactionId) * n);
	for (i = keep; i < n; i++)
		excluded[nexcluded++] = DatumGetFullTransactionId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	return pgs_cut_snapshot(lo, hi, excluded[0], excluded, nexcluded);
}

/* the prepared statement of a query, prepared on first use */
static SPIPlanPtr
batch_get_plan(const BatchQuery *bq, char **sql_out)
{
	BatchPlanEntry *entry;
	bool		found;

	if (batch_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(BatchPlanEntry);
		batch_plans = hash_create("pg_streaming batch plans", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS);
	}
	entry = hash_search(batch_plans, &bq->query_id, HASH_ENTER, &found);
	if (!found)
	{
		entry->sql = NULL;
		entry->plan = NULL;
	}
	if (entry->plan == NULL)
	{
		char	   *sql = pgs_compose_insert(bq->query_text, bq->target_relid,
											 bq->target_columns);
		SPIPlanPtr	plan;

		pgs_rewrite_begin(sql, bq->stream_relid);
		plan = SPI_prepare(sql, PGS_BATCH_NPARAMS, pgs_batch_param_types);
		pgs_rewrite_end();
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
		entry->plan = plan;
	}
	*sql_out = entry->sql;
	return entry->plan;
}

/*
 * Evaluate the query over one batch as the query's owner, writing the
 * target.  Returns the number of rows written; *input_rows gets the rows
 * read from the stream.
 */
static uint64
batch_execute(const BatchQuery *bq, PgsBatchParams *params, int64 *input_rows)
{
	Oid			saved_userid;
	int			saved_sec;
	int			nest;
	SPIPlanPtr	volatile plan;
	char	   *sql;
	volatile int rc = 0;
	uint64		written;

	/*
	 * The owner's query must not change this session's state (no SET ROLE,
	 * no temporary objects), as for code that maintenance runs as a table's
	 * owner.
	 */
	GetUserIdAndSecContext(&saved_userid, &saved_sec);
	SetUserIdAndSecContext(bq->owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	pgs_set_search_path(bq->search_path);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	plan = batch_get_plan(bq, &sql);
	pgs_batch_input_rows = 0;
	pgs_rewrite_begin(sql, bq->stream_relid);
	PG_TRY();
	{
		bool		pushed = pgs_ensure_snapshot();

		rc = SPI_execute_plan(plan, params->values, params->nulls, false, 0);
		if (pushed)
			PopActiveSnapshot();
	}
	PG_FINALLY();
	{
		pgs_rewrite_end();
	}
	PG_END_TRY();
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "batch statement failed: %s", SPI_result_code_string(rc));
	written = SPI_processed;
	*input_rows = pgs_batch_input_rows;

	SPI_finish();
	AtEOXact_GUC(true, nest);
	SetUserIdAndSecContext(saved_userid, saved_sec);
	return written;
}

/*
 * Plan or replay, then run, one batch of the query.  With nonatomic, the
 * offsets row is committed before the batch runs; otherwise both steps run
 * in the caller's transaction.
 */
PgsBatchResult
pgs_run_batch(int64 query_id, bool nonatomic, int flags)
{
	PgsCatalogAccess acc = {0};
	BatchQuery	bq;
	PgsBoundary lo = {0};
	PgsBoundary hi = {0};
	PgsBatchParams params;
	int64		last_commit;
	int64		last_offsets = 0;
	int64		batch_id;
	int64		scan_from = 0;
	bool		replay;
	bool		capped = false;
	TimestampTz started = GetCurrentTimestamp();
	int64		input_rows;
	uint64		output_rows;

	if (!nonatomic && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("a streaming batch cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("The batch must read every row committed before its end snapshot, which a transaction snapshot taken earlier cannot see."),
				 errhint("Run the batch at READ COMMITTED, or CALL it outside a transaction block.")));

	/* step 1: plan, or find the pending batch */
	pgs_catalog_begin(&acc);
	batch_lock_query(query_id, &bq);
	if ((flags & PGS_BATCH_REQUIRE_ACTIVE) && !bq.active)
	{
		pgs_catalog_end(&acc);
		return PGS_BATCH_INACTIVE;
	}
	if (flags & PGS_BATCH_NO_CAP)
		bq.max_rows = 0;
	last_commit = batch_last_commit(query_id);
	replay = batch_read_offsets(query_id, 0, &last_offsets, &lo, &hi, &scan_from) &&
		last_offsets > last_commit;
	if (replay)
	{
		batch_id = last_offsets;
		capped = true;			/* more may be available after it */
	}
	else
	{
		Relation	rel;
		BlockNumber nblocks;
		Oid			relfilenode;
		Datum		hi_snap;
		bool		empty;
		Oid			argtypes[9] = {INT8OID, INT8OID, PG_SNAPSHOTOID, PG_SNAPSHOTOID,
		INT8OID, INT8OID, INT8OID, OIDOID, TIMESTAMPTZOID};
		Datum		values[9];
		char		nulls[9];
		bool		lo_usable;
		int64		tail_block;

		/* lo is the end of the latest batch, or the start of the stream */
		if (last_offsets > 0)
			lo = hi;
		else
			lo.is_start = true;

		rel = relation_open(bq.stream_relid, AccessShareLock);
		nblocks = RelationGetNumberOfBlocks(rel);	/* before the snapshot */
		relfilenode = rel->rd_node.relNode;
		relation_close(rel, NoLock);

		hi_snap = pgs_take_snapshot(!nonatomic);

		/*
		 * The batch's rows belong to transactions not visible in lo, so they
		 * lie at or after lo's floor, unless the table was rewritten since.
		 */
		lo_usable = !lo.is_start && lo.relfilenode == relfilenode;
		scan_from = lo_usable ? lo.from_block : 0;
		tail_block = nblocks > 0 ? (int64) nblocks - 1 : 0;
		pgs_batch_params(&lo, hi_snap, scan_from, &params);
		hi_snap = batch_choose_end(&bq, &lo, hi_snap, &params, &empty, &capped);
		if (empty)
		{
			pgs_catalog_end(&acc);
			return PGS_BATCH_NONE;
		}

		hi.is_start = false;
		hi.snapshot = hi_snap;
		hi.xmax = pgs_snapshot_xmax(hi_snap);
		hi.from_block = pgs_boundary_floor(&lo, lo_usable, hi_snap, tail_block);
		hi.tail_block = tail_block;
		if (capped)
		{
			/*
			 * A cut end leaves transactions of this batch for later, and its
			 * xmax is no longer the next xid at snapshot time: fall back to
			 * this batch's own floor for both.
			 */
			hi.from_block = Min(hi.from_block, scan_from);
			hi.tail_block = hi.from_block;
		}
		hi.relfilenode = relfilenode;
		batch_id = last_commit + 1;

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(query_id);
		values[1] = Int64GetDatum(batch_id);
		values[2] = lo.is_start ? (Datum) 0 : lo.snapshot;
		nulls[2] = lo.is_start ? 'n' : ' ';
		values[3] = hi.snapshot;
		values[4] = Int64GetDatum(hi.tail_block);
		values[5] = Int64GetDatum(scan_from);
		values[6] = Int64GetDatum(hi.from_block);
		values[7] = ObjectIdGetDatum(relfilenode);
		values[8] = TimestampTzGetDatum(started);
		pgs_catalog_exec("INSERT INTO stream.checkpoint_offsets (query_id, batch_id,"
						 " start_snapshot, end_snapshot, end_tail_block, scan_from_block,"
						 " end_floor_block, relfilenode, planned_at)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
						 9, argtypes, values, nulls, false, 0);
	}
	pgs_catalog_end(&acc);

	if (nonatomic)
	{
		SPI_commit();
		started = GetCurrentTimestamp();
	}

	/* step 2: run the batch, unless someone else committed it meanwhile */
	pgs_catalog_begin(&acc);
	batch_lock_query(query_id, &bq);
	if ((flags & PGS_BATCH_REQUIRE_ACTIVE) && !bq.active)
	{
		pgs_catalog_end(&acc);
		return PGS_BATCH_INACTIVE;
	}
	if (batch_last_commit(query_id) >= batch_id ||
		!batch_read_offsets(query_id, batch_id, &last_offsets, &lo, &hi, &scan_from))
	{
		pgs_catalog_end(&acc);
		return PGS_BATCH_PARTIAL;
	}
	pgs_catalog_end(&acc);
	pgs_batch_params(&lo, hi.snapshot, scan_from, &params);

	output_rows = batch_execute(&bq, &params, &input_rows);

	pgs_catalog_begin(&acc);
	{
		Oid			argtypes[7] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID,
		INT8OID, BOOLOID, TIMESTAMPTZOID};
		Datum		values[7];

		values[0] = Int64GetDatum(query_id);
		values[1] = Int64GetDatum(batch_id);
		values[2] = TimestampTzGetDatum(started);
		values[3] = Int64GetDatum(input_rows);
		values[4] = Int64GetDatum((int64) output_rows);
		values[5] = BoolGetDatum(replay);
		values[6] = TimestampTzGetDatum(GetCurrentTimestamp());
		pgs_catalog_exec("INSERT INTO stream.checkpoint_commits (query_id, batch_id, committed_at)"
						 " VALUES ($1, $2, $7)",
						 7, argtypes, values, NULL, false, 0);
		pgs_catalog_exec("INSERT INTO stream.progress_log (query_id, batch_id, started_at,"
						 " finished_at, input_rows, output_rows, replayed)"
						 " VALUES ($1, $2, $3, $7, $4, $5, $6)",
						 7, argtypes, values, NULL, false, 0);

		/*
		 * Only the latest batch's offsets are needed to go on; keep the
		 * last pg_streaming.retained_batches of them for people to read.
		 */
		if (batch_id > pgs_retained_batches)
		{
			values[1] = Int64GetDatum(batch_id - pgs_retained_batches);
			pgs_catalog_exec("DELETE FROM stream.checkpoint_offsets"
							 " WHERE query_id = $1 AND batch_id <= $2",
							 2, argtypes, values, NULL, false, 0);
		}
	}
	pgs_catalog_end(&acc);

	if (nonatomic)
		SPI_commit();

	return capped ? PGS_BATCH_PARTIAL : PGS_BATCH_DONE;
}

/*
 * Rows committed into the query's stream that no committed batch has
 * processed yet (including those of a planned, uncommitted batch).  Costs a
 * scan of the blocks a next batch would read.
 */
int64
pgs_pending_rows(int64 query_id)
{
	PgsCatalogAccess acc = {0};
	BatchQuery	bq;
	PgsBoundary lo = {0};
	PgsBoundary unused = {0};
	PgsBatchParams params;
	int64		last_commit;
	int64		found;
	int64		scan_from;
	Relation	rel;
	Oid			relfilenode;
	Datum		hi;
	bool		isnull;
	int64		result;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT stream_relid::oid, owner::oid, name FROM stream.query_defs"
						 " WHERE query_id = $1",
						 1, argtypes, values, NULL, false, 0) == 0)
	{
		pgs_catalog_end(&acc);
		return 0;
	}
	bq.stream_relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	bq.owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	bq.name = batch_text_copy(0, 3);

	last_commit = batch_last_commit(query_id);
	if (last_commit > 0 &&
		batch_read_offsets(query_id, last_commit, &found, &unused, &lo, &scan_from))
		lo.is_start = false;
	else
		lo.is_start = true;

	rel = relation_open(bq.stream_relid, AccessShareLock);
	relfilenode = rel->rd_node.relNode;
	relation_close(rel, NoLock);
	hi = pgs_take_snapshot(true);
	scan_from = (!lo.is_start && lo.relfilenode == relfilenode) ? lo.from_block : 0;
	pgs_batch_params(&lo, hi, scan_from, &params);
	pgs_catalog_exec(pgs_batch_select_sql(bq.stream_relid, "pg_catalog.count(*)", NULL),
					 PGS_BATCH_NPARAMS, pgs_batch_param_types,
					 params.values, params.nulls, false, 0);
	result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	pgs_catalog_end(&acc);

	pgs_check_query_access(bq.name, bq.owner);
	return result;
}

/*
 * Find a query by name for a manual batch, checking that the caller may
 * run it.
 */
static int64
batch_lookup_query(const char *name)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	int64		query_id;
	Oid			owner;
	bool		isnull;

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT query_id, owner::oid FROM stream.query_defs WHERE name = $1",
						 1, argtypes, values, NULL, false, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("streaming query \"%s\" does not exist", name),
				 errhint("See stream.queries for the queries you can see.")));
	query_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	pgs_catalog_end(&acc);
	pgs_check_query_access(name, owner);
	return query_id;
}

static bool
batch_call_is_nonatomic(FunctionCallInfo fcinfo)
{
	return fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
}

/*
 * Shared by both procedures: run batches until one reports that nothing
 * more was available when it was planned (or, for a single batch, once).
 */
static int64
batch_process(FunctionCallInfo fcinfo, bool all)
{
	char	   *name;
	int64		query_id;
	bool		nonatomic = batch_call_is_nonatomic(fcinfo);
	int64		batches = 0;
	MemoryContext batch_cxt;
	MemoryContext old;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	query_id = batch_lookup_query(name);

	if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* what one batch allocates here is released before the next */
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_streaming batch",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(batch_cxt);
	for (;;)
	{
		PgsBatchResult r;

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(batch_cxt);
		MemoryContextReset(batch_cxt);
		r = pgs_run_batch(query_id, nonatomic, 0);
		if (r == PGS_BATCH_NONE)
			break;
		batches++;
		if (!all || r == PGS_BATCH_DONE)
			break;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(batch_cxt);
	SPI_finish();
	return batches;
}

Datum
stream_process_all_available(PG_FUNCTION_ARGS)
{
	(void) batch_process(fcinfo, true);
	PG_RETURN_VOID();
}

Datum
stream_process_batch(PG_FUNCTION_ARGS)
{
	(void) batch_process(fcinfo, false);
	PG_RETURN_VOID();
}
