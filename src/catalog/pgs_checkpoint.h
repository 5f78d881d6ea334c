/*-------------------------------------------------------------------------
 *
 * pgs_checkpoint.h
 *	  A query's checkpoint: the offsets log, the commit log and the progress
 *	  rows (stream.checkpoint_offsets, checkpoint_commits, progress_log).
 *
 * checkpoint.c is the only code that writes those tables; the other
 * readers are catalog/'s too (stream_catalog.c and retention_catalog.c
 * read queries' latest boundaries for storage/).  An offsets row is written, and committed, before its batch runs; the commit
 * row and the progress row are written in the batch's own transaction.
 * From 0.6 on, an offsets row also records the transaction history it was
 * written in (stream.local_history), since its snapshots mean nothing in
 * another.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_CHECKPOINT_H
#define PGS_CHECKPOINT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "common/pgs_phases.h"
#include "common/pgs_snapshot.h"

/* one row of the offsets log */
typedef struct PgsOffsets
{
	int64		batch_id;
	PgsBoundary start;			/* is_start for the stream's beginning */
	PgsBoundary end;
	int64		scan_from;		/* first block the batch reads, as planned */
	int64		scan_to;		/* the block it stops before, or PGS_NO_BLOCK */
} PgsOffsets;

/*
 * The watermarks of a batch of a query with an event time, written ahead
 * with its offsets: state whose time is at or before "watermark" is
 * emitted and evicted, rows at or before "late" are dropped.  NULL is
 * before every time.
 */
typedef struct PgsWatermarks
{
	bool		watermark_null;
	TimestampTz watermark;
	bool		late_null;
	TimestampTz late;
} PgsWatermarks;

/*
 * One stateful operator's figures after a batch (stream.progress_operator_log):
 * a join has one per side.  Late rows are input rows for a join and a
 * deduplication, groups for an aggregation, as Spark counts them.
 */
#define PGS_MAX_OPERATORS 4
typedef struct PgsOperatorProgress
{
	const char *operator;		/* "join", "deduplication" or "aggregation" */
	int			side;			/* 1 or 2 for a join's side, else 0 */
	int64		state_rows;		/* in its state after the batch */
	int64		state_rows_updated; /* the batch added or changed */
	int64		state_rows_removed; /* the batch removed */
	int64		late_rows;
} PgsOperatorProgress;

/* what the progress row of a committed batch says */
typedef struct PgsProgress
{
	TimestampTz started_at;
	TimestampTz finished_at;
	int64		input_rows;
	int64		output_rows;
	bool		replayed;
	bool		has_state;		/* a streaming aggregation's batch */
	int64		state_rows;		/* groups in its state after the batch */
	int64		state_rows_updated; /* groups the batch changed or added */
	bool		has_event_time; /* a batch of a query with a watermark */
	PgsWatermarks watermarks;	/* in force for it */
	bool		next_null;
	TimestampTz next_watermark; /* in force for the next batch */
	bool		times_null;		/* no event time in the batch */
	TimestampTz event_time_min;
	TimestampTz event_time_max;
	TimestampTz event_time_avg;
	int64		late_rows;		/* late groups dropped */
	int64		blocks_read;	/* shared buffers the batch's statements
								 * read or found in memory */
	int			noperators;		/* its stateful operators, in the order rows
								 * flow through them */
	PgsOperatorProgress operators[PGS_MAX_OPERATORS];
	bool		timed;			/* phase_usecs holds the run's parts */
	int64		phase_usecs[PGS_NPHASES];
	bool		has_state_bytes;	/* a query with a state table */
	int64		state_bytes;	/* its state tables' size after the batch */
	bool		has_previous_commit;	/* this backend committed the batch
										 * before */
	int64		previous_commit_usecs;	/* and that commit took this long */
	bool		has_dead_letters;	/* a query with on_error => 'dead_letter' */
	int64		dead_letters;	/* the rows it set aside */
} PgsProgress;

/* add an operator's figures to a batch's progress, after those before it */
extern void pgs_progress_add_operator(PgsProgress *p, const char *operator, int side,
									  int64 state_rows, int64 updated, int64 removed,
									  int64 late_rows);

/*
 * The transaction history of a query's latest offsets against this
 * database's (stream.local_history): offsets are snapshots and block
 * positions of the history they were written in, and mean nothing in
 * another.
 */
