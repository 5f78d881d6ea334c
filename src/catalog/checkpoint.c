/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  Reading and writing a query's checkpoint.
 *
 * Only the latest batch's offsets are needed to go on: a batch without a
 * commit row is replayed with exactly its offsets, and a new batch starts
 * where the latest one ended.  At least the latest
 * pg_streaming.retained_batches rows are kept for people to read; older
 * ones go when a batch commits, every few batches.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "rewrite/rewriteHandler.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/xid8.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"

/* the most batches between two removals of old offsets */
#define PGS_RETAIN_STEP_MAX 16

/*
 * The tables whose rows belong to a batch's offsets row.  Up to catalog
 * 0.10 each has a foreign key to stream.checkpoint_offsets that cascades
 * the removal of offsets into it; from 0.11 on none has (the key was
 * checked for every row a batch writes), and whatever removes offsets
 * removes their rows in the same statement (cp_dependents_ctes).
 */
static const char *const cp_dependents[] = {
	"checkpoint_commits", "progress_log", "checkpoint_watermarks",
	"checkpoint_sides", "progress_side_log", "progress_operator_log"
};

/*
 * Parts of a WITH, each with a leading comma, that remove the rows of the
 * tables above matching cond (a condition on query_id and batch_id), named
 * prefix1, prefix2...; "" when the catalog's foreign keys cascade instead.
 */
static char *
cp_dependents_ctes(const char *prefix, const char *cond)
{
	StringInfoData buf;
	int			i;

	if (!pgs_catalog_offsets_unkeyed())
		return "";
	initStringInfo(&buf);
	for (i = 0; i < lengthof(cp_dependents); i++)
		appendStringInfo(&buf, ", %s%d AS (DELETE FROM stream.%s WHERE %s)",
						 prefix, i + 1, cp_dependents[i], cond);
	return buf.data;
}

/*
 * One statement that removes the offsets rows matching cond, with their
 * rows of the tables above.
 */
static char *
cp_delete_offsets_sql(const char *cond)
{
	const char *ctes = cp_dependents_ctes("d", cond);

	if (*ctes == '\0')
		return psprintf("DELETE FROM stream.checkpoint_offsets WHERE %s", cond);
	/* the first part's leading comma gives way to WITH */
	return psprintf("WITH %s DELETE FROM stream.checkpoint_offsets WHERE %s",
					ctes + 2, cond);
}

/*
 * sql, a DELETE of stream.query_defs, made to return "returning" and to
 * remove the deleted queries' rows of the tables above, which have no key
 * to anything that would cascade them from 0.11 on (their offsets rows go
 * by the key of stream.checkpoint_offsets to stream.query_defs).
 */
char *
pgs_checkpoint_delete_queries_sql(const char *sql, const char *returning)
{
	if (!pgs_catalog_offsets_unkeyed())
		return psprintf("%s RETURNING %s", sql, returning);
	return psprintf("WITH q AS (%s RETURNING *)%s SELECT %s FROM q", sql,
					cp_dependents_ctes("d", "query_id IN (SELECT q.query_id FROM q)"),
					returning);
}

static int64 cp_scan_last_commit(int64 query_id, Snapshot snapshot,
								 int64 from_batch);

/* the latest committed batch id, or 0 */
int64
pgs_checkpoint_last_commit(int64 query_id)
{
	if (pgs_catalog_has_06())
	{
		Snapshot	snapshot;
		int64		last;

		snapshot = pgs_catalog_statement_snapshot();
		last = cp_scan_last_commit(query_id, snapshot, 0);
		UnregisterSnapshot(snapshot);
		return last;
	}
	return pgs_catalog_int8("SELECT max(batch_id) FROM stream.checkpoint_commits"
							" WHERE query_id = $1",
							INT8OID, Int64GetDatum(query_id));
}

/*
 * Does the catalog keep boundaries that split a transaction?  Not before
 * the extension is updated to 0.3; the library runs such a catalog without
 * splitting.
 */
bool
pgs_catalog_splits(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_3;
}

/* a boundary's open writers, from two parallel arrays (xids NULL: none) */
static void
cp_writers_from(PgsBoundary *b, Datum xids_array, bool xids_null,
				Datum firsts_array, MemoryContext cxt)
{
	Datum	   *xids;
	Datum	   *firsts;
	int			n;
	int			nf;
	int			i;
	MemoryContext old;

	b->nwriters = 0;
	if (xids_null)
		return;
	old = MemoryContextSwitchTo(cxt);
	deconstruct_array(DatumGetArrayTypeP(xids_array), XID8OID, sizeof(FullTransactionId),
					  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &xids, NULL, &n);
	deconstruct_array(DatumGetArrayTypeP(firsts_array),
					  INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &firsts, NULL, &nf);
	b->writer_xids = palloc(sizeof(uint64) * (n + 1));
	b->writer_firsts = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n && i < nf; i++)
	{
		b->writer_xids[i] = U64FromFullTransactionId(DatumGetFullTransactionId(xids[i]));
		b->writer_firsts[i] = DatumGetInt64(firsts[i]);
	}
	b->nwriters = Min(n, nf);
	MemoryContextSwitchTo(old);
}

/* the same from two columns of the result's first row */
static void
cp_read_writers(PgsBoundary *b, int xids_col, int firsts_col, MemoryContext cxt)
{
	bool		isnull;
	bool		firsts_null;
	Datum		d = pgs_result_datum(0, xids_col, &isnull);

	cp_writers_from(b, d, isnull, pgs_result_datum(0, firsts_col, &firsts_null), cxt);
}

static void
cp_no_split(PgsBoundary *b)
{
	b->split_xid = InvalidFullTransactionId;
	b->split_block = 0;
	b->split_stop = 0;
	b->rest_floor = b->from_block;
	b->nwriters = 0;
}

static int64
cp_int8(int col, int64 if_null)
{
	bool		isnull;
	Datum		d = pgs_result_datum(0, col, &isnull);

	return isnull ? if_null : DatumGetInt64(d);
}

/*
 * The columns pgs_checkpoint_read reads, by name, in the order of its
 * select list (the split columns only from version 0.3 on, after the
 * others).
 */
typedef enum CpOffsetsColumn
{
	CPO_BATCH_ID = 1,
	CPO_START_SNAPSHOT,
	CPO_END_SNAPSHOT,
	CPO_SCAN_FROM_BLOCK,
	CPO_END_FLOOR_BLOCK,
	CPO_RELFILENODE,
	CPO_END_TAIL_BLOCK,
	CPO_START_SPLIT_XID,
	CPO_START_SPLIT_BLOCK,
	CPO_END_SPLIT_XID,
	CPO_END_SPLIT_BLOCK,
	CPO_END_SPLIT_STOP,
	CPO_END_REST_FLOOR,
	CPO_SCAN_TO_BLOCK,
	CPO_END_WRITER_XIDS,
	CPO_END_WRITER_FIRSTS
} CpOffsetsColumn;

#define CPO_NCOLUMNS CPO_END_WRITER_FIRSTS

static bool cp_read(int64 query_id, int64 batch_id, PgsOffsets *o,
					int64 *last_commit, PgsHistoryCheck *h);
static bool cp_read_scan(int64 query_id, int64 batch_id, PgsOffsets *o,
						 int64 *last_commit, PgsHistoryCheck *h);
static Relation cp_open(const char *name);
static AttrNumber cp_attnum(Relation rel, const char *name);
static bool cp_scan_key(Relation rel, Snapshot snapshot, int64 query_id,
						int64 batch_id, TupleTableSlot *slot);
static bool cp_scan_from(Relation rel, Snapshot snapshot, int64 query_id,
						 int64 from_batch, TupleTableSlot *slot);
static bool cp_scan_index(Relation rel, Snapshot snapshot, int64 query_id,
						  int64 batch_id, StrategyNumber strategy,
						  TupleTableSlot *slot);
static bool cp_judge_history(PgsHistoryCheck *h);

/*
 * Read offsets row "batch_id", or the latest one when batch_id is 0, into
 * the caller's memory context.  Returns false when there is none.  The
 * start boundary comes with what the batch needs of it (its snapshot and
 * split); its floors are the previous row's.
 */
bool
pgs_checkpoint_read(int64 query_id, int64 batch_id, PgsOffsets *o)
{
	return cp_read(query_id, batch_id, o, NULL, NULL);
}

/*
 * pgs_checkpoint_read, and the latest committed batch's id (0 for none)
 * read by the same statement: a batch's plan and its run each need both.
 * With h (for the latest offsets, batch_id 0), the same statement also
 * judges their history as pgs_checkpoint_check_history does:
 * *history_ok is false when they belong to another, and *h then holds
 * what the message needs.
 */
bool
pgs_checkpoint_read_with_commit(int64 query_id, int64 batch_id, PgsOffsets *o,
								int64 *last_commit, PgsHistoryCheck *h,
								bool *history_ok)
{
	Assert(h == NULL || batch_id == 0);
	if (h != NULL)
	{
		memset(h, 0, sizeof(PgsHistoryCheck));
		*history_ok = true;
	}
	if (cp_read(query_id, batch_id, o, last_commit,
				h != NULL && pgs_catalog_has_06() ? h : NULL))
	{
		if (h != NULL && pgs_catalog_has_06())
			*history_ok = cp_judge_history(h);
		return true;
	}
	/* no offsets: no history to misread (cp_read_scan read the commit) */
	if (!pgs_catalog_has_06())
		*last_commit = pgs_checkpoint_last_commit(query_id);
	return false;
}

/*
 * The offsets row's columns (CpOffsetsColumn order, a split column's value
 * NULL where the catalog has none) into *o, the snapshots copied into cxt.
 */
static void
cp_fill_offsets(PgsOffsets *o, const Datum *vals, const bool *nulls,
				bool splits, MemoryContext cxt)
{
	MemoryContext old;

#define CP_INT8(col, if_null) (nulls[col] ? (if_null) : DatumGetInt64(vals[col]))
#define CP_XID(col) (nulls[col] ? InvalidFullTransactionId : DatumGetFullTransactionId(vals[col]))
	memset(o, 0, sizeof(PgsOffsets));
	old = MemoryContextSwitchTo(cxt);
	o->batch_id = DatumGetInt64(vals[CPO_BATCH_ID]);
	o->start.is_start = nulls[CPO_START_SNAPSHOT];
	if (!o->start.is_start)
		o->start.snapshot = PointerGetDatum(PG_DETOAST_DATUM_COPY(vals[CPO_START_SNAPSHOT]));
	o->end.snapshot = PointerGetDatum(PG_DETOAST_DATUM_COPY(vals[CPO_END_SNAPSHOT]));
	MemoryContextSwitchTo(old);
	o->scan_from = DatumGetInt64(vals[CPO_SCAN_FROM_BLOCK]);
	o->end.from_block = DatumGetInt64(vals[CPO_END_FLOOR_BLOCK]);
	o->end.relfilenode = DatumGetObjectId(vals[CPO_RELFILENODE]);
	o->end.tail_block = DatumGetInt64(vals[CPO_END_TAIL_BLOCK]);
	cp_no_split(&o->start);
	cp_no_split(&o->end);
	o->scan_to = PGS_NO_BLOCK;
	if (splits)
	{
		o->start.split_xid = CP_XID(CPO_START_SPLIT_XID);
		o->start.split_block = CP_INT8(CPO_START_SPLIT_BLOCK, 0);
		o->end.split_xid = CP_XID(CPO_END_SPLIT_XID);
		o->end.split_block = CP_INT8(CPO_END_SPLIT_BLOCK, 0);
		o->end.split_stop = CP_INT8(CPO_END_SPLIT_STOP, 0);
		o->end.rest_floor = CP_INT8(CPO_END_REST_FLOOR, o->end.from_block);
		o->scan_to = CP_INT8(CPO_SCAN_TO_BLOCK, PGS_NO_BLOCK);
		cp_writers_from(&o->end, vals[CPO_END_WRITER_XIDS], nulls[CPO_END_WRITER_XIDS],
						vals[CPO_END_WRITER_FIRSTS], cxt);
	}
#undef CP_INT8
#undef CP_XID
	old = MemoryContextSwitchTo(cxt);
	o->end.xmax = pgs_snapshot_xmax(o->end.snapshot);
	if (!o->start.is_start)
		o->start.xmax = pgs_snapshot_xmax(o->start.snapshot);
	MemoryContextSwitchTo(old);
}

