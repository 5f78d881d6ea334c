/*-------------------------------------------------------------------------
 *
 * queries.c
 *	  stream.start_query and stream.drop_query.
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

#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_type_d.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "parser/parse_func.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_coerce.h"
#include "parser/parser.h"
#include "parser/scansup.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

#include "analyze/pgs_analyze.h"
#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "exec/pgs_batch.h"
#include "pg_streaming.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_start_query);
PG_FUNCTION_INFO_V1(stream_drop_query);
PG_FUNCTION_INFO_V1(stream_alter_query);

/* the bounds of an interval trigger */
#define QD_MIN_TRIGGER_USECS	((int64) 1000)
#define QD_MAX_TRIGGER_USECS	((int64) 366 * USECS_PER_DAY)

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
	(void) pgs_interval_usecs(iv, "trigger", trigger, QD_MIN_TRIGGER_USECS,
							  QD_MAX_TRIGGER_USECS);
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
 * Create the target table with the query's output columns, as the caller.
 */
static Oid
qd_create_target(RangeVar *rv, const char *target, PgsAnalyzedQuery *aq)
{
	StringInfoData buf;
	ListCell   *n,
			   *t,
			   *m,
			   *c;
	bool		first = true;
	int			rc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE TABLE %s (",
					 rv->schemaname ?
					 quote_qualified_identifier(rv->schemaname, rv->relname) :
					 quote_identifier(rv->relname));
	forfour(n, aq->column_names, t, aq->column_types, m, aq->column_typmods,
			c, aq->column_collations)
	{
		appendStringInfo(&buf, "%s%s %s", first ? "" : ", ",
						 quote_identifier(lfirst(n)),
						 format_type_with_typemod(lfirst_oid(t), lfirst_int(m)));
		if (OidIsValid(lfirst_oid(c)) && lfirst_oid(c) != DEFAULT_COLLATION_OID &&
			lfirst_oid(c) != get_typcollation(lfirst_oid(t)))
			appendStringInfo(&buf, " COLLATE %s",
							 generate_collation_name(lfirst_oid(c)));
		first = false;
	}
	appendStringInfoChar(&buf, ')');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(buf.data, false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "could not create target table %s: %s", target,
			 SPI_result_code_string(rc));
	SPI_finish();
	CommandCounterIncrement();
	return RangeVarGetRelid(rv, NoLock, false);
}

/*
 * An existing target must have a column of every output column's name, of
 * a type the output can be assigned to.
 */
static void
qd_check_target(Oid target_relid, Oid stream_relid, PgsAnalyzedQuery *aq)
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
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("deduplication of a streaming aggregation's rows is not supported"),
				 errhint("Deduplicate into a target with one query, and aggregate the target's rows with another.")));
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

/* a text[] argument naming columns: not empty, no NULL */
static List *
qd_column_list(ArrayType *array, const char *argname, const char *hint)
{
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			i;
	List	   *result = NIL;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s names no column", argname),
				 errhint("%s", hint)));
	for (i = 0; i < n; i++)
	{
		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not name a NULL column", argname)));
		result = lappend(result, TextDatumGetCString(elems[i]));
	}
	return result;
}

/*
 * What a query's definition is checked with, once at start and again when
 * alter_query changes its text.
 */
typedef struct QdDefinition
{
	/* given */
	const char *query_text;
	const char *output_mode;
	const char *event_time;		/* NULL without */
	List	   *dedup;			/* char * */
	/* found */
	PgsAnalyzedQuery aq;
	bool		aggregates;
	PgsAggShape shape;
	Oid			event_type;
	List	   *dedup_types;
	List	   *dedup_collations;
} QdDefinition;

/*
 * Analyze the query's text as the current user with the current
 * search_path, and check its shape against the output mode, the event
 * time and the deduplication it goes with.
 */
