/*-------------------------------------------------------------------------
 *
 * pgs_batch.h
 *	  The one batch protocol, shared by stream.process_batch,
 *	  stream.process_all_available and the background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_BATCH_H
#define PGS_BATCH_H

#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pgs_query.h"

typedef enum PgsBatchResult
{
	PGS_BATCH_NONE,				/* no new rows: nothing was planned */
	PGS_BATCH_DONE,				/* a batch was planned and committed */
	PGS_BATCH_PARTIAL,			/* committed, but capped: more is available */
	PGS_BATCH_INACTIVE			/* the query is not active: nothing ran */
} PgsBatchResult;

/* flags of pgs_run_batch */
#define PGS_BATCH_REQUIRE_ACTIVE	0x01	/* run only an active query */
#define PGS_BATCH_NO_CAP			0x02	/* ignore max_rows_per_batch */

extern PgsBatchResult pgs_run_batch(int64 query_id, bool nonatomic, int flags);
extern void pgs_forget_batch_plans(void);
extern int64 pgs_deliver_dead_letters(const PgsQuery *q);
extern int64 pgs_pending_rows(const PgsQuery *q, bool estimate);
extern void pgs_start_at_latest(const PgsQuery *q);
extern bool pgs_checkpoint_is_foreign(const PgsQuery *q);
extern void pgs_check_history(const PgsQuery *q);
extern bool pgs_restored_rows(const PgsQuery *q, FullTransactionId *restore,
							  bool *kept, int64 *restored, int64 *intruders);
extern Oid	pgs_stream_relfilenode(Oid relid);
extern void pgs_batch_at_xact_end(XactEvent event);
extern void pgs_batch_at_subxact_end(SubXactEvent event, SubTransactionId mySubid);

/* restored.c: at most this many restored queries per stream, 2^that masks */
#define PGS_RESTAMP_MAX_QUERIES	8
#define PGS_RESTAMP_CLASSES		(1 << PGS_RESTAMP_MAX_QUERIES)
extern int64 pgs_restamp_restored(Oid relid, FullTransactionId restore,
								  int nqueries, const Datum *ends, bool *seen);
extern int64 pgs_restamp_restored_bits(Oid relid, FullTransactionId restore,
									   int nqueries, const Datum *ends,
									   const bool *reads, bool *seen);

#endif							/* PGS_BATCH_H */
