/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: one background worker for the whole server that keeps a
 *	  scheduler running in every database where pg_streaming is installed.
 *
 * The launcher cannot read another database's pg_extension, so it starts a
 * scheduler in every database that accepts connections and is not a
 * template; a scheduler that finds no extension records that and exits.
 * Such a database is looked at again only when CREATE EXTENSION commits
 * there (it tells the launcher).  Databases that appear are noticed on the
 * next look at pg_database, every pg_streaming.launcher_naptime.
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
} LauncherDb;

static BackgroundWorkerHandle *sched_handles[PGS_MAX_DATABASES];

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

/*
 * Bring the database table in line with pg_database, then start the
 * schedulers that should run and do not.
 */
static void
launcher_pass(void)
{
	List	   *dbs = launcher_databases();
	TimestampTz now = GetCurrentTimestamp();
	Oid			to_start[PGS_MAX_DATABASES];
	int			i;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PGS_MAX_DATABASES; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];
		ListCell   *lc;
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
		else if (db->state == PGS_DB_PAUSED && now >= db->paused_until)
			db->state = PGS_DB_PROBE;
	}
	{
		ListCell   *lc;

		foreach(lc, dbs)
		{
			LauncherDb *ldb = lfirst(lc);

			if (ldb->connectable)
				(void) pgs_find_database(ldb->dboid, true);
		}
	}
	for (i = 0; i < PGS_MAX_DATABASES; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		to_start[i] = InvalidOid;
		if ((db->state == PGS_DB_PROBE || db->state == PGS_DB_RUNNING) &&
			db->sched_pid == 0)
			to_start[i] = db->dboid;
	}
	LWLockRelease(pgs_shared->lock);

	for (i = 0; i < PGS_MAX_DATABASES; i++)
		if (OidIsValid(to_start[i]) && !launcher_scheduler_alive(i))
			(void) launcher_start_scheduler(i, to_start[i]);
	list_free_deep(dbs);
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

	pgstat_report_activity(STATE_RUNNING, "looking for databases");
	while (!ShutdownRequestPending)
	{
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		launcher_pass();
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pgs_launcher_naptime_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}
