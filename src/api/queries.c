/*-------------------------------------------------------------------------
 *
 * queries.c
 *	  stream.drop_query, and the checks of a query's definition that
 *	  stream.start_query (start.c) and stream.alter_query (alter.c) share.
 *
 * Starting a query checks everything that can be checked once: the
 * arguments, the query's shape (query_analyze.c), the target's columns, and
 * the caller's right to read every table the query names and to insert into
 * the target.  The query then belongs to the caller, and its batches run
 * with the caller's rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "analyze/pgs_analyze.h"
#include "api/pgs_distributed_api.h"
#include "api/pgs_queries.h"
#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "exec/pgs_batch.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_drop_query);

/* what a trigger may be, under any error about one */
static void
qd_trigger_context(void *arg)
{
	errcontext("trigger \"%s\": use an interval such as '500 ms' or '10 seconds', or 'once', 'available_now' or 'continuous'",
			   (const char *) arg);
}

/*
 * Validate a trigger and return its canonical text: once, available_now,
 * continuous, or an interval from 1 ms to 366 days.
 */
char *
pgs_check_trigger(const char *trigger)
{
	ErrorContextCallback cb;
	Datum		iv;

	if (strcmp(trigger, "once") == 0 || strcmp(trigger, "available_now") == 0 ||
		strcmp(trigger, "continuous") == 0)
		return pstrdup(trigger);

	cb.callback = qd_trigger_context;
	cb.arg = (void *) trigger;
	cb.previous = error_context_stack;
	error_context_stack = &cb;
	iv = DirectFunctionCall3(interval_in, CStringGetDatum(trigger),
							 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	(void) pgs_interval_usecs(iv, "trigger", trigger, PGS_MIN_TRIGGER_USECS,
							  PGS_MAX_TRIGGER_USECS);
	error_context_stack = cb.previous;
	return pstrdup(trigger);
}

/* collect every range table entry of a query tree, for the privilege check */
static bool
qd_collect_rtes(Node *node, void *arg)
{
	List	  **rtes = (List **) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;

		*rtes = list_concat(*rtes, q->rtable);
		return query_tree_walker(q, qd_collect_rtes, arg, 0);
	}
	return expression_tree_walker(node, qd_collect_rtes, arg);
}

/*
 * An existing target must have a column of every output column's name, of
 * a type the output can be assigned to.
 */
void
pgs_check_target(Oid target_relid, Oid stream_relid, PgsAnalyzedQuery *aq)
{
	char		relkind = get_rel_relkind(target_relid);
	char	   *relname = get_rel_name(target_relid);
	ListCell   *n,
			   *t;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is not a table", relname),
				 errhint("Name an ordinary or partitioned table, or a table that does not exist yet.")));
	if (target_relid == stream_relid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target \"%s\" is the query's own stream table", relname),
				 errdetail("Each batch would read the rows the previous batch wrote, without end.")));

	forboth(n, aq->column_names, t, aq->column_types)
	{
		const char *col = lfirst(n);
		Oid			src = lfirst_oid(t);
		AttrNumber	attnum = get_attnum(target_relid, col);
		Oid			dst;

		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target table \"%s\" has no column \"%s\"", relname, col),
					 errdetail("Every output column of the streaming query is written to the target column of the same name."),
					 errhint("Add the column to the target, or rename the output column with AS.")));
		dst = get_atttype(target_relid, attnum);
		if (src != dst && !can_coerce_type(1, &src, &dst, COERCION_ASSIGNMENT))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of target table \"%s\" is of type %s, but the streaming query's output is of type %s",
							col, relname, format_type_be(dst), format_type_be(src)),
					 errhint("Cast the output column in the query, or change the target column's type.")));
	}
}

/*
 * Deduplication below an aggregation (Spark's dropDuplicatesWithinWatermark
 * then groupBy): the keys are columns of the stream, each named once, of a
 * type with a btree class, that the caller may read (the batch reads them
 * as the owner, beside the query's own columns).
 */
