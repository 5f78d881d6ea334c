/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Running one batch of a streaming query: the single code path that
 *	  stream.process_batch, stream.process_all_available and the background
 *	  worker share.
 *
 * A batch goes through four steps.  Plan: lock the query, and either find
 * the pending batch (an offsets row without a commit row) or take a new end
 * snapshot.  Write-ahead: write the new offsets row and, when the caller
 * can commit (a CALL outside a transaction block, or a worker), commit it
 * before anything else happens.  Run: lock the query again, check that
 * nobody committed the batch meanwhile, and evaluate the query as its owner
 * over exactly the rows of those offsets, writing the target.  Record:
 * write the commit row and the progress row in the run's transaction, and
 * commit.  A crash or error after the write-ahead leaves the offsets row,
 * and the next attempt replays exactly those offsets, whatever happened to
 * the table's storage in between.
 *
 * Everything that reads the stream or evaluates what a user defined runs in
 * an owner stretch (catalog.c); the catalog is read and written in catalog
 * stretches, which touch the extension's tables only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "access/transam.h"
#include "common/int.h"
#include "executor/instrument.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "access/htup_details.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
#include "utils/xid8.h"

#include "analyze/pgs_analyze.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"
#include "common/pgs_events.h"
#include "common/pgs_phases.h"
#include "common/pgs_plans.h"
#include "exec/exec_internal.h"
#include "exec/pgs_batch.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"
#include "state/pgs_join_exec.h"
#include "storage/pgs_placement.h"
#include "storage/pgs_shards.h"

/* the blocks stream.queries counts pending rows in; beyond, it estimates */
#define PGS_PENDING_SAMPLE_BLOCKS	32

/* what reads of the stream outside the batch statement run with */
#define BATCH_SCAN_SEARCH_PATH	"pg_catalog, pg_temp"

/* a query's prepared batch statement, kept until the query changes */
typedef struct BatchPlanEntry
{
	int64		query_id;		/* hash key */
	char	   *sql;
	SPIPlanPtr	plan;
	int			generic_checked;	/* pgs_plan_check_generic's generation */
} BatchPlanEntry;

static HTAB *batch_plans = NULL;
static HTAB *batch_views_checked = NULL;	/* query ids whose views this
											 * backend has checked */
static bool batch_plans_stale = false;
static bool batch_callback_registered = false;
static Oid	batch_query_defs_relid = InvalidOid;	/* as of the last batch */

/*
 * A batch is running in this backend, started in subtransaction
 * batch_subid; an abort of the transaction or of that subtransaction ends
 * it.
 */
static bool batch_running = false;
static SubTransactionId batch_subid = InvalidSubTransactionId;

/* a planned batch, as the run step needs it */
typedef struct BatchPlan
{
	int64		batch_id;
	bool		replay;			/* its offsets were written by an earlier try */
	bool		capped;			/* more rows may be available after it */
	PgsWatermarks watermarks;	/* with an event time: in force for it */
	PgsBoundary side2_end;		/* a join: side 2's end */
	int64		side2_scan_from;
} BatchPlan;

static void batch_check_history(const PgsQuery *q, bool record, MemoryContext cxt);
static void batch_history_error(const PgsQuery *q, const PgsHistoryCheck *hc,
								bool record, MemoryContext cxt) pg_attribute_noreturn();

/* a join between two streams, which has offsets and watermarks per side */
static bool
batch_is_join(const PgsQuery *q)
{
	return q->nsides == PGS_MAX_SIDES;
}

/* does the query have a watermark (on its stream, or on a side of its join)? */
static bool
batch_has_watermark(const PgsQuery *q)
{
	int			i;

	if (q->event_time != NULL)
		return true;
	for (i = 0; i < q->nsides; i++)
		if (q->sides[i].event_time != NULL)
			return true;
	return false;
}

/*
 * stream.query_defs changed in some transaction (a query dropped, or moved
 * to another owner): the statements prepared here may belong to queries
 * that are gone, so they are all prepared again on next use.
 */
static void
batch_relcache_callback(Datum arg, Oid relid)
{
	if (batch_plans != NULL &&
		(!OidIsValid(relid) || relid == batch_query_defs_relid))
		batch_plans_stale = true;
}

/* free every prepared batch statement of this backend */
void
pgs_forget_batch_plans(void)
{
	HASH_SEQ_STATUS seq;
	BatchPlanEntry *entry;

	pgs_agg_forget_plans();
	pgs_dedup_forget_plans();
	pgs_join_forget_plans();
	if (batch_views_checked != NULL)
		hash_destroy(batch_views_checked);
	batch_views_checked = NULL;
	if (batch_plans == NULL)
		return;
	hash_seq_init(&seq, batch_plans);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (entry->plan)
			SPI_freeplan(entry->plan);
		if (entry->sql)
			pfree(entry->sql);
	}
	hash_destroy(batch_plans);
	batch_plans = NULL;
	batch_plans_stale = false;
}

/*
 * The prepared statement of a query, prepared on first use.  The stream is
 * substituted while the statement is analyzed, here and whenever the plan
 * cache analyzes it again (batch_execute arms the substitution for that).
 */
static BatchPlanEntry *
batch_get_plan(const PgsQuery *q)
{
	BatchPlanEntry *entry;
	bool		found;
	char	   *sql;
	char		relkind;

	if (!batch_callback_registered)
	{
		CacheRegisterRelcacheCallback(batch_relcache_callback, (Datum) 0);
		batch_callback_registered = true;
	}
	batch_query_defs_relid = pgs_query_defs_relid();
	if (batch_plans_stale)
		pgs_forget_batch_plans();
	if (batch_plans == NULL)
		batch_plans = pgs_query_id_hash("pg_streaming batch plans", sizeof(BatchPlanEntry));
	/*
	 * A target can go without the catalog hearing of it (a rule made it a
	 * view, which was then dropped): say so rather than write nowhere.
	 */
	relkind = get_rel_relkind(q->target_relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target of streaming query \"%s\" is no longer a table", q->name),
				 errhint("Drop the query and start it again with a target table.")));
	/* a streaming aggregation's statements are agg_exec.c's, a join's join.c's */
	if (OidIsValid(q->state_relid) || batch_is_join(q))
		return NULL;

	/*
	 * The statement is checked against the query's definition too: query ids
	 * start again at 1 when the extension is created anew.
	 */
	sql = pgs_compose_insert(q->query_text, q->target_relid, q->target_columns,
							 q->key_columns);
	entry = hash_search(batch_plans, &q->query_id, HASH_ENTER, &found);
	if (!found)
	{
		entry->sql = NULL;
		entry->plan = NULL;
	}
	if (entry->plan != NULL && strcmp(entry->sql, sql) != 0)
	{
		SPI_freeplan(entry->plan);
		pfree(entry->sql);
		entry->sql = NULL;
		entry->plan = NULL;
	}
	if (entry->plan == NULL)
	{
		SPIPlanPtr	volatile plan = NULL;

		pgs_rewrite_arm(sql, q->stream_relid, q->view_relid);
		PG_TRY();
		{
			plan = SPI_prepare(sql, PGS_BATCH_NPARAMS, pgs_batch_param_types);
		}
		PG_FINALLY();
		{
			pgs_rewrite_disarm();
		}
		PG_END_TRY();
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		/*
		 * A statement that reads nothing but the batch's rows has one plan
		 * whatever the batch's size (a scan of its blocks into the target):
		 * it is planned once.  One that also reads another table keeps a
		 * plan made for each batch, knowing how many rows the batch has.
		 */
		pgs_plan_once_if_reads_only(plan, q->stream_relid, q->target_relid);
		pgs_keep_plan(plan);
		entry->sql = MemoryContextStrdup(pgs_plan_context(), sql);
		entry->plan = plan;
		entry->generic_checked = -1;
	}
	return entry;
}

/*
 * The watermark the next batch will have: the latest event time seen less
 * the delay, never moving back.
 */
static void
batch_next_watermark(const PgsQuery *q, PgsProgress *progress)
{
	PgsWatermarks *w = &progress->watermarks;

	progress->next_null = w->watermark_null;
	progress->next_watermark = w->watermark;
	if (!progress->times_null)
		pgs_watermark_advance(&progress->next_null, &progress->next_watermark,
							  progress->event_time_max, q->watermark_usecs);
}

/*
 * The event times of the batch's rows, as the owner (Spark's eventTime
 * statistics), and the watermark the next batch will have: the latest
 * event time seen less the delay, never moving back.  A timestamp without
 * time zone counts as UTC.
 */