/* the functions above: with last_commit, and with h, read those too */
static bool
cp_read(int64 query_id, int64 batch_id, PgsOffsets *o, int64 *last_commit,
		PgsHistoryCheck *h)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(query_id), Int64GetDatum(batch_id)};
	bool		splits = pgs_catalog_splits();
	int			next_col = (splits ? CPO_END_WRITER_FIRSTS : CPO_END_TAIL_BLOCK) + 1;
	bool		found;
	char	   *sql;

	/* a catalog of 0.6 on has every column: read by its keys, in C */
	if (pgs_catalog_has_06())
		return cp_read_scan(query_id, batch_id, o, last_commit, h);
	/* an older one records no history to read */
	Assert(h == NULL);

	pgs_catalog_begin(&acc);

	/*
	 * Two statements, the latest batch's and a given batch's, rather than
	 * one with "$2 = 0 OR": each has one plan for every query and batch,
	 * which the plan cache keeps, where the one statement was planned anew
	 * at each run.
	 */
	sql = psprintf("SELECT batch_id, start_snapshot, end_snapshot,"
				   " scan_from_block, end_floor_block, relfilenode,"
				   " end_tail_block%s%s"
				   " FROM stream.checkpoint_offsets"
				   " WHERE query_id = $1%s",
				   splits ? ", start_split_xid, start_split_block,"
				   " end_split_xid, end_split_block, end_split_stop,"
				   " end_rest_floor, scan_to_block,"
				   " end_writer_xids, end_writer_firsts" : "",
				   last_commit == NULL ? "" :
				   ", (SELECT pg_catalog.max(c.batch_id)"
				   " FROM stream.checkpoint_commits c WHERE c.query_id = $1)",
				   batch_id == 0 ?
				   " ORDER BY batch_id DESC LIMIT 1" :
				   " AND batch_id = $2");
	found = pgs_catalog_exec(sql, batch_id == 0 ? 1 : 2, argtypes, values, NULL,
							 false, 0) > 0;
	if (found)
	{
		Datum		vals[CPO_NCOLUMNS + 1];
		bool		nulls[CPO_NCOLUMNS + 1];
		int			col;

		for (col = 1; col <= CPO_NCOLUMNS; col++)
		{
			if (col < next_col)
				vals[col] = pgs_result_datum(0, col, &nulls[col]);
			else
			{
				vals[col] = (Datum) 0;
				nulls[col] = true;
			}
		}
		cp_fill_offsets(o, vals, nulls, splits, cxt);
		if (last_commit != NULL)
			*last_commit = cp_int8(next_col, 0);
	}
	pgs_catalog_end(&acc);
	/* a catalog older than 0.6 records no history */
	return found;
}

/*
 * stream.<name>, opened with the lock a statement reading it would take
 * (kept to the end of the transaction, as a statement's is)
 */
static Relation
cp_open(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("stream", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table stream.%s of extension \"pg_streaming\" is missing", name);
	return table_open(relid, AccessShareLock);
}

/* the number of rel's column "name", which must exist */
static AttrNumber
cp_attnum(Relation rel, const char *name)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of table stream.%s is missing", name,
			 RelationGetRelationName(rel));
	return attnum;
}

/*
 * Into slot, the row of rel (stream.checkpoint_offsets, checkpoint_commits
 * or progress_log, whose primary key is (query_id, batch_id)) for the
 * query's batch_id, or its latest (batch_id 0: the highest, as "ORDER BY
 * batch_id DESC LIMIT 1"), visible to snapshot.  False when there is none.
 */
static bool
cp_scan_key(Relation rel, Snapshot snapshot, int64 query_id, int64 batch_id,
			TupleTableSlot *slot)
{
	return cp_scan_index(rel, snapshot, query_id, batch_id,
						 batch_id == 0 ? InvalidStrategy : BTEqualStrategyNumber, slot);
}

/*
 * The same, the latest row whose batch_id is at least from_batch: a scan
 * for the latest reads every entry of the query on the index's last page
 * (the retained batches), one from a bound reads those from the bound.
 */
static bool
cp_scan_from(Relation rel, Snapshot snapshot, int64 query_id, int64 from_batch,
			 TupleTableSlot *slot)
{
	return cp_scan_index(rel, snapshot, query_id, from_batch,
						 BTGreaterEqualStrategyNumber, slot);
}

/*
 * The scan of the two functions above: query_id, and unless strategy is
 * InvalidStrategy, batch_id compared by it (equal, or greater or equal);
 * the highest such row.
 */
static bool
cp_scan_index(Relation rel, Snapshot snapshot, int64 query_id, int64 batch_id,
			  StrategyNumber strategy, TupleTableSlot *slot)
{
	Oid			indexoid = RelationGetPrimaryKeyIndex(rel);
	Relation	index;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	int			nkeys = strategy == InvalidStrategy ? 1 : 2;
	bool		found;

	if (!OidIsValid(indexoid))
		elog(ERROR, "table stream.%s has no primary key", RelationGetRelationName(rel));
	index = index_open(indexoid, AccessShareLock);
	if (index->rd_index->indnkeyatts != 2 ||
		index->rd_index->indkey.values[0] != cp_attnum(rel, "query_id") ||
		index->rd_index->indkey.values[1] != cp_attnum(rel, "batch_id"))
		elog(ERROR, "the primary key of table stream.%s is not (query_id, batch_id)",
			 RelationGetRelationName(rel));
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(query_id));
	if (nkeys == 2)
		ScanKeyInit(&keys[1], 2, strategy,
					strategy == BTEqualStrategyNumber ? F_INT8EQ : F_INT8GE,
					Int64GetDatum(batch_id));
	scan = index_beginscan(rel, index, snapshot, nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	found = index_getnext_slot(scan, BackwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, AccessShareLock);
	return found;
}

/*
 * The query's latest committed batch visible to snapshot, or 0.  Where it
 * is likely at or after from_batch (a batch's run: the batch itself or the
 * one before; a plan: the latest offsets' or the one before), that part of
 * the key is read first; the whole only when it has none.
 */
static int64
cp_scan_last_commit(int64 query_id, Snapshot snapshot, int64 from_batch)
{
	Relation	rel = cp_open("checkpoint_commits");
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	int64		last = 0;
	bool		isnull;

	if ((from_batch > 0 && cp_scan_from(rel, snapshot, query_id, from_batch, slot)) ||
		cp_scan_key(rel, snapshot, query_id, 0, slot))
		last = DatumGetInt64(slot_getattr(slot, cp_attnum(rel, "batch_id"), &isnull));
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return last;
}

/*
 * cp_read on a catalog of 0.6 on, without a statement: the offsets row and
 * the latest commit by index scans on the two tables' primary keys, and
 * the local history's one row, under the snapshot the statement would have
 * run with (a new one in READ COMMITTED, after this transaction's last
 * changes).  The statement cost every batch, twice, a catalog stretch (its
 * settings and identity) and an executor's start, run and end.
 */
