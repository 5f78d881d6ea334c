/*-------------------------------------------------------------------------
 *
 * agg_chain.c
 *	  A windowed aggregation over a windowed aggregation (surface.md 2.9,
 *	  item 3): the query's text aggregates, in FROM, a subquery that
 *	  aggregates the stream.
 *
 * The lower aggregation keeps its groups in stream_state."<query>_lower",
 * a part of the query's state table, which is the upper aggregation's.  In
 * append mode a lower window's row exists once, in the batch in which the
 * watermark passes the window's end; those rows are the upper
 * aggregation's input in the same batch, read from an ephemeral named
 * relation that stands for the subquery.  The upper groups by a window of
 * the lower window's start, so its windows must be whole multiples of the
 * lower's, of the same origin: a lower window then lies in every upper
 * window that holds its start, and the watermark that closes the lower
 * window's last part of an upper window closes that upper window too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog/pgs_query.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"
#include "state/agg_internal.h"
#include "state/pgs_agg.h"

#define AGG_LOWER_SUFFIX	"_lower"

/* does the query (one level) aggregate? */
static bool
ac_aggregates(const Query *q)
{
	return q->hasAggs || q->groupClause != NIL || q->groupingSets != NIL ||
		q->havingQual != NULL;
}

/* does the tree read the relation, at any level? */
static bool
ac_reads_walker(Node *node, void *arg)
{
	Oid			relid = *(Oid *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		return rte->rtekind == RTE_RELATION && rte->relid == relid;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, ac_reads_walker, arg,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, ac_reads_walker, arg);
}

/*
 * The range table index of the lower aggregation: a subquery in the FROM
 * of the aggregating top level that aggregates and reads the stream; 0
 * when the query is no such chain.
 */
int
pgs_agg_chain_find(Query *query, Oid stream_relid)
{
	ListCell   *lc;

	if (!ac_aggregates(query))
		return 0;
	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind == RTE_SUBQUERY && rte->subquery != NULL &&
			ac_aggregates(rte->subquery) &&
			ac_reads_walker((Node *) rte->subquery, &stream_relid))
			return foreach_current_index(lc) + 1;
	}
	return 0;
}

/* a whole number of microseconds in words: "7 minutes", "1 hour" */
static char *
ac_span(int64 usecs)
{
	static const struct
	{
		int64		unit;
		const char *name;
	}			units[] = {
		{USECS_PER_DAY, "day"},
		{USECS_PER_HOUR, "hour"},
		{USECS_PER_MINUTE, "minute"},
		{USECS_PER_SEC, "second"},
		{1, "microsecond"},
	};

	for (int i = 0; i < lengthof(units); i++)
		if (usecs % units[i].unit == 0)
			return psprintf("%lld %s%s", (long long) (usecs / units[i].unit),
							units[i].name, usecs / units[i].unit == 1 ? "" : "s");
	return psprintf("%lld microseconds", (long long) usecs);
}

/* the time of day (UTC) of a timestamp: "10:56", with seconds when any */
static char *
ac_time_of_day(int64 ts)
{
	int64		t = ts % USECS_PER_DAY;

	if (t < 0)
		t += USECS_PER_DAY;
	if (t % USECS_PER_MINUTE == 0)
		return psprintf("%02d:%02d", (int) (t / USECS_PER_HOUR),
						(int) (t % USECS_PER_HOUR / USECS_PER_MINUTE));
	return psprintf("%02d:%02d:%02d", (int) (t / USECS_PER_HOUR),
					(int) (t % USECS_PER_HOUR / USECS_PER_MINUTE),
					(int) (t % USECS_PER_MINUTE / USECS_PER_SEC));
}

/* a window: its size, slide and origin, in microseconds */
typedef struct AcWindow
{
	int64		size;
	int64		slide;
	int64		origin;
} AcWindow;

