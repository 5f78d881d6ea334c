/*-------------------------------------------------------------------------
 *
 * placement.c
 *	  Where the writers of a stream put its new rows: at the end of the
 *	  table, or in a run of blocks that retention has emptied.
 *
 * The state lives in shared memory, one entry per stream, so that every
 * writer follows the same run.  In a recycled run, a transaction's first
 * row goes to the run's cursor (the lowest block with room, as far as
 * anybody knows) and its later rows to blocks after it; the cursor only
 * moves forward, and a full run hands over to the append run after it.
 * That keeps the placement rule of stream_am.c in positions: every row a
 * transaction writes is at or after the position current when it began.
 *
 * A row that heap puts elsewhere after all (another writer filled the block
 * between the check here and the insert) goes to a new block at the end of
 * the table, inside the append run that follows every recycled run: later
 * than any position, so still found.
 *
 * An entry is claimed once and never given to another stream while the
 * server runs, so writers find theirs without a lock.  After a restart the
 * state starts again from the catalog, in the append run that is last there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/hio.h"
#include "access/transam.h"
#include "access/xact.h"
#include "storage/procarray.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/rel.h"

#include "storage/pgs_placement.h"

#define PGS_MAX_PLACEMENTS	256

typedef struct PgsPlacement
{
	Oid			dboid;			/* set once, when claimed */
	Oid			relid;
	slock_t		mutex;
	PgsPlacementState state;

	/*
	 * The transactions writing the stream: every transaction whose xid is
	 * at least registry_since registers here before its first row, with the
	 * position that row and all its later rows are at or after.
	 */
	uint64		registry_since;
	int			nwriters;
	PgsWriter	writers[PGS_MAX_WRITERS];
	int64		last_tail;		/* the latest tail a planner read: a position
								 * every new row is at or after */
} PgsPlacement;

typedef struct PgsPlacementShared
{
	slock_t		claim_mutex;
	pg_atomic_uint32 nclaimed;
	PgsPlacement entries[PGS_MAX_PLACEMENTS];
} PgsPlacementShared;

static PgsPlacementShared *plc_shared = NULL;

void
pgs_placement_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgsPlacementShared)));
}

void
pgs_placement_shmem_startup(void)
{
	bool		found;

	plc_shared = ShmemInitStruct("pg_streaming placement",
								 sizeof(PgsPlacementShared), &found);
	if (!found)
	{
		int			i;

		memset(plc_shared, 0, sizeof(PgsPlacementShared));
		SpinLockInit(&plc_shared->claim_mutex);
		pg_atomic_init_u32(&plc_shared->nclaimed, 0);
		for (i = 0; i < PGS_MAX_PLACEMENTS; i++)
			SpinLockInit(&plc_shared->entries[i].mutex);
	}
}

bool
pgs_placement_available(void)
{
	return plc_shared != NULL;
}

static PgsPlacement *
plc_find(Oid relid)
{
	uint32		n;
	uint32		i;

	if (plc_shared == NULL)
		return NULL;
	n = pg_atomic_read_u32(&plc_shared->nclaimed);
	pg_read_barrier();
	for (i = 0; i < n; i++)
	{
		PgsPlacement *p = &plc_shared->entries[i];

		if (p->relid == relid && p->dboid == MyDatabaseId)
			return p;
	}
	return NULL;
}

/* the stream's entry, claimed when it has none; NULL when all are taken */
static PgsPlacement *
plc_claim(Oid relid, const PgsPlacementState *initial)
{
	PgsPlacement *p;
	uint32		n;
	bool		created = false;

	if ((p = plc_find(relid)) != NULL)
		return p;
	SpinLockAcquire(&plc_shared->claim_mutex);
	p = plc_find(relid);
	n = pg_atomic_read_u32(&plc_shared->nclaimed);
	if (p == NULL && n < PGS_MAX_PLACEMENTS)
	{
		p = &plc_shared->entries[n];
		p->dboid = MyDatabaseId;
		p->relid = relid;
		p->state = *initial;
		p->registry_since = PG_UINT64_MAX;
		p->nwriters = 0;
		p->last_tail = 0;
		pg_write_barrier();
		pg_atomic_write_u32(&plc_shared->nclaimed, n + 1);
		created = true;
	}
	SpinLockRelease(&plc_shared->claim_mutex);

	/*
	 * Every xid assigned from now on is assigned after the entry could be
	 * seen, so its transaction finds the entry before its first row.  (Read
	 * outside the spinlocks: it takes a lightweight lock.)
	 */
	if (created)
	{
		uint64		since = U64FromFullTransactionId(ReadNextFullTransactionId());

		SpinLockAcquire(&p->mutex);
		p->registry_since = since;
		SpinLockRelease(&p->mutex);
	}
	return p;
}

