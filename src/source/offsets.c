/*-------------------------------------------------------------------------
 *
 * offsets.c
 *	  Batch boundaries: transaction snapshots and the block floors recorded
 *	  with them.
 *
 * Batch N holds the stream rows whose writing transaction is visible in its
 * end snapshot "hi" and not in its start snapshot "lo" (the previous batch's
 * end).  As PgQ does, those rows are found as the union of two disjoint
 * parts: (a) xid >= xmax(lo) and visible in hi; (b) xid in xip(lo) minus
 * xip(hi), the transactions that were open at lo and have finished by hi.
 * A long-open writer never stalls a batch: its rows arrive in the first
 * batch after it commits.  A snapshot must never be taken by a transaction
 * that may still write stream rows under an xid the snapshot calls visible;
 * pgs_take_snapshot() therefore lists the caller's own xid as running.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "storage/itemptr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "catalog/pgs_catalog.h"
#include "common/pgs_common.h"
#include "source/pgs_offsets.h"
#include "storage/pgs_placement.h"

/* widen a 32-bit xid that is known to be recent to a full one */
static uint64
off_widen(FullTransactionId next, TransactionId xid)
{
	TransactionId next_xid = XidFromFullTransactionId(next);
	uint64		next_u64 = U64FromFullTransactionId(next);

	if (!TransactionIdIsNormal(xid))
		return (uint64) xid;
	return next_u64 + (int64) (int32) (xid - next_xid);
}

/*
 * Take a batch-end snapshot now, whatever the isolation level: a fresh one,
 * never the transaction snapshot.  The caller holds the query's lock, so the
 * snapshot is later than the end of every batch already planned.  With
 * own_running, the caller's own transaction counts as running; without it,
 * the caller promises that its transaction writes no stream rows, and its
 * xid is left out so that it holds back no block floor.
 */
Datum
pgs_take_snapshot(bool own_running)
{
	Snapshot	snap = GetLatestSnapshot();
	FullTransactionId next = ReadNextFullTransactionId();
	TransactionId own = GetTopTransactionIdIfAny();
	PgsXidSnapshot s;
	uint64		x;
	uint64		own_full;
	int			i;

	s.xmin = off_widen(next, snap->xmin);
	s.xmax = off_widen(next, snap->xmax);
	s.nxip = 0;
	s.xip = palloc(sizeof(uint64) *
				   (snap->xcnt + 1 + (U64FromFullTransactionId(next) - s.xmax)));
	for (i = 0; i < snap->xcnt; i++)
		s.xip[s.nxip++] = off_widen(next, snap->xip[i]);

	/*
	 * The snapshot's xmax is the latest completed xid plus one, and xids at
	 * or above it may belong to transactions that were already writing when
	 * the snapshot was taken.  Listing them as running, and moving xmax up
	 * to the next xid to be assigned, changes no visibility but makes xmax
	 * mean "every xid from here on was assigned after this snapshot", which
	 * the block floors rely on (see pgs_boundary_floor).
	 */
	own_full = TransactionIdIsValid(own) ? off_widen(next, own) : 0;
	for (x = s.xmax; x < U64FromFullTransactionId(next); x++)
		if (x != own_full)
			s.xip[s.nxip++] = x;
	s.xmax = U64FromFullTransactionId(next);

	/*
	 * Our own transaction may have written stream rows, or may still write
	 * some; either way they are not part of this batch.
	 */
	if (own_running && own_full != 0)
		s.xip[s.nxip++] = own_full;

	s.xmin = s.xmax;
	for (i = 0; i < s.nxip; i++)
		if (s.xip[i] < s.xmin)
			s.xmin = s.xip[i];
	return pgs_snapshot_make(&s);
}

