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
 * An entry is claimed by the first writer, batch or retention pass that
 * needs it, from a table of pg_streaming.max_streams entries.  It is freed
 * when its table is dropped (at commit), and when the table is full, the
 * entries of tables and databases that no longer exist are taken back.
 * Readers find an entry without a lock and check under its mutex that it
 * still belongs to their table.  After a restart the state starts again
 * from the catalog, in the append run that is last there.
 *
 * The writer registry (below) vouches for every transaction that began
 * after the server started: each registers before its first row into a
 * stream, claiming the stream's entry if need be, so a transaction that is
 * not registered has written nothing.  Only the transactions that may have
 * written without registering are not vouched for: prepared transactions
 * older than the start, writers that found the table of entries full, and
 * writers of an entry taken back while they ran (vouch_from below).  The
 * table's claim_mutex orders claims and frees; an entry's mutex guards its
 * state and registry, and is never held while another lock is taken.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/twophase.h"
#include "access/xlog.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "nodes/pg_list.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
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

/*
 * A registration's first position while nobody knows the storage's runs:
 * a block of the run that turns out to be last (pgs_placement_set).
 */
#define PLC_UNKNOWN_RUN(block)			(-((int64) (block)) - 1)
#define PLC_UNKNOWN_RUN_BLOCK(first)	(-(first) - 1)

/* pg_streaming.max_streams: the entries in shared memory */
int			pgs_max_streams = 1024;

typedef struct PgsPlacement
{
	Oid			dboid;			/* InvalidOid while free */
	Oid			relid;
	slock_t		mutex;
	PgsPlacementState state;

	/*
	 * The transactions writing the stream: every transaction whose xid is
	 * at least registry_since registers here before its first row, with the
	 * position that row and all its later rows are at or after.  There is
	 * room for every transaction that can be running at once.
	 */
	uint64		registry_since;
	int64		last_tail;		/* the latest tail a planner read: a position
								 * every new row is at or after */
	int			nwriters;
	PgsWriter	writers[FLEXIBLE_ARRAY_MEMBER];
} PgsPlacement;

typedef struct PgsPlacementShared
{
	slock_t		claim_mutex;	/* claiming and freeing entries */
	pg_atomic_uint32 nused;		/* entries [0, nused) have been claimed */
	int			capacity;
	int			max_writers;
	Size		entry_size;
	bool		vouch_known;	/* vouch_from was set since the start */
	uint64		vouch_from;		/* the registry of an entry claimed now
								 * vouches for the xids from here on */
} PgsPlacementShared;

static PgsPlacementShared *plc_shared = NULL;

/* the room for every transaction that can be running, prepared ones too */
static int
plc_max_writers(void)
{
	return MaxBackends + max_prepared_xacts;
}

static Size
plc_entry_size(void)
{
	return MAXALIGN(offsetof(PgsPlacement, writers) +
					sizeof(PgsWriter) * plc_max_writers());
}

static Size
plc_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(PgsPlacementShared)),
					mul_size(plc_entry_size(), pgs_max_streams));
}

static inline PgsPlacement *
plc_entry(uint32 i)
{
	return (PgsPlacement *) ((char *) plc_shared +
							 MAXALIGN(sizeof(PgsPlacementShared)) +
							 i * plc_shared->entry_size);
}

