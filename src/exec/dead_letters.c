/*-------------------------------------------------------------------------
 *
 * dead_letters.c
 *	  A batch that fails on a row's data: the rows that fail are found and,
 *	  with on_error => 'dead_letter', set aside while the others are
 *	  delivered; with 'fail', the error names the row being read.
 *
 * With 'fail' the batch runs as it always did, in the batch's transaction
 * alone (its target rows' xmin is the commit row's); an error of a row's
 * data gets a context line naming the row the batch predicate accepted
 * last.  With 'dead_letter' the batch's statement runs in a
 * subtransaction (its target rows carry the subtransaction's xid as
 * xmin).  When it fails with an
 * error of the row's data (class 22, data exception, or 23, integrity
 * constraint violation), the batch predicate is narrowed to some of the
 * batch's rows and the statement runs again, each try in a subtransaction
 * of its own, all inside the batch's transaction.  The first guess is the
 * row the batch predicate accepted last before the error: in a pipelined
 * plan (a scan feeding the projection and the insert, or an aggregation's
 * input) it is the row that failed.  A guess that fails alone is set
 * aside and the rest tried again; a guess that does not fail alone (the
 * plan sorted, or the rows fail together) falls back to bisection.  Rows
 * set aside, the rows delivered and the commit row commit together, so
 * each row is in the target or in stream.dead_letter_log once; the search
 * is a function of the batch's rows in tid order, so a replay sets aside
 * the same rows.  A query without state runs a batch of many blocks in
 * chunks of blocks, each in a subtransaction of its own, so that a bad row
 * makes only its chunk run again (dl_run_chunks).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "analyze/pgs_analyze.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_dead_letters.h"
#include "common/pgs_common.h"
#include "exec/exec_internal.h"
#include "exec/pgs_batch.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"
#include "storage/pgs_shards.h"

/* one failing batch's search for the rows that fail */
typedef struct DlSeek
{
	const PgsQuery *q;
	int64		batch_id;
	PgsBatchParams *params;
	PgsBatchRunner runner;
	PgsProgress base;			/* the progress before any try */
	bool		stateful;		/* a state table: only one try commits */
	bool		dead_letter;	/* else 'fail' */
	ItemPointerData *tids;		/* the batch's rows, sorted (read for a
								 * bisection only) */
	int			ntids;
	ItemPointerData *dead;		/* the rows set aside, sorted */
	int			ndead;
	int			dead_size;
	bool		checked_empty;	/* the query passes over no rows */
	uint64		written;		/* by the tries kept */
	int64		input_rows;
} DlSeek;

/*
 * Errors that a row's values cause, whatever the rest of the batch: class
 * 22 (a cast, a division by zero, a value out of range, a NOT NULL of a
 * domain) and class 23 (NOT NULL, CHECK, UNIQUE, FOREIGN KEY and EXCLUDE
 * constraints of the target).  Everything else (serialization, locks,
 * resources, a missing object, privileges, RAISE without a SQLSTATE of
 * those classes) fails the batch.
 */
static bool
dl_is_data_error(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

/*
 * One try: the query over the given rows (all of the batch's with tids
 * NULL), in a subtransaction kept with keep and success, rolled back
 * otherwise.  Returns true on success; on an error of the data, false with
 * the error in *edata and the row being read in *last.  Any other error is
 * raised again.
 */
static bool
dl_try(DlSeek *s, const ItemPointerData *tids, int ntids, bool exclude, bool keep,
	   PgsProgress *progress, uint64 *written, ErrorData **edata,
	   ItemPointerData *last)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	ItemPointerSetInvalid(&pgs_batch_last_row);
	PG_TRY();
	{
		if (tids != NULL)
			pgs_batch_filter(tids, ntids, exclude);
		*written = s->runner(s->q, s->batch_id, s->params, progress);
		pgs_batch_filter(NULL, 0, false);
		if (keep)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		pgs_batch_filter(NULL, 0, false);
		*last = pgs_batch_last_row;
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!dl_is_data_error(e->sqlerrcode))
			ReThrowError(e);
		*edata = e;
	}
	PG_END_TRY();
	return ok;
}

