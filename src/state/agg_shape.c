/*-------------------------------------------------------------------------
 *
 * agg_shape.c
 *	  What an aggregating streaming query is made of: its grouping keys, its
 *	  aggregate calls, and its output over the groups' results; the partial
 *	  form a batch runs; and the planner's part in it.
 *
 * The query's aggregation must be its top level.  A batch analyzes the
 * query's own text, with the stream substituted by the batch's rows, and
 * turns that level into its partial form: the grouping keys, then one
 * partial aggregate per distinct aggregate call, marked
 * AGGSPLIT_INITIAL_SERIAL as PostgreSQL's parallel aggregation marks them,
 * with HAVING, ORDER BY and LIMIT left for later.  The planner plans it as
 * any grouping; the planner hook below then gives the Agg node the same
 * split, so that the executor stops before the final functions and hands
 * out the serialized transition states.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/int.h"
#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_am_d.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "optimizer/tlist.h"
#include "parser/parse_agg.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "common/pgs_common.h"
#include "state/pgs_agg.h"


/* ---- finding the aggregate calls ---- */

static bool
as_collect_aggrefs(Node *node, List **aggrefs)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref))
	{
		Aggref	   *a = (Aggref *) node;
		ListCell   *lc;

		if (a->agglevelsup != 0)
			return false;
		foreach(lc, *aggrefs)
			if (equal(lfirst(lc), a))
				return false;
		*aggrefs = lappend(*aggrefs, a);
		return false;			/* no aggregate of this level inside one */
	}
	if (IsA(node, SubLink))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a subquery expression in the select list, HAVING or ORDER BY is not supported in a streaming aggregation"),
				 errdetail("Those are computed from the groups' results, after the aggregation, where no table of the query is at hand."),
				 errhint("Join the other table in FROM, or compute the value when reading the target.")));
	if (IsA(node, GroupingFunc))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("GROUPING() is not supported in a streaming aggregation")));
	if (IsA(node, WindowFunc))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a window function (OVER) over the stream table is not supported in a streaming aggregation")));
	return expression_tree_walker(node, as_collect_aggrefs, (void *) aggrefs);
}

/* refuse an aggregate a batch cannot fold into a state, by name */
static void
as_check_call(Aggref *a, PgsAggCall *call)
{
	HeapTuple	tup;
	Form_pg_aggregate agg;
	Oid			inputTypes[FUNC_MAX_ARGS];
	int			nargs;
	char	   *name = format_procedure(a->aggfnoid);
	const char *msg;

	if (a->aggdistinct != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DISTINCT inside aggregate %s is not supported in a streaming aggregation", name),
				 errdetail("The distinct values seen so far would have to be kept for every group."),
				 errhint("Count distinct values approximately with hll_add_agg() of the hll extension, or add the column to GROUP BY.")));
	if (a->aggkind == AGGKIND_ORDERED_SET || a->aggkind == AGGKIND_HYPOTHETICAL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg(a->aggkind == AGGKIND_ORDERED_SET ?
						gettext_noop("ordered-set aggregate %s is not supported in a streaming aggregation") :
						gettext_noop("hypothetical-set aggregate %s is not supported in a streaming aggregation"),
						name),
				 errdetail("It needs every input row at once, sorted."),
				 errhint("For percentiles, use tdigest_percentile() of the tdigest extension, which folds rows into a state.")));
	if (a->aggorder != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ORDER BY inside aggregate %s is not supported in a streaming aggregation", name),
				 errdetail("Rows of later batches would have to be placed among those already aggregated."),
				 errhint("Aggregate without ORDER BY, or write the rows to a target and aggregate there.")));

	tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(a->aggfnoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for aggregate %u", a->aggfnoid);
	agg = (Form_pg_aggregate) GETSTRUCT(tup);
	/* whole messages, translated where they are raised */
	msg = NULL;
	if (!OidIsValid(agg->aggcombinefn))
		msg = gettext_noop("aggregate %s cannot be computed incrementally: it has no combine function");
	else if (agg->aggtranstype == INTERNALOID &&
			 (!OidIsValid(agg->aggserialfn) || !OidIsValid(agg->aggdeserialfn)))
		msg = gettext_noop("aggregate %s cannot be computed incrementally: it has no serialization functions for its internal state");
	else if (agg->aggfinalextra)
		msg = gettext_noop("aggregate %s cannot be computed incrementally: it has a final function with extra arguments");
	if (msg)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg(msg, name),
				 errdetail("A streaming aggregation keeps each aggregate's transition state and merges every batch's states into it with the aggregate's combine function."),
				 errhint("Use an aggregate with a combine function (count, sum, avg, min, max, bool_and, stddev, ...), or write the rows to a target and aggregate there.")));

	nargs = get_aggregate_argtypes(a, inputTypes);
	call->aggref = a;
	call->transtype = resolve_aggregate_transtype(a->aggfnoid, agg->aggtranstype,
												  inputTypes, nargs);
	ReleaseSysCache(tup);
	if (call->transtype == INTERNALOID)
		call->state_type = BYTEAOID;
	else if (get_typtype(call->transtype) == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregate %s cannot be computed incrementally: its state is of pseudo-type %s",
						name, format_type_be(call->transtype))));
	else
		call->state_type = call->transtype;
}

