/*-------------------------------------------------------------------------
 *
 * query_analyze.c
 *	  Checking a streaming query at start, and making its stream table
 *	  stand for one batch's rows.
 *
 * A query is checked once, when it is started: one stream table, named
 * directly, and only operations whose result over a batch is the batch's
 * share of the result over all rows.  At run time the statement that writes
 * the target is prepared through SPI; while it is analyzed, a
 * post_parse_analyze hook replaces the stream table's range table entry by
 * a subquery that selects only the rows of the batch whose offsets are the
 * statement's parameters.  Because the replacement happens inside analysis,
 * the plan cache redoes it whenever it must re-plan the statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "utils/regproc.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "access/xact.h"
#include "analyze/analyze_internal.h"
#include "analyze/pgs_analyze.h"
#include "analyze/pgs_join.h"
#include "analyze/pgs_join_rewrite.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "source/pgs_offsets.h"

/* what the analysis found; filled by qa_check_query */
typedef struct QaContext
{
	int			nstreams;		/* range table entries naming a stream */
	int			nreads;			/* reads of a stream, a CTE's per reference */
	Oid			stream_relid;
	bool		semi_allowed;	/* the top level reads a stream in its FROM */
	List	   *semi_sublinks;	/* SubLink: the semi joins between streams */
	int			semi_reads;		/* reads of a stream in them */
	bool		in_scalar;		/* checking a scalar subquery's query */
	bool		aggregated_aggregation; /* an aggregation over one in FROM */
} QaContext;

/*
 * One query level being checked, with the levels around it: a CTE reference
 * names its CTE by name and by how many levels up it is defined.
 */
typedef struct QaLevel
{
	Query	   *query;
	int		   *cte_reads;		/* per entry of query->cteList */
	struct QaLevel *parent;
} QaLevel;

/* what the expression walker needs */
typedef struct QaWalk
{
	QaContext  *cx;
	QaLevel    *level;
} QaWalk;

/* the statement whose analysis must substitute the stream, if any */
typedef struct QaRewrite
{
	const char *token;			/* the address of the statement's text */
	Oid			stream_relid;
	Oid			view_relid;		/* the query's view, or InvalidOid */
	int			substituted;	/* range table entries replaced */
	SubTransactionId subid;		/* armed in this subtransaction */
	PgsRewriteFinish finish;	/* the caller's next step with the query, or NULL */
	const void *finish_arg;
	bool		join;			/* a join's statement: join_rewrite.c substitutes */
	PgsJoinRewrite join_rw;
} QaRewrite;

static QaRewrite qa_rewrite;
static QaRewrite *qa_active_rewrite = NULL;

/*
 * Does the relation use the stream_heap access method?
 */
bool
qa_is_stream(Oid relid)
{
	HeapTuple	tup;
	bool		result = false;

	/* looked up each time: the extension may have been created anew */
	Oid			stream_am_oid = get_table_am_oid("stream_heap", false);

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		result = (form->relkind == RELKIND_RELATION &&
				  form->relam == stream_am_oid);
		ReleaseSysCache(tup);
	}
	return result;
}

/* ---- checks at start ---- */

static int	qa_check_query(Query *q, QaContext *cx, bool in_sublink,
						   QaLevel *parent);

/*
 * Walks one level's expressions: subquery expressions must not read the
 * stream, but for the EXISTS or IN of a semi join between two streams,
 * whose query is checked as a level of its own.
 */
