/*-------------------------------------------------------------------------
 *
 * alter.c
 *	  stream.alter_query: a query's trigger, cap, text, watermark delays or
 *	  events changed in place, keeping its checkpoint.
 *
 * A new text is checked as the query's owner, under a security-restricted
 * operation, and must keep the query's stream, target and state: what the
 * state holds is compared with what the current text computes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "analyze/pgs_analyze.h"
#include "analyze/pgs_join.h"
#include "api/pgs_distributed_api.h"
#include "api/pgs_queries.h"
#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "exec/pgs_batch.h"
#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_alter_query);

/* the analysis of a query's current text, as its owner with its search_path */
static void
qa_old_shape_context(void *arg)
{
	errcontext("analyzing the current text of streaming query \"%s\"", (const char *) arg);
}

/*
 * Do two expressions of two queries read the same tables at the range table
 * positions their columns name (equal() compares the positions only)?
 */
static bool
qd_same_tables(Node *ea, Query *a, Node *eb, Query *b)
{
	Bitmapset  *ra = pull_varnos(NULL, ea);
	Bitmapset  *rb = pull_varnos(NULL, eb);
	int			x = -1;

	if (!bms_equal(ra, rb))
		return false;
	while ((x = bms_next_member(ra, x)) >= 0)
	{
		RangeTblEntry *ta;
		RangeTblEntry *tb;

		if (x > list_length(a->rtable) || x > list_length(b->rtable))
			return false;
		ta = rt_fetch(x, a->rtable);
		tb = rt_fetch(x, b->rtable);
		if (ta->rtekind != tb->rtekind || ta->relid != tb->relid)
			return false;
	}
	return true;
}

/* a query's output column of the name, or NULL */
static TargetEntry *
qd_output(Query *query, const char *name)
{
	ListCell   *lc;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && tle->resname && strcmp(tle->resname, name) == 0)
			return tle;
	}
	return NULL;
}

/* is the output column's expression the same in both queries? */
static bool
qd_same_output(Query *a, Query *b, const char *name)
{
	TargetEntry *ta = qd_output(a, name);
	TargetEntry *tb = qd_output(b, name);

	return ta != NULL && tb != NULL && equal(ta->expr, tb->expr) &&
		qd_same_tables((Node *) ta->expr, a, (Node *) tb->expr, b);
}

/*
 * A query with state (an aggregation, a deduplication) keeps its state
 * with its new text only when what the state holds is computed the same
 * way: the same grouping keys and aggregate calls over the same inputs, or
 * the same deduplicated columns.
 */
static void
qd_check_same_state(const PgsQuery *q, const PgsDefinition *d)
{
	ErrorContextCallback cb;
	Query	   *old;
	PgsAggShape old_shape;
	bool		same = true;
	ListCell   *a;
	ListCell   *b;

	cb.callback = qa_old_shape_context;
	cb.arg = q->name;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	old = pgs_query_analyze_as_owner(q->owner, q->query_text, pgs_batch_search_path(q->search_path));
	error_context_stack = cb.previous;

	/* below an aggregation, the deduplicated columns are the stream's */
	if (q->dedup_columns != NIL && !pgs_dedup_chained(q))
	{
		ListCell   *lc;

		foreach(lc, q->dedup_columns)
			same = same && qd_same_output(old, d->aq.query, lfirst(lc));
		same = same && qd_same_output(old, d->aq.query, q->event_time);
	}
	else
	{
		same = pgs_agg_describe(old, q->target_columns, &old_shape);
		if (same && q->event_time)
			pgs_agg_find_time_key(&old_shape, old, q->stream_relid, q->event_time);
		/* over a join: a window of a side's event time, as the batch finds it */
		for (int side = 0; same && side < q->nsides && old_shape.time_key < 0; side++)
			if (q->sides[side].event_time)
				pgs_agg_find_time_key(&old_shape, old, q->sides[side].relid,
									  q->sides[side].event_time);
		/* over a streaming aggregation: the subquery's state is the query's too */
		if (same && q->nsides == 0)
			same = pgs_agg_chain_same(old, &old_shape, d->aq.query, q->stream_relid,
									  q->event_time);
		same = same &&
			strcmp(pgs_agg_shape_signature(&old_shape), pgs_agg_shape_signature(&d->shape)) == 0 &&
			list_length(old_shape.keys) == list_length(d->shape.keys) &&
			list_length(old_shape.calls) == list_length(d->shape.calls) &&
			old_shape.time_key == d->shape.time_key &&
			old_shape.time_size == d->shape.time_size &&
			old_shape.session == d->shape.session;
		if (same)
			forboth(a, old_shape.keys, b, d->shape.keys)
				same = same && equal(((PgsAggKey *) lfirst(a))->expr,
									 ((PgsAggKey *) lfirst(b))->expr) &&
					qd_same_tables((Node *) ((PgsAggKey *) lfirst(a))->expr, old,
								   (Node *) ((PgsAggKey *) lfirst(b))->expr, d->aq.query);
		if (same)
			forboth(a, old_shape.calls, b, d->shape.calls)
				same = same && equal(((PgsAggCall *) lfirst(a))->aggref,
									 ((PgsAggCall *) lfirst(b))->aggref) &&
					qd_same_tables((Node *) ((PgsAggCall *) lfirst(a))->aggref, old,
								   (Node *) ((PgsAggCall *) lfirst(b))->aggref, d->aq.query);
	}
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the new text of streaming query \"%s\" changes its state", q->name),
				 q->dedup_columns != NIL && !pgs_dedup_chained(q) ?
				 errdetail("A deduplicating query's deduplicated columns and event time, and the tables they read in their order, are its state's; filters and other columns may change.") :
				 errdetail("A streaming aggregation's grouping keys and aggregates, and the tables they read in their order, are its state's; only the select list over them, HAVING, filters and ORDER BY/LIMIT may change."),
				 errhint("Start a new query with the new text, with starting_from => 'latest' to leave the rows already processed.")));
}