static void
qd_check_definition(QdDefinition *d)
{
	const char *output_mode = d->output_mode;
	const char *event_time = d->event_time;
	PgsAnalyzedQuery *aq = &d->aq;
	PgsAggShape *shape = &d->shape;

	pgs_analyze_user_query(d->query_text, aq);
	d->aggregates = pgs_agg_describe(aq->query, aq->column_names, shape);
	d->event_type = InvalidOid;
	d->dedup_types = d->dedup_collations = NIL;
	if (event_time)
	{
		AttrNumber	att = get_attnum(aq->stream_relid, event_time);
		Oid			type = att == InvalidAttrNumber ? InvalidOid :
			get_atttype(aq->stream_relid, att);

		if (att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("stream table \"%s\" has no column \"%s\"",
							get_rel_name(aq->stream_relid), event_time),
					 errhint("Name the column that holds each row's event time.")));
		if (type != TIMESTAMPTZOID && type != TIMESTAMPOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("event-time column \"%s\" is of type %s", event_time,
							format_type_be(type)),
					 errhint("An event time is a timestamptz or a timestamp (without time zone, taken as UTC).")));
		if (!d->aggregates && d->dedup == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a watermark is used by streaming aggregations and deduplication only"),
					 errdetail("It closes event-time windows, or forgets the keys of deduplication, and bounds their state; any other query keeps no state."),
					 errhint("Drop event_time and watermark, aggregate over windows of the event time (stream.tumble, stream.hop), or deduplicate.")));
		if (d->aggregates)
			pgs_agg_find_time_key(shape, aq->query, aq->stream_relid, event_time);
		d->event_type = type;
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
static bool
qd_keyed_target(const QdDefinition *d)
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
static void
qd_check_key(List *key, const QdDefinition *d, PgsAggShape *shape)
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

/* the target's primary key columns, when it has one, else NIL */
static List *
qd_primary_key(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Oid			pk = RelationGetPrimaryKeyIndex(rel);
	List	   *cols = NIL;

	if (OidIsValid(pk))
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(pk));
		Form_pg_index ix = (Form_pg_index) GETSTRUCT(tup);
		int			i;

		for (i = 0; i < ix->indnkeyatts; i++)
			cols = lappend(cols, get_attname(relid, ix->indkey.values[i], false));
		ReleaseSysCache(tup);
	}
	table_close(rel, AccessShareLock);
	return cols;
}

/*
 * A foreach_batch procedure: a procedure taking the batch id (bigint), which
 * the caller may execute.
 */
static Oid
qd_check_procedure(const char *name)
{
	List	   *names = stringToQualifiedNameList(name);
	LOCAL_FCINFO(fcinfo, 1);
	Datum		found;
	Oid			proc;

	/* to_regprocedure answers NULL where there is none */
	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = CStringGetTextDatum(psprintf("%s(pg_catalog.int8)",
														 NameListToQuotedString(names)));
	fcinfo->args[0].isnull = false;
	found = to_regprocedure(fcinfo);
	proc = fcinfo->isnull ? InvalidOid : DatumGetObjectId(found);

	if (!OidIsValid(proc))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("procedure %s(bigint) does not exist", NameListToString(names)),
				 errdetail("A foreach_batch procedure takes the batch id, and reads the batch's rows from the query's table in schema stream_batch."),
				 errhint("Create it: CREATE PROCEDURE %s(batch_id bigint) ...", NameListToString(names))));
	if (get_func_prokind(proc) != PROKIND_PROCEDURE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a procedure", format_procedure(proc)),
				 errhint("Create a procedure: CREATE PROCEDURE %s(batch_id bigint) ...",
						 NameListToString(names))));
	if (pg_proc_aclcheck(proc, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_PROCEDURE, get_func_name(proc));
	return proc;
}

/*
 * A foreach_batch query's table of batch rows, stream_batch.<query name>,
 * with the query's output columns: created by the extension and given to the
 * caller, unlogged (each batch fills it anew).
 */
