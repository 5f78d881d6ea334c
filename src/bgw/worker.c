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
 * serialization failures, deadlocks, lost connections and a batch that ran
 * longer than pg_streaming.batch_timeout (canceled as statement_timeout
 * cancels a statement) are handed back to the scheduler to retry, anything
 * else marks the query failed with its message and SQLSTATE.  SIGTERM
 * cancels a batch in flight (it rolls back whole) and ends the worker.
 * Each assignment is one batch: the query goes back to the scheduler
 * after it, so that other queries waiting for a worker get their turn.
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
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "bgw/bgw_internal.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_file_sources.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "exec/pgs_batch.h"
#include "source/pgs_file_source.h"

static int	worker_slot = -1;
static bool worker_connected = false;
static TimeoutId batch_timeout_id;
static volatile sig_atomic_t batch_timed_out = false;

/* the query the worker runs, for the context of its errors */
typedef struct WorkerQueryName
{
	int64		query_id;
	char		name[NAMEDATALEN * 2];
} WorkerQueryName;

static WorkerQueryName running_query;

/*
 * Give the slot back.  A worker that could not connect (a FATAL error in
 * InitPostgres) leaves the slot to its scheduler, marked, so that the
 * scheduler knows the role it was started for cannot be used; and the
 * schedulers waiting for a slot are told that one is free.
 */
static void
worker_detach(int code, Datum arg)
{
	PgsWorkerSlot *w = &pgs_shared->workers[worker_slot];
	int			i;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	if (w->pid == MyProcPid)
	{
		if (worker_connected)
			w->in_use = false;
		else
			w->connect_failed = true;
		w->ready = false;
		w->pid = 0;
		w->latch = NULL;
	}
	for (i = 0; i < pgs_shared->ndbs; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		if (db->sched_latch != NULL && (db->want_since != 0 || db->dboid == w->dboid))
			SetLatch(db->sched_latch);
	}
	LWLockRelease(pgs_shared->lock);
}

/*
 * pg_streaming.batch_timeout ran out: cancel the batch as a statement
 * timeout cancels a statement, at the next CHECK_FOR_INTERRUPTS.
 */
static void
worker_batch_timeout_handler(void)
{
	batch_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
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
	WorkerQueryName *qn = (WorkerQueryName *) arg;

	if (qn->name[0] != '\0')
		errcontext("batch of streaming query \"%s\" (id " INT64_FORMAT ") in a background worker",
				   qn->name, qn->query_id);
	else
		errcontext("batch of streaming query with id " INT64_FORMAT " in a background worker",
				   qn->query_id);
}

/*
 * pg_stat_activity names the query the worker runs: its application_name
 * and its activity.  The name is kept for the context of errors.
 */
static void
worker_name_activity(int64 query_id)
{
	PgsQuery	q;
	char	   *activity;

	running_query.query_id = query_id;
	running_query.name[0] = '\0';
	if (!pgs_query_read(NULL, query_id, PGS_QUERY_NO_LOCK, &q))
		return;
	strlcpy(running_query.name, q.name, sizeof(running_query.name));
	(void) set_config_option("application_name",
							 psprintf("pg_streaming: %s", q.name),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	activity = psprintf("streaming query \"%s\" (id " INT64_FORMAT "): running a batch",
						q.name, query_id);
	pgstat_report_activity(STATE_RUNNING, activity);
}

/*
 * A batch that ran into pg_streaming.batch_timeout: the cancel's error
 * replaced by one that says which limit it was and what to do.  Called in
 * PG_CATCH, with the cancel error flushed.
 */
static void
worker_report_timeout(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("batch of streaming query \"%s\" (id " INT64_FORMAT ") canceled: it ran longer than pg_streaming.batch_timeout (%d ms)",
					running_query.name, running_query.query_id, pgs_batch_timeout_ms),
			 errdetail("The batch was rolled back; it is retried as after a transient error, and the query fails after pg_streaming.max_retries retries."),
			 errhint("Find what makes the batch slow (a trigger on the target, a lock it waits for, a large backlog with no max_rows_per_batch), or raise pg_streaming.batch_timeout (0 turns the limit off).")));
}