/*
 * The arguments of stream.alter_query by position.  Every version's install
 * script declares it over the same C symbol, so a call has only the first
 * PG_NARGS() of them until ALTER EXTENSION ... UPDATE:
 *
 *	0.5 to 0.7	4 arguments: name, query, trigger, max_rows_per_batch
 *	0.8			7: and watermark, watermarks, events
 */
#define QD_ALTER_NAME			0
#define QD_ALTER_QUERY			1
#define QD_ALTER_TRIGGER		2
#define QD_ALTER_MAX_ROWS		3
#define QD_ALTER_WATERMARK		4
#define QD_ALTER_WATERMARKS		5
#define QD_ALTER_EVENTS			6

/* the arguments of one call of stream.alter_query: what changes is given */
typedef struct PgsAlterArgs
{
	char	   *name;
	bool		query_given;
	char	   *query_text;
	bool		trigger_given;
	char	   *trigger;		/* as written, checked with the query */
	bool		max_rows_given;
	int32		max_rows;		/* 0 for no cap */
	char	   *search_path;	/* the caller's, with which the text is read */
	bool		watermark_given;	/* a new delay for a query over one stream */
	int64		watermark_usecs;
	char	   *watermark_text; /* the delay as interval_out writes it */
	bool		watermarks_given;	/* new delays for a join's sides */
	List	   *watermarks;		/* char *: the elements as given */
	bool		events_given;
	bool		events;			/* send an event per batch */
} PgsAlterArgs;

/* is the argument in the caller's signature, and not NULL? */
static bool
qd_alter_arg_given(FunctionCallInfo fcinfo, int position)
{
	return PG_NARGS() > position && !PG_ARGISNULL(position);
}

/*
 * Read the arguments of stream.alter_query, the one place that knows their
 * positions: a name, and at least one thing to change.
 */