/* ---- the output over the groups' results ---- */

typedef struct AsMutate
{
	const PgsAggShape *shape;
	int			nkeys;
	List	   *rtable;
} AsMutate;

static char *
as_var_name(List *rtable, Var *var)
{
	if (var->varno >= 1 && var->varno <= list_length(rtable) &&
		var->varattno > 0)
		return get_rte_attribute_name(rt_fetch(var->varno, rtable), var->varattno);
	return "?";
}

static Node *
as_over_results(Node *node, AsMutate *m)
{
	ListCell   *lc;
	int			i;

	if (node == NULL)
		return NULL;
	i = 0;
	foreach(lc, m->shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		if (equal(node, k->expr))
			return (Node *) makeVar(1, i, exprType(node), exprTypmod(node),
									exprCollation(node), 0);
	}
	if (IsA(node, Aggref) && ((Aggref *) node)->agglevelsup == 0)
	{
		i = m->nkeys;
		foreach(lc, m->shape->calls)
		{
			PgsAggCall *c = lfirst(lc);

			i++;
			if (equal(node, c->aggref))
				return (Node *) makeVar(1, i, c->aggref->aggtype, -1,
										c->aggref->aggcollid, 0);
		}
		elog(ERROR, "aggregate call not found among the query's aggregates");
	}
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("column \"%s\" is used outside an aggregate without being a grouping expression",
						as_var_name(m->rtable, (Var *) node)),
				 errdetail("PostgreSQL accepts a column that the primary key of its table determines; a streaming aggregation keeps only the grouping expressions of each group."),
				 errhint("Add the column to GROUP BY.")));
	return expression_tree_mutator(node, as_over_results, (void *) m);
}

/*
 * Does the query aggregate?  If so, fill in its shape, refusing what a
 * batch cannot compute incrementally.  output_names are the query's output
 * columns, in order (the target's columns).
 */
