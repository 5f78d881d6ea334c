/*-------------------------------------------------------------------------
 *
 * pgs_common.h
 *	  The common layer's header: what every file of pg_streaming may need
 *	  (the stream column's name, the settings, names, commit notes).
 *
 * The folders of src/ are layers, lowest first; a file includes the
 * headers of, and calls, only its own folder and the folders below it
 * (scripts/check_layers.sh, part of the test command, holds the order as
 * data and fails on an include, extern or linked call that points up):
 *
 *	  common/   settings, names, commit notes, pg_snapshot helpers and the
 *				boundary types (this header, pgs_snapshot.h), the plan memory
 *				context (pgs_plans.h), errors not to swallow (pgs_errors.h)
 *	  catalog/  statements on stream.* and the extension's schemas: the
 *				query catalog, the checkpoint, the query's tables and views,
 *				storage's rows; the two executors; the catalog's version
 *	  storage/  the stream_heap access method, create/drop, DDL guards,
 *				placement, runs, retention
 *	  source/   batch boundaries and the batch predicate (pgs_offsets.h)
 *	  analyze/  checks at start and the substitution of the stream
 *	  state/    aggregation, windows and deduplication state (pgs_agg.h)
 *	  exec/     the one batch protocol (pgs_batch.h)
 *	  bgw/      launcher, schedulers, workers (pgs_bgw.h)
 *	  api/      the SQL-facing functions
 *	  top       pg_streaming.c: _PG_init, the hooks and the one
 *				transaction-end dispatcher
 *
 * A lower layer that must make a higher one act inverts the call: it
 * leaves a note (commit notes, taken by bgw/ at commit), takes a
 * function from its caller (pgs_rewrite_arm_then), or exports a handler
 * that the top calls from a hook or at transaction end.  A header named
 * *_internal.h is for its own folder only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_COMMON_H
#define PGS_COMMON_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "nodes/pg_list.h"

/* name of the column every stream table gets; never written to targets */
#define PGS_XID_COLUMN		"_stream_xid"

/* the most background workers pg_streaming.max_workers may ask for */
#define PGS_MAX_WORKERS			64

/* settings (common/settings.c), defined by _PG_init */
extern void pgs_define_settings(void);
extern int	pgs_max_workers;
extern int	pgs_launcher_naptime_ms;
extern int	pgs_worker_idle_timeout_ms;
extern int	pgs_max_retries;
extern int	pgs_retained_batches;
extern int	pgs_progress_history_minutes;
extern int	pgs_retention_naptime_ms;
extern int	pgs_merge_naptime_ms;
extern int	pgs_max_databases;
extern int	pgs_batch_timeout_ms;

/* intervals given as arguments, checked against stated bounds (common/settings.c) */
extern int64 pgs_interval_usecs(Datum interval, const char *what,
								const char *given, int64 min_usecs,
								int64 max_usecs);

/* names as composed statements write them (common/names.c) */
extern char *pgs_qualified_relname(Oid relid);
extern char *pgs_qualified_procname(Oid procid);
extern AttrNumber pgs_column_attnum(TupleDesc desc, const char *name);
/* the query text without trailing blanks and semicolons */
extern char *pgs_trim_query(const char *text);
/* a query's stored search_path as its batches run with it */
extern char *pgs_batch_search_path(const char *stored);

/*
 * Commit notes (common/notes.c): what a transaction tells the background
 * workers when it commits, taken at commit by bgw/shared.c.
 */
typedef struct PgsCommitNotes
{
	List	   *stream_relids;	/* streams inserted into (TopTransactionContext) */
	bool		scheduler;		/* the query catalog changed: re-read it */
	bool		launcher;		/* the extension was created: look at the database */
} PgsCommitNotes;

/* a transaction inserted into a stream: wake its queries at commit */
extern void pgs_note_stream_insert(Oid relid);
/* the query catalog changed: the scheduler re-reads it at commit */
extern void pgs_notify_scheduler_at_commit(void);
/* the extension was created here: the launcher looks at commit */
extern void pgs_notify_launcher_at_commit(void);
extern void pgs_commit_notes_enable(void);
extern bool pgs_take_commit_notes(PgsCommitNotes *notes);
extern void pgs_forget_commit_notes(void);
extern void pgs_notes_keep_prepared(const char *gid);
extern void pgs_notes_finish_prepared(const char *gid, bool commit);

#endif							/* PGS_COMMON_H */
