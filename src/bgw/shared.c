/*-------------------------------------------------------------------------
 *
 * shared.c
 *	  Shared memory of the background machinery, and the messages ordinary
 *	  backends send it: "rows were committed into this stream", "the query
 *	  catalog changed", "the extension was created here", "keep away from
 *	  this database".
 *
 * Messages about a transaction's work are sent when it commits, never
 * before, so that whoever is woken sees the committed state.  Without
 * shared_preload_libraries there is no shared memory and every message is
 * dropped: nothing would be listening.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bgw/bgw_internal.h"
#include "storage/pgs_placement.h"

PgsShared  *pgs_shared = NULL;


/* the shared state, with pg_streaming.max_databases database entries */
static Size
pgs_shared_size(void)
{
	return add_size(offsetof(PgsShared, dbs),
					mul_size(sizeof(PgsDatabase), pgs_max_databases));
}

/* from the shmem_request hook */
void
pgs_shared_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(pgs_shared_size()));
	RequestNamedLWLockTranche("pg_streaming", 1);
	pgs_placement_shmem_request();
}

/* from the shmem_startup hook */
void
pgs_shared_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgs_shared = ShmemInitStruct("pg_streaming", pgs_shared_size(), &found);
	if (!found)
	{
		int			i;

		memset(pgs_shared, 0, pgs_shared_size());
		pgs_shared->ndbs = pgs_max_databases;
		pgs_shared->lock = &(GetNamedLWLockTranche("pg_streaming"))->lock;
		for (i = 0; i < PGS_STREAM_COUNTERS; i++)
			pg_atomic_init_u64(&pgs_shared->counters[i].commits, 0);
	}
	pgs_placement_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The database's entry, created in state PROBE when asked.  Caller holds
 * the lock exclusively when create is true.  NULL when it has none and
 * every entry is taken (pg_streaming.max_databases): the launcher says so.
 */
PgsDatabase *
pgs_find_database(Oid dboid, bool create)
{
	PgsDatabase *free_slot = NULL;
	int			i;

	for (i = 0; i < pgs_shared->ndbs; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		if (db->state != PGS_DB_FREE && db->dboid == dboid)
			return db;
		if (db->state == PGS_DB_FREE && free_slot == NULL)
			free_slot = db;
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(PgsDatabase));
	free_slot->dboid = dboid;
	free_slot->state = PGS_DB_PROBE;
	return free_slot;
}

/*
 * How many background-worker slots pg_streaming's processes hold: the
 * launcher, the schedulers and the query workers (for messages about
 * max_worker_processes).  Caller holds the lock.
 */
int
pgs_count_own_processes(int *schedulers, int *workers)
{
	int			i;

	*schedulers = 0;
	*workers = 0;
	for (i = 0; i < pgs_shared->ndbs; i++)
		if (pgs_shared->dbs[i].state != PGS_DB_FREE && pgs_shared->dbs[i].sched_pid != 0)
			(*schedulers)++;
	for (i = 0; i < PGS_MAX_WORKERS; i++)
		if (pgs_shared->workers[i].in_use)
			(*workers)++;
	return (pgs_shared->launcher_pid != 0 ? 1 : 0) + *schedulers + *workers;
}

/*
 * A note to the launcher about a database without an entry.  Caller holds
 * the lock exclusively.
 */
void
pgs_probe_note(Oid dboid, PgsProbeNoteKind kind)
{
	PgsProbeNote *note = &pgs_shared->probe_ring[pgs_shared->probe_notes % PGS_PROBE_RING];

	note->dboid = dboid;
	note->kind = kind;
	pgs_shared->probe_notes++;
}

/*
 * The stream's counter.  Found without the lock (a slot's relid is written
 * last, after a barrier); created only by a caller holding the lock
 * exclusively.
 */
