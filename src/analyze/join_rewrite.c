/*-------------------------------------------------------------------------
 *
 * join_rewrite.c
 *	  The substitution of a join's two stream reads while one of its batch
 *	  statements is analyzed.
 *
 * A batch of a join between two streams runs the query's text several
 * times, each time with each of the two reads standing for another set of
 * that stream's rows (a role): the batch's new rows, the rows that had
 * arrived by the batch's end or start, the rows at given tids, none.  The
 * statements that write the pairs a batch adds (the deltas) also run an
 * outer join as the one-sided join that preserves the new side, keep its
 * matched pairs only, and record which rows matched, through
 * stream._join_mark() in the join's condition: the condition is evaluated
 * by the join itself, so a row is recorded exactly when the query's ON
 * finds it a match, whatever the query's WHERE does with the pair.
 *
 * The parameters of every join statement are laid out once, here
 * (PGS_JOIN_P_*): a block of the batch predicate's parameters per stream,
 * then the join's own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "analyze/analyze_internal.h"
#include "analyze/pgs_join.h"
#include "analyze/pgs_join_rewrite.h"
#include "common/pgs_common.h"
#include "source/pgs_offsets.h"

Oid			pgs_join_param_types[PGS_JOIN_NPARAMS];

/* the parameter types of every join statement, filled once */
Oid *
pgs_join_params_types(void)
{
	int			i;

	if (pgs_join_param_types[0] != InvalidOid)
		return pgs_join_param_types;
	for (i = 0; i < PGS_BATCH_NPARAMS; i++)
	{
		pgs_join_param_types[i] = pgs_batch_param_types[i];
		pgs_join_param_types[PGS_BATCH_NPARAMS + i] = pgs_batch_param_types[i];
	}
	pgs_join_param_types[PGS_JOIN_P_LO_SNAPSHOT - 1] = PG_SNAPSHOTOID;
	pgs_join_param_types[PGS_JOIN_P_START_SNAPSHOT - 1] = PG_SNAPSHOTOID;
	pgs_join_param_types[PGS_JOIN_P_LATE - 1] = TIMESTAMPTZOID;
	pgs_join_param_types[PGS_JOIN_P_BOUND - 1] = TIMESTAMPTZOID;
	pgs_join_param_types[PGS_JOIN_P_BOUND] = TIMESTAMPTZOID;
	pgs_join_param_types[PGS_JOIN_P_TIDS - 1] = TIDARRAYOID;
	pgs_join_param_types[PGS_JOIN_P_TIDS] = TIDARRAYOID;
	pgs_join_param_types[PGS_JOIN_P_LATE_TIDS - 1] = TIDARRAYOID;
	pgs_join_param_types[PGS_JOIN_P_LATE_TIDS] = TIDARRAYOID;
	return pgs_join_param_types;
}

/*
 * A column of the stream as an event time: a timestamp without time zone
 * counts as UTC.
 */
char *
pgs_join_time_sql(Oid relid, const char *alias, const char *column)
{
	AttrNumber	attno = get_attnum(relid, column);
	char	   *col = psprintf("%s.%s", alias, quote_identifier(column));

	if (attno != InvalidAttrNumber && get_atttype(relid, attno) == TIMESTAMPOID)
		return psprintf("pg_catalog.timezone('UTC', %s)", col);
	return col;
}

/*
 * The select list of a side's subquery: one output column per attribute
 * number, so that the query's Vars keep their meaning, then the row's tid.
 */
static char *
jr_select_list(Oid relid, int *natts)
{
	StringInfoData buf;
	Relation	rel;
	TupleDesc	desc;
	int			i;

	initStringInfo(&buf);
	rel = relation_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			appendStringInfoString(&buf, "NULL::pg_catalog.int4, ");
		else
			appendStringInfo(&buf, "s.%s, ", quote_identifier(NameStr(att->attname)));
	}
	*natts = desc->natts;
	relation_close(rel, NoLock);
	appendStringInfoString(&buf, "s.ctid AS \"?pgs_tid\"");
	return buf.data;
}

