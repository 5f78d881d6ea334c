/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Removing what a stream no longer needs, and reusing its space.
 *
 * A row may go when every query that holds retention back has committed a
 * batch past it, and it is older than the stream's "keep".  Both are
 * decided by the row's transaction: it must be visible in the latest
 * committed end snapshot of each such query (so processed), and in a
 * snapshot taken at least "keep" ago (stream.retention_marks).  No row a
 * query has yet to read is ever touched.
 *
 * A pass walks the stream in the order its blocks were written (positions,
 * see pgs_placement.h), from where the last pass stopped, deleting the rows
 * that may go, and stops at the first row that must stay: what lies behind
 * the walk is then empty once VACUUM has removed the dead rows.  The next
 * pass looks at those blocks again; the first stretch of them that is
 * empty becomes a recycled run, which the writers fill before they append
 * to the table again, so that under a steady ingest the table stops
 * growing.  Each step is transactional: a crash in the middle loses the
 * step's deletions and leaves the runs as they were.
 *
 * A pass never waits: the database's scheduler runs it, and every query of
 * the database waits for the scheduler.  A row somebody holds a lock on
 * stays, the walk stops at it, and the locker is recorded (and, if it
 * lasts, warned about).  The stream's owner, not the roles reading it,
 * decides how long a query may hold rows back (max_hold, detach_query);
 * a query passed over is marked (missed_rows_at), never silently.
 *
 * Only catalog/ runs statements on stream.*, stream_state, stream_batch
 * and stream_query: the rows of stream.retention, stream.retention_marks
 * and stream.stream_runs, and what a pass reads of and marks on the
 * queries, are read and written by catalog/retention_catalog.c and
 * catalog/stream_catalog.c; this file decides what they say.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "catalog/pgs_storage_catalog.h"
#include "common/pgs_common.h"
#include "common/pgs_snapshot.h"
#include "storage/pgs_placement.h"
#include "storage/pgs_retention.h"

PG_FUNCTION_INFO_V1(stream_set_retention);
PG_FUNCTION_INFO_V1(stream_run_retention);
PG_FUNCTION_INFO_V1(stream_detach_query);

/* blocks one pass walks at the most */
#define RETENTION_PASS_BLOCKS	4096

/* a pass held back by the same row lock warns again after this long */
#define RETENTION_BLOCKED_WARN_MS	(10 * 60 * 1000)

/* recycled runs made by this transaction, for the writers at commit */
static bool publish_pending = false;
static Oid	publish_relid = InvalidOid;
static Oid	publish_relfilenode = InvalidOid;
static PgsRun publish_runs[PGS_MAX_QUEUED_RUNS];
static int	publish_nruns = 0;
static int64 publish_fallback_run;
static int64 publish_fallback_first;
static SubTransactionId publish_subid = InvalidSubTransactionId;

/*
 * The runs' catalog rows go with the subtransaction that wrote them: so does
 * their publication.  One that commits hands it to its parent.
 */
