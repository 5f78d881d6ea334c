/*-------------------------------------------------------------------------
 *
 * agg_exec.c
 *	  The batch of a streaming aggregation, which folds new rows into its
 *	  state table (agg_state.c) and writes its target (agg_target.c): the
 *	  statements (composed by agg_plans.c) prepared once per query, and run.
 *
 * A batch, in its one transaction:
 *	 1. partial: the query's text, analyzed with the stream substituted and
 *		turned into its partial form (agg_shape.c), runs as the owner over
 *		the batch's rows; its groups go to a tuplestore.
 *	 2. merge: in a catalog stretch, those groups are merged into the
 *		state table, combining states with the aggregates' combine
 *		functions, and the touched groups come back with their final
 *		values; both run the aggregate's functions as the owner.  In C
 *		(agg_merge.c), which leaves a group whose states did not change
 *		out of the touched groups, or for session windows by a statement
 *		(stream._agg_combine, stream._agg_final).  Complete mode with
 *		ORDER BY or LIMIT takes every group's.
 *	 3. target: as the owner, the query's select list, HAVING and ORDER BY,
 *		deparsed over those results, write the target: an upsert by the
 *		keys, and the removal of groups that stopped satisfying HAVING; or,
 *		without keys and for a top-N, the whole result in place of the old.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_aggregate_d.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "analyze/pgs_analyze.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "common/pgs_phases.h"
#include "common/pgs_plans.h"
#include "source/pgs_offsets.h"
#include "state/agg_internal.h"
#include "state/pgs_agg.h"

/* ---- the batch's statements, prepared once per query ---- */

/*
 * What the partial statement's analysis needs (ae_partialize): the shape
 * its state was made for, and for an aggregation below deduplication
 * (dedup.c) the stream whose reads keep only the rows of a list of tids,
 * the statement's parameter after the batch's.
 */
typedef struct AggPartialArg
{
	char	   *shape;			/* pgs_agg_shape_signature() */
	Oid			chain_stream;	/* or InvalidOid */
	int			chain_rti;		/* over an aggregation: its subquery, or 0 */
	bool		chain_lower;	/* the statement is the subquery's */
	AttrNumber	time_attno;		/* the event time's column when the statement
								 * may read the event times too (see
								 * ae_add_times), or 0 */
} AggPartialArg;

#define AGG_TIDS_PARAM	(PGS_BATCH_NPARAMS + 1)

/*
 * The columns the partial statement gives after its groups when it reads
 * the event times too (ae_add_times): per group, min and max of the event
 * times, and avg's state of their microseconds.
 */
#define AGG_TIME_COLS	3

typedef struct AggPlans
{
	int64		query_id;		/* hash key */
	char	   *signature;
	SPIPlanPtr	partial;		/* owner: the query in its partial form */
	bool		one_range;		/* "partial" reads the batch's first range of
								 * blocks alone (pgs_stream_one_range) */
	SPIPlanPtr	partial_two;	/* then: the same over both ranges, prepared
								 * at the first batch that has two */
	SPIPlanPtr	merge;			/* catalog: upsert states, touched results */
	char	   *merge_sql;		/* its text, prepared when first run */
	PgsAggMerge *cmerge;		/* the same in C (agg_merge.c), or NULL */
	SPIPlanPtr	results_all;	/* catalog: every group's results (top-N) */
	SPIPlanPtr	clear;			/* owner: empty the target */
	SPIPlanPtr	write;			/* owner: upsert, or insert the result */
	SPIPlanPtr	leave;			/* owner: groups that left HAVING */
	SPIPlanPtr	evict;			/* catalog: closed windows out, with results */
	int			time_key;		/* see PgsAggShape */
	int64		time_size;
	Oid			time_type;
	Oid		   *evict_types;	/* the cutoff, then the result types */
	bool		append;
	bool		session;		/* the time key is a session window */
	SPIPlanPtr	count;			/* catalog: the state's rows (sessions) */
	char	   *shape;			/* pgs_agg_shape_signature() */
	AggPartialArg partial_arg;	/* points to shape */
	int			nresults;		/* aggregates, each with a result type */
	Oid		   *merge_types;	/* the batch id, then the result types */
	TupleDesc	partial_desc;	/* the rows of AGG_PARTIAL_ENR */
	bool		times_read;		/* the partial statement reads the event times */
	PgsAggTimes times;			/* what the latest partial statement read */
	TupleDesc	groups_desc;	/* the rows of AGG_GROUPS_ENR */
	bool		keyed;
	bool		replace;		/* the whole result replaces the target's */
	bool		complete;

	/*
	 * An aggregation over a streaming aggregation (agg_chain.c): the entry
	 * is the upper one's, "lower" the subquery's, whose "rows" statement
	 * turns its closed windows into the subquery's rows (rows_desc), the
	 * upper's input ("input", while a batch runs).
	 */
	struct AggPlans *lower;
	Oid			state_relid;

	/*
	 * A shard's query of a merged aggregation (output mode partial): the
	 * batch's partial groups are appended to the exchange (its target),
	 * and neither the state nor the target is otherwise written.
	 */
	bool		partial_out;
	SPIPlanPtr	exchange;		/* catalog: append the batch's partial groups */
	char	   *combine;		/* a coordinator's merge: the exchange rows
								 * combined per group */
	SPIPlanPtr	rows;			/* owner: the subquery's rows of its groups */
	TupleDesc	rows_desc;		/* the rows of AGG_LOWER_ENR */
	Tuplestorestate *input;
} AggPlans;

static HTAB *agg_plans = NULL;

/* preparing the statements of a coordinator's merge: no partial statement */
static bool ae_merging = false;

static void ae_fold(const PgsQuery *q, struct AggPlans *p, int64 batch_id,
					Tuplestorestate *partial, int64 state_rows_before,
					const PgsWatermarks *watermarks, PgsAggResult *result,
					MemoryContext cxt);

static void
ae_free(AggPlans *p)
{
	SPIPlanPtr *plans[] = {&p->partial, &p->partial_two, &p->merge, &p->results_all,
	&p->clear, &p->write, &p->leave, &p->evict, &p->count, &p->rows, &p->exchange};

	pgs_agg_merge_free(p->cmerge);
	p->cmerge = NULL;
	if (p->lower)
	{
		ae_free(p->lower);
		pfree(p->lower);
		p->lower = NULL;
	}
	if (p->rows_desc)
		FreeTupleDesc(p->rows_desc);
	p->rows_desc = NULL;

	for (int i = 0; i < lengthof(plans); i++)
	{
		if (*plans[i])
			SPI_freeplan(*plans[i]);
		*plans[i] = NULL;
	}
	if (p->signature)
		pfree(p->signature);
	p->signature = NULL;
	if (p->combine)
		pfree(p->combine);
	p->combine = NULL;
	if (p->shape)
		pfree(p->shape);
	p->shape = NULL;
	if (p->merge_sql)
		pfree(p->merge_sql);
	p->merge_sql = NULL;
	p->partial_arg.shape = NULL;
	if (p->merge_types)
		pfree(p->merge_types);
	p->merge_types = NULL;
	if (p->evict_types)
		pfree(p->evict_types);
	p->evict_types = NULL;
	if (p->partial_desc)
		FreeTupleDesc(p->partial_desc);
	if (p->groups_desc)
		FreeTupleDesc(p->groups_desc);
	p->partial_desc = p->groups_desc = NULL;
}

void
pgs_agg_forget_plans(void)
{
	HASH_SEQ_STATUS seq;
	AggPlans   *p;

	if (agg_plans == NULL)
		return;
	hash_seq_init(&seq, agg_plans);
	while ((p = hash_seq_search(&seq)) != NULL)
		ae_free(p);
	hash_destroy(agg_plans);
	agg_plans = NULL;
}

SPIPlanPtr
pgs_state_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare statement of a streaming aggregation (%s): %s",
			 SPI_result_code_string(SPI_result), sql);
	pgs_keep_plan(plan);
	return plan;
}

void
pgs_state_register(const char *name, Tuplestorestate *ts, TupleDesc desc)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));

	enr->md.name = pstrdup(name);
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = tuplestore_tuple_count(ts);
	enr->reldata = ts;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the rows of a streaming aggregation's batch");
}

/*
 * Parse and analyze the query's text as its owner: its shape.  Over a
 * streaming aggregation (*rti > 0), "lower" gets the subquery's shape and
 * *rows_desc its rows.
 */