static bool
qa_expr_walker(Node *node, void *arg)
{
	QaWalk	   *w = (QaWalk *) arg;

	if (node == NULL)
		return false;
	if (is_notclause(node) && IsA(get_notclausearg(node), SubLink))
	{
		SubLink    *s = (SubLink *) get_notclausearg(node);
		int			reads = 0;

		(void) pgs_count_stream_reads(s->subselect, &reads);
		if ((s->subLinkType == EXISTS_SUBLINK || s->subLinkType == ANY_SUBLINK) &&
			reads > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("left anti join with a stream on the right is not supported"),
					 errdetail("A row of NOT EXISTS or NOT IN over a stream would have to wait for every row the stream will ever have."),
					 errhint("Use a left outer join with a watermark and a time range, and keep the rows whose other side is NULL.")));
	}
	if (IsA(node, SubLink) && list_member_ptr(w->cx->semi_sublinks, node))
	{
		SubLink    *s = (SubLink *) node;

		(void) qa_expr_walker(s->testexpr, arg);
		w->cx->semi_reads += qa_check_query(castNode(Query, s->subselect), w->cx,
											false, w->level);
		return false;
	}
	if (IsA(node, SubLink) && w->level->parent == NULL && w->cx->semi_allowed &&
		(((SubLink *) node)->subLinkType == EXISTS_SUBLINK ||
		 ((SubLink *) node)->subLinkType == ANY_SUBLINK))
	{
		int			reads = 0;

		(void) pgs_count_stream_reads(((SubLink *) node)->subselect, &reads);
		if (reads > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a semi join between streams elsewhere than at the top of the WHERE clause is not supported yet in a streaming query"),
					 errdetail("An EXISTS or IN over a stream is a semi join between two streams when it is a condition ANDed at the top of the query's WHERE clause, and its subquery reads the stream in its own FROM."),
					 errhint("Write the EXISTS or IN as a condition of its own in the WHERE clause, ANDed with the others.")));
	}
	if (IsA(node, SubLink) && ((SubLink *) node)->subLinkType == EXPR_SUBLINK)
	{
		bool		was = w->cx->in_scalar;
		bool		result;

		w->cx->in_scalar = true;
		result = expression_tree_walker(node, qa_expr_walker, arg);
		w->cx->in_scalar = was;
		return result;
	}
	if (IsA(node, Query))
	{
		(void) qa_check_query((Query *) node, w->cx, true, w->level);
		return false;
	}
	return expression_tree_walker(node, qa_expr_walker, arg);
}

/* a stream read in a subquery expression that is no semi join between streams */
static void
qa_refuse_in_sublink(QaContext *cx)
{
	if (cx->in_scalar)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a stream table read in a scalar subquery is not supported in a streaming query"),
				 errdetail("A stream table can appear in FROM clauses, and as the second side of a semi join between streams in EXISTS or IN, only."),
				 errhint("Join the stream with the other tables instead.")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("reading the stream table inside a subquery expression is not supported in a streaming query"),
			 errdetail("A stream table can appear in FROM clauses only, not in IN, EXISTS or scalar subqueries."),
			 errhint("Join the stream with the other tables instead.")));
}

/* how many reads of a stream a CTE reference stands for */
static int
qa_cte_reads(QaLevel *level, RangeTblEntry *rte)
{
	Index		up;
	int			i = 0;
	ListCell   *lc;

	for (up = 0; up < rte->ctelevelsup && level != NULL; up++)
		level = level->parent;
	if (level == NULL || level->cte_reads == NULL)
		return 0;
	foreach(lc, level->query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (strcmp(cte->ctename, rte->ctename) == 0)
			return level->cte_reads[i];
		i++;
	}
	return 0;
}

typedef struct QaSysColContext
{
	Bitmapset  *stream_rtis;
} QaSysColContext;

static bool
qa_syscol_walker(Node *node, void *arg)
{
	QaSysColContext *sc = (QaSysColContext *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varlevelsup == 0 && var->varattno < 0 &&
			bms_is_member(var->varno, sc->stream_rtis))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("reading a system column of the stream table is not supported in a streaming query"),
					 errdetail("System columns such as ctid or xmin identify a row's storage, not its data.")));
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, qa_syscol_walker, arg);
}

/* does the join tree node contain one of the given range table indexes? */
static bool
qa_jointree_has(Node *jt, Bitmapset *rtis)
{
	if (jt == NULL)
		return false;
	if (IsA(jt, RangeTblRef))
		return bms_is_member(((RangeTblRef *) jt)->rtindex, rtis);
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;

		return qa_jointree_has(j->larg, rtis) || qa_jointree_has(j->rarg, rtis);
	}
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
			if (qa_jointree_has(lfirst(lc), rtis))
				return true;
	}
	return false;
}

