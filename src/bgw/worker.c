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
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/bgw_internal.h"
#include "catalog/pgs_query.h"
#include "exec/pgs_batch.h"
#include "pg_streaming.h"

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

/*
 * Record what a batch of the query left in the catalog, in a transaction of
 * its own: its error (failing the query unless the error is worth another
 * try), or, with edata NULL, that a once or available-now run finished.
 */
static void
worker_record(int64 query_id, ErrorData *edata, bool fail)
{
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (OidIsValid(get_extension_oid("pg_streaming", true)))
	{
		if (edata == NULL)
			pgs_query_set_status(query_id, "finished", true);
		else
			pgs_query_set_error(query_id, fail,
								unpack_sql_state(edata->sqlerrcode),
								edata->message, edata->detail, edata->hint);
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/* name the query in what a failed batch writes to the server log */
static void
worker_error_context(void *arg)
{
	errcontext("background worker batch of streaming query with id " INT64_FORMAT,
			   *(int64 *) arg);
}

/*
 * pg_stat_activity names the query the worker runs: its application_name
 * and its activity.
 */
static void
worker_name_activity(int64 query_id)
{
	PgsQuery	q;
	char	   *activity;

	if (!pgs_query_read(NULL, query_id, PGS_QUERY_NO_LOCK, &q))
		return;
	(void) set_config_option("application_name",
							 psprintf("pg_streaming: %s", q.name),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	activity = psprintf("streaming query \"%s\" (id " INT64_FORMAT "): running batches",
						q.name, query_id);
	pgstat_report_activity(STATE_RUNNING, activity);
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
	ErrorContextCallback errcb;

	*batches = 0;
	sqlstate[0] = '\0';
	message[0] = '\0';
	if (mode == PGS_RUN_ONCE)
		flags |= PGS_BATCH_NO_CAP;

	/*
	 * A non-atomic SPI connection keeps its memory under PortalContext,
	 * which a background worker does not have: give it one that the run's
	 * context takes with it, so that what an aborted batch leaves there is
	 * freed with everything else the run allocated.
	 */
	PortalContext = AllocSetContextCreate(cxt, "pg_streaming worker portal",
										  ALLOCSET_DEFAULT_SIZES);
	errcb.callback = worker_error_context;
	errcb.arg = &query_id;
	errcb.previous = error_context_stack;
	PG_TRY();
	{
		error_context_stack = &errcb;
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		/* batches plan at READ COMMITTED, whatever the default says */
		XactIsoLevel = XACT_READ_COMMITTED;
		if (!OidIsValid(get_extension_oid("pg_streaming", true)))
			result = PGS_RESULT_INACTIVE;
		else
		{
			worker_name_activity(query_id);
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
		error_context_stack = errcb.previous;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/*
		 * The server log gets the error as any backend's would, with the
		 * query named in its context; the catalog gets it for the views.
		 */
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		error_context_stack = errcb.previous;
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();

		strlcpy(sqlstate, unpack_sql_state(edata->sqlerrcode), 6);
		strlcpy(message, edata->message ? edata->message : "", PGS_ERRMSG_LEN);
		result = worker_error_is_transient(edata->sqlerrcode) ?
			PGS_RESULT_TRANSIENT : PGS_RESULT_FAILED;
		worker_record(query_id, edata, result == PGS_RESULT_FAILED);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	/* transaction ends leave TopMemoryContext current */
	MemoryContextSwitchTo(cxt);
	PortalContext = NULL;

	/*
	 * Session-level advisory locks a batch's code took would outlive it in
	 * this worker, held for whatever query it runs next: the worker takes
	 * none of its own, so it lets them all go.
	 */
	LockReleaseSession(USER_LOCKMETHOD);

	if (result == PGS_RESULT_OK &&
		(mode == PGS_RUN_ONCE || mode == PGS_RUN_AVAILABLE_NOW))
		worker_record(query_id, NULL, false);
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
			MemoryContext old;

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