static void
ae_shape(const PgsQuery *q, PgsAggShape *shape, int *rti, PgsAggShape *lower,
		 TupleDesc *rows_desc)
{
	List	   *raw = raw_parser(q->query_text, RAW_PARSE_DEFAULT);
	Query	   *query = parse_analyze_fixedparams(linitial_node(RawStmt, raw),
												  q->query_text, NULL, 0, NULL);

	*rti = q->nsides == 0 ? pgs_agg_chain_find(query, q->stream_relid) : 0;
	if (!pgs_agg_describe(query, q->target_columns, shape))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer aggregates", q->name),
				 errhint("Drop the query and start it again.")));
	if (q->event_time)
		pgs_agg_find_time_key(shape, query, q->stream_relid, q->event_time);
	/* over a join: a window of either side's event time, side 1's first */
	for (int side = 0; side < q->nsides && shape->time_key < 0; side++)
		if (q->sides[side].event_time)
			pgs_agg_find_time_key(shape, query, q->sides[side].relid,
								  q->sides[side].event_time);
	if (*rti > 0)
	{
		pgs_agg_chain_describe(query, *rti, q->stream_relid, q->event_time,
							   lower, shape, false);
		*rows_desc = pgs_agg_chain_rows_desc(query, *rti);
	}
}

/*
 * The statements that write the target name everything outside pg_catalog
 * in full; the query's own schemas follow, for the code of the target's
 * triggers, as in any batch.
 */
static char *
ae_target_search_path(const PgsQuery *q)
{
	return psprintf("pg_catalog, %s", pgs_batch_search_path(q->search_path));
}

static char *
ae_signature(const PgsQuery *q)
{
	return psprintf("%s|%s|%u|%u|%s|%s", q->query_text, q->search_path,
					q->state_relid, q->target_relid, q->output_mode,
					get_rel_name(q->target_relid) ? pgs_qualified_relname(q->target_relid) : "");
}

/*
 * Below deduplication, every read of the stream (each branch of the
 * subquery that stands for it) keeps only the rows whose tids are in the
 * statement's last parameter: the rows deduplication kept.
 */
static bool
ae_filter_tids(Node *node, void *arg)
{
	Oid			stream_relid = *(const Oid *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			ScalarArrayOpExpr *saop;
			Param	   *param;

			if (rte->rtekind != RTE_RELATION || rte->relid != stream_relid)
				continue;
			param = makeNode(Param);
			param->paramkind = PARAM_EXTERN;
			param->paramid = AGG_TIDS_PARAM;
			param->paramtype = TIDARRAYOID;
			param->paramtypmod = -1;
			param->paramcollid = InvalidOid;
			param->location = -1;
			saop = makeNode(ScalarArrayOpExpr);
			saop->opno = TIDEqualOperator;
			saop->opfuncid = F_TIDEQ;
			saop->useOr = true;
			saop->inputcollid = InvalidOid;
			saop->args = list_make2(makeVar(foreach_current_index(lc) + 1,
											SelfItemPointerAttributeNumber,
											TIDOID, -1, InvalidOid, 0),
									param);
			saop->location = -1;
			q->jointree->quals = make_and_qual(q->jointree->quals, (Node *) saop);
		}
		return query_tree_walker(q, ae_filter_tids, arg, 0);
	}
	return expression_tree_walker(node, ae_filter_tids, arg);
}

/*
 * One aggregate of the event times over arg, in its partial form: its
 * state, of type "state"
 */
static Aggref *
ae_time_agg(Oid fnoid, Oid state, Oid argtype, Expr *arg)
{
	Aggref	   *a = makeNode(Aggref);

	a->aggfnoid = fnoid;
	a->aggtype = state;
	a->aggtranstype = state;
	a->aggcollid = InvalidOid;
	a->inputcollid = InvalidOid;
	a->aggargtypes = list_make1_oid(argtype);
	a->args = list_make1(makeTargetEntry(arg, 1, NULL, false));
	a->aggkind = AGGKIND_NORMAL;
	a->agglevelsup = 0;
	a->aggsplit = AGGSPLIT_INITIAL_SERIAL;
	a->aggno = -1;
	a->aggtransno = -1;
	a->location = -1;
	return a;
}

/*
 * Add to the partial statement, after its groups, the event times of its
 * rows (AGG_TIME_COLS columns, per group): the statistics and the next
 * watermark then cost no second read of the batch (batch.c).  Only when
 * every row of the batch is in exactly one group, so that the groups'
 * figures add up to the batch's: the query reads the stream's rows alone
 * (its only FROM item is the substituted stream, a security barrier
 * subquery, which a query's own text cannot write), with no WHERE and no
 * grouping sets or set-returning functions that drop or repeat rows.
 *
 * Per row this must cost little, three aggregates without a filter: min and
 * max of the column's own type, and avg's state (count and sum) of its
 * microseconds (a timestamp and a timestamptz are both an int64 of them
 * since 2000-01-01, a timestamp read as UTC, which the int8 relabelling
 * gives without a call) as float8.  The separate read counts finite times
 * only: a group whose least or greatest time is infinite makes the batch
 * fall back to it (ae_partial_receive).  The functions are built-in ones
 * named by oid.
 */
static void
ae_add_times(Query *query, AttrNumber attno)
{
	RangeTblEntry *rte;
	TargetEntry *col;
	Oid			type;
	Var		   *var;
	Expr	   *usecs;
	bool		tz;
	AttrNumber	resno = list_length(query->targetList);

	if (list_length(query->rtable) != 1 ||
		list_length(query->jointree->fromlist) != 1 ||
		!IsA(linitial(query->jointree->fromlist), RangeTblRef) ||
		linitial_node(RangeTblRef, query->jointree->fromlist)->rtindex != 1 ||
		query->jointree->quals != NULL || query->groupingSets != NIL ||
		query->hasTargetSRFs || query->setOperations != NULL)
		return;
	rte = linitial_node(RangeTblEntry, query->rtable);
	if (rte->rtekind != RTE_SUBQUERY || !rte->security_barrier ||
		rte->subquery == NULL || attno > list_length(rte->subquery->targetList))
		return;
	col = list_nth_node(TargetEntry, rte->subquery->targetList, attno - 1);
	type = exprType((Node *) col->expr);
	if (type != TIMESTAMPTZOID && type != TIMESTAMPOID)
		return;
	tz = type == TIMESTAMPTZOID;

	var = makeVar(1, attno, type, exprTypmod((Node *) col->expr), InvalidOid, 0);
	usecs = (Expr *) makeFuncExpr(F_FLOAT8_INT8, FLOAT8OID,
								  list_make1(makeRelabelType((Expr *) copyObject(var),
															 INT8OID, -1, InvalidOid,
															 COERCE_IMPLICIT_CAST)),
								  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	query->targetList =
		lappend(query->targetList,
				makeTargetEntry((Expr *) ae_time_agg(tz ? F_MIN_TIMESTAMPTZ : F_MIN_TIMESTAMP,
													 type, type, (Expr *) var),
								++resno, pstrdup("time_min"), false));
	query->targetList =
		lappend(query->targetList,
				makeTargetEntry((Expr *) ae_time_agg(tz ? F_MAX_TIMESTAMPTZ : F_MAX_TIMESTAMP,
													 type, type, (Expr *) copyObject(var)),
								++resno, pstrdup("time_max"), false));
	query->targetList =
		lappend(query->targetList,
				makeTargetEntry((Expr *) ae_time_agg(F_AVG_FLOAT8, FLOAT8ARRAYOID,
													 FLOAT8OID, usecs),
								++resno, pstrdup("time_avg"), false));
	query->hasAggs = true;
}

/*
 * Let the planner pull the rows of the batch's one range of blocks
 * (pgs_stream_one_range) up into the partial statement: one TID range scan
 * under the aggregation, not a subquery scan that projects every row once
 * more.  The substituted stream is a security barrier so that none of the
 * query's own conditions runs before the batch predicate on rows of other
 * batches; a query with none (no WHERE, no HAVING, which the planner may
 * move below the aggregation, no subquery in an expression) that reads
 * nothing but the stream loses nothing without it: its aggregates'
 * arguments and filters run on the rows the scan returns, which the batch
 * predicate chose, as before.  A query without GROUP BY keeps the
 * barrier: over the stream itself, the planner may answer its min and max
 * from an index of their argument, reading that index from one end through
 * the history and stopping at the batch's first row.
 */
static void
ae_flatten_stream(Query *query)
{
	RangeTblEntry *rte;

	if (query->groupClause == NIL || query->groupingSets != NIL ||
		list_length(query->rtable) != 1 ||
		list_length(query->jointree->fromlist) != 1 ||
		!IsA(linitial(query->jointree->fromlist), RangeTblRef) ||
		linitial_node(RangeTblRef, query->jointree->fromlist)->rtindex != 1 ||
		query->jointree->quals != NULL || query->havingQual != NULL ||
		query->hasSubLinks || query->hasTargetSRFs || query->hasWindowFuncs ||
		query->setOperations != NULL || query->rowMarks != NIL ||
		query->cteList != NIL)
		return;
	rte = linitial_node(RangeTblEntry, query->rtable);
	if (rte->rtekind != RTE_SUBQUERY || !rte->security_barrier ||
		rte->subquery == NULL || rte->subquery->setOperations != NULL ||
		list_length(rte->subquery->rtable) != 1 ||
		linitial_node(RangeTblEntry, rte->subquery->rtable)->rtekind != RTE_RELATION)
		return;
	rte->security_barrier = false;
}

/*
 * The query with its stream substituted, analyzed again (at prepare or at
 * a replan), turned into its partial aggregation: its shape must still be
 * the one its state table was made for ("arg", an AggPartialArg).
 */
static void
ae_partialize(Query *query, const void *arg)
{
	const AggPartialArg *pa = (const AggPartialArg *) arg;
	PgsAggShape shape;

	if (pa->chain_rti > 0)
		pgs_agg_chain_cut(query, pa->chain_rti, pa->chain_lower);
	if (!pgs_agg_describe(query, NIL, &shape) ||
		strcmp(pgs_agg_shape_signature(&shape), pa->shape) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query no longer matches its state"),
				 errdetail("Analyzed again, the query's grouping keys or aggregates are of other types or functions than its state was made for."),
				 errhint("Drop the query and start it again; it will aggregate every row of the stream anew.")));
	pgs_agg_partialize(query, &shape);
	if (OidIsValid(pa->chain_stream))
		(void) ae_filter_tids((Node *) query, (void *) &pa->chain_stream);
	else if (pa->time_attno > 0)
		ae_add_times(query, pa->time_attno);
	if (pa->chain_rti == 0 && !OidIsValid(pa->chain_stream))
		ae_flatten_stream(query);
}

