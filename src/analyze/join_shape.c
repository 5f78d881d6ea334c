/*-------------------------------------------------------------------------
 *
 * join_shape.c
 *	  The shape of a join between two stream reads: its sides, its kind,
 *	  its equi-keys, its time constraint, and how long each side's rows can
 *	  still match (docs/joins/surface.md 2.2-2.8).
 *
 * Everything here reads the query as analyzed at start.  The conditions of
 * the join are taken apart into conjuncts, each folded (so that a constant
 * interval written as an expression is a constant), and each conjunct is
 * either an equality between an expression of each side (a key), a range
 * "a.t + c1 <op> b.t + c2" between a time column of each side, or a filter.
 * A side's rows can be forgotten once no future row of the other side can
 * match them: that is what a key on the event time, or a range read
 * against the other side's watermark, tells, and what every outer and semi
 * join needs for the side it preserves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "analyze/analyze_internal.h"
#include "analyze/pgs_join.h"

/* where each side's Vars are, seen from the level the conditions are read at */
typedef struct JsFrame
{
	Index		levelsup[PGS_MAX_SIDES];
	Index		rtindex[PGS_MAX_SIDES];
} JsFrame;

/* which sides an expression reads, and whether it reads anything else */
typedef struct JsRefs
{
	const JsFrame *frame;
	int			sides;			/* bit i: side i + 1 */
	bool		other;
} JsRefs;

/* a range conjunct, solved as "G.t > L.t + d" (or >=) */
typedef struct JsRange
{
	int			greater;		/* G: the side the range bounds */
	int			lesser;			/* L: the side whose watermark bounds it */
	Var		   *gvar;
	Var		   *lvar;
	int64		d;
	int32		months;			/* and this many months: no fixed length */
	bool		has_months;		/* an interval in the range has months */
	bool		strict;
} JsRange;

/* a side's time expression in a key: the column, or a tumbling window of it */
typedef struct JsKeyTime
{
	Var		   *var;
	List	   *window_args;	/* the window's size and origin; NIL for the column */
	int64		size_usecs;
} JsKeyTime;

static const char *const js_kind_names[] = {
	"", "inner", "left outer", "right outer", "full outer", "left semi"
};

/* how many range table entries of the tree, at any level, name a stream */
static int
js_count_reads(Node *node)
{
	int			count = 0;

	(void) pgs_count_stream_reads(node, &count);
	return count;
}

/* the conjuncts of a condition, ANDs flattened, appended to "acc" */
static List *
js_conjuncts(Node *qual, List *acc)
{
	if (qual == NULL)
		return acc;
	if (is_andclause(qual))
	{
		ListCell   *lc;

		foreach(lc, ((BoolExpr *) qual)->args)
			acc = js_conjuncts(lfirst(lc), acc);
		return acc;
	}
	if (IsA(qual, List))
	{
		ListCell   *lc;

		foreach(lc, (List *) qual)
			acc = js_conjuncts(lfirst(lc), acc);
		return acc;
	}
	return lappend(acc, qual);
}

/* does the subquery's own FROM name a stream table? */
static bool
js_level_reads_stream(Query *q)
{
	ListCell   *lc;

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_RELATION && qa_is_stream(rte->relid))
			return true;
	}
	return false;
}

/*
 * The sublinks of the query's WHERE that are semi joins with a stream:
 * EXISTS or IN (x = ANY) ANDed at the top of the WHERE, whose subquery names
 * a stream table in its FROM.  Whether they are semi joins between streams
 * also depends on the outer query reading a stream, which the callers know.
 */
List *
pgs_join_semi_sublinks(Query *query)
{
	List	   *result = NIL;
	ListCell   *lc;

	if (query->jointree == NULL)
		return NIL;
	foreach(lc, js_conjuncts(query->jointree->quals, NIL))
	{
		Node	   *n = lfirst(lc);
		SubLink    *s;

		if (!IsA(n, SubLink))
			continue;
		s = (SubLink *) n;
		if ((s->subLinkType == EXISTS_SUBLINK || s->subLinkType == ANY_SUBLINK) &&
			IsA(s->subselect, Query) && js_level_reads_stream((Query *) s->subselect))
			result = lappend(result, s);
	}
	return result;
}

/* E9 */
void
pgs_join_refuse_reads(int nreads)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("reading more than two stream tables is not supported in a streaming query"),
			 errdetail("The query reads stream tables in %d places; a join between streams reads two.",
					   nreads),
			 errhint("Write the join of two of them into a stream table with a streaming query, and join that stream with the third.")));
}

static void
js_add_side(PgsJoinSideRef *sides, int *n, RangeTblEntry *rte, int rtindex,
			bool in_sublink)
{
	PgsJoinSideRef *s = &sides[*n];

	s->relid = rte->relid;
	s->name = pstrdup(rte->eref->aliasname);
	s->rtindex = rtindex;
	s->in_sublink = in_sublink;
	(*n)++;
}

/*
 * Side 1 is the first stream read of the top-level range table, side 2 the
 * second, or the stream read in the FROM of a semi join's sublink.  Reads
 * elsewhere (subqueries in FROM, WITH, other sublinks) are no sides: they
 * are counted against the limit of two, and left for the analysis to
 * refuse.
 */
