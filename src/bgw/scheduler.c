/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The scheduler of one database: decides when each active query runs a
 *	  batch, and hands the batch to a query worker.
 *
 * Workers are a pool shared by all databases, at most
 * pg_streaming.max_workers processes; a worker serves one database and
 * runs whatever query its scheduler hands it, one batch at a time, so that
 * many more queries than workers are all served and none holds a worker
 * while another waits.  Due queries go out in the order they became due,
 * those of owners with fewer queries running first; a worker connected as
 * another role, or a database whose due query has
 * waited longer, gets an idle worker's slot (the worker exits and one is
 * started for the waiter), so that a due query waits about one batch of
 * another's at most.  A due query that gets no worker is listed in shared
 * memory with the reason (stream.queries shows it), and when
 * max_worker_processes is what stops it, a WARNING says so once a
 * minute.  A scheduler whose database has no active query and no stream
 * with retention leaves after pg_streaming.worker_idle_timeout; the
 * launcher starts it again when a query is started.  Triggers follow Spark:
 * an interval trigger fires on a grid aligned to the epoch, and a batch
 * that overruns its interval is followed at once by the next; 'once' and
 * 'available_now' run and then mark the query finished; 'continuous'
 * queries run when a transaction that inserted into their stream commits
 * (the committing backend sets this process's latch).
 *
 * A query whose stream has had no committed insert since its last batch
 * found nothing is not dispatched at all, so idle queries cost nothing;
 * every few seconds it is dispatched anyway, to cover writers that cannot
 * tell us (prepared transactions).
 *
 * An active file source is a unit of work like a query, kept under the
 * negative of its id and served by the same rules (its owner's worker, the
 * same fair shares); it has no stream commits to wait for, so it is
 * dispatched at every trigger, and its worker looks at the directory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/bgw_internal.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_distributed.h"
#include "catalog/pgs_file_sources.h"
#include "catalog/pgs_merge_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "common/pgs_errors.h"
#include "storage/pgs_retention.h"

#define SCHED_RELOAD_MS			5000	/* re-read the catalog at least this often */
#define SCHED_RECONCILE_MS		1000	/* look for distributed work this often */
#define SCHED_IDLE_RECHECK_MS	5000	/* dispatch an idle query at least this often */

typedef enum SchedTrigger
{
	TRIGGER_INTERVAL,
	TRIGGER_ONCE,
	TRIGGER_AVAILABLE_NOW,
	TRIGGER_CONTINUOUS
} SchedTrigger;

typedef struct SchedQuery
{
	int64		query_id;
	Oid			stream_relid;
	Oid			stream2_relid;	/* a join's other stream, or InvalidOid */
	Oid			owner;
	bool		owner_can_login;
	SchedTrigger trigger;
	int64		interval_ms;
	bool		seen;			/* still in the catalog at the last reload */
	bool		dispatched_once;	/* once/available_now: handed out */
	int			slot;			/* worker running it, or -1 */
	TimestampTz next_fire;
	TimestampTz last_dispatch;
	PgsRunMode	dispatch_mode;
	uint64		dispatch_commits;
	uint64		idle_commits;	/* stream commits when it last found nothing */
	bool		idle_known;
	int			retries;
	TimestampTz retry_at;
	TimestampTz due_since;		/* when it was first found due; 0: not due */
	PgsWaitReason wait;			/* why it is due and not running */
	bool		more;			/* its last batch was capped: run again */
	int			owner_running;	/* queries of its owner running now */
} SchedQuery;

static Oid	sched_dboid;
static PgsDatabase *sched_db;
static SchedQuery *queries = NULL;
static int	nqueries = 0;
static int	queries_cap = 0;
static MemoryContext sched_cxt;		/* the query table */
static MemoryContext loop_cxt;		/* reset at every turn of the loop */
static BackgroundWorkerHandle *worker_handles[PGS_MAX_WORKERS];
static Oid	worker_roles[PGS_MAX_WORKERS];	/* role of the worker we started */
static List *unusable_roles = NIL;	/* roles a worker could not connect as */
static TimestampTz last_slot_warning = 0;
static bool merges_exist = false;	/* merged distributed aggregations here */
static TimestampTz last_merge_warning = 0;

static void
sched_detach(int code, Datum arg)
{
	int			i;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	if (sched_db != NULL && sched_db->dboid == sched_dboid &&
		sched_db->sched_pid == MyProcPid)
	{
		sched_db->sched_pid = 0;
		sched_db->sched_latch = NULL;
		sched_db->nwaiting = 0;
		sched_db->want_since = 0;
	}
	/*
	 * Workers of this database leave with their scheduler; slots of
	 * workers not up yet, or that could not connect, are given back (no
	 * one else would: only this process looks after them).
	 */
	for (i = 0; i < PGS_MAX_WORKERS; i++)
	{
		PgsWorkerSlot *w = &pgs_shared->workers[i];

		if (w->in_use && w->dboid == sched_dboid && w->pid != 0)
			kill(w->pid, SIGTERM);
		else if (w->in_use && w->dboid == sched_dboid)
			w->in_use = false;
	}
	LWLockRelease(pgs_shared->lock);
}

/* the trigger text as kept in the catalog, parsed */
static void
sched_parse_trigger(const char *text, SchedQuery *q)
{
	q->interval_ms = 0;
	if (strcmp(text, "once") == 0)
		q->trigger = TRIGGER_ONCE;
	else if (strcmp(text, "available_now") == 0)
		q->trigger = TRIGGER_AVAILABLE_NOW;
	else if (strcmp(text, "continuous") == 0)
		q->trigger = TRIGGER_CONTINUOUS;
	else
	{
		Datum		iv = DirectFunctionCall3(interval_in,
											 CStringGetDatum(text),
											 ObjectIdGetDatum(InvalidOid),
											 Int32GetDatum(-1));

		q->trigger = TRIGGER_INTERVAL;
		q->interval_ms = pgs_interval_usecs(iv, "trigger", text, 0, PG_INT64_MAX) / 1000;
		if (q->interval_ms < 1)
			q->interval_ms = 1;
	}
}

static SchedQuery *
sched_lookup(int64 query_id)
{
	int			i;

	for (i = 0; i < nqueries; i++)
		if (queries[i].query_id == query_id)
			return &queries[i];
	return NULL;
}

/*
 * The unit of work with this id (a query, or a file source under the
 * negative of its id), entered due now if it is new to the scheduler.
 */
static SchedQuery *
sched_enter(int64 id)
{
	SchedQuery *q = sched_lookup(id);

	if (q == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(sched_cxt);

		if (nqueries == queries_cap)
		{
			queries_cap = Max(16, queries_cap * 2);
			queries = queries ? repalloc(queries, sizeof(SchedQuery) * queries_cap)
				: palloc(sizeof(SchedQuery) * queries_cap);
		}
		MemoryContextSwitchTo(old);
		q = &queries[nqueries++];
		memset(q, 0, sizeof(SchedQuery));
		q->query_id = id;
		q->slot = -1;
		q->next_fire = GetCurrentTimestamp();
	}
	return q;
}

/*
 * Re-read the active queries.  Returns false when the extension is gone
 * from this database.
 */
static bool
sched_reload(void)
{
	int			i;
	bool		present;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	present = OidIsValid(get_extension_oid("pg_streaming", true));
	if (present)
	{
		List	   *active = pgs_query_list_active();
		ListCell   *lc;

		for (i = 0; i < nqueries; i++)
			queries[i].seen = false;
		foreach(lc, active)
		{
			PgsActiveQuery *a = lfirst(lc);
			SchedQuery *q = sched_enter(a->query_id);

			q->stream_relid = a->stream_relid;
			q->stream2_relid = a->stream2_relid;
			q->owner = a->owner;
			q->owner_can_login = a->owner_can_login;
			sched_parse_trigger(a->trigger, q);
			q->seen = true;
		}
		/* file sources are units of work too, under negative ids */
		foreach(lc, pgs_file_source_list_active())
		{
			PgsActiveFileSource *a = lfirst(lc);
			SchedQuery *q = sched_enter(-a->source_id);

			q->stream_relid = InvalidOid;
			q->stream2_relid = InvalidOid;
			q->owner = a->owner;
			q->owner_can_login = a->owner_can_login;
			sched_parse_trigger(a->trigger, q);
			q->seen = true;
		}
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);

	if (!present)
		return false;

	/* forget queries that are no longer active, unless a worker has them */
	for (i = 0; i < nqueries;)
	{
		if (!queries[i].seen && queries[i].slot < 0)
		{
			queries[i] = queries[nqueries - 1];
			nqueries--;
		}
		else
			i++;
	}

	/* commits into the streams of continuous queries wake this process */
	{
		Oid		   *relids = palloc(sizeof(Oid) * (2 * nqueries + 1));
		int			n = 0;

		for (i = 0; i < nqueries; i++)
			if (queries[i].seen && queries[i].trigger == TRIGGER_CONTINUOUS)
			{
				relids[n++] = queries[i].stream_relid;
				if (OidIsValid(queries[i].stream2_relid))
					relids[n++] = queries[i].stream2_relid;
			}
		pgs_stream_set_wakes(sched_dboid, relids, n);
		pfree(relids);
	}
	return true;
}

/* mark a query failed after its retries ran out */
static void
sched_mark_failed(int64 query_id, const char *sqlstate, const char *message)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (query_id < 0)
		pgs_file_source_set_error(-query_id, true, sqlstate, message, NULL);
	else
		pgs_query_set_error(query_id, true, sqlstate, message, NULL, NULL);
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
}