void
pgs_retention_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid)
{
	if (!publish_pending || mySubid != publish_subid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		publish_pending = false;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		publish_subid = parentSubid;
}

/* from the transaction-end dispatcher: a committed pass's runs go public */
void
pgs_retention_at_xact_end(XactEvent event)
{
	if (event == XACT_EVENT_COMMIT && publish_pending)
		pgs_placement_add_runs(publish_relid, publish_relfilenode, publish_runs,
							   publish_nruns, publish_fallback_run,
							   publish_fallback_first);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		publish_pending = false;
}

/* what the pass reads of stream.retention */
typedef PgsRetentionRow RetSettings;

/* lock the stream's retention row; false when it has no retention */
static bool
ret_read_settings(Oid relid, bool nowait, RetSettings *s)
{
	return pgs_retention_lock_row(relid, nowait, s);
}

/* may a row of transaction x go, as far as snapshot s says? */
static bool
ret_visible(const PgsXidSnapshot *s, uint64 x)
{
	if (x < s->xmin)
		return true;
	if (x >= s->xmax)
		return false;
	return !pgs_snapshot_running(s, x);
}

#define RET_MAX_CUTS	64

/* set by the layer that knows a join's shape */
pgs_retention_join_hold_hook_type pgs_retention_join_hold_hook = NULL;

/*
 * What a pass may remove: the rows visible in every one of "snaps"; and
 * the queries that do not hold removal back, each told whether a removed
 * row was one it had not read.  With the stream's max_hold, a row visible
 * in "hold" (its transaction ended at least max_hold ago) goes past the
 * queries that have not read it, and marks them.
 */
typedef struct RetCut
{
	int			nsnaps;
	PgsXidSnapshot snaps[RET_MAX_CUTS];
	int64		snap_query[RET_MAX_CUTS];	/* the query of each, 0 for the age */
	bool		snap_missed[RET_MAX_CUTS];	/* a removed row it had not read */
	bool		has_hold;
	PgsXidSnapshot hold;
	int64		held_by;		/* the query that kept a row the age let go */
	TransactionId blocker;		/* the first row lock the pass stopped at */
	uint64		min_xmin;
	int			nbehind;
	int64	   *behind_ids;
	PgsXidSnapshot *behind;
	bool	   *missed;
} RetCut;

static void
ret_cut_add(RetCut *cut, Datum snapshot, int64 query_id)
{
	PgsXidSnapshot *s = &cut->snaps[cut->nsnaps];

	cut->snap_query[cut->nsnaps++] = query_id;
	pgs_snapshot_parse(snapshot, s);
	if (cut->nsnaps == 1 || s->xmin < cut->min_xmin)
		cut->min_xmin = s->xmin;
}

/* a snapshot already taken apart, as ret_cut_add */
static void
ret_cut_add_parsed(RetCut *cut, const PgsXidSnapshot *snap, int64 query_id)
{
	cut->snaps[cut->nsnaps] = *snap;
	cut->snap_query[cut->nsnaps++] = query_id;
	if (cut->nsnaps == 1 || snap->xmin < cut->min_xmin)
		cut->min_xmin = snap->xmin;
}

/*
 * A query that has committed no batch has read nothing: with a max_hold it
 * holds only the rows younger than that, so it gets a snapshot in which no
 * transaction is visible.
 */
static void
ret_cut_add_nothing(RetCut *cut, int64 query_id)
{
	PgsXidSnapshot *s = &cut->snaps[cut->nsnaps];

	cut->snap_query[cut->nsnaps++] = query_id;
	memset(s, 0, sizeof(PgsXidSnapshot));
	cut->min_xmin = 0;
}

/*
 * The age cut: the snapshot of the latest mark at least "keep" old (false
 * when there is none yet); with max_hold, the hold cut too, the latest mark
 * at least max_hold old (pgs_retention_marks_cut keeps the marks).
 */
static bool
ret_age_cut(Oid relid, Interval *keep, Interval *max_hold, RetCut *cut)
{
	Datum		snapshot;
	Datum		hold_snapshot;
	bool		found;

	found = pgs_retention_marks_cut(relid, keep, max_hold, &snapshot,
									&hold_snapshot);
	if (found)
		ret_cut_add(cut, snapshot, 0);
	if (hold_snapshot != (Datum) 0)
	{
		pgs_snapshot_parse(hold_snapshot, &cut->hold);
		cut->has_hold = true;
	}
	return found;
}

/*
 * A join between streams reads again the rows of a side that a later row of
 * the other side may still meet, and the rows its state table names: its
 * cut is its latest end snapshot with xmax lowered to the smallest xid of
 * those rows (and the running transactions from there on left out), so
 * that a row goes only when its transaction is older than every row the
 * join may still read and ended before the batch.  Rows of one transaction
 * go together, and the pass walks in the order the blocks were written:
 * this keeps no row the join needs and costs one read of the rows it may
 * still read (the layer above says which) per pass, none per batch.  False
 * when the join holds every row (a side without a bound).
 */
static bool
ret_join_snapshot(Oid relid, const PgsRetentionHolder *h, PgsXidSnapshot *snap)
{
	uint64		min_xid;
	int			i;

	if (pgs_retention_join_hold_hook == NULL ||
		!pgs_retention_join_hold_hook(h->query_id, relid, h->end_snapshot, &min_xid))
		return false;
	pgs_snapshot_parse(h->end_snapshot, snap);
	if (min_xid < snap->xmax)
	{
		int			n = 0;

		snap->xmax = min_xid;
		if (snap->xmin > min_xid)
			snap->xmin = min_xid;
		for (i = 0; i < snap->nxip; i++)
			if (snap->xip[i] < min_xid)
				snap->xip[n++] = snap->xip[i];
		snap->nxip = n;
	}
	return true;
}

/*
 * The queries' cut: the latest committed end snapshot of each query that
 * holds removal back (every query, or the active ones with past_inactive;
 * never one the stream's owner detached).  Returns false when one of them
 * has committed no batch and the stream has no max_hold (nothing may go;
 * *held_by gets it).
 */
static bool
ret_query_cut(Oid relid, bool past_inactive, bool with_hold, RetCut *cut,
			  int64 *held_by)
{
	PgsRetentionHolder *holders;
	bool		ok = true;
	int			n;
	int			i;

	*held_by = 0;
	n = pgs_retention_holders(relid, &holders);
	cut->behind_ids = palloc0(sizeof(int64) * (n + 1));
	cut->behind = palloc0(sizeof(PgsXidSnapshot) * (n + 1));
	cut->missed = palloc0(sizeof(bool) * (n + 1));
	for (i = 0; i < n; i++)
	{
		int64		query_id = holders[i].query_id;
		bool		active = holders[i].active;
		bool		detached = holders[i].detached;
		bool		isnull = holders[i].read_nothing;
		Datum		snapshot = holders[i].end_snapshot;
		bool		join_cut = false;
		PgsXidSnapshot join_snap;

		/* a join that holds every row counts as one that has read nothing */
		if (holders[i].join && !isnull)
		{
			join_cut = ret_join_snapshot(relid, &holders[i], &join_snap);
			isnull = !join_cut;
		}
		if ((active || !past_inactive) && !detached)
		{
			if (cut->nsnaps >= RET_MAX_CUTS)
			{
				if (ok)
					*held_by = query_id;
				ok = false;
			}
			else if (isnull && with_hold)
				ret_cut_add_nothing(cut, query_id);
			else if (isnull)
			{
				/* it has read nothing yet */
				if (ok)
					*held_by = query_id;
				ok = false;
			}
			else if (join_cut)
				ret_cut_add_parsed(cut, &join_snap, query_id);
			else
				ret_cut_add(cut, snapshot, query_id);
		}
		else
		{
			/* one that has committed nothing has read nothing */
			cut->behind_ids[cut->nbehind] = query_id;
			if (join_cut)
				cut->behind[cut->nbehind] = join_snap;
			else if (!isnull)
				pgs_snapshot_parse(snapshot, &cut->behind[cut->nbehind]);
			cut->nbehind++;
		}
	}
	return ok;
}

/* the attribute number of _stream_xid */
static AttrNumber
ret_xid_attno(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->atttypid == XID8OID &&
			strcmp(NameStr(att->attname), PGS_XID_COLUMN) == 0)
			return att->attnum;
	}
	elog(ERROR, "stream table \"%s\" has no column %s",
		 RelationGetRelationName(rel), PGS_XID_COLUMN);
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/*
 * A removed row of transaction x: the queries that had not read it missed
 * it, and say so.
 */