static Oid
qd_create_batch_table(const char *name, PgsAnalyzedQuery *aq, const PgsAggShape *keys)
{
	StringInfoData buf;
	ListCell   *n,
			   *t,
			   *m,
			   *c;
	char	   *qualified;
	Oid			relid;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	forfour(n, aq->column_names, t, aq->column_types, m, aq->column_typmods,
			c, aq->column_collations)
	{
		appendStringInfo(&buf, "%s%s %s", buf.len > 1 ? ", " : "",
						 quote_identifier(lfirst(n)),
						 format_type_extended(lfirst_oid(t), lfirst_int(m),
											  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
		if (OidIsValid(lfirst_oid(c)) && lfirst_oid(c) != get_typcollation(lfirst_oid(t)))
			appendStringInfo(&buf, " COLLATE %s", pgs_agg_collation_name(lfirst_oid(c)));
	}
	/* a keyed aggregation's rows are upserted by its keys */
	if (keys != NULL && keys->keys != NIL)
	{
		ListCell   *lk;

		appendStringInfoString(&buf, ", UNIQUE NULLS NOT DISTINCT (");
		foreach(lk, keys->keys)
			appendStringInfo(&buf, "%s%s", foreach_current_index(lk) > 0 ? ", " : "",
							 quote_identifier(list_nth(aq->column_names,
													   ((PgsAggKey *) lfirst(lk))->output)));
		appendStringInfoChar(&buf, ')');
	}
	appendStringInfoChar(&buf, ')');
	relid = pgs_batch_table_create(name, buf.data, GetUserId(), &qualified);
	return relid;
}

/* analyze and check the batch statement as the caller: its rights */
static void
qd_check_rights(const char *insert_sql, Oid stream_relid, Oid target_relid,
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
 * The arguments of stream.start_query by position.  Every version's install
 * script declares start_query over the same C symbol, each with the
 * arguments it knows, so a call has only the first PG_NARGS() of them until
 * ALTER EXTENSION ... UPDATE:
 *
 *	0.1			 6 arguments: name, query, target, output_mode, trigger,
 *				   max_rows_per_batch
 *	0.2, 0.3	 7: and starting_from
 *	0.4			10: and event_time, watermark, deduplicate
 *	0.5, 0.6	12: and key, foreach_batch (target may then be NULL)
 */
#define QD_START_NAME			0
#define QD_START_QUERY			1
#define QD_START_TARGET			2
#define QD_START_OUTPUT_MODE	3
#define QD_START_TRIGGER		4
#define QD_START_MAX_ROWS		5
#define QD_START_STARTING_FROM	6
#define QD_START_EVENT_TIME		7
#define QD_START_WATERMARK		8
#define QD_START_DEDUPLICATE	9
#define QD_START_KEY			10
#define QD_START_FOREACH_BATCH	11

/*
 * The arguments of one call of stream.start_query, read and each checked on
 * its own.  A "given" flag is false where the argument was NULL or where the
 * signature of the installed catalog has no such argument; the field then
 * holds the default.
 */
typedef struct PgsStartArgs
{
	char	   *name;
	char	   *query_text;
	bool		target_given;	/* else a foreach_batch procedure is given */
	char	   *target;
	char	   *output_mode;	/* append, update or complete */
	char	   *trigger;		/* canonical, as pgs_check_trigger returns it */
	bool		max_rows_given;
	int32		max_rows;		/* 0 for no cap */
	const char *starting_from;	/* earliest or latest */
	bool		event_time_given;	/* and the watermark with it */
	char	   *event_time;
	int64		watermark_usecs;	/* -1 without */
	bool		dedup_given;
	List	   *dedup;			/* char * */
	bool		key_given;
	List	   *key;			/* char * */
	bool		foreach_batch_given;
	char	   *foreach_batch;	/* the procedure's name as written */
} PgsStartArgs;

/*
 * What starting a query finds and makes, from the checks of its definition
 * to its target.
 */
typedef struct QdStart
{
	QdDefinition def;			/* the query's analysis and shape */
	Oid			foreach_proc;	/* InvalidOid without */
	bool		keyed;			/* upserted by key, over key_shape */
	List	   *key;			/* char *: the key given, or the target's
								 * primary key */
	PgsAggShape key_shape;
	Oid			target_relid;
	char	   *target;			/* as named, or the batch table's name */
	bool		created;		/* the target was created by this call */
} QdStart;

/* is the argument in the caller's signature, and not NULL? */
static bool
qd_arg_given(FunctionCallInfo fcinfo, int position)
{
	return PG_NARGS() > position && !PG_ARGISNULL(position);
}

/*
 * Read the arguments of stream.start_query, the one place that knows their
 * positions and the older signatures, and check each argument's own value.
 * Checks between arguments that only ask which ones are given are made here
 * too, in the order the users of older versions have always seen them.
 */
static void
qd_start_args_read(FunctionCallInfo fcinfo, PgsStartArgs *a)
{
	static const char *const required[] = {"name", "query", "target",
	"output_mode", "trigger"};
	int			i;

	StaticAssertStmt(lengthof(required) == QD_START_TRIGGER + 1,
					 "every argument up to trigger is named");
	if (PG_NARGS() <= QD_START_MAX_ROWS || PG_NARGS() > QD_START_FOREACH_BATCH + 1)
		elog(ERROR, "stream.start_query called with %d arguments", PG_NARGS());

	memset(a, 0, sizeof(*a));
	a->starting_from = "earliest";
	a->watermark_usecs = -1;
	a->foreach_batch_given = qd_arg_given(fcinfo, QD_START_FOREACH_BATCH);

	for (i = QD_START_NAME; i <= QD_START_TRIGGER; i++)
		if (PG_ARGISNULL(i) && !(i == QD_START_TARGET && a->foreach_batch_given))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"%s\" of stream.start_query must not be null",
							required[i]),
					 i == QD_START_TARGET ? errhint("Name the table the query writes, or give a foreach_batch procedure.") : 0));
	a->name = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_NAME));
	a->query_text = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_QUERY));
	a->target_given = !PG_ARGISNULL(QD_START_TARGET);
	if (a->target_given)
		a->target = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_TARGET));
	a->output_mode = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_OUTPUT_MODE));
	a->trigger = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_TRIGGER));
	if (a->name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query name must not be empty")));

	/* NULL where declared is refused: it has a default */
	if (PG_NARGS() > QD_START_STARTING_FROM)
	{
		if (PG_ARGISNULL(QD_START_STARTING_FROM))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"starting_from\" of stream.start_query must not be null")));
		a->starting_from = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_STARTING_FROM));
		if (strcmp(a->starting_from, "earliest") != 0 &&
			strcmp(a->starting_from, "latest") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid starting_from \"%s\"", a->starting_from),
					 errhint("Use 'earliest' for every row the stream holds, or 'latest' for the rows committed after the query starts.")));
	}

	if (qd_arg_given(fcinfo, QD_START_EVENT_TIME) !=
		qd_arg_given(fcinfo, QD_START_WATERMARK))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_time and watermark go together"),
				 errhint("Name the stream's event-time column with event_time, and how late its rows may come with watermark, such as '10 minutes'.")));
	a->event_time_given = qd_arg_given(fcinfo, QD_START_EVENT_TIME);
	if (a->event_time_given)
	{
		Datum		watermark = PG_GETARG_DATUM(QD_START_WATERMARK);

		a->event_time = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_EVENT_TIME));
		a->watermark_usecs = pgs_interval_usecs(watermark, "watermark",
												DatumGetCString(DirectFunctionCall1(interval_out,
																					watermark)),
												0, QD_MAX_TRIGGER_USECS);
	}
	a->dedup_given = qd_arg_given(fcinfo, QD_START_DEDUPLICATE);
	if (a->dedup_given)
		a->dedup = qd_column_list(PG_GETARG_ARRAYTYPE_P(QD_START_DEDUPLICATE),
								  "deduplicate",
								  "Name the output columns whose values make a row a duplicate, such as '{event_id}'.");

	a->max_rows_given = !PG_ARGISNULL(QD_START_MAX_ROWS);
	if (a->max_rows_given)
	{
		a->max_rows = PG_GETARG_INT32(QD_START_MAX_ROWS);
		if (a->max_rows <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_rows_per_batch must be positive, not %d", a->max_rows),
					 errhint("Leave it NULL for batches of any size.")));
	}
	if (strcmp(a->output_mode, "append") != 0 && strcmp(a->output_mode, "update") != 0 &&
		strcmp(a->output_mode, "complete") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid output_mode \"%s\"", a->output_mode),
				 errhint("Use 'append', 'update' or 'complete'.")));
	a->trigger = pgs_check_trigger(a->trigger);

	a->key_given = qd_arg_given(fcinfo, QD_START_KEY);
	if (a->key_given)
		a->key = qd_column_list(PG_GETARG_ARRAYTYPE_P(QD_START_KEY), "key",
								"Name the output columns the target is upserted by, such as '{id}'.");
	if (a->foreach_batch_given)
	{
		if (a->target_given)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a foreach_batch query has no target"),
					 errdetail("Its batches' rows are in the table stream_batch.%s, which the extension creates, for the procedure to read.",
							   quote_identifier(a->name)),
					 errhint("Leave target out, and write the rows where they belong from the procedure.")));
		a->foreach_batch = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_FOREACH_BATCH));
	}
}