static PgsStreamCounter *
shm_counter(Oid dboid, Oid relid, bool create)
{
	uint32		h = (uint32) (dboid * 2654435761u) ^ (uint32) relid;
	int			i;

	for (i = 0; i < PGS_STREAM_COUNTERS; i++)
	{
		PgsStreamCounter *c = &pgs_shared->counters[(h + i) % PGS_STREAM_COUNTERS];
		Oid			slot_relid = c->relid;

		pg_read_barrier();
		if (slot_relid == relid && c->dboid == dboid)
			return c;
		if (slot_relid == InvalidOid)
		{
			if (!create)
				return NULL;
			c->dboid = dboid;
			pg_atomic_write_u64(&c->commits, 0);
			pg_write_barrier();
			c->relid = relid;
			return c;
		}
	}
	return NULL;
}

/*
 * How many transactions that inserted into the stream have committed since
 * the server started (UINT64_MAX when nobody counts it).
 */
uint64
pgs_stream_commits(Oid dboid, Oid relid)
{
	PgsStreamCounter *c;
	uint64		result = PG_UINT64_MAX;

	if (pgs_shared == NULL)
		return result;
	c = shm_counter(dboid, relid, false);
	return c != NULL ? pg_atomic_read_u64(&c->commits) : 0;
}

/*
 * Bump the counters of the streams this transaction inserted into, when
 * every one of them has its slot already.  Returns false, having bumped
 * nothing, when one needs a slot: the caller then does it under the lock.
 */
static bool
shm_count_commits_unlocked(List *stream_relids, bool *wake)
{
	ListCell   *lc;

	*wake = false;
	foreach(lc, stream_relids)
		if (shm_counter(MyDatabaseId, lfirst_oid(lc), false) == NULL)
			return false;
	foreach(lc, stream_relids)
	{
		PgsStreamCounter *c = shm_counter(MyDatabaseId, lfirst_oid(lc), false);

		pg_atomic_fetch_add_u64(&c->commits, 1);
		if (c->wake)
			*wake = true;
	}
	return true;
}

/*
 * The streams of database dboid that continuous queries read: a commit
 * into one of them wakes the scheduler, a commit into another only counts
 * (interval triggers look at the counts when they fire).
 */
void
pgs_stream_set_wakes(Oid dboid, const Oid *relids, int nrelids)
{
	int			i;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PGS_STREAM_COUNTERS; i++)
		if (pgs_shared->counters[i].dboid == dboid)
			pgs_shared->counters[i].wake = false;
	for (i = 0; i < nrelids; i++)
	{
		PgsStreamCounter *c = shm_counter(dboid, relids[i], true);

		if (c != NULL)
			c->wake = true;
	}
	LWLockRelease(pgs_shared->lock);
}

/*
 * At commit, act on the transaction's commit notes (common/notes.c): count
 * the commits into streams, wake the scheduler, and tell the launcher of a
 * new extension.  The layers that leave the notes know nothing of shared
 * memory; an abort or a PREPARE forgets them.
 */