/* the text of side "side" (0 or 1) in the given role */
static char *
jr_side_sql(const PgsJoinRewrite *rw, int side, int *natts)
{
	Oid			relid = rw->relid[side];
	char	   *cols = jr_select_list(relid, natts);
	char	   *from = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												  get_rel_name(relid));
	StringInfoData buf;

	initStringInfo(&buf);
	switch (rw->role[side])
	{
		case PGS_SIDE_NEW:
			{
				char	   *rows = pgs_batch_rows_sql_at(relid, cols,
														 side * PGS_BATCH_NPARAMS);

				if (rw->late_column[side] == NULL)
					return rows;
				appendStringInfo(&buf, "SELECT * FROM (%s) AS n WHERE (%s OPERATOR(pg_catalog.>) $%d) IS NOT FALSE",
								 rows, pgs_join_time_sql(relid, "n", rw->late_column[side]),
								 PGS_JOIN_P_LATE);
				return buf.data;
			}
		case PGS_SIDE_LIVE_HI:
		case PGS_SIDE_LIVE_LO:
			appendStringInfo(&buf, "SELECT %s FROM ONLY %s AS s"
							 " WHERE pg_catalog.pg_visible_in_snapshot(s." PGS_XID_COLUMN ", $%d)"
							 " AND ($%d::pg_catalog.pg_snapshot IS NULL"
							 " OR NOT pg_catalog.pg_visible_in_snapshot(s." PGS_XID_COLUMN ", $%d))",
							 cols, from,
							 rw->role[side] == PGS_SIDE_LIVE_HI ? 3 : PGS_JOIN_P_LO_SNAPSHOT,
							 PGS_JOIN_P_START_SNAPSHOT, PGS_JOIN_P_START_SNAPSHOT);
			/*
			 * The rows the watermark has not passed, compared in the
			 * column's own type, so that a probe of an index on (key, time)
			 * reads the key's live rows only, in a generic plan too.
			 */
			if (rw->bound_column[side] != NULL)
			{
				AttrNumber	attno = get_attnum(relid, rw->bound_column[side]);
				char	   *bound = psprintf("COALESCE($%d, '-infinity'::pg_catalog.timestamptz)",
											 PGS_JOIN_P_BOUND + side);

				if (attno != InvalidAttrNumber && get_atttype(relid, attno) == TIMESTAMPOID)
					bound = psprintf("pg_catalog.timezone('UTC', %s)", bound);
				appendStringInfo(&buf, " AND s.%s OPERATOR(pg_catalog.%s) %s",
								 quote_identifier(rw->bound_column[side]),
								 rw->bound_strict[side] ? ">" : ">=", bound);
			}
			if (rw->late_column[side] != NULL)
				appendStringInfo(&buf, " AND s.ctid OPERATOR(pg_catalog.<>) ALL ($%d)",
								 PGS_JOIN_P_LATE_TIDS + side);
			return buf.data;
		case PGS_SIDE_TIDS:
			appendStringInfo(&buf, "SELECT %s FROM ONLY %s AS s"
							 " WHERE s.ctid OPERATOR(pg_catalog.=) ANY ($%d)",
							 cols, from, PGS_JOIN_P_TIDS + side);
			return buf.data;
		case PGS_SIDE_EMPTY:
			appendStringInfo(&buf, "SELECT %s FROM ONLY %s AS s WHERE false", cols, from);
			return buf.data;
	}
	elog(ERROR, "unknown role of a join side");
	return NULL;
}