int
pgs_join_find_sides(Query *query, PgsJoinSideRef *sides)
{
	int			total = js_count_reads((Node *) query);
	int			n = 0;
	int			rti = 0;
	ListCell   *lc;

	if (total > PGS_MAX_SIDES)
		pgs_join_refuse_reads(total);
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		rti++;
		if (rte->rtekind == RTE_RELATION && qa_is_stream(rte->relid))
			js_add_side(sides, &n, rte, rti, false);
	}
	if (n == 1)
	{
		foreach(lc, pgs_join_semi_sublinks(query))
		{
			Query	   *sub = castNode(Query, ((SubLink *) lfirst(lc))->subselect);
			ListCell   *lr;

			rti = 0;
			foreach(lr, sub->rtable)
			{
				RangeTblEntry *rte = lfirst_node(RangeTblEntry, lr);

				rti++;
				if (rte->rtekind == RTE_RELATION && qa_is_stream(rte->relid) &&
					n < PGS_MAX_SIDES)
					js_add_side(sides, &n, rte, rti, true);
			}
		}
	}
	return n;
}

/*
 * Two stream reads, not both where a join between streams has its sides:
 * say where the other one is (E10, and what is not built yet).
 */
void
pgs_join_refuse_placement(Query *query)
{
	ListCell   *lc;
	const char *detail = "A join between two streams names both stream tables in FROM, or the second one in the FROM of an EXISTS or IN subquery of the WHERE clause (a semi join).";

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_SUBQUERY || js_count_reads((Node *) rte->subquery) == 0)
			continue;
		if (rte->lateral)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a stream table read in a LATERAL subquery is not supported in a streaming query"),
					 errdetail("%s", detail),
					 errhint("Join the two streams with JOIN ... ON and an equality between them.")));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a join between streams over a subquery in FROM is not supported yet in a streaming query"),
				 errdetail("%s", detail),
				 errhint("Name both stream tables directly in the query's FROM clause, with their conditions in ON or WHERE.")));
	}
	foreach(lc, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (js_count_reads(cte->ctequery) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a join between streams read through WITH is not supported yet in a streaming query"),
					 errdetail("%s", detail),
					 errhint("Name both stream tables directly in the query's FROM clause instead of in WITH queries.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a join between streams with a stream table read below its FROM is not supported yet in a streaming query"),
			 errdetail("%s", detail),
			 errhint("Name both stream tables directly in the query's FROM clause, or the second one directly in the FROM of the EXISTS or IN subquery.")));
}

/* ---- reading the conditions ---- */

static bool
js_refs_walker(Node *node, JsRefs *r)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;
		int			i;

		for (i = 0; i < PGS_MAX_SIDES; i++)
			if (v->varlevelsup == r->frame->levelsup[i] &&
				v->varno == r->frame->rtindex[i])
			{
				r->sides |= 1 << i;
				return false;
			}
		r->other = true;
		return false;
	}
	if (IsA(node, SubLink) || IsA(node, Query) || IsA(node, Aggref) ||
		IsA(node, WindowFunc) || IsA(node, GroupingFunc) ||
		IsA(node, PlaceHolderVar) || IsA(node, Param))
	{
		r->other = true;
		return false;
	}
	return expression_tree_walker(node, js_refs_walker, r);
}

static JsRefs
js_refs(Node *node, const JsFrame *frame)
{
	JsRefs		r = {frame, 0, false};

	(void) js_refs_walker(node, &r);
	return r;
}

/* the one side an expression reads, or -1 */
static int
js_one_side(Node *node, const JsFrame *frame)
{
	JsRefs		r = js_refs(node, frame);

	if (r.other)
		return -1;
	if (r.sides == 1)
		return 0;
	if (r.sides == 2)
		return 1;
	return -1;
}

static bool
js_is_time_type(Oid type)
{
	return type == TIMESTAMPTZOID || type == TIMESTAMPOID;
}

/*
 * "t", "t + c", "t - c", "c + t", nested: a time column of one side plus a
 * constant interval.  Days count as 24 hours; months have no fixed length
 * and are flagged.  False for anything else.
 */
static bool
js_time_term(Node *e, const JsFrame *frame, Var **var, int64 *usecs, int32 *months,
			 bool *any_months)
{
	OpExpr	   *op;
	Oid			fn;
	Node	   *term;
	Node	   *c;
	Interval   *iv;
	int64		add;

	if (IsA(e, Var))
	{
		if (!js_is_time_type(((Var *) e)->vartype) || js_one_side(e, frame) < 0 ||
			((Var *) e)->varattno <= 0)
			return false;
		*var = (Var *) e;
		return true;
	}
	if (!IsA(e, OpExpr) || list_length(((OpExpr *) e)->args) != 2)
		return false;
	op = (OpExpr *) e;
	fn = get_opcode(op->opno);
	if (fn == F_TIMESTAMPTZ_PL_INTERVAL || fn == F_TIMESTAMP_PL_INTERVAL ||
		fn == F_TIMESTAMPTZ_MI_INTERVAL || fn == F_TIMESTAMP_MI_INTERVAL)
	{
		term = linitial(op->args);
		c = lsecond(op->args);
	}
	else if (fn == F_INTERVAL_PL_TIMESTAMPTZ || fn == F_INTERVAL_PL_TIMESTAMP)
	{
		term = lsecond(op->args);
		c = linitial(op->args);
	}
	else
		return false;
	if (!IsA(c, Const) || ((Const *) c)->constisnull ||
		((Const *) c)->consttype != INTERVALOID)
		return false;
	iv = DatumGetIntervalP(((Const *) c)->constvalue);
	if (iv->month != 0)
		*any_months = true;
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &add) ||
		pg_add_s64_overflow(add, iv->time, &add))
		return false;
	if (fn == F_TIMESTAMPTZ_MI_INTERVAL || fn == F_TIMESTAMP_MI_INTERVAL)
	{
		add = -add;
		*months -= iv->month;
	}
	else
		*months += iv->month;
	if (pg_add_s64_overflow(*usecs, add, usecs))
		return false;
	return js_time_term(term, frame, var, usecs, months, any_months);
}