static bool
cp_read_scan(int64 query_id, int64 batch_id, PgsOffsets *o, int64 *last_commit,
			 PgsHistoryCheck *h)
{
	static const char *const names[CPO_NCOLUMNS + 1] = {NULL, "batch_id",
		"start_snapshot", "end_snapshot", "scan_from_block", "end_floor_block",
		"relfilenode", "end_tail_block", "start_split_xid", "start_split_block",
		"end_split_xid", "end_split_block", "end_split_stop", "end_rest_floor",
	"scan_to_block", "end_writer_xids", "end_writer_firsts"};
	MemoryContext cxt = CurrentMemoryContext;
	Snapshot	snapshot;
	Relation	rel;
	TupleTableSlot *slot;
	bool		found;
	bool		isnull;

	snapshot = pgs_catalog_statement_snapshot();

	rel = cp_open("checkpoint_offsets");
	slot = table_slot_create(rel, NULL);
	found = cp_scan_key(rel, snapshot, query_id, batch_id, slot);
	if (found)
	{
		Datum		vals[CPO_NCOLUMNS + 1];
		bool		nulls[CPO_NCOLUMNS + 1];
		int			col;

		for (col = 1; col <= CPO_NCOLUMNS; col++)
			vals[col] = slot_getattr(slot, cp_attnum(rel, names[col]), &nulls[col]);
		cp_fill_offsets(o, vals, nulls, true, cxt);
		if (h != NULL)
		{
			Datum		d;

			h->batch_id = o->batch_id;
			d = slot_getattr(slot, cp_attnum(rel, "history_id"), &isnull);
			h->recorded = !isnull;
			h->history_id = isnull ? 0 : DatumGetInt64(d);
			d = slot_getattr(slot, cp_attnum(rel, "system_identifier"), &isnull);
			h->sysid_known = !isnull;
			h->system_identifier = isnull ? 0 : DatumGetInt64(d);
			h->planned_at = DatumGetTimestampTz(slot_getattr(slot, cp_attnum(rel, "planned_at"),
															 &isnull));
			h->end_xmax = U64FromFullTransactionId(o->end.xmax);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);

	if (last_commit != NULL)
		*last_commit = cp_scan_last_commit(query_id, snapshot,
										   found ? o->batch_id - 1 : 0);

	if (found && h != NULL)
	{
		TableScanDesc scan;

		rel = cp_open("local_history");
		slot = table_slot_create(rel, NULL);
		scan = table_beginscan(rel, snapshot, 0, NULL);
		h->local_known = table_scan_getnextslot(scan, ForwardScanDirection, slot);
		if (h->local_known)
		{
			h->local_history_id = DatumGetInt64(slot_getattr(slot, cp_attnum(rel, "history_id"),
															  &isnull));
			h->local_system_identifier =
				DatumGetInt64(slot_getattr(slot, cp_attnum(rel, "system_identifier"), &isnull));
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
	}
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * stream.<table> opened for a row written in C, or NULL where its statement
 * would do more than the C write does: the table missing, not a plain table
 * (a partition), with rules, row security, stored generated columns or a
 * column of a domain (which the statement coerces to, checking it).  Its
 * triggers are the caller's to judge.
 */
static Relation
cp_open_written(const char *table)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid("stream", false));
	Relation	rel;
	TupleDesc	desc;
	bool		ok;

	if (!OidIsValid(relid))
		return NULL;
	rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(rel);
	ok = rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relispartition &&
		!rel->rd_rel->relrowsecurity && rel->rd_rules == NULL &&
		(desc->constr == NULL || !desc->constr->has_generated_stored);
	for (int j = 0; j < desc->natts && ok; j++)
		ok = TupleDescAttr(desc, j)->attisdropped ||
			get_typtype(TupleDescAttr(desc, j)->atttypid) != TYPTYPE_DOMAIN;
	if (!ok)
	{
		table_close(rel, NoLock);
		return NULL;
	}
	return rel;
}

/*
 * One row into stream.<table> in C, as "INSERT INTO stream.<table> (cols)
 * VALUES (...)" in a catalog stretch writes it: the other columns get
 * their defaults; the NOT NULL and CHECK constraints are checked; every
 * index gets its entry, a unique one refusing a duplicate key as the
 * statement does; the table access method writes the WAL, which logical
 * decoding reads as the statement's; the table's foreign keys are checked
 * by their own triggers, queued and fired as the statement's end fires
 * them.  What it spares is the statement's plan, executor start and end.
 * The values are the columns' own types.  Returns false, having written
 * nothing, where the statement would do more: a table with triggers other
 * than foreign keys', rules, row security, stored generated columns or a
 * unique check deferred, a partition, a column of a domain (which the
 * statement coerces to, checking it), or a column missing or of another
 * type or a type modifier.  Defaults and constraints are evaluated under
 * the snapshot the statement would run under, taken after the commands
 * before it and made active; the command counter is incremented after, as
 * SPI does after a statement that writes.
 */
static bool
cp_insert_row(const char *table, int ncols, const char *const *cols,
			  const Oid *types, const Datum *values, const char *nulls)
{
	Relation	rel = cp_open_written(table);
	TupleDesc	desc;
	AttrNumber *attnums;
	bool	   *given;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	bool		ok = true;
	int			i;
	int			j;

	if (rel == NULL)
		return false;
	desc = RelationGetDescr(rel);
	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers && ok; i++)
		ok = RI_FKey_trigger_type(rel->trigdesc->triggers[i].tgfoid) != RI_TRIGGER_NONE;
	attnums = palloc(sizeof(AttrNumber) * ncols);
	given = palloc0(sizeof(bool) * desc->natts);
	for (i = 0; i < ncols && ok; i++)
	{
		Form_pg_attribute att;

		attnums[i] = pgs_column_attnum(desc, cols[i]);
		ok = attnums[i] != InvalidAttrNumber;
		if (!ok)
			break;
		att = TupleDescAttr(desc, attnums[i] - 1);
		ok = att->atttypid == types[i] && att->atttypmod < 0 && !given[attnums[i] - 1];
		if (ok)
			given[attnums[i] - 1] = true;
	}
	if (!ok)
	{
		table_close(rel, NoLock);
		return false;
	}

	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	for (i = 0; i < rri->ri_NumIndices; i++)
		if (!rri->ri_IndexRelationDescs[i]->rd_index->indimmediate)
			ok = false;
	if (!ok)
	{
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
		table_close(rel, NoLock);
		return false;
	}

	/* as a statement of the stretch would, after the commands before it */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	slot = ExecInitExtraTupleSlot(estate, desc, table_slot_callbacks(rel));
	ExecClearTuple(slot);
	for (j = 0; j < desc->natts; j++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, j);
		Node	   *def;

		slot->tts_values[j] = (Datum) 0;
		slot->tts_isnull[j] = true;
		if (given[j] || att->attisdropped)
			continue;
		def = build_column_default(rel, att->attnum);
		if (def != NULL)
			slot->tts_values[j] =
				ExecEvalExprSwitchContext(ExecPrepareExpr((Expr *) def, estate),
										  GetPerTupleExprContext(estate),
										  &slot->tts_isnull[j]);
	}
	for (i = 0; i < ncols; i++)
	{
		slot->tts_values[attnums[i] - 1] = values[i];
		slot->tts_isnull[attnums[i] - 1] = nulls[i] == 'n';
	}
	ExecStoreVirtualTuple(slot);
	if (rel->trigdesc != NULL)
		AfterTriggerBeginQuery();
	if (desc->constr != NULL)
		ExecConstraints(rri, slot, estate);
	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	if (rri->ri_NumIndices > 0)
		(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
	if (rel->trigdesc != NULL)
	{
		ExecARInsertTriggers(estate, rri, slot, NIL, NULL);
		AfterTriggerEndQuery(estate);
	}
	PopActiveSnapshot();
	ExecCloseIndices(rri);
	ExecCloseResultRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	CommandCounterIncrement();
	return true;
}

/*
 * The database's transaction history, as the subqueries "(SELECT history_id
 * FROM stream.local_history)" and "(SELECT system_identifier ...)" of a
 * statement read it: values[0] and [1], NULL without a row.  False where the
 * table holds more than one row, which those subqueries refuse.
 */
static bool
cp_local_history(Datum *values, char *nulls)
{
	Snapshot	snapshot = pgs_catalog_statement_snapshot();
	Relation	rel = cp_open("local_history");
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	int			n = 0;
	bool		isnull;

	nulls[0] = nulls[1] = 'n';
	values[0] = values[1] = (Datum) 0;
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		if (n++ > 0)
			break;
		values[0] = slot_getattr(slot, cp_attnum(rel, "history_id"), &isnull);
		nulls[0] = isnull ? 'n' : ' ';
		values[1] = slot_getattr(slot, cp_attnum(rel, "system_identifier"), &isnull);
		nulls[1] = isnull ? 'n' : ' ';
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	UnregisterSnapshot(snapshot);
	return n <= 1;
}