/* replace a read of the stream by a subquery of the side's rows in its role */
static void
jr_substitute_rte(RangeTblEntry *rte, const PgsJoinRewrite *rw, int side)
{
	int			natts;
	char	   *sql = jr_side_sql(rw, side, &natts);

	/* no barrier: the other side's rows are probed through their index */
	pgs_rte_become_subquery(rte, sql, pgs_join_params_types(), PGS_JOIN_NPARAMS, false);
	/* the tid column, which only the join's own expressions read */
	while (list_length(rte->eref->colnames) < natts)
		rte->eref->colnames = lappend(rte->eref->colnames, makeString(pstrdup("")));
	rte->eref->colnames = lappend(rte->eref->colnames, makeString(pstrdup("?pgs_tid")));
}

/* where the join's two reads are: their query levels and range indexes */
typedef struct JrSides
{
	Query	   *level[PGS_MAX_SIDES];
	int			rti[PGS_MAX_SIDES];
	RangeTblEntry *rte[PGS_MAX_SIDES];
} JrSides;

static bool
jr_find_sublink_side(Node *node, void *arg)
{
	void	  **a = (void **) arg;
	JrSides    *js = (JrSides *) a[0];
	Oid			relid = *(Oid *) a[1];

	if (node == NULL || js->level[1] != NULL)
		return false;
	if (IsA(node, SubLink))
	{
		SubLink    *sl = (SubLink *) node;
		Query	   *sub = (Query *) sl->subselect;
		ListCell   *lc;
		int			rti = 0;

		foreach(lc, sub->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			rti++;
			if (rte->rtekind == RTE_RELATION && rte->relid == relid)
			{
				js->level[1] = sub;
				js->rti[1] = rti;
				js->rte[1] = rte;
				return false;
			}
		}
	}
	return expression_tree_walker(node, jr_find_sublink_side, arg);
}

/*
 * The level of the query that reads side 1 (the first level, from the
 * top, whose range table holds it), and in it, or in a subquery expression
 * of its WHERE (a semi join), side 2.
 */
static bool
jr_find_sides(Node *node, void *arg)
{
	JrSides    *js = (JrSides *) ((void **) arg)[0];
	const PgsJoinRewrite *rw = (const PgsJoinRewrite *) ((void **) arg)[1];

	if (node == NULL || js->level[0] != NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;
		int			rti = 0;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			rti++;
			if (rte->rtekind != RTE_RELATION)
				continue;
			if (js->level[0] == NULL && rte->relid == rw->relid[0])
			{
				js->level[0] = q;
				js->rti[0] = rti;
				js->rte[0] = rte;
			}
			else if (js->level[0] != NULL && js->level[1] == NULL &&
					 rte->relid == rw->relid[1])
			{
				js->level[1] = q;
				js->rti[1] = rti;
				js->rte[1] = rte;
			}
		}
		if (js->level[0] != NULL)
		{
			if (js->level[1] == NULL)
			{
				void	   *a[2] = {js, (void *) &rw->relid[1]};

				(void) jr_find_sublink_side((Node *) q->jointree, a);
			}
			return false;
		}
		return query_tree_walker(q, jr_find_sides, arg, 0);
	}
	return expression_tree_walker(node, jr_find_sides, arg);
}

/* does the join tree node hold the range table index? */
static bool
jr_tree_has(Node *jt, int rti)
{
	if (jt == NULL)
		return false;
	if (IsA(jt, RangeTblRef))
		return ((RangeTblRef *) jt)->rtindex == rti;
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;

		return jr_tree_has(j->larg, rti) || jr_tree_has(j->rarg, rti);
	}
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
			if (jr_tree_has(lfirst(lc), rti))
				return true;
	}
	return false;
}

/* the join that has side 1 under one argument and side 2 under the other */
static JoinExpr *
jr_find_join(Node *jt, int rti1, int rti2)
{
	if (jt == NULL)
		return NULL;
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;
		JoinExpr   *found;

		if ((jr_tree_has(j->larg, rti1) && jr_tree_has(j->rarg, rti2)) ||
			(jr_tree_has(j->larg, rti2) && jr_tree_has(j->rarg, rti1)))
			return j;
		if ((found = jr_find_join(j->larg, rti1, rti2)) != NULL)
			return found;
		return jr_find_join(j->rarg, rti1, rti2);
	}
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
		{
			JoinExpr   *found = jr_find_join(lfirst(lc), rti1, rti2);

			if (found)
				return found;
		}
	}
	return NULL;
}