/* the next time on the interval grid after a trigger at "start" */
static TimestampTz
sched_next_fire(TimestampTz start, int64 interval_ms)
{
	int64		i = interval_ms * 1000;

	return (start / i) * i + i;
}

/* collect what the workers of this database finished */
static void
sched_collect(void)
{
	int			i;

	for (i = 0; i < nqueries; i++)
	{
		SchedQuery *q = &queries[i];
		PgsWorkerSlot *w;
		bool		finished = false;
		bool		lost = false;
		PgsRunResult result = PGS_RESULT_NONE;
		int			batches = 0;
		bool		more = false;
		char		sqlstate[6];
		char		message[PGS_ERRMSG_LEN];

		if (q->slot < 0)
			continue;
		w = &pgs_shared->workers[q->slot];
		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		if (!w->in_use || w->dboid != sched_dboid || w->query_id != q->query_id)
			lost = true;
		else if (w->done)
		{
			finished = true;
			result = w->result;
			batches = w->batches;
			more = w->more;
			memcpy(sqlstate, w->sqlstate, sizeof(sqlstate));
			strlcpy(message, w->errmsg, sizeof(message));
			w->query_id = 0;
			w->done = false;
		}
		LWLockRelease(pgs_shared->lock);

		if (!finished && !lost)
			continue;
		q->slot = -1;
		if (lost)
		{
			/* the worker died under it: try again soon */
			q->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 100);
			continue;
		}
		switch (result)
		{
			case PGS_RESULT_OK:
				q->retries = 0;
				/* an available-now run goes on, a batch at a time */
				q->more = more;
				if (more && q->trigger == TRIGGER_AVAILABLE_NOW)
					q->dispatched_once = false;
				/* a file source has no commits to wait for: it looks each time */
				if (batches == 0 && q->query_id > 0)
				{
					q->idle_known = true;
					q->idle_commits = q->dispatch_commits;
				}
				else
					q->idle_known = false;
				break;
			case PGS_RESULT_TRANSIENT:
				q->retries++;
				if (q->retries > pgs_max_retries)
				{
					sched_mark_failed(q->query_id, sqlstate, message);
					q->seen = false;
				}
				else
					q->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															  Min(100L << Min(q->retries, 10), 10000L));
				break;
			case PGS_RESULT_INACTIVE:
			case PGS_RESULT_FAILED:
			case PGS_RESULT_NONE:
				q->seen = false;
				break;
		}
	}
}