/*
 * The block floor of a new end snapshot hi: the lowest block that can hold
 * a row of a transaction not visible in hi.  A transaction that gets its
 * xid after a snapshot was taken inserts at or after the block that was
 * last when the snapshot was taken (stream_am.c), so:
 *   - xids at or above xmax(hi) lie at or after tail_block (read before hi);
 *   - xids running at hi and at or above xmax(lo) lie after lo's tail_block;
 *   - xids running at hi and below xmax(lo) were running at lo, so they lie
 *     at or after lo's floor.
 * Without a usable lo (the start, or a rewritten table), a running xid may
 * lie anywhere.
 */
int64
pgs_boundary_floor(const PgsBoundary *lo, bool lo_usable, Datum hi_snapshot,
				   int64 tail_block)
{
	PgsXidSnapshot hi;
	int64		floor = tail_block;
	int			i;

	pgs_snapshot_parse(hi_snapshot, &hi);
	for (i = 0; i < hi.nxip; i++)
	{
		if (!lo_usable)
			return 0;
		if (hi.xip[i] < U64FromFullTransactionId(lo->xmax))
			floor = Min(floor, lo->from_block);
		else
			floor = Min(floor, lo->tail_block);
	}
	return Max(floor, 0);
}

/*
 * The floor of hi knowing which transactions write the stream (the registry
 * of placement.c).  A running transaction that is registered is listed in
 * hi's writers with the position it registered, and left out of the floor:
 * a batch reads its blocks once it has committed (pgs_boundary_scan_from).
 * One at or above "since" that is not registered has written nothing, so
 * whatever it writes later lies at or after tail_block.  Others are taken
 * as pgs_boundary_floor takes them.  So a transaction that never writes the
 * stream holds no floor back, and one that does holds back only its own
 * rows.  hi->writer_* are allocated in the current memory context.
 */
int64
pgs_boundary_floor_known(const PgsBoundary *lo, bool lo_usable,
						 Datum hi_snapshot, int64 tail_block, Oid relfilenode,
						 uint64 since, const PgsWriter *writers, int nwriters,
						 PgsBoundary *hi)
{
	PgsXidSnapshot s;
	int64		floor = tail_block;
	int			i;
	int			j;

	pgs_snapshot_parse(hi_snapshot, &s);
	hi->nwriters = 0;
	hi->writer_xids = palloc(sizeof(uint64) * (s.nxip + 1));
	hi->writer_firsts = palloc(sizeof(int64) * (s.nxip + 1));
	for (i = 0; i < s.nxip; i++)
	{
		uint64		x = s.xip[i];
		bool		registered = false;

		/* the lowest of its registrations, should there be several */
		for (j = 0; j < nwriters; j++)
			if (writers[j].xid == x)
			{
				if (writers[j].relfilenode != relfilenode)
					floor = 0;	/* registered on storage since rewritten */
				else if (!registered)
				{
					hi->writer_xids[hi->nwriters] = x;
					hi->writer_firsts[hi->nwriters] = writers[j].first;
					hi->nwriters++;
				}
				else
					hi->writer_firsts[hi->nwriters - 1] =
						Min(hi->writer_firsts[hi->nwriters - 1], writers[j].first);
				registered = true;
			}
		if (registered || x >= since)
			continue;
		/* a writer lo listed that the registry no longer knows: its place */
		for (j = 0; j < lo->nwriters && !registered; j++)
			if (lo->writer_xids[j] == x)
			{
				registered = true;
				floor = Min(floor, lo_usable ? lo->writer_firsts[j] : 0);
			}
		if (registered)
			continue;
		if (!lo_usable)
			return 0;
		if (x < U64FromFullTransactionId(lo->xmax))
			floor = Min(floor, lo->from_block);
		else
			floor = Min(floor, lo->tail_block);
	}
	return Max(floor, 0);
}

/*
 * Where a batch from lo to hi starts reading: lo's floor, or earlier for
 * the writers lo listed that hi sees committed (their rows are this
 * batch's).  Writers still running at hi are left for a later batch.
 */