/*
 * Check what the arguments ask for together: the foreach_batch procedure,
 * the catalog's version, the query's shape (analyzed as the caller, with
 * the caller's search_path) against its output mode, event time and
 * deduplication, and the upsert key.  Nothing is created yet.
 */
static void
qd_start_validate(const PgsStartArgs *a, QdStart *s)
{
	QdDefinition *d = &s->def;

	s->foreach_proc = InvalidOid;
	if (a->foreach_batch_given)
		s->foreach_proc = qd_check_procedure(a->foreach_batch);

	if (!standard_conforming_strings)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a streaming query's text is read with standard_conforming_strings on"),
				 errhint("SET standard_conforming_strings = on, and write backslashes in literals as E'...' strings.")));
	if ((a->key_given || OidIsValid(s->foreach_proc)) && !pgs_catalog_has_keys())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key and foreach_batch need the catalog of pg_streaming 0.5"),
				 errhint("Run ALTER EXTENSION pg_streaming UPDATE.")));

	memset(d, 0, sizeof(*d));
	d->query_text = a->query_text;
	d->output_mode = a->output_mode;
	d->event_time = a->event_time;
	d->dedup = a->dedup;
	qd_check_definition(d);
	if ((d->aggregates || a->event_time != NULL || a->dedup != NIL) &&
		!pgs_catalog_has_state())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming aggregations, watermarks and deduplication need the catalog of pg_streaming 0.4"),
				 errdetail("This database's catalog is of an older version than the library's; it has no place for a query's state."),
				 errhint("Run ALTER EXTENSION pg_streaming UPDATE.")));

	s->keyed = a->key_given;
	s->key = a->key;
	if (s->keyed)
		qd_check_key(s->key, d, &s->key_shape);
	if (OidIsValid(s->foreach_proc) && a->key_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a foreach_batch query has no key"),
				 errdetail("Its batch table holds only the batch's rows, written anew by each batch."),
				 errhint("Upsert by the key in the procedure, with MERGE or INSERT ... ON CONFLICT.")));
}

