/*-------------------------------------------------------------------------
 *
 * pgs_guard.h
 *	  Guards that keep commands outside the extension from leaving streams
 *	  or queries in a state the batches cannot live with.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_GUARD_H
#define PGS_GUARD_H

#include "nodes/plannodes.h"
#include "tcop/utility.h"

extern bool pgs_guard_before_utility(PlannedStmt **pstmtp,
									 ProcessUtilityContext context);

#endif							/* PGS_GUARD_H */
