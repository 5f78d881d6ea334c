/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  The one memory context of the backend's prepared statements.
 *
 * Every statement pg_streaming prepares and keeps (catalog and owner
 * statements, batch statements, aggregation and deduplication statements)
 * lives under "pg_streaming plans", a child of CacheMemoryContext, with
 * the caches' own entries, so that pg_backend_memory_contexts shows what
 * the extension holds and a freed statement visibly goes.
 *
 * SPI_keepplan() puts a statement under CacheMemoryContext, and PostgreSQL
 * builds a generic plan there later, at some execution: pgs_keep_plan()
 * moves the statement's contexts, and pgs_adopt_plan() a generic plan built
 * since.  Plans kept here must be freed with pgs_free_plan(), never
 * SPI_freeplan(), so that the list of kept plans holds no freed one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi_priv.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/plancache.h"

#include "common/pgs_plans.h"

static MemoryContext plan_cxt = NULL;
static List *kept_plans = NIL;	/* of SPIPlanPtr, in plan_cxt */

/* the context, made on first use */
MemoryContext
pgs_plan_context(void)
{
	if (plan_cxt == NULL)
		plan_cxt = AllocSetContextCreate(CacheMemoryContext, "pg_streaming plans",
										 ALLOCSET_SMALL_SIZES);
	return plan_cxt;
}

/*
 * Move what PostgreSQL keeps of a saved statement under the plan context:
 * the statement itself, its sources (with their analyzed trees) and a
 * generic plan, once one was built.  Cheap when there is nothing to move.
 */
void
pgs_adopt_plan(SPIPlanPtr plan)
{
	MemoryContext cxt = pgs_plan_context();
	ListCell   *lc;

	if (plan->plancxt != NULL && MemoryContextGetParent(plan->plancxt) != cxt)
		MemoryContextSetParent(plan->plancxt, cxt);
	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *ps = (CachedPlanSource *) lfirst(lc);

		if (MemoryContextGetParent(ps->context) != cxt)
			MemoryContextSetParent(ps->context, cxt);
		if (ps->gplan != NULL && MemoryContextGetParent(ps->gplan->context) != cxt)
			MemoryContextSetParent(ps->gplan->context, cxt);
	}
}

/* keep a prepared statement for the backend's life, under the plan context */
void
pgs_keep_plan(SPIPlanPtr plan)
{
	MemoryContext old;

	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	old = MemoryContextSwitchTo(pgs_plan_context());
	kept_plans = lappend(kept_plans, plan);
	MemoryContextSwitchTo(old);
	pgs_adopt_plan(plan);
}

/* free a statement kept by pgs_keep_plan() */
void
pgs_free_plan(SPIPlanPtr plan)
{
	kept_plans = list_delete_ptr(kept_plans, plan);
	SPI_freeplan(plan);
}

/*
 * Adopt the generic plans built since the last call, for the statements
 * whose executions are not followed by pgs_adopt_plan() themselves: once
 * per batch.
 */
void
pgs_adopt_kept_plans(void)
{
	ListCell   *lc;

	foreach(lc, kept_plans)
		pgs_adopt_plan((SPIPlanPtr) lfirst(lc));
}
