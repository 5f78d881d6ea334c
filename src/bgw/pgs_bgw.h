/*-------------------------------------------------------------------------
 *
 * pgs_bgw.h
 *	  The worker stack as the layers above it see it: set-up from _PG_init,
 *	  and what stream.queries shows of the workers.
 *
 * The SQL-facing code includes this header only; the shared memory layout
 * stays behind bgw_internal.h.  Layers below bgw/ tell the workers of a
 * commit through the commit notes of common/pgs_common.h, which bgw/ takes at
 * transaction end.  Every function here is safe to call when pg_streaming
 * is not in shared_preload_libraries (it does nothing).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_BGW_H
#define PGS_BGW_H

#include "postgres.h"

#include "access/xact.h"
#include "nodes/nodes.h"

/* _PG_init, while shared_preload_libraries is processed */
extern void pgs_register_launcher(void);
/* the shared memory hooks, installed by _PG_init */
extern void pgs_shared_shmem_request(void);
extern void pgs_shared_shmem_startup(void);
/* the utility hook, before the command runs */
extern void pgs_shared_before_utility(Node *parsetree);
/* the transaction-end dispatcher */
extern void pgs_shared_at_xact_end(XactEvent event);

/* how the background workers serve a query now, for stream.queries */
extern char *pgs_query_serving(int64 query_id);
/* a NOTICE where no worker will run a query on its own */
extern void pgs_notice_if_unscheduled(const char *name);

#endif							/* PGS_BGW_H */
