/*-------------------------------------------------------------------------
 *
 * pgs_plans.h
 *	  The one memory context of the backend's prepared statements
 *	  (plans.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_PLANS_H
#define PGS_PLANS_H

#include "postgres.h"

#include "executor/spi.h"

extern MemoryContext pgs_plan_context(void);
extern void pgs_keep_plan(SPIPlanPtr plan);
extern void pgs_adopt_plan(SPIPlanPtr plan);
extern void pgs_plan_once_if_reads_only(SPIPlanPtr plan, Oid relid1, Oid relid2);
extern void pgs_plan_check_generic(SPIPlanPtr plan, Oid relid, int *checked);

#endif							/* PGS_PLANS_H */
