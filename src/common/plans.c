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
 * builds a generic plan there at some later execution: pgs_keep_plan()
 * moves the statement's contexts, and pgs_adopt_plan(), called after each
 * execution, a generic plan built since.  A statement is freed with
 * SPI_freeplan() as any other, wherever its contexts are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi_priv.h"
#include "utils/memutils.h"
#include "utils/plancache.h"

#include "common/pgs_plans.h"

static MemoryContext plan_cxt = NULL;

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
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	pgs_adopt_plan(plan);
}