/* from _PG_init, before shared memory is asked for */
void
pgs_placement_define_settings(void)
{
	DefineCustomIntVariable("pg_streaming.max_streams",
							"Stream tables whose writers and batches pg_streaming tracks in shared memory, over all databases.",
							"A stream without an entry reuses no blocks retention emptied, and its batches may read rows again from where the oldest open transaction began.",
							&pgs_max_streams,
							1024, 16, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
}

void
pgs_placement_shmem_request(void)
{
	RequestAddinShmemSpace(plc_shmem_size());
}

void
pgs_placement_shmem_startup(void)
{
	bool		found;

	plc_shared = ShmemInitStruct("pg_streaming placement",
								 plc_shmem_size(), &found);
	if (!found)
	{
		int			i;

		memset(plc_shared, 0, plc_shmem_size());
		SpinLockInit(&plc_shared->claim_mutex);
		pg_atomic_init_u32(&plc_shared->nused, 0);
		plc_shared->capacity = pgs_max_streams;
		plc_shared->max_writers = plc_max_writers();
		plc_shared->entry_size = plc_entry_size();
		plc_shared->vouch_known = false;
		plc_shared->vouch_from = 0;
		for (i = 0; i < pgs_max_streams; i++)
			SpinLockInit(&plc_entry(i)->mutex);
	}
}

bool
pgs_placement_available(void)
{
	return plc_shared != NULL;
}

/* take p's mutex if p still belongs to relid in this database */
static bool
plc_lock(PgsPlacement *p, Oid relid)
{
	SpinLockAcquire(&p->mutex);
	if (p->relid == relid && p->dboid == MyDatabaseId)
		return true;
	SpinLockRelease(&p->mutex);
	return false;
}

/*
 * The stream's entry, found without a lock: the caller checks with
 * plc_lock that it is still the stream's before it reads or changes it.
 */
static PgsPlacement *
plc_find(Oid relid)
{
	uint32		n;
	uint32		i;

	if (plc_shared == NULL)
		return NULL;
	n = pg_atomic_read_u32(&plc_shared->nused);
	pg_read_barrier();
	for (i = 0; i < n; i++)
	{
		PgsPlacement *p = plc_entry(i);

		if (p->relid == relid && p->dboid == MyDatabaseId)
			return p;
	}
	return NULL;
}

/* the next xid to be assigned: every xid assigned so far is below it */
static uint64
plc_next_xid(void)
{
	return U64FromFullTransactionId(ReadNextFullTransactionId());
}

/*
 * Above every prepared transaction running now: those older than the start
 * may have written a stream without registering.  (Newer ones registered,
 * but are counted too: prepared transactions are few, and rarely long.)
 */
static uint64
plc_prepared_horizon(void)
{
	FullTransactionId next = ReadNextFullTransactionId();
	uint64		horizon = 0;
	int			i;

	for (i = 0; i < max_prepared_xacts; i++)
	{
		TransactionId xid = PreparedXactProcs[i].xid;
		uint64		full;

		if (!TransactionIdIsNormal(xid) || !TransactionIdIsInProgress(xid))
			continue;
		full = U64FromFullTransactionId(next) +
			(int64) (int32) (xid - XidFromFullTransactionId(next));
		horizon = Max(horizon, full + 1);
	}
	return horizon;
}

/* no later claim vouches for xids below "below" */
static void
plc_raise_vouch_from(uint64 below)
{
	SpinLockAcquire(&plc_shared->claim_mutex);
	if (plc_shared->vouch_from < below)
		plc_shared->vouch_from = below;
	SpinLockRelease(&plc_shared->claim_mutex);
}

/* free p if it still belongs to (dboid, relid) */
static void
plc_free(PgsPlacement *p, Oid dboid, Oid relid)
{
	SpinLockAcquire(&plc_shared->claim_mutex);
	SpinLockAcquire(&p->mutex);
	if (p->relid == relid && p->dboid == dboid)
	{
		p->relid = InvalidOid;
		p->dboid = InvalidOid;
		p->nwriters = 0;
	}
	SpinLockRelease(&p->mutex);
	SpinLockRelease(&plc_shared->claim_mutex);
}

/*
 * With every entry taken: take back those of tables of this database, and
 * of databases, that no longer exist.  A table another transaction is
 * creating is not visible yet either: the registrations of its writers are
 * lost with its entry, so no later claim vouches for them.  Returns how
 * many were freed.
 */
static int
plc_reclaim(void)
{
	uint32		n = pg_atomic_read_u32(&plc_shared->nused);
	uint64		next = plc_next_xid();
	int			freed = 0;
	uint32		i;

	if (!IsTransactionState())
		return 0;
	for (i = 0; i < n; i++)
	{
		PgsPlacement *p = plc_entry(i);
		Oid			dboid = p->dboid;
		Oid			relid = p->relid;
		bool		gone;

		if (!OidIsValid(dboid) || !OidIsValid(relid))
			continue;
		if (dboid == MyDatabaseId)
			gone = !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
		else
			gone = !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboid));
		if (gone)
		{
			plc_free(p, dboid, relid);
			freed++;
		}
	}
	if (freed > 0)
		plc_raise_vouch_from(next);
	return freed;
}

