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

#include "pg_streaming.h"

/* what the analysis found; filled by qa_check_query */
typedef struct QaContext
{
	int			nstreams;
	Oid			stream_relid;
} QaContext;

/* the statement whose analysis must substitute the stream, if any */
typedef struct QaRewrite
{
	const char *sql;
	Oid			stream_relid;
} QaRewrite;

static QaRewrite *qa_active_rewrite = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static Oid	qa_stream_am_oid = InvalidOid;

static void qa_refuse(const char *what, const char *detail, const char *hint)
			pg_attribute_noreturn();

static void
qa_refuse(const char *what, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s is not supported in a streaming query", what),
			 detail ? errdetail("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/*
 * Does the relation use the stream_heap access method?
 */
static bool
qa_is_stream(Oid relid)
{
	HeapTuple	tup;
	bool		result = false;

	if (!OidIsValid(qa_stream_am_oid))
		qa_stream_am_oid = get_table_am_oid("stream_heap", false);
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		result = (form->relkind == RELKIND_RELATION &&
				  form->relam == qa_stream_am_oid);
		ReleaseSysCache(tup);
	}
	return result;
}

/* ---- checks at start ---- */

typedef struct QaLevelVars
{
	Bitmapset  *stream_rtis;
} QaLevelVars;

static bool qa_check_query(Query *q, QaContext *cx, bool in_sublink);

/* walks one level's expressions: sublinks, and system columns of the stream */
static bool
qa_expr_walker(Node *node, void *arg)
{
	QaContext  *cx = (QaContext *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		(void) qa_check_query((Query *) node, cx, true);
		return false;
	}
	return expression_tree_walker(node, qa_expr_walker, arg);
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
			qa_refuse("reading a system column of the stream table",
					  "System columns such as ctid or xmin identify a row's storage, not its data.",
					  NULL);
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

		if ((j->jointype == JOIN_FULL && (left || right)) ||
			(j->jointype == JOIN_LEFT && right) ||
			(j->jointype == JOIN_RIGHT && left))
			qa_refuse("an outer join that null-extends the stream table",
					  "A static row without a match in this batch may find one in a later batch, so the null-extended row could not be taken back.",
					  "Put the stream on the preserved side: stream LEFT JOIN table, or table RIGHT JOIN stream.");
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
 * Check one query level and everything below it; returns whether the level
 * reads the stream table.
 */
static bool
qa_check_query(Query *q, QaContext *cx, bool in_sublink)
{
	bool		contains = false;
	Bitmapset  *stream_rtis = NULL;
	Bitmapset  *direct_rtis = NULL;
	ListCell   *lc;
	int			rti = 0;

	foreach(lc, q->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (qa_check_query(castNode(Query, cte->ctequery), cx, in_sublink))
		{
			contains = true;
			if (q->hasRecursive)
				qa_refuse("a recursive query over the stream table", NULL, NULL);
		}
	}

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		rti++;
		if (rte->rtekind == RTE_RELATION && qa_is_stream(rte->relid))
		{
			cx->nstreams++;
			cx->stream_relid = rte->relid;
			contains = true;
			stream_rtis = bms_add_member(stream_rtis, rti);
			direct_rtis = bms_add_member(direct_rtis, rti);
			if (in_sublink)
				qa_refuse("reading the stream table inside a subquery expression",
						  "A stream table can appear in FROM clauses only, not in IN, EXISTS or scalar subqueries.",
						  "Join the stream with the other tables instead.");
			if (rte->tablesample)
				qa_refuse("TABLESAMPLE on the stream table", NULL, NULL);
		}
		else if (rte->rtekind == RTE_SUBQUERY && rte->subquery &&
				 qa_check_query(rte->subquery, cx, in_sublink))
		{
			contains = true;
			stream_rtis = bms_add_member(stream_rtis, rti);
		}
		else if (rte->rtekind == RTE_CTE && rte->ctelevelsup == 0)
		{
			/* a CTE that reads the stream counts as reading it */
			ListCell   *lc2;

			foreach(lc2, q->cteList)
			{
				CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc2);
				QaContext	probe = {0};

				if (strcmp(cte->ctename, rte->ctename) != 0)
					continue;
				(void) qa_check_query(castNode(Query, cte->ctequery), &probe, in_sublink);
				if (probe.nstreams > 0)
					stream_rtis = bms_add_member(stream_rtis, rti);
			}
		}
	}

	/* expressions of this level: subquery expressions must not read it */
	(void) query_tree_walker(q, qa_expr_walker, cx,
							 QTW_IGNORE_RT_SUBQUERIES | QTW_IGNORE_CTE_SUBQUERIES);

	if (!contains)
		return false;

	if (q->hasAggs || q->groupClause != NIL || q->groupingSets != NIL ||
		q->havingQual != NULL)
		qa_refuse("aggregation over the stream table",
				  "This version runs non-aggregating streaming queries only: projections, filters and joins with ordinary tables.",
				  "Stream the rows into a target table and aggregate over the target.");
	if (q->hasWindowFuncs)
		qa_refuse("a window function (OVER) over the stream table",
				  "A window over rows of all batches needs state across batches.",
				  NULL);
	if (q->sortClause != NIL)
		qa_refuse("ORDER BY over the stream table",
				  "Batches are appended to the target as they arrive; an order over all rows does not exist yet when a batch is written.",
				  "Order the rows when reading the target.");
	if (q->limitCount != NULL || q->limitOffset != NULL)
		qa_refuse("LIMIT or OFFSET over the stream table",
				  "A limit over all rows needs state across batches.",
				  "Apply the limit when reading the target.");
	if (q->distinctClause != NIL)
		qa_refuse("DISTINCT over the stream table",
				  "Removing duplicates over all time needs unbounded state.",
				  "Remove duplicates when reading the target, or give the target a unique key.");
	if (q->setOperations != NULL)
		qa_refuse("UNION, INTERSECT or EXCEPT with the stream table", NULL,
				  "Start one streaming query per branch, writing into the same target.");
	if (q->rowMarks != NIL)
		qa_refuse("FOR UPDATE or FOR SHARE over the stream table", NULL, NULL);

	qa_check_joins((Node *) q->jointree, stream_rtis);

	if (direct_rtis != NULL)
	{
		QaSysColContext sc = {direct_rtis};

		(void) query_tree_walker(q, qa_syscol_walker, &sc,
								 QTW_IGNORE_RT_SUBQUERIES | QTW_IGNORE_CTE_SUBQUERIES);
	}
	return true;
}