/* the btree strategy of a comparison operator, or 0 */
static int
js_comparison(Oid opno)
{
	ListCell   *lc;

	foreach(lc, get_op_btree_interpretation(opno))
	{
		OpBtreeInterpretation *b = lfirst(lc);

		if (b->strategy == BTLessStrategyNumber ||
			b->strategy == BTLessEqualStrategyNumber ||
			b->strategy == BTGreaterStrategyNumber ||
			b->strategy == BTGreaterEqualStrategyNumber)
			return b->strategy;
	}
	return 0;
}

/* "a.t + c1 <op> b.t + c2" between the two sides, solved as "G.t > L.t + d" */
static bool
js_range(Node *conj, const JsFrame *frame, JsRange *r)
{
	OpExpr	   *op;
	Node	   *a;
	Node	   *b;
	Var		   *va = NULL;
	Var		   *vb = NULL;
	int64		ca = 0;
	int64		cb = 0;
	int32		ma = 0;
	int32		mb = 0;
	bool		any_months = false;
	int			strategy;
	int			sa;
	int			sb;

	if (!IsA(conj, OpExpr) || list_length(((OpExpr *) conj)->args) != 2)
		return false;
	op = (OpExpr *) conj;
	a = linitial(op->args);
	b = lsecond(op->args);
	if (!js_is_time_type(exprType(a)) || exprType(a) != exprType(b))
		return false;
	strategy = js_comparison(op->opno);
	if (strategy == 0)
		return false;
	if (!js_time_term(a, frame, &va, &ca, &ma, &any_months) ||
		!js_time_term(b, frame, &vb, &cb, &mb, &any_months))
		return false;
	sa = js_one_side((Node *) va, frame);
	sb = js_one_side((Node *) vb, frame);
	if (sa < 0 || sb < 0 || sa == sb)
		return false;
	r->has_months = ma != 0 || mb != 0 || any_months;
	r->strict = strategy == BTLessStrategyNumber || strategy == BTGreaterStrategyNumber;
	if (strategy == BTGreaterStrategyNumber || strategy == BTGreaterEqualStrategyNumber)
	{
		/* a.t + ca > b.t + cb: a.t > b.t + (cb - ca) */
		r->greater = sa;
		r->lesser = sb;
		r->gvar = va;
		r->lvar = vb;
		if (pg_sub_s64_overflow(cb, ca, &r->d))
			return false;
		r->months = mb - ma;
	}
	else
	{
		r->greater = sb;
		r->lesser = sa;
		r->gvar = vb;
		r->lvar = va;
		if (pg_sub_s64_overflow(ca, cb, &r->d))
			return false;
		r->months = ma - mb;
	}
	return true;
}

/* an equality between an expression of each side: returns the side of the left argument */
static int
js_equality(Node *conj, const JsFrame *frame)
{
	OpExpr	   *op;
	Oid			ltype;
	int			sl;
	int			sr;

	if (!IsA(conj, OpExpr) || list_length(((OpExpr *) conj)->args) != 2)
		return -1;
	op = (OpExpr *) conj;
	ltype = exprType(linitial(op->args));
	if (!op_mergejoinable(op->opno, ltype) && !op_hashjoinable(op->opno, ltype))
		return -1;
	sl = js_one_side(linitial(op->args), frame);
	sr = js_one_side(lsecond(op->args), frame);
	if (sl < 0 || sr < 0 || sl == sr)
		return -1;
	return sl;
}

/* a side's key as a time: the column itself, or stream.tumble of it */
static bool
js_key_time(Node *e, const JsFrame *frame, JsKeyTime *kt)
{
	memset(kt, 0, sizeof(*kt));
	if (IsA(e, Var))
	{
		if (!js_is_time_type(((Var *) e)->vartype) || ((Var *) e)->varattno <= 0 ||
			js_one_side(e, frame) < 0)
			return false;
		kt->var = (Var *) e;
		return true;
	}
	if (IsA(e, FuncExpr))
	{
		FuncExpr   *f = (FuncExpr *) e;
		char	   *name = get_func_name(f->funcid);
		Oid			nsp = get_namespace_oid("stream", true);
		Node	   *size;
		Interval   *iv;
		ListCell   *lc;

		if (name == NULL || strcmp(name, "tumble") != 0 || !OidIsValid(nsp) ||
			get_func_namespace(f->funcid) != nsp || list_length(f->args) < 2 ||
			!IsA(linitial(f->args), Var))
			return false;
		for_each_from(lc, f->args, 1)
			if (!IsA(lfirst(lc), Const) || ((Const *) lfirst(lc))->constisnull)
				return false;
		size = lsecond(f->args);
		if (((Const *) size)->consttype != INTERVALOID)
			return false;
		iv = DatumGetIntervalP(((Const *) size)->constvalue);
		if (iv->month != 0 ||
			pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &kt->size_usecs) ||
			pg_add_s64_overflow(kt->size_usecs, iv->time, &kt->size_usecs))
			return false;
		if (!js_is_time_type(((Var *) linitial(f->args))->vartype) ||
			((Var *) linitial(f->args))->varattno <= 0 ||
			js_one_side(linitial(f->args), frame) < 0)
			return false;
		kt->var = (Var *) linitial(f->args);
		kt->window_args = list_copy_tail(f->args, 1);
		return true;
	}
	return false;
}