/*
 * Prepare the statements of one aggregation of the query into "p", whose
 * state table is "state_relid": the query's only one (rti 0), or over a
 * streaming aggregation the upper one (lower false) or the subquery's
 * (lower true), whose shape the caller gives.  The lower aggregation
 * writes no target: its "rows" statement gives the subquery's rows of its
 * closed windows.
 */
static void
ae_prepare(const PgsQuery *q, AggPlans *p, PgsAggShape *shape, Oid state_relid,
		   int rti, bool lower)
{
	PgsCatalogAccess acc = {0};
	char	   *merge,
			   *all,
			   *clear = NULL,
			   *write = NULL,
			   *leave = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	pgs_agg_check_state(state_relid, shape, q->name);
	p->state_relid = state_relid;
	p->partial_out = strcmp(q->output_mode, "partial") == 0;
	if (ae_merging)
		p->combine = MemoryContextStrdup(pgs_plan_context(), pgs_agg_compose_combine(shape));
	p->shape = MemoryContextStrdup(pgs_plan_context(), pgs_agg_shape_signature(shape));
	p->partial_arg.shape = p->shape;
	p->partial_arg.chain_stream = q->dedup_columns != NIL ? q->stream_relid : InvalidOid;
	p->partial_arg.chain_rti = rti;
	p->partial_arg.chain_lower = lower;
	/* the event times are read with the groups where batch.c wants them */
	p->partial_arg.time_attno = q->event_time != NULL && q->nsides == 0 &&
		rti == 0 && q->dedup_columns == NIL && !p->partial_out && !ae_merging ?
		get_attnum(q->stream_relid, q->event_time) : 0;
	p->complete = strcmp(q->output_mode, "complete") == 0;
	p->append = strcmp(q->output_mode, "append") == 0;
	p->session = shape->session;
	/* merged sessions change their keys: a complete result is replaced */
	p->keyed = shape->keys != NIL && !p->append && !p->session &&
		!(p->complete && (shape->limit_count || shape->limit_offset));
	p->replace = !p->keyed && !p->append;
	p->time_key = p->complete ? -1 : shape->time_key;
	p->time_size = shape->time_size;
	p->time_type = p->time_key >= 0 ?
		getBaseType(((PgsAggKey *) list_nth(shape->keys, p->time_key))->type) : InvalidOid;
	if (p->append && p->time_key < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer groups by a window of its event time", q->name),
				 errhint("Drop the query and start it again.")));
	if (rti > 0 && !p->append)
		elog(ERROR, "an aggregation over a streaming aggregation runs in append mode only");
	pgs_agg_compose_merge(shape, state_relid, &merge, &all);
	if (!p->partial_out)
		p->cmerge = pgs_agg_merge_prepare(shape, state_relid, pgs_plan_context());
	if (p->session)
		merge = pgs_agg_compose_session_merge(shape, state_relid);
	if (!lower && !p->partial_out)
		pgs_agg_compose_target(shape, state_relid, q->target_relid, q->target_columns,
							   p->append, p->replace, &clear, &write, &leave);

	/* the partial statement, as the owner */
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	MemoryContextSwitchTo(cxt);
	{
		char	   *text = pgs_trim_query(q->query_text);

		Oid			types[AGG_TIDS_PARAM];

		memcpy(types, pgs_batch_param_types, sizeof(Oid) * PGS_BATCH_NPARAMS);
		types[AGG_TIDS_PARAM - 1] = TIDARRAYOID;
		/* a batch's rows are almost always in one range of blocks */
		p->one_range = rti == 0 && !OidIsValid(p->partial_arg.chain_stream);
		pgs_rewrite_arm_then(text, q->stream_relid, q->view_relid, ae_partialize,
							 &p->partial_arg);
		PG_TRY();
		{
			/*
			 * Over a join, the join's statements are the partial ones
			 * (join.c); a merge on the coordinator reads the shards'.
			 */
			pgs_stream_one_range(p->one_range);
			if (q->nsides == 0 && !ae_merging)
				p->partial = pgs_state_prepare(text,
											   OidIsValid(p->partial_arg.chain_stream) ?
											   AGG_TIDS_PARAM : PGS_BATCH_NPARAMS,
											   types);
		}
		PG_FINALLY();
		{
			pgs_stream_one_range(false);
			pgs_rewrite_disarm();
		}
		PG_END_TRY();
	}
	pgs_owner_end(&acc);

	{
		MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());
		ListCell   *lc;
		int			i = 1;

		p->partial_desc = pgs_agg_rows_desc(shape, true, false);
		if (p->partial != NULL)
		{
			CachedPlanSource *source = linitial(SPI_plan_get_plan_sources(p->partial));

			p->times_read = source->resultDesc != NULL &&
				source->resultDesc->natts == p->partial_desc->natts + AGG_TIME_COLS;
		}
		p->groups_desc = pgs_agg_rows_desc(shape, false, true);
		p->nresults = list_length(shape->calls);
		p->merge_types = palloc(sizeof(Oid) * (p->nresults + 1));
		p->merge_types[0] = INT8OID;
		foreach(lc, shape->calls)
			p->merge_types[i++] = getBaseType(((PgsAggCall *) lfirst(lc))->aggref->aggtype);
		MemoryContextSwitchTo(old);
	}

	/* the merge, in a catalog stretch */
	pgs_catalog_begin(&acc);
	MemoryContextSwitchTo(cxt);
	pgs_state_register(AGG_PARTIAL_ENR,
				tuplestore_begin_heap(false, false, work_mem), p->partial_desc);
	/*
	 * The merge in SQL only where the C merge cannot serve: a batch the C
	 * merge turns back (its state table changed) prepares it then, in the
	 * same catalog stretch (ae_merge).
	 */
	p->merge_sql = MemoryContextStrdup(pgs_plan_context(), merge);
	if (p->cmerge == NULL)
		p->merge = pgs_state_prepare(merge, p->nresults + 1, p->merge_types);
	if (p->session)
		p->count = pgs_state_prepare(psprintf("SELECT pg_catalog.count(*) FROM %s",
											  pgs_qualified_relname(state_relid)), 0, NULL);
	if (p->replace)
		p->results_all = pgs_state_prepare(all, p->nresults, p->merge_types + 1);
	if (p->time_key >= 0)
	{
		MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());

		p->evict_types = palloc(sizeof(Oid) * (p->nresults + 1));
		p->evict_types[0] = p->time_type;
		memcpy(p->evict_types + 1, p->merge_types + 1, sizeof(Oid) * p->nresults);
		MemoryContextSwitchTo(old);
		p->evict = pgs_state_prepare(pgs_agg_compose_evict(shape, state_relid),
							  p->nresults + 1, p->evict_types);
	}
	if (p->partial_out)
	{
		Oid			types[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};

		p->exchange = pgs_state_prepare(pgs_agg_compose_exchange(shape, q->target_relid),
										3, types);
	}
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	if (p->partial_out)
		return;

	/* the target, or the subquery's rows, as the owner */
	pgs_owner_begin(&acc, q->owner, ae_target_search_path(q));
	MemoryContextSwitchTo(cxt);
	pgs_state_register(AGG_GROUPS_ENR,
				tuplestore_begin_heap(false, false, work_mem), p->groups_desc);
	if (lower)
	{
		CachedPlanSource *source;

		p->rows = pgs_state_prepare(pgs_agg_compose_rows(shape, state_relid), 0, NULL);
		source = linitial(SPI_plan_get_plan_sources(p->rows));
		if (source->resultDesc == NULL || p->rows_desc == NULL ||
			source->resultDesc->natts != p->rows_desc->natts)
			elog(ERROR, "the rows of the lower aggregation do not match its subquery");
		for (int i = 0; i < p->rows_desc->natts; i++)
			if (TupleDescAttr(source->resultDesc, i)->atttypid !=
				TupleDescAttr(p->rows_desc, i)->atttypid)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("streaming query no longer matches its state"),
						 errdetail("Column %d of the inner aggregation's rows is of type %s, not %s.",
								   i + 1,
								   format_type_be(TupleDescAttr(source->resultDesc, i)->atttypid),
								   format_type_be(TupleDescAttr(p->rows_desc, i)->atttypid)),
						 errhint("Drop the query and start it again.")));
	}
	else
	{
		/* the target is emptied by a complete or replaced result only */
		if (p->complete || p->replace)
			p->clear = pgs_state_prepare(clear, 0, NULL);
		p->write = pgs_state_prepare(write, 0, NULL);
		if (leave)
			p->leave = pgs_state_prepare(leave, 0, NULL);
	}
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);
}