static void
qd_check_chain_dedup(List *dedup, const char *event_time, Oid stream_relid,
					 List **types, List **collations)
{
	ListCell   *lc;
	ListCell   *lc2;
	bool		table_select = pg_class_aclcheck(stream_relid, GetUserId(),
												 ACL_SELECT) == ACLCHECK_OK;

	foreach(lc, dedup)
	{
		const char *col = lfirst(lc);
		AttrNumber	att = get_attnum(stream_relid, col);
		Oid			type;
		int32		typmod;
		Oid			coll;

		for_each_from(lc2, dedup, foreach_current_index(lc) + 1)
			if (strcmp(col, lfirst(lc2)) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("deduplicate names column \"%s\" twice", col)));
		if (att <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("deduplicate names \"%s\", which is no column of stream table \"%s\"",
							col, get_rel_name(stream_relid)),
					 errdetail("On an aggregation, deduplication drops the stream's rows that repeat these columns before the rows are aggregated."),
					 errhint("Name columns of the stream, such as its event id.")));
		get_atttypetypmodcoll(stream_relid, att, &type, &typmod, &coll);
		if (!OidIsValid(GetDefaultOpClass(type, BTREE_AM_OID)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("deduplicating by a value of type %s is not supported",
							format_type_be(type)),
					 errhint("Deduplicate by columns of other types.")));
		if (!table_select &&
			pg_attribute_aclcheck(stream_relid, att, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for column \"%s\" of stream table \"%s\"",
							col, get_rel_name(stream_relid)),
					 errdetail("Each batch reads the deduplicated columns with the query owner's rights.")));
		*types = lappend_oid(*types, type);
		*collations = lappend_oid(*collations, coll);
	}
	if (!table_select &&
		pg_attribute_aclcheck(stream_relid, get_attnum(stream_relid, event_time),
							  GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for column \"%s\" of stream table \"%s\"",
						event_time, get_rel_name(stream_relid)),
				 errdetail("Each batch reads the event time with the query owner's rights, to deduplicate within the watermark.")));
}

/*
 * Deduplication within the watermark (Spark's dropDuplicatesWithinWatermark)
 * needs the watermark, a query without aggregation, and output columns: the
 * keys, and the event time under its own name, whose value dates each key.
 */
static void
qd_check_dedup(List *dedup, const char *event_time, Oid event_type,
			   bool aggregates, PgsAnalyzedQuery *aq, List **types,
			   List **collations)
{
	ListCell   *lc;
	ListCell   *ln;
	ListCell   *lt;
	ListCell   *lcol;
	bool		time_found = false;

	if (event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("deduplication is not supported on a stream without a watermark"),
				 errdetail("Remembering every key over all time needs state without bound."),
				 errhint("Give event_time and watermark: a key is forgotten once the watermark passes its first row's event time plus the delay.")));
	if (aggregates)
	{
		qd_check_chain_dedup(dedup, event_time, aq->stream_relid, types, collations);
		return;
	}
	/* the event time output as it is: the stream's column, read directly */
	foreach(lc, aq->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) tle->expr;

		if (tle->resjunk || tle->resname == NULL || strcmp(tle->resname, event_time) != 0)
			continue;
		if (!IsA(var, Var) || var->varlevelsup != 0 ||
			rt_fetch(var->varno, aq->query->rtable)->rtekind != RTE_RELATION ||
			rt_fetch(var->varno, aq->query->rtable)->relid != aq->stream_relid ||
			strcmp(get_attname(aq->stream_relid, var->varattno, false), event_time) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("output column \"%s\" of a deduplicating query must be the stream's event-time column itself",
							event_time),
					 errhint("Output the column as it is, and compute other values under other names.")));
	}
	forthree(ln, aq->column_names, lt, aq->column_types, lcol, aq->column_collations)
		if (strcmp(lfirst(ln), event_time) == 0)
		{
			if (lfirst_oid(lt) != event_type)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("output column \"%s\" is of type %s, not the event time's %s",
								event_time, format_type_be(lfirst_oid(lt)),
								format_type_be(event_type)),
						 errhint("Output the event-time column as it is.")));
			time_found = true;
		}
	if (!time_found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("a deduplicating query must output its event-time column \"%s\"", event_time),
				 errdetail("A key is remembered until the watermark passes its first row's event time plus the delay."),
				 errhint("Add the column to the select list under its own name.")));
	foreach(lc, dedup)
	{
		bool		found = false;

		if (list_length(dedup) > 1)
		{
			ListCell   *lc2;

			for_each_from(lc2, dedup, foreach_current_index(lc) + 1)
				if (strcmp(lfirst(lc), lfirst(lc2)) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("deduplicate names column \"%s\" twice", (char *) lfirst(lc))));
		}
		forthree(ln, aq->column_names, lt, aq->column_types, lcol, aq->column_collations)
		{
			if (strcmp(lfirst(ln), lfirst(lc)) != 0)
				continue;
			if (!OidIsValid(GetDefaultOpClass(lfirst_oid(lt), BTREE_AM_OID)))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("deduplicating by a value of type %s is not supported",
								format_type_be(lfirst_oid(lt))),
						 errhint("Deduplicate by an expression of another type, a cast to text for example.")));
			*types = lappend_oid(*types, lfirst_oid(lt));
			*collations = lappend_oid(*collations, lfirst_oid(lcol));
			found = true;
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("deduplicate names \"%s\", which is no output column of the query",
							(char *) lfirst(lc)),
					 errhint("Name output columns of the query.")));
	}
}

