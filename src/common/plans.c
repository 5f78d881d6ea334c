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
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
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

/* the relations pgs_plan_once_if_reads_only allows */
typedef struct PlanRelations
{
	Oid			relid1;
	Oid			relid2;
} PlanRelations;

/* true at the first thing that is neither of the relations nor plain */
static bool
plans_reads_other_walker(Node *node, PlanRelations *rels)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			return rte->relid != rels->relid1 && rte->relid != rels->relid2;
		return rte->rtekind != RTE_SUBQUERY && rte->rtekind != RTE_JOIN;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, plans_reads_other_walker, rels,
								 QTW_EXAMINE_RTES_BEFORE);
	if (IsA(node, SubLink))
		return true;
	return expression_tree_walker(node, plans_reads_other_walker, rels);
}

/*
 * Keep one generic plan for a statement of a batch that reads nothing but
 * relid1 and relid2 (a stream and a target), in plain subqueries and joins
 * of their own: its plan is the same whatever the batch's size (a scan of
 * the batch's blocks, aggregated or not, into the target), so planning it
 * at every batch, as the plan cache does for a statement whose generic
 * plan looks dearer than its custom ones, is wasted.  A statement that also
 * reads another table, a function in FROM, a CTE or a subquery in an
 * expression keeps a plan made for each batch, which joins the rest
 * knowing how many rows the batch has.
 */
void
pgs_plan_once_if_reads_only(SPIPlanPtr plan, Oid relid1, Oid relid2)
{
	PlanRelations rels = {relid1, relid2};
	ListCell   *lc;

	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *source = (CachedPlanSource *) lfirst(lc);
		ListCell   *qc;

		foreach(qc, source->query_list)
			if (plans_reads_other_walker((Node *) lfirst(qc), &rels))
				return;
	}
	foreach(lc, SPI_plan_get_plan_sources(plan))
		((CachedPlanSource *) lfirst(lc))->cursor_options |= CURSOR_OPT_GENERIC_PLAN;
}

/* does every scan of relid in the plan read block ranges (a TID range scan)? */
static bool
plans_scans_by_range(Plan *plan, List *rtable, Oid relid)
{
	ListCell   *lc;

	if (plan == NULL)
		return true;
	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_SampleScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
		case T_TidScan:
			if (rt_fetch(((Scan *) plan)->scanrelid, rtable)->relid == relid)
				return false;
			break;
		case T_Append:
			foreach(lc, ((Append *) plan)->appendplans)
				if (!plans_scans_by_range(lfirst(lc), rtable, relid))
					return false;
			break;
		case T_MergeAppend:
			foreach(lc, ((MergeAppend *) plan)->mergeplans)
				if (!plans_scans_by_range(lfirst(lc), rtable, relid))
					return false;
			break;
		case T_SubqueryScan:
			if (!plans_scans_by_range(((SubqueryScan *) plan)->subplan, rtable, relid))
				return false;
			break;
		default:
			break;
	}
	return plans_scans_by_range(plan->lefttree, rtable, relid) &&
		plans_scans_by_range(plan->righttree, rtable, relid);
}

/*
 * Before a batch runs a statement that pgs_plan_once_if_reads_only left to
 * a generic plan: keep that plan only while it reads relid (the stream) by
 * the batch's block range alone.  A generic plan does not know the range's
 * size, and with an index on the stream it may prefer the index, which
 * reads every batch's matching rows: the statement then goes back to a
 * plan per batch.  Checked again whenever the plan is made anew (a new
 * index, an ANALYZE); *checked keeps the generation seen.  Needs what an
 * execution needs: a snapshot, and whatever the statement's analysis does.
 */
void
pgs_plan_check_generic(SPIPlanPtr plan, Oid relid, int *checked)
{
	CachedPlanSource *source;
	CachedPlan *cplan;
	ListCell   *lc;
	bool		ok = true;

	if (list_length(SPI_plan_get_plan_sources(plan)) != 1)
		return;
	source = linitial(SPI_plan_get_plan_sources(plan));
	if (!(source->cursor_options & CURSOR_OPT_GENERIC_PLAN))
		return;
	cplan = SPI_plan_get_cached_plan(plan);
	if (cplan == NULL)
		return;
	if (cplan->generation != *checked)
	{
		foreach(lc, cplan->stmt_list)
		{
			PlannedStmt *stmt = lfirst_node(PlannedStmt, lc);
			ListCell   *sc;

			if (stmt->commandType == CMD_UTILITY)
				continue;
			ok = ok && plans_scans_by_range(stmt->planTree, stmt->rtable, relid);
			foreach(sc, stmt->subplans)
				ok = ok && plans_scans_by_range(lfirst(sc), stmt->rtable, relid);
		}
		*checked = cplan->generation;
	}
	ReleaseCachedPlan(cplan, CurrentResourceOwner);
	/* a plan per batch, which sees the range: not the plan cache's choice */
	if (!ok)
		source->cursor_options = (source->cursor_options & ~CURSOR_OPT_GENERIC_PLAN) |
			CURSOR_OPT_CUSTOM_PLAN;
}