bool
pgs_agg_describe(Query *query, List *output_names, PgsAggShape *shape)
{
	AsMutate	m;
	List	   *aggrefs = NIL;
	ListCell   *lc;

	memset(shape, 0, sizeof(PgsAggShape));
	shape->time_key = -1;
	if (!query->hasAggs && query->groupClause == NIL &&
		query->groupingSets == NIL && query->havingQual == NULL)
		return false;

	if (query->groupingSets != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("GROUPING SETS, ROLLUP or CUBE is not supported in a streaming aggregation"),
				 errhint("Start one streaming query per grouping.")));
	if (query->distinctClause != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DISTINCT over the groups is not supported in a streaming aggregation"),
				 errhint("Group by the columns instead.")));

	/* the grouping keys */
	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, query->targetList);
		PgsAggKey  *k = palloc0(sizeof(PgsAggKey));
		ListCell   *lc2;
		int			i = 0;

		k->expr = tle->expr;
		k->type = exprType((Node *) tle->expr);
		if (IsA(tle->expr, FuncExpr) &&
			get_func_namespace(((FuncExpr *) tle->expr)->funcid) ==
			get_namespace_oid("stream", true) &&
			strcmp(get_func_name(((FuncExpr *) tle->expr)->funcid), "session") == 0)
			shape->session_call = true;
		k->collation = exprCollation((Node *) tle->expr);
		k->output = -1;
		/*
		 * The default btree operator class's family, from the type cache,
		 * which the planner's grouping reads next: GetDefaultOpClass
		 * itself reads the whole of pg_opclass at each call.
		 */
		if (!OidIsValid(lookup_type_cache(k->type, TYPECACHE_BTREE_OPFAMILY)->btree_opf))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("grouping by a value of type %s is not supported in a streaming aggregation",
							format_type_be(k->type)),
					 errdetail("The groups are kept in a table with a unique btree index on the grouping keys, and the type has no btree operator class."),
					 errhint("Group by an expression of another type, a cast to text for example.")));
		foreach(lc2, query->targetList)
		{
			TargetEntry *t = lfirst_node(TargetEntry, lc2);

			if (t->resjunk)
				continue;
			if (t->resname != NULL && strcmp(t->resname, PGS_XID_COLUMN) == 0)
				continue;
			if (equal(t->expr, k->expr))
			{
				k->output = i;
				break;
			}
			i++;
		}
		if (k->output < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("grouping expression %d is not an output column of the streaming aggregation",
							foreach_current_index(lc) + 1),
					 errdetail("The target holds one row per group, keyed by the grouping expressions."),
					 errhint("Add the grouping expression itself to the select list.")));
		shape->keys = lappend(shape->keys, k);
	}

	/* the aggregate calls, each once */
	foreach(lc, query->targetList)
		(void) as_collect_aggrefs((Node *) lfirst_node(TargetEntry, lc)->expr, &aggrefs);
	(void) as_collect_aggrefs(query->havingQual, &aggrefs);
	foreach(lc, aggrefs)
	{
		PgsAggCall *c = palloc0(sizeof(PgsAggCall));

		as_check_call(lfirst(lc), c);
		shape->calls = lappend(shape->calls, c);
	}
	if (shape->keys == NIL && shape->calls == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("HAVING without GROUP BY or an aggregate is not supported in a streaming aggregation"),
				 errhint("Filter the rows with WHERE instead.")));

	/* the output, HAVING and ORDER BY over the groups' results */
	m.shape = shape;
	m.nkeys = list_length(shape->keys);
	m.rtable = query->rtable;
	foreach(lc, query->targetList)
	{
		TargetEntry *t = lfirst_node(TargetEntry, lc);

		if (t->resjunk)
			continue;
		if (t->resname != NULL && strcmp(t->resname, PGS_XID_COLUMN) == 0)
			continue;
		shape->outputs = lappend(shape->outputs,
								 as_over_results((Node *) t->expr, &m));
	}
	Assert(output_names == NIL ||
		   list_length(shape->outputs) == list_length(output_names));
	shape->having = as_over_results(query->havingQual, &m);
	foreach(lc, query->sortClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, query->targetList);

		shape->sort_exprs = lappend(shape->sort_exprs,
									as_over_results((Node *) tle->expr, &m));
		shape->sort_ops = lappend_oid(shape->sort_ops, sgc->sortop);
		shape->sort_nulls_first = lappend_int(shape->sort_nulls_first,
											  sgc->nulls_first);
	}
	/*
	 * A set-returning function may be a grouping key (stream.hop: a row in
	 * every window that holds it), evaluated before the aggregation; over
	 * the groups' results it has no place.
	 */
	if (expression_returns_set((Node *) shape->outputs) ||
		expression_returns_set((Node *) shape->sort_exprs))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a set-returning function in the select list is not supported in a streaming aggregation"),
				 errhint("A set-returning function can be a grouping expression, as stream.hop is.")));
	if (query->limitOption == LIMIT_OPTION_WITH_TIES)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("FETCH ... WITH TIES is not supported in a streaming aggregation"),
				 errhint("Use LIMIT.")));
	shape->limit_count = eval_const_expressions(NULL, query->limitCount);
	shape->limit_offset = eval_const_expressions(NULL, query->limitOffset);
	if ((shape->limit_count && !IsA(shape->limit_count, Const)) ||
		(shape->limit_offset && !IsA(shape->limit_offset, Const)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a LIMIT or OFFSET that is not a constant is not supported in a streaming aggregation")));
	return true;
}

/*
 * What the state is made of, as text: the keys' types and collations, the
 * aggregates and their state and result types.  A batch whose query now
 * analyzes to another shape must not run against states of the old one.
 */
char *
pgs_agg_shape_signature(const PgsAggShape *shape)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		appendStringInfo(&buf, "k%u/%u;", getBaseType(k->type), k->collation);
	}
	if (shape->session_call)
		appendStringInfoString(&buf, "session;");
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		appendStringInfo(&buf, "a%u/%u/%u/%u/%u;", c->aggref->aggfnoid,
						 c->transtype, c->state_type, c->aggref->inputcollid,
						 getBaseType(c->aggref->aggtype));
	}
	return buf.data;
}

