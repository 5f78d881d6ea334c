/*-------------------------------------------------------------------------
 *
 * offsets.c
 *	  Batch boundaries: transaction snapshots, and the predicate parameters
 *	  that select the rows between two of them.
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

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"

#include "pg_streaming.h"

PG_FUNCTION_INFO_V1(stream_batch_member);

/* rows of the current batch seen by the batch predicate */
int64		pgs_batch_input_rows = 0;

Oid			pgs_batch_param_types[PGS_BATCH_NPARAMS] = {
	XID8OID,					/* $1 xmax(lo) */
	XID8OID,					/* $2 xmax(hi) */
	PG_SNAPSHOTOID,				/* $3 hi */
	XID8OID,					/* $4 (unused) */
	XID8OID,					/* $5 (unused) */
	XID8ARRAYOID,				/* $6 the xids of part (b) */
	TIDOID						/* $7 the first tid that can hold a row */
};

/* a snapshot taken apart: full xids, xip ascending */
typedef struct OffSnapshot
{
	uint64		xmin;
	uint64		xmax;
	int			nxip;
	uint64	   *xip;
} OffSnapshot;

static int
off_cmp_u64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

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

static Datum
off_make_snapshot(OffSnapshot *s)
{
	StringInfoData buf;
	int			i;

	qsort(s->xip, s->nxip, sizeof(uint64), off_cmp_u64);
	initStringInfo(&buf);
	appendStringInfo(&buf, UINT64_FORMAT ":" UINT64_FORMAT ":", s->xmin, s->xmax);
	for (i = 0; i < s->nxip; i++)
	{
		if (i > 0 && s->xip[i] == s->xip[i - 1])
			continue;
		appendStringInfo(&buf, "%s" UINT64_FORMAT,
						 (i > 0) ? "," : "", s->xip[i]);
	}
	return DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(buf.data));
}

static void
off_parse_snapshot(Datum snap, OffSnapshot *s)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(pg_snapshot_out, snap));
	char	   *p = text;
	int			cap = 8;

	s->xmin = strtou64(p, &p, 10);
	Assert(*p == ':');
	s->xmax = strtou64(p + 1, &p, 10);
	Assert(*p == ':');
	p++;
	s->nxip = 0;
	s->xip = palloc(sizeof(uint64) * cap);
	while (*p != '\0')
	{
		if (s->nxip == cap)
		{
			cap *= 2;
			s->xip = repalloc(s->xip, sizeof(uint64) * cap);
		}
		s->xip[s->nxip++] = strtou64(p, &p, 10);
		if (*p == ',')
			p++;
	}
}

static bool
off_in_xip(const OffSnapshot *s, uint64 xid)
{
	return bsearch(&xid, s->xip, s->nxip, sizeof(uint64), off_cmp_u64) != NULL;
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
	OffSnapshot s;
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
	return off_make_snapshot(&s);
}

FullTransactionId
pgs_snapshot_xmax(Datum snap)
{
	OffSnapshot s;

	off_parse_snapshot(snap, &s);
	return FullTransactionIdFromU64(s.xmax);
}

/*
 * Fill the seven parameters of the batch predicate for the batch (lo, hi].
 */
void
pgs_batch_params(const PgsBoundary *lo, Datum hi_snapshot,
				 int64 scan_from_block, PgsBatchParams *params)
{
	OffSnapshot hi;
	OffSnapshot los;
	Datum	   *elems;
	int			nelems = 0;
	uint64		bmin = 1,
				bmax = 0;
	ItemPointer tid;
	int			i;

	off_parse_snapshot(hi_snapshot, &hi);
	if (lo->is_start)
	{
		los.xmin = los.xmax = 0;
		los.nxip = 0;
		los.xip = NULL;
	}
	else
		off_parse_snapshot(lo->snapshot, &los);

	elems = palloc(sizeof(Datum) * (los.nxip + 1));
	for (i = 0; i < los.nxip; i++)
	{
		uint64		x = los.xip[i];

		if (off_in_xip(&hi, x))
			continue;
		elems[nelems++] = FullTransactionIdGetDatum(FullTransactionIdFromU64(x));
		if (nelems == 1 || x < bmin)
			bmin = x;
		if (nelems == 1 || x > bmax)
			bmax = x;
	}

	tid = palloc(sizeof(ItemPointerData));
	ItemPointerSet(tid, (BlockNumber) Max(scan_from_block, 0), 0);

	params->values[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(los.xmax));
	params->values[1] = FullTransactionIdGetDatum(FullTransactionIdFromU64(hi.xmax));
	params->values[2] = hi_snapshot;
	params->values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(bmin));
	params->values[4] = FullTransactionIdGetDatum(FullTransactionIdFromU64(bmax));
	params->values[5] = PointerGetDatum(construct_array(elems, nelems, XID8OID,
														sizeof(FullTransactionId),
														FLOAT8PASSBYVAL,
														TYPALIGN_DOUBLE));
	params->values[6] = PointerGetDatum(tid);
	memset(params->nulls, ' ', sizeof(params->nulls));
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
	OffSnapshot hi;
	int64		floor = tail_block;
	int			i;

	off_parse_snapshot(hi_snapshot, &hi);
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
	OffSnapshot hi;
	OffSnapshot out;
	uint64		cut_u64 = U64FromFullTransactionId(cut);
	uint64		lo_xmax = lo->is_start ? 0 : U64FromFullTransactionId(lo->xmax);
	int			i;

	off_parse_snapshot(hi_snapshot, &hi);
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
	return off_make_snapshot(&out);
}

/* the batch predicate's view of one batch, parsed once per execution */
typedef struct MemberState
{
	uint64		lo_xmax;
	uint64		hi_xmax;
	OffSnapshot hi;
	int			nb;
	uint64	   *b;
} MemberState;

/*
 * stream._batch_member(xid, xmax(lo), xmax(hi), hi, part (b) xids): is a row
 * written by transaction xid part of the batch?  Counts the rows it accepts.
 * It is the cheapest qual of the batch's subquery, so it runs before any of
 * the query's own conditions and the count is the batch's input rows.
 */
Datum
stream_batch_member(PG_FUNCTION_ARGS)
{
	uint64		x = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(0));
	MemberState *st = (MemberState *) fcinfo->flinfo->fn_extra;
	bool		member;

	if (st == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(4);
		Datum	   *elems;
		int			i;

		st = palloc0(sizeof(MemberState));
		st->lo_xmax = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(1));
		st->hi_xmax = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(2));
		off_parse_snapshot(PG_GETARG_DATUM(3), &st->hi);
		deconstruct_array(arr, XID8OID, sizeof(FullTransactionId),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, NULL, &st->nb);
		st->b = palloc(sizeof(uint64) * (st->nb + 1));
		for (i = 0; i < st->nb; i++)
			st->b[i] = U64FromFullTransactionId(DatumGetFullTransactionId(elems[i]));
		qsort(st->b, st->nb, sizeof(uint64), off_cmp_u64);
		fcinfo->flinfo->fn_extra = st;
		MemoryContextSwitchTo(old);
	}

	if (x >= st->lo_xmax)
		member = x < st->hi_xmax && !off_in_xip(&st->hi, x);
	else
		member = st->nb > 0 &&
			bsearch(&x, st->b, st->nb, sizeof(uint64), off_cmp_u64) != NULL;
	if (member)
		pgs_batch_input_rows++;
	PG_RETURN_BOOL(member);
}