int64
pgs_boundary_scan_from(const PgsBoundary *lo, Datum hi_snapshot)
{
	PgsXidSnapshot s;
	int64		from = lo->from_block;
	int			i;

	if (lo->nwriters == 0)
		return from;
	pgs_snapshot_parse(hi_snapshot, &s);
	for (i = 0; i < lo->nwriters; i++)
	{
		uint64		x = lo->writer_xids[i];

		if (x < s.xmax && pgs_snapshot_running(&s, x))
			continue;
		from = Min(from, lo->writer_firsts[i]);
	}
	return Max(from, 0);
}

/*
 * snap with committed transaction xid, which it does not see (listed as
 * running, or at its xmax), made visible and nothing else changed.
 */
Datum
pgs_snapshot_without(Datum snap, FullTransactionId xid)
{
	PgsXidSnapshot s;
	uint64		x = U64FromFullTransactionId(xid);
	int			n = 0;
	int			i;

	pgs_snapshot_parse(snap, &s);
	if (x >= s.xmax)
	{
		/* the xids from xmax up to xid stay unseen: listed as running */
		if (x - s.xmax > (uint64) 1000000)
			elog(ERROR, "transaction " UINT64_FORMAT " is too far past the snapshot's xmax", x);
		s.xip = repalloc(s.xip, sizeof(uint64) * (s.nxip + (x - s.xmax) + 1));
		while (s.xmax < x)
			s.xip[s.nxip++] = s.xmax++;
		s.xmax = x + 1;
	}
	for (i = 0; i < s.nxip; i++)
		if (s.xip[i] != x)
			s.xip[n++] = s.xip[i];
	s.nxip = n;
	s.xmin = s.xmax;
	for (i = 0; i < s.nxip; i++)
		if (s.xip[i] < s.xmin)
			s.xmin = s.xip[i];
	return pgs_snapshot_make(&s);
}

/*
 * A snapshot between lo and hi that makes visible only the transactions of
 * the batch whose xid is below "cut": the end of a batch capped by
 * max_rows_per_batch.  "excluded" lists the batch's xids at or above the cut
 * that are below xmax(lo) (part (b) transactions left for later).
 */
Datum
pgs_cut_snapshot(const PgsBoundary *lo, Datum hi_snapshot,
				 FullTransactionId cut, FullTransactionId *excluded,
				 int nexcluded)
{
	PgsXidSnapshot hi;
	PgsXidSnapshot out;
	uint64		cut_u64 = U64FromFullTransactionId(cut);
	uint64		lo_xmax = lo->is_start ? 0 : U64FromFullTransactionId(lo->xmax);
	int			i;

	pgs_snapshot_parse(hi_snapshot, &hi);
	out.xmax = Max(cut_u64, lo_xmax);
	out.nxip = 0;
	out.xip = palloc(sizeof(uint64) * (hi.nxip + nexcluded + 1));
	for (i = 0; i < hi.nxip; i++)
		if (hi.xip[i] < out.xmax)
			out.xip[out.nxip++] = hi.xip[i];
	for (i = 0; i < nexcluded; i++)
	{
		uint64		x = U64FromFullTransactionId(excluded[i]);

		if (x < out.xmax)
			out.xip[out.nxip++] = x;
	}
	out.xmin = out.xmax;
	for (i = 0; i < out.nxip; i++)
		if (out.xip[i] < out.xmin)
			out.xmin = out.xip[i];
	return pgs_snapshot_make(&out);
}

/*
 * May the query's owner run the batch's existence test as a statement, and
 * would the statement see every row of the stream's ranges?  The statement
 * reads the stream by its qualified name and calls stream._batch_member:
 * it needs USAGE on both schemas, SELECT on the stream and EXECUTE on the
 * function, and row security would hide rows from it.  Where any of these
 * fails, the C read below could answer differently, so it does not answer;
 * nor where the table's access method has no TID range scans.
 */