/*
 * What an expression of a query stands for, followed down to where it is
 * computed: a column of a subquery, a CTE, a join or a function in FROM is
 * replaced by the expression that gives it, level after level.  So a window
 * written in FROM (FROM s, stream.tumble(s.ts, '10 minutes') AS w(ws)), in
 * a subquery or in a CTE is found as it is in the select list, and the
 * event-time column behind a subquery's alias is the column itself.
 * "levels" is the query the expression belongs to, then the queries around
 * it; the result's Vars belong to the first of *result_levels.  *through
 * tells whether anything was followed.
 */
static Node *
as_resolve(Node *node, List *levels, List **result_levels, bool *through)
{
	for (;;)
	{
		Var		   *var;
		Query	   *q;
		RangeTblEntry *rte;

		*result_levels = levels;
		if (node == NULL || !IsA(node, Var))
			return node;
		var = (Var *) node;
		if (var->varlevelsup >= list_length(levels))
			return node;
		levels = list_copy_tail(levels, var->varlevelsup);
		q = linitial(levels);
		if (var->varno < 1 || var->varno > list_length(q->rtable) ||
			var->varattno <= 0)
		{
			*result_levels = levels;
			return node;
		}
		rte = rt_fetch(var->varno, q->rtable);
		/* a set operation's column is each arm's, not its first arm's */
		if (rte->rtekind == RTE_SUBQUERY &&
			rte->subquery->setOperations == NULL &&
			var->varattno <= list_length(rte->subquery->targetList))
		{
			node = (Node *) list_nth_node(TargetEntry, rte->subquery->targetList,
										  var->varattno - 1)->expr;
			levels = lcons(rte->subquery, levels);
		}
		else if (rte->rtekind == RTE_CTE && !rte->self_reference &&
				 rte->ctelevelsup < list_length(levels))
		{
			Query	   *owner = list_nth(levels, rte->ctelevelsup);
			Query	   *cteq = NULL;
			ListCell   *lc;

			foreach(lc, owner->cteList)
			{
				CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

				if (strcmp(cte->ctename, rte->ctename) == 0)
					cteq = castNode(Query, cte->ctequery);
			}
			if (cteq == NULL || cteq->commandType != CMD_SELECT ||
				cteq->setOperations != NULL ||
				var->varattno > list_length(cteq->targetList))
			{
				*result_levels = levels;
				return node;
			}
			node = (Node *) list_nth_node(TargetEntry, cteq->targetList,
										  var->varattno - 1)->expr;
			levels = lcons(cteq, list_copy_tail(levels, rte->ctelevelsup));
		}
		else if (rte->rtekind == RTE_JOIN &&
				 var->varattno <= list_length(rte->joinaliasvars))
			node = list_nth(rte->joinaliasvars, var->varattno - 1);
		else if (rte->rtekind == RTE_FUNCTION &&
				 list_length(rte->functions) == 1 && var->varattno == 1 &&
				 !rte->funcordinality)
			node = linitial_node(RangeTblFunction, rte->functions)->funcexpr;
		else
		{
			*result_levels = levels;
			return node;
		}
		*through = true;
	}
}