/*
 * An aggregation over a streaming aggregation (written as a subquery in
 * FROM): Spark refuses it outside append mode, for the upper aggregation
 * could take the lower one's rows as late (E20).  In append mode it is
 * built (agg_chain.c), but below it no deduplication: three operators.
 */
static void
qd_check_aggregated_aggregation(const char *output_mode, List *dedup)
{
	if (strcmp(output_mode, "append") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stateful operators after a streaming aggregation are supported only in append output mode"),
				 errdetail("The aggregation can emit rows older than the current watermark plus allowed late record delay, which are \"late rows\" in downstream stateful operations and these rows can be discarded.")));
	if (dedup != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("deduplication below an aggregation over a streaming aggregation is not supported yet in a streaming query"),
				 errdetail("Spark allows it; pg_streaming does not build it in this version."),
				 errhint("Split the query in two: write the first operator's rows into a stream table and run the second query over it.")));
}

/* analyze and rewrite the batch statement as a batch's plan will be made */
static List *
qd_analyze_batch_statement(const char *sql, Oid stream_relid)
{
	List	   *volatile stmts = NIL;

	pgs_rewrite_arm(sql, stream_relid, InvalidOid);
	PG_TRY();
	{
		stmts = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt,
																 raw_parser(sql, RAW_PARSE_DEFAULT)),
												   sql, pgs_batch_param_types,
												   PGS_BATCH_NPARAMS, NULL);
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	return stmts;
}

/*
 * A stream's event-time column: a column of the stream, a timestamptz or a
 * timestamp.  Returns its type.
 */
Oid
pgs_check_event_time(Oid stream_relid, const char *event_time)
{
	AttrNumber	att = get_attnum(stream_relid, event_time);
	Oid			type = att == InvalidAttrNumber ? InvalidOid :
		get_atttype(stream_relid, att);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("stream table \"%s\" has no column \"%s\"",
						get_rel_name(stream_relid), event_time),
				 errhint("Name the column that holds each row's event time.")));
	if (type != TIMESTAMPTZOID && type != TIMESTAMPOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event-time column \"%s\" is of type %s", event_time,
						format_type_be(type)),
				 errhint("An event time is a timestamptz or a timestamp (without time zone, taken as UTC).")));
	return type;
}

/*
 * Analyze the query's text as the current user with the current
 * search_path, and check its shape against the output mode, the event
 * time and the deduplication it goes with.
 */