/* is "attno" the column of the side's watermark? */
static bool
js_has_watermark(const PgsQuerySide *sides, const PgsJoinSideRef *refs, int i,
				 AttrNumber attno)
{
	return sides[i].event_time != NULL &&
		get_attnum(refs[i].relid, sides[i].event_time) == attno;
}

/* the lowest JoinExpr whose two arguments hold one stream read each */
static bool
js_jointree_has(Node *jt, Index rtindex)
{
	if (jt == NULL)
		return false;
	if (IsA(jt, RangeTblRef))
		return ((RangeTblRef *) jt)->rtindex == rtindex;
	if (IsA(jt, JoinExpr))
		return js_jointree_has(((JoinExpr *) jt)->larg, rtindex) ||
			js_jointree_has(((JoinExpr *) jt)->rarg, rtindex);
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
			if (js_jointree_has(lfirst(lc), rtindex))
				return true;
	}
	return false;
}

static JoinExpr *
js_find_join(Node *jt, Index r1, Index r2)
{
	if (jt == NULL)
		return NULL;
	if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;
		JoinExpr   *below;

		if ((js_jointree_has(j->larg, r1) && js_jointree_has(j->rarg, r2)) ||
			(js_jointree_has(j->larg, r2) && js_jointree_has(j->rarg, r1)))
			return j;
		below = js_find_join(j->larg, r1, r2);
		return below ? below : js_find_join(j->rarg, r1, r2);
	}
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		foreach(lc, ((FromExpr *) jt)->fromlist)
		{
			JoinExpr   *j = js_find_join(lfirst(lc), r1, r2);

			if (j != NULL)
				return j;
		}
	}
	return NULL;
}

/* the conditions of an inner join: WHERE and the ON of every inner join */
static List *
js_inner_conditions(Node *jt, List *acc)
{
	if (jt == NULL)
		return acc;
	if (IsA(jt, FromExpr))
	{
		ListCell   *lc;

		acc = js_conjuncts(((FromExpr *) jt)->quals, acc);
		foreach(lc, ((FromExpr *) jt)->fromlist)
			acc = js_inner_conditions(lfirst(lc), acc);
	}
	else if (IsA(jt, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) jt;

		if (j->jointype == JOIN_INNER)
			acc = js_conjuncts(j->quals, acc);
		acc = js_inner_conditions(j->larg, acc);
		acc = js_inner_conditions(j->rarg, acc);
	}
	return acc;
}

/* an IN's comparison, read inside its subquery: its Params are the subquery's outputs */
static Node *
js_params_mutator(Node *node, List *tlist)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_SUBLINK)
	{
		TargetEntry *tle = get_tle_by_resno(tlist, ((Param *) node)->paramid);

		if (tle == NULL)
			elog(ERROR, "no output %d in the subquery of a semi join",
				 ((Param *) node)->paramid);
		return copyObject((Node *) tle->expr);
	}
	return expression_tree_mutator(node, js_params_mutator, tlist);
}

/* ---- canonical texts ---- */

static Node *
js_canon_mutator(Node *node, const JsFrame *frame)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;
		int			i;

		for (i = 0; i < PGS_MAX_SIDES; i++)
			if (v->varlevelsup == frame->levelsup[i] && v->varno == frame->rtindex[i])
				return (Node *) makeVar(i + 1, v->varattno, v->vartype, v->vartypmod,
										v->varcollid, 0);
		return node;
	}
	return expression_tree_mutator(node, js_canon_mutator, (void *) frame);
}

/* nodeToString of the expressions, their sides numbered, without positions */
static char *
js_canon_text(List *exprs, const JsFrame *frame)
{
	char	   *text = nodeToString(js_canon_mutator((Node *) exprs, frame));
	StringInfoData buf;
	const char *p = text;
	const char *tag = ":location ";

	initStringInfo(&buf);
	while (*p)
	{
		if (strncmp(p, tag, strlen(tag)) == 0)
		{
			appendStringInfoString(&buf, ":location -1");
			p += strlen(tag);
			if (*p == '-')
				p++;
			while (*p >= '0' && *p <= '9')
				p++;
			continue;
		}
		appendStringInfoChar(&buf, *p++);
	}
	return buf.data;
}

/* ---- messages ---- */

/* a time column of the side to name in a hint, or NULL when it has none */
static const char *
js_time_column_name(const PgsQuerySide *sides, const PgsJoinSideRef *refs, int i,
					AttrNumber range_col)
{
	Relation	rel;
	TupleDesc	desc;
	const char *result = NULL;
	int			a;

	if (sides[i].event_time != NULL)
		return sides[i].event_time;
	if (range_col > 0)
		return get_attname(refs[i].relid, range_col, false);
	rel = relation_open(refs[i].relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && js_is_time_type(att->atttypid))
		{
			result = pstrdup(NameStr(att->attname));
			break;
		}
	}
	relation_close(rel, AccessShareLock);
	return result;
}