/* the batch's rows, by tid, read as the owner */
static void
dl_read_tids(DlSeek *s)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	bool		pushed;
	uint64		n;
	uint64		i;

	if (s->tids != NULL)
		return;
	pgs_owner_begin(&acc, s->q->owner, "pg_catalog, pg_temp");
	pushed = pgs_ensure_snapshot();
	n = pgs_owner_exec(s->q->query_id,
					   pgs_batch_select_cols_sql(s->q->stream_relid, "s.ctid", "s.ctid", NULL),
					   PGS_BATCH_NPARAMS, pgs_batch_param_types, s->params->values,
					   s->params->nulls, true, 0);
	s->tids = MemoryContextAlloc(cxt, sizeof(ItemPointerData) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = pgs_result_datum((int) i, 1, &isnull);

		ItemPointerCopy((ItemPointer) DatumGetPointer(d), &s->tids[i]);
	}
	if (pushed)
		PopActiveSnapshot();
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);
	s->ntids = (int) n;
	pgs_sort_tids(s->tids, s->ntids);
}

/* where a row is: its tid in its stream */
static char *
dl_position(const PgsQuery *q, const ItemPointerData *tid)
{
	return psprintf("row (%u,%u) of %s",
					ItemPointerGetBlockNumberNoCheck(tid),
					ItemPointerGetOffsetNumberNoCheck(tid),
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(q->stream_relid)),
											   get_rel_name(q->stream_relid)));
}

/*
 * Set the row at index i aside with its error, in the batch's transaction:
 * the row as jsonb, read as the owner, and where it is.
 */
static void
dl_set_aside(DlSeek *s, const ItemPointerData *tid, ErrorData *e)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	PgsDeadLetter dl = {0};
	Oid			argtypes[1] = {TIDOID};
	Datum		values[1] = {PointerGetDatum(tid)};
	bool		isnull = true;
	Datum		row = (Datum) 0;
	bool		pushed;

	pgs_owner_begin(&acc, s->q->owner, "pg_catalog, pg_temp");
	pushed = pgs_ensure_snapshot();
	if (pgs_owner_exec(s->q->query_id,
					   psprintf("SELECT pg_catalog.to_jsonb(s.*) FROM ONLY %s AS s"
								" WHERE s.ctid OPERATOR(pg_catalog.=) $1",
								quote_qualified_identifier(get_namespace_name(get_rel_namespace(s->q->stream_relid)),
														   get_rel_name(s->q->stream_relid))),
					   1, argtypes, values, NULL, true, 0) == 1)
		row = pgs_result_copy(0, 1, &isnull, cxt);
	if (pushed)
		PopActiveSnapshot();
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);

	dl.query_id = s->q->query_id;
	dl.owner = s->q->owner;
	dl.batch_id = s->batch_id;
	dl.row_data = isnull ? (Datum) 0 : row;
	dl.position = dl_position(s->q, tid);
	dl.sqlstate = unpack_sql_state(e->sqlerrcode);
	dl.message = e->message;
	dl.detail = e->detail;
	if (!pgs_dead_letter_add(&dl))
		ReThrowError(e);		/* an older catalog has no place for it */
	if (s->ndead == s->dead_size)
	{
		s->dead_size = Max(16, s->dead_size * 2);
		s->dead = s->dead ? repalloc(s->dead, sizeof(ItemPointerData) * s->dead_size) :
			palloc(sizeof(ItemPointerData) * s->dead_size);
	}
	s->dead[s->ndead++] = *tid;
	pgs_sort_tids(s->dead, s->ndead);
}

/* a row failed alone: set it aside */
static void
dl_failed_alone(DlSeek *s, const ItemPointerData *tid, ErrorData *e)
{
	dl_set_aside(s, tid, e);
}