/* the constant value of a window's argument in microseconds */
static int64
ac_interval_arg(Node *arg)
{
	Node	   *c = eval_const_expressions(NULL, arg);
	Interval   *iv;

	if (!IsA(c, Const) || ((Const *) c)->constisnull)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a window whose size is not a constant is not supported in a streaming aggregation"),
				 errhint("Give the window's size as a literal, such as '5 minutes'.")));
	iv = DatumGetIntervalP(((Const *) c)->constvalue);
	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a window of months is not supported in a streaming aggregation"),
				 errhint("Give the size in days.")));
	return (int64) iv->day * USECS_PER_DAY + iv->time;
}

/*
 * Read a stream.tumble or stream.hop call: its window, and in *arg its
 * time argument.  False for any other expression.
 */
static bool
ac_window_call(Node *e, AcWindow *w, Node **arg)
{
	FuncExpr   *f;
	char	   *name;
	bool		hop;
	int			nargs;

	while (e != NULL && IsA(e, RelabelType))
		e = (Node *) ((RelabelType *) e)->arg;
	if (e == NULL || !IsA(e, FuncExpr))
		return false;
	f = (FuncExpr *) e;
	name = get_func_name(f->funcid);
	if (name == NULL || get_func_namespace(f->funcid) != get_namespace_oid("stream", false) ||
		(strcmp(name, "tumble") != 0 && strcmp(name, "hop") != 0))
		return false;
	hop = strcmp(name, "hop") == 0;
	nargs = list_length(f->args);
	if (nargs < (hop ? 3 : 2))
		return false;
	*arg = linitial(f->args);
	w->size = ac_interval_arg(lsecond(f->args));
	w->slide = hop ? ac_interval_arg(lthird(f->args)) : w->size;
	if (w->size <= 0 || w->slide <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a window's size must be positive and in range")));
	w->origin = SetEpochTimestamp();
	if (nargs > (hop ? 3 : 2))
	{
		Node	   *c = eval_const_expressions(NULL, list_nth(f->args, hop ? 3 : 2));

		if (!IsA(c, Const) || ((Const *) c)->constisnull)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a window whose origin is not a constant is not supported in a streaming aggregation"),
					 errhint("Give the origin as a literal, or leave it out.")));
		w->origin = DatumGetInt64(((Const *) c)->constvalue);
	}
	return true;
}

/* a Var of the lower aggregation's window column, seen from the top */
static bool
ac_is_lower_window(Node *e, int rti, AttrNumber attno)
{
	while (e != NULL && IsA(e, RelabelType))
		e = (Node *) ((RelabelType *) e)->arg;
	return e != NULL && IsA(e, Var) && ((Var *) e)->varno == rti &&
		((Var *) e)->varlevelsup == 0 && ((Var *) e)->varattno == attno;
}

static int64
ac_mod(int64 a, int64 b)
{
	int64		m = a % b;

	return m < 0 ? m + b : m;
}

/*
 * E24: every lower window must lie in the upper windows that hold its
 * start.  With lower windows that tile time (a tumble, or a hop whose
 * slide is its size), that is the upper size and slide being multiples of
 * the lower size, from an origin on the lower grid.  The DETAIL shows the
 * first lower window that breaks the rule.
 */