/* an entry of plc_claim's for relid; NULL when all are taken */
static PgsPlacement *
plc_claim_slot(Oid relid, const PgsPlacementState *initial)
{
	PgsPlacement *p = NULL;
	uint32		n;
	uint32		i;

	SpinLockAcquire(&plc_shared->claim_mutex);
	n = pg_atomic_read_u32(&plc_shared->nused);
	for (i = 0; i < n && p == NULL; i++)
	{
		PgsPlacement *e = plc_entry(i);

		if (e->relid == relid && e->dboid == MyDatabaseId)
		{
			/* claimed meanwhile by another backend */
			SpinLockRelease(&plc_shared->claim_mutex);
			return e;
		}
	}
	for (i = 0; i < n && p == NULL; i++)
		if (!OidIsValid(plc_entry(i)->relid))
			p = plc_entry(i);
	if (p == NULL && n < (uint32) plc_shared->capacity)
	{
		p = plc_entry(n);
		pg_write_barrier();
		pg_atomic_write_u32(&plc_shared->nused, n + 1);
	}
	if (p != NULL)
	{
		SpinLockAcquire(&p->mutex);
		p->state = *initial;
		p->registry_since = plc_shared->vouch_from;
		p->nwriters = 0;
		p->last_tail = 0;
		p->dboid = MyDatabaseId;
		p->relid = relid;
		SpinLockRelease(&p->mutex);
	}
	SpinLockRelease(&plc_shared->claim_mutex);
	return p;
}

/*
 * The stream's entry, claimed when it has none; NULL when all are taken,
 * with a WARNING that names the setting.  A new entry's registry vouches
 * for every xid from plc_shared->vouch_from on.
 */
static PgsPlacement *
plc_claim(Oid relid, const PgsPlacementState *initial)
{
	PgsPlacement *p;

	if ((p = plc_find(relid)) != NULL)
		return p;

	/*
	 * Nothing is claimed during recovery: a hot standby's prepared
	 * transactions have no proc yet, so the first claim would miss them.
	 */
	if (RecoveryInProgress())
		return NULL;
	if (!plc_shared->vouch_known)
	{
		/* the first claim since the start (outside spinlocks: takes locks) */
		uint64		horizon = plc_prepared_horizon();

		SpinLockAcquire(&plc_shared->claim_mutex);
		if (!plc_shared->vouch_known)
		{
			plc_shared->vouch_from = Max(plc_shared->vouch_from, horizon);
			plc_shared->vouch_known = true;
		}
		SpinLockRelease(&plc_shared->claim_mutex);
	}
	p = plc_claim_slot(relid, initial);
	if (p == NULL && plc_reclaim() > 0)
		p = plc_claim_slot(relid, initial);
	if (p == NULL)
	{
		/* a writer of the stream now is registered nowhere */
		plc_raise_vouch_from(plc_next_xid());
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pg_streaming cannot track stream \"%s\": all %d entries are taken",
						get_rel_name(relid) ? get_rel_name(relid) : "?",
						plc_shared->capacity),
				 errdetail("Every entry belongs to an existing stream table.  Without one, the stream's writers reuse no blocks that retention emptied, and its batches read again the rows written since the oldest transaction still open began."),
				 errhint("Raise pg_streaming.max_streams (a server restart is needed).")));
	}
	return p;
}

/* ---- freeing the entries of dropped tables, at commit ---- */

static List *plc_dropped = NIL;		/* in TopTransactionContext */
static List *plc_to_free = NIL;

static void
plc_drop_at_xact_end(XactEvent event)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* a drop whose subtransaction rolled back left its table */
			plc_to_free = NIL;
			foreach(lc, plc_dropped)
				if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(lfirst_oid(lc))))
				{
					MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

					plc_to_free = lappend_oid(plc_to_free, lfirst_oid(lc));
					MemoryContextSwitchTo(old);
				}
			break;
		case XACT_EVENT_COMMIT:
			foreach(lc, plc_to_free)
			{
				PgsPlacement *p = plc_find(lfirst_oid(lc));

				if (p != NULL)
					plc_free(p, MyDatabaseId, lfirst_oid(lc));
			}
			plc_dropped = NIL;
			plc_to_free = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
			/* a prepared drop's entry goes when the table is found gone */
			plc_dropped = NIL;
			plc_to_free = NIL;
			break;
		default:
			break;
	}
}

/*
 * From the object access hook: a table being dropped that has an entry has
 * it freed at commit.
 */
