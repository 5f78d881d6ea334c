/*-------------------------------------------------------------------------
 *
 * pgs_retention.h
 *	  Retention passes over stream tables (retention.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_RETENTION_H
#define PGS_RETENTION_H

#include "postgres.h"

#include "access/xact.h"
#include "nodes/pg_list.h"

extern int64 pgs_retention_pass(Oid relid, bool recycle, bool nowait, bool *more);

/*
 * What a join between streams may still read of one of its streams (the
 * join's shape is known above storage: pg_streaming.c sets this).  False
 * when the join holds every row of the stream (a side without a bound);
 * else *min_xid gets the smallest _stream_xid among the rows, visible in
 * "end_snapshot", that a later batch may read again (PG_UINT64_MAX: none).
 */
typedef bool (*pgs_retention_join_hold_hook_type) (int64 query_id, Oid relid,
												   Datum end_snapshot,
												   uint64 *min_xid);
extern pgs_retention_join_hold_hook_type pgs_retention_join_hold_hook;
extern List *pgs_retention_streams(MemoryContext cxt);
extern void pgs_retention_at_xact_end(XactEvent event);
extern void pgs_retention_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
										 SubTransactionId parentSubid);

/* stream_table.c */
extern void pgs_check_table_owner(Oid relid);
extern void pgs_create_stream(Oid relid);

#endif							/* PGS_RETENTION_H */