static void
ac_check_nesting(const AcWindow *lower, const AcWindow *upper)
{
	int64		example = 0;
	int64		example_upper = 0;
	bool		found = false;
	const char *noun;

	if (lower->size == lower->slide &&
		upper->size % lower->size == 0 && upper->slide % lower->size == 0 &&
		ac_mod(upper->origin - lower->origin, lower->size) == 0)
		return;
	/* the first lower window from the lower origin that crosses an upper end */
	for (int64 k = 0; k < 1000000 && !found; k++)
	{
		int64		s = lower->origin + k * lower->slide;
		int64		u = s - ac_mod(s - upper->origin, upper->slide);

		for (; u + upper->size > s && !found; u -= upper->slide)
			if (s + lower->size > u + upper->size)
			{
				example = s;
				example_upper = u;
				found = true;
			}
	}
	noun = upper->size == USECS_PER_HOUR ? "hour" :
		upper->size == USECS_PER_DAY ? "day" :
		upper->size == USECS_PER_MINUTE ? "minute" :
		psprintf("window of %s", ac_span(upper->size));
	if (found && upper->slide != upper->size)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a window over a streaming aggregation's windows must be a multiple of them"),
				 errdetail("A window of %s starting at %s ends after the window of %s starting at %s that holds its start: its row would come after that window had closed.",
						   ac_span(lower->size), ac_time_of_day(example),
						   ac_span(upper->size), ac_time_of_day(example_upper)),
				 errhint("Make the outer window's size and slide whole multiples of the inner window's size (%s), with the same origin.",
						 ac_span(lower->size))));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a window over a streaming aggregation's windows must be a multiple of them"),
			 found ?
			 errdetail("A window of %s starting at %s ends in the next %s: its row would come after that %s had closed.",
					   ac_span(lower->size), ac_time_of_day(example), noun,
					   upper->size == USECS_PER_HOUR || upper->size == USECS_PER_DAY ||
					   upper->size == USECS_PER_MINUTE ? noun : "window") :
			 errdetail("The windows of %s every %s overlap: a window's row would come after an outer window that holds its start had closed.",
					   ac_span(lower->size), ac_span(lower->slide)),
			 errhint("Make the outer window's size and slide whole multiples of the inner window's size (%s), with the same origin.",
					 ac_span(lower->size))));
}

/* the shape of a chain no version builds yet (E22) */
static void
ac_refuse(const char *shape, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s is not supported yet in a streaming query", shape),
			 errdetail("Spark allows it; pg_streaming does not build it in this version."),
			 errhint("%s", hint)));
}

/*
 * Describe the two aggregations of a chain: "upper" is the top level's
 * shape as pgs_agg_describe() made it; its time key is set here to the
 * grouping key that is a window of the lower window's start (or that
 * start itself), or -1.  "lower" gets the subquery's shape and time key.
 * With "check", refuse what the chain cannot serve (E22, E24); without, a
 * batch's analysis only reads what start_query accepted.
 */