/* the query's statements, prepared on first use */
static AggPlans *
ae_plans(const PgsQuery *q)
{
	AggPlans   *p;
	bool		found;
	char	   *sig = ae_signature(q);
	PgsAggShape shape;
	PgsAggShape lower_shape;
	TupleDesc	rows_desc = NULL;
	int			rti;
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;

	if (agg_plans == NULL)
		agg_plans = pgs_query_id_hash("pg_streaming aggregation plans", sizeof(AggPlans));
	p = hash_search(agg_plans, &q->query_id, HASH_ENTER, &found);
	if (!found)
		memset(((char *) p) + sizeof(int64), 0, sizeof(AggPlans) - sizeof(int64));
	else if (p->signature && strcmp(p->signature, sig) == 0)
		return p;
	ae_free(p);

	/* the shape, as the owner */
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	MemoryContextSwitchTo(cxt);
	ae_shape(q, &shape, &rti, &lower_shape, &rows_desc);
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);

	if (rti > 0)
	{
		Oid			lower_relid = pgs_agg_chain_state(q);
		AggPlans   *lp = MemoryContextAllocZero(pgs_plan_context(), sizeof(AggPlans));

		lp->query_id = q->query_id;
		{
			MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());

			lp->rows_desc = CreateTupleDescCopy(rows_desc);
			MemoryContextSwitchTo(old);
		}
		p->lower = lp;
		ae_prepare(q, lp, &lower_shape, lower_relid, rti, true);
	}
	ae_prepare(q, p, &shape, q->state_relid, rti, false);
	p->signature = MemoryContextStrdup(pgs_plan_context(), sig);
	return p;
}

/* ---- running a batch ---- */

/* run a prepared statement into a new tuplestore */
Tuplestorestate *
pgs_state_run_into(SPIPlanPtr plan, ParamListInfo params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	SPIExecuteOptions opts = {0};
	int			rc;
	bool		pushed;

	MemoryContextSwitchTo(old);
	SetTuplestoreDestReceiverParams(dest, ts, cxt, false, NULL, NULL);
	opts.params = params;
	opts.dest = dest;
	pushed = pgs_ensure_snapshot();
	rc = SPI_execute_plan_extended(plan, &opts);
	if (pushed)
		PopActiveSnapshot();
	pgs_adopt_plan(plan);
	if (rc < 0)
		elog(ERROR, "statement of a streaming aggregation failed: %s",
			 SPI_result_code_string(rc));
	dest->rDestroy(dest);
	return ts;
}

static uint64
ae_run(SPIPlanPtr plan)
{
	bool		pushed = pgs_ensure_snapshot();
	int			rc = SPI_execute_plan(plan, NULL, NULL, false, 0);

	if (pushed)
		PopActiveSnapshot();
	pgs_adopt_plan(plan);
	if (rc < 0)
		elog(ERROR, "statement of a streaming aggregation failed: %s",
			 SPI_result_code_string(rc));
	return SPI_processed;
}

ParamListInfo
pgs_state_params(int n, Oid *types, Datum *values, const char *nulls)
{
	ParamListInfo pl = makeParamList(n);

	for (int i = 0; i < n; i++)
	{
		pl->params[i].value = values[i];
		pl->params[i].isnull = nulls != NULL && nulls[i] == 'n';
		pl->params[i].pflags = PARAM_FLAG_CONST;
		pl->params[i].ptype = types[i];
	}
	return pl;
}

/* how many of the touched groups are new */
static int64
ae_count_new(Tuplestorestate *ts, TupleDesc desc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int64		n = 0;
	bool		isnull;

	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		Datum		d = slot_getattr(slot, desc->natts, &isnull);

		if (!isnull && DatumGetBool(d))
			n++;
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_rescan(ts);
	return n;
}

/*
 * While set, the partial statement is analyzed and run once, not from its
 * saved plan: the stream stands for what pgs_stream_override gave
 * (pgs_agg_deliver_row).
 */
static bool ae_one_off = false;

/* the partial statement, analyzed now with the stream substituted */
static Tuplestorestate *
ae_run_one_off(const char *sql, ParamListInfo params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Tuplestorestate *ts = tuplestore_begin_heap(false, false, work_mem);
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	SPIExecuteOptions opts = {0};
	int			rc;
	bool		pushed;

	MemoryContextSwitchTo(old);
	SetTuplestoreDestReceiverParams(dest, ts, cxt, false, NULL, NULL);
	opts.params = params;
	opts.dest = dest;
	pushed = pgs_ensure_snapshot();
	rc = SPI_execute_extended(sql, &opts);
	if (pushed)
		PopActiveSnapshot();
	if (rc < 0)
		elog(ERROR, "statement of a streaming aggregation failed: %s",
			 SPI_result_code_string(rc));
	dest->rDestroy(dest);
	return ts;
}

/*
 * Where the partial statement's rows go: a tuplestore of partial_desc's
 * rows; when the statement reads the event times too, the columns after
 * the groups' are added up into "times" and not kept.  A group without an
 * event time has NULL for them.
 */
typedef struct AggPartialReceiver
{
	DestReceiver pub;
	Tuplestorestate *ts;
	TupleDesc	desc;
	PgsAggTimes *times;			/* or NULL */
} AggPartialReceiver;

static void
ae_partial_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	AggPartialReceiver *r = (AggPartialReceiver *) self;

	if (typeinfo->natts != r->desc->natts + (r->times ? AGG_TIME_COLS : 0))
		elog(ERROR, "the partial statement of a streaming aggregation gives %d columns, not %d",
			 typeinfo->natts, r->desc->natts + (r->times ? AGG_TIME_COLS : 0));
}

static bool
ae_partial_receive(TupleTableSlot *slot, DestReceiver *self)
{
	AggPartialReceiver *r = (AggPartialReceiver *) self;

	slot_getallattrs(slot);
	if (r->times != NULL && !slot->tts_isnull[r->desc->natts])
	{
		int			c = r->desc->natts;
		PgsAggTimes *t = r->times;
		TimestampTz lo = DatumGetTimestampTz(slot->tts_values[c]);
		TimestampTz hi = DatumGetTimestampTz(slot->tts_values[c + 1]);
		ArrayType  *state = DatumGetArrayTypeP(slot->tts_values[c + 2]);

		if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] != 3 || ARR_HASNULL(state) ||
			ARR_ELEMTYPE(state) != FLOAT8OID)
			elog(ERROR, "the event times of a streaming aggregation's group are not avg's state");
		if (TIMESTAMP_NOT_FINITE(lo) || TIMESTAMP_NOT_FINITE(hi))
			t->infinite = true;
		if (t->count == 0 || lo < t->min)
			t->min = lo;
		if (t->count == 0 || hi > t->max)
			t->max = hi;
		t->count += (int64) ((float8 *) ARR_DATA_PTR(state))[0];
		t->sum += ((float8 *) ARR_DATA_PTR(state))[1];
	}
	tuplestore_putvalues(r->ts, r->desc, slot->tts_values, slot->tts_isnull);
	return true;
}

static void
ae_partial_shutdown(DestReceiver *self)
{
}

static void
ae_partial_destroy(DestReceiver *self)
{
	pfree(self);
}

/*
 * Run the partial statement (its saved plan "plan", or "sql" analyzed now)
 * into a new tuplestore in cxt; with p->times_read, its event times into
 * p->times.
 */
static Tuplestorestate *
ae_run_partial(AggPlans *p, SPIPlanPtr plan, const char *sql,
			   ParamListInfo params, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AggPartialReceiver *dest = palloc0(sizeof(AggPartialReceiver));
	SPIExecuteOptions opts = {0};
	int			rc;
	bool		pushed;

	dest->pub.receiveSlot = ae_partial_receive;
	dest->pub.rStartup = ae_partial_startup;
	dest->pub.rShutdown = ae_partial_shutdown;
	dest->pub.rDestroy = ae_partial_destroy;
	dest->pub.mydest = DestNone;
	dest->ts = tuplestore_begin_heap(false, false, work_mem);
	dest->desc = p->partial_desc;
	memset(&p->times, 0, sizeof(PgsAggTimes));
	if (p->times_read)
		dest->times = &p->times;
	MemoryContextSwitchTo(old);
	opts.params = params;
	opts.dest = &dest->pub;
	pushed = pgs_ensure_snapshot();
	if (sql != NULL)
		rc = SPI_execute_extended(sql, &opts);
	else
		rc = SPI_execute_plan_extended(plan, &opts);
	if (pushed)
		PopActiveSnapshot();
	if (sql == NULL)
		pgs_adopt_plan(plan);
	if (rc < 0)
		elog(ERROR, "statement of a streaming aggregation failed: %s",
			 SPI_result_code_string(rc));
	/* infinite times: the separate read, which leaves them out, gives them */
	p->times.read = p->times_read && !p->times.infinite;
	{
		Tuplestorestate *ts = dest->ts;

		dest->pub.rDestroy(&dest->pub);
		return ts;
	}
}