void
pgs_placement_object_access(ObjectAccessType access, Oid classId, Oid objectId,
							int subId)
{
	if (access == OAT_DROP && classId == RelationRelationId && subId == 0 &&
		plc_shared != NULL && plc_find(objectId) != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		plc_dropped = lappend_oid(plc_dropped, objectId);
		MemoryContextSwitchTo(old);
	}
}

/* the stream's placement; false when nobody has set it since the start */
bool
pgs_placement_read(Oid relid, PgsPlacementState *state)
{
	PgsPlacement *p = plc_find(relid);

	if (p == NULL || !plc_lock(p, relid))
		return false;
	*state = p->state;
	SpinLockRelease(&p->mutex);
	return true;
}

/*
 * Set the stream's placement.  With only_forward, a state whose run is not
 * after the present one (of the same storage) is ignored: writers never go
 * back to an earlier run.  Writers that registered before anybody knew the
 * storage's runs (PLC_UNKNOWN_RUN) are appending in the run set up now.
 */
void
pgs_placement_set(Oid relid, const PgsPlacementState *state, bool only_forward)
{
	PgsPlacement *p;
	int			i;

	if (plc_shared == NULL)
		return;
	p = plc_claim(relid, state);
	if (p == NULL || !plc_lock(p, relid))
		return;
	if (p->state.relfilenode != state->relfilenode && !state->recycled)
		for (i = 0; i < p->nwriters; i++)
			if (p->writers[i].first < 0 &&
				p->writers[i].relfilenode == state->relfilenode)
				p->writers[i].first =
					PGS_POSITION(state->run, PLC_UNKNOWN_RUN_BLOCK(p->writers[i].first));
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
	if (p == NULL || !plc_lock(p, relid))
		return;
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
	Oid			relid = RelationGetRelid(rel);
	PgsPlacement *p = plc_find(relid);
	PgsPlacementState st;
	BlockNumber target;
	int64		blk;
	Size		need;

	if (p == NULL || !plc_lock(p, relid))
		return false;
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
		if (!plc_lock(p, relid))
			return false;
		if (p->state.recycled && p->state.run == st.run && p->state.cursor <= blk)
			p->state.cursor = blk + 1;
		SpinLockRelease(&p->mutex);
	}

	/* the run is full: on to the next one, recycled or appended */
	if (!plc_lock(p, relid))
		return false;
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