void
pgs_shared_at_xact_end(XactEvent event)
{
	ListCell   *lc;
	PgsDatabase *db;
	Latch	   *sched = NULL;
	Latch	   *launcher = NULL;
	bool		wake;
	PgsCommitNotes notes;

	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		pgs_forget_commit_notes();
		return;
	}
	if (event != XACT_EVENT_COMMIT)
		return;
	/* the list of streams lives in TopTransactionContext, still there */
	if (!pgs_take_commit_notes(&notes) || pgs_shared == NULL)
		return;

	/*
	 * The common case, a commit that inserted into streams and changed no
	 * query: the counters are bumped and the scheduler woken without the
	 * lock, so that concurrent writers do not queue on it.  Reading the
	 * database's slot unlocked may see it mid-change: that costs at most a
	 * spurious or a missed wake-up, which the scheduler's own timeout makes
	 * good.
	 */
	if (!notes.scheduler && !notes.launcher &&
		shm_count_commits_unlocked(notes.stream_relids, &wake))
	{
		db = wake ? pgs_find_database(MyDatabaseId, false) : NULL;
		if (db != NULL && db->state == PGS_DB_RUNNING)
			sched = db->sched_latch;
		if (sched)
			SetLatch(sched);
		return;
	}

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	foreach(lc, notes.stream_relids)
	{
		PgsStreamCounter *c = shm_counter(MyDatabaseId, lfirst_oid(lc), false);

		if (c == NULL)
			c = shm_counter(MyDatabaseId, lfirst_oid(lc), true);
		if (c != NULL)
			pg_atomic_fetch_add_u64(&c->commits, 1);
	}
	db = pgs_find_database(MyDatabaseId, notes.launcher);
	if (db != NULL)
	{
		if (notes.scheduler)
			db->reload = true;
		if (notes.launcher && db->state == PGS_DB_NO_EXTENSION)
			db->state = PGS_DB_PROBE;
		/* a database whose scheduler left for want of work gets one again */
		if (notes.scheduler && db->state == PGS_DB_IDLE)
		{
			db->state = PGS_DB_PROBE;
			launcher = pgs_shared->launcher_latch;
		}
		if (db->state == PGS_DB_RUNNING)
			sched = db->sched_latch;
	}
	if (notes.launcher)
	{
		/* without a free entry, the launcher is told to look again */
		if (db == NULL)
			pgs_probe_note(MyDatabaseId, PGS_PROBE_AGAIN);
		launcher = pgs_shared->launcher_latch;
	}
	LWLockRelease(pgs_shared->lock);

	if (sched)
		SetLatch(sched);
	if (launcher)
		SetLatch(launcher);
}

/*
 * Keep the background processes away from a database for a while and stop
 * those that are in it, so that commands needing it to themselves (DROP
 * DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME) can
 * proceed.  Waits up to five seconds for them to leave.
 */
void
pgs_pause_database(Oid dboid, int seconds)
{
	PgsDatabase *db;
	int			waited;
	int			i;

	if (pgs_shared == NULL || !OidIsValid(dboid))
		return;
	for (waited = 0; waited < 500; waited++)
	{
		int			remaining = 0;

		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		db = pgs_find_database(dboid, true);
		if (db != NULL)
		{
			db->state = PGS_DB_PAUSED;
			db->paused_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   seconds * 1000);
			if (db->sched_pid != 0)
			{
				kill(db->sched_pid, SIGTERM);
				remaining++;
			}
		}
		for (i = 0; i < PGS_MAX_WORKERS; i++)
		{
			PgsWorkerSlot *w = &pgs_shared->workers[i];

			if (w->in_use && w->dboid == dboid && w->pid != 0)
			{
				kill(w->pid, SIGTERM);
				remaining++;
			}
		}
		LWLockRelease(pgs_shared->lock);
		if (remaining == 0)
			break;
		pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
}

static Oid
shm_database_named(const char *name)
{
	return name ? get_database_oid(name, true) : InvalidOid;
}

/*
 * From the utility hook, before the command runs: commands that need a
 * database free of other sessions clear it of pg_streaming's processes
 * first.
 */
void
pgs_shared_before_utility(Node *parsetree)
{
	if (pgs_shared != NULL)
	{
		if (IsA(parsetree, DropdbStmt))
			pgs_pause_database(shm_database_named(((DropdbStmt *) parsetree)->dbname), 10);
		else if (IsA(parsetree, CreatedbStmt))
		{
			ListCell   *lc;

			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst_node(DefElem, lc);

				if (strcmp(opt->defname, "template") == 0 && opt->arg)
					pgs_pause_database(shm_database_named(defGetString(opt)), 10);
			}
		}
		else if (IsA(parsetree, DropStmt) &&
				 ((DropStmt *) parsetree)->removeType == OBJECT_EXTENSION)
		{
			/* the scheduler rereads the catalog after the drop and leaves */
			pgs_notify_scheduler_at_commit();
		}
		else if (IsA(parsetree, RenameStmt) &&
				 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
			pgs_pause_database(shm_database_named(((RenameStmt *) parsetree)->subname), 10);
		else if (IsA(parsetree, TransactionStmt))
		{
			/* a prepared transaction's notes wait for its COMMIT PREPARED */
			TransactionStmt *ts = (TransactionStmt *) parsetree;

			if (ts->kind == TRANS_STMT_PREPARE)
				pgs_notes_keep_prepared(ts->gid);
			else if (ts->kind == TRANS_STMT_COMMIT_PREPARED ||
					 ts->kind == TRANS_STMT_ROLLBACK_PREPARED)
				pgs_notes_finish_prepared(ts->gid,
										  ts->kind == TRANS_STMT_COMMIT_PREPARED);
		}
	}
}