/* write the offsets row of a planned batch */
void
pgs_checkpoint_write(int64 query_id, const PgsOffsets *o, TimestampTz planned_at)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[18] = {INT8OID, INT8OID, PG_SNAPSHOTOID, PG_SNAPSHOTOID,
		INT8OID, INT8OID, INT8OID, OIDOID, TIMESTAMPTZOID,
		XID8OID, INT8OID, XID8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	XID8ARRAYOID, INT8ARRAYOID};
	Datum		values[18];
	char		nulls[18];
	bool		start_split = !o->start.is_start &&
		FullTransactionIdIsValid(o->start.split_xid);
	bool		end_split = FullTransactionIdIsValid(o->end.split_xid);
	bool		splits = pgs_catalog_splits();

	if (!splits && (start_split || end_split || o->scan_to != PGS_NO_BLOCK))
		elog(ERROR, "the catalog cannot keep a boundary that splits a transaction");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(query_id);
	values[1] = Int64GetDatum(o->batch_id);
	values[2] = o->start.is_start ? (Datum) 0 : o->start.snapshot;
	nulls[2] = o->start.is_start ? 'n' : ' ';
	values[3] = o->end.snapshot;
	values[4] = Int64GetDatum(o->end.tail_block);
	values[5] = Int64GetDatum(o->scan_from);
	values[6] = Int64GetDatum(o->end.from_block);
	values[7] = ObjectIdGetDatum(o->end.relfilenode);
	values[8] = TimestampTzGetDatum(planned_at);
	values[9] = FullTransactionIdGetDatum(o->start.split_xid);
	values[10] = Int64GetDatum(o->start.split_block);
	nulls[9] = nulls[10] = start_split ? ' ' : 'n';
	values[11] = FullTransactionIdGetDatum(o->end.split_xid);
	values[12] = Int64GetDatum(o->end.split_block);
	values[13] = Int64GetDatum(o->end.split_stop);
	nulls[11] = nulls[12] = nulls[13] = end_split ? ' ' : 'n';
	values[14] = Int64GetDatum(o->end.rest_floor);
	values[15] = Int64GetDatum(o->scan_to);
	nulls[15] = o->scan_to == PGS_NO_BLOCK ? 'n' : ' ';
	nulls[16] = nulls[17] = o->end.nwriters > 0 ? ' ' : 'n';
	if (o->end.nwriters > 0)
	{
		Datum	   *xids = palloc(sizeof(Datum) * o->end.nwriters);
		Datum	   *firsts = palloc(sizeof(Datum) * o->end.nwriters);
		int			i;

		for (i = 0; i < o->end.nwriters; i++)
		{
			xids[i] = FullTransactionIdGetDatum(FullTransactionIdFromU64(o->end.writer_xids[i]));
			firsts[i] = Int64GetDatum(o->end.writer_firsts[i]);
		}
		values[16] = PointerGetDatum(construct_array(xids, o->end.nwriters, XID8OID,
													 sizeof(FullTransactionId),
													 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[17] = PointerGetDatum(construct_array(firsts, o->end.nwriters, INT8OID,
													 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	pgs_catalog_begin(&acc);
	if (pgs_catalog_offsets_unkeyed())
	{
		static const char *const cols[20] = {"query_id", "batch_id",
			"start_snapshot", "end_snapshot", "end_tail_block", "scan_from_block",
			"end_floor_block", "relfilenode", "planned_at", "start_split_xid",
			"start_split_block", "end_split_xid", "end_split_block",
			"end_split_stop", "end_rest_floor", "scan_to_block",
			"end_writer_xids", "end_writer_firsts", "history_id",
		"system_identifier"};
		Oid			types[20];
		Datum		vals[20];
		char		ns[20];

		memcpy(types, argtypes, sizeof(Oid) * 18);
		memcpy(vals, values, sizeof(Datum) * 18);
		memcpy(ns, nulls, 18);
		types[18] = types[19] = INT8OID;
		if (cp_local_history(vals + 18, ns + 18) &&
			cp_insert_row("checkpoint_offsets", 20, cols, types, vals, ns))
		{
			pgs_catalog_end(&acc);
			return;
		}
	}
	if (pgs_catalog_has_06())
		pgs_catalog_exec("INSERT INTO stream.checkpoint_offsets (query_id, batch_id,"
						 " start_snapshot, end_snapshot, end_tail_block, scan_from_block,"
						 " end_floor_block, relfilenode, planned_at,"
						 " start_split_xid, start_split_block, end_split_xid,"
						 " end_split_block, end_split_stop, end_rest_floor, scan_to_block,"
						 " end_writer_xids, end_writer_firsts, history_id, system_identifier)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
						 " $10, $11, $12, $13, $14, $15, $16, $17, $18,"
						 " (SELECT history_id FROM stream.local_history),"
						 " (SELECT system_identifier FROM stream.local_history))",
						 18, argtypes, values, nulls, false, 0);
	else if (splits)
		pgs_catalog_exec("INSERT INTO stream.checkpoint_offsets (query_id, batch_id,"
						 " start_snapshot, end_snapshot, end_tail_block, scan_from_block,"
						 " end_floor_block, relfilenode, planned_at,"
						 " start_split_xid, start_split_block, end_split_xid,"
						 " end_split_block, end_split_stop, end_rest_floor, scan_to_block,"
						 " end_writer_xids, end_writer_firsts)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
						 " $10, $11, $12, $13, $14, $15, $16, $17, $18)",
						 18, argtypes, values, nulls, false, 0);
	else
		pgs_catalog_exec("INSERT INTO stream.checkpoint_offsets (query_id, batch_id,"
						 " start_snapshot, end_snapshot, end_tail_block, scan_from_block,"
						 " end_floor_block, relfilenode, planned_at)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
						 9, argtypes, values, nulls, false, 0);
	pgs_catalog_end(&acc);
}

/*
 * Add an operator's figures to a batch's progress.  The operators of a
 * query are few and fixed by its shape: more than PGS_MAX_OPERATORS is a
 * bug.
 */
void
pgs_progress_add_operator(PgsProgress *p, const char *operator, int side,
						  int64 state_rows, int64 updated, int64 removed,
						  int64 late_rows)
{
	PgsOperatorProgress *o;

	if (p->noperators >= PGS_MAX_OPERATORS)
		elog(ERROR, "a batch has more than %d stateful operators", PGS_MAX_OPERATORS);
	o = &p->operators[p->noperators++];
	o->operator = operator;
	o->side = side;
	o->state_rows = state_rows;
	o->state_rows_updated = updated;
	o->state_rows_removed = removed;
	o->late_rows = late_rows;
}

/*
 * The rows of stream.progress_operator_log for a batch, numbered in the
 * order rows flow through its operators (catalog 0.7).
 */
static void
cp_write_operators(int64 query_id, int64 batch_id, const PgsProgress *p)
{
	Oid			argtypes[9] = {INT8OID, INT8OID, INT2OID, TEXTOID, INT2OID, INT8OID,
	INT8OID, INT8OID, INT8OID};
	Datum		values[9];
	char		nulls[9];
	int			i;

	for (i = 0; i < p->noperators; i++)
	{
		const PgsOperatorProgress *o = &p->operators[i];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(query_id);
		values[1] = Int64GetDatum(batch_id);
		values[2] = Int16GetDatum(i + 1);
		values[3] = CStringGetTextDatum(o->operator);
		values[4] = Int16GetDatum(o->side);
		nulls[4] = o->side > 0 ? ' ' : 'n';
		values[5] = Int64GetDatum(o->state_rows);
		values[6] = Int64GetDatum(o->state_rows_updated);
		values[7] = Int64GetDatum(o->state_rows_removed);
		values[8] = Int64GetDatum(o->late_rows);
		pgs_catalog_exec("INSERT INTO stream.progress_operator_log (query_id, batch_id,"
						 " ordinal, operator, side, state_rows, state_rows_updated,"
						 " state_rows_removed, late_rows)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
						 9, argtypes, values, nulls, false, 0);
	}
}

/*
 * A batch's operators as the six arrays (operator, side, state rows,
 * updated, removed, late) that cp_commit_0_8 unnests into
 * stream.progress_operator_log, numbered in the order rows flow through
 * them as cp_write_operators numbers them.
 */
static void
cp_operator_arrays(const PgsProgress *p, Oid *argtypes, Datum *values, char *nulls)
{
	int			n = p->noperators;
	Datum	   *ops = palloc(sizeof(Datum) * n);
	Datum	   *sides = palloc(sizeof(Datum) * n);
	bool	   *side_nulls = palloc(sizeof(bool) * n);
	Datum	   *counts[4];
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;
	int			k;

	for (k = 0; k < 4; k++)
		counts[k] = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		const PgsOperatorProgress *o = &p->operators[i];

		ops[i] = CStringGetTextDatum(o->operator);
		sides[i] = Int16GetDatum(o->side);
		side_nulls[i] = o->side <= 0;
		counts[0][i] = Int64GetDatum(o->state_rows);
		counts[1][i] = Int64GetDatum(o->state_rows_updated);
		counts[2][i] = Int64GetDatum(o->state_rows_removed);
		counts[3][i] = Int64GetDatum(o->late_rows);
	}
	argtypes[0] = TEXTARRAYOID;
	values[0] = PointerGetDatum(construct_array(ops, n, TEXTOID, -1, false, TYPALIGN_INT));
	argtypes[1] = INT2ARRAYOID;
	values[1] = PointerGetDatum(construct_md_array(sides, side_nulls, 1, dims, lbs,
												   INT2OID, 2, true, TYPALIGN_SHORT));
	for (k = 0; k < 4; k++)
	{
		argtypes[2 + k] = INT8ARRAYOID;
		values[2 + k] = PointerGetDatum(construct_array(counts[k], n, INT8OID, 8,
														FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	memset(nulls, ' ', 6);
}

/*
 * The batch's figures added to the minute it finished in, and the minutes
 * older than pg_streaming.progress_history_minutes removed: a part of a
 * WITH ($1 the query, $3 and $7 the batch's start and end, $4 and $5 its
 * rows, $16 its blocks, $17 the minutes kept).
 */
#define CP_OLD_MINUTES \
	"DELETE FROM stream.progress_by_minute" \
	"  WHERE query_id = $1 AND minute < pg_catalog.date_trunc('minute', $7)" \
	"        - $17 * pg_catalog.interval '1 minute'"
#define CP_BY_MINUTE \
	"old AS (" CP_OLD_MINUTES ")" \
	" INSERT INTO stream.progress_by_minute AS h (query_id, minute," \
	" batches, input_rows, output_rows, busy_ms, max_batch_ms, blocks_read)" \
	" VALUES ($1, pg_catalog.date_trunc('minute', $7), 1, $4, $5," \
	" pg_catalog.date_part('epoch', $7 - $3) * 1000," \
	" pg_catalog.date_part('epoch', $7 - $3) * 1000, $16)" \
	" ON CONFLICT (query_id, minute) DO UPDATE SET" \
	" batches = h.batches + 1," \
	" input_rows = h.input_rows + excluded.input_rows," \
	" output_rows = h.output_rows + excluded.output_rows," \
	" busy_ms = h.busy_ms + excluded.busy_ms," \
	" max_batch_ms = GREATEST(h.max_batch_ms, excluded.max_batch_ms)," \
	" blocks_read = h.blocks_read + excluded.blocks_read"

/* what the commit statement does with stream.progress_by_minute */
typedef enum CpMinuteSql
{
	CP_MINUTE_NOTHING,			/* nothing: no history, or written in C */
	CP_MINUTE_UPSERT,			/* CP_BY_MINUTE, the minute's row and the old */
	CP_MINUTE_OLD				/* CP_OLD_MINUTES: the row was written in C */
} CpMinuteSql;

static const char *cp_commit_tail(bool forget, CpMinuteSql minute);

/* the columns of a batch's progress row and their parameters (1-based) */
static const char *const cp_progress_cols[] = {
	"query_id", "batch_id", "started_at", "finished_at", "input_rows",
	"output_rows", "replayed", "state_rows", "state_rows_updated",
	"watermark", "next_watermark", "event_time_min", "event_time_max",
	"event_time_avg", "late_rows", "blocks_read", "plan_ms", "read_ms",
	"merge_ms", "write_ms", "previous_commit_ms", "state_bytes"
};
static const int cp_progress_params[] = {
	1, 2, 3, 7, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22, 23
};

/*
 * A 0.11 catalog's commit row and progress row, written in C where
 * cp_insert_row can (the tables have no keys to the offsets there); sets
 * *commit_done and *progress_done for those written.
 */
static void
cp_commit_rows_c(const Oid *argtypes, const Datum *values, const char *nulls,
				 bool *commit_done, bool *progress_done)
{
	static const char *const commit_cols[] = {"query_id", "batch_id", "committed_at"};
	static const int commit_params[] = {1, 2, 7};
	Oid			types[lengthof(cp_progress_cols)];
	Datum		vals[lengthof(cp_progress_cols)];
	char		ns[lengthof(cp_progress_cols)];
	int			i;

	StaticAssertStmt(lengthof(cp_progress_cols) == lengthof(cp_progress_params),
					 "a parameter for each column");
	*commit_done = *progress_done = false;
	if (!pgs_catalog_offsets_unkeyed())
		return;
	for (i = 0; i < lengthof(commit_cols); i++)
	{
		types[i] = argtypes[commit_params[i] - 1];
		vals[i] = values[commit_params[i] - 1];
		ns[i] = nulls[commit_params[i] - 1];
	}
	*commit_done = cp_insert_row("checkpoint_commits", lengthof(commit_cols),
								 commit_cols, types, vals, ns);
	for (i = 0; i < lengthof(cp_progress_cols); i++)
	{
		types[i] = argtypes[cp_progress_params[i] - 1];
		vals[i] = values[cp_progress_params[i] - 1];
		ns[i] = nulls[cp_progress_params[i] - 1];
	}
	*progress_done = cp_insert_row("progress_log", lengthof(cp_progress_cols),
								   cp_progress_cols, types, vals, ns);
}

/*
 * The batch's figures added to its minute's row of stream.progress_by_minute
 * in C, as CP_BY_MINUTE's INSERT ... ON CONFLICT DO UPDATE adds them ($1
 * the query, $3 and $7 the batch's start and end, $4 and $5 its rows, $16
 * its blocks, in values): the row is looked for through the primary key
 * under a dirty snapshot, as the statement looks for a conflict; found, it
 * is updated in place by the table access method (the indexes get entries
 * where the update is not HOT), the sums computed by the operators' own
 * functions; absent, it is inserted by cp_insert_row.  The batches of one
 * query are serialised by the lock on its row of stream.query_defs, and its
 * removal (the cascade of its drop) waits on that lock; what this does not
 * handle as the statement would, it leaves to the statement, having written
 * nothing: a row being written by another transaction, or changed between
 * the look and the update; a row this transaction inserted (whose foreign
 * key the update must check again, RI_FKey_fk_upd_check_required); a table
 * with triggers other than foreign keys', row security, a partition, stored
 * generated columns, another key or a deferred one, columns of other
 * types, rules (which refuse the statement), a foreign key on other
 * columns than the key; and a transaction that reads one snapshot
 * throughout, for which the statement refuses a row it cannot see.  An
 * update changes neither key column, so neither side of a foreign key on
 * them needs a check.  The update and its checks run under the statement's
 * snapshot, active as the statement's is.  Returns
 * whether it wrote the row; *due, whether the query has minutes older than
 * those kept (by the statement's own bound, $17 minutes before the
 * batch's), which only then the statement removes.
 */
static bool
cp_trigger_on_key(Relation rel, const Trigger *trigger, AttrNumber a1, AttrNumber a2)
{
	HeapTuple	tup;
	Datum		d;
	bool		isnull;
	bool		on_key = false;

	if (RI_FKey_trigger_type(trigger->tgfoid) == RI_TRIGGER_NONE ||
		!OidIsValid(trigger->tgconstraint))
		return false;
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(trigger->tgconstraint));
	if (!HeapTupleIsValid(tup))
		return false;
	/* the referencing side's columns, or the referenced side's */
	d = SysCacheGetAttr(CONSTROID, tup,
						RI_FKey_trigger_type(trigger->tgfoid) == RI_TRIGGER_FK ?
						Anum_pg_constraint_conkey : Anum_pg_constraint_confkey,
						&isnull);
	if (!isnull)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);

		on_key = ARR_NDIM(arr) == 1 && !ARR_HASNULL(arr) &&
			ARR_ELEMTYPE(arr) == INT2OID;
		for (int i = 0; on_key && i < ARR_DIMS(arr)[0]; i++)
		{
			int16		col = ((int16 *) ARR_DATA_PTR(arr))[i];

			on_key = col == a1 || col == a2;
		}
		if ((Pointer) arr != DatumGetPointer(d))
			pfree(arr);
	}
	ReleaseSysCache(tup);
	return on_key;
}

static bool
cp_minute_row_c(const Datum *values, bool *due)
{
	static const char *const cols[] = {"query_id", "minute", "batches",
		"input_rows", "output_rows", "busy_ms", "max_batch_ms", "blocks_read"};
	static const Oid types[] = {INT8OID, TIMESTAMPTZOID, INT4OID, INT8OID,
	INT8OID, FLOAT8OID, FLOAT8OID, INT8OID};
	Relation	rel;
	Relation	index = NULL;
	TupleDesc	desc;
	AttrNumber	attnums[lengthof(cols)];
	Datum		minute;
	Datum		ms;
	Datum		row[lengthof(cols)];
	SnapshotData dirty;
	Snapshot	snapshot;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	TupleTableSlot *found_slot;
	bool		found;
	bool		ok = true;
	bool		written = false;
	bool		isnull;
	int			i;

	*due = true;
	if (IsolationUsesXactSnapshot() ||
		(rel = cp_open_written("progress_by_minute")) == NULL)
		return false;
	desc = RelationGetDescr(rel);
	for (i = 0; i < lengthof(cols) && ok; i++)
	{
		attnums[i] = pgs_column_attnum(desc, cols[i]);
		ok = attnums[i] != InvalidAttrNumber &&
			TupleDescAttr(desc, attnums[i] - 1)->atttypid == types[i];
	}
	for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers && ok; i++)
		ok = cp_trigger_on_key(rel, &rel->trigdesc->triggers[i], attnums[0], attnums[1]);
	if (ok && OidIsValid(RelationGetPrimaryKeyIndex(rel)))
	{
		index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
		ok = index->rd_index->indimmediate && index->rd_index->indnkeyatts == 2 &&
			index->rd_index->indkey.values[0] == attnums[0] &&
			index->rd_index->indkey.values[1] == attnums[1];
	}
	else
		ok = false;
	if (!ok)
	{
		if (index != NULL)
			index_close(index, AccessShareLock);
		table_close(rel, NoLock);
		return false;
	}

	/* the statement's date_trunc('minute', $7) and its milliseconds */
	minute = DirectFunctionCall2(timestamptz_trunc, CStringGetTextDatum("minute"),
								 values[6]);
	ms = DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"),
							 DirectFunctionCall2(timestamp_mi, values[6], values[2]));
	ms = Float8GetDatum(DatumGetFloat8(ms) * 1000);

	/* after the commands before it, as the statement would */
	snapshot = pgs_catalog_statement_snapshot();
	InitDirtySnapshot(dirty);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, values[0]);
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TIMESTAMPTZ_EQ, minute);
	found_slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, index, &dirty, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, found_slot);
	/* another transaction's insert, update or removal in progress */
	ok = !found || (!TransactionIdIsValid(dirty.xmin) &&
					!TransactionIdIsValid(dirty.xmax));
	index_endscan(scan);
	if (ok && found)
	{
		slot_getallattrs(found_slot);
		for (i = 2; i < lengthof(cols) && ok; i++)
			ok = !found_slot->tts_isnull[attnums[i] - 1];
		if (ok && rel->trigdesc != NULL)
			ok = !TransactionIdIsCurrentTransactionId(
				DatumGetTransactionId(slot_getsysattr(found_slot,
													  MinTransactionIdAttributeNumber,
													  &isnull)));
	}
	if (ok && found)
	{
		Datum	   *old = found_slot->tts_values;
		EState	   *estate = CreateExecutorState();
		ResultRelInfo *rri = makeNode(ResultRelInfo);
		TupleTableSlot *slot;
		ItemPointerData tid = found_slot->tts_tid;
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		bool		update_indexes;

		/* h.batches + 1, h.input_rows + excluded.input_rows, ... */
		row[2] = DirectFunctionCall2(int4pl, old[attnums[2] - 1], Int32GetDatum(1));
		row[3] = DirectFunctionCall2(int8pl, old[attnums[3] - 1], values[3]);
		row[4] = DirectFunctionCall2(int8pl, old[attnums[4] - 1], values[4]);
		row[5] = DirectFunctionCall2(float8pl, old[attnums[5] - 1], ms);
		row[6] = DirectFunctionCall2(float8larger, old[attnums[6] - 1], ms);
		row[7] = DirectFunctionCall2(int8pl, old[attnums[7] - 1], values[15]);
		InitResultRelInfo(rri, rel, 0, NULL, 0);
		ExecOpenIndices(rri, false);
		slot = ExecInitExtraTupleSlot(estate, desc, table_slot_callbacks(rel));
		ExecClearTuple(slot);
		memcpy(slot->tts_values, old, sizeof(Datum) * desc->natts);
		memcpy(slot->tts_isnull, found_slot->tts_isnull, sizeof(bool) * desc->natts);
		for (i = 2; i < lengthof(cols); i++)
			slot->tts_values[attnums[i] - 1] = row[i];
		ExecStoreVirtualTuple(slot);
		PushActiveSnapshot(snapshot);
		if (desc->constr != NULL)
			ExecConstraints(rri, slot, estate);
		if (table_tuple_update(rel, &tid, slot, GetCurrentCommandId(true), snapshot,
							   InvalidSnapshot, true, &tmfd, &lockmode,
							   &update_indexes) == TM_Ok)
		{
			if (update_indexes && rri->ri_NumIndices > 0)
				(void) ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL);
			written = true;
		}
		PopActiveSnapshot();
		if (written)
			CommandCounterIncrement();
		ExecCloseIndices(rri);
		ExecCloseResultRelations(estate);
		ExecResetTupleTable(estate->es_tupleTable, false);
		FreeExecutorState(estate);
	}
	ExecDropSingleTupleTableSlot(found_slot);
	if (ok && !found)
	{
		row[0] = values[0];
		row[1] = minute;
		row[2] = Int32GetDatum(1);
		row[3] = values[3];
		row[4] = values[4];
		row[5] = row[6] = ms;
		row[7] = values[15];
		written = cp_insert_row("progress_by_minute", lengthof(cols), cols, types, row,
								"        ");
	}

	/* the oldest minute, against the statement's bound */
	if (written)
	{
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		TimestampTz bound = DatumGetTimestampTz(minute) -
			(TimestampTz) DatumGetInt32(values[16]) * USECS_PER_MINUTE;

		scan = index_beginscan(rel, index, snapshot, 1, 0);
		index_rescan(scan, keys, 1, NULL, 0);
		*due = index_getnext_slot(scan, ForwardScanDirection, slot) &&
			DatumGetTimestampTz(slot_getattr(slot, attnums[1], &isnull)) < bound;
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
	}
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, NoLock);
	return written;
}