static void
qd_alter_args_read(FunctionCallInfo fcinfo, PgsAlterArgs *a)
{
	memset(a, 0, sizeof(*a));
	a->search_path = pstrdup(GetConfigOption("search_path", false, false));
	if (PG_ARGISNULL(QD_ALTER_NAME))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query name must not be null")));
	a->name = text_to_cstring(PG_GETARG_TEXT_PP(QD_ALTER_NAME));
	a->query_given = !PG_ARGISNULL(QD_ALTER_QUERY);
	a->trigger_given = !PG_ARGISNULL(QD_ALTER_TRIGGER);
	a->max_rows_given = !PG_ARGISNULL(QD_ALTER_MAX_ROWS);
	a->watermark_given = qd_alter_arg_given(fcinfo, QD_ALTER_WATERMARK);
	a->watermarks_given = qd_alter_arg_given(fcinfo, QD_ALTER_WATERMARKS);
	a->events_given = qd_alter_arg_given(fcinfo, QD_ALTER_EVENTS);
	if (a->watermarks_given)
	{
		Datum	   *elems;
		bool	   *enulls;
		int			n;
		int			i;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(QD_ALTER_WATERMARKS), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &enulls, &n);
		for (i = 0; i < n; i++)
		{
			if (enulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("watermarks must not hold a NULL element")));
			a->watermarks = lappend(a->watermarks, TextDatumGetCString(elems[i]));
		}
		/* an empty array is no argument, as in start_query */
		a->watermarks_given = n > 0;
	}
	if (!a->query_given && !a->trigger_given && !a->max_rows_given &&
		!a->watermark_given && !a->watermarks_given && !a->events_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream.alter_query changes nothing"),
				 errhint("Give the query's new text with query =>, its trigger with trigger =>, its cap with max_rows_per_batch => (0 for none), its watermark delay with watermark => (a join's with watermarks =>), or events => true or false.")));
	if (a->watermark_given && a->watermarks_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("watermark and watermarks are exclusive"),
				 errhint("Give a query over one stream its delay with watermark =>, and a join its sides' delays with watermarks =>.")));
	if (a->watermark_given)
	{
		Datum		watermark = PG_GETARG_DATUM(QD_ALTER_WATERMARK);

		a->watermark_text = DatumGetCString(DirectFunctionCall1(interval_out, watermark));
		a->watermark_usecs = pgs_interval_usecs(watermark, "watermark", a->watermark_text,
												0, PGS_MAX_TRIGGER_USECS);
	}
	if (a->events_given)
		a->events = PG_GETARG_BOOL(QD_ALTER_EVENTS);
	if (a->query_given)
		a->query_text = text_to_cstring(PG_GETARG_TEXT_PP(QD_ALTER_QUERY));
	if (a->trigger_given)
		a->trigger = text_to_cstring(PG_GETARG_TEXT_PP(QD_ALTER_TRIGGER));
	if (a->max_rows_given)
		a->max_rows = PG_GETARG_INT32(QD_ALTER_MAX_ROWS);
}

/*
 * Lock the query's row (waiting for a batch in flight), check the caller's
 * right to change it and the catalog's version, and apply the new trigger
 * and cap to the row read, once checked.  False for a distributed query,
 * whose change pgs_dist_alter checked and recorded instead.
 */
static bool
qd_alter_validate(const PgsAlterArgs *a, PgsQuery *q)
{
	if (!pgs_query_read(a->name, 0, PGS_QUERY_LOCK, q))
	{
		PgsDistAlter da;

		/* a distributed query's definition goes to its shards' nodes */
		memset(&da, 0, sizeof(da));
		da.name = a->name;
		da.query_text = a->query_given ? a->query_text : NULL;
		da.search_path = a->search_path;
		da.trigger = a->trigger_given ? a->trigger : NULL;
		da.max_rows_given = a->max_rows_given;
		da.max_rows = a->max_rows;
		da.watermark = a->watermark_given ? a->watermark_text : NULL;
		da.other_given = a->watermarks_given || a->events_given;
		if (pgs_dist_alter(&da))
			return false;
		pgs_query_report_missing(a->name);
	}
	pgs_query_check_access(q);
	pgs_catalog_require(PGS_CATALOG_0_5, "changes made with stream.alter_query");

	if (a->trigger_given)
		q->trigger = pgs_check_trigger(a->trigger);
	if (a->max_rows_given)
	{
		if (a->max_rows < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_rows_per_batch must be positive, or 0 for none, not %d", a->max_rows)));
		q->max_rows = a->max_rows;
	}
	return true;
}

/* the refusal of a new delay for a query without an event time */
static void qd_alter_no_event_time(const PgsQuery *q) pg_attribute_noreturn();

static void
qd_alter_no_event_time(const PgsQuery *q)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("streaming query \"%s\" has no event time", q->name),
			 errdetail("A watermark delay is a delay after an event-time column, and whether a query has one is its state's."),
			 errhint("Start a new query with event_time and watermark (a join: watermarks), with starting_from => 'latest' to leave the rows already processed.")));
}

/*
 * A join's new delays, by side: each element names a side that has an
 * event time, by that column (the column is the state's; only its delay
 * changes).  The stored watermarks argument then reads the new delays.
 */