static void
batch_event_times(const PgsQuery *q, PgsBatchParams *params, PgsProgress *progress)
{
	PgsCatalogAccess acc = {0};
	char	   *col = psprintf("s.%s", quote_identifier(q->event_time));
	bool		with_zone = get_atttype(q->stream_relid,
										get_attnum(q->stream_relid, q->event_time)) == TIMESTAMPTZOID;
	char	   *as_tz = with_zone ? col : psprintf("pg_catalog.timezone('UTC', %s)", col);
	bool		isnull;

	pgs_owner_begin(&acc, q->owner, BATCH_SCAN_SEARCH_PATH);
	/* a snapshot of its own, as in batch_scan */
	/* infinite times say nothing of how far the stream has come */
	pgs_owner_exec(q->query_id,
				   pgs_batch_select_cols_sql(q->stream_relid, col,
											 psprintf("pg_catalog.min(%s), pg_catalog.max(%s),"
													  " pg_catalog.to_timestamp(pg_catalog.avg(pg_catalog.date_part('epoch', %s)))",
													  as_tz, as_tz, col),
											 psprintf("WHERE pg_catalog.isfinite(%s)", col)),
				   PGS_BATCH_NPARAMS, pgs_batch_param_types, params->values,
				   params->nulls, false, 0);
	progress->event_time_min = DatumGetTimestampTz(pgs_result_datum(0, 1, &isnull));
	progress->times_null = isnull;
	progress->event_time_max = DatumGetTimestampTz(pgs_result_datum(0, 2, &isnull));
	progress->event_time_avg = DatumGetTimestampTz(pgs_result_datum(0, 3, &isnull));
	pgs_owner_end(&acc);

	batch_next_watermark(q, progress);
}

/*
 * The same figures from what the aggregation's partial statement read in
 * its own pass over the batch's rows (agg_exec.c): the average is their
 * sum over their count, rounded to the microsecond as to_timestamp() does.
 */
static void
batch_event_times_read(const PgsQuery *q, const PgsAggTimes *t, PgsProgress *progress)
{
	progress->times_null = t->count == 0;
	if (!progress->times_null)
	{
		progress->event_time_min = t->min;
		progress->event_time_max = t->max;
		progress->event_time_avg = (TimestampTz) rint(t->sum / (double) t->count);
	}
	batch_next_watermark(q, progress);
}

/*
 * A foreach_batch query's batch table is emptied before the batch writes
 * it, as the owner (whose table it is).
 */
static void
batch_clear_batch_table(const PgsQuery *q)
{
	PgsCatalogAccess acc = {0};
	bool		pushed;

	pgs_owner_begin(&acc, q->owner, BATCH_SCAN_SEARCH_PATH);
	pushed = pgs_ensure_snapshot();
	if (SPI_execute(psprintf("DELETE FROM ONLY %s", pgs_qualified_relname(q->target_relid)),
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not empty the batch table of streaming query \"%s\"", q->name);
	if (pushed)
		PopActiveSnapshot();
	pgs_owner_end(&acc);
}

/*
 * Call a foreach_batch query's procedure with the batch id, as the owner
 * with the query's search_path, in the batch's transaction: what it writes
 * commits with the batch's checkpoint, or not at all.
 */
static void
batch_call_foreach(const PgsQuery *q, int64 batch_id)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(batch_id)};
	HeapTuple	tup;
	char	   *sql;
	bool		pushed;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(q->foreach_batch));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("the foreach_batch procedure of streaming query \"%s\" no longer exists",
						q->name),
				 errhint("Drop the query and start it again with an existing procedure.")));
	ReleaseSysCache(tup);
	sql = psprintf("CALL %s($1)", pgs_qualified_procname(q->foreach_batch));
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	pushed = pgs_ensure_snapshot();
	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not call the foreach_batch procedure of streaming query \"%s\"",
			 q->name);
	if (pushed)
		PopActiveSnapshot();
	pgs_owner_end(&acc);
}

/*
 * Evaluate the query over one batch as the query's owner, writing the
 * target.  Returns the number of rows written; *input_rows gets the rows
 * read from the stream.  Settings the owner's code changes are rolled back
 * by the owner stretch.
 */
static uint64
batch_execute_query(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
					PgsProgress *progress)
{
	PgsCatalogAccess acc = {0};
	BatchPlanEntry *entry;
	CachedPlanSource *source;
	volatile int rc = 0;
	uint64		written;

	if (OidIsValid(q->state_relid))
	{
		PgsAggResult r;
		int64		before;

		(void) batch_get_plan(q);	/* checks the target, drops stale plans */
		before = pgs_checkpoint_state_rows(q->query_id);
		/*
		 * The event times: before the run for deduplication and a shard's
		 * partial groups; an aggregation reads them with its groups
		 * (agg_exec.c), or where it cannot, in a pass of their own after them.
		 */
		if (q->event_time &&
			(q->dedup_columns != NIL || strcmp(q->output_mode, "partial") == 0))
		{
			(void) pgs_phase_switch(PGS_PHASE_READ);
			batch_event_times(q, params, progress);
		}
		if (strcmp(q->output_mode, "partial") == 0)
		{
			/* a shard's part of a merged aggregation: its partial groups */
			pgs_agg_execute_exchange(q, batch_id, params,
									 !q->event_time || progress->times_null,
									 progress->event_time_max, &r);
			progress->input_rows = r.input_rows;
			return (uint64) r.output_rows;
		}
		if (q->dedup_columns != NIL)
			pgs_dedup_execute(q, batch_id, params, &progress->watermarks, &r);
		else
		{
			pgs_agg_execute(q, batch_id, params, before,
							q->event_time ? &progress->watermarks : NULL, &r);
			if (q->event_time && r.times.read)
				batch_event_times_read(q, &r.times, progress);
			else if (q->event_time)
			{
				PgsPhase	phase = pgs_phase_switch(PGS_PHASE_READ);

				batch_event_times(q, params, progress);
				(void) pgs_phase_switch(phase);
			}
		}
		progress->input_rows = r.input_rows;
		progress->has_state = true;
		progress->state_rows = before + r.groups_added - r.evicted;
		progress->state_rows_updated = r.groups_updated;
		progress->late_rows = r.late_groups;
		if (r.agg_chained)
		{
			/* the subquery's aggregation, then the one over its windows */
			pgs_progress_add_operator(progress, "aggregation", 0, r.lower_state_rows,
									  r.lower_updated, r.lower_evicted, r.lower_late);
			pgs_progress_add_operator(progress, "aggregation", 0,
									  progress->state_rows - r.lower_state_rows,
									  r.groups_updated - r.lower_updated,
									  r.evicted - r.lower_evicted,
									  r.late_groups - r.lower_late);
		}
		else if (r.chained)
		{
			/* deduplication, then the aggregation of the rows it kept */
			pgs_progress_add_operator(progress, "deduplication", 0, r.dedup_state_rows,
									  r.dedup_added, r.dedup_evicted, r.dedup_late);
			pgs_progress_add_operator(progress, "aggregation", 0,
									  progress->state_rows - r.dedup_state_rows,
									  r.groups_updated - r.dedup_added,
									  r.evicted - r.dedup_evicted,
									  r.late_groups - r.dedup_late);
		}
		else
			pgs_progress_add_operator(progress,
									  q->dedup_columns != NIL ? "deduplication" : "aggregation",
									  0, progress->state_rows, r.groups_updated, r.evicted,
									  r.late_groups);
		return (uint64) r.output_rows;
	}

	/*
	 * The query's search_path, with temporary tables last: a session that
	 * runs the batch must not stand a table of its own in for one the query
	 * reads.
	 */
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	entry = batch_get_plan(q);

	/*
	 * The plan cache analyzes the statement again from the text it keeps
	 * when a table it reads changed; that text's address is the token.
	 */
	source = linitial(SPI_plan_get_plan_sources(entry->plan));
	pgs_batch_input_rows = 0;
	pgs_rewrite_arm(source->query_string, q->stream_relid, q->view_relid);
	/* one statement reads the batch and inserts its rows: read_ms */
	(void) pgs_phase_switch(PGS_PHASE_READ);
	PG_TRY();
	{
		bool		pushed = pgs_ensure_snapshot();

		pgs_plan_check_generic(entry->plan, q->stream_relid, &entry->generic_checked);
		rc = SPI_execute_plan(entry->plan, params->values, params->nulls,
							  false, 0);
		if (pushed)
			PopActiveSnapshot();
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	pgs_adopt_plan(entry->plan);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "batch statement failed: %s", SPI_result_code_string(rc));
	written = SPI_processed;
	progress->input_rows = pgs_batch_input_rows;
	pgs_owner_end(&acc);
	return written;
}

/* once a backend: the query's view, and what it depends on, are there */
static void
batch_check_view(const PgsQuery *q)
{
	bool		found;

	if (batch_views_checked == NULL)
		batch_views_checked = pgs_query_id_hash("pg_streaming checked views", sizeof(int64));
	(void) hash_search(batch_views_checked, &q->query_id, HASH_FIND, &found);
	if (!found)
	{
		pgs_query_repair_view(q);
		(void) hash_search(batch_views_checked, &q->query_id, HASH_ENTER, NULL);
	}
}

/*
 * Run the query over one batch: into its target, or into its batch table
 * for its foreach_batch procedure, which is then called.  Counts the shared
 * blocks the batch's statements read.
 */
static uint64
batch_execute(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
			  PgsProgress *progress)
{
	BufferUsage before = pgBufferUsage;
	uint64		written;

	batch_check_view(q);

	if (OidIsValid(q->foreach_batch))
		batch_clear_batch_table(q);
	written = pgs_batch_run_guarded(q, batch_id, params, progress,
									batch_execute_query);
	if (OidIsValid(q->foreach_batch))
	{
		(void) pgs_phase_switch(PGS_PHASE_WRITE);
		batch_call_foreach(q, batch_id);
	}
	progress->blocks_read = (pgBufferUsage.shared_blks_hit - before.shared_blks_hit) +
		(pgBufferUsage.shared_blks_read - before.shared_blks_read);
	return written;
}