/*
 * A batch's record in a 0.8 catalog, in one statement: its commit row; its
 * progress row (the 16 values of 0.7's row, then where the run's time
 * went, the previous batch's commit, and the size of the state tables,
 * times in milliseconds to the microsecond); its minute's figures, with
 * the minutes older than pg_streaming.progress_history_minutes removed;
 * its stateful operators' rows; and the offsets of batches up to "forget"
 * (none when it is negative), whose rows of every other table go with them
 * (cp_commit_tail).  One statement rather than
 * four: each costs a batch as much as the rows it writes.  The statement's
 * plan is kept (generic): the offsets to forget are written as a range
 * (batch ids start at 0), which a generic plan reads through the key where
 * "batch_id <= $24" alone looked like a third of the table.
 */
static void
cp_commit_0_8(const Oid *types17, const Datum *values17, const char *nulls17,
			  const PgsProgress *p, int64 forget)
{
	Oid			argtypes[30];
	Datum		values[30];
	char		nulls[30];
	int			i;
	bool		commit_done;
	bool		progress_done;
	bool		due;
	CpMinuteSql minute;
	char	   *sql;

	StaticAssertStmt(PGS_NPHASES == 4, "plan, read, merge and write");
	memcpy(argtypes, types17, sizeof(Oid) * 17);
	memcpy(values, values17, sizeof(Datum) * 17);
	memcpy(nulls, nulls17, 17);
	for (i = 17; i < 22; i++)
		argtypes[i] = FLOAT8OID;
	for (i = 0; i < PGS_NPHASES; i++)
	{
		values[17 + i] = Float8GetDatum(p->phase_usecs[i] / 1000.0);
		nulls[17 + i] = p->timed ? ' ' : 'n';
	}
	values[21] = Float8GetDatum(p->previous_commit_usecs / 1000.0);
	nulls[21] = p->has_previous_commit ? ' ' : 'n';
	argtypes[22] = INT8OID;
	values[22] = Int64GetDatum(p->state_bytes);
	nulls[22] = p->has_state_bytes ? ' ' : 'n';
	argtypes[23] = INT8OID;
	values[23] = Int64GetDatum(forget);
	nulls[23] = ' ';
	if (p->noperators > 0)
		cp_operator_arrays(p, argtypes + 24, values + 24, nulls + 24);
	cp_commit_rows_c(argtypes, values, nulls, &commit_done, &progress_done);
	if (pgs_progress_history_minutes <= 0)
		minute = CP_MINUTE_NOTHING;
	else if (commit_done && progress_done && cp_minute_row_c(values, &due))
		minute = due ? CP_MINUTE_OLD : CP_MINUTE_NOTHING;
	else
		minute = CP_MINUTE_UPSERT;
	sql = psprintf("%s%s%s%s",
				   commit_done ? "" :
				   ", c AS (INSERT INTO stream.checkpoint_commits"
				   "  (query_id, batch_id, committed_at) VALUES ($1, $2, $7))",
				   progress_done ? "" :
				   ", p AS (INSERT INTO stream.progress_log (query_id, batch_id, started_at,"
				   "  finished_at, input_rows, output_rows, replayed, state_rows,"
				   "  state_rows_updated, watermark, next_watermark, event_time_min,"
				   "  event_time_max, event_time_avg, late_rows, blocks_read,"
				   "  plan_ms, read_ms, merge_ms, write_ms, previous_commit_ms, state_bytes)"
				   "  VALUES ($1, $2, $3, $7, $4, $5, $6, $8, $9, $10, $11, $12,"
				   "  $13, $14, $15, $16, $18, $19, $20, $21, $22, $23))",
							  p->noperators > 0 ?
							  ", o AS (INSERT INTO stream.progress_operator_log (query_id,"
							  "  batch_id, ordinal, operator, side, state_rows, state_rows_updated,"
							  "  state_rows_removed, late_rows)"
							  "  SELECT $1, $2, u.ordinal, u.operator, u.side, u.state_rows,"
							  "   u.updated, u.removed, u.late"
							  "  FROM ROWS FROM (pg_catalog.unnest($25), pg_catalog.unnest($26),"
							  "   pg_catalog.unnest($27), pg_catalog.unnest($28),"
							  "   pg_catalog.unnest($29), pg_catalog.unnest($30)) WITH ORDINALITY"
							  "   AS u(operator, side, state_rows, updated, removed, late, ordinal))" : "",
							  cp_commit_tail(forget >= 0, minute));
	/* nothing left to write */
	if (strcmp(sql, " SELECT") == 0)
		return;
	/* the first part's leading comma gives way to WITH */
	if (strncmp(sql, ", ", 2) == 0)
		sql = psprintf("WITH %s", sql + 2);
	pgs_catalog_exec(sql, p->noperators > 0 ? 30 : 24, argtypes, values, nulls,
					 false, 0);
}

/*
 * The end of the statement above, after its commit, progress and operator
 * rows: the minute's figures (or, written in C, only the removal of the
 * old minutes when some are due, or nothing), and with forget the removal
 * of the offsets
 * up to $24 (with their rows of the other tables, which a 0.11 catalog
 * does not cascade).  A batch that forgets nothing runs a statement
 * without the removal, whose part of the plan cost every batch its start
 * and end where three batches in four (or fifteen in sixteen) remove
 * nothing.
 */