void
pgs_check_definition(PgsDefinition *d)
{
	const char *output_mode = d->output_mode;
	const char *event_time = d->event_time;
	PgsAnalyzedQuery *aq = &d->aq;
	PgsAggShape *shape = &d->shape;

	pgs_analyze_user_query(d->query_text, aq);
	if (aq->nsides == PGS_MAX_SIDES)
	{
		bool		grouped = aq->query->hasAggs || aq->query->groupClause != NIL ||
			aq->query->groupingSets != NIL || aq->query->havingQual != NULL;

		/*
		 * A join between two streams: start_query checks its shape with the
		 * watermarks of its sides (pgs_join_analyze).  Over the join, an
		 * aggregation in append mode grouped by a window of a side's event
		 * time is built (surface.md 2.9); no other stateful operator is.
		 */
		d->event_type = InvalidOid;
		d->dedup_types = d->dedup_collations = NIL;
		d->aggregates = false;
		/* in another output mode the join itself is refused (E1) */
		if (strcmp(output_mode, "append") != 0)
			return;
		if (d->dedup != NIL || (grouped && aq->sides[1].in_sublink))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s between streams is not supported yet in a streaming query",
							d->dedup != NIL ? "deduplication over a join" : "an aggregation over a semi join"),
					 errdetail("Spark allows it; pg_streaming does not build it in this version."),
					 errhint("Split the query in two: write the join's rows into a stream table and run the second query over it.")));
		if (!grouped)
			return;
		d->aggregates = pgs_agg_describe(aq->query, aq->column_names, shape);
		if (!d->aggregates)
			return;
		shape->time_key = -1;
		for (int side = 0; d->sides != NULL && side < PGS_MAX_SIDES; side++)
			if (d->sides[side].event_time != NULL && shape->time_key < 0)
				pgs_agg_find_time_key(shape, aq->query, d->sides[side].relid,
									  d->sides[side].event_time);
		if (shape->session_call)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a session window over a join between streams is not supported yet in a streaming query"),
					 errdetail("Spark allows it; pg_streaming does not build it in this version."),
					 errhint("Group by stream.tumble or stream.hop of a side's event time.")));
		/* E21: its windows close by the join's output watermark only */
		if (shape->time_key < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("append output mode is not supported for a streaming aggregation without a watermark"),
					 errdetail("In append mode a row is written once and never changed; a group's result over a join is final only when the join's output watermark has passed its window."),
					 errhint("Group by a window of a side's event-time column (stream.tumble or stream.hop over it), or by the column itself, and give that side a watermark.")));
		return;
	}
	d->chain = false;
	if (aq->aggregated_aggregation)
		qd_check_aggregated_aggregation(output_mode, d->dedup);
	d->aggregates = pgs_agg_describe(aq->query, aq->column_names, shape);
	d->event_type = InvalidOid;
	d->dedup_types = d->dedup_collations = NIL;
	if (event_time)
	{
		Oid			type = pgs_check_event_time(aq->stream_relid, event_time);

		if (!d->aggregates && d->dedup == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a watermark is used by streaming aggregations, deduplication and joins between streams only"),
					 errdetail("It closes event-time windows, forgets the keys of deduplication, or ends what a join keeps of a stream, and bounds their state; any other query keeps no state."),
					 errhint("Drop the watermark, aggregate over windows of the event time (stream.tumble, stream.hop), or deduplicate.")));
		if (d->aggregates)
			pgs_agg_find_time_key(shape, aq->query, aq->stream_relid, event_time);
		d->event_type = type;
	}
	if (aq->aggregated_aggregation && d->aggregates)
	{
		int			rti = pgs_agg_chain_find(aq->query, aq->stream_relid);

		if (rti == 0)
			elog(ERROR, "the streaming aggregation below the query's aggregation was not found");
		/* the upper's windows close by the lower's watermark: E21 below */
		pgs_agg_chain_describe(aq->query, rti, aq->stream_relid, event_time,
							   &d->lower_shape, shape, true);
		d->chain = true;
	}
	if (d->dedup != NIL)
		qd_check_dedup(d->dedup, event_time, d->event_type, d->aggregates, aq,
					   &d->dedup_types, &d->dedup_collations);
	if (d->aggregates && shape->session_call)
	{
		if (!shape->session)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a session window needs the event-time column and a watermark"),
					 errdetail("Sessions merge by their rows' event times, and close when the watermark passes their end."),
					 errhint("Give event_time and watermark, and group by stream.session(<event-time column>, gap).")));
		if (list_length(shape->keys) < 2)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("global aggregation with session window in streaming query is not supported"),
					 errhint("Group by another key beside the session, such as the user.")));
		if (strcmp(output_mode, "update") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("update output mode not supported for session window"),
					 errdetail("A batch can merge a key's sessions into one with another start: the rows written before would no longer be groups."),
					 errhint("Use output_mode => 'append' (each session written once, when it closes) or 'complete'.")));
	}
	if (d->aggregates && strcmp(output_mode, "append") == 0 && event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("append output mode is not supported for a streaming aggregation without a watermark"),
				 errdetail("In append mode a row is written once and never changed; a group's result is final only when a watermark on its event time has passed its window."),
				 errhint("Use output_mode => 'update' or 'complete', or group by a window of the event time (stream.tumble or stream.hop) and give event_time and watermark.")));
	if (d->aggregates && strcmp(output_mode, "append") == 0 && event_time != NULL &&
		shape->time_key < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("append output mode is not supported for a streaming aggregation without a watermark"),
				 errdetail("In append mode a row is written once and never changed; a group's result is final only when a watermark on its event time has passed its window."),
				 errhint("Group by a window of the event-time column (stream.tumble or stream.hop over it), or by the column itself.")));
	/*
	 * In update mode a watermark drops late rows and closes groups only
	 * through a grouping key on the event time; without one it would be
	 * accepted and do nothing, silently.
	 */
	if (d->aggregates && event_time != NULL && d->dedup == NIL &&
		shape->time_key < 0 && strcmp(output_mode, "update") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the watermark of this streaming aggregation would have no effect"),
				 errdetail("No grouping expression is the event-time column \"%s\" or a window of it, so no group would ever close and no row would be late.",
						   event_time),
				 errhint("Group by stream.tumble(%s, size) or stream.hop(%s, size, slide), in the select list or in FROM, or drop event_time and watermark.",
						 event_time, event_time)));
	if (d->aggregates && strcmp(output_mode, "update") == 0 && (aq->sorted || aq->limited))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ORDER BY and LIMIT over a streaming aggregation need output mode \"complete\""),
				 errdetail("In update mode a batch writes only the groups it changed; an order or a top-N is a property of the whole result."),
				 errhint("Use output_mode => 'complete', or drop ORDER BY and LIMIT and order when reading the target.")));
	if (!d->aggregates && strcmp(output_mode, "complete") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("output mode \"complete\" needs an aggregation"),
				 errdetail("Without aggregation the result over all rows is the union of all batches, which append mode writes."),
				 errhint("Use output_mode => 'append'.")));
}