/*
 * Lock the query's catalog row and read its definition; the lock lasts
 * until the end of the transaction and serializes every batch step of the
 * query.  A query whose owner is gone never runs.  Returns false when the
 * flags ask for an active query and it is not.
 */
static bool
batch_lock_query(int64 query_id, int flags, PgsQuery *q)
{
	if (!pgs_query_read(NULL, query_id, PGS_QUERY_LOCK, q))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("streaming query with id " INT64_FORMAT " does not exist",
						query_id),
				 errdetail("The query was dropped while its batch was running.")));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(q->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of streaming query \"%s\" no longer exists",
						q->name),
				 errhint("Drop the query, or start it again as an existing role.")));
	return q->active || !(flags & PGS_BATCH_REQUIRE_ACTIVE);
}

/*
 * The stream's present storage: its relfilenode and, with tail, the
 * position new transactions start writing at (pgs_placement.h).
 */
static void
batch_stream_storage(Oid relid, Oid *relfilenode, int64 *tail)
{
	Relation	rel = relation_open(relid, AccessShareLock);

	*relfilenode = rel->rd_node.relNode;
	if (tail)
		*tail = pgs_stream_tail(relid, *relfilenode, RelationGetNumberOfBlocks(rel));
	relation_close(rel, NoLock);
}

/*
 * The stream's writers as the registry of placement.c knows them, read
 * after the tail position and before the end snapshot: a transaction the
 * snapshot sees running either was registered here already, or writes its
 * first row later, at or after the tail.  (Read after the snapshot, the
 * registry could have lost a writer that committed in between.)
 */
typedef struct BatchWriters
{
	bool		known;
	uint64		since;
	int			n;
	PgsWriter  *writers;		/* in the current memory context */
} BatchWriters;

static void
batch_read_writers(Oid relid, BatchWriters *w)
{
	w->known = pgs_writers_read(relid, &w->since, &w->writers, &w->n);
}

/*
 * The floor of a new end snapshot: from the registry of the stream's
 * writers where there is one (so that only transactions writing the stream
 * hold it back), else from the snapshots alone.
 */
static int64
batch_floor(const BatchWriters *w, Oid relfilenode, const PgsBoundary *lo,
			bool lo_usable, Datum hi, int64 tail, PgsBoundary *hi_boundary)
{
	hi_boundary->nwriters = 0;
	if (w->known)
		return pgs_boundary_floor_known(lo, lo_usable, hi, tail, relfilenode,
										w->since, w->writers, w->n, hi_boundary);
	return pgs_boundary_floor(lo, lo_usable, hi, tail);
}

/*
 * The blocks that hold the rows of a batch that reads from position "from",
 * or, when the batch is a stretch of one split transaction (to is not
 * PGS_NO_BLOCK), the blocks from..to themselves.
 */
static int
batch_ranges(Oid relid, Oid relfilenode, int64 from, int64 to,
			 PgsBlockRange *ranges)
{
	if (to != PGS_NO_BLOCK)
	{
		ranges[0].first = from;
		ranges[0].end = to;
		return 1;
	}
	return pgs_scan_ranges(relid, relfilenode, from, ranges);
}

/*
 * Read the batch's rows outside the batch statement (existence, counts per
 * transaction), as the query's owner: the stream's column types, casts and
 * operators are the owner's to define.  Returns SPI_processed; the rows
 * stay in SPI_tuptable until pgs_owner_end().
 */
static int
batch_scan(PgsCatalogAccess *acc, const PgsQuery *q, const char *select_list,
		   const char *tail, PgsBatchParams *params)
{
	char	   *sql = pgs_batch_select_sql(q->stream_relid, select_list, tail);

	pgs_owner_begin(acc, q->owner, BATCH_SCAN_SEARCH_PATH);

	/*
	 * Not read_only: the statement gets a snapshot of its own, taken now,
	 * after the batch's end snapshot.  The caller's may be older (a CALL's
	 * own), and would not see rows of transactions the end snapshot sees.
	 */
	return pgs_owner_exec(q->query_id, sql, PGS_BATCH_NPARAMS, pgs_batch_param_types,
						  params->values, params->nulls, false, 0);
}

/* the block of a tid datum */
static int64
batch_tid_block(Datum tid)
{
	return (int64) ItemPointerGetBlockNumber((ItemPointer) DatumGetPointer(tid));
}

/*
 * Rows of committed transaction x in blocks [from, to), as the query's
 * owner; *first and *last get the blocks of the first and the last of them.
 */
static int64
batch_count_split(const PgsQuery *q, FullTransactionId x, int64 from,
				  int64 to, int64 *first, int64 *last)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {XID8OID, TIDOID, TIDOID};
	Datum		values[3];
	ItemPointerData lo_tid;
	ItemPointerData hi_tid;
	bool		isnull;
	int64		n;
	Datum		d;

	ItemPointerSet(&lo_tid, (BlockNumber) from, 0);
	if (to < 0 || to >= (int64) MaxBlockNumber)
		ItemPointerSet(&hi_tid, MaxBlockNumber, 0);
	else
		ItemPointerSet(&hi_tid, (BlockNumber) to, 0);
	values[0] = FullTransactionIdGetDatum(x);
	values[1] = PointerGetDatum(&lo_tid);
	values[2] = PointerGetDatum(&hi_tid);
	pgs_owner_begin(&acc, q->owner, BATCH_SCAN_SEARCH_PATH);
	/* a snapshot of its own, as in batch_scan */
	pgs_owner_exec(q->query_id, pgs_split_count_sql(q->stream_relid), 3, argtypes,
				   values, NULL, false, 0);
	n = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	if (first)
	{
		d = pgs_result_datum(0, 2, &isnull);
		*first = isnull ? from : batch_tid_block(d);
	}
	if (last)
	{
		d = pgs_result_datum(0, 3, &isnull);
		*last = isnull ? from : batch_tid_block(d);
	}
	pgs_owner_end(&acc);
	return n;
}

/*
 * Where a batch of at most "cap" rows of committed transaction x, starting
 * at block "from", ends: a block boundary before "stop" (past x's last
 * row), or stop itself when the rest fits.  At least one block is taken.
 * The rows are counted over ranges of blocks sized from the rows seen so
 * far, so a batch reads about its own rows, never the rest of x.
 */
static int64
batch_split_end(const PgsQuery *q, FullTransactionId x, int64 from,
				int64 stop, int64 cap)
{
	int64		b = from;
	int64		total = 0;
	int64		step = Max(1, cap / MaxHeapTuplesPerPage);

	if (cap <= 0)
		return stop;
	while (b < stop)
	{
		int64		e = Min(b + step, stop);
		int64		n = batch_count_split(q, x, b, e, NULL, NULL);
		double		density;

		if (total > 0 && total + n > cap)
			break;
		total += n;
		b = e;
		if (total >= cap)
			break;
		density = (double) total / (double) (b - from);
		step = density > 0 ? (int64) ((cap - total) / density) : stop - b;
		step = Max(step, 1);
	}
	return b;
}

/* how a new batch ends, as batch_choose_end chose it */
typedef struct BatchEnd
{
	Datum		snapshot;
	bool		empty;			/* no rows at all */
	bool		capped;			/* rows left for later batches */
	int64		left_floor;		/* lowest block of a committed row left out */
	FullTransactionId split_xid;	/* a transaction split, or invalid */
	int64		split_first;	/* the block of its first row */
	int64		split_block;
	int64		split_stop;
} BatchEnd;

/*
 * With max_rows_per_batch, end the batch before the first transaction that
 * would take it over the cap.  A first transaction that alone is over the
 * cap is split by block: the batch takes its rows up to a block boundary,
 * and the following batches take the rest (batch_plan_split).
 */
