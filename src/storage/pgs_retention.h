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
extern List *pgs_retention_streams(MemoryContext cxt);
extern void pgs_retention_at_xact_end(XactEvent event);
extern void pgs_retention_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
										 SubTransactionId parentSubid);

/* stream_table.c */
extern void pgs_check_table_owner(Oid relid);

#endif							/* PGS_RETENTION_H */
