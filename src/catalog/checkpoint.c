/*-------------------------------------------------------------------------
 *
 * checkpoint.c
 *	  Reading and writing a query's checkpoint.
 *
 * Only the latest batch's offsets are needed to go on: a batch without a
 * commit row is replayed with exactly its offsets, and a new batch starts
 * where the latest one ended.  The latest pg_streaming.retained_batches
 * rows are kept for people to read; older ones go when a batch commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/timestamp.h"

#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "pg_streaming.h"

/* the latest committed batch id, or 0 */
int64
pgs_checkpoint_last_commit(int64 query_id)
{
	return pgs_catalog_int8("SELECT max(batch_id) FROM stream.checkpoint_commits"
							" WHERE query_id = $1",
							INT8OID, Int64GetDatum(query_id));
}

/*
 * Read offsets row "batch_id", or the latest one when batch_id is 0, into
 * the caller's memory context.  Returns false when there is none.
 */
bool
pgs_checkpoint_read(int64 query_id, int64 batch_id, PgsOffsets *o)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(query_id), Int64GetDatum(batch_id)};
	bool		isnull;
	bool		found;

	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT batch_id, start_snapshot, end_snapshot,"
							 " scan_from_block, end_floor_block, relfilenode,"
							 " end_tail_block"
							 " FROM stream.checkpoint_offsets"
							 " WHERE query_id = $1 AND ($2 = 0 OR batch_id = $2)"
							 " ORDER BY batch_id DESC LIMIT 1",
							 2, argtypes, values, NULL, false, 0) > 0;
	if (found)
	{
		MemoryContext old;

		memset(o, 0, sizeof(PgsOffsets));
		o->batch_id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		o->start.snapshot = pgs_result_copy(0, 2, &isnull, cxt);
		o->start.is_start = isnull;
		o->end.snapshot = pgs_result_copy(0, 3, &isnull, cxt);
		o->scan_from = DatumGetInt64(pgs_result_datum(0, 4, &isnull));
		o->end.from_block = DatumGetInt64(pgs_result_datum(0, 5, &isnull));
		o->end.relfilenode = DatumGetObjectId(pgs_result_datum(0, 6, &isnull));
		o->end.tail_block = DatumGetInt64(pgs_result_datum(0, 7, &isnull));
		old = MemoryContextSwitchTo(cxt);
		o->end.xmax = pgs_snapshot_xmax(o->end.snapshot);
		if (!o->start.is_start)
			o->start.xmax = pgs_snapshot_xmax(o->start.snapshot);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return found;
}

/* write the offsets row of a planned batch */
void
pgs_checkpoint_write(int64 query_id, const PgsOffsets *o, TimestampTz planned_at)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[9] = {INT8OID, INT8OID, PG_SNAPSHOTOID, PG_SNAPSHOTOID,
	INT8OID, INT8OID, INT8OID, OIDOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9];

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
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.checkpoint_offsets (query_id, batch_id,"
					 " start_snapshot, end_snapshot, end_tail_block, scan_from_block,"
					 " end_floor_block, relfilenode, planned_at)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
					 9, argtypes, values, nulls, false, 0);
	pgs_catalog_end(&acc);
}

/*
 * Write a batch's commit row and progress row, and forget offsets older
 * than the retained batches.
 */
void
pgs_checkpoint_commit(int64 query_id, int64 batch_id, const PgsProgress *p)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[7] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID,
	INT8OID, BOOLOID, TIMESTAMPTZOID};
	Datum		values[7];

	values[0] = Int64GetDatum(query_id);
	values[1] = Int64GetDatum(batch_id);
	values[2] = TimestampTzGetDatum(p->started_at);
	values[3] = Int64GetDatum(p->input_rows);
	values[4] = Int64GetDatum(p->output_rows);
	values[5] = BoolGetDatum(p->replayed);
	values[6] = TimestampTzGetDatum(p->finished_at);
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.checkpoint_commits (query_id, batch_id, committed_at)"
					 " VALUES ($1, $2, $7)",
					 7, argtypes, values, NULL, false, 0);
	pgs_catalog_exec("INSERT INTO stream.progress_log (query_id, batch_id, started_at,"
					 " finished_at, input_rows, output_rows, replayed)"
					 " VALUES ($1, $2, $3, $7, $4, $5, $6)",
					 7, argtypes, values, NULL, false, 0);
	if (batch_id > pgs_retained_batches)
	{
		values[1] = Int64GetDatum(batch_id - pgs_retained_batches);
		pgs_catalog_exec("DELETE FROM stream.checkpoint_offsets"
						 " WHERE query_id = $1 AND batch_id <= $2",
						 2, argtypes, values, NULL, false, 0);
	}
	pgs_catalog_end(&acc);
}

/*
 * Record a batch as committed without a progress row: the empty batch 0
 * that makes a query start from the rows committed after it started.
 */
void
pgs_checkpoint_mark_committed(int64 query_id, int64 batch_id)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(query_id), Int64GetDatum(batch_id)};

	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.checkpoint_commits (query_id, batch_id)"
					 " VALUES ($1, $2)",
					 2, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
}