static void
batch_choose_end(const PgsQuery *q, const PgsBoundary *lo, Datum hi,
				 PgsBatchParams *params, const PgsBlockRange *ranges,
				 int nranges, BatchEnd *be)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	int			i;
	int64		total = 0;
	int64		first_rows = 0;
	int			keep;
	FullTransactionId *excluded;
	int			nexcluded = 0;
	bool		isnull;

	memset(be, 0, sizeof(BatchEnd));
	be->snapshot = hi;
	be->left_floor = PGS_NO_BLOCK;
	if (q->max_rows <= 0)
	{
		/* read in C where it answers as the statement would */
		n = pgs_batch_has_rows(q->stream_relid, q->owner, params);
		if (n >= 0)
		{
			be->empty = (n == 0);
			return;
		}
		n = batch_scan(&acc, q, "1", "LIMIT 1", params);
		pgs_owner_end(&acc);
		be->empty = (n == 0);
		return;
	}

	n = batch_scan(&acc, q, "s." PGS_XID_COLUMN ", pg_catalog.count(*),"
				   " pg_catalog.min(s.ctid)",
				   "GROUP BY 1 ORDER BY 1", params);
	be->empty = (n == 0);
	for (keep = 0; keep < n; keep++)
	{
		int64		rows = DatumGetInt64(pgs_result_datum(keep, 2, &isnull));

		if (keep == 0)
			first_rows = rows;
		if (keep > 0 && total + rows > q->max_rows)
			break;
		total += rows;
	}
	excluded = MemoryContextAlloc(cxt, sizeof(FullTransactionId) * (n + 1));
	for (i = 0; i < n; i++)
	{
		FullTransactionId x = DatumGetFullTransactionId(pgs_result_datum(i, 1, &isnull));
		int64		blk = batch_tid_block(pgs_result_datum(i, 3, &isnull));

		if (i == 0 && first_rows > q->max_rows && pgs_catalog_splits())
			be->split_xid = x;
		else if (i < keep)
			continue;
		else if (be->left_floor == PGS_NO_BLOCK || blk < be->left_floor)
			be->left_floor = blk;
		excluded[nexcluded++] = x;
	}
	pgs_owner_end(&acc);

	if (FullTransactionIdIsValid(be->split_xid))
	{
		int64		first = -1;
		int64		last = -1;

		/* where its rows lie: the split is by block, whatever the runs */
		for (i = 0; i < nranges; i++)
		{
			int64		f;
			int64		l;

			if (batch_count_split(q, be->split_xid, ranges[i].first,
								  ranges[i].end, &f, &l) == 0)
				continue;
			if (first < 0 || f < first)
				first = f;
			if (l > last)
				last = l;
		}
		be->split_first = first;
		be->split_stop = last + 1;
		be->split_block = batch_split_end(q, be->split_xid, first,
										  be->split_stop, q->max_rows);
		if (be->split_block >= be->split_stop)
		{
			/* it fits after all (one block): taken whole, like any other */
			be->split_xid = InvalidFullTransactionId;
			nexcluded--;
			memmove(excluded, excluded + 1, sizeof(FullTransactionId) * nexcluded);
		}
	}
	if (nexcluded > 0)
	{
		be->capped = true;
		be->snapshot = pgs_cut_snapshot(lo, hi, excluded[0], excluded, nexcluded);
	}
}

/* the offsets of a new batch without rows, to be filled in */
static void
batch_offsets_init(PgsOffsets *o)
{
	memset(o, 0, sizeof(PgsOffsets));
	o->scan_to = PGS_NO_BLOCK;
}

static void
batch_split_lost(const PgsQuery *q, FullTransactionId x)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("stream table \"%s\" was rewritten while streaming query \"%s\" was part-way through the rows of one transaction",
					get_rel_name(q->stream_relid), q->name),
			 errdetail("The rows of one large transaction are split between batches by their place in the table, which the rewrite (VACUUM FULL, CLUSTER, a rewriting ALTER TABLE, a restore) changed."),
			 errhint("Drop the query and start it again.")));
}

/*
 * The next batch of a transaction that the latest boundary split: its rows
 * from the split block on, at most max_rows_per_batch of them.  The
 * boundary's snapshot stays the same until the last of those rows, when
 * the transaction becomes visible in it.
 */
static void
batch_plan_split(const PgsQuery *q, PgsOffsets *o, BatchPlan *bp,
				 Oid relfilenode)
{
	PgsBoundary *lo = &o->start;
	PgsBoundary *hi = &o->end;
	int64		b;

	if (lo->relfilenode != relfilenode)
		batch_split_lost(q, lo->split_xid);
	b = batch_split_end(q, lo->split_xid, lo->split_block, lo->split_stop,
						q->max_rows);
	*hi = *lo;
	hi->split_xid = InvalidFullTransactionId;
	if (b < lo->split_stop)
	{
		hi->split_xid = lo->split_xid;
		hi->split_block = b;
		/* a block is a position only while nothing was recycled */
		if (PGS_POSITION_RUN(lo->rest_floor) == 0)
			hi->from_block = Min(lo->rest_floor, b);
		else
			hi->from_block = lo->from_block;
	}
	else
	{
		hi->snapshot = pgs_snapshot_without(lo->snapshot, lo->split_xid);
		hi->split_block = hi->split_stop = 0;
		hi->from_block = lo->rest_floor;
	}
	/* the transactions past the cut's xmax lie at or after its floor */
	hi->tail_block = hi->from_block;
	o->scan_from = lo->split_block;
	o->scan_to = b;
	bp->capped = true;			/* more may be available after it */
}

/*
 * Without new rows, a query with an event time still runs a batch when the
 * watermark moved since its latest batch (Spark's no-data batch): the
 * windows the new watermark closes are emitted and evicted.  Its offsets
 * end where they start, and it reads no block.
 */
static bool
batch_plan_no_data(const PgsQuery *q, PgsOffsets *o, BatchPlan *bp,
				   bool have_latest)
{
	PgsWatermarks *w = &bp->watermarks;

	if (!batch_has_watermark(q) || !have_latest || w->watermark_null ||
		strcmp(q->output_mode, "complete") == 0 ||
		(!w->late_null && w->watermark <= w->late))
		return false;
	o->end = o->start;
	o->end.is_start = false;
	o->scan_from = 0;
	o->scan_to = 0;
	bp->capped = false;
	return true;
}

/*
 * Step 1, plan: find the pending batch, or choose the offsets of a new
 * one.  Returns false when there is nothing to run.  Called with the
 * query's row locked.
 */
static bool
batch_plan(const PgsQuery *q, PgsOffsets *o, BatchPlan *bp, bool own_running)
{
	int64		last_commit;
	PgsHistoryCheck history;
	bool		history_ok;
	PgsOffsets	latest;
	bool		have_latest;
	PgsBoundary *lo = &o->start;
	PgsBoundary *hi = &o->end;
	PgsBoundary candidate = {0};
	PgsBatchParams params;
	PgsBlockRange ranges[2];
	int			nranges;
	BatchWriters writers;
	BatchEnd	be;
	Oid			relfilenode;
	int64		tail_block;
	int64		floor;
	bool		lo_usable;

	/* a checkpoint of another history is never planned from (see below) */
	have_latest = pgs_checkpoint_read_with_commit(q->query_id, 0, &latest,
												  &last_commit, &history,
												  &history_ok);
	if (!history_ok)
		batch_history_error(q, &history, !own_running, CurrentMemoryContext);
	if (have_latest && latest.batch_id > last_commit)
	{
		*o = latest;
		bp->batch_id = latest.batch_id;
		bp->replay = true;
		bp->capped = true;		/* more may be available after it */
		return true;
	}

	/* the new batch starts where the latest one ended */
	batch_offsets_init(o);
	if (have_latest)
		*lo = latest.end;
	else
		lo->is_start = true;
	o->batch_id = last_commit + 1;
	bp->batch_id = o->batch_id;
	bp->replay = false;
	if (q->event_time)
		pgs_checkpoint_plan_watermarks(q->query_id, &bp->watermarks);

	batch_stream_storage(q->stream_relid, &relfilenode, &tail_block);	/* before the snapshot */
	if (!lo->is_start && FullTransactionIdIsValid(lo->split_xid))
	{
		batch_plan_split(q, o, bp, relfilenode);
		return true;
	}
	batch_read_writers(q->stream_relid, &writers);
	candidate.snapshot = pgs_take_snapshot(own_running);

	/*
	 * The batch's rows belong to transactions not visible in lo, so they lie
	 * at or after lo's floor, unless the table was rewritten since.
	 */
	lo_usable = !lo->is_start && lo->relfilenode == relfilenode;
	o->scan_from = lo_usable ? pgs_boundary_scan_from(lo, candidate.snapshot) : 0;
	nranges = batch_ranges(q->stream_relid, relfilenode, o->scan_from,
						   PGS_NO_BLOCK, ranges);
	pgs_batch_params(lo, &candidate, ranges, nranges, &params);
	batch_choose_end(q, lo, candidate.snapshot, &params, ranges, nranges, &be);
	if (be.empty)
		return batch_plan_no_data(q, o, bp, have_latest);
	bp->capped = be.capped;

	floor = batch_floor(&writers, relfilenode, lo, lo_usable,
						candidate.snapshot, tail_block, hi);
	hi->is_start = false;
	hi->snapshot = be.snapshot;
	hi->xmax = pgs_snapshot_xmax(be.snapshot);
	hi->relfilenode = relfilenode;
	if (!be.capped)
	{
		hi->from_block = floor;
		hi->tail_block = tail_block;
	}
	else
	{
		/*
		 * A cut end leaves committed transactions of this batch for later,
		 * whose rows start at left_floor, and its xmax is no longer the next
		 * xid at snapshot time, so its tail is its floor.
		 */
		if (be.left_floor != PGS_NO_BLOCK)
			floor = Min(floor, be.left_floor);
		hi->from_block = floor;
		hi->tail_block = floor;
	}
	hi->rest_floor = hi->from_block;
	if (FullTransactionIdIsValid(be.split_xid))
	{
		hi->split_xid = be.split_xid;
		hi->split_block = be.split_block;
		hi->split_stop = be.split_stop;
		/* a block is a position only while nothing was recycled */
		if (PGS_POSITION_RUN(tail_block) == 0)
			hi->from_block = Min(hi->from_block, be.split_block);
		else
			hi->from_block = Min(hi->from_block, o->scan_from);
		hi->tail_block = hi->from_block;

		/* the batch holds that transaction's first rows and nothing else */
		o->scan_from = be.split_first;
		o->scan_to = be.split_block;
	}
	return true;
}