static bool
off_owner_reads_all(Relation rel, Oid owner)
{
	Oid			argtypes[3] = {XID8OID, TIDOID, BYTEAOID};
	Oid			stream_nsp = get_namespace_oid("stream", true);
	Oid			member;

	if (rel->rd_rel->relkind != RELKIND_RELATION || !OidIsValid(stream_nsp) ||
		rel->rd_tableam->scan_set_tidrange == NULL ||
		rel->rd_tableam->scan_getnextslot_tidrange == NULL)
		return false;
	if (pg_namespace_aclcheck(RelationGetNamespace(rel), owner, ACL_USAGE) != ACLCHECK_OK ||
		pg_namespace_aclcheck(stream_nsp, owner, ACL_USAGE) != ACLCHECK_OK ||
		pg_class_aclcheck(RelationGetRelid(rel), owner, ACL_SELECT) != ACLCHECK_OK)
		return false;
	if (check_enable_rls(RelationGetRelid(rel), owner, true) == RLS_ENABLED)
		return false;
	member = LookupFuncName(list_make2(makeString("stream"), makeString("_batch_member")),
							3, argtypes, true);
	return OidIsValid(member) &&
		pg_proc_aclcheck(member, owner, ACL_EXECUTE) == ACLCHECK_OK;
}

/*
 * Has the batch of these parameters (pgs_batch_params) a row?  What the
 * statement "SELECT 1 FROM <the batch's rows> LIMIT 1" run as the query's
 * owner answers, read in C: the batch's two ranges of blocks by TID range
 * scans, in order, under the snapshot the statement would take, each row
 * put to the batch predicate itself (which counts the row it accepts, as
 * in the statement), stopping at the first it accepts.  A planning step
 * that finds no rows pays no executor start and end for the statement.
 * Returns 1 or 0; -1 where the statement could answer otherwise or fail
 * (a catalog before 0.10, whose predicate takes the boundaries one by one;
 * a stream the owner may not read whole, see off_owner_reads_all), for the
 * caller to run the statement.
 */
int
pgs_batch_has_rows(Oid stream_relid, Oid owner, const PgsBatchParams *params)
{
	Relation	rel;
	TupleDesc	desc;
	AttrNumber	xid_att;
	Snapshot	snapshot;
	TupleTableSlot *slot;
	FmgrInfo	member;
	bool		found = false;
	int			r;

	if (!pgs_catalog_packs_boundaries())
		return -1;
	rel = table_open(stream_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	xid_att = pgs_column_attnum(desc, PGS_XID_COLUMN);
	if (xid_att == InvalidAttrNumber ||
		TupleDescAttr(desc, xid_att - 1)->atttypid != XID8OID ||
		!off_owner_reads_all(rel, owner))
	{
		table_close(rel, NoLock);
		return -1;
	}

	memset(&member, 0, sizeof(member));
	member.fn_addr = stream_batch_member_packed;
	member.fn_oid = InvalidOid;
	member.fn_nargs = 3;
	member.fn_strict = true;
	member.fn_mcxt = CurrentMemoryContext;

	snapshot = pgs_catalog_statement_snapshot();
	slot = table_slot_create(rel, NULL);
	/* the ranges $7..$10 and $11..$12, each from a tid to before one */
	for (r = 0; r < 2 && !found; r++)
	{
		ItemPointer lo = (ItemPointer) DatumGetPointer(params->values[r == 0 ? 6 : 10]);
		ItemPointerData hi = *(ItemPointer) DatumGetPointer(params->values[r == 0 ? 9 : 11]);
		TableScanDesc scan;

		if (ItemPointerCompare(lo, &hi) >= 0)
			continue;
		ItemPointerDec(&hi);
		scan = table_beginscan_tidrange(rel, snapshot, lo, &hi);
		while (table_scan_getnextslot_tidrange(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		xid = slot_getattr(slot, xid_att, &isnull);

			CHECK_FOR_INTERRUPTS();
			/* the predicate is strict: a row without a stamp is no member */
			if (isnull)
				continue;
			if (DatumGetBool(FunctionCall3(&member, xid,
										   PointerGetDatum(&slot->tts_tid),
										   params->values[12])))
			{
				found = true;
				break;
			}
		}
		table_endscan(scan);
	}
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return found ? 1 : 0;
}