/* was the row set aside? */
static bool
dl_is_dead(const DlSeek *s, const ItemPointerData *tid)
{
	int			i;

	for (i = 0; i < s->ndead; i++)
		if (ItemPointerEquals((ItemPointer) tid, &s->dead[i]))
			return true;
	return false;
}

/* the rows not set aside, in tid order */
static ItemPointerData *
dl_live(const DlSeek *s, int *n)
{
	ItemPointerData *live = palloc(sizeof(ItemPointerData) * Max(s->ntids, 1));
	int			i;

	*n = 0;
	for (i = 0; i < s->ntids; i++)
		if (!dl_is_dead(s, &s->tids[i]))
			live[(*n)++] = s->tids[i];
	return live;
}

/*
 * Bisection over rows already known to fail together: each half is tried;
 * a half that fails is split again, down to single rows, which fail alone.
 * With keep, a half that succeeds is delivered (a query without state:
 * what it wrote stays, and later halves are tried against it, as the whole
 * batch would have been); without, it is rolled back.
 */
static void
dl_bisect(DlSeek *s, ItemPointerData *rows, int n, bool keep)
{
	int			half = n / 2;
	int			part;

	for (part = 0; part < 2; part++)
	{
		ItemPointerData *sub = part == 0 ? rows : rows + half;
		int			m = part == 0 ? half : n - half;
		PgsProgress run = s->base;
		uint64		written;
		ErrorData  *e = NULL;
		ItemPointerData last;

		if (m == 0)
			continue;
		if (dl_try(s, sub, m, false, keep, &run, &written, &e, &last))
		{
			if (keep)
			{
				s->written += written;
				s->input_rows += run.input_rows;
			}
		}
		else if (m == 1)
			dl_failed_alone(s, &sub[0], e);
		else
			dl_bisect(s, sub, m, keep);
	}
}

/*
 * Before a row is taken to fail alone: a query that fails over none of the
 * batch's rows (a constant folded at planning, the target's statement
 * trigger) fails for no row of it, and would set every row aside.  It
 * fails the batch.  Checked once a batch.
 */
static void
dl_check_without_rows(DlSeek *s)
{
	PgsProgress run = s->base;
	uint64		written;
	ErrorData  *e = NULL;
	ItemPointerData last;
	ItemPointerData none;

	if (s->checked_empty)
		return;
	s->checked_empty = true;
	ItemPointerSetInvalid(&none);
	if (dl_try(s, &none, 0, false, false, &run, &written, &e, &last))
		return;
	e->context = psprintf("%s%sstreaming query \"%s\", batch " INT64_FORMAT
						  ": the query fails without any of the batch's rows",
						  e->context ? e->context : "", e->context ? "\n" : "",
						  s->q->name, s->batch_id);
	ReThrowError(e);
}

/*
 * The guess: the row being read when the batch failed.  True when it fails
 * alone (and was handled); false when it is no guess or does not fail.
 */
static bool
dl_guess(DlSeek *s, const ItemPointerData *last)
{
	PgsProgress run = s->base;
	uint64		written;
	ErrorData  *e = NULL;
	ItemPointerData again;

	if (!ItemPointerIsValid(last) || dl_is_dead(s, last))
		return false;
	if (dl_try(s, last, 1, false, false, &run, &written, &e, &again))
		return false;
	dl_check_without_rows(s);
	dl_failed_alone(s, last, e);
	return true;
}

/* what a failing batch's error says of the row it was reading ('fail') */
typedef struct DlFailContext
{
	const PgsQuery *q;
	int64		batch_id;
} DlFailContext;

static void
dl_fail_context(void *arg)
{
	DlFailContext *c = (DlFailContext *) arg;

	if (ItemPointerIsValid(&pgs_batch_last_row) && dl_is_data_error(geterrcode()))
		errcontext("streaming query \"%s\", batch " INT64_FORMAT ", reading %s",
				   c->q->name, c->batch_id, dl_position(c->q, &pgs_batch_last_row));
}