/* outer joins may not put the stream on the side that is null-extended */
static void
qa_check_joins(Node *jt, Bitmapset *rtis)
{
	if (jt == NULL)
		return;
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;
		bool		left = qa_jointree_has(j->larg, rtis);
		bool		right = qa_jointree_has(j->rarg, rtis);

		/* a join between the two stream reads is the join's own (join_shape.c) */
		if (left && right)
		{
			qa_check_joins(j->larg, rtis);
			qa_check_joins(j->rarg, rtis);
			return;
		}
		if ((j->jointype == JOIN_FULL && (left || right)) ||
			(j->jointype == JOIN_LEFT && right) ||
			(j->jointype == JOIN_RIGHT && left))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("an outer join that null-extends the stream table is not supported in a streaming query"),
					 errdetail("A static row without a match in this batch may find one in a later batch, so the null-extended row could not be taken back."),
					 errhint("Put the stream on the preserved side: stream LEFT JOIN table, or table RIGHT JOIN stream.")));
		qa_check_joins(j->larg, rtis);
		qa_check_joins(j->rarg, rtis);
	}
	else if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
			qa_check_joins(lfirst(lc), rtis);
	}
}

/*
 * Check one query level and everything below it; returns how many times
 * the level reads a stream table.  A CTE is checked where it is defined,
 * and each reference to it counts as many reads as the CTE makes, so that
 * an operation written over a CTE, or a CTE joined with itself, is refused
 * like its plain form.
 */
