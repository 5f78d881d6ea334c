/*-------------------------------------------------------------------------
 *
 * pgs_storage_catalog.h
 *	  The catalog rows stream storage keeps: a stream's runs of blocks
 *	  (stream.stream_runs, stream_catalog.c; a retention pass's record
 *	  drops the runs it emptied, retention_catalog.c) and its retention
 *	  (stream.retention, stream.retention_marks, retention_catalog.c), and
 *	  what retention reads of and marks on the queries.
 *
 * storage/ decides; these functions only read and write the rows, each
 * in a catalog stretch of its own, in the caller's transaction.  Every
 * difference between catalog versions is hidden here: before 0.3 a
 * stream has no runs and no retention, before 0.6 no max_hold and no
 * record of the row lock a pass stopped at.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_STORAGE_CATALOG_H
#define PGS_STORAGE_CATALOG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* a row of stream.stream_runs */
typedef struct PgsRunRow
{
	int64		run;
	int64		first_block;
	int64		end_block;		/* -1 while open */
	bool		recycled;
	Oid			relfilenode;	/* the storage the run describes */
} PgsRunRow;

/* stream_catalog.c */
extern int	pgs_runs_read(Oid relid, PgsRunRow **rows);
extern int64 pgs_runs_start_again(Oid relid, Oid relfilenode);
extern int64 pgs_runs_record_recycled(Oid relid, Oid relfilenode,
									  int64 nblocks, int nruns,
									  const int64 *first_blocks,
									  const int64 *end_blocks);
extern List *pgs_split_queries(Oid relid, List **relids);
extern List *pgs_join_queries(Oid relid, List **relids);

/* a row of stream.retention, locked for the pass that reads it */
typedef struct PgsRetentionRow
{
	Interval   *keep;
	bool		past_inactive;
	int64		walk;			/* position */
	int64		recycled;		/* position */
	Oid			relfilenode;
	/* from version 0.6 on */
	Interval   *max_hold;		/* NULL: a query holds rows for as long as it needs */
	TransactionId blocked_by;	/* the row lock the last pass stopped at */
	TimestampTz blocked_since;
	TimestampTz blocked_warned_at;
} PgsRetentionRow;

/* a query of the stream, as retention sees it */
typedef struct PgsRetentionHolder
{
	int64		query_id;
	bool		active;
	bool		detached;		/* by the stream's owner */
	bool		read_nothing;	/* no committed batch of this history */
	Datum		end_snapshot;	/* of its latest committed batch */
	bool		join;			/* a join between streams: it reads its
								 * streams' earlier rows again */
} PgsRetentionHolder;

/* what one pass leaves in stream.retention */
typedef struct PgsRetentionPassRow
{
	int64		walk;
	int64		recycled;
	uint64		horizon;		/* 0 when nothing could go */
	int64		held_by;		/* 0 when no query held rows back */
	int64		rows_removed;
	int64		blocks_recycled;
	Oid			relfilenode;
} PgsRetentionPassRow;

/* retention_catalog.c */
extern bool pgs_retention_lock_row(Oid relid, bool nowait, PgsRetentionRow *row);
extern bool pgs_retention_marks_cut(Oid relid, Interval *keep, Interval *max_hold,
									Datum *snapshot, Datum *hold_snapshot);
extern int	pgs_retention_holders(Oid relid, PgsRetentionHolder **holders);
extern void pgs_retention_mark_missed(int64 query_id);
extern void pgs_retention_record_blocker(Oid relid, TransactionId blocker,
										 TimestampTz since, TimestampTz warned_at);
extern void pgs_retention_record_pass(Oid relid, const PgsRetentionPassRow *pass);
extern void pgs_retention_restart_at(Oid relid, int64 position);
extern List *pgs_retention_stream_list(MemoryContext cxt);
extern void pgs_retention_unset(Oid relid);
extern void pgs_retention_set(Oid relid, Interval *keep, bool past_inactive,
							  bool with_max_hold, Interval *max_hold);
extern int	pgs_retention_detach_query(Oid relid, const char *name);

#endif							/* PGS_STORAGE_CATALOG_H */