/*
 * The query over the rows of s->params, in a subtransaction, and when it
 * fails on a row's data, the search: the rows that fail alone are set
 * aside and the rest delivered.  *progress gets the figures of the try
 * kept (of a query without state, the rows delivered in input_rows).
 * Returns the rows written.
 */
static uint64
dl_run_part(DlSeek *s, PgsProgress *progress)
{
	PgsProgress run = s->base;
	uint64		written;
	ErrorData  *e = NULL;
	ItemPointerData last;

	s->tids = NULL;
	s->ntids = 0;
	s->written = 0;
	s->input_rows = 0;
	if (dl_try(s, NULL, 0, false, true, &run, &written, &e, &last))
	{
		*progress = run;
		return written;
	}
	/* only the predicate of 0.3 on knows a row's tid and can be narrowed */
	if (!pgs_catalog_splits())
		ReThrowError(e);

	/*
	 * Each round sets a row aside and tries the others again, or bisects
	 * the rows (read then): a bounded number of rounds.
	 */
	for (;;)
	{
		if (!dl_guess(s, &last))
		{
			int			before = s->ndead;
			int			n;
			ItemPointerData *live;

			dl_check_without_rows(s);
			dl_read_tids(s);
			live = dl_live(s, &n);
			if (!s->stateful)
			{
				/* every row is now delivered or set aside */
				dl_bisect(s, live, n, true);
				*progress = s->base;
				progress->input_rows = s->input_rows;
				return s->written;
			}
			dl_bisect(s, live, n, false);
			if (s->ndead == before)
				ereport(ERROR,
						(errcode(e->sqlerrcode),
						 errmsg("%s", e->message),
						 e->detail ? errdetail("%s", e->detail) : 0,
						 errcontext("streaming query \"%s\", batch " INT64_FORMAT
									": no row fails alone; the batch's rows fail together",
									s->q->name, s->batch_id)));
		}
		/* the rows without the rows set aside */
		run = s->base;
		if (dl_try(s, s->dead, s->ndead, true, true, &run, &written, &e, &last))
		{
			*progress = run;
			return written;
		}
	}
	pg_unreachable();
}

/* a tid datum at the first offset of a block */
static Datum
dl_block_tid(BlockNumber block)
{
	ItemPointer tid = palloc(sizeof(ItemPointerData));

	ItemPointerSet(tid, block, 0);
	return PointerGetDatum(tid);
}

/*
 * A query without state, with dead letters: the batch's rows run in chunks
 * of blocks, in block order, each chunk in a subtransaction of its own and
 * delivered when it succeeds, so that a bad row makes only its chunk run
 * again, wherever it lies in the batch (a single run over the whole batch
 * runs every row before the bad one twice).  The chunks follow the batch's
 * two ranges of blocks ($7 to $10, then $11 to $12), which are a function
 * of its offsets, and the rows of each are narrowed by the batch predicate
 * as before: a replay runs the same rows in the same order.  Chunks are
 * PGS_DL_CHUNK_BLOCKS blocks at least and PGS_DL_CHUNKS at most; the last
 * one of a range keeps the range's end (the end of the table).  A batch's
 * rows delivered in chunks are what one statement over them delivers: the
 * rows of a later chunk see the target as the earlier ones left it, as a
 * later row of one statement does.  *progress gets the rows delivered.
 */
#define PGS_DL_CHUNKS		16
#define PGS_DL_CHUNK_BLOCKS	64