static int
qa_check_query(Query *q, QaContext *cx, bool in_sublink, QaLevel *parent)
{
	int			reads = 0;
	bool		contains;
	Bitmapset  *stream_rtis = NULL;
	Bitmapset  *direct_rtis = NULL;
	ListCell   *lc;
	int			rti = 0;
	int			i = 0;
	QaLevel		level;
	QaWalk		walk;
	bool		aggregates;

	level.query = q;
	level.parent = parent;
	level.cte_reads = q->cteList ? palloc0(sizeof(int) * list_length(q->cteList)) : NULL;
	foreach(lc, q->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);
		Query	   *ctequery = castNode(Query, cte->ctequery);

		if (ctequery->commandType != CMD_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a data-modifying statement in WITH is not supported in a streaming query"),
					 errdetail("Each batch would run it again."),
					 errhint("Write to other tables from a trigger on the target, or from a procedure run after the batch.")));
		level.cte_reads[i] = qa_check_query(ctequery, cx, in_sublink, &level);
		if (level.cte_reads[i] > 0 && q->hasRecursive)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a recursive query over the stream table is not supported in a streaming query")));
		i++;
	}

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		int			n = 0;

		rti++;
		if (rte->rtekind == RTE_RELATION && qa_is_stream(rte->relid))
		{
			cx->nstreams++;
			cx->stream_relid = rte->relid;
			n = 1;
			direct_rtis = bms_add_member(direct_rtis, rti);
			if (in_sublink)
				qa_refuse_in_sublink(cx);
			if (rte->tablesample)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("TABLESAMPLE on the stream table is not supported in a streaming query")));
		}
		else if (rte->rtekind == RTE_SUBQUERY && rte->subquery)
			n = qa_check_query(rte->subquery, cx, in_sublink, &level);
		else if (rte->rtekind == RTE_CTE)
		{
			n = qa_cte_reads(&level, rte);
			if (n > 0 && in_sublink)
				qa_refuse_in_sublink(cx);
		}
		if (n > 0)
			stream_rtis = bms_add_member(stream_rtis, rti);
		reads += n;
	}

	/*
	 * Expressions of this level: subquery expressions must not read it, but
	 * for the EXISTS or IN ANDed in the WHERE of a query that reads a stream
	 * in its FROM: a semi join between two streams.
	 */
	if (parent == NULL && !in_sublink && direct_rtis != NULL)
	{
		cx->semi_allowed = true;
		cx->semi_sublinks = pgs_join_semi_sublinks(q);
	}
	walk.cx = cx;
	walk.level = &level;
	(void) query_tree_walker(q, qa_expr_walker, &walk,
							 QTW_IGNORE_RT_SUBQUERIES | QTW_IGNORE_CTE_SUBQUERIES);

	contains = reads > 0;
	if (!contains)
		return 0;

	/*
	 * An aggregation over the stream is its query's top level, which a batch
	 * turns into its partial form (agg_shape.c); ORDER BY and LIMIT over it
	 * are the output mode's to allow.
	 */
	aggregates = q->hasAggs || q->groupClause != NIL || q->groupingSets != NIL ||
		q->havingQual != NULL;
	/* an aggregation in FROM of the aggregating top level: a chain (queries.c) */
	if (aggregates && parent != NULL && !in_sublink && parent->parent == NULL &&
		(parent->query->hasAggs || parent->query->groupClause != NIL))
	{
		foreach(lc, parent->query->rtable)
			if (lfirst_node(RangeTblEntry, lc)->subquery == q)
				cx->aggregated_aggregation = true;
		if (cx->aggregated_aggregation)
			return reads;
	}
	if (aggregates && (parent != NULL || in_sublink))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregation over the stream table below the query's top level is not supported in a streaming query"),
				 errdetail("A streaming aggregation keeps the state of each group across batches, and the query's top level is the one whose groups it keeps."),
				 errhint("Write the aggregation as the query's outermost SELECT, with any expressions over the aggregates in its select list.")));
	if (q->hasWindowFuncs)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a window function (OVER) over the stream table is not supported in a streaming query"),
				 errdetail("A window over rows of all batches needs state across batches.")));
	if (q->sortClause != NIL && !aggregates)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ORDER BY over the stream table is not supported in a streaming query"),
				 errdetail("Batches are appended to the target as they arrive; an order over all rows does not exist yet when a batch is written."),
				 errhint("Order the rows when reading the target.")));
	if ((q->limitCount != NULL || q->limitOffset != NULL) && !aggregates)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("LIMIT or OFFSET over the stream table is not supported in a streaming query"),
				 errdetail("A limit over all rows needs state across batches."),
				 errhint("Apply the limit when reading the target.")));
	if (q->distinctClause != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DISTINCT over the stream table is not supported in a streaming query"),
				 errdetail("Removing duplicates over all time needs unbounded state."),
				 errhint("Deduplicate within a watermark (deduplicate => with event_time and watermark), remove duplicates when reading the target, or give the target a unique key.")));
	if (q->setOperations != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("UNION, INTERSECT or EXCEPT with the stream table is not supported in a streaming query"),
				 errhint("Start one streaming query per branch, writing into the same target.")));
	if (q->rowMarks != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("FOR UPDATE or FOR SHARE over the stream table is not supported in a streaming query")));

	qa_check_joins((Node *) q->jointree, stream_rtis);

	if (direct_rtis != NULL)
	{
		QaSysColContext sc = {direct_rtis};

		(void) query_tree_walker(q, qa_syscol_walker, &sc,
								 QTW_IGNORE_RT_SUBQUERIES | QTW_IGNORE_CTE_SUBQUERIES);
	}
	return reads;
}

/* counts stream references in a query tree, at every level */
bool
pgs_count_stream_reads(Node *node, void *arg)
{
	int		   *count = (int *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION && qa_is_stream(rte->relid))
				(*count)++;
		}
		return query_tree_walker(q, pgs_count_stream_reads, arg, 0);
	}
	return expression_tree_walker(node, pgs_count_stream_reads, arg);
}

/* report positions of errors in the user's query against its own text */
static void
qa_error_callback(void *arg)
{
	const char *query = (const char *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(query);
	}
	else
		errcontext("streaming query: %s", query);
}

/*
 * Parse, analyze and check the text of a streaming query as the current
 * user, with the current search_path.  Reports the stream table and the
 * output columns.
 */