/* the error in flight, logged and copied out of the error state */
static ErrorData *
worker_take_error(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	EmitErrorReport();
	edata = CopyErrorData();
	FlushErrorState();
	return edata;
}

/*
 * Run one assignment: one batch.  Returns the outcome; *batches gets the
 * number of batches committed (0 or 1), *more whether the batch was capped
 * with more rows waiting, sqlstate and message the error, if any.
 */
static PgsRunResult
worker_run(int64 query_id, PgsRunMode mode, int *batches, bool *more,
		   char *sqlstate, char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile PgsRunResult result = PGS_RESULT_OK;
	volatile int flags = PGS_BATCH_REQUIRE_ACTIVE;
	ErrorContextCallback errcb;

	*batches = 0;
	*more = false;
	sqlstate[0] = '\0';
	message[0] = '\0';
	if (mode == PGS_RUN_ONCE)
		flags |= PGS_BATCH_NO_CAP;
	running_query.query_id = query_id;
	running_query.name[0] = '\0';

	/*
	 * A non-atomic SPI connection keeps its memory under PortalContext,
	 * which a background worker does not have: give it one that the run's
	 * context takes with it, so that what an aborted batch leaves there is
	 * freed with everything else the run allocated.
	 */
	PortalContext = AllocSetContextCreate(cxt, "pg_streaming worker portal",
										  ALLOCSET_DEFAULT_SIZES);
	errcb.callback = worker_error_context;
	errcb.arg = &running_query;
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
			PgsBatchResult r;

			worker_name_activity(query_id);
			if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			CHECK_FOR_INTERRUPTS();
			batch_timed_out = false;
			if (pgs_batch_timeout_ms > 0)
				enable_timeout_after(batch_timeout_id, pgs_batch_timeout_ms);
			r = pgs_run_batch(query_id, true, flags);
			disable_timeout(batch_timeout_id, false);
			if (batch_timed_out)
			{
				/* it ran out just as the batch ended: the batch stands */
				batch_timed_out = false;
				QueryCancelPending = false;
			}
			if (r == PGS_BATCH_INACTIVE)
				result = PGS_RESULT_INACTIVE;
			else if (r != PGS_BATCH_NONE)
			{
				*batches = 1;
				*more = r == PGS_BATCH_PARTIAL && mode != PGS_RUN_ONCE;
			}
			SPI_finish();
		}
		CommitTransactionCommand();
		error_context_stack = errcb.previous;
	}
	PG_CATCH();
	{
		ErrorData  *volatile edata = NULL;
		bool		timed_out = batch_timed_out;

		/*
		 * The server log gets the error as any backend's would, with the
		 * query named in its context; the catalog gets it for the views.
		 * A batch canceled by pg_streaming.batch_timeout gets an error that
		 * names the setting instead of the cancel's.
		 */
		disable_timeout(batch_timeout_id, false);
		batch_timed_out = false;
		error_context_stack = errcb.previous;
		if (timed_out)
		{
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
			PG_TRY();
			{
				worker_report_timeout();
			}
			PG_CATCH();
			{
				edata = worker_take_error(cxt);
			}
			PG_END_TRY();
		}
		else
			edata = worker_take_error(cxt);
		AbortCurrentTransaction();

		strlcpy(sqlstate, unpack_sql_state(edata->sqlerrcode), 6);
		strlcpy(message, edata->message ? edata->message : "", PGS_ERRMSG_LEN);
		result = timed_out || worker_error_is_transient(edata->sqlerrcode) ?
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

	if (result == PGS_RESULT_OK && !*more &&
		(mode == PGS_RUN_ONCE || mode == PGS_RUN_AVAILABLE_NOW))
		worker_record(query_id, NULL, false);
	return result;
}

/* name the file source in what a failed pass writes to the server log */
static void
worker_source_context(void *arg)
{
	int64		source_id = *(int64 *) arg;

	errcontext("file source with id " INT64_FORMAT " in a background worker", source_id);
}

/*
 * One pass of a file source (scheduled under the negative of its id): the
 * files ready now loaded in one transaction, then, once that committed,
 * the read ones deleted or archived in another.  A data error (a bad line
 * of a source that fails on one, a file that cannot be read) fails the
 * source, with the error in stream.file_sources; a transient one is
 * retried as a query's batch is.
 */