static const char *
cp_commit_tail(bool forget, CpMinuteSql minute)
{
	const char *cond = "query_id = $1 AND batch_id >= 0 AND batch_id <= $24";
	const char *tail;

	tail = minute == CP_MINUTE_UPSERT ? ", " CP_BY_MINUTE :
		minute == CP_MINUTE_OLD ? " " CP_OLD_MINUTES : NULL;
	if (!forget)
		return tail != NULL ? tail : " SELECT";
	return psprintf("%s%s", cp_dependents_ctes("f", cond),
					tail != NULL ?
					psprintf(", f AS (DELETE FROM stream.checkpoint_offsets WHERE %s)%s",
							 cond, tail) :
					psprintf(" DELETE FROM stream.checkpoint_offsets WHERE %s", cond));
}

/*
 * The latest batch whose offsets a committing batch removes, or -1 for
 * none.  Removing a batch's offsets removes its rows of six tables (by
 * their foreign keys' cascade up to catalog 0.10, by the statement itself
 * from 0.11), which cost a one-row batch a tenth of its time when every
 * batch did it; so a batch removes them only when its id is a multiple of
 * a step, and then every batch older than the retained ones at once.  The step is a quarter of
 * pg_streaming.retained_batches, at most 16: at least the latest
 * retained_batches are kept, and fewer than retained_batches + 16 (a
 * setting below 8 keeps exactly that many).  The range is from the oldest,
 * so a lowered setting takes effect at the next such batch.
 */
static int64
cp_forget_through(int64 batch_id)
{
	int64		step = Min(PGS_RETAIN_STEP_MAX, Max(1, pgs_retained_batches / 4));

	if (batch_id <= pgs_retained_batches || batch_id % step != 0)
		return -1;
	return batch_id - pgs_retained_batches;
}

/*
 * Write a batch's commit row, its progress row and its operators' rows, and
 * forget offsets older than the retained batches (every few batches: see
 * cp_forget_through).
 */
void
pgs_checkpoint_commit(int64 query_id, int64 batch_id, const PgsProgress *p)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[17] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID,
		INT8OID, BOOLOID, TIMESTAMPTZOID, INT8OID, INT8OID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID,
	INT8OID, INT4OID};
	Datum		values[17];
	char		nulls[17];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(query_id);
	values[1] = Int64GetDatum(batch_id);
	values[2] = TimestampTzGetDatum(p->started_at);
	values[3] = Int64GetDatum(p->input_rows);
	values[4] = Int64GetDatum(p->output_rows);
	values[5] = BoolGetDatum(p->replayed);
	values[6] = TimestampTzGetDatum(p->finished_at);
	values[7] = Int64GetDatum(p->state_rows);
	values[8] = Int64GetDatum(p->state_rows_updated);
	if (!p->has_state)
		nulls[7] = nulls[8] = 'n';
	values[9] = TimestampTzGetDatum(p->watermarks.watermark);
	nulls[9] = (!p->has_event_time || p->watermarks.watermark_null) ? 'n' : ' ';
	values[10] = TimestampTzGetDatum(p->next_watermark);
	nulls[10] = (!p->has_event_time || p->next_null) ? 'n' : ' ';
	values[11] = TimestampTzGetDatum(p->event_time_min);
	values[12] = TimestampTzGetDatum(p->event_time_max);
	values[13] = TimestampTzGetDatum(p->event_time_avg);
	if (!p->has_event_time || p->times_null)
		nulls[11] = nulls[12] = nulls[13] = 'n';
	values[14] = Int64GetDatum(p->late_rows);
	nulls[14] = p->has_event_time ? ' ' : 'n';
	pgs_catalog_begin(&acc);
	if (pgs_catalog_version() >= PGS_CATALOG_0_8)
	{
		values[15] = Int64GetDatum(p->blocks_read);
		values[16] = Int32GetDatum(pgs_progress_history_minutes);
		cp_commit_0_8(argtypes, values, nulls, p,
					  cp_forget_through(batch_id));
	}
	else
	{
		pgs_catalog_exec("INSERT INTO stream.checkpoint_commits (query_id, batch_id, committed_at)"
						 " VALUES ($1, $2, $7)",
						 7, argtypes, values, nulls, false, 0);
		if (pgs_catalog_has_keys())
		{
			values[15] = Int64GetDatum(p->blocks_read);
			values[16] = Int32GetDatum(pgs_progress_history_minutes);
			pgs_catalog_exec("INSERT INTO stream.progress_log (query_id, batch_id, started_at,"
							 " finished_at, input_rows, output_rows, replayed, state_rows,"
							 " state_rows_updated, watermark, next_watermark, event_time_min,"
							 " event_time_max, event_time_avg, late_rows, blocks_read)"
							 " VALUES ($1, $2, $3, $7, $4, $5, $6, $8, $9, $10, $11, $12,"
							 " $13, $14, $15, $16)",
							 16, argtypes, values, nulls, false, 0);
			/* by the minute the batch finished in; the oldest minutes go */
			if (pgs_progress_history_minutes > 0)
				pgs_catalog_exec("WITH " CP_BY_MINUTE,
								 17, argtypes, values, nulls, false, 0);
		}
		else if (pgs_catalog_has_state())
			pgs_catalog_exec("INSERT INTO stream.progress_log (query_id, batch_id, started_at,"
							 " finished_at, input_rows, output_rows, replayed, state_rows,"
							 " state_rows_updated, watermark, next_watermark, event_time_min,"
							 " event_time_max, event_time_avg, late_rows)"
							 " VALUES ($1, $2, $3, $7, $4, $5, $6, $8, $9, $10, $11, $12,"
							 " $13, $14, $15)",
							 15, argtypes, values, nulls, false, 0);
		else
			pgs_catalog_exec("INSERT INTO stream.progress_log (query_id, batch_id, started_at,"
							 " finished_at, input_rows, output_rows, replayed)"
							 " VALUES ($1, $2, $3, $7, $4, $5, $6)",
							 7, argtypes, values, nulls, false, 0);
	}
	/* a 0.8 catalog's commit statement wrote them */
	if (p->noperators > 0 && pgs_catalog_has_joins() &&
		pgs_catalog_version() < PGS_CATALOG_0_8)
		cp_write_operators(query_id, batch_id, p);
	/* a query that sets rows aside counts them, zero included */
	if (p->has_dead_letters && pgs_catalog_version() >= PGS_CATALOG_0_8)
	{
		Oid			dl_types[3] = {INT8OID, INT8OID, INT8OID};
		Datum		dl_values[3] = {Int64GetDatum(query_id), Int64GetDatum(batch_id),
		Int64GetDatum(p->dead_letters)};

		pgs_catalog_exec("UPDATE stream.progress_log SET dead_letters = $3"
						 " WHERE query_id = $1 AND batch_id = $2",
						 3, dl_types, dl_values, NULL, false, 0);
	}
	if (pgs_catalog_version() < PGS_CATALOG_0_8 && cp_forget_through(batch_id) >= 0)
	{
		values[1] = Int64GetDatum(cp_forget_through(batch_id));
		pgs_catalog_exec(cp_delete_offsets_sql("query_id = $1 AND batch_id <= $2"),
						 2, argtypes, values, NULL, false, 0);
	}
	pgs_catalog_end(&acc);
}

/*
 * The watermarks of a new batch: in force, the one the latest committed
 * batch computed; for late rows, the one in force for the latest batch
 * (Spark's rule since 3.4).
 */
void
pgs_checkpoint_plan_watermarks(int64 query_id, PgsWatermarks *w)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};
	bool		isnull;

	w->watermark_null = w->late_null = true;
	pgs_catalog_begin(&acc);
	/* both of the latest committed batch */
	if (pgs_catalog_exec("SELECT next_watermark FROM stream.progress_log"
						 " WHERE query_id = $1 AND batch_id = (SELECT max(batch_id)"
						 " FROM stream.checkpoint_commits WHERE query_id = $1)",
						 1, argtypes, values, NULL, false, 0) > 0)
	{
		Datum		d = pgs_result_datum(0, 1, &isnull);

		w->watermark_null = isnull;
		w->watermark = isnull ? 0 : DatumGetTimestampTz(d);
	}
	if (pgs_catalog_exec("SELECT watermark FROM stream.checkpoint_watermarks"
						 " WHERE query_id = $1 AND batch_id = (SELECT max(batch_id)"
						 " FROM stream.checkpoint_commits WHERE query_id = $1)",
						 1, argtypes, values, NULL, false, 0) > 0)
	{
		Datum		d = pgs_result_datum(0, 1, &isnull);

		w->late_null = isnull;
		w->late = isnull ? 0 : DatumGetTimestampTz(d);
	}
	pgs_catalog_end(&acc);
}

/* write a batch's watermarks, with its offsets */
void
pgs_checkpoint_write_watermarks(int64 query_id, int64 batch_id,
								const PgsWatermarks *w)
{
	Oid			argtypes[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(query_id);
	values[1] = Int64GetDatum(batch_id);
	values[2] = TimestampTzGetDatum(w->watermark);
	nulls[2] = w->watermark_null ? 'n' : ' ';
	values[3] = TimestampTzGetDatum(w->late);
	nulls[3] = w->late_null ? 'n' : ' ';
	pgs_catalog_run("INSERT INTO stream.checkpoint_watermarks"
					" (query_id, batch_id, watermark, late_watermark)"
					" VALUES ($1, $2, $3, $4)",
					4, argtypes, values, nulls, false, 0);
}

/* a batch's watermarks as they were written ahead; false when none were */
bool
pgs_checkpoint_read_watermarks(int64 query_id, int64 batch_id, PgsWatermarks *w)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(query_id), Int64GetDatum(batch_id)};
	bool		found;
	bool		isnull;

	w->watermark_null = w->late_null = true;
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT watermark, late_watermark FROM stream.checkpoint_watermarks"
							 " WHERE query_id = $1 AND batch_id = $2",
							 2, argtypes, values, NULL, false, 0) > 0;
	if (found)
	{
		Datum		d = pgs_result_datum(0, 1, &isnull);

		w->watermark_null = isnull;
		w->watermark = isnull ? 0 : DatumGetTimestampTz(d);
		d = pgs_result_datum(0, 2, &isnull);
		w->late_null = isnull;
		w->late = isnull ? 0 : DatumGetTimestampTz(d);
	}
	pgs_catalog_end(&acc);
	return found;
}

/*
 * The groups in a streaming aggregation's state after its latest committed
 * batch (0 before its first).
 */
int64
pgs_checkpoint_state_rows(int64 query_id)
{
	if (!pgs_catalog_has_state())
		return 0;
	/* by the table's primary key, as cp_read_scan reads the offsets */
	if (pgs_catalog_has_06())
	{
		Snapshot	snapshot;
		Relation	rel;
		TupleTableSlot *slot;
		int64		rows = 0;
		bool		isnull;
		Datum		d;

		snapshot = pgs_catalog_statement_snapshot();
		rel = cp_open("progress_log");
		slot = table_slot_create(rel, NULL);
		if (cp_scan_key(rel, snapshot, query_id, 0, slot))
		{
			d = slot_getattr(slot, cp_attnum(rel, "state_rows"), &isnull);
			rows = isnull ? 0 : DatumGetInt64(d);
		}
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
		UnregisterSnapshot(snapshot);
		return rows;
	}
	return pgs_catalog_int8("SELECT coalesce((SELECT state_rows FROM stream.progress_log"
							" WHERE query_id = $1 ORDER BY batch_id DESC LIMIT 1), 0)",
							INT8OID, Int64GetDatum(query_id));
}