/*
 * Step 3, run: evaluate the query over the batch's rows.  A batch planned
 * before its stream was rewritten (VACUUM FULL, CLUSTER, a rewriting ALTER
 * TABLE) has block numbers of storage that is gone; its rows are then found
 * by their transactions alone, reading the table from its first block,
 * unless the batch splits a transaction by block.
 */
static uint64
batch_run(const PgsQuery *q, const PgsOffsets *o, PgsProgress *progress)
{
	PgsBatchParams params;
	PgsBlockRange ranges[2];
	int			nranges;
	Oid			relfilenode;
	int64		scan_from = o->scan_from;

	batch_stream_storage(q->stream_relid, &relfilenode, NULL);
	if (relfilenode != o->end.relfilenode)
	{
		if (FullTransactionIdIsValid(o->end.split_xid))
			batch_split_lost(q, o->end.split_xid);
		if (!o->start.is_start && FullTransactionIdIsValid(o->start.split_xid))
			batch_split_lost(q, o->start.split_xid);
		scan_from = 0;
	}
	nranges = batch_ranges(q->stream_relid, relfilenode, scan_from, o->scan_to,
						   ranges);
	pgs_batch_params(&o->start, &o->end, ranges, nranges, &params);
	return batch_execute(q, o->batch_id, &params, progress);
}

/* ---- a join between two streams: a boundary per stream, one snapshot pair ---- */

/* is a stream's part of the batch (lo, hi] empty?  As the owner. */
static bool
batch_side_empty(const PgsQuery *q, Oid relid, PgsBatchParams *params)
{
	PgsCatalogAccess acc = {0};
	int			n = pgs_batch_has_rows(relid, q->owner, params);

	if (n >= 0)
		return n == 0;
	pgs_owner_begin(&acc, q->owner, BATCH_SCAN_SEARCH_PATH);
	n = pgs_owner_exec(q->query_id, pgs_batch_select_sql(relid, "1", "LIMIT 1"),
					   PGS_BATCH_NPARAMS, pgs_batch_param_types, params->values,
					   params->nulls, false, 0);
	pgs_owner_end(&acc);
	return n == 0;
}

static void
batch_side_lost(const PgsQuery *q, int64 batch_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the offsets of the second stream of batch " INT64_FORMAT " of streaming query \"%s\" are missing",
					batch_id, q->name),
			 errdetail("A batch of a join between two streams has its offsets in each stream written ahead together."),
			 errhint("Drop the query and start it again.")));
}

/*
 * One stream's end of a new join batch whose end snapshot is "hi": its
 * floor, as batch_plan computes a whole batch's (a join never splits a
 * transaction: it takes whole transactions of both streams).
 */
static void
batch_side_end(Oid relid, const PgsBoundary *lo, Datum hi, Oid relfilenode,
			   int64 tail_block, const BatchWriters *writers, PgsBoundary *end)
{
	bool		lo_usable = !lo->is_start && lo->relfilenode == relfilenode;

	end->from_block = batch_floor(writers, relfilenode, lo, lo_usable, hi,
								  tail_block, end);
	end->is_start = false;
	end->snapshot = hi;
	end->xmax = pgs_snapshot_xmax(hi);
	end->relfilenode = relfilenode;
	end->tail_block = tail_block;
	end->rest_floor = end->from_block;
	end->split_xid = InvalidFullTransactionId;
}

/* where a stream's part of a batch starting at lo begins, and its params */
static void
batch_side_params(Oid relid, const PgsBoundary *lo, const PgsBoundary *hi,
				  Oid relfilenode, int64 scan_from, PgsBatchParams *params)
{
	PgsBlockRange ranges[2];
	int			nranges;

	nranges = batch_ranges(relid, relfilenode, scan_from, PGS_NO_BLOCK, ranges);
	pgs_batch_params(lo, hi, ranges, nranges, params);
}

/*
 * Step 1 of a join's batch: the pending batch, or a new one.  Both streams
 * share the batch's snapshots; each has its own blocks.  Side 1's boundary
 * is the batch's offsets row, side 2's goes beside it.
 */
static bool
batch_plan_join(const PgsQuery *q, PgsOffsets *o, BatchPlan *bp, bool own_running)
{
	int64		last_commit = pgs_checkpoint_last_commit(q->query_id);
	PgsOffsets	latest;
	bool		have_latest;
	PgsBoundary *lo = &o->start;
	PgsBoundary lo2 = {0};
	PgsBoundary candidate = {0};
	PgsBatchParams params;
	Oid			relid[PGS_MAX_SIDES] = {q->sides[0].relid, q->sides[1].relid};
	Oid			relfilenode[PGS_MAX_SIDES];
	int64		tail[PGS_MAX_SIDES];
	BatchWriters writers[PGS_MAX_SIDES];
	int64		scan_from[PGS_MAX_SIDES];
	int64		unused;
	bool		empty = true;
	int			side;

	have_latest = pgs_checkpoint_read(q->query_id, 0, &latest);
	if (have_latest && latest.batch_id > last_commit)
	{
		*o = latest;
		if (!pgs_checkpoint_read_side(q->query_id, latest.batch_id, 2,
									  &bp->side2_end, &bp->side2_scan_from))
			batch_side_lost(q, latest.batch_id);
		bp->side2_end.snapshot = latest.end.snapshot;
		bp->batch_id = latest.batch_id;
		bp->replay = true;
		bp->capped = true;
		return true;
	}

	batch_offsets_init(o);
	if (have_latest)
	{
		*lo = latest.end;
		if (!pgs_checkpoint_read_side(q->query_id, latest.batch_id, 2, &lo2, &unused))
			batch_side_lost(q, latest.batch_id);
		lo2.is_start = false;
		lo2.snapshot = lo->snapshot;
		lo2.xmax = lo->xmax;
	}
	else
	{
		lo->is_start = true;
		lo2.is_start = true;
	}
	o->batch_id = last_commit + 1;
	bp->batch_id = o->batch_id;
	bp->replay = false;
	if (batch_has_watermark(q))
		pgs_checkpoint_plan_watermarks(q->query_id, &bp->watermarks);

	/* before the snapshot, as batch_plan */
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		batch_stream_storage(relid[side], &relfilenode[side], &tail[side]);
		batch_read_writers(relid[side], &writers[side]);
	}
	candidate.snapshot = pgs_take_snapshot(own_running);
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		const PgsBoundary *l = side == 0 ? lo : &lo2;
		bool		lo_usable = !l->is_start && l->relfilenode == relfilenode[side];

		scan_from[side] = lo_usable ? pgs_boundary_scan_from(l, candidate.snapshot) : 0;
		batch_side_params(relid[side], l, &candidate, relfilenode[side], scan_from[side],
						  &params);
		if (!batch_side_empty(q, relid[side], &params))
			empty = false;
	}
	if (empty)
	{
		if (!batch_plan_no_data(q, o, bp, have_latest))
			return false;
		bp->side2_end = lo2;
		bp->side2_end.is_start = false;
		bp->side2_scan_from = 0;
		return true;
	}
	bp->capped = false;
	o->scan_from = scan_from[0];
	batch_side_end(relid[0], lo, candidate.snapshot, relfilenode[0], tail[0],
				   &writers[0], &o->end);
	batch_side_end(relid[1], &lo2, candidate.snapshot, relfilenode[1], tail[1],
				   &writers[1], &bp->side2_end);
	bp->side2_scan_from = scan_from[1];
	return true;
}

/*
 * Step 3 of a join's batch: each stream's new rows by its own blocks (from
 * its first block when the stream was rewritten since the batch was
 * planned), under the batch's snapshots.
 */
static uint64
batch_run_join(const PgsQuery *q, const PgsOffsets *o, PgsProgress *progress,
			   PgsSideProgress *sides)
{
	PgsJoinBatch jb = {0};
	PgsBoundary end2;
	int64		scan_from2;
	int			side;
	BufferUsage before = pgBufferUsage;
	uint64		written;

	batch_check_view(q);
	(void) batch_get_plan(q);	/* checks the target */

	if (!pgs_checkpoint_read_side(q->query_id, o->batch_id, 2, &end2, &scan_from2))
		batch_side_lost(q, o->batch_id);
	end2.snapshot = o->end.snapshot;
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		Oid			relid = q->sides[side].relid;
		const PgsBoundary *end = side == 0 ? &o->end : &end2;
		int64		from = side == 0 ? o->scan_from : scan_from2;
		Oid			relfilenode;

		batch_stream_storage(relid, &relfilenode, NULL);
		if (relfilenode != end->relfilenode)
			from = 0;
		batch_side_params(relid, &o->start, end, relfilenode, from, &jb.side_params[side]);
	}
	jb.batch_id = o->batch_id;
	jb.lo_null = o->start.is_start;
	/* a no-data batch ends where it starts: no stream has rows for it */
	jb.no_data = !o->start.is_start &&
		VARSIZE_ANY_EXHDR(DatumGetPointer(o->start.snapshot)) ==
		VARSIZE_ANY_EXHDR(DatumGetPointer(o->end.snapshot)) &&
		memcmp(VARDATA_ANY(DatumGetPointer(o->start.snapshot)),
			   VARDATA_ANY(DatumGetPointer(o->end.snapshot)),
			   VARSIZE_ANY_EXHDR(DatumGetPointer(o->start.snapshot))) == 0;
	jb.lo_snapshot = o->start.is_start ? (Datum) 0 : o->start.snapshot;
	jb.has_watermark = batch_has_watermark(q);
	jb.watermarks = progress->watermarks;
	if (OidIsValid(q->foreach_batch))
		batch_clear_batch_table(q);
	written = pgs_join_execute(q, &jb, progress, sides);
	if (OidIsValid(q->foreach_batch))
	{
		(void) pgs_phase_switch(PGS_PHASE_WRITE);
		batch_call_foreach(q, o->batch_id);
	}
	progress->blocks_read = (pgBufferUsage.shared_blks_hit - before.shared_blks_hit) +
		(pgBufferUsage.shared_blks_read - before.shared_blks_read);
	return written;
}