/* a tail position a planner read (pgs_stream_tail) */
void
pgs_placement_note_tail(Oid relid, Oid relfilenode, int64 tail)
{
	PgsPlacement *p = plc_find(relid);

	if (p == NULL || !plc_lock(p, relid))
		return;
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
plc_writers_at_xact_end(XactEvent event)
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
 * From the transaction-end dispatcher.  The transaction's writer
 * registrations are taken back before the entries of the tables it dropped
 * are freed: freeing clears an entry whole, registrations included.
 */
void
pgs_placement_at_xact_end(XactEvent event)
{
	plc_writers_at_xact_end(event);
	plc_drop_at_xact_end(event);
}

/*
 * Copy the stream's registry into writers (room for max_writers) and
 * *since; then drop the registrations whose transaction has ended without
 * taking them back (a prepared transaction, finished elsewhere).  Returns
 * how many are left, or -1 when p is no longer the stream's entry.
 */
static int
plc_read_registry(PgsPlacement *p, Oid relid, uint64 *since, PgsWriter *writers)
{
	FullTransactionId next = ReadNextFullTransactionId();
	int			n = 0;
	int			i;

	if (!plc_lock(p, relid))
		return -1;
	for (i = 0; i < p->nwriters; i++)
		writers[n++] = p->writers[i];
	*since = p->registry_since;
	SpinLockRelease(&p->mutex);

	/* outside the spinlock: asking the proc array takes locks */
	for (i = 0; i < n;)
	{
		FullTransactionId fx = FullTransactionIdFromU64(writers[i].xid);

		if (FullTransactionIdPrecedes(fx, next) &&
			!TransactionIdIsInProgress(XidFromFullTransactionId(fx)))
		{
			plc_forget_writer(p, writers[i].xid);
			writers[i] = writers[--n];
		}
		else
			i++;
	}
	return n;
}

/*
 * Before the first row of the current transaction into rel: register the
 * transaction with the position where its rows start, claiming the
 * stream's entry if it has none, so that the registry can vouch for every
 * transaction that began since the start.  The registry has room for
 * every transaction that can be running; a full one (registrations of
 * prepared transactions finished elsewhere) is cleared of those first.
 * When a transaction still cannot be registered, the registry stops
 * vouching for xids up to its own, and planners treat those as they would
 * without a registry.
 */
void
pgs_writer_register(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			relfilenode = rel->rd_node.relNode;
	PgsPlacement *p;
	uint64		xid;
	int64		unknown_first = 0;
	int			attempt;
	int			i;

	if (plc_shared == NULL)
		return;
	xid = U64FromFullTransactionId(GetTopFullTransactionId());
	p = plc_find(relid);
	if (p == NULL)
	{
		/* nobody knows the storage's runs yet: pgs_placement_set */
		PgsPlacementState init = {0};

		p = plc_claim(relid, &init);
		if (p == NULL)
			return;
	}

	/*
	 * Once per transaction and stream: a second registration (the relation's
	 * cache entry was rebuilt, and with it what told this transaction's
	 * first row) would give a later first position than its rows have.
	 */
	for (i = 0; i < plc_nlocal; i++)
		if (plc_local[i].entry == p && plc_local[i].xid == xid)
			return;

	/*
	 * Where rows go while nobody knows the runs: at the end of the table,
	 * in the run that is last in the catalog (read outside the spinlock).
	 */
	if (!OidIsValid(p->state.relfilenode))
	{
		BlockNumber nblocks = RelationGetNumberOfBlocks(rel);

		unknown_first = PLC_UNKNOWN_RUN(nblocks > 0 ? nblocks - 1 : 0);
	}

	for (attempt = 0; attempt < 2; attempt++)
	{
		bool		full;
		int64		first;

		if (attempt == 1)
		{
			PgsWriter  *scratch = palloc(sizeof(PgsWriter) * plc_shared->max_writers);
			uint64		since;

			(void) plc_read_registry(p, relid, &since, scratch);
			pfree(scratch);
		}
		if (!plc_lock(p, relid))
			return;
		if (xid < p->registry_since)
		{
			/* not vouched for (a registration that failed): stays that way */
			SpinLockRelease(&p->mutex);
			return;
		}
		if (p->state.relfilenode == relfilenode && p->state.recycled)
			first = PGS_POSITION(p->state.run, p->state.cursor);
		else if (p->state.relfilenode == relfilenode)
			first = p->last_tail;	/* no system call: positions only grow */
		else if (!OidIsValid(p->state.relfilenode) && unknown_first < 0)
			first = unknown_first;
		else
			first = 0;
		full = p->nwriters >= plc_shared->max_writers;
		if (!full && plc_nlocal < PLC_MAX_LOCAL)
		{
			p->writers[p->nwriters].xid = xid;
			p->writers[p->nwriters].first = first;
			p->writers[p->nwriters].relfilenode = relfilenode;
			p->nwriters++;
			plc_local[plc_nlocal].entry = p;
			plc_local[plc_nlocal].xid = xid;
			plc_nlocal++;
			SpinLockRelease(&p->mutex);
			return;
		}
		if ((!full || attempt == 1) && p->registry_since <= xid)
		{
			p->registry_since = xid + 1;
			full = false;
		}
		SpinLockRelease(&p->mutex);
		if (!full)
			return;
	}
}

/*
 * The stream's registry: *since, below which xids are not vouched for,
 * and the writers registered, in *writers (allocated in the current memory
 * context).  False when the stream has no entry.
 */
bool
pgs_writers_read(Oid relid, uint64 *since, PgsWriter **writers, int *nwriters)
{
	PgsPlacement *p = plc_find(relid);
	int			i;

	*nwriters = 0;
	*writers = NULL;
	if (p == NULL)
		return false;
	*writers = palloc(sizeof(PgsWriter) * plc_shared->max_writers);
	*nwriters = plc_read_registry(p, relid, since, *writers);
	if (*nwriters < 0)
	{
		*nwriters = 0;
		return false;
	}
	/* one whose storage's runs were unknown may lie anywhere */
	for (i = 0; i < *nwriters; i++)
		if ((*writers)[i].first < 0)
			(*writers)[i].first = 0;
	return true;
}
