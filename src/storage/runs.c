/*-------------------------------------------------------------------------
 *
 * runs.c
 *	  The runs of blocks a stream's rows were written in (stream.stream_runs)
 *	  and what batches make of them: the position new rows start at, and the
 *	  blocks that hold the rows after a position.
 *
 * A stream has no rows in stream_runs until retention first recycles
 * blocks: then its rows so far form run 0, appended from block 0, and
 * every recycled run is followed by an append run that starts at the last
 * block the table had, so that the last run is always an append run.  The
 * runs describe one storage of the table; a rewrite (VACUUM FULL, CLUSTER,
 * a rewriting ALTER TABLE) starts them again with one append run from
 * block 0, numbered after the old ones so that positions only grow.
 *
 * Only catalog/ runs statements on stream.*, stream_state, stream_batch
 * and stream_query: the rows of stream.stream_runs are read and written by
 * catalog/stream_catalog.c; this file decides what they say.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "utils/lsyscache.h"

#include "catalog/pgs_storage_catalog.h"
#include "storage/pgs_placement.h"

/*
 * The stream's runs, in order, into *runs (the caller's memory context).
 * Returns their number, or -1 when they describe another storage than
 * relfilenode (the table was rewritten since).
 */
int
pgs_runs_load(Oid relid, Oid relfilenode, PgsRun **runs)
{
	PgsRunRow  *rows;
	bool		stale = false;
	int			n;
	int			i;

	*runs = NULL;
	n = pgs_runs_read(relid, &rows);
	if (n > 0)
	{
		*runs = palloc(sizeof(PgsRun) * n);
		for (i = 0; i < n; i++)
		{
			PgsRun	   *r = &(*runs)[i];

			r->run = rows[i].run;
			r->first_block = rows[i].first_block;
			r->end_block = rows[i].end_block;
			r->recycled = rows[i].recycled;
			if (rows[i].relfilenode != relfilenode)
				stale = true;
		}
		pfree(rows);
	}
	return stale ? -1 : n;
}

/*
 * Runs of a storage that is gone: start again with one append run from
 * block 0 of the present storage, and retention from its start.  Returns
 * the new run's number.
 */
static int64
runs_restart(Oid relid, Oid relfilenode)
{
	int64		run = pgs_runs_start_again(relid, relfilenode);

	pgs_retention_restart_at(relid, PGS_POSITION(run, 0));
	return run;
}

/*
 * The position that new transactions start writing at, read before a batch
 * boundary's snapshot: every row of a transaction that gets its xid later
 * lies at or after it.  Sets up the writers' placement after a restart
 * (the last run, an append run) and after a rewrite (new runs).
 */
int64
pgs_stream_tail(Oid relid, Oid relfilenode, BlockNumber nblocks)
{
	int64		last = nblocks > 0 ? (int64) nblocks - 1 : 0;
	PgsPlacementState st;
	PgsRun	   *runs;
	int			n;

	if (pgs_placement_read(relid, &st) && st.relfilenode == relfilenode)
	{
		int64		tail = st.recycled ? PGS_POSITION(st.run, st.cursor) :
			PGS_POSITION(st.run, last);

		pgs_placement_note_tail(relid, relfilenode, tail);
		return tail;
	}

	memset(&st, 0, sizeof(st));
	st.relfilenode = relfilenode;
	n = pgs_runs_load(relid, relfilenode, &runs);
	if (n < 0)
		st.run = runs_restart(relid, relfilenode);
	else if (n > 0)
	{
		st.run = runs[n - 1].run;
		st.first = runs[n - 1].first_block;
	}
	pgs_placement_set(relid, &st, true);
	/* writers that register from now on start at or after it */
	pgs_placement_note_tail(relid, relfilenode, PGS_POSITION(st.run, last));
	return PGS_POSITION(st.run, last);
}

static int
range_cmp(const void *a, const void *b)
{
	const PgsBlockRange *x = a;
	const PgsBlockRange *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/*
 * The blocks that hold every row written at or after from_position, as at
 * most two ranges (more are joined into the ranges that cover them, with
 * the blocks between).  Returns how many.
 */
int
pgs_scan_ranges(Oid relid, Oid relfilenode, int64 from_position,
				PgsBlockRange *ranges)
{
	int64		from_run = PGS_POSITION_RUN(from_position);
	int64		from_block = PGS_POSITION_BLOCK(from_position);
	PgsPlacementState st;
	PgsBlockRange *all;
	PgsRun	   *runs;
	bool		found = false;
	int			nall = 0;
	int			n;
	int			i;

	ranges[0].first = from_block;
	ranges[0].end = -1;
	if (from_run == 0 && pgs_placement_read(relid, &st) &&
		st.relfilenode == relfilenode && st.run == 0)
		return 1;				/* nothing was ever recycled */
	n = pgs_runs_load(relid, relfilenode, &runs);
	if (n == 0)
		return 1;
	if (n < 0)
	{
		ranges[0].first = 0;	/* rewritten: the runs say nothing */
		return 1;
	}

	all = palloc(sizeof(PgsBlockRange) * n);
	for (i = 0; i < n; i++)
	{
		PgsRun	   *r = &runs[i];
		int64		first = r->first_block;

		if (r->run < from_run)
			continue;
		if (r->run == from_run)
		{
			found = true;
			first = Max(first, from_block);
		}
		if (r->end_block >= 0 && first >= r->end_block)
			continue;
		all[nall].first = first;
		all[nall].end = r->end_block;
		nall++;
	}
	if (!found)
	{
		ranges[0].first = 0;	/* a run no longer known: read it all */
		return 1;
	}

	/* in block order, overlapping and touching ranges joined */
	qsort(all, nall, sizeof(PgsBlockRange), range_cmp);
	n = 0;
	for (i = 0; i < nall; i++)
	{
		if (n > 0 && (all[n - 1].end < 0 || all[i].first <= all[n - 1].end))
		{
			if (all[n - 1].end >= 0 && (all[i].end < 0 || all[i].end > all[n - 1].end))
				all[n - 1].end = all[i].end;
			continue;
		}
		all[n++] = all[i];
	}
	/* more than two: join the two closest neighbours until two are left */
	while (n > 2)
	{
		int			best = 0;

		for (i = 1; i < n - 1; i++)
			if (all[i + 1].first - all[i].end < all[best + 1].first - all[best].end)
				best = i;
		all[best].end = all[best + 1].end;
		memmove(&all[best + 1], &all[best + 2], sizeof(PgsBlockRange) * (n - best - 2));
		n--;
	}
	for (i = 0; i < n; i++)
		ranges[i] = all[i];
	return n;
}