/* counts stream references in a rewritten query tree */
static bool
qa_count_walker(Node *node, void *arg)
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
		return query_tree_walker(q, qa_count_walker, arg, 0);
	}
	return expression_tree_walker(node, qa_count_walker, arg);
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

	(void) qa_check_query(query, &cx, false);

	rewritten = QueryRewrite(copyObject(query));
	foreach(lc, rewritten)
		(void) qa_count_walker(lfirst(lc), &after_rewrite);

	if (after_rewrite > cx.nstreams)
		qa_refuse("reading a stream table through a view",
				  "A stream table must be named directly in the query so that each batch reads only its own rows.",
				  "Write the view's definition into the query.");
	if (cx.nstreams == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a streaming query must read a stream table"),
				 errdetail("The query names no table registered with stream.create_stream()."),
				 errhint("Make the source table a stream with stream.create_stream(), or run the query once as an ordinary INSERT ... SELECT.")));
	if (cx.nstreams > 1)
		qa_refuse("reading more than one stream table, or one twice,",
				  "Joins between streams need state on both sides, which this version does not keep.",
				  "Join the stream with ordinary tables only.");
	if (contain_volatile_functions((Node *) query))
		qa_refuse("a volatile function",
				  "A volatile function such as random() or clock_timestamp() could give a replayed batch a different result.",
				  "Compute such values in a default of the target table instead.");

	result->stream_relid = cx.stream_relid;
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

/* the query text without trailing blanks and semicolons */
static char *
qa_trim_query(const char *text)
{
	char	   *s = pstrdup(text);
	int			len = strlen(s);

	while (len > 0 && (isspace((unsigned char) s[len - 1]) || s[len - 1] == ';'))
		s[--len] = '\0';
	return s;
}

/*
 * The statement that runs one batch: the user's query as a subquery, its
 * columns inserted into the target by name.
 */