void
pgs_agg_chain_describe(Query *query, int rti, Oid stream_relid,
					   const char *event_time, PgsAggShape *lower,
					   PgsAggShape *upper, bool check)
{
	RangeTblEntry *rte = rt_fetch(rti, query->rtable);
	Query	   *sub = rte->subquery;
	AcWindow	lw;
	Node	   *arg;
	AttrNumber	attno;
	ListCell   *lc;

	if (check)
	{
		if (rte->lateral)
			ac_refuse("a LATERAL streaming aggregation",
					  "Write the streaming aggregation as a plain subquery in FROM.");
		if (sub->sortClause != NIL || sub->limitCount != NULL || sub->limitOffset != NULL)
			ac_refuse("ORDER BY or LIMIT in the streaming aggregation below another",
					  "Drop ORDER BY and LIMIT from the subquery.");
		if (sub->hasWindowFuncs)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a window function (OVER) over the stream table is not supported in a streaming query"),
					 errdetail("A window over rows of all batches needs state across batches.")));
		if (sub->cteList != NIL || query->cteList != NIL)
			ac_refuse("a WITH clause in an aggregation over a streaming aggregation",
					  "Write the subqueries in FROM.");
		rte->subquery = NULL;
		if (ac_reads_walker((Node *) query, &stream_relid))
		{
			rte->subquery = sub;
			ac_refuse("reading the stream outside the streaming aggregation below another",
					  "Read the stream table in the subquery only.");
		}
		rte->subquery = sub;
		foreach(lc, sub->targetList)
			if (!lfirst_node(TargetEntry, lc)->resjunk &&
				lfirst_node(TargetEntry, lc)->resname != NULL &&
				strcmp(lfirst_node(TargetEntry, lc)->resname, PGS_XID_COLUMN) == 0)
				ac_refuse("an output column named " PGS_XID_COLUMN " in the streaming aggregation below another",
						  "Rename the column.");
	}
	if (!pgs_agg_describe(sub, NIL, lower))
		elog(ERROR, "the subquery of the chain does not aggregate");
	if (event_time)
		pgs_agg_find_time_key(lower, sub, stream_relid, event_time);
	upper->time_key = -1;
	upper->time_size = 0;
	if (check && (lower->session_call || upper->session_call))
		ac_refuse("a session window in an aggregation over a streaming aggregation",
				  "Group both aggregations by stream.tumble windows.");
	if (lower->time_key < 0)
		return;

	/* the lower window: a tumble or hop of the event time, or the time itself */
	{
		PgsAggKey  *k = list_nth(lower->keys, lower->time_key);

		attno = k->output + 1;
		if (lower->time_size == 0)
		{
			lw.size = lw.slide = 1;
			lw.origin = 0;
		}
		else if (!ac_window_call((Node *) k->expr, &lw, &arg))
		{
			/* a window written in FROM: its slide and origin are not known here */
			if (check)
				ac_refuse("a window written in FROM of the streaming aggregation below another",
						  "Write stream.tumble(<event-time column>, size) in the subquery's select list and GROUP BY.");
			lw.size = lw.slide = lower->time_size;
			lw.origin = SetEpochTimestamp();
		}
	}

	foreach(lc, upper->keys)
	{
		Node	   *e = (Node *) ((PgsAggKey *) lfirst(lc))->expr;
		AcWindow	uw;

		if (ac_is_lower_window(e, rti, attno))
		{
			upper->time_key = foreach_current_index(lc);
			upper->time_size = lower->time_size;
			return;
		}
		if (ac_window_call(e, &uw, &arg) && ac_is_lower_window(arg, rti, attno))
		{
			if (check)
				ac_check_nesting(&lw, &uw);
			upper->time_key = foreach_current_index(lc);
			upper->time_size = uw.size;
			return;
		}
	}
}

/*
 * For alter_query: does the new text keep the old one's chain?  Both
 * aggregate a streaming aggregation, or neither does; the subqueries group
 * by the same keys with the same aggregates and window.  The old upper
 * shape gets its time key as the batch finds it, for the caller to compare
 * with the new one's.
 */
bool
pgs_agg_chain_same(Query *old, PgsAggShape *old_upper, Query *new,
				   Oid stream_relid, const char *event_time)
{
	int			ro = pgs_agg_chain_find(old, stream_relid);
	int			rn = pgs_agg_chain_find(new, stream_relid);
	PgsAggShape lo;
	PgsAggShape ln;
	PgsAggShape nu;
	ListCell   *a;
	ListCell   *b;

	if ((ro == 0) != (rn == 0))
		return false;
	if (ro == 0)
		return true;
	pgs_agg_chain_describe(old, ro, stream_relid, event_time, &lo, old_upper, false);
	if (!pgs_agg_describe(new, NIL, &nu))
		return false;
	pgs_agg_chain_describe(new, rn, stream_relid, event_time, &ln, &nu, false);
	if (strcmp(pgs_agg_shape_signature(&lo), pgs_agg_shape_signature(&ln)) != 0 ||
		list_length(lo.keys) != list_length(ln.keys) ||
		list_length(lo.calls) != list_length(ln.calls) ||
		lo.time_key != ln.time_key || lo.time_size != ln.time_size)
		return false;
	forboth(a, lo.keys, b, ln.keys)
		if (!equal(((PgsAggKey *) lfirst(a))->expr, ((PgsAggKey *) lfirst(b))->expr))
			return false;
	forboth(a, lo.calls, b, ln.calls)
		if (!equal(((PgsAggCall *) lfirst(a))->aggref, ((PgsAggCall *) lfirst(b))->aggref))
			return false;
	return true;
}

