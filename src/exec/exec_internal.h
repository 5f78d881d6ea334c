/*-------------------------------------------------------------------------
 *
 * exec_internal.h
 *	  Between batch.c and dead_letters.c: running a batch's statement over
 *	  all of its rows or some of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EXEC_INTERNAL_H
#define EXEC_INTERNAL_H

#include "postgres.h"

#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "source/pgs_offsets.h"

/* evaluates the query over the batch's rows (as narrowed), writing its target */
typedef uint64 (*PgsBatchRunner) (const PgsQuery *q, int64 batch_id,
								  PgsBatchParams *params, PgsProgress *progress);

extern uint64 pgs_batch_run_guarded(const PgsQuery *q, int64 batch_id,
									PgsBatchParams *params, PgsProgress *progress,
									PgsBatchRunner runner);

#endif							/* EXEC_INTERNAL_H */