/* does a keyed (upserted) target need a unique key, and over which keys? */
bool
pgs_keyed_target(const PgsDefinition *d)
{
	return d->aggregates && strcmp(d->output_mode, "append") != 0 && !d->shape.session &&
		!(strcmp(d->output_mode, "complete") == 0 &&
		  (d->shape.limit_count || d->shape.limit_offset));
}

/*
 * The upsert key of a query without aggregation: named output columns, each
 * once, of types with a btree class; returned as a pseudo shape whose keys
 * pgs_agg_prepare_target checks the target's unique key against.
 */
void
pgs_check_key(List *key, const PgsDefinition *d, PgsAggShape *shape)
{
	ListCell   *lc;

	if (d->aggregates)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key is for queries without aggregation"),
				 errdetail("A streaming aggregation's target is keyed by its grouping columns."),
				 errhint("Drop the key argument.")));
	if (strcmp(d->output_mode, "update") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key needs output mode \"update\""),
				 errdetail("In append mode every row is inserted; in update mode the target is upserted by the key."),
				 errhint("Use output_mode => 'update'.")));
	memset(shape, 0, sizeof(*shape));
	shape->time_key = -1;
	foreach(lc, key)
	{
		const char *col = lfirst(lc);
		int			i = 0;
		ListCell   *ln;
		PgsAggKey  *k = NULL;

		if (list_length(key) > 1)
		{
			ListCell   *lc2;

			for_each_from(lc2, key, foreach_current_index(lc) + 1)
				if (strcmp(col, lfirst(lc2)) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("key names column \"%s\" twice", col)));
		}
		foreach(ln, d->aq.column_names)
		{
			if (strcmp(lfirst(ln), col) == 0)
			{
				k = palloc0(sizeof(PgsAggKey));
				k->type = list_nth_oid(d->aq.column_types, i);
				k->collation = list_nth_oid(d->aq.column_collations, i);
				k->output = i;
			}
			i++;
		}
		if (k == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("key names \"%s\", which is no output column of the query", col),
					 errhint("Name output columns of the query.")));
		if (!OidIsValid(GetDefaultOpClass(k->type, BTREE_AM_OID)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a key of type %s is not supported", format_type_be(k->type)),
					 errhint("Key by an expression of another type, a cast to text for example.")));
		shape->keys = lappend(shape->keys, k);
	}
}

/* analyze and check the batch statement as the caller: its rights */
void
pgs_check_rights(const char *insert_sql, Oid stream_relid, Oid target_relid,
				bool aggregates)
{
	List	   *stmts;
	List	   *rtes = NIL;
	ListCell   *lc;

	stmts = qd_analyze_batch_statement(insert_sql, stream_relid);
	foreach(lc, stmts)
		(void) qd_collect_rtes(lfirst(lc), &rtes);
	(void) ExecCheckRTPerms(rtes, true);

	/* an aggregation also updates and deletes the target's rows */
	if (aggregates &&
		pg_class_aclmask(target_relid, GetUserId(), ACL_SELECT | ACL_UPDATE | ACL_DELETE,
						 ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE | ACL_DELETE))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", get_rel_name(target_relid)),
				 errdetail("A streaming aggregation selects, inserts, updates and deletes the rows of its target.")));
}

/*
 * Remove a query and its checkpoint.  The row lock waits for a batch in
 * flight to finish.
 */
Datum
stream_drop_query(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		if_exists = PG_GETARG_BOOL(1);
	PgsQuery	q;

	pgs_require_writable();
	if (!pgs_query_read(name, 0, PGS_QUERY_LOCK, &q))
	{
		bool		changed;

		/* a distributed query: its shards' queries go once this commits */
		if (pgs_dist_manage(name, "dropped", &changed))
			PG_RETURN_BOOL(true);
		if (!if_exists)
			pgs_query_report_missing(name);
		ereport(NOTICE,
				(errmsg("streaming query \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	pgs_query_check_access(&q);
	pgs_query_delete(q.query_id);
	pgs_notify_scheduler_at_commit();
	PG_RETURN_BOOL(true);
}