/*
 * Turn the analyzed text into one of its two statements: the lower
 * aggregation alone (the subquery becomes the query), or the upper one,
 * whose subquery becomes the ephemeral named relation of the lower's
 * closed windows (AGG_LOWER_ENR), of the subquery's output columns.
 */
void
pgs_agg_chain_cut(Query *query, int rti, bool lower)
{
	RangeTblEntry *rte;
	Query	   *sub;
	ListCell   *lc;

	if (rti < 1 || rti > list_length(query->rtable))
		elog(ERROR, "the chain's subquery is not in the query");
	rte = rt_fetch(rti, query->rtable);
	if (rte->rtekind != RTE_SUBQUERY || rte->subquery == NULL)
		elog(ERROR, "the chain's subquery is not in the query");
	sub = rte->subquery;
	if (lower)
	{
		int			location = query->stmt_location;
		int			len = query->stmt_len;

		memcpy(query, sub, sizeof(Query));
		query->canSetTag = true;
		query->stmt_location = location;
		query->stmt_len = len;
		return;
	}
	rte->rtekind = RTE_NAMEDTUPLESTORE;
	rte->subquery = NULL;
	rte->security_barrier = false;
	rte->enrname = pstrdup(AGG_LOWER_ENR);
	rte->enrtuples = 100;
	rte->relid = InvalidOid;
	rte->coltypes = rte->coltypmods = rte->colcollations = NIL;
	foreach(lc, sub->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		rte->coltypes = lappend_oid(rte->coltypes, exprType((Node *) tle->expr));
		rte->coltypmods = lappend_int(rte->coltypmods, exprTypmod((Node *) tle->expr));
		rte->colcollations = lappend_oid(rte->colcollations,
										 exprCollation((Node *) tle->expr));
	}
}

/* the rows of AGG_LOWER_ENR: the subquery's output columns */
TupleDesc
pgs_agg_chain_rows_desc(Query *query, int rti)
{
	Query	   *sub = rt_fetch(rti, query->rtable)->subquery;
	int			n = 0;
	TupleDesc	d;
	ListCell   *lc;

	foreach(lc, sub->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			n++;
	d = CreateTemplateTupleDesc(n);
	n = 0;
	foreach(lc, sub->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		n++;
		TupleDescInitEntry(d, n, tle->resname ? tle->resname : psprintf("col_%d", n),
						   exprType((Node *) tle->expr), exprTypmod((Node *) tle->expr), 0);
		TupleDescInitEntryCollation(d, n, exprCollation((Node *) tle->expr));
	}
	return d;
}

/*
 * Create the lower aggregation's state table, of the same form as any
 * aggregation's, a part of the upper's: dropping the query drops both.
 */
Oid
pgs_agg_create_chain_state(const char *query_name, Oid owner,
						   const PgsAggShape *lower, Oid upper_state_relid)
{
	Oid			relid = pgs_agg_create_state(pgs_state_part_name(query_name, AGG_LOWER_SUFFIX),
											 owner, lower);

	pgs_state_part_attach(relid, upper_state_relid);
	return relid;
}

/*
 * The lower aggregation's state table.  A restore (pg_dump keeps tables,
 * not their dependencies on each other) leaves it on its own: it becomes a
 * part of the query's state table again, so that it goes with the query.
 * No other query's table can have that name while the query exists.
 */
Oid
pgs_agg_chain_state(const PgsQuery *q)
{
	Oid			relid = pgs_state_part_lookup(q->name, AGG_LOWER_SUFFIX);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the lower aggregation's state table of streaming query \"%s\" is missing",
						q->name),
				 errdetail("An aggregation over a streaming aggregation keeps the inner aggregation's groups in %s.%s.",
						   PGS_AGG_STATE_SCHEMA,
						   quote_identifier(pgs_state_part_name(q->name, AGG_LOWER_SUFFIX))),
				 errhint("Drop the query and start it again.")));
	pgs_state_part_attach(relid, q->state_relid);
	return relid;
}
