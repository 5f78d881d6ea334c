/*-------------------------------------------------------------------------
 *
 * restored.c
 *	  Rows a logical restore brought into a stream with the stamps of
 *	  another cluster, and how they are given stamps that mean in this
 *	  cluster what they meant to the restored checkpoints.
 *
 * A restore that keeps the rows' stamps (session_replication_role =
 * replica, or one transaction that creates the table and loads it) into
 * another cluster leaves rows whose _stream_xid values are transaction ids
 * of that cluster: here they are numbers that collide with this cluster's
 * own transactions, for every query and every snapshot.  What they still
 * tell exactly is which of them each restored checkpoint had processed (the
 * stamp is visible in its end snapshot, taken in the same history).  So the
 * restored rows (those whose xmin is the restoring transaction's) are
 * stamped again, in place, with a number that encodes that and nothing
 * else: FirstNormalTransactionId plus a mask whose bit i is set when the
 * i-th restored query had not processed the row.  These numbers lie far
 * below every transaction this cluster ran after its initdb, so every
 * snapshot taken here sees them as committed; each query's new boundary
 * lists as running the numbers of the rows it had not processed, and its
 * next batch delivers exactly those.
 *
 * The stamps are rewritten with heap_inplace_update (WAL-logged, not
 * transactional), under an AccessExclusiveLock on the stream, and the
 * indexes that may hold them are built again.  A row
 * already carrying such a number keeps it, so a call that failed after
 * rewriting some rows can be made again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "catalog/index.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type_d.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "common/pgs_common.h"
#include "exec/pgs_batch.h"
#include "source/pgs_offsets.h"

/* is the stamp visible in snapshot s, as pg_visible_in_snapshot says? */
static bool
rs_visible(const PgsXidSnapshot *s, uint64 stamp)
{
	if (stamp < s->xmin)
		return true;
	if (stamp >= s->xmax)
		return false;
	return !pgs_snapshot_running(s, stamp);
}

/*
 * The stamps changed under the stream's indexes: those that hold the stamp
 * column, and those with expressions or a predicate (which may read it),
 * are built again.
 */
static void
rs_reindex(Relation rel, AttrNumber attno)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		Relation	index = index_open(indexoid, AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		reads = !heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, NULL) ||
			!heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL);
		int			i;

		for (i = 0; i < form->indnatts; i++)
			if (form->indkey.values[i] == attno)
				reads = true;
		index_close(index, AccessShareLock);
		if (reads)
		{
			ReindexParams params = {0};

			reindex_index(indexoid, false, rel->rd_rel->relpersistence, &params);
		}
	}
	list_free(indexes);
}

/*
 * Stamp the restored rows of stream relid (xmin = restore) again, for the
 * nqueries restored checkpoints whose end snapshots are ends[] (0: it
 * processed nothing).  seen[mask] is set for every mask some row got
 * (PGS_RESTAMP_CLASSES entries).  Returns the number of rows stamped again.
 * The caller holds an AccessExclusiveLock on the stream.
 */
int64
pgs_restamp_restored(Oid relid, FullTransactionId restore, int nqueries,
					 const Datum *ends, bool *seen)
{
	memset(seen, 0, sizeof(bool) * PGS_RESTAMP_CLASSES);
	return pgs_restamp_restored_bits(relid, restore, nqueries, ends, NULL, seen);
}

/*
 * The same for one stream of several stamped again at once, whose queries
 * are numbered together (a join reads two streams through one snapshot
 * pair, so its bit means the same in both): bit i stands for the snapshot
 * ends[i] (0: none, every row is after it), set when a row is not visible
 * in it, and only where reads[i] says that the query of bit i reads this
 * stream (NULL: every bit does).  seen[] is added to, not cleared.
 */
int64
pgs_restamp_restored_bits(Oid relid, FullTransactionId restore, int nqueries,
						  const Datum *ends, const bool *reads, bool *seen)
{
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	desc = RelationGetDescr(rel);
	PgsXidSnapshot *snaps = palloc0(sizeof(PgsXidSnapshot) * (nqueries + 1));
	AttrNumber	attno = InvalidAttrNumber;
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	TableScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	int64		restamped = 0;
	bool		stamped_before = false;
	int			i;

	Assert(nqueries <= PGS_RESTAMP_MAX_QUERIES);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->atttypid == XID8OID &&
			strcmp(NameStr(att->attname), PGS_XID_COLUMN) == 0)
			attno = att->attnum;
	}
	if (attno == InvalidAttrNumber)
		elog(ERROR, "stream table \"%s\" has no column %s",
			 RelationGetRelationName(rel), PGS_XID_COLUMN);
	for (i = 0; i < nqueries; i++)
		if (ends[i] != (Datum) 0)
			pgs_snapshot_parse(ends[i], &snaps[i]);

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		should_free;
		HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
		uint64		stamp;
		uint64		mask = 0;
		HeapTuple	newtup;

		if (!TransactionIdEquals(HeapTupleHeaderGetRawXmin(tup->t_data),
								 XidFromFullTransactionId(restore)))
		{
			if (should_free)
				heap_freetuple(tup);
			continue;
		}
		heap_deform_tuple(tup, desc, values, nulls);
		stamp = nulls[attno - 1] ? 0 :
			U64FromFullTransactionId(DatumGetFullTransactionId(values[attno - 1]));
		if (stamp >= FirstNormalTransactionId &&
			stamp < FirstNormalTransactionId + PGS_RESTAMP_CLASSES)
		{
			mask = stamp - FirstNormalTransactionId;	/* stamped before */
			stamped_before = true;
		}
		else
		{
			for (i = 0; i < nqueries; i++)
				if ((reads == NULL || reads[i]) &&
					(ends[i] == (Datum) 0 || !rs_visible(&snaps[i], stamp)))
					mask |= UINT64CONST(1) << i;
		}
		seen[mask] = true;
		if (stamp != FirstNormalTransactionId + mask)
		{
			values[attno - 1] = FullTransactionIdGetDatum(FullTransactionIdFromU64(FirstNormalTransactionId + mask));
			nulls[attno - 1] = false;
			newtup = heap_form_tuple(desc, values, nulls);
			newtup->t_self = tup->t_self;
			heap_inplace_update(rel, newtup);
			heap_freetuple(newtup);
			restamped++;
		}
		if (should_free)
			heap_freetuple(tup);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	/*
	 * The stamps are rewritten in place, outside the transaction, and the
	 * indexes are built again inside it: rows found stamped by a call that
	 * did not commit have indexes of before, so they are built again too.
	 */
	if (restamped > 0 || stamped_before)
		rs_reindex(rel, attno);
	table_close(rel, NoLock);
	return restamped;
}