static void
ret_note_missed(RetCut *cut, uint64 x)
{
	int			i;

	for (i = 0; i < cut->nsnaps; i++)
		if (cut->snap_query[i] != 0 && !ret_visible(&cut->snaps[i], x))
			cut->snap_missed[i] = true;
	for (i = 0; i < cut->nbehind; i++)
		if (cut->behind[i].xmax == 0 || !ret_visible(&cut->behind[i], x))
			cut->missed[i] = true;
}

/*
 * The transaction whose lock on the row at tid kept it from being removed,
 * or InvalidTransactionId when none holds one any longer.  Of several
 * lockers (a multixact), the first still running.
 */
static TransactionId
ret_row_locker(Relation rel, ItemPointer tid)
{
	Buffer		buf = ReadBuffer(rel, ItemPointerGetBlockNumber(tid));
	Page		page;
	ItemId		itemid;
	TransactionId result = InvalidTransactionId;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(tid));
	if (ItemIdIsNormal(itemid))
	{
		HeapTupleHeader tup = (HeapTupleHeader) PageGetItem(page, itemid);
		uint16		infomask = tup->t_infomask;
		TransactionId xmax = HeapTupleHeaderGetRawXmax(tup);

		if (infomask & HEAP_XMAX_INVALID)
			result = InvalidTransactionId;
		else if (infomask & HEAP_XMAX_IS_MULTI)
		{
			MultiXactMember *members;
			int			n;
			int			i;

			n = GetMultiXactIdMembers(xmax, &members, false,
									  HEAP_XMAX_IS_LOCKED_ONLY(infomask));
			for (i = 0; i < n && !TransactionIdIsValid(result); i++)
				if (TransactionIdIsInProgress(members[i].xid))
					result = members[i].xid;
			if (n > 0)
				pfree(members);
		}
		else if (TransactionIdIsInProgress(xmax))
			result = xmax;
	}
	UnlockReleaseBuffer(buf);
	return result;
}