/* step 1: the batch's groups with their partial states, as the owner */
static Tuplestorestate *
ae_partial(const PgsQuery *q, AggPlans *p, PgsBatchParams *params, Datum tids,
		   MemoryContext cxt, int64 *input_rows)
{
	PgsCatalogAccess acc = {0};
	CachedPlanSource *source;
	Tuplestorestate *volatile partial = NULL;
	Oid			types[AGG_TIDS_PARAM];
	Datum		values[AGG_TIDS_PARAM];
	char		nulls[AGG_TIDS_PARAM];
	bool		chained = OidIsValid(p->partial_arg.chain_stream);
	bool		one_range = p->one_range && !ae_one_off && pgs_batch_one_range(params);
	SPIPlanPtr	plan;

	memcpy(types, pgs_batch_param_types, sizeof(Oid) * PGS_BATCH_NPARAMS);
	memcpy(values, params->values, sizeof(Datum) * PGS_BATCH_NPARAMS);
	memcpy(nulls, params->nulls, PGS_BATCH_NPARAMS);
	types[AGG_TIDS_PARAM - 1] = TIDARRAYOID;
	values[AGG_TIDS_PARAM - 1] = tids;
	nulls[AGG_TIDS_PARAM - 1] = ' ';
	if (chained && tids == (Datum) 0)
		elog(ERROR, "the aggregation below deduplication has no rows to read");
	(void) pgs_phase_switch(PGS_PHASE_READ);
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	/* the upper aggregation of a chain reads the lower one's rows */
	if (p->input != NULL)
		pgs_state_register(AGG_LOWER_ENR, p->input, p->lower->rows_desc);
	source = linitial(SPI_plan_get_plan_sources(p->partial));
	pgs_batch_input_rows = 0;
	PG_TRY();
	{
		/* what the statement reads when analyzed (again, at a replan) */
		pgs_stream_one_range(one_range);
		plan = p->partial;
		if (p->one_range && !one_range && !ae_one_off)
		{
			/* a batch with rows in two ranges of blocks */
			if (p->partial_two == NULL)
			{
				pgs_rewrite_arm_then(source->query_string, q->stream_relid,
									 q->view_relid, ae_partialize, &p->partial_arg);
				p->partial_two = pgs_state_prepare(source->query_string,
												   PGS_BATCH_NPARAMS, types);
			}
			plan = p->partial_two;
		}

		/*
		 * A statement's analysis is known by its own copy of the text: the
		 * substitution is armed with the text of the statement run.
		 */
		pgs_rewrite_arm_then(((CachedPlanSource *) linitial(SPI_plan_get_plan_sources(plan)))->query_string,
							 q->stream_relid, q->view_relid, ae_partialize,
							 &p->partial_arg);
		if (ae_one_off)
			partial = ae_run_partial(p, NULL, source->query_string,
									 pgs_state_params(PGS_BATCH_NPARAMS, types,
													  values, nulls),
									 cxt);
		else
			partial = ae_run_partial(p, plan, NULL,
									 pgs_state_params(chained ? AGG_TIDS_PARAM : PGS_BATCH_NPARAMS,
													  types, values, nulls),
									 cxt);
	}
	PG_FINALLY();
	{
		pgs_stream_one_range(false);
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	*input_rows = pgs_batch_input_rows;
	pgs_owner_end(&acc);
	return partial;
}

/*
 * Step 2: merge the partial states into the state table, in a catalog
 * stretch, the aggregates' functions running as the owner; returns the
 * touched groups' results, and in *all every group's when the result
 * replaces the target's.
 */
static int64
ae_state_count(AggPlans *p)
{
	bool		isnull;
	bool		pushed = pgs_ensure_snapshot();
	int			rc = SPI_execute_plan(p->count, NULL, NULL, false, 0);

	if (pushed)
		PopActiveSnapshot();
	pgs_adopt_plan(p->count);
	if (rc < 0)
		elog(ERROR, "could not count the state of a streaming aggregation");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									   1, &isnull));
}

static Tuplestorestate *
ae_merge(const PgsQuery *q, AggPlans *p, int64 batch_id,
		 Tuplestorestate *partial, MemoryContext cxt, Tuplestorestate **all,
		 int64 *session_delta)
{
	PgsCatalogAccess acc = {0};
	Datum	   *values = palloc0(sizeof(Datum) * (p->nresults + 1));
	char	   *nulls = palloc(p->nresults + 1);
	Tuplestorestate *volatile groups = NULL;

	/* the batch id, and NULLs of the results' types */
	values[0] = Int64GetDatum(batch_id);
	memset(nulls, 'n', p->nresults + 1);
	nulls[0] = ' ';
	*all = NULL;
	(void) pgs_phase_switch(PGS_PHASE_MERGE);
	pgs_catalog_begin(&acc);
	pgs_agg_set_call_owner(q->owner, pgs_batch_search_path(q->search_path));
	PG_TRY();
	{
		int64		before = p->session ? ae_state_count(p) : 0;

		pgs_state_register(AGG_PARTIAL_ENR, partial, p->partial_desc);
		if (p->cmerge != NULL)
			groups = pgs_agg_merge_run(p->cmerge, partial, p->partial_desc,
									   p->groups_desc, batch_id, cxt);
		if (groups == NULL && p->merge == NULL)
			p->merge = pgs_state_prepare(p->merge_sql, p->nresults + 1,
										 p->merge_types);
		if (groups == NULL)
			groups = pgs_state_run_into(p->merge,
								 pgs_state_params(p->nresults + 1, p->merge_types, values, nulls),
								 cxt);
		/* sessions merge: the state's rows are counted, not added up */
		*session_delta = p->session ? ae_state_count(p) - before : 0;
		if (p->replace)
			*all = pgs_state_run_into(p->results_all,
							   pgs_state_params(p->nresults, p->merge_types + 1,
										 values + 1, nulls + 1),
							   cxt);
	}
	PG_FINALLY();
	{
		pgs_agg_set_call_owner(InvalidOid, NULL);
	}
	PG_END_TRY();
	pgs_catalog_end(&acc);
	return groups;
}

/*
 * Drop the rows of a tuplestore whose time, column "col" plus "size" (a
 * window's end), is at or before the late watermark, counting them in
 * *dropped; rows without a time go too, counted when count_nulls.  Returns
 * the rows kept; the tuplestore given is ended.  For an aggregation the
 * rows are partial groups (Spark counts late groups), for deduplication
 * input rows.
 */
Tuplestorestate *
pgs_state_drop_late(Tuplestorestate *rows, TupleDesc desc, int col, int64 size,
					bool late_null, int64 late, bool count_nulls,
					MemoryContext cxt, int64 *dropped)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Tuplestorestate *kept = tuplestore_begin_heap(false, false, work_mem);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	bool		isnull;

	*dropped = 0;
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		Datum		d = slot_getattr(slot, col, &isnull);

		/* a row without a time is in no window, as Spark drops it */
		if (isnull)
		{
			if (count_nulls)
				(*dropped)++;
			continue;
		}
		if (!late_null && DatumGetInt64(d) <= late - size)
		{
			(*dropped)++;
			continue;
		}
		tuplestore_puttupleslot(kept, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextSwitchTo(old);
	tuplestore_end(rows);
	return kept;
}

/* the closed windows, evicted from the state, with their results */
static Tuplestorestate *
ae_evict(const PgsQuery *q, AggPlans *p, int64 watermark, MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	Datum	   *values = palloc0(sizeof(Datum) * (p->nresults + 1));
	char	   *nulls = palloc(p->nresults + 1);
	Tuplestorestate *volatile evicted = NULL;

	/*
	 * A window closes when the watermark reaches its end, start + size; a
	 * session when it reaches its stored end.
	 */
	values[0] = Int64GetDatum(p->session ? watermark : watermark - p->time_size);
	memset(nulls, 'n', p->nresults + 1);
	nulls[0] = ' ';
	(void) pgs_phase_switch(PGS_PHASE_MERGE);
	pgs_catalog_begin(&acc);
	pgs_agg_set_call_owner(q->owner, pgs_batch_search_path(q->search_path));
	PG_TRY();
	{
		evicted = pgs_state_run_into(p->evict,
							  pgs_state_params(p->nresults + 1, p->evict_types, values, nulls),
							  cxt);
	}
	PG_FINALLY();
	{
		pgs_agg_set_call_owner(InvalidOid, NULL);
	}
	PG_END_TRY();
	pgs_catalog_end(&acc);
	return evicted;
}