/*
 * Does the run write only into this cluster?  Then the write-ahead's commit
 * may leave the flush of its WAL to the run's commit: the run's changes are
 * written to this cluster's WAL after the write-ahead's commit record, and
 * a commit that waits for the WAL to be flushed past its own record waits
 * past the write-ahead's too, so a crash keeps the write-ahead whenever it
 * keeps the run.  A crash that loses the write-ahead loses a run that had
 * not committed, and the next attempt plans the batch again as if the crash
 * had come before the write-ahead, possibly over more rows under the same
 * batch id: nobody can tell, where the run wrote only into this cluster.  A
 * batch that may show its id and rows outside while it runs must find them
 * the same on a replay, so it waits for the flush: a foreach_batch
 * procedure (which may hand the batch on by its id), a target that is not a
 * plain table of this cluster (foreign, partitioned or inherited, whose
 * children may be foreign, or Citus's), a target with triggers or rules
 * (which may write elsewhere), a stream of Citus's.
 */
static bool
batch_writes_only_here(const PgsQuery *q)
{
	HeapTuple	tup;
	Form_pg_class rel;
	bool		plain;

	if (OidIsValid(q->foreach_batch))
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(q->target_relid));
	if (!HeapTupleIsValid(tup))
		return false;
	rel = (Form_pg_class) GETSTRUCT(tup);
	plain = rel->relkind == RELKIND_RELATION && !rel->relhassubclass &&
		!rel->relhastriggers && !rel->relhasrules;
	ReleaseSysCache(tup);
	if (!plain)
		return false;
	if (pgs_citus_present())
	{
		int			side;

		if (pgs_citus_is_table(q->target_relid) ||
			pgs_citus_is_table(q->stream_relid))
			return false;
		for (side = 0; side < q->nsides; side++)
			if (pgs_citus_is_table(q->sides[side].relid))
				return false;
	}
	return true;
}

/*
 * Commit, and go on in a new READ COMMITTED transaction (no snapshot is
 * taken before the level is set) with the batch's memory context current.
 */
static void
batch_commit(MemoryContext cxt)
{
	SPI_commit();
	XactIsoLevel = XACT_READ_COMMITTED;
	MemoryContextSwitchTo(cxt);
}

/* from the transaction-end dispatcher: an abort ends the running batch */
void
pgs_batch_at_xact_end(XactEvent event)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		batch_running = false;
		pgs_join_marks_end();
		pgs_phase_stop(0, NULL);
	}
}

void
pgs_batch_at_subxact_end(SubXactEvent event, SubTransactionId mySubid)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && mySubid == batch_subid)
	{
		batch_running = false;
		pgs_join_marks_end();
		pgs_phase_stop(0, NULL);
	}
}

/*
 * A query whose latest offsets belong to another transaction history (a
 * logical restore brought them from elsewhere) never plans or replays a
 * batch: its snapshots would select rows by the numbers of transactions
 * that are not the ones they named.  With record, the query is marked
 * failed with the error, committed, before the error is raised, so that
 * stream.queries shows it and nothing retries it.
 */
static void
batch_check_history(const PgsQuery *q, bool record, MemoryContext cxt)
{
	PgsHistoryCheck h;

	if (!pgs_checkpoint_check_history(q->query_id, &h))
		batch_history_error(q, &h, record, cxt);
}