static void
qd_alter_side_watermarks(const PgsAlterArgs *a, PgsQuery *q)
{
	bool		named[PGS_MAX_SIDES] = {false, false};
	List	   *stored = NIL;
	ListCell   *lc;
	int			i;

	foreach(lc, a->watermarks)
	{
		const char *given = lfirst(lc);
		char	   *name;
		char	   *column;
		int64		usecs;
		PgsQuerySide *side = NULL;

		pgs_parse_watermark(given, &name, &column, &usecs);
		for (i = 0; i < q->nsides; i++)
			if (strcmp(q->sides[i].name, name) == 0)
				side = &q->sides[i];
		if (side == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("watermarks names \"%s\", which is no stream read by the query", name),
					 errhint("The query reads its streams as \"%s\" and \"%s\".",
							 q->sides[0].name, q->sides[1].name)));
		if (named[side - q->sides])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("watermarks names side \"%s\" twice", name)));
		named[side - q->sides] = true;
		if (side->event_time == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("side \"%s\" of streaming query \"%s\" has no event time", name, q->name),
					 errdetail("Which sides of a join have a watermark is its state's; only a side's delay may change."),
					 errhint("Start a new query with the new watermarks, with starting_from => 'latest' to leave the rows already processed.")));
		if (strcmp(side->event_time, column) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the watermark of side \"%s\" of streaming query \"%s\" is on column \"%s\", not \"%s\"",
							name, q->name, side->event_time, column),
					 errdetail("A side's event-time column is its state's; only its delay may change."),
					 errhint("Write the side's watermark as '%s.%s <delay>'.",
							 quote_identifier(name), quote_identifier(side->event_time))));
		side->watermark_usecs = usecs;
	}
	/* the argument as given, each side's element the newest */
	for (i = 0; i < q->nsides; i++)
	{
		const char *element = NULL;

		foreach(lc, a->watermarks)
		{
			char	   *name;
			char	   *column;
			int64		usecs;

			pgs_parse_watermark(lfirst(lc), &name, &column, &usecs);
			if (strcmp(name, q->sides[i].name) == 0)
				element = lfirst(lc);
		}
		foreach(lc, q->watermarks)
		{
			char	   *name;
			char	   *column;
			int64		usecs;

			pgs_parse_watermark(lfirst(lc), &name, &column, &usecs);
			if (element == NULL && strcmp(name, q->sides[i].name) == 0)
				element = lfirst(lc);
		}
		if (element != NULL)
			stored = lappend(stored, (char *) element);
	}
	if (q->watermarks != NIL)
		q->watermarks = stored;
}

/*
 * A new watermark delay (Spark allows one between restarts): the next
 * batch computes the watermark its successor runs with from the new delay,
 * and the watermark never moves back, so a longer delay holds it where it
 * is until the latest event time less the new delay passes it; what the
 * state evicted stays evicted.  Refused where there is no event time.
 * Returns whether anything changed.
 */
static bool
qd_alter_watermarks(const PgsAlterArgs *a, PgsQuery *q)
{
	if (!a->watermark_given && !a->watermarks_given)
		return false;
	if (q->nsides == PGS_MAX_SIDES)
	{
		if (a->watermark_given)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("streaming query \"%s\" joins two streams, each with its own watermark", q->name),
					 errhint("Give each side's new delay with watermarks =>, such as '{\"%s.<column> 10 minutes\"}'.",
							 quote_identifier(q->sides[0].name))));
		if (q->sides[0].event_time == NULL && q->sides[1].event_time == NULL)
			qd_alter_no_event_time(q);
		qd_alter_side_watermarks(a, q);
		return true;
	}
	if (a->watermarks_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("streaming query \"%s\" reads one stream", q->name),
				 errhint("Give its new delay with watermark =>, such as '10 minutes'.")));
	if (q->event_time == NULL)
		qd_alter_no_event_time(q);
	q->watermark_usecs = a->watermark_usecs;
	/* a query over one stream started with watermarks => keeps its spelling */
	if (q->watermarks != NIL)
	{
		char	   *name;
		char	   *column;
		int64		usecs;

		pgs_parse_watermark(linitial(q->watermarks), &name, &column, &usecs);
		q->watermarks = list_make1(psprintf("%s.%s %s", quote_identifier(name),
											quote_identifier(column), a->watermark_text));
	}
	return true;
}