/*
 * Delete the rows of block blk that may go (see RetCut).  Returns false
 * when the block holds a row that must stay.  A row that somebody holds a
 * lock on (FOR KEY SHARE, FOR UPDATE, a prepared transaction) stays too:
 * the pass never waits for a lock, since the scheduler that runs it serves
 * every query of the database; cut->blocker gets the first such locker.
 */
static bool
ret_clear_block(Relation rel, BlockNumber blk, AttrNumber xid_attno,
				RetCut *cut, TransactionId oldest_xmin, int64 *removed)
{
	Buffer		buf;
	Page		page;
	OffsetNumber off;
	OffsetNumber maxoff;
	ItemPointerData doomed[MaxHeapTuplesPerPage];
	uint64		doomed_xid[MaxHeapTuplesPerPage];
	int			ndoomed = 0;
	bool		clear = true;
	int			i;

	buf = ReadBuffer(rel, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
	for (off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
	{
		ItemId		itemid = PageGetItemId(page, off);
		HeapTupleData tuple;
		bool		isnull;
		Datum		d;

		if (!ItemIdIsNormal(itemid))
			continue;
		tuple.t_data = (HeapTupleHeader) PageGetItem(page, itemid);
		tuple.t_len = ItemIdGetLength(itemid);
		tuple.t_tableOid = RelationGetRelid(rel);
		ItemPointerSet(&tuple.t_self, blk, off);
		switch (HeapTupleSatisfiesVacuum(&tuple, oldest_xmin, buf))
		{
			case HEAPTUPLE_DEAD:
			case HEAPTUPLE_RECENTLY_DEAD:
			case HEAPTUPLE_DELETE_IN_PROGRESS:
				continue;		/* gone, or going */
			case HEAPTUPLE_INSERT_IN_PROGRESS:
				clear = false;	/* a writer's row */
				continue;
			case HEAPTUPLE_LIVE:
				break;
		}
		d = heap_getattr(&tuple, xid_attno, RelationGetDescr(rel), &isnull);
		if (isnull)
			clear = false;
		else
		{
			uint64		x = U64FromFullTransactionId(DatumGetFullTransactionId(d));
			bool		go = true;

			for (i = 0; i < cut->nsnaps && go; i++)
			{
				if (ret_visible(&cut->snaps[i], x))
					continue;
				/* a query has not read it: past max_hold it goes anyway */
				if (cut->snap_query[i] != 0 && cut->has_hold &&
					ret_visible(&cut->hold, x))
					continue;
				/* old enough, but a query has not read it: that one holds it */
				if (cut->held_by == 0 && cut->snap_query[i] != 0)
					cut->held_by = cut->snap_query[i];
				go = false;
			}
			if (!go)
			{
				clear = false;
				continue;
			}
			doomed_xid[ndoomed] = x;
			doomed[ndoomed++] = tuple.t_self;
		}
	}
	UnlockReleaseBuffer(buf);
	for (i = 0; i < ndoomed; i++)
	{
		TM_FailureData tmfd;
		TM_Result	result;

		result = heap_delete(rel, &doomed[i], GetCurrentCommandId(true),
							 InvalidSnapshot, false /* never wait */ ,
							 &tmfd, false);
		if (result == TM_Ok)
		{
			ret_note_missed(cut, doomed_xid[i]);
			(*removed)++;
			continue;
		}
		if (result == TM_SelfModified)
			elog(ERROR, "row (%u,%u) of stream table \"%s\" was changed by the retention pass itself",
				 ItemPointerGetBlockNumber(&doomed[i]),
				 ItemPointerGetOffsetNumber(&doomed[i]),
				 RelationGetRelationName(rel));
		/* locked by another transaction: it stays for this pass */
		clear = false;
		if (result == TM_BeingModified && !TransactionIdIsValid(cut->blocker))
			cut->blocker = ret_row_locker(rel, &doomed[i]);
	}
	return clear;
}

/* one stretch of blocks to walk or to look at, at positions of one run */
typedef struct RetStretch
{
	int64		run;
	int64		first;
	int64		end;
} RetStretch;

/*
 * The stretches of blocks from position "from" up to "upto" and no further
 * than the frontier that writers may be using (the current recycled run's
 * cursor, or the table's last block), in the order of positions; with
 * through_frontier, the frontier's block too.  *frontier gets its position.
 */
static List *
ret_stretches(Oid relid, Relation rel, int64 from, int64 upto,
			  bool through_frontier, int64 *frontier)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	int64		last = nblocks > 0 ? (int64) nblocks - 1 : 0;
	PgsPlacementState st;
	PgsRun	   *runs;
	PgsRun		only = {0, 0, -1, false};
	List	   *result = NIL;
	int			n;
	int			i;

	*frontier = 0;
	if (nblocks == 0)
		return NIL;				/* a stream with no blocks has nothing to walk */
	n = pgs_runs_load(relid, rel->rd_node.relNode, &runs);
	if (n < 0)
		return NIL;
	if (n == 0)
	{
		runs = &only;			/* nothing recycled yet: run 0 from block 0 */
		n = 1;
	}
	if (pgs_placement_read(relid, &st) && st.relfilenode == rel->rd_node.relNode &&
		st.recycled)
		*frontier = PGS_POSITION(st.run, st.cursor);
	else if (publish_pending && publish_relid == relid &&
			 publish_relfilenode == rel->rd_node.relNode && publish_nruns > 0)
	{
		/*
		 * This transaction made recycled runs: the writers turn to the
		 * first when it commits, so the walk must not go past its start.
		 */
		*frontier = PGS_POSITION(publish_runs[0].run, publish_runs[0].first_block);
	}
	else
		*frontier = PGS_POSITION(runs[n - 1].run, last);
	if (upto >= *frontier)
		upto = through_frontier ? *frontier + 1 : *frontier;

	for (i = 0; i < n; i++)
	{
		PgsRun	   *r = &runs[i];
		RetStretch *s;
		int64		first = r->first_block;
		int64		end = r->end_block >= 0 ? r->end_block : last + 1;

		if (r->run < PGS_POSITION_RUN(from) || r->run > PGS_POSITION_RUN(upto))
			continue;
		if (r->run == PGS_POSITION_RUN(from))
			first = Max(first, PGS_POSITION_BLOCK(from));
		if (r->run == PGS_POSITION_RUN(upto))
			end = Min(end, PGS_POSITION_BLOCK(upto));
		end = Min(end, last + 1);
		if (first >= end)
			continue;
		s = palloc(sizeof(RetStretch));
		s->run = r->run;
		s->first = first;
		s->end = end;
		result = lappend(result, s);
	}
	return result;
}

/* does block blk hold nothing at all (after VACUUM)? */
static bool
ret_block_empty(Relation rel, BlockNumber blk)
{
	Buffer		buf = ReadBuffer(rel, blk);
	Page		page;
	bool		empty = true;
	OffsetNumber off;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page))
		for (off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			if (ItemIdIsUsed(PageGetItemId(page, off)))
			{
				empty = false;
				break;
			}
	UnlockReleaseBuffer(buf);
	return empty;
}