/* is the expression the stream's event-time column, however it is reached? */
static bool
as_is_event_time(Node *node, List *levels, Oid stream_relid, const char *event_time)
{
	bool		through = false;
	List	   *at;
	Var		   *var;
	Query	   *q;
	RangeTblEntry *rte;

	node = as_resolve(node, levels, &at, &through);
	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	if (var->varlevelsup >= list_length(at) || var->varattno <= 0)
		return false;
	q = list_nth(at, var->varlevelsup);
	if (var->varno < 1 || var->varno > list_length(q->rtable))
		return false;
	rte = rt_fetch(var->varno, q->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relid != stream_relid)
		return false;
	return strcmp(get_attname(stream_relid, var->varattno, false), event_time) == 0;
}

/*
 * Find the grouping key that gives a group its event time: a window of
 * the event-time column (stream.tumble or stream.hop, whose window ends a
 * size after the key), or the column itself, written in the select list or
 * in FROM, directly or through subqueries and CTEs: every spelling the
 * query may use gets the watermark.  A session window is only understood
 * as a grouping expression of its own, so elsewhere it is refused.
 */
void
pgs_agg_find_time_key(PgsAggShape *shape, Query *query, Oid stream_relid,
					  const char *event_time)
{
	Oid			nsp = get_namespace_oid("stream", false);
	List	   *levels = list_make1(query);
	ListCell   *lc;

	shape->time_key = -1;
	foreach(lc, shape->keys)
	{
		bool		through = false;
		List	   *at;
		Node	   *e = as_resolve((Node *) ((PgsAggKey *) lfirst(lc))->expr,
								   levels, &at, &through);

		if (as_is_event_time(e, at, stream_relid, event_time))
		{
			shape->time_key = foreach_current_index(lc);
			shape->time_size = 0;
			return;
		}
		if (IsA(e, FuncExpr))
		{
			FuncExpr   *f = (FuncExpr *) e;
			char	   *name = get_func_name(f->funcid);
			Node	   *size;
			Interval   *iv;

			if (get_func_namespace(f->funcid) != nsp || name == NULL ||
				(strcmp(name, "tumble") != 0 && strcmp(name, "hop") != 0 &&
				 strcmp(name, "session") != 0) ||
				list_length(f->args) < 2 ||
				!as_is_event_time(linitial(f->args), at, stream_relid, event_time))
				continue;
			if (through && strcmp(name, "session") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("a session window written in FROM, a subquery or a CTE is not supported in a streaming aggregation"),
						 errdetail("Sessions are merged per key by the aggregation itself."),
						 errhint("Write stream.session(<event-time column>, gap) in GROUP BY and in the select list.")));
			size = eval_const_expressions(NULL, lsecond(f->args));
			if (!IsA(size, Const) || ((Const *) size)->constisnull)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("a window whose size is not a constant is not supported in a streaming aggregation"),
						 errhint("Give the window's size as a literal, such as '5 minutes'.")));
			iv = DatumGetIntervalP(((Const *) size)->constvalue);
			if (iv->month != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("a window of months is not supported in a streaming aggregation"),
						 errhint("Give the size in days.")));
			if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &shape->time_size) ||
				pg_add_s64_overflow(shape->time_size, iv->time, &shape->time_size) ||
				shape->time_size <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("a window's size must be positive and in range")));
			shape->time_key = foreach_current_index(lc);
			/* a session's end is its last row's time plus the gap */
			shape->session = strcmp(name, "session") == 0;
			return;
		}
	}
}

/*
 * Turn the query's top level into its partial form: the grouping keys,
 * then the partial aggregates, in the state table's order.
 */