/*
 * Start one of pg_streaming's dynamic background workers, reporting to this
 * process.  Returns false when no slot is free.
 */
bool
pgs_start_worker(const char *function, const char *type, Datum arg,
				 BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_notify_pid = MyProcPid;
	worker.bgw_main_arg = arg;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_streaming");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", type);
	return RegisterDynamicBackgroundWorker(&worker, handle);
}

/*
 * Without shared_preload_libraries no worker will run the query: say so
 * where it is started or resumed.
 */
void
pgs_notice_if_unscheduled(const char *name)
{
	if (pgs_shared == NULL)
		ereport(NOTICE,
				(errmsg("pg_streaming is not in shared_preload_libraries, so nothing will run query \"%s\" on its own", name),
				 errhint("Run its batches with CALL stream.process_all_available(), or add pg_streaming to shared_preload_libraries and restart the server.")));
}

/* what a waiting query waits for, as stream.queries shows it */
static const char *
shm_wait_text(PgsWaitReason reason)
{
	switch (reason)
	{
		case PGS_WAIT_STARTING:
			return "waiting for a worker to start";
		case PGS_WAIT_POOL:
			return "waiting for a worker: all pg_streaming.max_workers are busy";
		case PGS_WAIT_NO_SLOT:
			return "no worker slot: max_worker_processes is used up";
		case PGS_WAIT_FAIR:
			return "waiting for a worker: an older due query of another database goes first";
		case PGS_WAIT_NONE:
			break;
	}
	return "due";
}

/*
 * How the background workers serve an active query of this database right
 * now, in words for stream.queries: running, waiting for its trigger, or
 * why a due query is not running (no scheduler, no worker slot, a full
 * pool).  Read from shared memory only, so it costs no catalog access and
 * never waits on anything but the lock.
 */
char *
pgs_query_serving(int64 query_id)
{
	PgsDatabase *db;
	const char *result = NULL;
	int			i;

	if (pgs_shared == NULL)
		return pstrdup("not served: pg_streaming is not in shared_preload_libraries");

	LWLockAcquire(pgs_shared->lock, LW_SHARED);
	for (i = 0; i < PGS_MAX_WORKERS && result == NULL; i++)
	{
		PgsWorkerSlot *w = &pgs_shared->workers[i];

		if (w->in_use && w->dboid == MyDatabaseId && w->query_id == query_id &&
			!w->done)
			result = "running";
	}
	db = result ? NULL : pgs_find_database(MyDatabaseId, false);
	if (result != NULL)
		;
	else if (db == NULL)
		result = pgs_shared->dbs_full ?
			"no scheduler: pg_streaming.max_databases is reached" :
			"waiting for the launcher to start a scheduler";
	else if (db->state == PGS_DB_PAUSED)
		result = "paused: the database is being dropped, renamed or copied";
	else if (db->sched_pid == 0 && db->no_slot_since != 0)
		result = "no scheduler: max_worker_processes is used up";
	else if (db->sched_pid == 0)
		result = "waiting for the launcher to start a scheduler";
	else
	{
		for (i = 0; i < Min(db->nwaiting, PGS_DB_WAITING); i++)
			if (db->waiting[i].query_id == query_id)
				result = shm_wait_text(db->waiting[i].reason);
		/* more wait than the entry lists: the oldest reason stands for all */
		if (result == NULL && db->nwaiting > PGS_DB_WAITING)
			result = shm_wait_text(db->waiting[0].reason);
		if (result == NULL)
			result = "waiting for its trigger";
	}
	LWLockRelease(pgs_shared->lock);
	return pstrdup(result);
}