void
pgs_analyze_user_query(const char *query_text, PgsAnalyzedQuery *result)
{
	List	   *raw;
	RawStmt    *rawstmt;
	SelectStmt *select;
	Query	   *query;
	List	   *rewritten;
	QaContext	cx = {0};
	int			after_rewrite = 0;
	int			nreads;
	ListCell   *lc;
	ErrorContextCallback cb;

	cb.callback = qa_error_callback;
	cb.arg = (void *) query_text;
	cb.previous = error_context_stack;
	error_context_stack = &cb;

	raw = raw_parser(query_text, RAW_PARSE_DEFAULT);
	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a streaming query must be exactly one SELECT statement"),
				 errdetail("The text holds %d statements.", list_length(raw))));
	rawstmt = linitial_node(RawStmt, raw);
	if (!IsA(rawstmt->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a streaming query must be a SELECT statement"),
				 errhint("Write the SELECT that produces the rows; the target is given by the \"target\" argument.")));
	select = (SelectStmt *) rawstmt->stmt;
	if (select->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a streaming query cannot use SELECT INTO"),
				 errhint("Name the table in the \"target\" argument instead.")));

	query = parse_analyze_fixedparams(rawstmt, query_text, NULL, 0, NULL);
	error_context_stack = cb.previous;

	cx.nreads = qa_check_query(query, &cx, false, NULL);

	rewritten = QueryRewrite(copyObject(query));
	foreach(lc, rewritten)
		(void) pgs_count_stream_reads(lfirst(lc), &after_rewrite);

	if (after_rewrite > cx.nstreams)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("reading a stream table through a view is not supported in a streaming query"),
				 errdetail("A stream table must be named directly in the query so that each batch reads only its own rows."),
				 errhint("Write the view's definition into the query.")));
	if (cx.nstreams == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a streaming query must read a stream table"),
				 errdetail("The query names no table registered with stream.create_stream()."),
				 errhint("Make the source table a stream with stream.create_stream(), or run the query once as an ordinary INSERT ... SELECT.")));
	nreads = Max(cx.nstreams, cx.nreads + cx.semi_reads);
	if (nreads > PGS_MAX_SIDES)
		pgs_join_refuse_reads(nreads);
	memset(result->sides, 0, sizeof(result->sides));
	result->nsides = 0;
	if (nreads == PGS_MAX_SIDES)
	{
		/* a join between two streams, whose shape pgs_join_analyze judges */
		if (pgs_join_find_sides(query, result->sides) != PGS_MAX_SIDES)
			pgs_join_refuse_placement(query);
		result->nsides = PGS_MAX_SIDES;
		cx.stream_relid = result->sides[0].relid;
	}
	else
		(void) pgs_join_find_sides(query, result->sides);
	if (contain_volatile_functions((Node *) query))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a volatile function is not supported in a streaming query"),
				 errdetail("A volatile function such as random() or clock_timestamp() could give a replayed batch a different result."),
				 errhint("Compute such values in a default of the target table instead.")));

	result->stream_relid = cx.stream_relid;
	result->aggregated_aggregation = cx.aggregated_aggregation;
	result->query = query;
	result->sorted = query->sortClause != NIL;
	result->limited = query->limitCount != NULL || query->limitOffset != NULL;
	result->column_names = NIL;
	result->column_types = NIL;
	result->column_typmods = NIL;
	result->column_collations = NIL;
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		ListCell   *lc2;

		if (tle->resjunk)
			continue;
		if (tle->resname == NULL || strcmp(tle->resname, "?column?") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("output column %d of the streaming query has no name",
							tle->resno),
					 errhint("Name every output column with AS; the names are the target's columns.")));
		if (strcmp(tle->resname, PGS_XID_COLUMN) == 0)
			continue;
		foreach(lc2, result->column_names)
			if (strcmp(lfirst(lc2), tle->resname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("output column name \"%s\" appears more than once in the streaming query",
								tle->resname),
						 errhint("Give every output column a distinct name with AS.")));
		result->column_names = lappend(result->column_names, pstrdup(tle->resname));
		result->column_types = lappend_oid(result->column_types,
										   exprType((Node *) tle->expr));
		result->column_typmods = lappend_int(result->column_typmods,
											 exprTypmod((Node *) tle->expr));
		result->column_collations = lappend_oid(result->column_collations,
												exprCollation((Node *) tle->expr));
	}
	if (result->column_names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the streaming query has no output columns")));
}