/*
 * The role a query's worker connects as: its owner, when the owner may log
 * in and a worker could connect as it; else the bootstrap superuser.  The
 * batch runs as the owner either way (batch.c).
 */
static Oid
sched_worker_role(SchedQuery *q)
{
	if (q->owner_can_login && !list_member_oid(unusable_roles, q->owner))
		return q->owner;
	return InvalidOid;
}

/*
 * Look after the workers this scheduler started: one that stopped frees
 * its slot; one that stopped because it could not connect as the role it
 * was started for (the worker says so in its slot) makes that role be
 * left alone.  A worker that exits for any other reason (asked to give its
 * slot to another database, idle, stopped with its database) says nothing
 * about its role.
 */
static void
sched_check_started_workers(void)
{
	int			i;

	for (i = 0; i < PGS_MAX_WORKERS; i++)
	{
		pid_t		pid;
		BgwHandleStatus status;
		bool		connect_failed = false;

		if (worker_handles[i] == NULL)
			continue;
		status = GetBackgroundWorkerPid(worker_handles[i], &pid);
		if (status != BGWH_STOPPED)
			continue;
		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		if (pgs_shared->workers[i].in_use && pgs_shared->workers[i].pid == 0 &&
			pgs_shared->workers[i].dboid == sched_dboid)
		{
			connect_failed = pgs_shared->workers[i].connect_failed;
			pgs_shared->workers[i].in_use = false;
		}
		LWLockRelease(pgs_shared->lock);

		if (connect_failed && OidIsValid(worker_roles[i]) &&
			!list_member_oid(unusable_roles, worker_roles[i]))
		{
			MemoryContext old = MemoryContextSwitchTo(sched_cxt);
			char	   *rolname;

			unusable_roles = lappend_oid(unusable_roles, worker_roles[i]);
			MemoryContextSwitchTo(old);
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			rolname = GetUserNameFromId(worker_roles[i], true);
			ereport(LOG,
					(errmsg("pg_streaming: a query worker could not connect as role \"%s\" (oid %u); the queries of that role run in workers connected as the bootstrap superuser",
							rolname ? rolname : "?", worker_roles[i]),
					 errdetail("The server log has the worker's error just before this message.")));
			CommitTransactionCommand();
			MemoryContextSwitchTo(loop_cxt);
		}
		pfree(worker_handles[i]);
		worker_handles[i] = NULL;
	}
}

/*
 * Say once a minute that max_worker_processes keeps due queries from
 * running, with what holds the slots.
 */
static void
sched_warn_no_slot(int ndue)
{
	TimestampTz now = GetCurrentTimestamp();
	int			own;
	int			nsched;
	int			nworkers;

	if (now < TimestampTzPlusMilliseconds(last_slot_warning, PGS_WARNING_INTERVAL_MS))
		return;
	last_slot_warning = now;
	LWLockAcquire(pgs_shared->lock, LW_SHARED);
	own = pgs_count_own_processes(&nsched, &nworkers);
	LWLockRelease(pgs_shared->lock);
	ereport(WARNING,
			(errmsg("pg_streaming could not start a query worker: max_worker_processes is used up"),
			 errdetail("All %d background worker slots are taken; pg_streaming holds %d of them (the launcher, %d schedulers, %d query workers). %d due queries of this database wait for a worker; stream.queries shows it in the column serving.",
					   max_worker_processes, own, nsched, nworkers, ndue),
			 errhint("Raise max_worker_processes (a restart is needed), or lower what else uses background workers (max_parallel_workers, logical replication).")));
}

/*
 * May this idle worker be asked to give its slot to another role or
 * database?  Not before it has served its own for a while (switching
 * costs a process start, and the one that gave way would take it back at
 * once), unless it is for a database not served yet since its scheduler
 * started ("first": after a restart, most of them, each waiting for its
 * first batch); and never one that has not run anything yet: it was
 * started for a query that is waiting for it.  Caller holds the lock.
 */
static bool
sched_may_retire(PgsWorkerSlot *w, TimestampTz now, bool first)
{
	return w->in_use && w->ready && !w->retire && w->query_id == 0 && !w->done &&
		w->latch != NULL && w->runs > 0 &&
		(first ||
		 now >= TimestampTzPlusMilliseconds(w->ready_at, PGS_WORKER_QUANTUM_MS));
}

