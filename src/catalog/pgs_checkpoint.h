/*-------------------------------------------------------------------------
 *
 * pgs_checkpoint.h
 *	  A query's checkpoint: the offsets log, the commit log and the progress
 *	  rows (stream.checkpoint_offsets, checkpoint_commits, progress_log).
 *
 * checkpoint.c is the only code that reads or writes those tables.  An
 * offsets row is written, and committed, before its batch runs; the commit
 * row and the progress row are written in the batch's own transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_CHECKPOINT_H
#define PGS_CHECKPOINT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "source/pgs_offsets.h"

/* one row of the offsets log */
typedef struct PgsOffsets
{
	int64		batch_id;
	PgsBoundary start;			/* is_start for the stream's beginning */
	PgsBoundary end;
	int64		scan_from;		/* first block the batch reads, as planned */
	int64		scan_to;		/* the block it stops before, or PGS_NO_BLOCK */
} PgsOffsets;

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
} PgsProgress;

extern bool pgs_catalog_splits(void);
extern int64 pgs_checkpoint_last_commit(int64 query_id);
extern bool pgs_checkpoint_read(int64 query_id, int64 batch_id,
								PgsOffsets *o);
extern void pgs_checkpoint_write(int64 query_id, const PgsOffsets *o,
								 TimestampTz planned_at);
extern void pgs_checkpoint_commit(int64 query_id, int64 batch_id,
								  const PgsProgress *p);
extern void pgs_checkpoint_mark_committed(int64 query_id, int64 batch_id);
extern int64 pgs_checkpoint_state_rows(int64 query_id);

#endif							/* PGS_CHECKPOINT_H */
