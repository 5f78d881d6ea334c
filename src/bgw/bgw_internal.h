/*-------------------------------------------------------------------------
 *
 * bgw_internal.h
 *	  State in shared memory for the launcher, the schedulers and the query
 *	  workers; exists only when pg_streaming is in shared_preload_libraries.
 *	  Only the files of bgw/ include this; everybody else uses pgs_bgw.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_BGW_INTERNAL_H
#define PGS_BGW_INTERNAL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "bgw/pgs_bgw.h"
#include "common/pgs_common.h"

#define PGS_DB_WAITING			32	/* waiting queries shown per database */
#define PGS_WARNING_INTERVAL_MS	60000	/* one warning of a kind per minute */
#define PGS_WORKER_QUANTUM_MS	1000	/* a worker serves its database and role
										 * this long before it gives way, and
										 * workers leave for other databases at
										 * most once in this time */
#define PGS_STREAM_COUNTERS		1024
#define PGS_ERRMSG_LEN			512

/* what the launcher knows of a database */
typedef enum PgsDbState
{
	PGS_DB_FREE = 0,
	PGS_DB_PROBE,				/* start a scheduler to look for the extension */
	PGS_DB_NO_EXTENSION,		/* the extension is not installed there */
	PGS_DB_RUNNING,				/* a scheduler serves it */
	PGS_DB_PAUSED,				/* workers kept away (DROP DATABASE and such) */
	PGS_DB_IDLE					/* the extension is there but nothing to run:
								 * no scheduler until a query is started */
} PgsDbState;

/* why a due query is not running */
typedef enum PgsWaitReason
{
	PGS_WAIT_NONE = 0,
	PGS_WAIT_STARTING,			/* a worker is starting for it */
	PGS_WAIT_POOL,				/* pg_streaming.max_workers are all busy */
	PGS_WAIT_NO_SLOT,			/* max_worker_processes is used up */
	PGS_WAIT_FAIR				/* an older due query elsewhere goes first */
} PgsWaitReason;

typedef struct PgsWaiting
{
	int64		query_id;
	TimestampTz since;			/* due since */
	PgsWaitReason reason;
} PgsWaiting;

typedef struct PgsDatabase
{
	Oid			dboid;
	PgsDbState	state;
	TimestampTz paused_until;
	pid_t		sched_pid;
	Latch	   *sched_latch;
	bool		reload;			/* the query catalog changed */
	TimestampTz no_slot_since;	/* the launcher could not start its scheduler */
	/* due queries the scheduler could not hand to a worker, oldest first */
	int			nwaiting;		/* may exceed PGS_DB_WAITING */
	PgsWaiting	waiting[PGS_DB_WAITING];
	/* the oldest of them that waits for a slot another database holds */
	TimestampTz want_since;
	TimestampTz gift_at;		/* another database's worker left for it then */
	bool		served_once;	/* has had a worker since its scheduler started */
} PgsDatabase;

/*
 * Commits of transactions that inserted into a stream, per stream.  A slot
 * is claimed under the lock and never given back; its count is an atomic,
 * so that a commit bumps it without any lock.
 */
typedef struct PgsStreamCounter
{
	Oid			dboid;
	Oid			relid;			/* set last: InvalidOid while the slot is free */
	pg_atomic_uint64 commits;
	bool		wake;			/* a continuous query reads it: wake the scheduler */
} PgsStreamCounter;

/* what a worker was asked to do */
typedef enum PgsRunMode
{
	PGS_RUN_ONE = 1,			/* one batch (interval trigger) */
	PGS_RUN_ONCE,				/* one uncapped batch, then finished */
	PGS_RUN_AVAILABLE_NOW		/* batches until none is left, then finished */
} PgsRunMode;

typedef enum PgsRunResult
{
	PGS_RESULT_NONE = 0,
	PGS_RESULT_OK,				/* ran (or had nothing to do) */
	PGS_RESULT_INACTIVE,		/* the query is no longer active */
	PGS_RESULT_TRANSIENT,		/* retryable error; see errmsg */
	PGS_RESULT_FAILED			/* the query was marked failed */
} PgsRunResult;

typedef struct PgsWorkerSlot
{
	bool		in_use;			/* a worker process owns it */
	bool		ready;			/* the worker is up and waiting */
	bool		retire;			/* asked to exit when idle, to free the slot */
	bool		connect_failed; /* exited before it could connect */
	int64		runs;			/* assignments it has finished */
	TimestampTz ready_at;		/* when it came up */
	Oid			dboid;
	Oid			roleid;			/* connected as; InvalidOid: bootstrap superuser */
	pid_t		pid;
	Latch	   *latch;
	/* assignment, written by the scheduler */
	int64		query_id;		/* 0 = idle */
	PgsRunMode	mode;
	/* outcome, written by the worker */
	bool		done;
	bool		more;			/* capped batch: more rows are waiting */
	PgsRunResult result;
	int			batches;
	char		sqlstate[6];
	char		errmsg[PGS_ERRMSG_LEN];
} PgsWorkerSlot;

/*
 * Notes to the launcher about databases that hold no entry: CREATE
 * EXTENSION committed there (look again), a scheduler found no extension
 * there, or found it but no free entry.  A ring; the launcher that falls
 * more than a ring behind looks at every database again.
 */
#define PGS_PROBE_RING			64

typedef enum PgsProbeNoteKind
{
	PGS_PROBE_AGAIN = 1,
	PGS_PROBE_NO_EXTENSION,
	PGS_PROBE_NO_ENTRY
} PgsProbeNoteKind;

typedef struct PgsProbeNote
{
	Oid			dboid;
	PgsProbeNoteKind kind;
} PgsProbeNote;

typedef struct PgsShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	uint32		probe_notes;	/* notes written into probe_ring */
	PgsProbeNote probe_ring[PGS_PROBE_RING];
	bool		dbs_full;		/* a database could not get an entry */
	TimestampTz last_gift_at;	/* a worker last left for another database */
	PgsStreamCounter counters[PGS_STREAM_COUNTERS];
	PgsWorkerSlot workers[PGS_MAX_WORKERS];
	int			ndbs;			/* pg_streaming.max_databases */
	PgsDatabase dbs[FLEXIBLE_ARRAY_MEMBER];
} PgsShared;

extern PgsShared *pgs_shared;

/* shared.c */
extern PgsDatabase *pgs_find_database(Oid dboid, bool create);
extern int	pgs_count_own_processes(int *schedulers, int *workers);
extern void pgs_probe_note(Oid dboid, PgsProbeNoteKind kind);
extern uint64 pgs_stream_commits(Oid dboid, Oid relid);
extern void pgs_pause_database(Oid dboid, int seconds);
struct BackgroundWorkerHandle;
extern bool pgs_start_worker(const char *function, const char *type, Datum arg,
							 struct BackgroundWorkerHandle **handle);

/* launcher.c, scheduler.c, worker.c */
PGDLLEXPORT void pgs_launcher_main(Datum arg);
PGDLLEXPORT void pgs_scheduler_main(Datum arg);
PGDLLEXPORT void pgs_worker_main(Datum arg);

extern void pgs_stream_set_wakes(Oid dboid, const Oid *relids, int nrelids);

#endif							/* PGS_BGW_INTERNAL_H */
