/*-------------------------------------------------------------------------
 *
 * pgs_join_exec.h
 *	  One batch of a join between two streams (join.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_JOIN_EXEC_H
#define PGS_JOIN_EXEC_H

#include "postgres.h"

#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "source/pgs_offsets.h"

/* what the batch protocol gives a join's batch */
typedef struct PgsJoinBatch
{
	int64		batch_id;
	PgsBatchParams side_params[PGS_MAX_SIDES];	/* each side's new rows */
	Datum		lo_snapshot;	/* the batch's start */
	bool		lo_null;		/* the start of the streams */
	bool		no_data;		/* a batch without rows, after the watermark moved */
	bool		has_watermark;	/* a side has a watermark */
	PgsWatermarks watermarks;	/* in force for the batch */
} PgsJoinBatch;

/*
 * How the rows of a join's streams tell, after a logical restore, whether
 * the join had processed them (pgs_join_remap_restored).
 */
typedef struct PgsJoinProcessed
{
	Datum		end;			/* end snapshot of its latest committed batch,
								 * in the rows' history; 0: none */
	int			bit;			/* its bit in the stamps of rows stamped
								 * again; -1: none are */
	int			start_bit;		/* the bit of its start snapshot; -1: none */
	uint64		classes;		/* the stamps of rows stamped again lie in
								 * [FirstNormalTransactionId, + classes) */
	FullTransactionId restore[PGS_MAX_SIDES];	/* each side's restore (with
												 * bit) */
} PgsJoinProcessed;

extern uint64 pgs_join_execute(const PgsQuery *q, const PgsJoinBatch *jb,
							   PgsProgress *progress, PgsSideProgress *sides);
extern Oid	pgs_join_create_state(const char *query_name);
extern void pgs_join_create_chain_state(const char *query_name, Oid agg_state_relid);
extern void pgs_join_set_start(const PgsQuery *q, Datum snap);
extern void pgs_join_marks_end(void);
extern void pgs_join_forget_plans(void);
extern bool pgs_join_retention_hold(int64 query_id, Oid relid, Datum end_snapshot,
									uint64 *min_xid);

extern bool pgs_join_has_fingerprints(const PgsQuery *q);
extern bool pgs_join_read_start(const PgsQuery *q, Datum *start);
extern void pgs_join_clear_state(const PgsQuery *q);
extern int64 pgs_join_remap_restored(const PgsQuery *q, const PgsJoinProcessed *how);

#endif							/* PGS_JOIN_EXEC_H */