/*
 * "x.t BETWEEN y.u AND y.u + interval '1 hour'": x's rows bounded by y's;
 * without a time column on a side, words.
 */
static char *
js_range_example(const PgsQuerySide *sides, const PgsJoinSideRef *refs,
				 const AttrNumber *range_col, int x, int y)
{
	const char *xt = js_time_column_name(sides, refs, x, range_col[x]);
	const char *yt = js_time_column_name(sides, refs, y, range_col[y]);
	const char *xn = quote_identifier(refs[x].name);
	const char *yn = quote_identifier(refs[y].name);

	if (xt == NULL || yt == NULL)
		return psprintf("one that keeps the event time of side \"%s\" within a fixed interval of side \"%s\"'s",
						refs[x].name, refs[y].name);
	xt = quote_identifier(xt);
	yt = quote_identifier(yt);
	return psprintf("%s.%s BETWEEN %s.%s AND %s.%s + interval '1 hour'",
					xn, xt, yn, yt, yn, yt);
}

/* which side's Vars become an index's own (varno 1) */
typedef struct JsIndexSide
{
	const JsFrame *frame;
	int			side;
} JsIndexSide;

/* a side's expression as an index on its stream would hold it */
static Node *
js_as_index_mutator(Node *node, JsIndexSide *is)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;

		if (v->varlevelsup == is->frame->levelsup[is->side] &&
			v->varno == is->frame->rtindex[is->side])
			return (Node *) makeVar(1, v->varattno, v->vartype, v->vartypmod,
									v->varcollid, 0);
		return node;
	}
	return expression_tree_mutator(node, js_as_index_mutator, is);
}

/*
 * Does a valid btree index without predicate on the stream begin with one
 * of the columns, or with one of the expressions (varno 1)?
 */
static bool
js_has_leading_index(Oid relid, List *attnos, List *exprs)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	itup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		HeapTuple	ctup;
		Form_pg_index index;

		if (!HeapTupleIsValid(itup))
			continue;
		index = (Form_pg_index) GETSTRUCT(itup);
		ctup = SearchSysCache1(RELOID, ObjectIdGetDatum(indexoid));
		if (HeapTupleIsValid(ctup))
		{
			if (((Form_pg_class) GETSTRUCT(ctup))->relam == BTREE_AM_OID &&
				index->indisvalid && index->indnatts > 0 &&
				heap_attisnull(itup, Anum_pg_index_indpred, NULL))
			{
				if (index->indkey.values[0] != 0)
					found = list_member_int(attnos, index->indkey.values[0]);
				else if (exprs != NIL)
				{
					Relation	irel = index_open(indexoid, AccessShareLock);
					List	   *iexprs = RelationGetIndexExpressions(irel);

					found = iexprs != NIL && list_member(exprs, linitial(iexprs));
					index_close(irel, AccessShareLock);
				}
			}
			ReleaseSysCache(ctup);
		}
		ReleaseSysCache(itup);
		if (found)
			break;
	}
	list_free(indexes);
	relation_close(rel, AccessShareLock);
	return found;
}

/*
 * The refusal of an outer or semi join that cannot say when a preserved
 * row is unmatched for good (E3..E6, E8): what is missing, and how to add
 * it.  "p" is a side that must be bounded, "n" the side whose watermark
 * would bound it.
 */
static void
js_refuse_unbounded(PgsJoinKind kind, const PgsQuerySide *sides,
					const PgsJoinSideRef *refs, const AttrNumber *range_col,
					const bool *months_blocked, int p, int n)
{
	char	   *detail;

	if (kind == PGS_JOIN_FULL && sides[0].event_time == NULL &&
		sides[1].event_time == NULL)
		detail = psprintf("Neither side \"%s\" nor side \"%s\" has a watermark.",
						  refs[0].name, refs[1].name);
	else if (sides[n].event_time == NULL)
		detail = psprintf("Side \"%s\" has no watermark.", refs[n].name);
	else if (months_blocked[p])
		detail = pstrdup("A range in months has no fixed length.");
	else
		detail = psprintf("No range condition bounds side \"%s\" by side \"%s\"'s event time.",
						  refs[p].name, refs[n].name);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("stream-stream %s join between two streams is not supported without a watermark in the join keys, or a watermark on the nullable side and an appropriate range condition",
					js_kind_names[kind]),
			 errdetail("%s", detail),
			 errhint("Give side \"%s\" a watermark with watermarks => and add a range such as %s.",
					 refs[n].name,
					 js_range_example(sides, refs, range_col, n, p))));
}

/* " - 01:00:00.001", " + 00:05:00", or "" */
static char *
js_offset_text(int64 usecs)
{
	Interval	iv = {0};

	if (usecs == 0)
		return "";
	iv.time = usecs < 0 ? -usecs : usecs;
	return psprintf(" %c %s", usecs < 0 ? '-' : '+',
					DatumGetCString(DirectFunctionCall1(interval_out,
														IntervalPGetDatum(&iv))));
}