/*
 * Find an idle worker of this database connected as "role", or start one
 * (asking an idle worker of another kind to make room when all slots are
 * taken); -1 when none is free now, with *why the reason.
 */
static int
sched_get_worker(Oid role, PgsWaitReason *why)
{
	int			i;
	int			in_use = 0;
	int			free_slot = -1;
	int			idle_other = -1;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool		started;
	Latch	   *retire_latch = NULL;
	TimestampTz now = GetCurrentTimestamp();

	*why = PGS_WAIT_POOL;
	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PGS_MAX_WORKERS; i++)
	{
		PgsWorkerSlot *w = &pgs_shared->workers[i];

		if (w->in_use)
		{
			bool		idle = w->ready && w->query_id == 0 && !w->done && !w->retire;

			in_use++;
			if (w->dboid == sched_dboid && w->roleid == role)
			{
				if (idle)
				{
					LWLockRelease(pgs_shared->lock);
					return i;
				}
				if (!w->ready && !w->retire)
				{
					/* one is starting up for us */
					LWLockRelease(pgs_shared->lock);
					*why = PGS_WAIT_STARTING;
					return -1;
				}
			}

			/*
			 * Another role's idle worker of this database makes room;
			 * another database's gives its slot up only when its own
			 * scheduler finds our query has waited longer (want_since).
			 */
			else if (idle_other < 0 && w->dboid == sched_dboid &&
					 sched_may_retire(w, now, false))
				idle_other = i;
		}
		else if (free_slot < 0)
			free_slot = i;
	}
	if (in_use >= pgs_max_workers || free_slot < 0)
	{
		if (idle_other >= 0)
		{
			pgs_shared->workers[idle_other].retire = true;
			retire_latch = pgs_shared->workers[idle_other].latch;
			*why = PGS_WAIT_STARTING;
		}
		LWLockRelease(pgs_shared->lock);
		if (retire_latch)
			SetLatch(retire_latch);
		return -1;
	}
	memset(&pgs_shared->workers[free_slot], 0, sizeof(PgsWorkerSlot));
	pgs_shared->workers[free_slot].in_use = true;
	pgs_shared->workers[free_slot].dboid = sched_dboid;
	pgs_shared->workers[free_slot].roleid = role;
	LWLockRelease(pgs_shared->lock);

	if (worker_handles[free_slot] != NULL)
	{
		pfree(worker_handles[free_slot]);
		worker_handles[free_slot] = NULL;
	}
	/* the handle outlives this turn of the loop */
	old = MemoryContextSwitchTo(sched_cxt);
	started = pgs_start_worker("pgs_worker_main", "pg_streaming worker",
							   Int32GetDatum(free_slot), &handle);
	MemoryContextSwitchTo(old);
	if (started)
	{
		worker_handles[free_slot] = handle;
		worker_roles[free_slot] = role;
		*why = PGS_WAIT_STARTING;
	}
	else
	{
		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		pgs_shared->workers[free_slot].in_use = false;
		LWLockRelease(pgs_shared->lock);
		*why = PGS_WAIT_NO_SLOT;
	}
	return -1;
}

/* is the query due now, and in which mode? */
static bool
sched_due(SchedQuery *q, TimestampTz now, PgsRunMode *mode, uint64 *commits)
{
	if (q->slot >= 0 || !q->seen)
		return false;
	if (q->retry_at != 0 && now < q->retry_at)
		return false;
	*commits = OidIsValid(q->stream_relid) ?
		pgs_stream_commits(sched_dboid, q->stream_relid) : 0;
	if (OidIsValid(q->stream2_relid))
		*commits += pgs_stream_commits(sched_dboid, q->stream2_relid);

	switch (q->trigger)
	{
		case TRIGGER_ONCE:
			*mode = PGS_RUN_ONCE;
			return !q->dispatched_once;
		case TRIGGER_AVAILABLE_NOW:
			*mode = PGS_RUN_AVAILABLE_NOW;
			return !q->dispatched_once;
		case TRIGGER_CONTINUOUS:
			*mode = PGS_RUN_ONE;
			break;
		case TRIGGER_INTERVAL:
			*mode = PGS_RUN_ONE;
			if (now < q->next_fire)
				return false;
			break;
	}
	/* nothing committed into the stream since it last found nothing */
	if (q->retry_at == 0 && q->idle_known && *commits == q->idle_commits &&
		now < TimestampTzPlusMilliseconds(q->last_dispatch, SCHED_IDLE_RECHECK_MS))
	{
		if (q->trigger == TRIGGER_INTERVAL)
			q->next_fire = sched_next_fire(now, q->interval_ms);
		return false;
	}
	return true;
}

/*
 * Owners with fewer queries running first, then oldest due first: one
 * owner's many due queries do not all go before another owner's one.
 */
static int
sched_cmp_due(const void *a, const void *b)
{
	const SchedQuery *x = *(SchedQuery *const *) a;
	const SchedQuery *y = *(SchedQuery *const *) b;

	if (x->owner_running != y->owner_running)
		return x->owner_running - y->owner_running;
	if (x->due_since != y->due_since)
		return (x->due_since > y->due_since) - (x->due_since < y->due_since);
	return (x->query_id > y->query_id) - (x->query_id < y->query_id);
}

