/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: one background worker for the whole server that keeps a
 *	  scheduler running in every database where pg_streaming is installed.
 *
 * The launcher cannot read another database's pg_extension, so it starts a
 * scheduler in every database that accepts connections and is not a
 * template; a scheduler that finds no extension records that and exits.
 * Such a database is remembered here, not in shared memory, and looked at
 * again only when CREATE EXTENSION commits somewhere (it tells the
 * launcher); so the table of databases (pg_streaming.max_databases) counts
 * only databases with the extension.  A scheduler whose database has no
 * active query leaves; the launcher starts it again when a query is
 * started there.  Databases that appear are noticed on the next look at
 * pg_database, every pg_streaming.launcher_naptime.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/bgw_internal.h"

/* how long a scheduler may wait for a slot before a WARNING says so */
#define LAUNCHER_SLOT_GRACE_MS	3000
/* databases looked at at once, so that looking does not take every slot */
#define LAUNCHER_MAX_PROBES		4

typedef struct LauncherDb
{
	Oid			dboid;
	bool		connectable;
	NameData	name;
} LauncherDb;

/* one handle per entry of the database table, pg_streaming.max_databases */
static BackgroundWorkerHandle **sched_handles;
/*
 * Databases without an entry, as far as the launcher knows: found without
 * the extension, found with it but no free entry, being looked at.
 */
typedef struct LauncherProbe
{
	Oid			dboid;
	BackgroundWorkerHandle *handle; /* NULL: could not be started yet */
	TimestampTz failing_since;
} LauncherProbe;

static List *no_extension = NIL;
static List *unplaced = NIL;
static List *probing = NIL;		/* of LauncherProbe, in TopMemoryContext */
static uint32 seen_probe_notes = 0;
static TimestampTz last_slot_warning = 0;
static TimestampTz last_full_warning = 0;
static int	next_start = 0;		/* where the next pass starts its look */

void
pgs_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_streaming");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pgs_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_streaming launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_streaming launcher");
	RegisterBackgroundWorker(&worker);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	pgs_shared->launcher_pid = 0;
	pgs_shared->launcher_latch = NULL;
	LWLockRelease(pgs_shared->lock);
}

/* every database that a scheduler could serve */
static List *
launcher_databases(void)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext outer = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database form = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old = MemoryContextSwitchTo(outer);
		LauncherDb *db = palloc(sizeof(LauncherDb));

		db->dboid = form->oid;
		db->connectable = form->datallowconn && !form->datistemplate &&
			form->datconnlimit != -2;	/* -2: being dropped */
		db->name = form->datname;
		result = lappend(result, db);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

static bool
launcher_start_scheduler(int index, Oid dboid)
{
	if (!pgs_start_worker("pgs_scheduler_main", "pg_streaming scheduler",
						  ObjectIdGetDatum(dboid), &sched_handles[index]))
	{
		sched_handles[index] = NULL;
		return false;
	}
	return true;
}

static bool
launcher_scheduler_alive(int index)
{
	pid_t		pid;
	BgwHandleStatus status;

	if (sched_handles[index] == NULL)
		return false;
	status = GetBackgroundWorkerPid(sched_handles[index], &pid);
	return status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED;
}

static const char *
launcher_db_name(List *dbs, Oid dboid)
{
	ListCell   *lc;

	foreach(lc, dbs)
	{
		LauncherDb *ldb = lfirst(lc);

		if (ldb->dboid == dboid)
			return NameStr(ldb->name);
	}
	return "?";
}

/* the databases of "oids" that are still in pg_database */
static List *
launcher_keep_present(List *oids, List *dbs)
{
	List	   *result = NIL;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	ListCell   *lc;

	foreach(lc, oids)
	{
		ListCell   *ld;

		foreach(ld, dbs)
			if (((LauncherDb *) lfirst(ld))->dboid == lfirst_oid(lc))
			{
				result = lappend_oid(result, lfirst_oid(lc));
				break;
			}
	}
	MemoryContextSwitchTo(old);
	list_free(oids);
	return result;
}

/*
 * Take in the notes about databases without an entry.  Caller holds the
 * lock exclusively.
 */