typedef struct PgsHistoryCheck
{
	bool		behind;			/* this history, but its next xid is below
								 * the offsets' end: a copy that went back */
	int64		batch_id;		/* of the latest offsets */
	bool		recorded;		/* the offsets name their history */
	int64		history_id;
	bool		sysid_known;
	int64		system_identifier;
	TimestampTz planned_at;
	uint64		end_xmax;		/* the offsets' highest xid seen, plus one */
	bool		local_known;	/* stream.local_history has its row */
	int64		local_history_id;
	int64		local_system_identifier;
} PgsHistoryCheck;

extern bool pgs_catalog_splits(void);
extern bool pgs_checkpoint_check_history(int64 query_id, PgsHistoryCheck *h);
extern void pgs_checkpoint_adopt(int64 query_id);
extern int	pgs_checkpoint_foreign_queries(Oid stream_relid, int64 **ids,
										   Datum **ends, bool **splits);
extern void pgs_checkpoint_restart(int64 query_id, Datum end_snapshot,
								   Oid relfilenode);

/* a query reading a restored stream, for stamping several streams at once */
typedef struct PgsForeignReader
{
	int64		query_id;
	Datum		end;			/* its latest committed end; 0: none */
	bool		split;			/* that end splits a transaction */
	Oid			streams[2];		/* its stream, or a join's two sides' */
} PgsForeignReader;

extern int	pgs_checkpoint_foreign_readers(Oid stream_relid,
										   PgsForeignReader **readers);
extern void pgs_checkpoint_restart_side(int64 query_id, Oid relfilenode);
extern void pgs_checkpoint_forget_watermarks(int64 query_id);
extern int64 pgs_checkpoint_last_commit(int64 query_id);
extern char *pgs_checkpoint_delete_queries_sql(const char *sql, const char *returning);
extern bool pgs_checkpoint_read(int64 query_id, int64 batch_id,
								PgsOffsets *o);
extern bool pgs_checkpoint_read_with_commit(int64 query_id, int64 batch_id,
											PgsOffsets *o, int64 *last_commit,
											PgsHistoryCheck *h,
											bool *history_ok);
extern void pgs_checkpoint_write(int64 query_id, const PgsOffsets *o,
								 TimestampTz planned_at);
extern void pgs_checkpoint_commit(int64 query_id, int64 batch_id,
								  const PgsProgress *p);
extern void pgs_checkpoint_mark_committed(int64 query_id, int64 batch_id);
extern int64 pgs_checkpoint_state_rows(int64 query_id);
extern bool pgs_checkpoint_operator_state_rows(int64 query_id, const char *operator,
											   int64 *state_rows);
extern void pgs_checkpoint_plan_watermarks(int64 query_id, PgsWatermarks *w);
extern void pgs_checkpoint_write_watermarks(int64 query_id, int64 batch_id,
											const PgsWatermarks *w);
extern bool pgs_checkpoint_read_watermarks(int64 query_id, int64 batch_id,
										   PgsWatermarks *w);

/*
 * A join between two streams (catalog 0.7): side 1's offsets are the
 * batch's offsets row; side 2's part of them (its floors, tail, storage and
 * writers, under the batch's snapshots) is a stream.checkpoint_sides row,
 * written ahead with them.  Each side's progress is a progress_side_log row
 * written in the batch's transaction, and a side's watermark after a batch
 * is read back from there.  All of them go with their batch's offsets row.
 */
extern void pgs_checkpoint_write_side(int64 query_id, int64 batch_id, int side,
									  const PgsBoundary *end, int64 scan_from);
/* false when the batch has no row for the side; batch_id 0 for the latest */
extern bool pgs_checkpoint_read_side(int64 query_id, int64 batch_id, int side,
									 PgsBoundary *end, int64 *scan_from);

/* what a join batch did on one side */
typedef struct PgsSideProgress
{
	int64		input_rows;
	int64		late_rows;
	int64		state_rows;
	bool		watermark_null;
	TimestampTz watermark;		/* the side's watermark after the batch */
	bool		times_null;
	TimestampTz event_time_min;
	TimestampTz event_time_max;
} PgsSideProgress;

/* in the batch's transaction, beside pgs_checkpoint_commit */
extern void pgs_checkpoint_write_side_progress(int64 query_id, int64 batch_id,
											   int side, const PgsSideProgress *p);
/* the side watermarks after the latest committed batch (watermark_null when none) */
extern void pgs_checkpoint_side_watermarks(int64 query_id, int nsides,
										   PgsSideProgress *p);

#endif							/* PGS_CHECKPOINT_H */