/* what a side keeps, for the shape's debug message */
static char *
js_bound_text(const PgsJoinSideRef *refs, const PgsJoinShape *shape, int i)
{
	const PgsJoinBound *b = &shape->bound[i];

	if (!b->bounded)
		return "kept for ever";
	if (b->window_usecs > 0)
	{
		Interval	iv = {0};

		iv.time = b->window_usecs;
		return psprintf("evicted once its window of %s over %s ends at or before W",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(&iv))),
						get_attname(refs[i].relid, b->time_attno, false));
	}
	return psprintf("evicted once %s %s W%s",
					get_attname(refs[i].relid, b->time_attno, false),
					b->strict ? "<=" : "<", js_offset_text(b->offset_usecs));
}

/* ---- the analysis ---- */

void
pgs_join_analyze(Query *query, const char *output_mode, const PgsQuerySide *sides,
				 PgsJoinShape *shape, bool warn, const char *query_name)
{
	PgsJoinSideRef refs[PGS_MAX_SIDES];
	JsFrame		frame;
	List	   *conds = NIL;
	List	   *folded = NIL;
	bool		own_only = false;	/* the condition may read only the sides */
	List	   *keys = NIL;		/* OpExpr, side 1's argument first */
	List	   *key_exprs[PGS_MAX_SIDES] = {NIL, NIL};
	StringInfoData ranges;		/* the range conjuncts, solved for G */
	PgsJoinBound cand[PGS_MAX_SIDES];
	bool		months_blocked[PGS_MAX_SIDES] = {false, false};
	AttrNumber	range_col[PGS_MAX_SIDES] = {InvalidAttrNumber, InvalidAttrNumber};
	bool		key_watermark = false;
	JsKeyTime	key_time[PGS_MAX_SIDES];
	AttrNumber	first_attno[PGS_MAX_SIDES] = {InvalidAttrNumber, InvalidAttrNumber};
	ListCell   *lc;
	int			i;

	if (pgs_join_find_sides(query, refs) != PGS_MAX_SIDES)
		elog(ERROR, "the query has no two stream reads in the places of a join's sides");
	memset(shape, 0, sizeof(*shape));
	memset(cand, 0, sizeof(cand));
	initStringInfo(&ranges);

	/* E1: a joined row is final once written */
	if (strcmp(output_mode, "append") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("join between two streams is not supported in %s output mode, only in append output mode",
						output_mode),
				 errhint("Use output_mode => 'append'.")));

	if (refs[1].in_sublink)
	{
		SubLink    *sublink = NULL;
		Query	   *sub;

		foreach(lc, pgs_join_semi_sublinks(query))
		{
			sublink = (SubLink *) lfirst(lc);
			break;
		}
		Assert(sublink != NULL);
		sublink = (SubLink *) flatten_join_alias_vars(query, (Node *) sublink);
		sub = castNode(Query, sublink->subselect);
		if (list_length(sub->rtable) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a semi join whose subquery reads other tables beside the stream is not supported yet in a streaming query"),
					 errdetail("The subquery of side \"%s\" reads %d tables.",
							   refs[1].name, list_length(sub->rtable)),
					 errhint("Read only the stream in the EXISTS or IN subquery, and join the other tables in the outer query.")));
		shape->kind = PGS_JOIN_SEMI;
		frame.levelsup[0] = 1;
		frame.levelsup[1] = 0;
		frame.rtindex[0] = refs[0].rtindex;
		frame.rtindex[1] = refs[1].rtindex;
		conds = js_conjuncts(sub->jointree->quals, NIL);
		if (sublink->subLinkType == ANY_SUBLINK)
		{
			Node	   *test = copyObject(sublink->testexpr);

			IncrementVarSublevelsUp(test, 1, 0);
			conds = js_conjuncts(js_params_mutator(test, sub->targetList), conds);
		}
		own_only = true;
	}
	else
	{
		JoinExpr   *j = js_find_join((Node *) query->jointree, refs[0].rtindex,
									 refs[1].rtindex);

		frame.levelsup[0] = frame.levelsup[1] = 0;
		frame.rtindex[0] = refs[0].rtindex;
		frame.rtindex[1] = refs[1].rtindex;
		if (j != NULL && j->jointype != JOIN_INNER)
		{
			bool		first_left = js_jointree_has(j->larg, refs[0].rtindex);

			if (j->jointype == JOIN_LEFT)
				shape->kind = first_left ? PGS_JOIN_LEFT : PGS_JOIN_RIGHT;
			else if (j->jointype == JOIN_RIGHT)
				shape->kind = first_left ? PGS_JOIN_RIGHT : PGS_JOIN_LEFT;
			else if (j->jointype == JOIN_FULL)
				shape->kind = PGS_JOIN_FULL;
			else
				elog(ERROR, "unexpected join type %d between two stream reads",
					 (int) j->jointype);
			conds = js_conjuncts(flatten_join_alias_vars(query, j->quals), NIL);
			own_only = true;
		}
		else
		{
			shape->kind = PGS_JOIN_INNER;
			conds = js_inner_conditions((Node *) query->jointree, NIL);
			conds = js_conjuncts(flatten_join_alias_vars(query, (Node *) conds), NIL);
		}
	}
	shape->preserved[0] = shape->kind == PGS_JOIN_LEFT || shape->kind == PGS_JOIN_FULL ||
		shape->kind == PGS_JOIN_SEMI;
	shape->preserved[1] = shape->kind == PGS_JOIN_RIGHT || shape->kind == PGS_JOIN_FULL;

	/* constants folded: an interval written as an expression becomes one */
	foreach(lc, conds)
		folded = js_conjuncts(eval_const_expressions(NULL, lfirst(lc)), folded);

	foreach(lc, folded)
	{
		Node	   *conj = lfirst(lc);
		JsRange		r;
		int			left_side;

		if (own_only && js_refs(conj, &frame).other)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a %s join condition between two streams that reads other tables is not supported yet in a streaming query",
							js_kind_names[shape->kind]),
					 errdetail("The condition of the join between \"%s\" and \"%s\" may read only those two stream reads.",
							   refs[0].name, refs[1].name),
					 errhint("Join the other tables outside the join between the streams, with their conditions in their own ON or in WHERE.")));

		left_side = js_equality(conj, &frame);
		if (left_side >= 0)
		{
			OpExpr	   *op = copyObject((OpExpr *) conj);

			if (left_side == 1 && OidIsValid(get_commutator(op->opno)))
			{
				op->opno = get_commutator(op->opno);
				op->opfuncid = get_opcode(op->opno);
				op->args = list_make2(lsecond(op->args), linitial(op->args));
				left_side = 0;
			}
			keys = lappend(keys, op);
			key_exprs[left_side] = lappend(key_exprs[left_side], linitial(op->args));
			key_exprs[1 - left_side] = lappend(key_exprs[1 - left_side],
											   lsecond(op->args));
			continue;
		}
		if (js_range(conj, &frame, &r))
		{
			PgsJoinBound *c = &cand[r.greater];

			appendStringInfo(&ranges, "%s%d.%d %s %d.%d + " INT64_FORMAT " us + %d months",
							 ranges.len > 0 ? " AND " : "",
							 r.greater + 1, r.gvar->varattno, r.strict ? ">" : ">=",
							 r.lesser + 1, r.lvar->varattno, r.d, r.months);
			if (range_col[r.greater] == InvalidAttrNumber)
				range_col[r.greater] = r.gvar->varattno;
			if (range_col[r.lesser] == InvalidAttrNumber)
				range_col[r.lesser] = r.lvar->varattno;
			if (!js_has_watermark(sides, refs, r.lesser, r.lvar->varattno))
				continue;
			if (r.has_months)
			{
				months_blocked[r.greater] = true;
				continue;
			}
			/* the lowest bound over the side's column wins (Spark's min) */
			if (!c->bounded ||
				(c->time_attno == r.gvar->varattno &&
				 (r.d < c->offset_usecs || (r.d == c->offset_usecs && !r.strict))))
			{
				c->bounded = true;
				c->time_attno = r.gvar->varattno;
				c->time_type = r.gvar->vartype;
				c->offset_usecs = r.d;
				c->strict = r.strict;
			}
		}
	}

	/* E2 */
	if (keys == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stream-stream join without equality predicate is not supported"),
				 errhint("Join on a column of each stream, such as c.ad_id = i.ad_id.")));

	/* a key watermark: equal event times, or equal windows of them */
	{
		ListCell   *l1;
		ListCell   *l2;

		forboth(l1, key_exprs[0], l2, key_exprs[1])
		{
			JsKeyTime	k0;
			JsKeyTime	k1;

			if (!js_key_time(lfirst(l1), &frame, &k0) ||
				!js_key_time(lfirst(l2), &frame, &k1) ||
				k0.size_usecs != k1.size_usecs || !equal(k0.window_args, k1.window_args))
				continue;
			if (!js_has_watermark(sides, refs, 0, k0.var->varattno) &&
				!js_has_watermark(sides, refs, 1, k1.var->varattno))
				continue;
			key_watermark = true;
			key_time[0] = k0;
			key_time[1] = k1;
			break;
		}
	}

	/*
	 * Each side's bound.  A key on the event time evicts a row once its key
	 * time is at or before W: the time itself, or its window's end, which
	 * is at or before W exactly when the time is before the start of the
	 * window that holds W.  Else the lowest range.
	 */
	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		PgsJoinBound *b = &shape->bound[i];

		if (key_watermark && key_time[i].window_args != NIL)
		{
			b->bounded = true;
			b->time_attno = key_time[i].var->varattno;
			b->time_type = key_time[i].var->vartype;
			b->offset_usecs = 0;
			b->strict = false;
			b->window_usecs = key_time[i].size_usecs;
			/* the origin's default is the Unix epoch, for both types */
			b->window_origin = list_length(key_time[i].window_args) > 1 ?
				DatumGetTimestamp(((Const *) lsecond(key_time[i].window_args))->constvalue) :
				(int64) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
		}
		else if (key_watermark)
		{
			b->bounded = true;
			b->time_attno = key_time[i].var->varattno;
			b->time_type = key_time[i].var->vartype;
			b->offset_usecs = 0;
			b->strict = true;
		}
		else
			*b = cand[i];
	}

	/* E3..E6, E8: a preserved side must learn when it is unmatched for good */
	switch (shape->kind)
	{
		case PGS_JOIN_LEFT:
		case PGS_JOIN_SEMI:
			if (!shape->bound[0].bounded)
				js_refuse_unbounded(shape->kind, sides, refs, range_col,
									months_blocked, 0, 1);
			break;
		case PGS_JOIN_RIGHT:
			if (!shape->bound[1].bounded)
				js_refuse_unbounded(shape->kind, sides, refs, range_col,
									months_blocked, 1, 0);
			break;
		case PGS_JOIN_FULL:
			if (!shape->bound[0].bounded && !shape->bound[1].bounded)
			{
				/* name the direction that a watermark could bound */
				if (sides[1].event_time == NULL && sides[0].event_time != NULL)
					js_refuse_unbounded(shape->kind, sides, refs, range_col,
										months_blocked, 1, 0);
				js_refuse_unbounded(shape->kind, sides, refs, range_col,
									months_blocked, 0, 1);
			}
			break;
		default:
			break;
	}

	/*
	 * The join's output watermark, for an operator after it: its rows are
	 * no older than the oldest row a side still keeps; a non-strict bound
	 * keeps the row at the bound, so the output watermark is one
	 * millisecond below it (Spark's, whose times are milliseconds).
	 */
	shape->output_offset_usecs = 0;
	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		const PgsJoinBound *b = &shape->bound[i];
		int64		o;

		if (!b->bounded)
			continue;
		/* a window's rows kept are after W less its size */
		if (b->window_usecs > 0)
			o = -b->window_usecs;
		else
			o = b->strict ? b->offset_usecs : b->offset_usecs - 1000;
		shape->output_offset_usecs = Min(shape->output_offset_usecs, o);
	}
	shape->keys = js_canon_text(keys, &frame);
	shape->range = ranges.len > 0 ? ranges.data : NULL;
	ereport(DEBUG1,
			(errmsg_internal("join between streams: %s; side \"%s\": %s; side \"%s\": %s; output watermark W%s",
							 js_kind_names[shape->kind],
							 refs[0].name, js_bound_text(refs, shape, 0),
							 refs[1].name, js_bound_text(refs, shape, 1),
							 js_offset_text(shape->output_offset_usecs))));
	ereport(DEBUG2,
			(errmsg_internal("join between streams: keys %s; range %s",
							 shape->keys, shape->range ? shape->range : "none")));

	if (!warn)
		return;

	/* surface.md 2.7: state that grows for ever is said aloud */
	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		int			o = 1 - i;
		char	   *detail;

		if (shape->bound[i].bounded)
			continue;
		if (sides[o].event_time == NULL)
			detail = psprintf("No watermark on side \"%s\" bounds how long a row of side \"%s\" can still match.",
							  refs[o].name, refs[i].name);
		else if (months_blocked[i])
			detail = pstrdup("A range in months has no fixed length.");
		else
			detail = psprintf("No range condition bounds side \"%s\" by side \"%s\"'s event time.",
							  refs[i].name, refs[o].name);
		ereport(WARNING,
				(query_name != NULL ?
				 errmsg("join state of side \"%s\" of streaming query \"%s\" grows without bound",
						refs[i].name, query_name) :
				 errmsg("join state of side \"%s\" of the streaming query grows without bound",
						refs[i].name),
				 errdetail("%s", detail),
				 errhint("Give both sides a watermark with watermarks => and bound the join with a time range, such as %s.",
						 js_range_example(sides, refs, range_col, i, o))));
	}

	/* each batch looks up the other side's rows by the join key */
	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		List	   *attnos = NIL;
		List	   *exprs = NIL;
		const char *key_name = NULL;
		AttrNumber	time_col = range_col[i];
		char	   *relname;
		StringInfoData columns;

		foreach(lc, key_exprs[i])
		{
			Node	   *e = lfirst(lc);

			if (IsA(e, RelabelType))
				e = (Node *) ((RelabelType *) e)->arg;
			if (IsA(e, Var) && ((Var *) e)->varattno > 0)
			{
				attnos = lappend_int(attnos, ((Var *) e)->varattno);
				if (key_name == NULL)
					key_name = get_attname(refs[i].relid, ((Var *) e)->varattno, false);
			}
			else
			{
				JsIndexSide is = {&frame, i};

				exprs = lappend(exprs, js_as_index_mutator(lfirst(lc), &is));
			}
		}
		first_attno[i] = attnos != NIL ? linitial_int(attnos) : InvalidAttrNumber;
		if (js_has_leading_index(refs[i].relid, attnos, exprs))
			continue;
		/* a self-join's two sides that need the same index: said once */
		if (i == 1 && refs[1].relid == refs[0].relid &&
			first_attno[1] == first_attno[0] && range_col[1] == range_col[0])
			continue;
		relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(refs[i].relid)),
											 get_rel_name(refs[i].relid));
		if (key_name == NULL)
		{
			ereport(WARNING,
					(errmsg("no index of stream table %s begins with the join key of side \"%s\"",
							relname, refs[i].name),
					 errdetail("Each batch looks up the rows of side \"%s\" that the other side's new rows may match; without a btree index led by the join key it reads the whole stream each time.",
							   refs[i].name),
					 errhint("Create a btree index on %s whose first column is the join key's expression of side \"%s\", written as in the query.",
							 relname, refs[i].name)));
			continue;
		}
		initStringInfo(&columns);
		appendStringInfoString(&columns, quote_identifier(key_name));
		if (time_col != InvalidAttrNumber)
			appendStringInfo(&columns, ", %s",
							 quote_identifier(get_attname(refs[i].relid, time_col, false)));
		ereport(WARNING,
				(errmsg("no index of stream table %s begins with the join key of side \"%s\"",
						relname, refs[i].name),
				 errdetail("Each batch looks up the rows of side \"%s\" that the other side's new rows may match; without a btree index led by the join key it reads the whole stream each time.",
						   refs[i].name),
				 errhint("Create one: CREATE INDEX ON %s (%s);", relname, columns.data)));
	}
}