static const char *
qd_join_kind_name(PgsJoinKind kind)
{
	switch (kind)
	{
		case PGS_JOIN_INNER:
			return "inner";
		case PGS_JOIN_LEFT:
			return "left outer";
		case PGS_JOIN_RIGHT:
			return "right outer";
		case PGS_JOIN_FULL:
			return "full outer";
		case PGS_JOIN_SEMI:
			return "left semi";
		default:
			return "none";
	}
}

static void
qd_alter_join_refused(const PgsQuery *q, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("alter_query cannot change the join of streaming query \"%s\"", q->name),
			 errdetail_internal("%s", detail),
			 errhint("Start a new query with the new text, with starting_from => 'latest' to leave the rows already processed.")));
}

/*
 * A join between two streams keeps its sides, its kind, its keys and its
 * time constraint (its state and its offsets are theirs); its filters, its
 * columns and its joins with ordinary tables may change, as Spark allows
 * between restarts.
 */
static void
qd_alter_check_join(const PgsQuery *q, PgsDefinition *d)
{
	PgsJoinShape old_shape;
	PgsJoinShape new_shape;
	Query	   *old_query;
	int			i;

	if (q->nsides != PGS_MAX_SIDES)
		qd_alter_join_refused(q, "The new text joins two streams; the query reads one.");
	if (d->aq.nsides != PGS_MAX_SIDES)
		qd_alter_join_refused(q, "The new text reads one stream; the query joins two.");
	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		if (d->aq.sides[i].relid != q->sides[i].relid)
			qd_alter_join_refused(q, psprintf("Side \"%s\" reads another stream.", q->sides[i].name));
		if (strcmp(d->aq.sides[i].name, q->sides[i].name) != 0)
			qd_alter_join_refused(q, psprintf("Side \"%s\" is named \"%s\" in the new text, and its watermark is by its name.",
											  q->sides[i].name, d->aq.sides[i].name));
	}
	old_query = pgs_query_analyze_as_owner(q->owner, q->query_text,
										   pgs_batch_search_path(q->search_path));
	pgs_join_analyze(old_query, q->output_mode, q->sides, &old_shape, false, q->name);
	pgs_join_analyze(d->aq.query, q->output_mode, q->sides, &new_shape, false, q->name);
	if (old_shape.kind != new_shape.kind)
		qd_alter_join_refused(q, psprintf("The join type changes from %s to %s.",
										  qd_join_kind_name(old_shape.kind),
										  qd_join_kind_name(new_shape.kind)));
	if (strcmp(old_shape.keys ? old_shape.keys : "", new_shape.keys ? new_shape.keys : "") != 0)
		qd_alter_join_refused(q, "The join keys change.");
	if (strcmp(old_shape.range ? old_shape.range : "", new_shape.range ? new_shape.range : "") != 0)
		qd_alter_join_refused(q, "The time range changes.");
}

/*
 * The new text's definition against the query's: the same stream, whether
 * it aggregates, and the same state.
 */
static void
qd_alter_check_definition(const PgsQuery *q, PgsDefinition *d)
{
	bool		aggregates = OidIsValid(q->state_relid) && q->nsides == 0 &&
		(q->dedup_columns == NIL || pgs_dedup_chained(q));

	pgs_check_definition(d);
	if (q->nsides == PGS_MAX_SIDES || d->aq.nsides == PGS_MAX_SIDES)
	{
		/* an aggregation over the join keeps aggregating, over the same state */
		bool		join_aggregates = q->nsides == PGS_MAX_SIDES &&
			OidIsValid(q->state_relid) &&
			get_attnum(q->state_relid, "side") == InvalidAttrNumber;

		qd_alter_check_join(q, d);
		if (join_aggregates != d->aggregates)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg(join_aggregates ? "the new text of streaming query \"%s\" does not aggregate" :
							"the new text of streaming query \"%s\" aggregates", q->name),
					 errdetail("Whether a query aggregates, and over which keys, is its state's."),
					 errhint("Start a new query with the new text, with starting_from => 'latest' to leave the rows already processed.")));
		if (join_aggregates)
			qd_check_same_state(q, d);
		return;
	}
	if (d->aq.stream_relid != q->stream_relid)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the new text of streaming query \"%s\" reads stream \"%s\", not its stream \"%s\"",
						q->name, get_rel_name(d->aq.stream_relid), get_rel_name(q->stream_relid)),
				 errdetail("The query's checkpoint holds offsets of its own stream."),
				 errhint("Start a new query over the other stream.")));
	if (aggregates && !d->aggregates)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the new text of streaming query \"%s\" does not aggregate", q->name),
				 errdetail("Whether a query aggregates, and over which keys, is its state's."),
				 errhint("Start a new query with the new text, with starting_from => 'latest' to leave the rows already processed.")));
	if (!aggregates && d->aggregates)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the new text of streaming query \"%s\" aggregates", q->name),
				 errdetail("Whether a query aggregates, and over which keys, is its state's."),
				 errhint("Start a new query with the new text, with starting_from => 'latest' to leave the rows already processed.")));
	if (OidIsValid(q->state_relid))
		qd_check_same_state(q, d);
}

