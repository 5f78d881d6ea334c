/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  pg_snapshot datums taken apart and put together, as batch boundaries,
 *	  the checkpoint and retention all read them.
 *
 * The stored form is read directly, not through the type's text: see
 * SnapStored below for why that is safe.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "fmgr.h"

#include "common/pgs_snapshot.h"

/* order of uint64s, for qsort and bsearch */
int
pgs_cmp_u64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

/*
 * pg_snapshot as the server stores it (xid8funcs.c): a varlena of the count
 * of running xids, xmin, xmax, then the running xids in ascending order.
 * This is the type's on-disk format, which pg_upgrade carries over
 * unchanged, so it is as stable as the catalog rows that hold it; reading
 * it directly spares a round trip through the type's text form.
 */
typedef struct SnapStored
{
	int32		vl_len_;
	uint32		nxip;
	FullTransactionId xmin;
	FullTransactionId xmax;
	FullTransactionId xip[FLEXIBLE_ARRAY_MEMBER];
} SnapStored;

/* a pg_snapshot datum of s, its running xids sorted and without repeats */
Datum
pgs_snapshot_make(PgsXidSnapshot *s)
{
	SnapStored *snap;
	Size		size;
	int			n = 0;
	int			i;

	qsort(s->xip, s->nxip, sizeof(uint64), pgs_cmp_u64);
	size = offsetof(SnapStored, xip) + sizeof(FullTransactionId) * s->nxip;
	snap = palloc0(size);
	snap->xmin = FullTransactionIdFromU64(s->xmin);
	snap->xmax = FullTransactionIdFromU64(s->xmax);
	for (i = 0; i < s->nxip; i++)
	{
		if (i > 0 && s->xip[i] == s->xip[i - 1])
			continue;
		Assert(s->xip[i] >= s->xmin && s->xip[i] < s->xmax);
		snap->xip[n++] = FullTransactionIdFromU64(s->xip[i]);
	}
	snap->nxip = n;
	SET_VARSIZE(snap, offsetof(SnapStored, xip) + sizeof(FullTransactionId) * n);
	return PointerGetDatum(snap);
}

/* take a pg_snapshot datum apart; s->xip comes out ascending */
void
pgs_snapshot_parse(Datum snap, PgsXidSnapshot *s)
{
	SnapStored *stored = (SnapStored *) PG_DETOAST_DATUM(snap);
	uint32		i;

	s->xmin = U64FromFullTransactionId(stored->xmin);
	s->xmax = U64FromFullTransactionId(stored->xmax);
	s->nxip = (int) stored->nxip;
	s->xip = palloc(sizeof(uint64) * (stored->nxip + 1));
	for (i = 0; i < stored->nxip; i++)
		s->xip[i] = U64FromFullTransactionId(stored->xip[i]);
}

/* is xid listed as running in s (s->xip ascending)? */
bool
pgs_snapshot_running(const PgsXidSnapshot *s, uint64 xid)
{
	return bsearch(&xid, s->xip, s->nxip, sizeof(uint64), pgs_cmp_u64) != NULL;
}

/* the xmax of a pg_snapshot datum: every xid from it on is not yet visible */
FullTransactionId
pgs_snapshot_xmax(Datum snap)
{
	PgsXidSnapshot s;

	pgs_snapshot_parse(snap, &s);
	return FullTransactionIdFromU64(s.xmax);
}