/* the error of batch_check_history, for the offsets described by h */
static void
batch_history_error(const PgsQuery *q, const PgsHistoryCheck *hc, bool record,
					MemoryContext cxt)
{
	PgsHistoryCheck h = *hc;
	char	   *msg;
	char	   *detail;
	char	   *hint;
	FullTransactionId end;

	end = FullTransactionIdFromU64(h.end_xmax);
	if (h.behind)
	{
		msg = psprintf("the checkpoint of streaming query \"%s\" names transactions this cluster has not reached",
					   q->name);
		detail = psprintf("Its latest offsets (batch " INT64_FORMAT ", planned at %s) reach transaction id " UINT64_FORMAT " (epoch %u), and this cluster's next transaction id is " UINT64_FORMAT ": its history went back since they were written.",
						  h.batch_id, timestamptz_to_str(h.planned_at), h.end_xmax,
						  EpochFromFullTransactionId(end),
						  U64FromFullTransactionId(ReadNextFullTransactionId()));
	}
	else if (!h.recorded)
	{
		msg = psprintf("the checkpoint of streaming query \"%s\" was written in another transaction history",
					   q->name);
		detail = psprintf("Its latest offsets (batch " INT64_FORMAT ", planned at %s, below transaction id " UINT64_FORMAT ", epoch %u) name no history: they came with a restore of a dump taken before version 0.6, and this database's history is " INT64_FORMAT ".",
						  h.batch_id, timestamptz_to_str(h.planned_at), h.end_xmax,
						  EpochFromFullTransactionId(end), h.local_history_id);
	}
	else
	{
		msg = psprintf("the checkpoint of streaming query \"%s\" was written in another transaction history",
					   q->name);
		detail = psprintf("Its latest offsets (batch " INT64_FORMAT ", planned at %s, below transaction id " UINT64_FORMAT ", epoch %u) were written in history " INT64_FORMAT " of the database system with identifier " UINT64_FORMAT "; this database's history is " INT64_FORMAT ", of system " UINT64_FORMAT ". A logical dump brings a checkpoint, not the transactions its snapshots name.",
						  h.batch_id, timestamptz_to_str(h.planned_at), h.end_xmax,
						  EpochFromFullTransactionId(end), h.history_id,
						  (uint64) h.system_identifier, h.local_history_id,
						  (uint64) h.local_system_identifier);
	}
	hint = psprintf("After a restore, carry on with stream.resume_restored_query('%s', restored_rows => 'checkpoint', 'skip' or 'deliver'), as the README's \"Backups and restores\" says.",
					q->name);
	if (record)
	{
		pgs_query_set_error(q->query_id, true,
							unpack_sql_state(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							msg, detail, hint);
		batch_commit(cxt);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg_internal("%s", msg),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
}

/* is the query's checkpoint one this database cannot read (see above)? */
bool
pgs_checkpoint_is_foreign(const PgsQuery *q)
{
	PgsHistoryCheck h;

	return !pgs_checkpoint_check_history(q->query_id, &h);
}

/* raise the error of a query whose checkpoint this database cannot read */
void
pgs_check_history(const PgsQuery *q)
{
	batch_check_history(q, false, CurrentMemoryContext);
}

/*
 * The event of a committed batch, queued in the batch's transaction: sent
 * when it commits, never for a batch that rolls back.
 */
static void
batch_notify(const PgsQuery *q, int64 batch_id, const PgsProgress *progress)
{
	PgsBatchEvent e = {0};

	e.channel = q->events_channel;
	e.query = q->name;
	e.batch_id = batch_id;
	e.status = "committed";
	e.has_counts = true;
	e.input_rows = progress->input_rows;
	e.output_rows = progress->output_rows;
	e.has_watermark = progress->has_event_time;
	e.watermark_null = progress->watermarks.watermark_null;
	e.watermark = progress->watermarks.watermark;
	pgs_event_notify(&e);
}

/*
 * The time the latest batches this backend ran took to commit.  A batch's
 * progress row is written before its transaction commits, so the commit's
 * time goes into the row of the query's next batch, when this backend runs
 * it (a worker or session that ran the batch usually runs the next one);
 * stream.progress shows it beside the batch it belongs to.  A few queries'
 * worth, overwritten oldest first: nothing is allocated.
 */
#define BATCH_COMMITS_KEPT	16

typedef struct BatchCommitTime
{
	int64		query_id;		/* 0: an empty slot */
	int64		batch_id;
	int64		usecs;
} BatchCommitTime;

static BatchCommitTime batch_commits[BATCH_COMMITS_KEPT];
static int	batch_commits_next = 0;

static void
batch_remember_commit(int64 query_id, int64 batch_id, int64 usecs)
{
	int			i;

	for (i = 0; i < BATCH_COMMITS_KEPT; i++)
		if (batch_commits[i].query_id == query_id)
			break;
	if (i == BATCH_COMMITS_KEPT)
	{
		i = batch_commits_next;
		batch_commits_next = (batch_commits_next + 1) % BATCH_COMMITS_KEPT;
	}
	batch_commits[i].query_id = query_id;
	batch_commits[i].batch_id = batch_id;
	batch_commits[i].usecs = Max(usecs, 0);
}

/* the time batch "batch_id" of the query took to commit, if this backend knows */
static bool
batch_previous_commit(int64 query_id, int64 batch_id, int64 *usecs)
{
	int			i;

	for (i = 0; i < BATCH_COMMITS_KEPT; i++)
		if (batch_commits[i].query_id == query_id &&
			batch_commits[i].batch_id == batch_id)
		{
			*usecs = batch_commits[i].usecs;
			return true;
		}
	return false;
}

/*
 * Plan or replay, then run, one batch of the query.  With nonatomic, the
 * offsets row is committed before the batch runs; otherwise every step runs
 * in the caller's transaction.  Allocates nothing that outlives the call.
 */
PgsBatchResult
pgs_run_batch(int64 query_id, bool nonatomic, int flags)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	MemoryContext cxt;
	PgsQuery	q;
	PgsOffsets	o;
	PgsOffsets	check;
	BatchPlan	bp;
	PgsProgress progress = {0};
	PgsSideProgress sides[PGS_MAX_SIDES];
	PgsBatchResult result;
	int			shard_writes;
	int64		last_commit;

	if (!nonatomic && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("a streaming batch cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("The batch must read every row committed before its end snapshot, which a transaction snapshot taken earlier cannot see."),
				 errhint("Run the batch at READ COMMITTED, or CALL it outside a transaction block.")));

	/*
	 * A batch's own code (a trigger on its target) cannot run another batch:
	 * the outer one's prepared statement, input count and snapshot would be
	 * the inner one's to change.
	 */
	if (batch_running)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a streaming batch cannot run inside another batch"),
				 errhint("Run the other query's batches from the session or leave them to the background worker.")));
	batch_running = true;
	batch_subid = GetCurrentSubTransactionId();

	/* survives the commits below: a child of the caller's context */
	cxt = AllocSetContextCreate(caller_cxt, "pg_streaming batch",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	/*
	 * The steps read the checkpoint after taking the query's lock, so they
	 * need a snapshot taken after it: at READ COMMITTED.  A caller that can
	 * commit and runs at a higher level starts a transaction of its own.
	 */
	if (nonatomic && IsolationUsesXactSnapshot())
		batch_commit(cxt);
	progress.started_at = GetCurrentTimestamp();
	pgs_phase_start(progress.started_at);

	/* step 1: plan */
	if (!batch_lock_query(query_id, flags, &q))
	{
		result = PGS_BATCH_INACTIVE;
		goto done;
	}
	if (flags & PGS_BATCH_NO_CAP)
		q.max_rows = 0;
	/* a query over one stream checks its history as it reads its offsets */
	if (batch_is_join(&q))
		batch_check_history(&q, nonatomic, cxt);
	if (batch_is_join(&q) ? !batch_plan_join(&q, &o, &bp, !nonatomic) :
		!batch_plan(&q, &o, &bp, !nonatomic))
	{
		result = PGS_BATCH_NONE;
		goto done;
	}

	/* step 2: write-ahead */
	if (!bp.replay)
	{
		pgs_checkpoint_write(query_id, &o, progress.started_at);
		if (batch_is_join(&q))
			pgs_checkpoint_write_side(query_id, bp.batch_id, 2, &bp.side2_end,
									  bp.side2_scan_from);
		if (batch_has_watermark(&q))
			pgs_checkpoint_write_watermarks(query_id, bp.batch_id, &bp.watermarks);
	}
	if (nonatomic)
	{
		/*
		 * A run that writes only here leaves the flush to its own commit
		 * (with synchronous_commit off neither flushes, as the session
		 * chose); one that may write elsewhere waits for it, whatever the
		 * session chose.
		 */
		bool		flushes = synchronous_commit >= SYNCHRONOUS_COMMIT_LOCAL_FLUSH;

		if (!batch_writes_only_here(&q))
		{
			if (!flushes)
				ForceSyncCommit();
		}
		else if (flushes)
			(void) set_config_option("synchronous_commit", "off", PGC_USERSET,
									 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
									 false);
		batch_commit(cxt);
		progress.started_at = GetCurrentTimestamp();
		pgs_phase_start(progress.started_at);
	}

	/* step 3: run, unless someone else committed the batch meanwhile */
	if (!batch_lock_query(query_id, flags, &q))
	{
		result = PGS_BATCH_INACTIVE;
		goto done;
	}
	if (!pgs_checkpoint_read_with_commit(query_id, bp.batch_id, &check,
										 &last_commit, NULL, NULL) ||
		last_commit >= bp.batch_id)
	{
		result = PGS_BATCH_PARTIAL;
		goto done;
	}
	if (batch_has_watermark(&q))
	{
		progress.has_event_time = true;
		if (!pgs_checkpoint_read_watermarks(query_id, bp.batch_id,
											&progress.watermarks))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the watermarks of batch " INT64_FORMAT " of streaming query \"%s\" are missing",
							bp.batch_id, q.name),
					 errdetail("A batch of a query with an event time has its watermarks written ahead with its offsets."),
					 errhint("Drop the query and start it again.")));
	}
	/* a target that is a Citus shard is written by this node's own code */
	shard_writes = pgs_shard_writes_begin(q.target_relid);
	if (batch_is_join(&q))
		progress.output_rows = (int64) batch_run_join(&q, &check, &progress, sides);
	else
		progress.output_rows = (int64) batch_run(&q, &check, &progress);
	pgs_shard_writes_end(shard_writes);

	/* step 4: record, in the run's transaction */
	progress.replayed = bp.replay;
	progress.finished_at = GetCurrentTimestamp();
	pgs_phase_stop(progress.finished_at, progress.phase_usecs);
	progress.timed = true;
	if (OidIsValid(q.state_relid))
	{
		progress.has_state_bytes = true;
		progress.state_bytes = pgs_state_bytes(q.state_relid);
	}
	progress.has_previous_commit =
		batch_previous_commit(query_id, bp.batch_id - 1, &progress.previous_commit_usecs);
	pgs_checkpoint_commit(query_id, bp.batch_id, &progress);
	if (batch_is_join(&q))
	{
		int			side;

		for (side = 0; side < PGS_MAX_SIDES; side++)
			pgs_checkpoint_write_side_progress(query_id, bp.batch_id, side + 1,
											   &sides[side]);
	}
	if (q.events_channel != NULL)
		batch_notify(&q, bp.batch_id, &progress);
	if (nonatomic)
	{
		TimestampTz commit_start = GetCurrentTimestamp();

		SPI_commit();
		batch_remember_commit(query_id, bp.batch_id,
							  GetCurrentTimestamp() - commit_start);
	}
	/*
	 * A moved watermark has windows to close, or keys to forget: a batch
	 * without rows is due (never in complete mode, which keeps every window).
	 */
	if (progress.has_event_time && !progress.next_null &&
		strcmp(q.output_mode, "complete") != 0 &&
		(progress.watermarks.watermark_null ||
		 progress.next_watermark > progress.watermarks.watermark))
		bp.capped = true;
	result = bp.capped ? PGS_BATCH_PARTIAL : PGS_BATCH_DONE;

done:
	batch_running = false;
	pgs_phase_stop(0, NULL);	/* a batch that did not run stops it here */
	MemoryContextSwitchTo(caller_cxt);
	MemoryContextDelete(cxt);
	return result;
}

/*
 * Make a new query start from the rows committed after now: an empty batch
 * 0, committed with the query, whose end is a snapshot taken now (the
 * caller's own transaction counts as running, so rows it wrote arrive in
 * the first batch).  Runs in the transaction that starts the query.
 */
void
pgs_start_at_latest(const PgsQuery *q)
{
	PgsOffsets	o;
	Oid			relfilenode;
	int64		tail_block;
	BatchWriters writers;
	Datum		hi;
	Oid			relid2 = batch_is_join(q) ? q->sides[1].relid : InvalidOid;
	Oid			relfilenode2 = InvalidOid;
	int64		tail_block2 = 0;
	BatchWriters writers2;

	batch_offsets_init(&o);
	o.batch_id = 0;
	o.start.is_start = true;
	batch_stream_storage(q->stream_relid, &relfilenode, &tail_block);
	batch_read_writers(q->stream_relid, &writers);
	if (OidIsValid(relid2))
	{
		batch_stream_storage(relid2, &relfilenode2, &tail_block2);
		batch_read_writers(relid2, &writers2);
	}
	hi = pgs_take_snapshot(true);
	o.end.is_start = false;
	o.end.snapshot = hi;
	o.end.xmax = pgs_snapshot_xmax(hi);
	o.end.from_block = batch_floor(&writers, relfilenode, &o.start, false,
								   hi, tail_block, &o.end);
	o.end.tail_block = tail_block;
	o.end.rest_floor = o.end.from_block;
	o.end.relfilenode = relfilenode;
	o.scan_from = 0;
	pgs_checkpoint_write(q->query_id, &o, GetCurrentTimestamp());
	if (OidIsValid(relid2))
	{
		PgsBoundary end2 = {0};

		batch_side_end(relid2, &o.start, hi, relfilenode2, tail_block2, &writers2, &end2);
		pgs_checkpoint_write_side(q->query_id, 0, 2, &end2, 0);
		/* a join reads the other side's earlier rows: none before this */
		pgs_join_set_start(q, hi);
	}
	pgs_checkpoint_mark_committed(q->query_id, 0);
}