/*
 * The target: a foreach_batch query's batch table, created; else the table
 * named, created with the query's columns when missing, else checked.  A
 * keyed target gets or must have its unique key.  Without aggregation,
 * update mode upserts by the key given, or by the target's primary key;
 * without either it appends (Spark's rule).
 */
static void
qd_start_target(const PgsStartArgs *a, QdStart *s)
{
	QdDefinition *d = &s->def;

	if (OidIsValid(s->foreach_proc))
	{
		s->target_relid = qd_create_batch_table(a->name, &d->aq,
												qd_keyed_target(d) ? &d->shape : NULL);
		s->created = false;
		s->target = pgs_qualified_relname(s->target_relid);
	}
	else
	{
		RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(a->target));

		s->target = a->target;
		s->target_relid = RangeVarGetRelid(rv, NoLock, true);
		s->created = !OidIsValid(s->target_relid);
		if (!s->created)
			qd_check_target(s->target_relid, d->aq.stream_relid, &d->aq);
		else
			s->target_relid = qd_create_target(rv, a->target, &d->aq);
	}
	if (qd_keyed_target(d))
		pgs_agg_prepare_target(s->target_relid, s->created, &d->shape, d->aq.column_names,
							   a->output_mode, false);

	if (!d->aggregates && !OidIsValid(s->foreach_proc) && strcmp(a->output_mode, "update") == 0 &&
		!s->keyed && !s->created && pgs_catalog_has_keys())
	{
		s->key = qd_primary_key(s->target_relid);
		if (s->key != NIL)
		{
			ListCell   *lc;

			foreach(lc, s->key)
				if (!pgs_list_has_str(d->aq.column_names, lfirst(lc)))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
							 errmsg("the primary key column \"%s\" of target table \"%s\" is no output column of the query",
									(char *) lfirst(lc), get_rel_name(s->target_relid)),
							 errdetail("In update mode the target is upserted by its primary key."),
							 errhint("Output the column, or name another key with key => '{...}'.")));
			qd_check_key(s->key, d, &s->key_shape);
			s->keyed = true;
		}
	}
	if (s->keyed)
		pgs_agg_prepare_target(s->target_relid, s->created, &s->key_shape, d->aq.column_names,
							   a->output_mode, true);

	/* a temporary target would vanish with a session, under the query */
	if (get_rel_persistence(s->target_relid) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is a temporary table", s->target),
				 errdetail("A temporary table goes with its session, while the query goes on."),
				 errhint("Name a permanent or unlogged table.")));
}