char *
pgs_compose_insert(const char *query_text, Oid target_relid, List *target_columns)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s.%s (",
					 quote_identifier(get_namespace_name(get_rel_namespace(target_relid))),
					 quote_identifier(get_rel_name(target_relid)));
	foreach(lc, target_columns)
	{
		appendStringInfo(&buf, "%s%s", first ? "" : ", ",
						 quote_identifier(lfirst(lc)));
		first = false;
	}
	appendStringInfoString(&buf, ") SELECT ");
	first = true;
	foreach(lc, target_columns)
	{
		appendStringInfo(&buf, "%sq.%s", first ? "" : ", ",
						 quote_identifier(lfirst(lc)));
		first = false;
	}
	appendStringInfo(&buf, " FROM (\n%s\n) AS q", qa_trim_query(query_text));
	return buf.data;
}

/*
 * FROM and WHERE clauses that select one batch's rows of the stream, with
 * the parameters filled by pgs_batch_params().  The rows come from the part
 * of the table at or after $7 (a TID range scan), and are those of part (a)
 * or (b) of the batch (see offsets.c).
 */
static void
qa_append_batch_from_where(StringInfo buf, Oid stream_relid)
{
	appendStringInfo(buf, " FROM ONLY %s.%s AS s"
					 " WHERE s.ctid OPERATOR(pg_catalog.>=) $7"
					 " AND stream._batch_member(s." PGS_XID_COLUMN ", $1, $2, $3, $6)",
					 quote_identifier(get_namespace_name(get_rel_namespace(stream_relid))),
					 quote_identifier(get_rel_name(stream_relid)));
}

/*
 * A SELECT of the batch's rows with the given select list, for the planning
 * step (existence and per-transaction counts).
 */
char *
pgs_batch_select_sql(Oid stream_relid, const char *select_list,
					 const char *tail)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s", select_list);
	qa_append_batch_from_where(&buf, stream_relid);
	if (tail)
		appendStringInfo(&buf, " %s", tail);
	return buf.data;
}

/*
 * The subquery that stands for the stream table: one output column per
 * attribute number, so that the outer query's Vars keep their meaning.
 * The batch predicate also counts the batch's rows.
 */
char *
pgs_stream_subquery_sql(Oid stream_relid)
{
	StringInfoData buf;
	Relation	rel;
	TupleDesc	desc;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	rel = relation_open(stream_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		if (att->attisdropped)
			appendStringInfoString(&buf, "NULL::pg_catalog.int4");
		else
			appendStringInfo(&buf, "s.%s", quote_identifier(NameStr(att->attname)));
	}
	relation_close(rel, NoLock);
	qa_append_batch_from_where(&buf, stream_relid);
	return buf.data;
}

/* ---- the substitution, during analysis ---- */

static void
qa_substitute_rte(RangeTblEntry *rte)
{
	char	   *sql = pgs_stream_subquery_sql(rte->relid);
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	Query	   *sub;

	sub = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql,
									pgs_batch_param_types, PGS_BATCH_NPARAMS,
									NULL);
	rte->rtekind = RTE_SUBQUERY;
	rte->subquery = sub;
	rte->security_barrier = true;
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
				qa_substitute_rte(rte);
		}
		return false;
	}
	return expression_tree_walker(node, qa_substitute_walker, arg);
}

static void
qa_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);

	if (qa_active_rewrite != NULL && pstate->p_sourcetext != NULL &&
		strcmp(pstate->p_sourcetext, qa_active_rewrite->sql) == 0)
	{
		QaRewrite  *rw = qa_active_rewrite;

		/* the subquery's own analysis must not come back here */
		qa_active_rewrite = NULL;
		PG_TRY();
		{
			(void) qa_substitute_walker((Node *) query, rw);
		}
		PG_FINALLY();
		{
			qa_active_rewrite = rw;
		}
		PG_END_TRY();
	}
}

/*
 * Between these two calls, analysis of the statement "sql" substitutes the
 * stream table.  pgs_rewrite_end() must be called on every path; errors
 * reset the state too (see pgs_rewrite_reset in batch.c's callers).
 */
void
pgs_rewrite_begin(const char *sql, Oid stream_relid)
{
	static QaRewrite rw;

	rw.sql = sql;
	rw.stream_relid = stream_relid;
	qa_active_rewrite = &rw;
}

void
pgs_rewrite_end(void)
{
	qa_active_rewrite = NULL;
}

void
pgs_install_hooks(void)
{
	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = qa_post_parse_analyze;
}