/* the stream's placement; false when nobody has set it since the start */
bool
pgs_placement_read(Oid relid, PgsPlacementState *state)
{
	PgsPlacement *p = plc_find(relid);

	if (p == NULL)
		return false;
	SpinLockAcquire(&p->mutex);
	*state = p->state;
	SpinLockRelease(&p->mutex);
	return true;
}

/*
 * Set the stream's placement.  With only_forward, a state whose run is not
 * after the present one (of the same storage) is ignored: writers never go
 * back to an earlier run.
 */
void
pgs_placement_set(Oid relid, const PgsPlacementState *state, bool only_forward)
{
	PgsPlacement *p;

	if (plc_shared == NULL)
		return;
	p = plc_claim(relid, state);
	if (p == NULL)
		return;
	SpinLockAcquire(&p->mutex);
	if (!only_forward || p->state.relfilenode != state->relfilenode ||
		p->state.run < state->run)
		p->state = *state;
	SpinLockRelease(&p->mutex);
}

/* the state without its queue: what a writer needs before an insert */
static void
plc_copy_head(const PgsPlacementState *from, PgsPlacementState *to)
{
	to->relfilenode = from->relfilenode;
	to->recycled = from->recycled;
	to->run = from->run;
	to->first = from->first;
	to->cursor = from->cursor;
	to->end = from->end;
	to->nqueued = from->nqueued;
	to->fallback_run = from->fallback_run;
	to->fallback_first = from->fallback_first;
}

/* leave a full recycled run for the next queued one, or the append run */
static void
plc_next_run(PgsPlacementState *st)
{
	if (st->nqueued > 0)
	{
		st->run = st->queued[0].run;
		st->cursor = st->queued[0].first_block;
		st->end = st->queued[0].end_block;
		st->nqueued--;
		memmove(&st->queued[0], &st->queued[1], sizeof(PgsRun) * st->nqueued);
	}
	else
	{
		st->recycled = false;
		st->run = st->fallback_run;
		st->first = st->fallback_first;
	}
}

/*
 * Recycled runs made by a retention pass that committed: writers fill them
 * in order after the run they are filling now (whose rest a later pass
 * finds empty again), then append from fallback_first in fallback_run.
 */
void
pgs_placement_add_runs(Oid relid, Oid relfilenode, const PgsRun *runs,
					   int nruns, int64 fallback_run, int64 fallback_first)
{
	PgsPlacementState init = {0};
	PgsPlacementState *st;
	PgsPlacement *p;
	int			i;

	if (plc_shared == NULL || nruns <= 0)
		return;
	init.relfilenode = relfilenode;
	init.run = -1;
	p = plc_claim(relid, &init);
	if (p == NULL)
		return;
	SpinLockAcquire(&p->mutex);
	st = &p->state;
	if (st->relfilenode != relfilenode)
		*st = init;
	/* writers never go back: if they are past these runs already, skip them */
	if (st->run < runs[0].run)
	{
		for (i = 0; i < nruns; i++)
		{
			if (!st->recycled)
			{
				st->recycled = true;
				st->run = runs[i].run;
				st->cursor = runs[i].first_block;
				st->end = runs[i].end_block;
				st->nqueued = 0;
			}
			else if (st->nqueued < PGS_MAX_QUEUED_RUNS)
				st->queued[st->nqueued++] = runs[i];
		}
		st->fallback_run = fallback_run;
		st->fallback_first = fallback_first;
	}
	SpinLockRelease(&p->mutex);
}