static int
sched_cmp_timestamp(const void *a, const void *b)
{
	TimestampTz x = *(const TimestampTz *) a;
	TimestampTz y = *(const TimestampTz *) b;

	return (x > y) - (x < y);
}

/*
 * The times since which other databases' due queries wait for a worker
 * slot that is not free, oldest first; returns how many.  A database that
 * a worker is already leaving for is not counted, so that one waiter does
 * not make every other database give a worker up.
 */
static int
sched_foreign_wants(TimestampTz *wants, int max)
{
	TimestampTz now = GetCurrentTimestamp();
	int			n = 0;
	int			i;

	LWLockAcquire(pgs_shared->lock, LW_SHARED);
	for (i = 0; i < pgs_shared->ndbs && n < max; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		if (db != sched_db && db->state == PGS_DB_RUNNING && db->sched_pid != 0 &&
			db->want_since != 0 &&
			now >= TimestampTzPlusMilliseconds(db->gift_at, PGS_WORKER_QUANTUM_MS))
			wants[n++] = db->want_since;
	}
	LWLockRelease(pgs_shared->lock);
	qsort(wants, n, sizeof(TimestampTz), sched_cmp_timestamp);
	return n;
}

/*
 * Ask one idle worker of this database to give its slot back, for the
 * other database whose due query has waited since "for_since" (marked, so
 * that no other database gives one up for it too).
 */
static bool
sched_retire_one_idle(TimestampTz now, TimestampTz for_since)
{
	Latch	   *latch = NULL;
	PgsDatabase *target = NULL;
	int			i;

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < pgs_shared->ndbs && target == NULL; i++)
	{
		PgsDatabase *db = &pgs_shared->dbs[i];

		if (db != sched_db && db->want_since == for_since &&
			now >= TimestampTzPlusMilliseconds(db->gift_at, PGS_WORKER_QUANTUM_MS))
			target = db;
	}

	/*
	 * Workers move between databases that have had one at most once a
	 * quantum over the whole server: each move costs a process start, and
	 * with more busy databases than workers they would otherwise move all
	 * the time.  A database not served yet since its scheduler started
	 * (after a restart, most of them) is not held back.
	 */
	if (target == NULL ||
		(target->served_once &&
		 now < TimestampTzPlusMilliseconds(pgs_shared->last_gift_at, PGS_WORKER_QUANTUM_MS)))
	{
		LWLockRelease(pgs_shared->lock);
		return false;
	}
	for (i = 0; i < PGS_MAX_WORKERS && latch == NULL; i++)
	{
		PgsWorkerSlot *w = &pgs_shared->workers[i];

		if (w->dboid == sched_dboid &&
			sched_may_retire(w, now, !target->served_once))
		{
			w->retire = true;
			latch = w->latch;
		}
	}
	if (latch != NULL)
	{
		if (target->served_once)
			pgs_shared->last_gift_at = now;
		target->gift_at = now;
	}
	LWLockRelease(pgs_shared->lock);
	if (latch)
		SetLatch(latch);
	return latch != NULL;
}

/*
 * Hand due queries to workers, oldest due first.  A query of this database
 * that became due after a query of another database that waits for a slot
 * waits itself, and an idle worker of ours gives its slot up for the older
 * one.  What still waits is published, with the reason, for
 * stream.queries and for the other schedulers.
 */
