/*-------------------------------------------------------------------------
 *
 * pgs_phases.h
 *	  Where a batch's time goes: a clock that the batch starts and the
 *	  folders below it move from one part of the work to the next
 *	  (phases.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_PHASES_H
#define PGS_PHASES_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* the parts of a batch's run that stream.progress shows */
typedef enum PgsPhase
{
	PGS_PHASE_NONE = -1,		/* no batch's clock runs */
	PGS_PHASE_PLAN = 0,			/* locks, checks, statements prepared */
	PGS_PHASE_READ,				/* the batch's rows read, the query's
								 * partial work over them */
	PGS_PHASE_MERGE,			/* the state merged, evicted, kept */
	PGS_PHASE_WRITE,			/* the target written (or foreach_batch) */
	PGS_NPHASES
} PgsPhase;

extern void pgs_phase_start(TimestampTz now);
extern PgsPhase pgs_phase_switch(PgsPhase next);
extern void pgs_phase_stop(TimestampTz now, int64 *usecs);

#endif							/* PGS_PHASES_H */