#define RET_MAX_FOUND	PGS_MAX_QUEUED_RUNS

static bool
ret_block_found(const PgsRun *found, int nfound, int64 blk)
{
	int			i;

	for (i = 0; i < nfound; i++)
		if (blk >= found[i].first_block && blk < found[i].end_block)
			return true;
	return false;
}

static int
ret_run_cmp(const void *a, const void *b)
{
	const PgsRun *x = a;
	const PgsRun *y = b;

	return (x->first_block > y->first_block) - (x->first_block < y->first_block);
}

/* is blk in a recycled run the writers have yet to fill? */
static bool
ret_block_queued(const PgsPlacementState *st, int64 blk)
{
	int			i;

	if (!st->recycled)
		return false;
	if (blk >= st->cursor && blk < st->end)
		return true;
	for (i = 0; i < st->nqueued; i++)
		if (blk >= st->queued[i].first_block && blk < st->queued[i].end_block)
			return true;
	return false;
}

/*
 * Make the stretches of empty blocks behind the walk recycled runs,
 * followed by an append run from the table's last block; the writers turn
 * to them when this transaction commits.  Returns the blocks recycled.
 */
static int64
ret_recycle(Oid relid, Relation rel, RetSettings *s)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	PgsPlacementState st;
	PgsRun		found[RET_MAX_FOUND];
	int			nfound = 0;
	List	   *stretches;
	ListCell   *lc;
	int64		next_recycled = s->walk;
	bool		have_next = false;
	bool		have_current;
	int64		frontier;
	int64		total = 0;
	int			i;
	int			j;

	if (!pgs_placement_available() || nblocks < 2)
		return 0;
	have_current = pgs_placement_read(relid, &st) &&
		st.relfilenode == rel->rd_node.relNode;
	stretches = ret_stretches(relid, rel, s->recycled, s->walk, false, &frontier);
	foreach(lc, stretches)
	{
		RetStretch *r = lfirst(lc);
		int64		blk;

		for (blk = r->first; blk < r->end && !have_next; blk++)
		{
			bool		usable;
			PgsRun	   *cur = nfound > 0 ? &found[nfound - 1] : NULL;

			/* a block can be in several runs: look at it once */
			if (ret_block_found(found, nfound, blk))
				continue;
			usable = blk < (int64) nblocks - 1 &&
				!(have_current && ret_block_queued(&st, blk)) &&
				ret_block_empty(rel, (BlockNumber) blk);
			if (usable && cur != NULL && cur->end_block == blk)
				cur->end_block = blk + 1;
			else if (usable && nfound < RET_MAX_FOUND)
			{
				found[nfound].first_block = blk;
				found[nfound].end_block = blk + 1;
				nfound++;
			}
			else if (usable || !ret_block_empty(rel, (BlockNumber) blk))
			{
				/*
				 * The next pass looks again from here: a block that VACUUM
				 * has not emptied yet, or the first one past the runs made.
				 */
				next_recycled = PGS_POSITION(r->run, blk);
				have_next = true;
			}
		}
		if (have_next)
			break;
	}
	s->recycled = next_recycled;
	if (nfound == 0)
		return 0;

	/* in block order, neighbours joined: fewer, longer runs */
	qsort(found, nfound, sizeof(PgsRun), ret_run_cmp);
	for (i = 1, j = 0; i < nfound; i++)
	{
		if (found[i].first_block <= found[j].end_block)
			found[j].end_block = Max(found[j].end_block, found[i].end_block);
		else
			found[++j] = found[i];
	}
	nfound = Min(j + 1, PGS_MAX_QUEUED_RUNS);

	{
		int64		first_blocks[PGS_MAX_QUEUED_RUNS];
		int64		end_blocks[PGS_MAX_QUEUED_RUNS];
		int64		run;

		for (i = 0; i < nfound; i++)
		{
			first_blocks[i] = found[i].first_block;
			end_blocks[i] = found[i].end_block;
		}
		run = pgs_runs_record_recycled(relid, rel->rd_node.relNode,
									   (int64) nblocks, nfound,
									   first_blocks, end_blocks);
		for (i = 0; i < nfound; i++)
		{
			found[i].run = run++;
			found[i].recycled = true;
			total += found[i].end_block - found[i].first_block;
		}

		publish_relid = relid;
		publish_relfilenode = rel->rd_node.relNode;
		memcpy(publish_runs, found, sizeof(PgsRun) * nfound);
		publish_nruns = nfound;
		publish_fallback_run = run;
		publish_fallback_first = (int64) nblocks - 1;
		publish_pending = true;
		publish_subid = GetCurrentSubTransactionId();
	}
	return total;
}