/* append mode: the windows the watermark closed leave the state for the target */
static void
ae_evict_write(const PgsQuery *q, AggPlans *p, int64 watermark,
			   PgsAggResult *result, MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	Tuplestorestate *evicted = ae_evict(q, p, watermark, cxt);

	result->evicted = tuplestore_tuple_count(evicted);
	(void) pgs_phase_switch(PGS_PHASE_WRITE);
	pgs_owner_begin(&acc, q->owner, ae_target_search_path(q));
	pgs_state_register(AGG_GROUPS_ENR, evicted, p->groups_desc);
	result->output_rows += ae_run(p->write);
	pgs_owner_end(&acc);
	tuplestore_end(evicted);
}

/*
 * One batch of an aggregation over a streaming aggregation (agg_chain.c),
 * in the run's transaction: the lower aggregation folds the batch's rows
 * into its state and gives up the windows the watermark closed, as the
 * subquery's rows; the upper aggregation folds those into its state, and
 * writes the windows the same watermark closed to the target.  Both drop
 * their late groups by the same watermark, which an aggregation passes on
 * unchanged.
 */
static void
ae_chain_execute(const PgsQuery *q, AggPlans *p, int64 batch_id,
				 PgsBatchParams *params, const PgsWatermarks *watermarks,
				 PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	AggPlans   *lp = p->lower;
	Tuplestorestate *partial;
	Tuplestorestate *groups;
	Tuplestorestate *all;
	Tuplestorestate *closed = NULL;
	Tuplestorestate *volatile rows;
	int64		session_delta;
	int64		upper_input;
	int64		late = 0;

	memset(result, 0, sizeof(PgsAggResult));
	if (watermarks == NULL || !p->append || p->time_key < 0 || lp->time_key < 0)
		elog(ERROR, "an aggregation over a streaming aggregation runs in append mode over windows only");
	result->agg_chained = true;

	/* the lower aggregation, over the batch's rows */
	partial = ae_partial(q, lp, params, (Datum) 0, cxt, &result->input_rows);
	partial = pgs_state_drop_late(partial, lp->partial_desc, lp->time_key + 1,
								  lp->time_size, watermarks->late_null,
								  watermarks->late, false, cxt, &result->lower_late);
	groups = ae_merge(q, lp, batch_id, partial, cxt, &all, &session_delta);
	result->lower_updated = tuplestore_tuple_count(groups);
	result->lower_added = ae_count_new(groups, lp->groups_desc);
	tuplestore_end(partial);
	tuplestore_end(groups);
	if (all)
		tuplestore_end(all);
	if (!watermarks->watermark_null)
	{
		closed = ae_evict(q, lp, watermarks->watermark, cxt);
		result->lower_evicted = tuplestore_tuple_count(closed);
	}

	/* its closed windows, as the subquery's rows, as the owner */
	if (closed != NULL && tuplestore_tuple_count(closed) > 0)
	{
		(void) pgs_phase_switch(PGS_PHASE_READ);
		pgs_owner_begin(&acc, q->owner, ae_target_search_path(q));
		pgs_state_register(AGG_GROUPS_ENR, closed, lp->groups_desc);
		rows = pgs_state_run_into(lp->rows, NULL, cxt);
		pgs_owner_end(&acc);
	}
	else
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		rows = tuplestore_begin_heap(false, false, work_mem);
		MemoryContextSwitchTo(old);
	}
	if (closed != NULL)
		tuplestore_end(closed);

	/* the upper aggregation, over those rows */
	upper_input = tuplestore_tuple_count(rows);
	if (upper_input > 0)
	{
		int64		ignored;

		p->input = rows;
		PG_TRY();
		{
			partial = ae_partial(q, p, params, (Datum) 0, cxt, &ignored);
		}
		PG_FINALLY();
		{
			p->input = NULL;
		}
		PG_END_TRY();
		partial = pgs_state_drop_late(partial, p->partial_desc, p->time_key + 1,
									  p->time_size, watermarks->late_null,
									  watermarks->late, false, cxt, &late);
		groups = ae_merge(q, p, batch_id, partial, cxt, &all, &session_delta);
		result->groups_updated = tuplestore_tuple_count(groups);
		result->groups_added = ae_count_new(groups, p->groups_desc);
		tuplestore_end(partial);
		tuplestore_end(groups);
		if (all)
			tuplestore_end(all);
	}
	tuplestore_end(rows);
	if (!watermarks->watermark_null)
		ae_evict_write(q, p, watermarks->watermark, result, cxt);

	/* the totals hold both operators; the lower's part on its own */
	result->late_groups = late + result->lower_late;
	result->groups_added += result->lower_added;
	result->groups_updated += result->lower_updated;
	result->evicted += result->lower_evicted;

	/*
	 * The lower's groups after the batch follow from the last batch's
	 * figure (its first operator's); without one, from a count.
	 */
	if (pgs_checkpoint_operator_state_rows(q->query_id, "aggregation",
										   &result->lower_state_rows))
		result->lower_state_rows += result->lower_added - result->lower_evicted;
	else
	{
		bool		isnull;

		pgs_catalog_begin(&acc);
		pgs_catalog_exec(psprintf("SELECT pg_catalog.count(*) FROM %s",
								  pgs_qualified_relname(lp->state_relid)),
						 0, NULL, NULL, NULL, true, 0);
		result->lower_state_rows = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		pgs_catalog_end(&acc);
	}
}

/*
 * One batch of a streaming aggregation, in the run's transaction: see the
 * head of this file.  state_rows_before is the state's size before it, for
 * complete mode's first batch (which empties the target it writes).  With
 * an event time, late groups are dropped before the merge, and the windows
 * the watermark closed are evicted after it: written to the target in
 * append mode, dropped silently in update mode.
 */
void
pgs_agg_execute(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
				int64 state_rows_before, const PgsWatermarks *watermarks,
				PgsAggResult *result)
{
	pgs_agg_execute_rows(q, batch_id, params, state_rows_before, watermarks,
						 (Datum) 0, result);
}

/*
 * The same, for an aggregation below deduplication (dedup.c): its reads of
 * the stream keep only the batch's rows whose tids are in "tids" (a tid[]).
 */
void
pgs_agg_execute_rows(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
					 int64 state_rows_before, const PgsWatermarks *watermarks,
					 Datum tids, PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsPhase	phase = pgs_phase_switch(PGS_PHASE_PLAN);
	AggPlans   *p = ae_plans(q);
	Tuplestorestate *partial;

	(void) pgs_phase_switch(phase);
	if (p->lower != NULL)
	{
		ae_chain_execute(q, p, batch_id, params, watermarks, result);
		return;
	}
	memset(result, 0, sizeof(PgsAggResult));
	partial = ae_partial(q, p, params, tids, cxt, &result->input_rows);
	result->times = p->times;
	ae_fold(q, p, batch_id, partial, state_rows_before, watermarks, result, cxt);
}

/*
 * The rest of a batch once its partial groups are in "partial" (ended
 * here): late groups dropped, the rest merged into the state, closed
 * windows evicted, and the target written as the output mode says.
 */
static void
ae_fold(const PgsQuery *q, AggPlans *p, int64 batch_id, Tuplestorestate *partial,
		int64 state_rows_before, const PgsWatermarks *watermarks,
		PgsAggResult *result, MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	Tuplestorestate *groups;
	Tuplestorestate *all;
	Tuplestorestate *evicted = NULL;
	int64		session_delta;

	if (p->time_key >= 0 && watermarks != NULL)
		partial = pgs_state_drop_late(partial, p->partial_desc, p->time_key + 1,
									  p->time_size, watermarks->late_null,
									  watermarks->late, false, cxt,
									  &result->late_groups);
	groups = ae_merge(q, p, batch_id, partial, cxt, &all, &session_delta);
	result->groups_updated = tuplestore_tuple_count(groups);
	result->groups_added = p->session ? session_delta :
		ae_count_new(groups, p->groups_desc);
	if (p->time_key >= 0 && watermarks != NULL && !watermarks->watermark_null)
	{
		evicted = ae_evict(q, p, watermarks->watermark, cxt);
		result->evicted = tuplestore_tuple_count(evicted);
	}

	/* step 3: the target, as the owner */
	(void) pgs_phase_switch(PGS_PHASE_WRITE);
	pgs_owner_begin(&acc, q->owner, ae_target_search_path(q));
	if (p->append)
	{
		if (evicted != NULL)
		{
			pgs_state_register(AGG_GROUPS_ENR, evicted, p->groups_desc);
			result->output_rows += ae_run(p->write);
		}
	}
	else if (p->replace)
	{
		pgs_state_register(AGG_GROUPS_ENR, all, p->groups_desc);
		result->output_rows += ae_run(p->clear);
		result->output_rows += ae_run(p->write);
	}
	else
	{
		pgs_state_register(AGG_GROUPS_ENR, groups, p->groups_desc);
		if (p->complete && state_rows_before == 0)
			result->output_rows += ae_run(p->clear);
		result->output_rows += ae_run(p->write);
		if (p->leave)
			result->output_rows += ae_run(p->leave);
	}
	pgs_owner_end(&acc);

	tuplestore_end(partial);
	tuplestore_end(groups);
	if (all)
		tuplestore_end(all);
	if (evicted)
		tuplestore_end(evicted);
}