/* is the string in the list of strings? */
bool
pgs_list_has_str(List *list, const char *str)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp(lfirst(lc), str) == 0)
			return true;
	return false;
}

/* the columns of a list, quoted, each after a prefix, separated by commas */
static void
qa_append_columns(StringInfo buf, List *columns, const char *prefix)
{
	ListCell   *lc;

	foreach(lc, columns)
		appendStringInfo(buf, "%s%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 prefix, quote_identifier(lfirst(lc)));
}

/*
 * The statement that runs one batch: the user's query as a subquery, its
 * columns inserted into the target by name.  With key columns, the target
 * is upserted by them: of the rows a batch has for one key, the one it read
 * last is written (an upsert cannot change one row twice).
 */
char *
pgs_compose_insert(const char *query_text, Oid target_relid, List *target_columns,
				   List *key_columns)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s.%s (",
					 quote_identifier(get_namespace_name(get_rel_namespace(target_relid))),
					 quote_identifier(get_rel_name(target_relid)));
	qa_append_columns(&buf, target_columns, "");
	appendStringInfoString(&buf, ") SELECT ");
	qa_append_columns(&buf, target_columns, "q.");
	if (key_columns == NIL)
	{
		appendStringInfo(&buf, " FROM (\n%s\n) AS q", pgs_trim_query(query_text));
		return buf.data;
	}
	appendStringInfoString(&buf, " FROM (SELECT DISTINCT ON (");
	qa_append_columns(&buf, key_columns, "n.");
	appendStringInfoString(&buf, ") n.* FROM (SELECT r.*, pg_catalog.row_number() OVER ()"
						   " AS \"?pgs_read\" FROM (\n");
	appendStringInfo(&buf, "%s\n) AS r) AS n ORDER BY ", pgs_trim_query(query_text));
	qa_append_columns(&buf, key_columns, "n.");
	appendStringInfoString(&buf, ", n.\"?pgs_read\" DESC) AS q ON CONFLICT (");
	qa_append_columns(&buf, key_columns, "");
	appendStringInfoString(&buf, ") DO ");
	foreach(lc, target_columns)
	{
		if (pgs_list_has_str(key_columns, lfirst(lc)))
			continue;
		appendStringInfo(&buf, "%s%s = excluded.%s", first ? "UPDATE SET " : ", ",
						 quote_identifier(lfirst(lc)), quote_identifier(lfirst(lc)));
		first = false;
	}
	if (first)
		appendStringInfoString(&buf, "NOTHING");
	return buf.data;
}

/* ---- the substitution, during analysis ---- */

/*
 * Make a read of a relation a read of the given subquery (analyzed with
 * the statement's parameters), which stands for the rows of the stream
 * the batch reads.  The table's rights were checked when the query was
 * started and are checked by the subquery's own read of it.
 */
void
pgs_rte_become_subquery(RangeTblEntry *rte, const char *sql, Oid *param_types,
						int nparams, bool security_barrier)
{
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);

	rte->subquery = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql,
											  param_types, nparams, NULL);
	rte->rtekind = RTE_SUBQUERY;
	rte->security_barrier = security_barrier;
	rte->relid = InvalidOid;
	rte->relkind = 0;
	rte->rellockmode = 0;
	rte->tablesample = NULL;
	rte->inh = false;
	rte->requiredPerms = 0;
	rte->checkAsUser = InvalidOid;
	rte->selectedCols = NULL;
	rte->insertedCols = NULL;
	rte->updatedCols = NULL;
	rte->extraUpdatedCols = NULL;
}

static void
qa_substitute_rte(RangeTblEntry *rte)
{
	pgs_rte_become_subquery(rte, pgs_stream_subquery_sql(rte->relid),
							pgs_batch_param_types, PGS_BATCH_NPARAMS, true);
}

