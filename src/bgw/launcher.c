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

typedef struct LauncherDb
{
	Oid			dboid;
	bool		connectable;
	NameData	name;
} LauncherDb;

/* one handle per entry of the database table, pg_streaming.max_databases */
static BackgroundWorkerHandle **sched_handles;
/* databases a scheduler found without the extension; they hold no entry */
static List *no_extension = NIL;
static uint32 seen_probe_generation = 0;
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
	int			unplaced = 0;
	const char *unplaced_name = NULL;
	int			failed = 0;
	const char *failed_name = NULL;
	int			holding = 0;
	int			nsched = 0;
	int			nworkers = 0;
	int			n;
	int			i;
	ListCell   *lc;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	if (pgs_shared->probe_generation != seen_probe_generation)
	{
		/* CREATE EXTENSION committed somewhere: look at them all again */
		seen_probe_generation = pgs_shared->probe_generation;
		list_free(no_extension);
		no_extension = NIL;
	}
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
	foreach(lc, dbs)
	{
		LauncherDb *ldb = lfirst(lc);

		if (!ldb->connectable || list_member_oid(no_extension, ldb->dboid))
			continue;
		if (pgs_find_database(ldb->dboid, true) == NULL)
		{
			unplaced++;
			unplaced_name = NameStr(ldb->name);
		}
	}
	pgs_shared->dbs_full = unplaced > 0;
	for (i = 0; i < ndbs; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		to_start[i] = InvalidOid;
		if ((db->state == PGS_DB_PROBE || db->state == PGS_DB_RUNNING) &&
			db->sched_pid == 0)
			to_start[i] = db->dboid;
		if (db->state != PGS_DB_FREE)
			holding++;
	}
	LWLockRelease(pgs_shared->lock);

	/* start in turn from a different entry, so that none is always last */
	for (n = 0; n < ndbs; n++)
	{
		i = (next_start + n) % ndbs;
		if (!OidIsValid(to_start[i]) || launcher_scheduler_alive(i))
			continue;
		if (!launcher_start_scheduler(i, to_start[i]))
		{
			LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
			if (pgs_shared->dbs[i].dboid == to_start[i] &&
				pgs_shared->dbs[i].no_slot_since == 0)
				pgs_shared->dbs[i].no_slot_since = now;
			LWLockRelease(pgs_shared->lock);
			failed++;
			failed_name = launcher_db_name(dbs, to_start[i]);
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
	if (unplaced > 0 &&
		now >= TimestampTzPlusMilliseconds(last_full_warning, PGS_WARNING_INTERVAL_MS))
	{
		last_full_warning = now;
		ereport(WARNING,
				(errmsg("pg_streaming cannot serve %d database(s), among them \"%s\": pg_streaming.max_databases is reached",
						unplaced, unplaced_name),
				 errdetail("All %d entries are held by databases that have pg_streaming or are being looked at; the queries of a database without an entry do not run, and stream.queries shows it in the column serving.",
						   holding),
				 errhint("Raise pg_streaming.max_databases (a restart is needed) to at least %d.",
						 holding + unplaced)));
	}
	pfree(to_start);
	list_free_deep(dbs);
	return failed > 0 || unplaced > 0;
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