void
pgs_agg_partialize(Query *query, const PgsAggShape *shape)
{
	List	   *tlist = NIL;
	ListCell   *lc;
	AttrNumber	resno = 0;

	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, query->targetList);
		TargetEntry *n = flatCopyTargetEntry(tle);

		n->resno = ++resno;
		n->resname = psprintf("key_%d", (int) resno);
		n->resjunk = false;
		n->resorigtbl = InvalidOid;
		n->resorigcol = 0;
		tlist = lappend(tlist, n);
	}
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);
		Aggref	   *a = copyObject(c->aggref);

		a->aggtranstype = c->transtype;
		a->aggsplit = AGGSPLIT_INITIAL_SERIAL;
		a->aggtype = c->state_type;
		a->aggcollid = InvalidOid;
		resno++;
		tlist = lappend(tlist,
						makeTargetEntry((Expr *) a, resno,
										psprintf("agg_%d", foreach_current_index(lc) + 1),
										false));
	}
	query->targetList = tlist;
	query->havingQual = NULL;
	query->sortClause = NIL;
	query->limitCount = NULL;
	query->limitOffset = NULL;
	query->limitOption = LIMIT_OPTION_DEFAULT;
}

/* ---- the planner's part ---- */

/* the split of the partial aggregates in an Agg node's target list, if any */
static AggSplit
as_tlist_split(List *tlist)
{
	ListCell   *lc;

	foreach(lc, tlist)
	{
		Node	   *e = (Node *) lfirst_node(TargetEntry, lc)->expr;

		if (IsA(e, Aggref) && ((Aggref *) e)->aggsplit != AGGSPLIT_SIMPLE)
			return ((Aggref *) e)->aggsplit;
	}
	return AGGSPLIT_SIMPLE;
}

static void
as_fix_plan(Plan *plan)
{
	ListCell   *lc;

	if (plan == NULL)
		return;
	if (IsA(plan, Agg))
	{
		Agg		   *agg = (Agg *) plan;
		AggSplit	split = as_tlist_split(plan->targetlist);

		if (split != AGGSPLIT_SIMPLE)
			agg->aggsplit = split;
	}
	as_fix_plan(plan->lefttree);
	as_fix_plan(plan->righttree);
	if (IsA(plan, Append))
		foreach(lc, ((Append *) plan)->appendplans)
			as_fix_plan(lfirst(lc));
	else if (IsA(plan, MergeAppend))
		foreach(lc, ((MergeAppend *) plan)->mergeplans)
			as_fix_plan(lfirst(lc));
	else if (IsA(plan, SubqueryScan))
		as_fix_plan(((SubqueryScan *) plan)->subplan);
}

/* does a query level hold partial aggregates of ours? */
static bool
as_query_is_partial(Query *parse)
{
	ListCell   *lc;

	if (!parse->hasAggs)
		return false;
	foreach(lc, parse->targetList)
	{
		Node	   *e = (Node *) lfirst_node(TargetEntry, lc)->expr;

		if (IsA(e, Aggref) && ((Aggref *) e)->aggsplit != AGGSPLIT_SIMPLE)
			return true;
	}
	return false;
}

/*
 * From the planner hook, before planning: is this a streaming query's
 * partial aggregation?  Then it is never planned in parallel (it would be
 * split twice), and *cursorOptions says so.
 */
bool
pgs_agg_plan_partial(Query *parse, int *cursorOptions)
{
	if (!as_query_is_partial(parse))
		return false;
	*cursorOptions &= ~CURSOR_OPT_PARALLEL_OK;
	return true;
}

/* from the planner hook, after planning what pgs_agg_plan_partial took */
void
pgs_agg_fix_partial_plan(PlannedStmt *stmt)
{
	as_fix_plan(stmt->planTree);
}

/*
 * An expression over the groups' results as SQL text, its Vars named after
 * the state table's columns with the alias "s", every name outside
 * pg_catalog qualified.
 */
char *
pgs_agg_deparse(Node *expr, Oid state_relid)
{
	int			nest = NewGUCNestLevel();
	char	   *sql;

	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	sql = deparse_expression(expr, deparse_context_for("s", state_relid),
							 true, true);
	AtEOXact_GUC(false, nest);
	return sql;
}