static void
launcher_read_notes(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	if (pgs_shared->probe_notes - seen_probe_notes > PGS_PROBE_RING)
	{
		/* fell behind: look at every database again */
		list_free(no_extension);
		no_extension = NIL;
		list_free(unplaced);
		unplaced = NIL;
		seen_probe_notes = pgs_shared->probe_notes;
	}
	for (; seen_probe_notes != pgs_shared->probe_notes; seen_probe_notes++)
	{
		PgsProbeNote *note = &pgs_shared->probe_ring[seen_probe_notes % PGS_PROBE_RING];

		switch (note->kind)
		{
			case PGS_PROBE_AGAIN:
				no_extension = list_delete_oid(no_extension, note->dboid);
				unplaced = list_delete_oid(unplaced, note->dboid);
				break;
			case PGS_PROBE_NO_EXTENSION:
				no_extension = list_append_unique_oid(no_extension, note->dboid);
				unplaced = list_delete_oid(unplaced, note->dboid);
				break;
			case PGS_PROBE_NO_ENTRY:
				unplaced = list_append_unique_oid(unplaced, note->dboid);
				break;
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * Look at the connectable databases that hold no entry and that the
 * launcher knows nothing of, a few at a time: a scheduler is started
 * there, takes an entry if the extension is installed and serves it, or
 * leaves a note.  Counts into *failed the ones whose scheduler could not
 * be started for a while now, into *unstarted all of those.
 */
static void
launcher_probe(List *dbs, TimestampTz now, int *failed, const char **failed_name,
			   int *unstarted)
{
	List	   *still = NIL;
	ListCell   *lc;
	MemoryContext old;

	/*
	 * Those that ended are done, their notes say what they found; those
	 * that found the extension hold an entry and serve the database.
	 */
	foreach(lc, probing)
	{
		LauncherProbe *p = lfirst(lc);
		pid_t		pid;
		bool		placed;

		LWLockAcquire(pgs_shared->lock, LW_SHARED);
		placed = pgs_find_database(p->dboid, false) != NULL;
		LWLockRelease(pgs_shared->lock);
		if (placed ||
			(p->handle != NULL && GetBackgroundWorkerPid(p->handle, &pid) == BGWH_STOPPED))
		{
			if (p->handle != NULL)
				pfree(p->handle);
			pfree(p);
			continue;
		}
		old = MemoryContextSwitchTo(TopMemoryContext);
		still = lappend(still, p);
		MemoryContextSwitchTo(old);
	}
	list_free(probing);
	probing = still;

	foreach(lc, dbs)
	{
		LauncherDb *ldb = lfirst(lc);
		LauncherProbe *p = NULL;
		ListCell   *lp;
		bool		known;

		if (!ldb->connectable || list_member_oid(no_extension, ldb->dboid) ||
			list_member_oid(unplaced, ldb->dboid))
			continue;
		LWLockAcquire(pgs_shared->lock, LW_SHARED);
		known = pgs_find_database(ldb->dboid, false) != NULL;
		LWLockRelease(pgs_shared->lock);
		if (known)
			continue;
		foreach(lp, probing)
			if (((LauncherProbe *) lfirst(lp))->dboid == ldb->dboid)
				p = lfirst(lp);
		if (p != NULL && p->handle != NULL)
			continue;
		if (p == NULL)
		{
			if (list_length(probing) >= LAUNCHER_MAX_PROBES)
				continue;
			old = MemoryContextSwitchTo(TopMemoryContext);
			p = palloc0(sizeof(LauncherProbe));
			p->dboid = ldb->dboid;
			probing = lappend(probing, p);
			MemoryContextSwitchTo(old);
		}
		old = MemoryContextSwitchTo(TopMemoryContext);
		if (!pgs_start_worker("pgs_scheduler_main", "pg_streaming scheduler",
							  ObjectIdGetDatum(ldb->dboid), &p->handle))
		{
			p->handle = NULL;
			if (p->failing_since == 0)
				p->failing_since = now;
			if (now >= TimestampTzPlusMilliseconds(p->failing_since, LAUNCHER_SLOT_GRACE_MS))
			{
				(*failed)++;
				*failed_name = NameStr(ldb->name);
			}
			(*unstarted)++;
		}
		MemoryContextSwitchTo(old);
	}
}

/*
 * Bring the database table in line with pg_database, then start the
 * schedulers that should run and do not.  Only databases with the
 * extension keep an entry (pg_streaming.max_databases of them); one that
 * has not been looked at holds one while its scheduler looks.  A
 * scheduler that cannot be started, or a database that cannot get an
 * entry, is reported (once a minute) and shown in stream.queries; the
 * pass is repeated within a second until it is served.  Returns whether
 * something is left to do.
 */
static bool
launcher_pass(void)
{
	List	   *dbs = launcher_databases();
	TimestampTz now = GetCurrentTimestamp();
	int			ndbs = pgs_shared->ndbs;
	Oid		   *to_start = palloc(sizeof(Oid) * ndbs);
	int			nunplaced = 0;
	const char *unplaced_name = NULL;
	int			nfree = 0;
	int			failed = 0;
	int			unstarted = 0;
	const char *failed_name = NULL;
	int			holding = 0;
	int			nsched = 0;
	int			nworkers = 0;
	int			n;
	int			i;
	ListCell   *lc;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	launcher_read_notes();
	no_extension = launcher_keep_present(no_extension, dbs);
	unplaced = launcher_keep_present(unplaced, dbs);
	for (i = 0; i < ndbs; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];
		bool		present = false;

		if (db->state == PGS_DB_FREE)
			continue;
		foreach(lc, dbs)
		{
			LauncherDb *ldb = lfirst(lc);

			if (ldb->dboid == db->dboid && ldb->connectable)
				present = true;
		}
		if (!present && db->sched_pid == 0)
			db->state = PGS_DB_FREE;
		else if (db->state == PGS_DB_NO_EXTENSION && db->sched_pid == 0)
		{
			/* remembered here, so that it holds no entry */
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			no_extension = list_append_unique_oid(no_extension, db->dboid);
			MemoryContextSwitchTo(old);
			db->state = PGS_DB_FREE;
		}
		else if (db->state == PGS_DB_PAUSED && now >= db->paused_until)
			db->state = PGS_DB_PROBE;
	}
	for (i = 0; i < ndbs; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		to_start[i] = InvalidOid;
		if ((db->state == PGS_DB_PROBE || db->state == PGS_DB_RUNNING) &&
			db->sched_pid == 0)
			to_start[i] = db->dboid;
		if (db->state != PGS_DB_FREE)
			holding++;
		else
			nfree++;
	}
	/* an entry came free: those that found none look again */
	if (nfree > 0 && unplaced != NIL)
	{
		list_free(unplaced);
		unplaced = NIL;
	}
	pgs_shared->dbs_full = unplaced != NIL;
	LWLockRelease(pgs_shared->lock);

	launcher_probe(dbs, now, &failed, &failed_name, &unstarted);
	nunplaced = list_length(unplaced);
	foreach(lc, unplaced)
		unplaced_name = launcher_db_name(dbs, lfirst_oid(lc));

	/* start in turn from a different entry, so that none is always last */
	for (n = 0; n < ndbs; n++)
	{
		i = (next_start + n) % ndbs;
		if (!OidIsValid(to_start[i]) || launcher_scheduler_alive(i))
			continue;
		if (!launcher_start_scheduler(i, to_start[i]))
		{
			TimestampTz since;

			LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
			if (pgs_shared->dbs[i].dboid == to_start[i] &&
				pgs_shared->dbs[i].no_slot_since == 0)
				pgs_shared->dbs[i].no_slot_since = now;
			since = pgs_shared->dbs[i].no_slot_since;
			LWLockRelease(pgs_shared->lock);

			/*
			 * Looking at many databases at once (after a restart) may take
			 * every slot for a moment: only a wait that lasts is reported.
			 */
			if (now >= TimestampTzPlusMilliseconds(since, LAUNCHER_SLOT_GRACE_MS))
			{
				failed++;
				failed_name = launcher_db_name(dbs, to_start[i]);
			}
			unstarted++;
		}
	}
	next_start = (next_start + 1) % ndbs;

	if (failed > 0 &&
		now >= TimestampTzPlusMilliseconds(last_slot_warning, PGS_WARNING_INTERVAL_MS))
	{
		int			own;

		LWLockAcquire(pgs_shared->lock, LW_SHARED);
		own = pgs_count_own_processes(&nsched, &nworkers);
		LWLockRelease(pgs_shared->lock);
		last_slot_warning = now;
		ereport(WARNING,
				(errmsg("pg_streaming could not start the scheduler of %d database(s), among them \"%s\": max_worker_processes is used up",
						failed, failed_name),
				 errdetail("All %d background worker slots are taken; pg_streaming holds %d of them (the launcher, %d schedulers, %d query workers). The queries of those databases do not run until a slot is free; stream.queries shows it in the column serving.",
						   max_worker_processes, own, nsched, nworkers),
				 errhint("Raise max_worker_processes (a restart is needed) by at least %d, or lower pg_streaming.max_workers.",
						 failed)));
	}
	if (nunplaced > 0 &&
		now >= TimestampTzPlusMilliseconds(last_full_warning, PGS_WARNING_INTERVAL_MS))
	{
		last_full_warning = now;
		ereport(WARNING,
				(errmsg("pg_streaming cannot serve %d database(s), among them \"%s\": pg_streaming.max_databases is reached",
						nunplaced, unplaced_name),
				 errdetail("All %d entries are held by databases that have pg_streaming or are being looked at; the queries of a database without an entry do not run, and stream.queries shows it in the column serving.",
						   holding),
				 errhint("Raise pg_streaming.max_databases (a restart is needed) to at least %d.",
						 holding + nunplaced)));
	}
	pfree(to_start);
	list_free_deep(dbs);
	return unstarted > 0 || nunplaced > 0 || probing != NIL;
}

void
pgs_launcher_main(Datum arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	pgs_shared->launcher_pid = MyProcPid;
	pgs_shared->launcher_latch = MyLatch;
	LWLockRelease(pgs_shared->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	sched_handles = MemoryContextAllocZero(TopMemoryContext,
										   sizeof(BackgroundWorkerHandle *) * pgs_shared->ndbs);
	pgstat_report_activity(STATE_RUNNING, "looking for databases");
	while (!ShutdownRequestPending)
	{
		bool		unserved;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		unserved = launcher_pass();
		pgstat_report_activity(STATE_IDLE, NULL);

		/*
		 * A scheduler that could not start is tried again within a second
		 * (and at once when one of ours exits: its latch is set then).
		 */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 unserved ? Min(1000, pgs_launcher_naptime_ms) : pgs_launcher_naptime_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}