/* room for a new row in block blk, as heap reckons it */
static Size
plc_block_room(Relation rel, BlockNumber blk)
{
	Buffer		buf;
	Page		page;
	Size		room;

	if (blk >= RelationGetNumberOfBlocks(rel))
		return 0;
	buf = ReadBuffer(rel, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (PageIsNew(page))
		room = BLCKSZ - SizeOfPageHeaderData;
	else
		room = PageGetHeapFreeSpace(page);
	UnlockReleaseBuffer(buf);
	return room;
}

/*
 * Before a row of "len" bytes (aligned, with its line pointer) is inserted
 * into rel: point heap at the block where it belongs.  In an append run,
 * only a target left in an earlier run is forgotten, so that heap goes to
 * the end of the table; in a recycled run, the target is the first block
 * with room at or after the cursor (after this transaction's own block).
 * Returns whether the stream is filling a recycled run.
 */
bool
pgs_placement_before_insert(Relation rel, Size len, bool first_of_xact)
{
	PgsPlacement *p = plc_find(RelationGetRelid(rel));
	PgsPlacementState st;
	BlockNumber target;
	int64		blk;
	Size		need;

	if (p == NULL)
		return false;
	SpinLockAcquire(&p->mutex);
	plc_copy_head(&p->state, &st);
	SpinLockRelease(&p->mutex);
	if (st.relfilenode != rel->rd_node.relNode)
		return false;

	target = RelationGetTargetBlock(rel);
	if (!st.recycled)
	{
		if (target != InvalidBlockNumber && (int64) target < st.first)
			RelationSetTargetBlock(rel, InvalidBlockNumber);
		return false;
	}

	need = len + RelationGetTargetPageFreeSpace(rel, HEAP_DEFAULT_FILLFACTOR);
	blk = (first_of_xact || target == InvalidBlockNumber ||
		   (int64) target < st.cursor || (int64) target >= st.end) ?
		st.cursor : (int64) target;
	for (; blk < st.end; blk++)
	{
		if (plc_block_room(rel, (BlockNumber) blk) >= need)
		{
			RelationSetTargetBlock(rel, (BlockNumber) blk);
			return true;
		}
		/* nobody new starts before a block this full */
		SpinLockAcquire(&p->mutex);
		if (p->state.recycled && p->state.run == st.run && p->state.cursor <= blk)
			p->state.cursor = blk + 1;
		SpinLockRelease(&p->mutex);
	}

	/* the run is full: on to the next one, recycled or appended */
	SpinLockAcquire(&p->mutex);
	if (p->state.recycled && p->state.run == st.run)
		plc_next_run(&p->state);
	SpinLockRelease(&p->mutex);
	RelationSetTargetBlock(rel, InvalidBlockNumber);
	if (st.nqueued > 0)
		return pgs_placement_before_insert(rel, len, true);
	return false;
}

/* the room in the block heap will try first, after before_insert */
Size
pgs_placement_room(Relation rel)
{
	BlockNumber target = RelationGetTargetBlock(rel);

	if (target == InvalidBlockNumber)
		return 0;
	return plc_block_room(rel, target);
}

/* ---- the registry of the transactions writing each stream ---- */

/* what this backend registered, to take back when its transaction ends */
#define PLC_MAX_LOCAL	32

static struct
{
	PgsPlacement *entry;
	uint64		xid;
}			plc_local[PLC_MAX_LOCAL];
static int	plc_nlocal = 0;
static bool plc_callback_registered = false;

/* a tail position a planner read (pgs_stream_tail) */
void
pgs_placement_note_tail(Oid relid, Oid relfilenode, int64 tail)
{
	PgsPlacement *p = plc_find(relid);

	if (p == NULL)
		return;
	SpinLockAcquire(&p->mutex);
	if (p->state.relfilenode == relfilenode && tail > p->last_tail)
		p->last_tail = tail;
	else if (p->state.relfilenode != relfilenode)
		p->last_tail = 0;
	SpinLockRelease(&p->mutex);
}

/* take a registration back */
static void
plc_forget_writer(PgsPlacement *p, uint64 xid)
{
	int			j;

	SpinLockAcquire(&p->mutex);
	for (j = 0; j < p->nwriters; j++)
		if (p->writers[j].xid == xid)
		{
			p->writers[j] = p->writers[--p->nwriters];
			break;
		}
	SpinLockRelease(&p->mutex);
}

static void
plc_xact_callback(XactEvent event, void *arg)
{
	int			i;

	if (event == XACT_EVENT_PREPARE)
	{
		/* a prepared transaction still writes: planners forget it later */
		plc_nlocal = 0;
		return;
	}
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	for (i = 0; i < plc_nlocal; i++)
		plc_forget_writer(plc_local[i].entry, plc_local[i].xid);
	plc_nlocal = 0;
}

/*
 * Before the first row of the current transaction into rel: register the
 * transaction with the position where its rows start.  When it cannot be
 * registered (no room), the registry stops vouching for xids up to its
 * own, and planners treat those as they would without a registry.
 */
void
pgs_writer_register(Relation rel)
{
	PgsPlacement *p = plc_find(RelationGetRelid(rel));
	uint64		xid = U64FromFullTransactionId(GetTopFullTransactionId());
	int64		first;
	int			i;

	if (p == NULL)
		return;
	if (!plc_callback_registered)
	{
		RegisterXactCallback(plc_xact_callback, NULL);
		plc_callback_registered = true;
	}

	/*
	 * Once per transaction and stream: a second registration (the relation's
	 * cache entry was rebuilt, and with it what told this transaction's
	 * first row) would give a later first position than its rows have.
	 */
	for (i = 0; i < plc_nlocal; i++)
		if (plc_local[i].entry == p && plc_local[i].xid == xid)
			return;
	SpinLockAcquire(&p->mutex);
	if (xid < p->registry_since)
	{
		/* not vouched for (a registration that failed): stays that way */
		SpinLockRelease(&p->mutex);
		return;
	}
	if (p->state.relfilenode == rel->rd_node.relNode && p->state.recycled)
		first = PGS_POSITION(p->state.run, p->state.cursor);
	else if (p->state.relfilenode == rel->rd_node.relNode)
		first = p->last_tail;	/* no system call: positions only grow */
	else
		first = 0;
	if (p->nwriters < PGS_MAX_WRITERS && plc_nlocal < PLC_MAX_LOCAL)
	{
		p->writers[p->nwriters].xid = xid;
		p->writers[p->nwriters].first = first;
		p->writers[p->nwriters].relfilenode = rel->rd_node.relNode;
		p->nwriters++;
		plc_local[plc_nlocal].entry = p;
		plc_local[plc_nlocal].xid = xid;
		plc_nlocal++;
	}
	else if (p->registry_since <= xid)
		p->registry_since = xid + 1;
	SpinLockRelease(&p->mutex);
}

/*
 * The stream's registry: *since, below which xids are not vouched for,
 * and the writers registered.  A registration whose transaction has ended
 * without taking it back (a prepared transaction, finished elsewhere) is
 * dropped.  False when the stream has no entry.
 */
bool
pgs_writers_read(Oid relid, uint64 *since, PgsWriter *writers, int *nwriters)
{
	PgsPlacement *p = plc_find(relid);
	FullTransactionId next = ReadNextFullTransactionId();
	int			i;

	*nwriters = 0;
	if (p == NULL)
		return false;
	SpinLockAcquire(&p->mutex);
	for (i = 0; i < p->nwriters; i++)
		writers[(*nwriters)++] = p->writers[i];
	*since = p->registry_since;
	SpinLockRelease(&p->mutex);

	/* outside the spinlock: asking the proc array takes locks */
	for (i = 0; i < *nwriters;)
	{
		FullTransactionId fx = FullTransactionIdFromU64(writers[i].xid);

		if (FullTransactionIdPrecedes(fx, next) &&
			!TransactionIdIsInProgress(XidFromFullTransactionId(fx)))
		{
			plc_forget_writer(p, writers[i].xid);
			writers[i] = writers[--(*nwriters)];
		}
		else
			i++;
	}
	return true;
}