/*
 * Record the row lock the pass stopped at (stream.stream_retention shows
 * it), and warn when the same transaction has held retention back for
 * longer than the time between two background passes: once, and again
 * every RETENTION_BLOCKED_WARN_MS while it lasts.
 */
static void
ret_note_blocker(Relation rel, const RetSettings *s, TransactionId blocker)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz since = now;
	TimestampTz warned_at = 0;

	if (TransactionIdIsValid(blocker) && blocker == s->blocked_by &&
		s->blocked_since != 0)
	{
		since = s->blocked_since;
		warned_at = s->blocked_warned_at;
		if (TimestampDifferenceExceeds(since, now, pgs_retention_naptime_ms) &&
			(warned_at == 0 ||
			 TimestampDifferenceExceeds(warned_at, now, RETENTION_BLOCKED_WARN_MS)))
		{
			int			pid = BackendXidGetPid(blocker);

			if (pid != 0)
				ereport(WARNING,
						(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						 errmsg("retention of stream table \"%s\" is held back by a row lock of transaction %u",
								RelationGetRelationName(rel), blocker),
						 errdetail("Process %d has held a lock on a row that retention would remove since %s; the row and those after it stay until the lock is released.",
								   pid, timestamptz_to_str(since)),
						 errhint("End that transaction; retention goes on by itself afterwards.")));
			else
				ereport(WARNING,
						(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						 errmsg("retention of stream table \"%s\" is held back by a row lock of transaction %u",
								RelationGetRelationName(rel), blocker),
						 errdetail("A prepared transaction (see pg_prepared_xacts) has held a lock on a row that retention would remove since %s; the row and those after it stay until the lock is released.",
								   timestamptz_to_str(since)),
						 errhint("Finish it with COMMIT PREPARED or ROLLBACK PREPARED; retention goes on by itself afterwards.")));
			warned_at = now;
		}
	}
	pgs_retention_record_blocker(RelationGetRelid(rel), blocker, since,
								 warned_at);
}