/*
 * Register the checked query as the caller's: its catalog row with the
 * caller's search_path, its state table, its view, its start at the latest
 * rows when asked, and a word to the scheduler at commit.
 */
static int64
qd_start_register(const PgsStartArgs *a, const QdStart *s)
{
	const QdDefinition *d = &s->def;
	PgsQuery	q;
	int64		query_id;

	memset(&q, 0, sizeof(q));
	q.name = a->name;
	q.owner = GetUserId();
	q.query_text = a->query_text;
	q.search_path = pstrdup(GetConfigOption("search_path", false, false));
	q.stream_relid = d->aq.stream_relid;
	q.target_relid = s->target_relid;
	q.target_columns = d->aq.column_names;
	q.output_mode = a->output_mode;
	q.trigger = a->trigger;
	q.max_rows = a->max_rows;
	q.event_time = a->event_time;
	q.watermark_usecs = a->watermark_usecs;
	q.dedup_columns = a->dedup;
	q.key_columns = s->key;
	q.foreach_batch = s->foreach_proc;
	query_id = pgs_query_insert(&q);
	if (d->aggregates)
	{
		q.state_relid = pgs_agg_create_state(a->name, q.owner, &d->shape);
		pgs_query_set_state(query_id, q.state_relid);
	}
	else if (a->dedup != NIL)
	{
		q.state_relid = pgs_dedup_create_state(a->name, d->dedup_types, d->dedup_collations,
											   d->event_type);
		pgs_query_set_state(query_id, q.state_relid);
	}
	if (pgs_catalog_has_keys())
	{
		q.query_id = query_id;
		pgs_query_define_view(&q, d->aq.query);
	}
	if (strcmp(a->starting_from, "latest") == 0)
	{
		q.query_id = query_id;
		pgs_start_at_latest(&q);
	}

	pgs_notify_scheduler_at_commit();
	pgs_notice_if_unscheduled(a->name);
	return query_id;
}

/*
 * stream.start_query: read the arguments, check them and the query, create
 * or check the target, check the caller's rights to every table the batch
 * statement reads or writes, and register the query as the caller's.
 */