static void
sched_dispatch(void)
{
	TimestampTz now = GetCurrentTimestamp();
	SchedQuery **due = palloc(sizeof(SchedQuery *) * (nqueries + 1));
	TimestampTz *wants = palloc(sizeof(TimestampTz) * pgs_shared->ndbs);
	int			nwants;
	int			ndue = 0;
	int			nwaiting = 0;
	int			no_slot = 0;
	int			yielded = 0;
	bool		got_worker = false;
	TimestampTz want_since = 0;
	int			i;

	for (i = 0; i < nqueries; i++)
	{
		PgsRunMode mode = PGS_RUN_ONE;
		uint64		c;

		queries[i].wait = PGS_WAIT_NONE;
		if (sched_due(&queries[i], now, &mode, &c))
		{
			queries[i].dispatch_commits = c;
			queries[i].dispatch_mode = mode;
			if (queries[i].due_since == 0)
				queries[i].due_since = queries[i].trigger == TRIGGER_INTERVAL &&
					queries[i].next_fire < now ? queries[i].next_fire : now;
			due[ndue++] = &queries[i];
		}
		else if (queries[i].slot < 0)
			queries[i].due_since = 0;
	}
	for (i = 0; i < ndue; i++)
	{
		int			j;

		due[i]->owner_running = 0;
		for (j = 0; j < nqueries; j++)
			if (queries[j].slot >= 0 && queries[j].owner == due[i]->owner)
				due[i]->owner_running++;
	}
	qsort(due, ndue, sizeof(SchedQuery *), sched_cmp_due);
	nwants = sched_foreign_wants(wants, pgs_shared->ndbs);

	sched_check_started_workers();
	for (i = 0; i < ndue; i++)
	{
		SchedQuery *q = due[i];
		int			older = 0;
		int			slot;
		Latch	   *latch;
		PgsWaitReason why;

		while (older < nwants && wants[older] < q->due_since)
			older++;
		if (older > 0)
		{
			/*
			 * Other databases' older due queries go first: as many idle
			 * workers of ours as there are of them give their slots up,
			 * and ours wait.  Workers that have not served us a quantum
			 * yet stay ours.
			 */
			while (yielded < older && sched_retire_one_idle(now, wants[yielded]))
				yielded++;
			if (yielded > 0)
			{
				q->wait = PGS_WAIT_FAIR;
				continue;
			}
		}

		slot = sched_get_worker(sched_worker_role(q), &why);
		if (slot < 0 && why == PGS_WAIT_STARTING)
			got_worker = true;
		if (slot < 0)
		{
			q->wait = why;
			if (why == PGS_WAIT_NO_SLOT)
				no_slot++;
			if ((why == PGS_WAIT_POOL || why == PGS_WAIT_NO_SLOT) && want_since == 0)
				want_since = q->due_since;
			continue;
		}
		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		pgs_shared->workers[slot].query_id = q->query_id;
		pgs_shared->workers[slot].mode = q->dispatch_mode;
		pgs_shared->workers[slot].done = false;
		pgs_shared->workers[slot].more = false;
		latch = pgs_shared->workers[slot].latch;
		LWLockRelease(pgs_shared->lock);
		if (latch)
			SetLatch(latch);

		got_worker = true;
		q->slot = slot;
		q->retry_at = 0;
		q->due_since = 0;
		q->last_dispatch = now;
		q->dispatched_once = true;
		if (q->trigger == TRIGGER_INTERVAL)
			q->next_fire = sched_next_fire(now, q->interval_ms);
	}

	/*
	 * Workers of ours left idle by this pass go to other databases' waiting
	 * queries, whatever their age: nothing of ours needs them now.
	 */
	while (yielded < nwants && sched_retire_one_idle(now, wants[yielded]))
		yielded++;

	/* what waits, oldest first, where stream.queries and the others see it */
	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < ndue; i++)
	{
		SchedQuery *q = due[i];

		if (q->wait == PGS_WAIT_NONE)
			continue;
		if (nwaiting < PGS_DB_WAITING)
		{
			sched_db->waiting[nwaiting].query_id = q->query_id;
			sched_db->waiting[nwaiting].since = q->due_since;
			sched_db->waiting[nwaiting].reason = q->wait;
		}
		nwaiting++;
	}
	sched_db->nwaiting = nwaiting;
	if (sched_db->want_since != 0 && want_since == 0)
	{
		/* those that gave way to us may go on */
		for (i = 0; i < pgs_shared->ndbs; i++)
		{
			PgsDatabase *db = &pgs_shared->dbs[i];

			if (db != sched_db && db->sched_latch != NULL && db->nwaiting > 0)
				SetLatch(db->sched_latch);
		}
	}
	sched_db->want_since = want_since;
	/*
	 * A worker came our way (or we wait no more): others may give again.
	 * A gift that never arrives (another took the slot) lapses after a
	 * quantum.
	 */
	if (got_worker || want_since == 0)
		sched_db->gift_at = 0;
	if (got_worker)
		sched_db->served_once = true;
	LWLockRelease(pgs_shared->lock);

	if (no_slot > 0)
		sched_warn_no_slot(no_slot);
	pfree(wants);
	pfree(due);
}

/* how long to sleep: until the next interval fire or retry, at most 1 s */
static long
sched_timeout(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake = TimestampTzPlusMilliseconds(now, 1000);
	int			i;

	for (i = 0; i < nqueries; i++)
	{
		SchedQuery *q = &queries[i];

		if (q->slot >= 0 || !q->seen)
			continue;
		if (q->retry_at != 0 && q->retry_at < wake)
			wake = q->retry_at;
		else if (q->trigger == TRIGGER_INTERVAL && q->next_fire < wake)
			wake = q->next_fire;
	}
	if (wake <= now)
		return 0;
	return (long) ((wake - now + 999) / 1000);
}

/*
 * VACUUM the tables, in transactions of its own, as autovacuum does (a
 * stream's VACUUM may not truncate it, see stream_am.c), skipping a table
 * somebody holds a conflicting lock on rather than waiting for it.
 */
static void
sched_vacuum(List *relids)
{
	VacuumParams params = {0};
	List	   *rels = NIL;
	ListCell   *lc;

	if (relids == NIL)
		return;
	foreach(lc, relids)
		rels = lappend(rels, makeVacuumRelation(NULL, lfirst_oid(lc), NIL));
	params.options = VACOPT_VACUUM | VACOPT_PROCESS_TOAST | VACOPT_SKIP_LOCKED;
	params.freeze_min_age = -1;
	params.freeze_table_age = -1;
	params.multixact_freeze_min_age = -1;
	params.multixact_freeze_table_age = -1;
	params.log_min_duration = -1;
	params.index_cleanup = VACOPTVALUE_UNSPECIFIED;
	params.truncate = VACOPTVALUE_UNSPECIFIED;
	params.nworkers = -1;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	vacuum(rels, &params, NULL, true);
	CommitTransactionCommand();
}

/* the checkpoint tables of this database's extension, or NIL */
static List *
sched_catalog_tables(void)
{
	List	   *result;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	result = pgs_catalog_busy_tables(loop_cxt);
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
	return result;
}

/*
 * Retention passes over every stream of the database that has retention,
 * each followed by a VACUUM of the stream when it removed rows, and by a
 * pass that recycles the blocks the VACUUM emptied.  A stream whose pass
 * fails is reported and tried again next time.
 */
static bool retention_streams = true;	/* the last pass found some */