/*
 * One row set aside by a batch, delivered again (stream.deliver_dead_letters):
 * the caller has made pgs_stream_override give the row, and the query's
 * current partial statement, analyzed anew, reads it alone.  Its partial
 * state merges into the state as batch_id's (the latest committed batch)
 * and the target is written as a batch would write it: in update and
 * complete modes the touched groups' rows; in append mode nothing, the
 * group's window being still open (its batch writes it when the watermark
 * closes it).  No window is evicted.  A row whose window the watermark in
 * force for the latest batch closed (watermarks->late) is late: its
 * partial group is dropped and counted in result->late_groups, and the
 * caller refuses it.  Not for chains (deduplication or a lower
 * aggregation), which the caller refuses.
 */
void
pgs_agg_deliver_row(const PgsQuery *q, int64 batch_id,
					const PgsWatermarks *watermarks, PgsAggResult *result)
{
	PgsBatchParams params;
	PgsWatermarks w;
	int64		before;

	if (ae_plans(q)->lower != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("dead letters of streaming query \"%s\" cannot be delivered again", q->name),
				 errdetail("The query aggregates a streaming aggregation."),
				 errhint("Read the rows from stream.dead_letters and write them to a stream the query reads.")));
	before = pgs_agg_state_count(q);
	memset(&params, 0, sizeof(params));
	memset(params.nulls, 'n', PGS_BATCH_NPARAMS);
	if (watermarks != NULL)
	{
		/* late by the watermark in force, and nothing evicted */
		w = *watermarks;
		w.watermark_null = true;
	}
	ae_one_off = true;
	PG_TRY();
	{
		pgs_agg_execute_rows(q, batch_id, &params, before,
							 watermarks != NULL ? &w : NULL, (Datum) 0, result);
	}
	PG_FINALLY();
	{
		ae_one_off = false;
	}
	PG_END_TRY();
}

/* ---- an aggregation over a join between streams (join.c) ---- */

/*
 * What a join statement's analysis passes to pgs_agg_partial_finish: the
 * shape the query's state table was made for.  Prepares the aggregation's
 * statements on first use; the address stays the query's while the
 * backend keeps its statements.
 */
const void *
pgs_agg_partial_arg(const PgsQuery *q)
{
	return &ae_plans(q)->partial_arg;
}

/* a join statement, its reads substituted, turned into its partial form */
void
pgs_agg_partial_finish(Query *query, const void *arg)
{
	ae_partialize(query, arg);
}

/*
 * The groups of the state the batch changed, and those it added, read from
 * the state itself: each merge returns the groups it touched, and one group
 * may be touched by several merges of one batch.
 */
static void
ae_batch_groups(const PgsQuery *q, int64 batch_id, int64 *updated, int64 *added)
{
	PgsCatalogAccess acc = {0};
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(batch_id)};
	bool		isnull;

	pgs_catalog_begin(&acc);
	pgs_catalog_exec(psprintf("SELECT pg_catalog.count(*) FILTER (WHERE _last_batch OPERATOR(pg_catalog.=) $1),"
							  " pg_catalog.count(*) FILTER (WHERE _first_batch OPERATOR(pg_catalog.=) $1)"
							  " FROM %s",
							  pgs_qualified_relname(q->state_relid)),
					 1, types, values, NULL, true, 0);
	*updated = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	*added = DatumGetInt64(pgs_result_datum(0, 2, &isnull));
	pgs_catalog_end(&acc);
}

/*
 * Add to *late (made in cxt on first use) the rows of partial that
 * pgs_state_drop_late is about to drop as late, by the same rule: a time
 * key at or below the late watermark less the window's size.
 */