/*
 * The rows an operator of the query kept in its state after the latest
 * batch that reported it in stream.progress_operator_log; false when none
 * did (before the first batch, or on a catalog older than 0.7 and until a
 * batch has run on 0.7).
 */
bool
pgs_checkpoint_operator_state_rows(int64 query_id, const char *operator,
								   int64 *state_rows)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(query_id), CStringGetTextDatum(operator)};
	bool		found;

	*state_rows = 0;
	if (!pgs_catalog_has_joins())
		return false;
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT state_rows FROM stream.progress_operator_log"
							 " WHERE query_id = $1 AND operator = $2"
							 " ORDER BY batch_id DESC, ordinal LIMIT 1",
							 2, argtypes, values, NULL, true, 0) > 0;
	if (found)
	{
		bool		isnull;

		*state_rows = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	}
	pgs_catalog_end(&acc);
	return found;
}

/*
 * Record a batch as committed without a progress row: the empty batch 0
 * that makes a query start from the rows committed after it started.
 */
void
pgs_checkpoint_mark_committed(int64 query_id, int64 batch_id)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(query_id), Int64GetDatum(batch_id)};

	pgs_catalog_run("INSERT INTO stream.checkpoint_commits (query_id, batch_id)"
					" VALUES ($1, $2)",
					2, argtypes, values, NULL, false, 0);
}

/*
 * Do the query's latest offsets belong to this database's transaction
 * history?  True when they do, when there are none (nothing to misread), or
 * when the catalog is older than 0.6 (which records no history).  Offsets
 * that name no history, or another, do not; nor do offsets of this history
 * whose end lies past this cluster's next transaction id (a copy of the
 * data directory that went back in time).  *h gets what the message needs.
 */
bool
pgs_checkpoint_check_history(int64 query_id, PgsHistoryCheck *h)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};
	bool		isnull;
	bool		found;
	Datum		d;

	memset(h, 0, sizeof(PgsHistoryCheck));
	if (!pgs_catalog_has_06())
		return true;
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT o.batch_id, o.history_id, o.system_identifier,"
							 " o.planned_at, pg_catalog.pg_snapshot_xmax(o.end_snapshot),"
							 " h.history_id, h.system_identifier"
							 " FROM (SELECT * FROM stream.checkpoint_offsets"
							 "        WHERE query_id = $1 ORDER BY batch_id DESC LIMIT 1) o"
							 " LEFT JOIN stream.local_history h ON true",
							 1, argtypes, values, NULL, false, 0) > 0;
	if (found)
	{
		h->batch_id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		d = pgs_result_datum(0, 2, &isnull);
		h->recorded = !isnull;
		h->history_id = isnull ? 0 : DatumGetInt64(d);
		d = pgs_result_datum(0, 3, &isnull);
		h->sysid_known = !isnull;
		h->system_identifier = isnull ? 0 : DatumGetInt64(d);
		h->planned_at = DatumGetTimestampTz(pgs_result_datum(0, 4, &isnull));
		h->end_xmax = U64FromFullTransactionId(DatumGetFullTransactionId(pgs_result_datum(0, 5, &isnull)));
		d = pgs_result_datum(0, 6, &isnull);
		h->local_known = !isnull;
		h->local_history_id = isnull ? 0 : DatumGetInt64(d);
		d = pgs_result_datum(0, 7, &isnull);
		h->local_system_identifier = isnull ? 0 : DatumGetInt64(d);
	}
	pgs_catalog_end(&acc);
	if (!found)
		return true;
	return cp_judge_history(h);
}

/* the verdict of pgs_checkpoint_check_history on the latest offsets read */
static bool
cp_judge_history(PgsHistoryCheck *h)
{
	if (!h->recorded || !h->local_known || h->history_id != h->local_history_id)
		return false;
	h->behind = h->end_xmax > U64FromFullTransactionId(ReadNextFullTransactionId());
	return !h->behind;
}

/*
 * Make every offsets row of the query this history's, as they are: for a
 * restore into the cluster they were written in, whose rows kept their
 * stamps, so that the snapshots mean what they meant.
 */
void
pgs_checkpoint_adopt(int64 query_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};

	pgs_catalog_run("UPDATE stream.checkpoint_offsets o"
					" SET history_id = h.history_id, system_identifier = h.system_identifier"
					" FROM stream.local_history h WHERE o.query_id = $1",
					1, argtypes, values, NULL, false, 0);
}

/*
 * Give the query a new boundary in this history: the end of its latest
 * committed batch becomes end_snapshot, with no block floor (the next batch
 * reads the table from its first block, once), and a planned batch that
 * never committed is forgotten (nothing of it was delivered).  A query that
 * committed no batch gets an empty batch 0 ending there, as a query started
 * from the latest rows does.  The latest batch's progress row, watermarks
 * and state are kept.  A join's side 2 gets the same floors in its
 * checkpoint_sides row; its relfilenode is left for the caller, which knows
 * the side's stream.
 */
void
pgs_checkpoint_restart(int64 query_id, Datum end_snapshot, Oid relfilenode)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {INT8OID, PG_SNAPSHOTOID, OIDOID};
	Datum		values[3];
	bool		isnull;
	Datum		last;

	values[0] = Int64GetDatum(query_id);
	values[1] = end_snapshot;
	values[2] = ObjectIdGetDatum(relfilenode);
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("SELECT max(batch_id) FROM stream.checkpoint_commits WHERE query_id = $1",
					 1, argtypes, values, NULL, false, 0);
	last = pgs_result_datum(0, 1, &isnull);
	if (isnull)
	{
		pgs_catalog_exec(cp_delete_offsets_sql("query_id = $1"),
						 1, argtypes, values, NULL, false, 0);
		pgs_catalog_exec("INSERT INTO stream.checkpoint_offsets (query_id, batch_id,"
						 " end_snapshot, end_tail_block, scan_from_block, end_floor_block,"
						 " end_rest_floor, relfilenode, history_id, system_identifier)"
						 " SELECT $1, 0, $2, 0, 0, 0, 0, $3, history_id, system_identifier"
						 " FROM stream.local_history",
						 3, argtypes, values, NULL, false, 0);
		pgs_catalog_exec("INSERT INTO stream.checkpoint_commits (query_id, batch_id)"
						 " VALUES ($1, 0)",
						 1, argtypes, values, NULL, false, 0);
	}
	else
	{
		pgs_catalog_exec(cp_delete_offsets_sql(psprintf("query_id = $1 AND batch_id > " INT64_FORMAT,
														DatumGetInt64(last))),
						 1, argtypes, values, NULL, false, 0);
		pgs_catalog_exec(psprintf("UPDATE stream.checkpoint_offsets o SET"
								  " end_snapshot = $2, end_tail_block = 0, end_floor_block = 0,"
								  " end_rest_floor = 0, relfilenode = $3,"
								  " end_split_xid = NULL, end_split_block = NULL,"
								  " end_split_stop = NULL, end_writer_xids = NULL,"
								  " end_writer_firsts = NULL,"
								  " history_id = h.history_id, system_identifier = h.system_identifier"
								  " FROM stream.local_history h"
								  " WHERE o.query_id = $1 AND o.batch_id = " INT64_FORMAT,
								  DatumGetInt64(last)),
						 3, argtypes, values, NULL, false, 0);
		/* a join's second stream is read from its first block once, too */
		if (pgs_catalog_has_joins())
			pgs_catalog_exec(psprintf("UPDATE stream.checkpoint_sides SET"
									  " end_floor_block = 0, end_tail_block = 0, end_rest_floor = 0,"
									  " end_writer_xids = NULL, end_writer_firsts = NULL"
									  " WHERE query_id = $1 AND batch_id = " INT64_FORMAT,
									  DatumGetInt64(last)),
							 1, argtypes, values, NULL, false, 0);
	}
	pgs_catalog_end(&acc);
}

/*
 * The queries reading a stream whose latest offsets name another history
 * (or none), in query id order, each with the end snapshot of its latest
 * committed batch (0 when it committed none) and whether that end splits a
 * transaction.  Returns their number; the arrays are allocated in the
 * caller's memory context.  A join between streams is not among them,
 * whichever side the stream is: it cannot carry on in another history
 * (stream.resume_restored_query refuses it), so its checkpoint neither
 * shapes the stream's stamps nor gets a boundary here.
 */
int
pgs_checkpoint_foreign_queries(Oid stream_relid, int64 **ids, Datum **ends,
							   bool **splits)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream_relid)};
	int			n;
	int			i;

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec(psprintf("SELECT d.query_id, c.end_snapshot, c.end_split_xid IS NOT NULL"
								  " FROM stream.query_defs d"
								  " JOIN LATERAL (SELECT o.history_id FROM stream.checkpoint_offsets o"
								  "                WHERE o.query_id = d.query_id"
								  "                ORDER BY o.batch_id DESC LIMIT 1) l ON true"
								  " LEFT JOIN LATERAL (SELECT o.end_snapshot, o.end_split_xid"
								  "                     FROM stream.checkpoint_commits k"
								  "                     JOIN stream.checkpoint_offsets o USING (query_id, batch_id)"
								  "                    WHERE k.query_id = d.query_id"
								  "                    ORDER BY k.batch_id DESC LIMIT 1) c ON true"
								  " WHERE d.stream_relid::oid = $1"
								  "   AND l.history_id IS DISTINCT FROM (SELECT history_id FROM stream.local_history)%s"
								  " ORDER BY d.query_id",
								  pgs_catalog_has_joins() ?
								  "   AND NOT EXISTS (SELECT 1 FROM stream.query_side_defs s"
								  "                    WHERE s.query_id = d.query_id)" : ""),
						 1, argtypes, values, NULL, false, 0);
	*ids = MemoryContextAlloc(cxt, sizeof(int64) * (n + 1));
	*ends = MemoryContextAlloc(cxt, sizeof(Datum) * (n + 1));
	*splits = MemoryContextAlloc(cxt, sizeof(bool) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		end;

		(*ids)[i] = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		end = pgs_result_copy(i, 2, &isnull, cxt);
		(*ends)[i] = isnull ? (Datum) 0 : end;
		(*splits)[i] = !isnull && DatumGetBool(pgs_result_datum(i, 3, &isnull));
	}
	pgs_catalog_end(&acc);
	return n;
}

/*
 * The queries reading a stream, joins included, whose latest offsets name
 * another history (or none), in query id order, each with its streams and
 * the end snapshot of its latest committed batch (0 when it committed
 * none), and whether that end splits a transaction: what stamping the
 * rows of several streams again at once needs (a join reads both of its
 * streams through one snapshot pair).  Returns their number; the array is
 * allocated in the caller's memory context.
 */