static void
sched_retention(void)
{
	List	   *relids = NIL;
	ListCell   *lc;

	/* VACUUM keeps its memory under the portal's, as in autovacuum */
	if (PortalContext == NULL)
		PortalContext = AllocSetContextCreate(TopMemoryContext,
											  "pg_streaming retention",
											  ALLOCSET_DEFAULT_SIZES);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	relids = pgs_retention_streams(loop_cxt);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(loop_cxt);
	retention_streams = relids != NIL;

	/*
	 * The checkpoint tables get a row per batch and lose one: at a high
	 * batch rate they would grow between autovacuum's visits.
	 */
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			sched_vacuum(sched_catalog_tables());
		}
		PG_CATCH();
		{
			/*
			 * As in autovacuum, a cancel ends this pass only (it is logged);
			 * a termination ends the scheduler.
			 */
			if (pgs_error_is_termination(geterrcode()))
				PG_RE_THROW();
			MemoryContextSwitchTo(cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortOutOfAnyTransaction();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
	}

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		MemoryContext cxt = CurrentMemoryContext;

		pgstat_report_activity(STATE_RUNNING, "retention");
		PG_TRY();
		{
			int64		removed = 0;
			bool		more = true;
			bool		recycle = true;

			while (more && !ShutdownRequestPending)
			{
				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				PushActiveSnapshot(GetTransactionSnapshot());
				removed += pgs_retention_pass(relid, recycle, true, &more);
				PopActiveSnapshot();
				CommitTransactionCommand();
				recycle = false;
			}
			if (removed > 0 && !ShutdownRequestPending)
			{
				sched_vacuum(list_make1_oid(relid));

				/* what VACUUM emptied can be filled again */
				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				PushActiveSnapshot(GetTransactionSnapshot());
				(void) pgs_retention_pass(relid, true, true, &more);
				PopActiveSnapshot();
				CommitTransactionCommand();
			}
		}
		PG_CATCH();
		{
			/* a cancel ends this stream's pass, a termination the scheduler */
			if (pgs_error_is_termination(geterrcode()))
				PG_RE_THROW();
			MemoryContextSwitchTo(cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortOutOfAnyTransaction();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
	}
}

/*
 * In the PG_CATCH of a unit of the scheduler's own work (the reconciler's
 * pass, a merge) run in a transaction of its own: a termination goes on up,
 * anything else is taken, the transaction ended, and the error returned
 * (in cxt) for the caller to report at most so often.
 */
static ErrorData *
sched_take_error(MemoryContext cxt)
{
	ErrorData  *edata;

	if (pgs_error_is_termination(geterrcode()))
		PG_RE_THROW();
	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortOutOfAnyTransaction();
	return edata;
}

/*
 * On a Citus coordinator: bring the nodes to what the distributed queries'
 * rows ask for, through SQL (stream._reconcile_distributed), in a
 * transaction of its own, when some shard row is not as desired.  The
 * rows it acts on are committed, as the nodes' changes are.  A failure is
 * logged, at most once a minute, and tried again at the next pass; it
 * never stops the scheduler.
 */
static bool reconcile_pending = false;	/* the last pass left some row */
static TimestampTz reconcile_warned_at = 0;

static void
sched_reconcile(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		bool		pending;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pending = pgs_catalog_version() >= PGS_CATALOG_0_9 &&
			OidIsValid(get_extension_oid("citus", true)) && pgs_dist_pending();
		if (pending)
		{
			bool		isnull;

			pgstat_report_activity(STATE_RUNNING, "reconciling distributed queries");
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (SPI_execute("SELECT stream._reconcile_distributed()", false, 0) != SPI_OK_SELECT)
				elog(ERROR, "stream._reconcile_distributed() failed");
			pending = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull)) > 0;
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		reconcile_pending = pending;
	}
	PG_CATCH();
	{
		ErrorData  *edata = sched_take_error(cxt);
		TimestampTz now = GetCurrentTimestamp();

		reconcile_pending = true;
		if (now >= TimestampTzPlusMilliseconds(reconcile_warned_at, 60 * 1000))
		{
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("could not bring the nodes to the distributed queries' status: %s",
							edata->message),
					 errhint("The scheduler tries again at every pass; stream.distributed_query_shards shows each shard's last error.")));
			reconcile_warned_at = now;
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/* one merge, in a transaction of its own (sched_merges) */
static void
sched_merge_one(const char *name, MemoryContext cxt)
{
	pgstat_report_activity(STATE_RUNNING, "merging a distributed aggregation");
	PG_TRY();
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(name)};

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT stream._merge_distributed($1)", 1, types,
								  values, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not merge distributed query \"%s\"", name);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata = sched_take_error(cxt);
		TimestampTz now = GetCurrentTimestamp();

		if (now >= TimestampTzPlusMilliseconds(last_merge_warning, PGS_WARNING_INTERVAL_MS))
		{
			last_merge_warning = now;
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("could not merge distributed query \"%s\": %s", name,
							edata->message),
					 errhint("The merge is tried again at every pass; stream.distributed_merge_shards shows how far each shard was merged.")));
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/*
 * The merges of this coordinator's merged distributed aggregations (Citus,
 * docs/citus_merge.md), one transaction each, through their SQL function
 * (api/ is above this folder): each merge reads the shards' new partial
 * groups and advances its marks in its own transaction, so a failed one
 * (a node down) changes nothing and is tried again at the next pass; it is
 * logged once a minute and never stops the scheduler.
 */