/*
 * The rows of one stream after boundary lo and visible in hi; scan_from is
 * where to read from, or PGS_NO_BLOCK for lo's floor.
 */
static int64
batch_pending_in(const PgsQuery *q, Oid relid, const PgsBoundary *lo, int64 scan_from,
				 Datum hi_snapshot, bool estimate)
{
	PgsCatalogAccess acc = {0};
	PgsBoundary hi = {0};
	PgsBatchParams params;
	PgsBlockRange ranges[2];
	int			nranges;
	Oid			relfilenode;
	bool		isnull;
	int64		result;
	int64		total_blocks = 0;
	int64		sampled_blocks = 0;

	batch_stream_storage(relid, &relfilenode, NULL);
	hi.snapshot = hi_snapshot;
	if (lo->is_start || lo->relfilenode != relfilenode)
		scan_from = 0;
	else if (scan_from == PGS_NO_BLOCK)
		scan_from = pgs_boundary_scan_from(lo, hi_snapshot);
	nranges = batch_ranges(relid, relfilenode, scan_from, PGS_NO_BLOCK, ranges);
	if (estimate)
	{
		Relation	rel = relation_open(relid, AccessShareLock);
		int64		nblocks = RelationGetNumberOfBlocks(rel);
		int64		left = PGS_PENDING_SAMPLE_BLOCKS;
		int			i;

		relation_close(rel, AccessShareLock);
		/* the newest blocks, where a backlog grows: from the last range back */
		for (i = nranges - 1; i >= 0; i--)
		{
			int64		end = ranges[i].end < 0 ? nblocks : Min(ranges[i].end, nblocks);
			int64		n = Max(end - ranges[i].first, 0);

			total_blocks += n;
			ranges[i].end = end;
			if (n > left)
			{
				ranges[i].first = end - left;
				n = left;
			}
			left -= n;
			sampled_blocks += n;
		}
	}
	pgs_batch_params(lo, &hi, ranges, nranges, &params);
	pgs_owner_begin(&acc, q->owner, BATCH_SCAN_SEARCH_PATH);
	(void) pgs_owner_exec(q->query_id, pgs_batch_select_sql(relid, "pg_catalog.count(*)", NULL),
						  PGS_BATCH_NPARAMS, pgs_batch_param_types, params.values,
						  params.nulls, false, 0);
	result = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	pgs_owner_end(&acc);
	if (estimate && total_blocks > sampled_blocks && sampled_blocks > 0)
	{
		/*
		 * None in the newest blocks of the last range is not none: while
		 * retention's recycled blocks are filled, the newest rows lie in
		 * an earlier range, which the sample may not reach.  Counted then,
		 * a query caught up costs a scan of the few blocks after its
		 * offsets, and one with rows pending is never shown with none.
		 */
		if (result == 0)
			return batch_pending_in(q, relid, lo, scan_from, hi_snapshot, false);
		result = (int64) ((double) result * total_blocks / sampled_blocks);
	}
	return result;
}

/*
 * Rows committed into the query's stream that no committed batch has
 * processed yet (including those of a planned, uncommitted batch), or -1
 * when the query's owner may not read the stream.  Costs a scan of the
 * blocks a next batch would read, as the query's owner; with estimate,
 * only of the last PGS_PENDING_SAMPLE_BLOCKS of them (the newest), the rest
 * being counted at the rate found there.  The caller has checked that it may see
 * the query.
 */
int64
pgs_pending_rows(const PgsQuery *q, bool estimate)
{
	PgsOffsets	last;
	PgsBoundary lo = {0};
	PgsBoundary lo2 = {0};
	Datum		hi;
	int64		last_commit;
	int64		scan_from;
	int64		scan_from2 = 0;
	bool		have_last;
	bool		planned = false;
	int64		result;

	if (pg_class_aclcheck(q->stream_relid, q->owner, ACL_SELECT) != ACLCHECK_OK ||
		(batch_is_join(q) &&
		 pg_class_aclcheck(q->sides[1].relid, q->owner, ACL_SELECT) != ACLCHECK_OK))
		return -1;
	/*
	 * Rows after the latest committed batch (batch 0 of a query started
	 * from the latest rows counts too); a planned, uncommitted batch starts
	 * there as well.
	 */
	last_commit = pgs_checkpoint_last_commit(q->query_id);
	hi = pgs_take_snapshot(true);
	scan_from = 0;
	have_last = pgs_checkpoint_read(q->query_id, 0, &last);
	if (have_last)
	{
		planned = last.batch_id > last_commit;
		lo = planned ? last.start : last.end;
		if (!planned)
			scan_from = PGS_NO_BLOCK;
		else
			scan_from = last.scan_to == PGS_NO_BLOCK ? last.scan_from : 0;
	}
	else
		lo.is_start = true;
	result = batch_pending_in(q, q->stream_relid, &lo, scan_from, hi, estimate);
	if (!batch_is_join(q))
		return result;

	/* a join's second stream: from side 2's part of the same offsets */
	lo2.is_start = true;
	if (have_last && !lo.is_start)
	{
		int64		batch = planned ? last.batch_id - 1 : last.batch_id;
		int64		planned_from = 0;

		if (planned)
			(void) pgs_checkpoint_read_side(q->query_id, last.batch_id, 2, &lo2, &planned_from);
		if (pgs_checkpoint_read_side(q->query_id, batch, 2, &lo2, &scan_from2))
		{
			lo2.is_start = false;
			lo2.snapshot = lo.snapshot;
			lo2.xmax = lo.xmax;
			scan_from2 = planned ? planned_from : PGS_NO_BLOCK;
		}
		else
			scan_from2 = 0;
	}
	return result + batch_pending_in(q, q->sides[1].relid, &lo2, scan_from2, hi, estimate);
}

/*
 * What a logical restore left in the query's stream.  A restore loads a
 * table's rows with one COPY into the table it has just created, so they
 * are the first rows of the table, all written by one transaction (their
 * xmin): *restore gets it, as a full transaction id, from the first row.
 * *kept tells whether they kept the stamps they were dumped with
 * (session_replication_role = replica) or carry the restoring
 * transaction's, as every inserted row does; *restored counts them.
 * *intruders counts the other
 * rows (written by other transactions) whose stamps are not after the
 * restore's, which no boundary can tell from the restored ones.  Returns
 * false for a stream without rows.  Read as the query's owner.
 */
bool
pgs_restored_rows(const PgsQuery *q, FullTransactionId *restore, bool *kept,
				  int64 *restored, int64 *intruders)
{
	PgsCatalogAccess acc = {0};
	FullTransactionId next = ReadNextFullTransactionId();
	TransactionId xmin;
	FullTransactionId stamp;
	uint32		epoch;
	bool		isnull;
	Oid			argtypes[2] = {INT8OID, XID8OID};
	Datum		values[2];
	char	   *rel = pgs_qualified_relname(q->stream_relid);

	pgs_owner_begin(&acc, q->owner, BATCH_SCAN_SEARCH_PATH);
	if (pgs_owner_exec(q->query_id,
					   psprintf("SELECT s.xmin::pg_catalog.text::pg_catalog.int8, s." PGS_XID_COLUMN
								" FROM ONLY %s s ORDER BY s.ctid LIMIT 1", rel),
					   0, NULL, NULL, NULL, false, 0) == 0)
	{
		pgs_owner_end(&acc);
		return false;
	}
	xmin = (TransactionId) DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	stamp = DatumGetFullTransactionId(pgs_result_datum(0, 2, &isnull));
	epoch = EpochFromFullTransactionId(next);
	if (xmin > XidFromFullTransactionId(next) && epoch > 0)
		epoch--;
	*restore = FullTransactionIdFromEpochAndXid(epoch, xmin);
	*kept = !FullTransactionIdEquals(stamp, *restore);
	values[0] = Int64GetDatum((int64) xmin);
	values[1] = FullTransactionIdGetDatum(*restore);
	pgs_owner_exec(q->query_id,
				   psprintf("SELECT pg_catalog.count(*) FILTER (WHERE"
							"  s.xmin::pg_catalog.text::pg_catalog.int8 OPERATOR(pg_catalog.<>) $1"
							"  AND s." PGS_XID_COLUMN " OPERATOR(pg_catalog.<=) $2),"
							" pg_catalog.count(*) FILTER (WHERE"
							"  s.xmin::pg_catalog.text::pg_catalog.int8 OPERATOR(pg_catalog.=) $1)"
							" FROM ONLY %s s", rel),
				   2, argtypes, values, NULL, false, 0);
	*intruders = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	*restored = DatumGetInt64(pgs_result_datum(0, 2, &isnull));
	pgs_owner_end(&acc);
	return true;
}

/* the stream's present relfilenode */
Oid
pgs_stream_relfilenode(Oid relid)
{
	Oid			relfilenode;

	batch_stream_storage(relid, &relfilenode, NULL);
	return relfilenode;
}