static PgsRunResult
worker_run_source(int64 source_id, int *batches, bool *more, char *sqlstate,
				  char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile PgsRunResult result = PGS_RESULT_OK;
	ErrorContextCallback errcb;

	sqlstate[0] = '\0';
	message[0] = '\0';
	*batches = 0;
	*more = false;
	running_query.query_id = 0;
	running_query.name[0] = '\0';
	PortalContext = AllocSetContextCreate(cxt, "pg_streaming worker portal",
										  ALLOCSET_DEFAULT_SIZES);
	errcb.callback = worker_source_context;
	errcb.arg = &source_id;
	errcb.previous = error_context_stack;
	PG_TRY();
	{
		int			loaded = 0;

		error_context_stack = &errcb;
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		XactIsoLevel = XACT_READ_COMMITTED;
		if (!OidIsValid(get_extension_oid("pg_streaming", true)))
			result = PGS_RESULT_INACTIVE;
		else
		{
			bool		pushed;

			pgstat_report_activity(STATE_RUNNING, "file source: loading files");
			pushed = pgs_ensure_snapshot();
			loaded = pgs_file_source_load(source_id, NULL, true, more);
			if (pushed)
				PopActiveSnapshot();
			if (loaded < 0)
				result = PGS_RESULT_INACTIVE;
		}
		CommitTransactionCommand();
		if (loaded > 0)
		{
			bool		pushed;

			*batches = 1;
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			pushed = pgs_ensure_snapshot();
			(void) pgs_file_source_finish(source_id);
			if (pushed)
				PopActiveSnapshot();
			CommitTransactionCommand();
		}
		error_context_stack = errcb.previous;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		error_context_stack = errcb.previous;
		edata = worker_take_error(cxt);
		AbortCurrentTransaction();
		strlcpy(sqlstate, unpack_sql_state(edata->sqlerrcode), 6);
		strlcpy(message, edata->message ? edata->message : "", PGS_ERRMSG_LEN);
		result = worker_error_is_transient(edata->sqlerrcode) ?
			PGS_RESULT_TRANSIENT : PGS_RESULT_FAILED;
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (OidIsValid(get_extension_oid("pg_streaming", true)))
			pgs_file_source_set_error(source_id, result == PGS_RESULT_FAILED,
									  unpack_sql_state(edata->sqlerrcode),
									  edata->message, edata->detail);
		CommitTransactionCommand();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	PortalContext = NULL;
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
	worker_connected = true;
	batch_timeout_id = RegisterTimeout(USER_TIMEOUT, worker_batch_timeout_handler);
	run_cxt = AllocSetContextCreate(TopMemoryContext, "pg_streaming worker",
									ALLOCSET_DEFAULT_SIZES);

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	w->latch = MyLatch;
	w->ready = true;
	w->ready_at = GetCurrentTimestamp();
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
			bool		more;
			char		sqlstate[6];
			char		message[PGS_ERRMSG_LEN];
			MemoryContext old;

			old = MemoryContextSwitchTo(run_cxt);
			if (query_id < 0)
				result = worker_run_source(-query_id, &batches, &more, sqlstate, message);
			else
				result = worker_run(query_id, mode, &batches, &more, sqlstate, message);
			MemoryContextSwitchTo(old);
			MemoryContextReset(run_cxt);

			/*
			 * What pg_stat_activity shows must not outlive the batch: after
			 * a good one, the query it ran; after a failed one, nothing (a
			 * failed query's worker would go on "running" it).
			 */
			if (result == PGS_RESULT_OK && running_query.name[0] != '\0')
			{
				char		activity[PGS_ERRMSG_LEN];

				snprintf(activity, sizeof(activity),
						 "streaming query \"%s\" (id " INT64_FORMAT "): ran a batch, waiting for the next",
						 running_query.name, running_query.query_id);
				pgstat_report_activity(STATE_IDLE, activity);
			}
			else
			{
				(void) set_config_option("application_name", "",
										 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
				pgstat_report_activity(STATE_IDLE, "waiting for a batch to run");
			}

			LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
			w->result = result;
			w->batches = batches;
			w->more = more;
			w->runs++;
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