static void
sched_merges(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *names = NIL;
	ListCell   *lc;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (pgs_catalog_version() >= PGS_CATALOG_0_9 &&
		OidIsValid(get_extension_oid("citus", true)))
		names = pgs_merge_names(NULL, cxt);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	merges_exist = names != NIL;

	foreach(lc, names)
		sched_merge_one(lfirst(lc), cxt);
}

void
pgs_scheduler_main(Datum arg)
{
	TimestampTz last_reload = 0;
	TimestampTz last_retention = 0;
	TimestampTz last_reconcile = 0;
	TimestampTz last_merge = 0;
	TimestampTz idle_since = 0;

	sched_dboid = DatumGetObjectId(arg);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(sched_dboid, InvalidOid, 0);

	sched_cxt = AllocSetContextCreate(TopMemoryContext, "pg_streaming scheduler",
									  ALLOCSET_DEFAULT_SIZES);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_streaming scheduler loop",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(loop_cxt);

	/*
	 * Started to look at a database that has no entry: only one with the
	 * extension takes one; the launcher hears what was found.
	 */
	LWLockAcquire(pgs_shared->lock, LW_SHARED);
	sched_db = pgs_find_database(sched_dboid, false);
	LWLockRelease(pgs_shared->lock);
	if (sched_db == NULL)
	{
		bool		present;

		StartTransactionCommand();
		present = OidIsValid(get_extension_oid("pg_streaming", true));
		CommitTransactionCommand();
		MemoryContextSwitchTo(loop_cxt);
		if (!present)
		{
			LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
			pgs_probe_note(sched_dboid, PGS_PROBE_NO_EXTENSION);
			LWLockRelease(pgs_shared->lock);
			proc_exit(0);
		}
	}

	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	sched_db = pgs_find_database(sched_dboid, true);
	if (sched_db == NULL)
		pgs_probe_note(sched_dboid, PGS_PROBE_NO_ENTRY);
	if (sched_db == NULL || sched_db->state == PGS_DB_PAUSED ||
		(sched_db->sched_pid != 0 && sched_db->sched_pid != MyProcPid))
	{
		LWLockRelease(pgs_shared->lock);
		proc_exit(0);
	}
	sched_db->sched_pid = MyProcPid;
	sched_db->sched_latch = MyLatch;
	sched_db->reload = false;
	sched_db->no_slot_since = 0;
	sched_db->served_once = false;
	sched_db->gift_at = 0;
	sched_db->want_since = 0;
	sched_db->nwaiting = 0;
	LWLockRelease(pgs_shared->lock);
	before_shmem_exit(sched_detach, (Datum) 0);

	if (!sched_reload())
	{
		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		sched_db->state = PGS_DB_NO_EXTENSION;
		LWLockRelease(pgs_shared->lock);
		proc_exit(0);
	}
	last_reload = GetCurrentTimestamp();
	LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
	sched_db->state = PGS_DB_RUNNING;
	LWLockRelease(pgs_shared->lock);

	while (!ShutdownRequestPending)
	{
		bool		reload;
		TimestampTz now;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
		reload = sched_db->reload;
		sched_db->reload = false;
		LWLockRelease(pgs_shared->lock);
		now = GetCurrentTimestamp();
		if (reload || now >= TimestampTzPlusMilliseconds(last_reload, SCHED_RELOAD_MS))
		{
			pgstat_report_activity(STATE_RUNNING, "reading streaming queries");
			if (!sched_reload())
			{
				LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
				sched_db->state = PGS_DB_NO_EXTENSION;
				LWLockRelease(pgs_shared->lock);
				break;
			}
			last_reload = now;
		}

		sched_collect();
		sched_dispatch();
		/* at a word from a backend, while rows wait, and once a second */
		if (reload || reconcile_pending ||
			now >= TimestampTzPlusMilliseconds(last_reconcile, SCHED_RECONCILE_MS))
		{
			sched_reconcile();
			last_reconcile = now;
		}
		if (pgs_merge_naptime_ms > 0 &&
			now >= TimestampTzPlusMilliseconds(last_merge, pgs_merge_naptime_ms))
		{
			sched_merges();
			last_merge = GetCurrentTimestamp();
		}
		else if (pgs_merge_naptime_ms == 0)
			merges_exist = false;
		if (now >= TimestampTzPlusMilliseconds(last_retention, pgs_retention_naptime_ms))
		{
			sched_retention();
			last_retention = GetCurrentTimestamp();
		}
		pgstat_report_activity(STATE_IDLE, NULL);

		/*
		 * Nothing to run and no retention to do: give the slot back after
		 * a while; starting a query here brings a scheduler back.
		 */
		if (nqueries > 0 || retention_streams || reconcile_pending || merges_exist)
			idle_since = 0;
		else if (idle_since == 0)
			idle_since = now;
		else if (now >= TimestampTzPlusMilliseconds(idle_since, pgs_worker_idle_timeout_ms))
		{
			bool		leave = false;

			LWLockAcquire(pgs_shared->lock, LW_EXCLUSIVE);
			if (!sched_db->reload && sched_db->state == PGS_DB_RUNNING)
			{
				sched_db->state = PGS_DB_IDLE;
				leave = true;
			}
			LWLockRelease(pgs_shared->lock);
			if (leave)
				break;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sched_timeout(), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}