/*
 * The query's target (a foreach_batch query's batch table too) keeps its
 * columns, keys and rights under the new text: it is checked, never created
 * nor changed.
 */
static void
qd_alter_check_target(const PgsQuery *q, PgsDefinition *d)
{
	List	   *key = q->key_columns;

	pgs_check_target(q->target_relid, q->stream_relid, &d->aq);
	if (pgs_keyed_target(d))
		pgs_agg_prepare_target(q->target_relid, false, &d->shape, d->aq.column_names,
							   q->output_mode, false);
	if (key != NIL)
	{
		PgsAggShape key_shape;

		pgs_check_key(key, d, &key_shape);
		pgs_agg_prepare_target(q->target_relid, false, &key_shape, d->aq.column_names,
							   q->output_mode, true);
	}
	pgs_check_rights(pgs_compose_insert(d->query_text, q->target_relid, d->aq.column_names, key),
					q->stream_relid, q->target_relid, d->aggregates);
}

/*
 * Check a new text as the owner sees it, with the caller's search_path;
 * what the owner's code sets while it is checked is undone.
 */
static void
qd_alter_check_text(const PgsAlterArgs *a, const PgsQuery *q, PgsDefinition *d)
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			level;

	if (!standard_conforming_strings)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a streaming query's text is read with standard_conforming_strings on"),
				 errhint("SET standard_conforming_strings = on, and write backslashes in literals as E'...' strings.")));

	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	SetUserIdAndSecContext(q->owner, saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	level = NewGUCNestLevel();
	memset(d, 0, sizeof(*d));
	d->query_text = a->query_text;
	d->output_mode = q->output_mode;
	d->event_time = q->event_time;
	d->dedup = q->dedup_columns;
	d->sides = q->nsides == PGS_MAX_SIDES ? q->sides : NULL;
	qd_alter_check_definition(q, d);
	qd_alter_check_target(q, d);
	AtEOXact_GUC(false, level);
	SetUserIdAndSecContext(saved_userid, saved_sec_context);
}

/*
 * Write the changed row; a new text gets its view made anew, and the
 * scheduler hears of the change at commit.
 */
static void
qd_alter_register(PgsQuery *q, Query *new_query)
{
	pgs_query_alter(q, new_query != NULL);
	if (new_query != NULL)
		pgs_query_define_view(q, new_query);
	pgs_notify_scheduler_at_commit();
}

/*
 * stream.alter_query: change a query's trigger, cap or text, keeping its
 * checkpoint.  The row lock waits for a batch in flight; the next batch
 * runs with what was changed.
 */
Datum
stream_alter_query(PG_FUNCTION_ARGS)
{
	PgsAlterArgs a;
	PgsQuery	q;
	PgsDefinition d;
	Query	   *new_query = NULL;
	bool		new_watermarks;

	pgs_require_writable();
	qd_alter_args_read(fcinfo, &a);
	if (!qd_alter_validate(&a, &q))
		PG_RETURN_VOID();		/* a distributed query's, recorded */
	new_watermarks = qd_alter_watermarks(&a, &q);
	if (a.query_given)
	{
		qd_alter_check_text(&a, &q, &d);
		q.query_text = pstrdup(d.query_text);
		q.search_path = a.search_path;
		q.target_columns = d.aq.column_names;
		new_query = d.aq.query;
	}
	qd_alter_register(&q, new_query);
	if (new_watermarks)
		pgs_query_alter_watermarks(&q);
	if (a.events_given)
		(void) pgs_query_set_events(q.query_id, a.events);
	PG_RETURN_VOID();
}