static uint64
dl_run_chunks(DlSeek *s, PgsBatchParams *params, PgsProgress *progress)
{
	BlockNumber first[2];
	BlockNumber end[2];
	BlockNumber nblocks;
	BlockNumber total = 0;
	BlockNumber chunk;
	uint64		written = 0;
	int			r;
	Relation	rel;

	rel = relation_open(s->q->stream_relid, AccessShareLock);
	nblocks = RelationGetNumberOfBlocks(rel);
	relation_close(rel, AccessShareLock);
	for (r = 0; r < 2; r++)
	{
		first[r] = ItemPointerGetBlockNumberNoCheck((ItemPointer) DatumGetPointer(params->values[r == 0 ? 6 : 10]));
		end[r] = ItemPointerGetBlockNumberNoCheck((ItemPointer) DatumGetPointer(params->values[r == 0 ? 9 : 11]));
		/* the table's end: the batch's rows were there when it began */
		if (Min(end[r], nblocks) > first[r])
			total += Min(end[r], nblocks) - first[r];
	}
	chunk = Max(PGS_DL_CHUNK_BLOCKS, (total + PGS_DL_CHUNKS - 1) / PGS_DL_CHUNKS);
	progress->input_rows = 0;
	if (total <= chunk)
	{
		PgsProgress run;

		written = dl_run_part(s, &run);
		progress->input_rows = run.input_rows;
		return written;
	}
	for (r = 0; r < 2; r++)
	{
		BlockNumber from = first[r];
		BlockNumber stop = Min(end[r], nblocks);

		while (from < stop)
		{
			PgsBatchParams part = *params;
			PgsProgress run;
			BlockNumber to = from + chunk;

			/* a remainder shorter than half a chunk joins the last chunk */
			if (to >= stop || stop - to < chunk / 2)
				to = end[r];
			part.values[6] = dl_block_tid(r == 0 ? from : 0);
			part.values[9] = dl_block_tid(r == 0 ? to : 0);
			part.values[10] = dl_block_tid(r == 1 ? from : 0);
			part.values[11] = dl_block_tid(r == 1 ? to : 0);
			s->params = &part;
			written += dl_run_part(s, &run);
			progress->input_rows += run.input_rows;
			s->params = params;
			if (to >= stop)
				break;
			from = to;
		}
	}
	return written;
}

/*
 * Run the batch's statement through the runner, in a subtransaction, and
 * when it fails on a row's data find the rows: set them aside and deliver
 * the rest (on_error => 'dead_letter'), or fail naming one ('fail').
 * Returns the rows written; progress gets the tries' figures and, with
 * dead letters, their count.
 */
uint64
pgs_batch_run_guarded(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
					  PgsProgress *progress, PgsBatchRunner runner)
{
	DlSeek		s = {0};
	PgsProgress run = *progress;
	uint64		written;

	s.q = q;
	s.batch_id = batch_id;
	s.params = params;
	s.runner = runner;
	s.base = *progress;
	s.stateful = OidIsValid(q->state_relid);
	s.dead_letter = q->on_error != NULL && strcmp(q->on_error, "dead_letter") == 0;

	/*
	 * 'fail': the batch runs as it always did, in the batch's transaction,
	 * and an error of a row's data names the row the batch was reading
	 */
	if (!s.dead_letter)
	{
		DlFailContext c = {q, batch_id};
		ErrorContextCallback cb;

		cb.callback = dl_fail_context;
		cb.arg = &c;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		ItemPointerSetInvalid(&pgs_batch_last_row);
		written = runner(q, batch_id, params, progress);
		error_context_stack = cb.previous;
		return written;
	}

	if (!s.stateful && pgs_catalog_splits())
	{
		written = dl_run_chunks(&s, params, &run);
		*progress = s.base;
		progress->input_rows = run.input_rows;
	}
	else
		written = dl_run_part(&s, progress);
	progress->has_dead_letters = true;
	progress->dead_letters = s.ndead;
	return written;
}

/*
 * Deliver one dead letter through the query's current text, as the owner,
 * in a subtransaction: the stream stands for the one row, rebuilt from its
 * jsonb.  sql is the insert of a query without state; NULL for an
 * aggregation, whose row merges into the state as batch_id's and is late
 * (55000, it stays waiting) when the watermarks say its window closed.
 * True when it was written; an error of its data leaves it waiting with
 * that error; any other error is raised.
 */