static bool
qa_substitute_walker(Node *node, void *arg)
{
	QaRewrite  *rw = (QaRewrite *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		/* below first, so that the new subqueries are not visited */
		(void) query_tree_walker(q, qa_substitute_walker, arg, 0);
		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION && rte->relid == rw->stream_relid)
			{
				qa_substitute_rte(rte);
				rw->substituted++;
			}
		}
		return false;
	}
	return expression_tree_walker(node, qa_substitute_walker, arg);
}

/* ---- what a batch statement calls: what its query's view depends on ---- */

typedef struct QaCalls
{
	List	   *allowed;		/* OIDs of functions the view depends on */
	Oid			catalog_nsp;
	Oid			extension_nsp;
	Oid			refused;
} QaCalls;

static bool
qa_call_checker(Oid funcid, void *arg)
{
	QaCalls    *c = (QaCalls *) arg;
	Oid			nsp;

	if (OidIsValid(c->refused))
		return false;
	nsp = get_func_namespace(funcid);
	if (nsp != c->catalog_nsp && nsp != c->extension_nsp &&
		!list_member_oid(c->allowed, funcid))
		c->refused = funcid;
	return false;
}

static bool
qa_calls_walker(Node *node, void *arg)
{
	if (node == NULL)
		return false;
	(void) check_functions_in_node(node, qa_call_checker, arg);
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, qa_calls_walker, arg, 0);
	return expression_tree_walker(node, qa_calls_walker, arg);
}

/*
 * A batch statement, analyzed again from its text along the query's path,
 * calls only functions and operators that its query's view depends on
 * (those the owner's analysis bound), PostgreSQL's own and the extension's:
 * something created on the path since (an overload a bare name now picks)
 * makes the batch fail rather than run.
 */
static void
qa_check_calls(Query *query, Oid view_relid, Oid stream_relid)
{
	QaCalls		c = {0};
	List	   *refs = pgs_query_view_depends(view_relid);
	ListCell   *lr;

	/* a view without its dependencies (restored) is made again before a batch */
	if (!pgs_query_view_reads(view_relid, stream_relid))
		return;
	foreach(lr, refs)
	{
		ObjectAddress *ref = lfirst(lr);

		if (ref->classId == ProcedureRelationId)
			c.allowed = lappend_oid(c.allowed, ref->objectId);
		else if (ref->classId == OperatorRelationId)
			c.allowed = lappend_oid(c.allowed, get_opcode(ref->objectId));
	}
	c.catalog_nsp = PG_CATALOG_NAMESPACE;
	c.extension_nsp = get_namespace_oid("stream", true);
	if (query->commandType == CMD_INSERT)
	{
		/* the query is the INSERT's source; the target's coercions are not its */
		ListCell   *lc;

		foreach(lc, query->rtable)
			if (lfirst_node(RangeTblEntry, lc)->rtekind == RTE_SUBQUERY)
				(void) qa_calls_walker((Node *) lfirst_node(RangeTblEntry, lc)->subquery, &c);
	}
	else
		(void) qa_calls_walker((Node *) query, &c);
	if (OidIsValid(c.refused))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query's text now calls %s, which it did not call when it was started",
						format_procedure_qualified(c.refused)),
				 errdetail("Something created on the query's search_path since takes the place of what the query called."),
				 errhint("Qualify the names in the query's text with stream.alter_query(), or drop what was created.")));
}