/*
 * One retention pass over a stream, in the current transaction: recycle
 * the blocks that the last pass emptied (once VACUUM has cleared them),
 * then remove the rows that may go.  Returns the rows removed; *more is
 * set when the pass stopped at its limit rather than at a row that stays.
 * Recycling is asked for once per transaction: the writers hear of it at
 * commit.
 */
int64
pgs_retention_pass(Oid relid, bool recycle, bool nowait, bool *more)
{
	RetSettings s;
	Relation	rel;
	RetCut		cut;
	bool		age_old_enough;
	bool		may_remove;
	int64		held_by;
	int			i;
	List	   *stretches;
	ListCell   *lc;
	int64		removed = 0;
	int64		recycled = 0;
	int64		walked = 0;
	bool		stopped = false;

	*more = false;
	if (!ret_read_settings(relid, nowait, &s))
		return 0;

	/*
	 * The background pass never waits: a lock somebody holds on the stream
	 * would hold up the scheduler, and with it every query of the database.
	 * It tries again next time.
	 */
	if (nowait && !ConditionalLockRelationOid(relid, RowExclusiveLock))
		return 0;
	rel = table_open(relid, nowait ? NoLock : RowExclusiveLock);

	/* positions of a storage that is gone start again */
	if (s.relfilenode != rel->rd_node.relNode)
	{
		PgsRun	   *runs;
		int			n;

		(void) pgs_stream_tail(relid, rel->rd_node.relNode,
							   RelationGetNumberOfBlocks(rel));
		n = pgs_runs_load(relid, rel->rd_node.relNode, &runs);
		s.walk = s.recycled = PGS_POSITION(n > 0 ? runs[0].run : 0, 0);
		s.relfilenode = rel->rd_node.relNode;
	}

	if (recycle)
		recycled = ret_recycle(relid, rel, &s);

	memset(&cut, 0, sizeof(cut));
	age_old_enough = ret_age_cut(relid, s.keep, s.max_hold, &cut);
	may_remove = age_old_enough;
	if (!ret_query_cut(relid, s.past_inactive, s.max_hold != NULL, &cut, &held_by))
		may_remove = false;
	if (!age_old_enough)
		held_by = 0;			/* nothing is old enough: no query holds it back */

	if (may_remove)
	{
		AttrNumber	xid_attno = ret_xid_attno(rel);
		TransactionId oldest_xmin = GetOldestNonRemovableTransactionId(rel);

		int64		frontier;

		/*
		 * The rows at the writers' frontier may go too, but the walk stays
		 * there: rows written after it would be behind it.
		 */
		stretches = ret_stretches(relid, rel, s.walk, PG_INT64_MAX, true, &frontier);
		foreach(lc, stretches)
		{
			RetStretch *r = lfirst(lc);
			int64		blk;

			for (blk = r->first; blk < r->end; blk++)
			{
				if (walked >= RETENTION_PASS_BLOCKS)
				{
					*more = true;
					break;
				}
				CHECK_FOR_INTERRUPTS();
				walked++;
				if (!ret_clear_block(rel, (BlockNumber) blk, xid_attno, &cut,
									 oldest_xmin, &removed))
				{
					stopped = true;
					break;
				}
			}
			s.walk = Min(PGS_POSITION(r->run, blk), frontier);
			if (stopped || *more)
				break;
		}
	}

	/* queries left behind by a removal that went past them */
	if (held_by == 0)
		held_by = cut.held_by;

	for (i = 0; i < cut.nbehind; i++)
		if (cut.missed[i])
			pgs_retention_mark_missed(cut.behind_ids[i]);
	for (i = 0; i < cut.nsnaps; i++)
		if (cut.snap_missed[i])
			pgs_retention_mark_missed(cut.snap_query[i]);
	ret_note_blocker(rel, &s, cut.blocker);

	{
		PgsRetentionPassRow pass;

		pass.walk = s.walk;
		pass.recycled = s.recycled;
		pass.horizon = may_remove ? cut.min_xmin : 0;
		pass.held_by = held_by;
		pass.rows_removed = removed;
		pass.blocks_recycled = recycled;
		pass.relfilenode = s.relfilenode;
		pgs_retention_record_pass(relid, &pass);
	}
	table_close(rel, NoLock);
	return removed;
}