/* the tid column of a substituted side, as a Var of its level */
static Var *
jr_tid_var(const JrSides *js, int side, int levelsup)
{
	int			natts = list_length(js->rte[side]->subquery->targetList);

	return makeVar(js->rti[side], natts, TIDOID, -1, InvalidOid, levelsup);
}

/* stream._join_mark(side 1's tid, side 2's tid) */
static Expr *
jr_mark_call(Expr *tid1, Expr *tid2)
{
	Oid			argtypes[2] = {TIDOID, TIDOID};
	Oid			fn = LookupFuncName(list_make2(makeString("stream"),
											   makeString("_join_mark")),
									2, argtypes, false);

	return (Expr *) makeFuncExpr(fn, BOOLOID, list_make2(tid1, tid2),
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

static Node *
jr_and(Node *a, Node *b)
{
	if (a == NULL)
		return b;
	return (Node *) make_andclause(list_make2(a, b));
}

/*
 * Substitute the join's reads in the statement being analyzed, and shape
 * the join as the statement's kind asks.  Returns how many reads it
 * substituted (two, or zero when the statement no longer reads them).
 */
int
pgs_join_substitute(Query *query, const PgsJoinRewrite *rw)
{
	JrSides		js = {{0}};
	void	   *arg[2] = {&js, (void *) rw};
	int			side;

	(void) jr_find_sides((Node *) query, arg);
	if (js.level[0] == NULL || js.level[1] == NULL)
		return 0;
	for (side = 0; side < PGS_MAX_SIDES; side++)
		jr_substitute_rte(js.rte[side], rw, side);

	if (!rw->delta || rw->kind == PGS_JOIN_INNER)
		return 2;

	if (rw->kind == PGS_JOIN_SEMI)
	{
		Query	   *level = js.level[0];
		TargetEntry *tle;

		/* a row the semi join writes has found its first match */
		tle = makeTargetEntry(jr_mark_call((Expr *) jr_tid_var(&js, 0, 0),
										   (Expr *) makeNullConst(TIDOID, -1, InvalidOid)),
							  list_length(level->targetList) + 1,
							  pstrdup("?pgs_mark"), false);
		level->targetList = lappend(level->targetList, tle);
		return 2;
	}

	/*
	 * An outer join: run as the one-sided join that preserves the new side,
	 * its unmatched rows dropped above it by a test the planner does not take
	 * for a strict one (which would turn the join into an inner join and mix
	 * its condition with the WHERE clause), and every match recorded by the
	 * last, and costliest, term of its condition.
	 */
	{
		Query	   *level = js.level[0];
		JoinExpr   *j = jr_find_join((Node *) level->jointree, js.rti[0], js.rti[1]);
		int			live = 1 - rw->new_side;
		Node	   *nonnull;
		FuncExpr   *count;
		CaseExpr   *mark = makeNode(CaseExpr);
		CaseWhen   *when = makeNode(CaseWhen);

		if (j == NULL || js.level[1] != level)
			elog(ERROR, "the join between the streams of a streaming query was not found");

		j->jointype = jr_tree_has(j->larg, js.rti[rw->new_side]) ? JOIN_LEFT : JOIN_RIGHT;

		/*
		 * The planner may evaluate the mark apart from the condition's other
		 * terms (in the inner side's scan, as a parameterized filter, before
		 * a term on the outer side alone): it tests the whole condition
		 * itself, so that it records exactly the pairs the join matches.
		 */
		when->expr = (Expr *) copyObject(j->quals);
		when->result = jr_mark_call((Expr *) jr_tid_var(&js, 0, 0),
									(Expr *) jr_tid_var(&js, 1, 0));
		when->location = -1;
		mark->casetype = BOOLOID;
		mark->casecollid = InvalidOid;
		mark->arg = NULL;
		mark->args = list_make1(when);
		mark->defresult = (Expr *) makeBoolConst(false, false);
		mark->location = -1;
		j->quals = jr_and(j->quals, (Node *) mark);
		count = makeFuncExpr(F_NUM_NONNULLS, INT4OID,
							 list_make1(jr_tid_var(&js, live, 0)),
							 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		nonnull = (Node *) make_opclause(Int4EqualOperator, BOOLOID, false,
										 (Expr *) count,
										 (Expr *) makeConst(INT4OID, -1, InvalidOid, sizeof(int32),
															Int32GetDatum(1), false, true),
										 InvalidOid, InvalidOid);
		((OpExpr *) nonnull)->opfuncid = F_INT4EQ;
		if (level->jointree->quals)
			level->jointree->quals = jr_and(level->jointree->quals, nonnull);
		else
			level->jointree->quals = nonnull;
	}
	return 2;
}

/* does the expression read only Vars of range table index rti, at this level? */
static bool
jr_only_side_walker(Node *node, void *arg)
{
	int		   *rti = (int *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;

		return v->varlevelsup != 0 || v->varno != *rti || v->varattno <= 0;
	}
	if (IsA(node, SubLink) || IsA(node, Aggref) || IsA(node, WindowFunc) ||
		IsA(node, PlaceHolderVar) || IsA(node, Param))
		return true;
	return expression_tree_walker(node, jr_only_side_walker, arg);
}

static bool
jr_has_var(Node *node, void *arg)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return true;
	return expression_tree_walker(node, jr_has_var, arg);
}

/*
 * The terms of a condition that read only side "side" (0 or 1), as SQL
 * over that side's stream under the alias "s", or NULL when there are
 * none; "where" takes them from the WHERE clause of the join's level, else
 * from the join's own condition.  A row of a preserved side that fails the
 * join condition's can match no row of the other side, and is written
 * null-extended at once (Spark's filter before the join); one that fails
 * the WHERE clause's is never written, and need not wait.  Deparsed with
 * the current search_path.
 */
char *
pgs_join_side_filter_sql(Query *query, Oid relid1, Oid relid2, int side, bool where)
{
	PgsJoinRewrite rw = {{0}};
	JrSides		js = {{0}};
	void	   *arg[2] = {&js, &rw};
	Node	   *quals;
	List	   *terms = NIL;
	ListCell   *lc;
	Node	   *expr;

	rw.relid[0] = relid1;
	rw.relid[1] = relid2;
	(void) jr_find_sides((Node *) query, arg);
	if (js.level[0] == NULL || js.level[1] == NULL)
		return NULL;
	if (where)
		quals = js.level[0]->jointree->quals;
	else
	{
		JoinExpr   *j;

		if (js.level[1] != js.level[0])
			return NULL;
		j = jr_find_join((Node *) js.level[0]->jointree, js.rti[0], js.rti[1]);
		quals = j ? j->quals : NULL;
	}
	if (quals == NULL || js.rte[side] == NULL || js.level[side] != js.level[0])
		return NULL;
	foreach(lc, make_ands_implicit((Expr *) quals))
	{
		Node	   *term = lfirst(lc);

		if (jr_has_var(term, NULL) && !jr_only_side_walker(term, &js.rti[side]))
			terms = lappend(terms, copyObject(term));
	}
	if (terms == NIL)
		return NULL;
	expr = (Node *) make_ands_explicit(terms);
	ChangeVarNodes(expr, js.rti[side], 1, 0);
	return deparse_expression(expr, deparse_context_for("s", rw.relid[side]),
							  false, false);
}