int
pgs_checkpoint_foreign_readers(Oid stream_relid, PgsForeignReader **readers)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream_relid)};
	int			n;
	int			i;

	if (!pgs_catalog_has_joins())
		elog(ERROR, "the catalog of pg_streaming has no joins");
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT d.query_id, c.end_snapshot, c.end_split_xid IS NOT NULL,"
						 " d.stream_relid::oid, s2.relid::oid"
						 " FROM stream.query_defs d"
						 " JOIN LATERAL (SELECT o.history_id FROM stream.checkpoint_offsets o"
						 "                WHERE o.query_id = d.query_id"
						 "                ORDER BY o.batch_id DESC LIMIT 1) l ON true"
						 " LEFT JOIN LATERAL (SELECT o.end_snapshot, o.end_split_xid"
						 "                     FROM stream.checkpoint_commits k"
						 "                     JOIN stream.checkpoint_offsets o USING (query_id, batch_id)"
						 "                    WHERE k.query_id = d.query_id"
						 "                    ORDER BY k.batch_id DESC LIMIT 1) c ON true"
						 " LEFT JOIN stream.query_side_defs s2"
						 "   ON s2.query_id = d.query_id AND s2.side = 2"
						 " WHERE (d.stream_relid::oid = $1 OR s2.relid::oid = $1)"
						 "   AND l.history_id IS DISTINCT FROM (SELECT history_id FROM stream.local_history)"
						 " ORDER BY d.query_id",
						 1, argtypes, values, NULL, false, 0);
	*readers = MemoryContextAllocZero(cxt, sizeof(PgsForeignReader) * (n + 1));
	for (i = 0; i < n; i++)
	{
		PgsForeignReader *r = &(*readers)[i];
		bool		isnull;
		Datum		end;
		Datum		d;

		r->query_id = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		end = pgs_result_copy(i, 2, &isnull, cxt);
		r->end = isnull ? (Datum) 0 : end;
		r->split = !isnull && DatumGetBool(pgs_result_datum(i, 3, &isnull));
		r->streams[0] = DatumGetObjectId(pgs_result_datum(i, 4, &isnull));
		d = pgs_result_datum(i, 5, &isnull);
		r->streams[1] = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	pgs_catalog_end(&acc);
	return n;
}

/*
 * After pgs_checkpoint_restart of a join: side 2's offsets of the latest
 * committed batch name the side's present storage too.
 */
void
pgs_checkpoint_restart_side(int64 query_id, Oid relfilenode)
{
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		values[2] = {Int64GetDatum(query_id), ObjectIdGetDatum(relfilenode)};

	if (!pgs_catalog_has_joins())
		return;
	pgs_catalog_run("UPDATE stream.checkpoint_sides SET relfilenode = $2"
					" WHERE query_id = $1 AND batch_id = (SELECT max(batch_id)"
					" FROM stream.checkpoint_commits WHERE query_id = $1)",
					2, argtypes, values, NULL, false, 0);
}

/*
 * Forget the watermarks of the query's latest committed batch (the
 * query's, for late rows and eviction, and each side's): its next batch
 * starts without any, as a query started afresh.
 */
void
pgs_checkpoint_forget_watermarks(int64 query_id)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};

	pgs_catalog_begin(&acc);
	pgs_catalog_exec("UPDATE stream.progress_log SET next_watermark = NULL"
					 " WHERE query_id = $1 AND batch_id = (SELECT max(batch_id)"
					 " FROM stream.checkpoint_commits WHERE query_id = $1)",
					 1, argtypes, values, NULL, false, 0);
	pgs_catalog_exec("UPDATE stream.checkpoint_watermarks"
					 " SET watermark = NULL, late_watermark = NULL"
					 " WHERE query_id = $1 AND batch_id = (SELECT max(batch_id)"
					 " FROM stream.checkpoint_commits WHERE query_id = $1)",
					 1, argtypes, values, NULL, false, 0);
	if (pgs_catalog_has_joins())
		pgs_catalog_exec("UPDATE stream.progress_side_log SET watermark = NULL"
						 " WHERE query_id = $1 AND batch_id = (SELECT max(batch_id)"
						 " FROM stream.progress_side_log WHERE query_id = $1)",
						 1, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
}

/*
 * Side 2's part of a join batch's offsets, written ahead with the batch's
 * offsets row (in the same transaction, after it).  A join batch takes
 * whole transactions of both streams, so the boundary splits none.
 */
void
pgs_checkpoint_write_side(int64 query_id, int64 batch_id, int side,
						  const PgsBoundary *end, int64 scan_from)
{
	Oid			argtypes[10] = {INT8OID, INT8OID, INT2OID, INT8OID, INT8OID, INT8OID,
	OIDOID, INT8OID, XID8ARRAYOID, INT8ARRAYOID};
	Datum		values[10];
	char		nulls[10];

	if (!pgs_catalog_has_joins())
		elog(ERROR, "the catalog of pg_streaming has no offsets for a join's side");
	if (side != 2)
		elog(ERROR, "side %d of a join keeps its offsets in stream.checkpoint_offsets", side);
	if (FullTransactionIdIsValid(end->split_xid))
		elog(ERROR, "a join's boundary cannot split a transaction");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(query_id);
	values[1] = Int64GetDatum(batch_id);
	values[2] = Int16GetDatum(side);
	values[3] = Int64GetDatum(scan_from);
	values[4] = Int64GetDatum(end->from_block);
	values[5] = Int64GetDatum(end->tail_block);
	values[6] = ObjectIdGetDatum(end->relfilenode);
	values[7] = Int64GetDatum(end->rest_floor);
	nulls[8] = nulls[9] = end->nwriters > 0 ? ' ' : 'n';
	if (end->nwriters > 0)
	{
		Datum	   *xids = palloc(sizeof(Datum) * end->nwriters);
		Datum	   *firsts = palloc(sizeof(Datum) * end->nwriters);
		int			i;

		for (i = 0; i < end->nwriters; i++)
		{
			xids[i] = FullTransactionIdGetDatum(FullTransactionIdFromU64(end->writer_xids[i]));
			firsts[i] = Int64GetDatum(end->writer_firsts[i]);
		}
		values[8] = PointerGetDatum(construct_array(xids, end->nwriters, XID8OID,
													sizeof(FullTransactionId),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[9] = PointerGetDatum(construct_array(firsts, end->nwriters, INT8OID,
													8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	pgs_catalog_run("INSERT INTO stream.checkpoint_sides (query_id, batch_id, side,"
					" scan_from_block, end_floor_block, end_tail_block, relfilenode,"
					" end_rest_floor, end_writer_xids, end_writer_firsts)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
					10, argtypes, values, nulls, false, 0);
}

/*
 * Side 2's end boundary of batch "batch_id" (0: of the latest batch that
 * has one), into the caller's memory context, with the batch's end
 * snapshot, which both sides share; false when there is none (a query over
 * one stream, a catalog older than 0.7, or a batch planned before the
 * query was a join's).
 */
bool
pgs_checkpoint_read_side(int64 query_id, int64 batch_id, int side,
						 PgsBoundary *end, int64 *scan_from)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {INT8OID, INT8OID, INT2OID};
	Datum		values[3] = {Int64GetDatum(query_id), Int64GetDatum(batch_id),
	Int16GetDatum(side)};
	bool		isnull;
	bool		found;

	if (!pgs_catalog_has_joins())
		return false;
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT s.scan_from_block, s.end_floor_block, s.end_tail_block,"
							 " s.relfilenode, s.end_rest_floor, s.end_writer_xids,"
							 " s.end_writer_firsts, o.end_snapshot"
							 " FROM stream.checkpoint_sides s"
							 " JOIN stream.checkpoint_offsets o USING (query_id, batch_id)"
							 " WHERE s.query_id = $1 AND ($2 = 0 OR s.batch_id = $2)"
							 "   AND s.side = $3"
							 " ORDER BY s.batch_id DESC LIMIT 1",
							 3, argtypes, values, NULL, false, 0) > 0;
	if (found)
	{
		MemoryContext old;

		memset(end, 0, sizeof(PgsBoundary));
		end->is_start = false;
		*scan_from = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		end->from_block = DatumGetInt64(pgs_result_datum(0, 2, &isnull));
		end->tail_block = DatumGetInt64(pgs_result_datum(0, 3, &isnull));
		end->relfilenode = DatumGetObjectId(pgs_result_datum(0, 4, &isnull));
		cp_no_split(end);
		end->rest_floor = cp_int8(5, end->from_block);
		cp_read_writers(end, 6, 7, cxt);
		end->snapshot = pgs_result_copy(0, 8, &isnull, cxt);
		old = MemoryContextSwitchTo(cxt);
		end->xmax = pgs_snapshot_xmax(end->snapshot);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return found;
}

/* one side's progress row of a join batch, in the batch's transaction */
void
pgs_checkpoint_write_side_progress(int64 query_id, int64 batch_id, int side,
								   const PgsSideProgress *p)
{
	Oid			argtypes[9] = {INT8OID, INT8OID, INT2OID, INT8OID, INT8OID, INT8OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9];

	if (!pgs_catalog_has_joins())
		elog(ERROR, "the catalog of pg_streaming has no progress for a join's side");
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(query_id);
	values[1] = Int64GetDatum(batch_id);
	values[2] = Int16GetDatum(side);
	values[3] = Int64GetDatum(p->input_rows);
	values[4] = Int64GetDatum(p->late_rows);
	values[5] = Int64GetDatum(p->state_rows);
	values[6] = TimestampTzGetDatum(p->watermark);
	nulls[6] = p->watermark_null ? 'n' : ' ';
	values[7] = TimestampTzGetDatum(p->event_time_min);
	values[8] = TimestampTzGetDatum(p->event_time_max);
	nulls[7] = nulls[8] = p->times_null ? 'n' : ' ';
	pgs_catalog_run("INSERT INTO stream.progress_side_log (query_id, batch_id, side,"
					" input_rows, late_rows, state_rows, watermark, event_time_min,"
					" event_time_max)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
					9, argtypes, values, nulls, false, 0);
}

/*
 * Each side's progress after the latest committed batch that wrote one
 * (progress rows are written in their batch's transaction, so every row is
 * a committed batch's): p[i] for side i + 1.  A side without a row gets
 * zeros and NULL times.
 */
void
pgs_checkpoint_side_watermarks(int64 query_id, int nsides, PgsSideProgress *p)
{
	PgsCatalogAccess acc = {0};
	int			i;

	for (i = 0; i < nsides; i++)
	{
		memset(&p[i], 0, sizeof(PgsSideProgress));
		p[i].watermark_null = p[i].times_null = true;
	}
	if (!pgs_catalog_has_joins())
		return;
	pgs_catalog_begin(&acc);
	for (i = 0; i < nsides; i++)
	{
		Oid			argtypes[2] = {INT8OID, INT2OID};
		Datum		values[2] = {Int64GetDatum(query_id), Int16GetDatum(i + 1)};
		bool		isnull;
		Datum		d;

		if (pgs_catalog_exec("SELECT input_rows, late_rows, state_rows, watermark,"
							 " event_time_min, event_time_max"
							 " FROM stream.progress_side_log"
							 " WHERE query_id = $1 AND side = $2"
							 " ORDER BY batch_id DESC LIMIT 1",
							 2, argtypes, values, NULL, false, 0) == 0)
			continue;
		p[i].input_rows = cp_int8(1, 0);
		p[i].late_rows = cp_int8(2, 0);
		p[i].state_rows = cp_int8(3, 0);
		d = pgs_result_datum(0, 4, &isnull);
		p[i].watermark_null = isnull;
		p[i].watermark = isnull ? 0 : DatumGetTimestampTz(d);
		d = pgs_result_datum(0, 5, &isnull);
		p[i].times_null = isnull;
		p[i].event_time_min = isnull ? 0 : DatumGetTimestampTz(d);
		d = pgs_result_datum(0, 6, &isnull);
		p[i].event_time_max = isnull ? 0 : DatumGetTimestampTz(d);
	}
	pgs_catalog_end(&acc);
}