/* the streams with retention, as a list of oids in cxt */
List *
pgs_retention_streams(MemoryContext cxt)
{
	return pgs_retention_stream_list(cxt);
}

/* the stream's owner, or an error naming what is wrong */
static void
ret_check_owned_stream(Oid relid)
{
	pgs_check_table_owner(relid);
	if (!pgs_is_stream(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a stream table", get_rel_name(relid)),
				 errhint("Make it a stream with stream.create_stream() first.")));
}

/*
 * stream.set_retention(stream, keep, past_inactive_queries): keep a
 * stream's rows for "keep" and until every query has processed them (with
 * past_inactive_queries, until every active query has); keep NULL keeps
 * every row.  Owner only.
 */
Datum
stream_set_retention(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Interval   *keep;
	Interval   *max_hold = NULL;
	bool		past_inactive = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);

	pgs_require_writable();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream must not be NULL")));
	relid = PG_GETARG_OID(0);
	ret_check_owned_stream(relid);
	if (PG_ARGISNULL(1))
	{
		pgs_retention_unset(relid);
		PG_RETURN_VOID();
	}
	{
		Interval	zero = {0};

		keep = PG_GETARG_INTERVAL_P(1);
		if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(keep),
											  IntervalPGetDatum(&zero))) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retention must not be negative"),
					 errhint("Give how long rows are kept, such as '7 days', or NULL to keep every row.")));
	}
	/* the 0.6 signature, with max_hold */
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		Interval	zero = {0};

		max_hold = PG_GETARG_INTERVAL_P(3);
		if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(max_hold),
											  IntervalPGetDatum(&zero))) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_hold must not be negative"),
					 errhint("Give how long a query may hold rows back at the most, such as '1 day', or NULL for as long as it needs.")));
	}
	pgs_retention_set(relid, keep, past_inactive, PG_NARGS() > 3, max_hold);
	PG_RETURN_VOID();
}

/*
 * stream.detach_query(stream, query): the stream's owner lets retention go
 * past one of the stream's queries, whoever owns it: from now on the query
 * holds no row back (as past_inactive_queries lets removal go past a
 * stopped query), and is marked (missed_rows_at) when removal takes a row
 * it had not read.  The query itself goes on running.  Owner of the stream
 * only.
 */
Datum
stream_detach_query(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));

	ret_check_owned_stream(relid);
	if (pgs_retention_detach_query(relid, name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stream table \"%s\" has no streaming query \"%s\"",
						get_rel_name(relid), name),
				 errhint("The queries holding the stream's rows back are named in stream.stream_retention.")));
	PG_RETURN_VOID();
}

/*
 * stream.run_retention(stream): one pass now, in the caller's transaction.
 * Owner only.  Without a retention setting it removes nothing.
 */
Datum
stream_run_retention(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		total = 0;
	bool		more = true;

	pgs_require_writable();
	ret_check_owned_stream(relid);
	total = pgs_retention_pass(relid, true, false, &more);
	while (more)
		total += pgs_retention_pass(relid, false, false, &more);
	PG_RETURN_INT64(total);
}