/* from the post_parse_analyze hook, after the hooks installed before ours */
void
pgs_analyze_post_parse(ParseState *pstate, Query *query)
{
	if (qa_active_rewrite != NULL &&
		pstate->p_sourcetext == qa_active_rewrite->token)
	{
		QaRewrite  *rw = qa_active_rewrite;

		/* the subquery's own analysis must not come back here */
		qa_active_rewrite = NULL;
		rw->substituted = 0;
		PG_TRY();
		{
			if (OidIsValid(rw->view_relid))
				qa_check_calls(query, rw->view_relid, rw->stream_relid);
			if (rw->join)
				rw->substituted = pgs_join_substitute(query, &rw->join_rw);
			else
				(void) qa_substitute_walker((Node *) query, rw);
			if (rw->substituted > 0 && rw->finish != NULL)
				rw->finish(query, rw->finish_arg);
		}
		PG_FINALLY();
		{
			qa_active_rewrite = rw;
		}
		PG_END_TRY();

		/*
		 * The statement is analyzed again from its text whenever a table it
		 * reads changed.  Should the text's name for the stream now lead to
		 * another table (the stream renamed or moved, another table put
		 * where the name points), the statement would read that table whole:
		 * it must fail instead.
		 */
		if (rw->substituted == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the text of the streaming query no longer names its stream table \"%s\"",
							get_rel_name(rw->stream_relid) ? get_rel_name(rw->stream_relid) : "(dropped)"),
					 errdetail("The query's text is analyzed again when a table it reads changes, and its name for the stream now leads elsewhere."),
					 errhint("Give the stream table back the name the query uses, or drop the query and start it again.")));
	}
}

/* an aborted (sub)transaction leaves no substitution armed */
void
pgs_analyze_at_xact_end(XactEvent event)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		qa_active_rewrite = NULL;
}

void
pgs_analyze_at_subxact_end(SubXactEvent event, SubTransactionId mySubid)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && qa_active_rewrite != NULL &&
		mySubid == qa_active_rewrite->subid)
		qa_active_rewrite = NULL;
}

/*
 * Between these two calls, analysis of the statement whose source text is
 * at "token" substitutes the stream table.  The token is an address the
 * caller owns (the text it prepares, or the text the plan cache keeps for
 * it), so that no other statement analyzed meanwhile, a trigger's or a SQL
 * function's, can match it however its text reads.  pgs_rewrite_disarm()
 * must be called on every path; an abort disarms too.
 */
void
pgs_rewrite_arm(const char *token, Oid stream_relid, Oid view_relid)
{
	qa_rewrite.token = token;
	qa_rewrite.stream_relid = stream_relid;
	qa_rewrite.view_relid = view_relid;
	qa_rewrite.substituted = 0;
	qa_rewrite.subid = GetCurrentSubTransactionId();
	qa_rewrite.finish = NULL;
	qa_rewrite.finish_arg = NULL;
	qa_rewrite.join = false;
	qa_active_rewrite = &qa_rewrite;
}

/*
 * The same for a statement of a join between two streams: each of its two
 * reads stands for the rows of the role "rw" gives it.
 */
void
pgs_rewrite_arm_join(const char *token, const PgsJoinRewrite *rw, Oid view_relid)
{
	pgs_rewrite_arm(token, rw->relid[0], view_relid);
	qa_rewrite.join = true;
	qa_rewrite.join_rw = *rw;
}

/*
 * The same for a join's statement, and once the reads are substituted,
 * "finish" does the caller's next step (an aggregation over the join turns
 * the statement into its partial form).
 */
void
pgs_rewrite_arm_join_then(const char *token, const PgsJoinRewrite *rw, Oid view_relid,
						  PgsRewriteFinish finish, const void *finish_arg)
{
	pgs_rewrite_arm_join(token, rw, view_relid);
	qa_rewrite.finish = finish;
	qa_rewrite.finish_arg = finish_arg;
}

/*
 * The same, and once the stream is substituted, "finish" does the caller's
 * next step with the analyzed query (an aggregation turns it into its
 * partial form, state/ knowing how), inside the same analysis.
 */
void
pgs_rewrite_arm_then(const char *token, Oid stream_relid, Oid view_relid,
					 PgsRewriteFinish finish, const void *finish_arg)
{
	pgs_rewrite_arm(token, stream_relid, view_relid);
	qa_rewrite.finish = finish;
	qa_rewrite.finish_arg = finish_arg;
}

/* the statement analyzed next is left as written */
void
pgs_rewrite_disarm(void)
{
	qa_active_rewrite = NULL;
}
