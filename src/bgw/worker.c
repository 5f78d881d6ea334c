/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  A query worker: runs the batches its database's scheduler hands it,
 *	  through the same code as stream.process_batch.
 *
 * A worker is connected as one role: the owner of the queries it runs, when
 * that role may log in, or else the bootstrap superuser (PostgreSQL 15
 * cannot start a worker as a role without LOGIN).  Either way every batch
 * runs under the query owner's identity, with the restrictions PostgreSQL
 * applies to code it runs on a table owner's behalf (batch.c).  An error in a batch rolls the batch back;
 * serialization failures, deadlocks and lost connections are handed back
 * to the scheduler to retry, anything else marks the query failed with its
 * message and SQLSTATE.  SIGTERM cancels a batch in flight (it rolls back
 * whole) and ends the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_streaming.h"
#include "shared.h"

static int	worker_slot = -1;

static void
worker_detach(int code, Datum arg)
{
	PgsWorkerSlot *w = &pgs_shared->workers[worker_slot];

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	if (w->pid == MyProcPid)
	{
		w->in_use = false;
		w->ready = false;
		w->pid = 0;
		w->latch = NULL;
	}
	LWLockRelease(pgs_shared->lock);
}

/* errors worth another try: the same batch may well succeed */
static bool
worker_error_is_transient(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
		sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION;
}

static void
worker_record(int64 query_id, const char *sql, const char *sqlstate,
			  const char *message)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	MemoryContext cxt = CurrentMemoryContext;

	values[0] = Int64GetDatum(query_id);
	values[1] = CStringGetTextDatum(sqlstate ? sqlstate : "");
	values[2] = CStringGetTextDatum(message ? message : "");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (OidIsValid(get_extension_oid("pg_streaming", true)))
	{
		pgs_catalog_begin(&acc);
		pgs_catalog_exec(sql, 3, argtypes, values, NULL, false, 0);
		pgs_catalog_end(&acc);
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/*
 * Run one assignment.  Returns the outcome; *batches gets the number of
 * batches committed, sqlstate and message the error, if any.
 */
static PgsRunResult
worker_run(int64 query_id, PgsRunMode mode, int *batches, char *sqlstate,
		   char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile PgsRunResult result = PGS_RESULT_OK;
	volatile int flags = PGS_BATCH_REQUIRE_ACTIVE;

	*batches = 0;
	sqlstate[0] = '\0';
	message[0] = '\0';
	if (mode == PGS_RUN_ONCE)
		flags |= PGS_BATCH_NO_CAP;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (!OidIsValid(get_extension_oid("pg_streaming", true)))
			result = PGS_RESULT_INACTIVE;
		else
		{
			if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			for (;;)
			{
				PgsBatchResult r;

				CHECK_FOR_INTERRUPTS();
				r = pgs_run_batch(query_id, true, flags);
				if (r == PGS_BATCH_INACTIVE)
				{
					result = PGS_RESULT_INACTIVE;
					break;
				}
				if (r == PGS_BATCH_NONE)
					break;
				(*batches)++;
				if (mode == PGS_RUN_ONE || mode == PGS_RUN_ONCE)
					break;
				if (r == PGS_BATCH_DONE)
					break;
			}
			SPI_finish();
		}
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		strlcpy(sqlstate, unpack_sql_state(edata->sqlerrcode), 6);
		strlcpy(message, edata->message ? edata->message : "", PGS_ERRMSG_LEN);
		if (worker_error_is_transient(edata->sqlerrcode))
		{
			result = PGS_RESULT_TRANSIENT;
			worker_record(query_id,
						  "UPDATE stream.query_defs SET last_error = $3,"
						  " last_error_sqlstate = $2, last_error_at = pg_catalog.now()"
						  " WHERE query_id = $1",
						  sqlstate, message);
		}
		else
		{
			result = PGS_RESULT_FAILED;
			worker_record(query_id,
						  "UPDATE stream.query_defs SET status = 'failed', last_error = $3,"
						  " last_error_sqlstate = $2, last_error_at = pg_catalog.now()"
						  " WHERE query_id = $1 AND status = 'active'",
						  sqlstate, message);
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	/* transaction ends leave TopMemoryContext current */
	MemoryContextSwitchTo(cxt);

	if (result == PGS_RESULT_OK &&
		(mode == PGS_RUN_ONCE || mode == PGS_RUN_AVAILABLE_NOW))
		worker_record(query_id,
					  "UPDATE stream.query_defs SET status = 'finished'"
					  " WHERE query_id = $1 AND status = 'active'",
					  "", "");
	return result;
}

void
pgs_worker_main(Datum arg)
{
	PgsWorkerSlot *w;
	Oid			dboid;
	Oid			roleid;
	TimestampTz idle_since = GetCurrentTimestamp();
	MemoryContext run_cxt;
	bool		announce = true;

	worker_slot = DatumGetInt32(arg);
	w = &pgs_shared->workers[worker_slot];

	/* SIGTERM cancels a batch in flight, like a backend's */
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	if (!w->in_use || w->pid != 0)
	{
		LWLockRelease(pgs_shared->lock);
		proc_exit(0);
	}
	w->pid = MyProcPid;
	dboid = w->dboid;
	roleid = w->roleid;
	LWLockRelease(pgs_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, roleid, 0);
	run_cxt = AllocSetContextCreate(TopMemoryContext, "pg_streaming worker",
									ALLOCSET_DEFAULT_SIZES);

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	w->latch = MyLatch;
	w->ready = true;
	LWLockRelease(pgs_shared->lock);

	for (;;)
	{
		int64		query_id;
		PgsRunMode	mode;
		Latch	   *sched_latch = NULL;
		PgsDatabase *db;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		query_id = w->done ? 0 : w->query_id;
		mode = w->mode;
		db = pgs_find_database(dboid, false);
		if (db != NULL)
			sched_latch = db->sched_latch;
		if (query_id == 0 && !w->done &&
			(w->retire ||
			 GetCurrentTimestamp() >= TimestampTzPlusMilliseconds(idle_since, pgs_worker_idle_timeout_ms)))
		{
			/* idle too long, or the slot is wanted: give it back */
			w->ready = false;
			LWLockRelease(pgs_shared->lock);
			proc_exit(0);
		}
		LWLockRelease(pgs_shared->lock);

		/* tell the scheduler that we are ready for work */
		if (announce && sched_latch)
		{
			SetLatch(sched_latch);
			announce = false;
		}

		if (query_id != 0)
		{
			PgsRunResult result;
			int			batches;
			char		sqlstate[6];
			char		message[PGS_ERRMSG_LEN];
			char		activity[64];
			MemoryContext old;

			snprintf(activity, sizeof(activity), "running a batch of streaming query " INT64_FORMAT, query_id);
			pgstat_report_activity(STATE_RUNNING, activity);
			old = MemoryContextSwitchTo(run_cxt);
			result = worker_run(query_id, mode, &batches, sqlstate, message);
			MemoryContextSwitchTo(old);
			MemoryContextReset(run_cxt);
			pgstat_report_activity(STATE_IDLE, NULL);

			LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
			w->result = result;
			w->batches = batches;
			memcpy(w->sqlstate, sqlstate, sizeof(w->sqlstate));
			strlcpy(w->errmsg, message, sizeof(w->errmsg));
			w->done = true;
			db = pgs_find_database(dboid, false);
			sched_latch = db ? db->sched_latch : NULL;
			LWLockRelease(pgs_shared->lock);
			if (sched_latch)
				SetLatch(sched_latch);
			idle_since = GetCurrentTimestamp();
			continue;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