Datum
stream_start_query(PG_FUNCTION_ARGS)
{
	PgsStartArgs a;
	QdStart		s;

	pgs_require_writable();
	qd_start_args_read(fcinfo, &a);
	memset(&s, 0, sizeof(s));
	qd_start_validate(&a, &s);
	qd_start_target(&a, &s);

	/*
	 * Analyze the batch statement as a batch will, and check the caller's
	 * right to every table it reads and to the target.
	 */
	qd_check_rights(pgs_compose_insert(a.query_text, s.target_relid, s.def.aq.column_names,
									   s.key),
					s.def.aq.stream_relid, s.target_relid, s.def.aggregates);

	PG_RETURN_INT64(qd_start_register(&a, &s));
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
qd_check_same_state(const PgsQuery *q, const QdDefinition *d)
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

	if (q->dedup_columns != NIL)
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
				 q->dedup_columns != NIL ?
				 errdetail("A deduplicating query's deduplicated columns and event time, and the tables they read in their order, are its state's; filters and other columns may change.") :
				 errdetail("A streaming aggregation's grouping keys and aggregates, and the tables they read in their order, are its state's; only the select list over them, HAVING, filters and ORDER BY/LIMIT may change."),
				 errhint("Start a new query with the new text, with starting_from => 'latest' to leave the rows already processed.")));
}

/*
 * The arguments of stream.alter_query by position: its one signature, since
 * 0.5 (an older catalog has no alter_query).
 */
#define QD_ALTER_NAME			0
#define QD_ALTER_QUERY			1
#define QD_ALTER_TRIGGER		2
#define QD_ALTER_MAX_ROWS		3

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
} PgsAlterArgs;

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
	if (!a->query_given && !a->trigger_given && !a->max_rows_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream.alter_query changes nothing"),
				 errhint("Give the query's new text with query =>, its trigger with trigger =>, or its cap with max_rows_per_batch => (0 for none).")));
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
 * and cap to the row read, once checked.
 */
static void
qd_alter_validate(const PgsAlterArgs *a, PgsQuery *q)
{
	if (!pgs_query_read(a->name, 0, PGS_QUERY_LOCK, q))
		pgs_query_report_missing(a->name);
	pgs_query_check_access(q);
	if (!pgs_catalog_has_keys())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stream.alter_query needs the catalog of pg_streaming 0.5"),
				 errhint("Run ALTER EXTENSION pg_streaming UPDATE.")));

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
}

/*
 * The new text's definition against the query's: the same stream, whether
 * it aggregates, and the same state.
 */
static void
qd_alter_check_definition(const PgsQuery *q, QdDefinition *d)
{
	bool		aggregates = OidIsValid(q->state_relid) && q->dedup_columns == NIL;

	qd_check_definition(d);
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
qd_alter_check_target(const PgsQuery *q, QdDefinition *d)
{
	List	   *key = q->key_columns;

	qd_check_target(q->target_relid, q->stream_relid, &d->aq);
	if (qd_keyed_target(d))
		pgs_agg_prepare_target(q->target_relid, false, &d->shape, d->aq.column_names,
							   q->output_mode, false);
	if (key != NIL)
	{
		PgsAggShape key_shape;

		qd_check_key(key, d, &key_shape);
		pgs_agg_prepare_target(q->target_relid, false, &key_shape, d->aq.column_names,
							   q->output_mode, true);
	}
	qd_check_rights(pgs_compose_insert(d->query_text, q->target_relid, d->aq.column_names, key),
					q->stream_relid, q->target_relid, d->aggregates);
}

/*
 * Check a new text as the owner sees it, with the caller's search_path;
 * what the owner's code sets while it is checked is undone.
 */
static void
qd_alter_check_text(const PgsAlterArgs *a, const PgsQuery *q, QdDefinition *d)
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
	QdDefinition d;
	Query	   *new_query = NULL;

	pgs_require_writable();
	qd_alter_args_read(fcinfo, &a);
	qd_alter_validate(&a, &q);
	if (a.query_given)
	{
		qd_alter_check_text(&a, &q, &d);
		q.query_text = pstrdup(d.query_text);
		q.search_path = a.search_path;
		q.target_columns = d.aq.column_names;
		new_query = d.aq.query;
	}
	qd_alter_register(&q, new_query);
	PG_RETURN_VOID();
}