static void
ae_keep_late(AggPlans *p, Tuplestorestate *partial, int64 late_watermark,
			 Tuplestorestate **late, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(p->partial_desc, &TTSOpsMinimalTuple);
	bool		isnull;

	tuplestore_rescan(partial);
	while (tuplestore_gettupleslot(partial, true, false, slot))
	{
		Datum		d = slot_getattr(slot, p->time_key + 1, &isnull);

		if (isnull || DatumGetInt64(d) > late_watermark - p->time_size)
			continue;
		if (*late == NULL)
			*late = tuplestore_begin_heap(false, false, work_mem);
		tuplestore_puttupleslot(*late, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextSwitchTo(old);
}

/*
 * The distinct groups among late partial rows (ended here): one group late
 * in several of a join's statements is one late group.  Its keys are
 * compared as GROUP BY compares them, as the query's owner, whose types
 * they are.
 */
static int64
ae_count_late_groups(const PgsQuery *q, AggPlans *p, Tuplestorestate *late)
{
	PgsCatalogAccess acc = {0};
	int			nkeys = p->partial_desc->natts - p->nresults;
	StringInfoData sql;
	bool		pushed;
	bool		isnull;
	int64		n;
	int			rc;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.count(*) FROM (SELECT DISTINCT ");
	for (int i = 0; i < nkeys; i++)
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "",
						 quote_identifier(NameStr(TupleDescAttr(p->partial_desc, i)->attname)));
	appendStringInfo(&sql, " FROM %s) AS g", AGG_PARTIAL_ENR);
	pgs_owner_begin(&acc, q->owner, "pg_catalog, pg_temp");
	pgs_state_register(AGG_PARTIAL_ENR, late, p->partial_desc);
	pushed = pgs_ensure_snapshot();
	rc = SPI_execute(sql.data, true, 0);
	if (pushed)
		PopActiveSnapshot();
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the late groups of a streaming aggregation: %s",
			 SPI_result_code_string(rc));
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	pgs_owner_end(&acc);
	tuplestore_end(late);
	return n;
}

/*
 * The rest of a batch of an aggregation over a join, in append mode: the
 * partial groups of the join's statements ("partials", each a tuplestore
 * of the partial statement's rows, ended here) dropped when late by the
 * watermarks given (the join's output watermarks), merged into the state
 * one after the other (one upsert cannot touch a group twice), then the
 * windows the watermark closed written to the target and evicted.
 */
void
pgs_agg_execute_partials(const PgsQuery *q, int64 batch_id, List *partials,
						 const PgsWatermarks *watermarks, PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	AggPlans   *p = ae_plans(q);
	Tuplestorestate *late_rows = NULL;
	ListCell   *lc;
	int			nmerged = 0;
	int			nlate = 0;

	memset(result, 0, sizeof(PgsAggResult));
	if (!p->append || p->time_key < 0)
		elog(ERROR, "an aggregation over a join runs in append mode over a window only");
	foreach(lc, partials)
	{
		Tuplestorestate *partial = (Tuplestorestate *) lfirst(lc);
		Tuplestorestate *groups;
		Tuplestorestate *all;
		int64		session_delta;
		int64		late = 0;

		if (list_length(partials) > 1 && !watermarks->late_null)
			ae_keep_late(p, partial, watermarks->late, &late_rows, cxt);
		partial = pgs_state_drop_late(partial, p->partial_desc, p->time_key + 1,
									  p->time_size, watermarks->late_null,
									  watermarks->late, false, cxt, &late);
		result->late_groups += late;
		if (late > 0)
			nlate++;
		if (tuplestore_tuple_count(partial) > 0)
		{
			groups = ae_merge(q, p, batch_id, partial, cxt, &all, &session_delta);
			result->groups_updated += tuplestore_tuple_count(groups);
			result->groups_added += p->session ? session_delta :
				ae_count_new(groups, p->groups_desc);
			tuplestore_end(groups);
			if (all)
				tuplestore_end(all);
			nmerged++;
		}
		tuplestore_end(partial);
	}
	/* a group two merges touched is one group the batch changed */
	if (nmerged > 1)
		ae_batch_groups(q, batch_id, &result->groups_updated, &result->groups_added);
	/* and a group two statements brought late is one late group */
	if (nlate > 1)
		result->late_groups = ae_count_late_groups(q, p, late_rows);
	else if (late_rows)
		tuplestore_end(late_rows);
	if (!watermarks->watermark_null)
		ae_evict_write(q, p, watermarks->watermark, result, cxt);
}

/* the rows of the aggregation's state table */
int64
pgs_agg_state_count(const PgsQuery *q)
{
	PgsCatalogAccess acc = {0};
	bool		isnull;
	int64		n;

	pgs_catalog_begin(&acc);
	pgs_catalog_exec(psprintf("SELECT pg_catalog.count(*) FROM %s",
							  pgs_qualified_relname(q->state_relid)),
					 0, NULL, NULL, NULL, true, 0);
	n = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	pgs_catalog_end(&acc);
	return n;
}

/* ---- the merge placement of a distributed aggregation ---- */

/*
 * One batch of a shard's query of a merged aggregation (output mode
 * partial), in the batch's transaction: the batch's partial groups, as the
 * owner, appended to the exchange (the query's target) in a catalog
 * stretch, with the shard's query's name, the batch id and the batch's
 * latest event time ("time_null" without).  The exchange holds serialized
 * states that the coordinator deserializes: only this statement writes it,
 * as the extension's owner, from the query's own partial aggregation.
 * A replayed batch reads the same rows and writes the same groups, in a
 * transaction of its own, so each batch's groups are in the exchange once.
 */
void
pgs_agg_execute_exchange(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
						 bool time_null, TimestampTz max_time, PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	PgsPhase	phase = pgs_phase_switch(PGS_PHASE_PLAN);
	AggPlans   *p = ae_plans(q);
	Tuplestorestate *partial;
	Oid			types[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	(void) pgs_phase_switch(phase);
	if (!p->partial_out || p->lower != NULL)
		elog(ERROR, "streaming query \"%s\" does not write partial groups", q->name);
	memset(result, 0, sizeof(PgsAggResult));
	partial = ae_partial(q, p, params, (Datum) 0, cxt, &result->input_rows);
	result->groups_updated = tuplestore_tuple_count(partial);
	if (tuplestore_tuple_count(partial) > 0)
	{
		values[0] = CStringGetTextDatum(q->name);
		values[1] = Int64GetDatum(batch_id);
		values[2] = TimestampTzGetDatum(max_time);
		if (time_null)
			nulls[2] = 'n';
		(void) pgs_phase_switch(PGS_PHASE_WRITE);
		pgs_catalog_begin(&acc);
		/* the exchange's shard is written on its node, as Citus allows it */
		if (GetConfigOption("citus.enable_manual_changes_to_shards", true, false) != NULL)
			(void) set_config_option("citus.enable_manual_changes_to_shards", "on",
									 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
									 true, 0, false);
		pgs_state_register(AGG_PARTIAL_ENR, partial, p->partial_desc);
		{
			bool		pushed = pgs_ensure_snapshot();
			int			rc = SPI_execute_plan_with_paramlist(p->exchange,
															 pgs_state_params(3, types, values, nulls),
															 false, 0);

			if (pushed)
				PopActiveSnapshot();
			pgs_adopt_plan(p->exchange);
			if (rc != SPI_OK_INSERT)
				elog(ERROR, "could not append the partial groups of streaming query \"%s\": %s",
					 q->name, SPI_result_code_string(rc));
			result->output_rows = SPI_processed;
		}
		pgs_catalog_end(&acc);
		MemoryContextSwitchTo(cxt);
	}
	tuplestore_end(partial);
}

/*
 * The exchange rows' shards and batches: for each shard's query among the
 * rows, the latest batch and the latest event time (a PgsMergeMark).
 */
static List *
ae_exchange_marks(Tuplestorestate *rows, TupleDesc desc)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	List	   *marks = NIL;

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull;
		char	   *shard = TextDatumGetCString(slot_getattr(slot, 1, &isnull));
		int64		batch = DatumGetInt64(slot_getattr(slot, 2, &isnull));
		Datum		t = slot_getattr(slot, 3, &isnull);
		PgsMergeMark *m = NULL;
		ListCell   *lc;

		foreach(lc, marks)
			if (strcmp(((PgsMergeMark *) lfirst(lc))->shard_query, shard) == 0)
				m = lfirst(lc);
		if (m == NULL)
		{
			m = palloc0(sizeof(PgsMergeMark));
			m->shard_query = shard;
			m->batch_id = batch;
			m->time_null = true;
			marks = lappend(marks, m);
		}
		m->batch_id = Max(m->batch_id, batch);
		if (!isnull && (m->time_null || DatumGetTimestampTz(t) > m->max_time))
		{
			m->max_time = DatumGetTimestampTz(t);
			m->time_null = false;
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	return marks;
}

/* the statements of a coordinator's merge: those of a batch but the partial */
static AggPlans *
ae_merge_plans(const PgsQuery *q)
{
	AggPlans   *volatile p = NULL;

	ae_merging = true;
	PG_TRY();
	{
		p = ae_plans(q);
	}
	PG_FINALLY();
	{
		ae_merging = false;
	}
	PG_END_TRY();
	return p;
}

/*
 * One merge of a distributed aggregation on the coordinator, in the
 * caller's transaction: the exchange rows "filter" selects (the batches of
 * each shard after its mark), read once in a catalog stretch through
 * Citus; their states combined per group (stream._agg_merge) into the
 * partial groups of one batch, merge_id, which then folds into the
 * coordinator's state and writes its target as any batch does.  Returns
 * the new marks (PgsMergeMark), computed from the very rows merged: the
 * caller records them in the same transaction.  watermarks, when the query
 * has an event time, gives the watermark in force before the merge as
 * "late" and the one after it as "watermark" (the caller computes it with
 * the marks: merge_watermark() is called between the read and the fold).
 */
List *
pgs_agg_merge_exchange(const PgsQuery *q, int64 merge_id, Oid exchange_relid,
					   const char *filter, int64 state_rows_before,
					   PgsMergeWatermark merge_watermark, void *arg,
					   PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	AggPlans   *p;
	Tuplestorestate *volatile rows = NULL;
	Tuplestorestate *volatile partial = NULL;
	TupleDesc	desc;
	StringInfoData sql;
	List	   *marks;
	PgsWatermarks w;
	bool		has_w;

	p = ae_merge_plans(q);
	if (p->lower != NULL || p->session || p->partial_out)
		elog(ERROR, "a merged distributed aggregation has no chain, session or partial output");
	memset(result, 0, sizeof(PgsAggResult));

	/* the exchange rows, as the extension's owner, whose table it is */
	desc = CreateTemplateTupleDesc(3 + p->partial_desc->natts);
	TupleDescInitEntry(desc, 1, "_shard_query", TEXTOID, -1, 0);
	TupleDescInitEntry(desc, 2, "_batch_id", INT8OID, -1, 0);
	TupleDescInitEntry(desc, 3, "_max_event_time", TIMESTAMPTZOID, -1, 0);
	for (int i = 0; i < p->partial_desc->natts; i++)
		TupleDescCopyEntry(desc, 4 + i, p->partial_desc, i + 1);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT e._shard_query, e._batch_id, e._max_event_time");
	for (int i = 0; i < p->partial_desc->natts; i++)
		appendStringInfo(&sql, ", e.%s",
						 quote_identifier(NameStr(TupleDescAttr(p->partial_desc, i)->attname)));
	appendStringInfo(&sql, " FROM %s e WHERE %s", pgs_qualified_relname(exchange_relid),
					 filter);
	(void) pgs_phase_switch(PGS_PHASE_READ);
	pgs_catalog_begin(&acc);
	rows = ae_run_one_off(sql.data, NULL, cxt);
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	result->input_rows = tuplestore_tuple_count(rows);
	if (result->input_rows == 0)
	{
		tuplestore_end(rows);
		return NIL;
	}
	marks = ae_exchange_marks(rows, desc);

	/* the watermarks, from the marks these rows give */
	has_w = merge_watermark(arg, marks, &w);

	/* one partial row per group, its states combined, as the owner's */
	{
		(void) pgs_phase_switch(PGS_PHASE_MERGE);
		pgs_catalog_begin(&acc);
		pgs_agg_set_call_owner(q->owner, pgs_batch_search_path(q->search_path));
		PG_TRY();
		{
			pgs_state_register(AGG_EXCHANGE_ENR, rows, desc);
			partial = ae_run_one_off(p->combine, NULL, cxt);
		}
		PG_FINALLY();
		{
			pgs_agg_set_call_owner(InvalidOid, NULL);
		}
		PG_END_TRY();
		pgs_catalog_end(&acc);
		MemoryContextSwitchTo(cxt);
	}
	tuplestore_end(rows);
	ae_fold(q, p, merge_id, partial, state_rows_before, has_w ? &w : NULL, result, cxt);
	return marks;
}

/*
 * Remove from the exchange the rows that "filter" selects: those of the
 * batches merges committed, in the merge after them.
 */
void
pgs_agg_exchange_forget(Oid exchange_relid, const char *filter)
{
	PgsCatalogAccess acc = {0};
	bool		pushed;
	int			rc;

	pgs_catalog_begin(&acc);
	pushed = pgs_ensure_snapshot();
	rc = SPI_execute(psprintf("DELETE FROM %s WHERE %s",
							  pgs_qualified_relname(exchange_relid), filter),
					 false, 0);
	if (pushed)
		PopActiveSnapshot();
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "could not remove merged rows from the exchange: %s",
			 SPI_result_code_string(rc));
	pgs_catalog_end(&acc);
}