static bool
dl_deliver_one(const PgsQuery *q, const char *sql, const PgsWaitingLetter *w,
			   int64 batch_id, const PgsWatermarks *watermarks)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;
	volatile bool late = false;
	char	   *row_sql = pgs_stream_row_from_jsonb_sql(q->stream_relid,
														psprintf("%s::pg_catalog.jsonb",
																 quote_literal_cstr(w->row_data)));

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		PgsCatalogAccess acc = {0};
		bool		pushed;

		if (sql == NULL)
		{
			/* an aggregation: the row merges as a batch's rows would */
			PgsAggResult r;

			pgs_stream_override(row_sql);
			pgs_agg_deliver_row(q, batch_id, watermarks, &r);
			pgs_stream_override(NULL);
			if (r.late_groups > 0)
			{
				late = true;
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("dead letter of streaming query \"%s\" is late", q->name),
						 errdetail("The watermark closed the row's window; its group was written or dropped, and the row is not merged."),
						 errhint("Read the row from stream.dead_letters and account for it by hand.")));
			}
		}
		else
		{
			pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
			pushed = pgs_ensure_snapshot();
			pgs_stream_override(row_sql);
			pgs_rewrite_arm(sql, q->stream_relid, q->view_relid);
			if (SPI_execute(sql, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not deliver a dead letter of streaming query \"%s\"", q->name);
			pgs_rewrite_disarm();
			pgs_stream_override(NULL);
			if (pushed)
				PopActiveSnapshot();
			pgs_owner_end(&acc);
		}
		pgs_dead_letter_delivered(w->id);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		pgs_rewrite_disarm();
		pgs_stream_override(NULL);
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!dl_is_data_error(e->sqlerrcode) &&
			!(late && e->sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE))
			ReThrowError(e);
		pgs_dead_letter_failed_again(w->id, unpack_sql_state(e->sqlerrcode),
									 e->message, e->detail);
	}
	PG_END_TRY();
	return ok;
}

/*
 * Deliver the query's waiting dead letters again through its current text
 * (alter_query may have fixed it), oldest first, in the caller's
 * transaction: a row written to the target is marked delivered in the same
 * transaction; a row that fails again keeps waiting with its new error.
 * The caller holds the query's row lock, which batches take too.  Returns
 * the rows delivered.
 */
int64
pgs_deliver_dead_letters(const PgsQuery *q)
{
	List	   *waiting;
	ListCell   *lc;
	char	   *sql = NULL;
	int64		delivered = 0;
	int64		batch_id = 0;
	PgsWatermarks watermarks;
	bool		aggregates = OidIsValid(q->state_relid);
	int			shard_writes;

	if ((aggregates && q->dedup_columns != NIL) ||
		OidIsValid(q->foreach_batch) || q->nsides > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("dead letters of streaming query \"%s\" cannot be delivered again", q->name),
				 errdetail("Dead letters are delivered again to queries that append, upsert by key or aggregate once; this query deduplicates, aggregates an aggregation, calls a foreach_batch procedure or joins streams."),
				 errhint("Read the rows from stream.dead_letters and write them to a stream the query reads.")));
	waiting = pgs_dead_letters_waiting(q->query_id);
	if (waiting == NIL)
		return 0;
	if (aggregates)
	{
		/* merged as the latest committed batch's, late by its watermark */
		batch_id = pgs_checkpoint_last_commit(q->query_id);
		if (q->event_time)
			pgs_checkpoint_plan_watermarks(q->query_id, &watermarks);
	}
	else
		sql = pgs_compose_insert(q->query_text, q->target_relid, q->target_columns,
								 q->key_columns);
	/* a target that is a Citus shard is written by this node's own code */
	shard_writes = pgs_shard_writes_begin(q->target_relid);
	foreach(lc, waiting)
	{
		if (dl_deliver_one(q, sql, lfirst(lc), batch_id,
						   q->event_time ? &watermarks : NULL))
			delivered++;
	}
	pgs_shard_writes_end(shard_writes);
	return delivered;
}
