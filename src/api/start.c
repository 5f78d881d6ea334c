/*-------------------------------------------------------------------------
 *
 * start.c
 *	  stream.start_query: its arguments, their validation, the target and
 *	  the query's registration.
 *
 * Every version's install script declares start_query over the one C
 * symbol, so a call may bring the arguments of an older signature: only
 * qd_start_args_read knows their positions and counts.  Nothing is created
 * before every check that needs no target has passed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "parser/scansup.h"
#include "nodes/nodeFuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "analyze/pgs_analyze.h"
#include "analyze/pgs_join.h"
#include "api/pgs_distributed_api.h"
#include "api/pgs_queries.h"
#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "exec/pgs_batch.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"
#include "state/pgs_join_exec.h"
#include "storage/pgs_retention.h"

PG_FUNCTION_INFO_V1(stream_start_query);

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

/* the same, for a merged aggregation's target on the coordinator (merge.c) */
Oid
pgs_start_create_target(RangeVar *rv, const char *target, PgsAnalyzedQuery *aq)
{
	return qd_create_target(rv, target, aq);
}

/*
 * A text[] argument naming columns, deduplicate or key: not empty, no NULL.
 * Each refusal names the argument in a message of its own.
 */
static List *
qd_column_list(ArrayType *array, bool is_key)
{
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			i;
	List	   *result = NIL;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
	if (n == 0 && is_key)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key names no column"),
				 errhint("Name the output columns the target is upserted by, such as '{id}'.")));
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("deduplicate names no column"),
				 errhint("Name the output columns whose values make a row a duplicate, such as '{event_id}'.")));
	for (i = 0; i < n; i++)
	{
		if (enulls[i] && is_key)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("key must not name a NULL column")));
		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("deduplicate must not name a NULL column")));
		result = lappend(result, TextDatumGetCString(elems[i]));
	}
	return result;
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
 *	0.7			14: and watermarks, watermark_policy
 *	0.8			16: and on_error, target_is_stream
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
#define QD_START_WATERMARKS		12
#define QD_START_WATERMARK_POLICY	13
#define QD_START_ON_ERROR		14
#define QD_START_TARGET_IS_STREAM	15

/* one element of the watermarks argument, '<name>.<column> <delay>' */
typedef struct QdWatermark
{
	const char *given;			/* the element as written */
	char	   *name;			/* a stream read's range name, folded as SQL does */
	char	   *column;			/* its event-time column, folded likewise */
	int64		usecs;			/* the delay */
} QdWatermark;

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
	bool		watermarks_given;	/* and not empty */
	List	   *watermarks;		/* char *: the elements as given */
	List	   *watermark_sides;	/* QdWatermark *: each element parsed */
	char	   *watermark_policy;	/* min (the default) or max */
	char	   *on_error;		/* fail (the default) or dead_letter */
	bool		target_is_stream;	/* the target is, or is made, a stream */
} PgsStartArgs;

/*
 * What starting a query finds and makes, from the checks of its definition
 * to its target.
 */
typedef struct QdStart
{
	PgsDefinition def;			/* the query's analysis and shape */
	Oid			foreach_proc;	/* InvalidOid without */
	bool		keyed;			/* upserted by key, over key_shape */
	List	   *key;			/* char *: the key given, or the target's
								 * primary key */
	PgsAggShape key_shape;
	Oid			target_relid;
	char	   *target;			/* as named, or the batch table's name */
	bool		created;		/* the target was created by this call */
	/* the watermark of a query over one stream, from either argument */
	const char *event_time;		/* NULL without */
	int64		watermark_usecs;	/* -1 without */
	/* a query over two streams: its sides */
	int			nsides;			/* 0 for one stream */
	PgsQuerySide sides[PGS_MAX_SIDES];
	PgsJoinShape join;
} QdStart;

/* is the argument in the caller's signature, and not NULL? */
static bool
qd_arg_given(FunctionCallInfo fcinfo, int position)
{
	return PG_NARGS() > position && !PG_ARGISNULL(position);
}

/*
 * One name of a watermarks element at *p, by SQL's rules for identifiers:
 * quoted, it keeps its case (a doubled quote is a quote); unquoted, it is
 * made of letters, digits, '_' and '$' and folds to lower case.  Both are
 * truncated as PostgreSQL truncates names.  Returns NULL, with *p left
 * where it stopped, when there is no name there.
 */
static char *
qd_watermark_ident(const char **p)
{
	const char *c = *p;
	const char *start;
	StringInfoData buf;

	if (*c == '"')
	{
		initStringInfo(&buf);
		for (c++;; c++)
		{
			if (*c == '\0')
				return NULL;
			if (*c == '"')
			{
				if (c[1] != '"')
					break;
				c++;
			}
			appendStringInfoChar(&buf, *c);
		}
		if (buf.len == 0)
			return NULL;
		*p = c + 1;
		truncate_identifier(buf.data, buf.len, false);
		return buf.data;
	}
	if (!(isalpha((unsigned char) *c) || *c == '_' || IS_HIGHBIT_SET(*c)))
		return NULL;
	while (isalnum((unsigned char) *c) || *c == '_' || *c == '$' || IS_HIGHBIT_SET(*c))
		c++;
	start = *p;
	*p = c;
	return downcase_truncate_identifier(start, c - start, false);
}

/* the error for a watermarks element that does not parse (E16) */
static void qd_watermark_invalid(const char *given) pg_attribute_noreturn();

static void
qd_watermark_invalid(const char *given)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid watermark \"%s\"", given),
			 errdetail("Write a side's name, its event-time column and a delay, such as 'i.imp_time 2 hours'.")));
}

/*
 * Parse one element of the watermarks argument: a stream read's name, a
 * dot, its event-time column, white space and a delay as interval input
 * reads it, within the bounds of today's watermark argument.  The delay is
 * first decoded by the routines interval_in uses, which report a bad
 * format instead of raising it, so that an element that does not parse is
 * refused with its own message, and one past any interval is out of range
 * as every delay beyond the bounds is; interval_in then reads it.
 */
static QdWatermark *
qd_watermark_parse(const char *given)
{
	QdWatermark *w = palloc0(sizeof(QdWatermark));
	const char *p = given;
	char	   *delay;
	char		workbuf[256];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			dterr;
	struct pg_itm_in itm_in;
	Datum		iv;

	w->given = given;
	while (scanner_isspace(*p))
		p++;
	w->name = qd_watermark_ident(&p);
	if (w->name == NULL || *p != '.')
		qd_watermark_invalid(given);
	p++;
	w->column = qd_watermark_ident(&p);
	if (w->column == NULL || !scanner_isspace(*p))
		qd_watermark_invalid(given);
	while (scanner_isspace(*p))
		p++;
	if (*p == '\0')
		qd_watermark_invalid(given);
	delay = pstrdup(p);

	memset(&itm_in, 0, sizeof(itm_in));
	dterr = ParseDateTime(delay, workbuf, sizeof(workbuf), field, ftype,
						  MAXDATEFIELDS, &nf);
	if (dterr == 0)
		dterr = DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE, &dtype, &itm_in);
	if (dterr == DTERR_BAD_FORMAT)
		dterr = DecodeISO8601Interval(delay, &dtype, &itm_in);
	if (dterr == DTERR_FIELD_OVERFLOW || dterr == DTERR_INTERVAL_OVERFLOW)
	{
		/* past any interval: refused as every delay out of bounds is */
		Interval	beyond = {.time = 0,.day = 0,.month = PG_INT32_MAX};

		(void) pgs_interval_usecs(IntervalPGetDatum(&beyond), "watermark", delay,
								  0, PGS_MAX_TRIGGER_USECS);
	}
	if (dterr != 0)
		qd_watermark_invalid(given);
	iv = DirectFunctionCall3(interval_in, CStringGetDatum(delay),
							 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	w->usecs = pgs_interval_usecs(iv, "watermark", delay, 0, PGS_MAX_TRIGGER_USECS);
	return w;
}

/*
 * One element of a watermarks argument parsed, for alter_query, which
 * changes the delays of a query's sides by the same spelling.
 */
void
pgs_parse_watermark(const char *given, char **name, char **column, int64 *usecs)
{
	QdWatermark *w = qd_watermark_parse(given);

	*name = w->name;
	*column = w->column;
	*usecs = w->usecs;
}

/*
 * The watermarks and watermark_policy arguments (0.7 on): each element
 * parsed, no side named twice, not together with event_time or watermark,
 * and a known policy.  An empty array is no argument.
 */
static void
qd_watermarks_read(FunctionCallInfo fcinfo, PgsStartArgs *a)
{
	if (PG_NARGS() > QD_START_WATERMARK_POLICY)
	{
		if (PG_ARGISNULL(QD_START_WATERMARK_POLICY))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"watermark_policy\" of stream.start_query must not be null")));
		a->watermark_policy = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_WATERMARK_POLICY));
		if (strcmp(a->watermark_policy, "min") != 0 && strcmp(a->watermark_policy, "max") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid watermark_policy \"%s\"", a->watermark_policy),
					 errhint("Use 'min' (the default) or 'max'.")));
	}
	if (qd_arg_given(fcinfo, QD_START_WATERMARKS))
	{
		Datum	   *elems;
		bool	   *enulls;
		int			n;
		int			i;
		ListCell   *lc;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(QD_START_WATERMARKS), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &enulls, &n);
		a->watermarks_given = n > 0;
		if (a->watermarks_given &&
			(qd_arg_given(fcinfo, QD_START_EVENT_TIME) || qd_arg_given(fcinfo, QD_START_WATERMARK)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("watermarks and event_time/watermark are exclusive"),
					 errhint("Give every watermark with watermarks => alone, such as '{\"r.ts 10 minutes\"}'.")));
		for (i = 0; i < n; i++)
		{
			QdWatermark *w;

			if (enulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("watermarks must not hold a NULL element")));
			w = qd_watermark_parse(TextDatumGetCString(elems[i]));
			foreach(lc, a->watermark_sides)
				if (strcmp(((QdWatermark *) lfirst(lc))->name, w->name) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("watermarks names side \"%s\" twice", w->name)));
			a->watermarks = lappend(a->watermarks, (char *) w->given);
			a->watermark_sides = lappend(a->watermark_sides, w);
		}
	}
}


/*
 * target_is_stream asks for a target that the next query can read as its
 * stream: rows are appended to it and never changed, so only append mode
 * can write one, and a foreach_batch query has no target at all.
 */
static void
qd_target_stream_check(const PgsStartArgs *a)
{
	if (a->foreach_batch_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a foreach_batch query has no target to make a stream"),
				 errhint("Leave target_is_stream out, or name a target instead of the procedure.")));
	if (strcmp(a->output_mode, "append") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("target_is_stream requires append output mode"),
				 errdetail("A stream is append-only, and %s output mode changes the rows it wrote before.",
						   a->output_mode),
				 errhint("Use output_mode => 'append' (a windowed aggregation with a watermark writes each window once), or leave target_is_stream out.")));
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
	if (PG_NARGS() <= QD_START_MAX_ROWS || PG_NARGS() > QD_START_TARGET_IS_STREAM + 1)
		elog(ERROR, "stream.start_query called with %d arguments", PG_NARGS());

	memset(a, 0, sizeof(*a));
	a->starting_from = "earliest";
	a->watermark_policy = "min";
	a->watermark_usecs = -1;
	a->foreach_batch_given = qd_arg_given(fcinfo, QD_START_FOREACH_BATCH);

	for (i = QD_START_NAME; i <= QD_START_TRIGGER; i++)
		if (PG_ARGISNULL(i) && !(i == QD_START_TARGET && a->foreach_batch_given))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument \"%s\" of stream.start_query must not be null",
							required[i]),
					 i == QD_START_TARGET ? errhint("Name the table the query writes, or give a foreach_batch procedure.") : 0));
	a->on_error = "fail";
	if (qd_arg_given(fcinfo, QD_START_ON_ERROR))
	{
		a->on_error = text_to_cstring(PG_GETARG_TEXT_PP(QD_START_ON_ERROR));
		if (strcmp(a->on_error, "fail") != 0 && strcmp(a->on_error, "dead_letter") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid on_error \"%s\"", a->on_error),
					 errhint("Use 'fail' (a row whose data fails the batch fails it) or 'dead_letter' (it is set aside in stream.dead_letters).")));
	}
	a->target_is_stream = qd_arg_given(fcinfo, QD_START_TARGET_IS_STREAM) &&
		PG_GETARG_BOOL(QD_START_TARGET_IS_STREAM);
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

	qd_watermarks_read(fcinfo, a);
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
												0, PGS_MAX_TRIGGER_USECS);
	}
	a->dedup_given = qd_arg_given(fcinfo, QD_START_DEDUPLICATE);
	if (a->dedup_given)
		a->dedup = qd_column_list(PG_GETARG_ARRAYTYPE_P(QD_START_DEDUPLICATE), false);

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
	if (strcmp(a->output_mode, "partial") == 0)
		pgs_catalog_require(PGS_CATALOG_0_9, "output_mode => 'partial'");
	else if (strcmp(a->output_mode, "append") != 0 && strcmp(a->output_mode, "update") != 0 &&
			 strcmp(a->output_mode, "complete") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid output_mode \"%s\"", a->output_mode),
				 errhint("Use 'append', 'update' or 'complete'.")));
	a->trigger = pgs_check_trigger(a->trigger);

	a->key_given = qd_arg_given(fcinfo, QD_START_KEY);
	if (a->key_given)
		a->key = qd_column_list(PG_GETARG_ARRAYTYPE_P(QD_START_KEY), true);
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
	if (a->target_is_stream)
		qd_target_stream_check(a);
}

/* collect the range names of the reads of one table, at any query level */
typedef struct QdReads
{
	Oid			relid;
	List	   *names;			/* char * */
} QdReads;

static bool
qd_reads_walker(Node *node, void *arg)
{
	QdReads    *r = (QdReads *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		ListCell   *lc;

		foreach(lc, ((Query *) node)->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION && rte->relid == r->relid)
				r->names = lappend(r->names, rte->eref->aliasname);
		}
		return query_tree_walker((Query *) node, qd_reads_walker, arg, 0);
	}
	return expression_tree_walker(node, qd_reads_walker, arg);
}

/* the names of a query's stream reads, quoted, for a hint */
static char *
qd_side_names(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
		appendStringInfo(&buf, "%s\"%s\"",
						 foreach_current_index(lc) == 0 ? "" :
						 foreach_current_index(lc) == list_length(names) - 1 ? " and " : ", ",
						 (char *) lfirst(lc));
	return buf.data;
}

/*
 * A watermarks element for a side, for a hint: the column given when the
 * side's stream has it, the delay in words whatever the IntervalStyle.
 */
static char *
qd_watermark_example(const PgsJoinSideRef *side, const char *column, int64 usecs)
{
	const char *delay;

	if (usecs % USECS_PER_HOUR == 0)
		delay = psprintf(INT64_FORMAT " hours", usecs / USECS_PER_HOUR);
	else if (usecs % USECS_PER_MINUTE == 0)
		delay = psprintf(INT64_FORMAT " minutes", usecs / USECS_PER_MINUTE);
	else if (usecs % USECS_PER_SEC == 0)
		delay = psprintf(INT64_FORMAT " seconds", usecs / USECS_PER_SEC);
	else
		delay = psprintf(INT64_FORMAT " microseconds", usecs);
	return psprintf("%s.%s %s", quote_identifier(side->name),
					get_attnum(side->relid, column) != InvalidAttrNumber ?
					quote_identifier(column) : "<column>", delay);
}

/* the watermarks element that names a stream read, or NULL */
static QdWatermark *
qd_watermark_for(List *watermark_sides, const char *name)
{
	ListCell   *lc;

	foreach(lc, watermark_sides)
		if (strcmp(((QdWatermark *) lfirst(lc))->name, name) == 0)
			return lfirst(lc);
	return NULL;
}

/*
 * Every element of the watermarks argument must name a stream read of the
 * query (E15): not an ordinary table, not a name the query does not use.
 */
static void
qd_watermarks_name_reads(const PgsStartArgs *a, List *names)
{
	ListCell   *lc;

	foreach(lc, a->watermark_sides)
	{
		QdWatermark *w = lfirst(lc);

		if (!pgs_list_has_str(names, w->name))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("watermarks names \"%s\", which is no stream read by the query", w->name),
					 errhint("The query reads %s %s.",
							 list_length(names) == 1 ? "its stream as" : "its streams as",
							 qd_side_names(names))));
	}
}

/*
 * The watermark of each stream the query reads.  A query over one stream
 * takes its watermark from event_time and watermark, or from the one
 * element of watermarks that names its stream read (the same columns are
 * stored either way).  A query over two streams (a join) gets its sides in
 * the order pgs_join_find_sides gives, each with the element that names it
 * or, for a self-join, event_time and watermark for both.  Needs the
 * query's analysis, which is made here when an argument asks for it.
 */
static void
qd_start_watermarks(const PgsStartArgs *a, QdStart *s)
{
	PgsAnalyzedQuery pre;
	QdReads		reads;

	s->event_time = a->event_time;
	s->watermark_usecs = a->watermark_usecs;
	s->nsides = 0;
	{
		PgsJoinSideRef refs[PGS_MAX_SIDES];
		int			n;
		int			i;

		memset(&pre, 0, sizeof(pre));
		pgs_analyze_user_query(a->query_text, &pre);
		n = pgs_join_find_sides(pre.query, refs);
		if (n == PGS_MAX_SIDES)
		{
			List	   *names = NIL;

			pgs_catalog_require(PGS_CATALOG_0_7, "joins between streams");
			if (a->max_rows_given)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("max_rows_per_batch is not supported for a join between streams"),
						 errdetail("A batch of a join takes whole transactions of both streams.")));
			if (a->event_time_given && refs[0].relid != refs[1].relid)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("event_time and watermark name one stream's column, and this query reads two"),
						 errhint("Give each side its watermark: watermarks => '{\"%s\", \"%s\"}'.",
								 qd_watermark_example(&refs[0], a->event_time, a->watermark_usecs),
								 qd_watermark_example(&refs[1], a->event_time, a->watermark_usecs))));
			for (i = 0; i < n; i++)
				names = lappend(names, refs[i].name);
			qd_watermarks_name_reads(a, names);
			for (i = 0; i < n; i++)
			{
				PgsQuerySide *side = &s->sides[i];
				QdWatermark *w = qd_watermark_for(a->watermark_sides, refs[i].name);

				side->relid = refs[i].relid;
				side->name = refs[i].name;
				side->event_time = w ? w->column : (char *) a->event_time;
				side->watermark_usecs = w ? w->usecs : a->watermark_usecs;
				if (side->event_time != NULL)
					(void) pgs_check_event_time(side->relid, side->event_time);
			}
			s->nsides = n;
			s->event_time = NULL;
			s->watermark_usecs = -1;
			return;
		}
	}
	if (!a->watermarks_given)
		return;
	pgs_catalog_require(PGS_CATALOG_0_7, "watermarks");
	memset(&pre, 0, sizeof(pre));
	pgs_analyze_user_query(a->query_text, &pre);
	reads.relid = pre.stream_relid;
	reads.names = NIL;
	(void) qd_reads_walker((Node *) pre.query, &reads);
	qd_watermarks_name_reads(a, reads.names);
	/* one stream read, so one element (a name twice is refused already) */
	if (list_length(a->watermark_sides) != 1)
		elog(ERROR, "watermarks of %d sides for a query over one stream read",
			 list_length(a->watermark_sides));
	s->event_time = ((QdWatermark *) linitial(a->watermark_sides))->column;
	s->watermark_usecs = ((QdWatermark *) linitial(a->watermark_sides))->usecs;
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
	PgsDefinition *d = &s->def;

	s->foreach_proc = InvalidOid;
	if (a->foreach_batch_given)
		s->foreach_proc = qd_check_procedure(a->foreach_batch);

	if (!standard_conforming_strings)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a streaming query's text is read with standard_conforming_strings on"),
				 errhint("SET standard_conforming_strings = on, and write backslashes in literals as E'...' strings.")));
	if (a->key_given || OidIsValid(s->foreach_proc))
		pgs_catalog_require(PGS_CATALOG_0_5, "key and foreach_batch");

	if (strcmp(a->watermark_policy, "min") != 0)
		pgs_catalog_require(PGS_CATALOG_0_7, "watermark policies other than min");
	qd_start_watermarks(a, s);

	memset(d, 0, sizeof(*d));
	d->query_text = a->query_text;
	d->output_mode = a->output_mode;
	d->event_time = s->event_time;
	d->dedup = a->dedup;
	d->sides = s->nsides == PGS_MAX_SIDES ? s->sides : NULL;
	pgs_check_definition(d);
	if (d->aggregates || s->event_time != NULL || a->dedup != NIL)
		pgs_catalog_require(PGS_CATALOG_0_4,
							"streaming aggregations, watermarks and deduplication");
	if (strcmp(a->on_error, "dead_letter") == 0)
	{
		pgs_catalog_require(PGS_CATALOG_0_8, "on_error => 'dead_letter'");
		/* a failing pair has two rows, a duplicate's fate depends on the others */
		if (s->nsides == PGS_MAX_SIDES)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("on_error => 'dead_letter' is not supported for joins between streams"),
					 errdetail("Rows can be set aside by queries over one stream that append, upsert by key, aggregate or call a foreach_batch procedure."),
					 errhint("Start the join with on_error => 'fail', and set bad rows aside in a query over each stream before it.")));
		if (a->dedup != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("on_error => 'dead_letter' is not supported for deduplication"),
					 errdetail("Rows can be set aside by queries over one stream that append, upsert by key, aggregate or call a foreach_batch procedure."),
					 errhint("Start the query with on_error => 'fail', and set bad rows aside in a query before it.")));
	}
	if (s->nsides == PGS_MAX_SIDES)
	{
		int			side;

		/*
		 * A join's batch reads every column of each side and the rows'
		 * tids, which only SELECT on the table grants (a grant of the
		 * columns the query names is not enough): refused here, before the
		 * analysis warns about a side the caller may not read, rather than
		 * at every batch.
		 */
		for (side = 0; side < s->nsides; side++)
			if (pg_class_aclcheck(s->sides[side].relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
				aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE,
							   get_rel_name(s->sides[side].relid));
		pgs_join_analyze(d->aq.query, a->output_mode, s->sides, &s->join, true,
						 a->name);
	}

	s->keyed = a->key_given;
	s->key = a->key;
	if (s->keyed)
		pgs_check_key(s->key, d, &s->key_shape);
	if (OidIsValid(s->foreach_proc) && a->key_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a foreach_batch query has no key"),
				 errdetail("Its batch table holds only the batch's rows, written anew by each batch."),
				 errhint("Upsert by the key in the procedure, with MERGE or INSERT ... ON CONFLICT.")));
}

/*
 * A target whose rows come back to the query's own stream through other
 * queries is refused as the stream itself is (pgs_check_target): each
 * batch would read again, through the others, what the previous ones
 * wrote, without end.  The others may be anybody's, so none is named.
 */
static void
qd_check_no_cycle(const QdStart *s)
{
	int			n = s->nsides == PGS_MAX_SIDES ? PGS_MAX_SIDES : 1;
	int			i;

	for (i = 0; i < n; i++)
	{
		Oid			stream = n == 1 ? s->def.aq.stream_relid : s->sides[i].relid;

		if (pgs_query_target_reaches(s->target_relid, stream))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target \"%s\" feeds the query's own stream table \"%s\"",
							get_rel_name(s->target_relid), get_rel_name(stream)),
					 errdetail("Streaming queries read the target and write what reaches the stream: each batch would read again what the previous batches wrote, without end."),
					 errhint("Write into a table that no streaming query leads back from.")));
	}
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
	PgsDefinition *d = &s->def;

	if (OidIsValid(s->foreach_proc))
	{
		s->target_relid = qd_create_batch_table(a->name, &d->aq,
												pgs_keyed_target(d) ? &d->shape : NULL);
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
		{
			pgs_check_target(s->target_relid, d->aq.stream_relid, &d->aq);
			/* a join's second stream is its stream as much as its first */
			if (s->nsides == PGS_MAX_SIDES)
				pgs_check_target(s->target_relid, s->sides[1].relid, &d->aq);
			qd_check_no_cycle(s);
			if (a->target_is_stream && !pgs_is_stream(s->target_relid))
				ereport(ERROR,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("target \"%s\" is not a stream", a->target),
						 errdetail("target_is_stream makes a target it creates a stream; a table that exists stays what it is."),
						 errhint("Make it a stream first with stream.create_stream(%s), or name a table that does not exist yet.",
								 quote_literal_cstr(a->target))));
		}
		else
		{
			s->target_relid = qd_create_target(rv, a->target, &d->aq);
			/* the caller's new table, a stream as create_stream makes one */
			if (a->target_is_stream)
				pgs_create_stream(s->target_relid);
		}
	}
	if (pgs_keyed_target(d))
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
			pgs_check_key(s->key, d, &s->key_shape);
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
	const PgsDefinition *d = &s->def;
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
	q.event_time = (char *) s->event_time;
	q.watermark_usecs = s->watermark_usecs;
	q.watermarks = a->watermarks;
	q.nsides = s->nsides;
	memcpy(q.sides, s->sides, sizeof(q.sides));
	if (s->nsides > 0)
	{
		/* a join's stream_relid is its first side's */
		q.stream_relid = s->sides[0].relid;
		q.watermark_policy = a->watermark_policy;
	}
	q.dedup_columns = a->dedup;
	q.key_columns = s->key;
	q.foreach_batch = s->foreach_proc;
	q.on_error = a->on_error;
	query_id = pgs_query_insert(&q);
	if (q.nsides == PGS_MAX_SIDES && d->aggregates)
	{
		/* an aggregation over the join: its state, the join's a part of it */
		q.state_relid = pgs_agg_create_state(a->name, q.owner, &d->shape);
		pgs_query_set_state(query_id, q.state_relid);
		pgs_join_create_chain_state(a->name, q.state_relid);
	}
	else if (q.nsides == PGS_MAX_SIDES)
	{
		/* what a join keeps: its waiting and late rows (state/join.c) */
		q.state_relid = pgs_join_create_state(a->name);
		pgs_query_set_state(query_id, q.state_relid);
	}
	else if (d->aggregates)
	{
		q.state_relid = pgs_agg_create_state(a->name, q.owner, &d->shape);
		pgs_query_set_state(query_id, q.state_relid);
		/* over a streaming aggregation: the subquery's state, a part of it */
		if (d->chain)
			(void) pgs_agg_create_chain_state(a->name, q.owner, &d->lower_shape,
											  q.state_relid);
		if (a->dedup != NIL)
			pgs_dedup_create_chain_state(a->name, q.state_relid, d->dedup_types,
										 d->dedup_collations, d->event_type);
	}
	else if (a->dedup != NIL)
	{
		q.state_relid = pgs_dedup_create_state(a->name, d->dedup_types, d->dedup_collations,
											   d->event_type);
		pgs_query_set_state(query_id, q.state_relid);
	}
	q.query_id = query_id;
	pgs_query_define_view(&q, d->aq.query);
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
 * Does the query read a stream distributed with Citus?  Then it runs per
 * shard on the nodes, or is refused.
 */
static bool
qd_start_is_distributed(const QdStart *s)
{
	if (s->nsides == PGS_MAX_SIDES)
		return pgs_dist_is_citus_table(s->sides[0].relid) ||
			pgs_dist_is_citus_table(s->sides[1].relid);
	return pgs_dist_is_citus_table(s->def.aq.stream_relid);
}

/*
 * The distributed path (distributed.c): refuse what cannot run per shard,
 * then make or check the target with the local path's own code, and
 * record the query for the nodes.  Nothing is registered here.
 */
static int64
qd_start_distributed(const PgsStartArgs *a, QdStart *s)
{
	PgsDistStart ds;

	memset(&ds, 0, sizeof(ds));
	ds.name = a->name;
	ds.query_text = a->query_text;
	ds.target = a->target;
	ds.output_mode = a->output_mode;
	ds.trigger = a->trigger;
	ds.max_rows = a->max_rows_given ? a->max_rows : 0;
	ds.starting_from = a->starting_from;
	ds.event_time = s->event_time;
	ds.watermark_usecs = s->watermark_usecs;
	ds.dedup = a->dedup;
	ds.key_given = a->key_given;
	ds.key = a->key;
	ds.on_error = a->on_error;
	ds.foreach_batch = OidIsValid(s->foreach_proc);
	ds.target_is_stream = a->target_is_stream;
	ds.nsides = s->nsides;
	ds.def = &s->def;
	pgs_dist_check_shape(&ds);
	if (strcmp(ds.placement, "merge") == 0)
		return pgs_merge_start(&ds);

	qd_start_target(a, s);
	pgs_check_rights(pgs_compose_insert(a->query_text, s->target_relid,
										s->def.aq.column_names, s->key),
					 s->def.aq.stream_relid, s->target_relid, s->def.aggregates);
	return pgs_dist_start(&ds, s->target_relid, s->created, s->key);
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

	/* a shard's part of a merged aggregation writes the exchange (merge.c) */
	if (strcmp(a.output_mode, "partial") == 0)
	{
		s.target = a.target;
		s.target_relid = pgs_merge_check_partial(a.name, &s.def, a.target,
												 a.dedup != NIL || s.nsides > 0 ||
												 OidIsValid(s.foreach_proc) || s.keyed);
		PG_RETURN_INT64(qd_start_register(&a, &s));
	}
	if (qd_start_is_distributed(&s))
		PG_RETURN_INT64(qd_start_distributed(&a, &s));
	qd_start_target(&a, &s);

	/*
	 * Analyze the batch statement as a batch will, and check the caller's
	 * right to every table it reads and to the target.
	 */
	pgs_check_rights(pgs_compose_insert(a.query_text, s.target_relid, s.def.aq.column_names,
									   s.key),
					s.def.aq.stream_relid, s.target_relid, s.def.aggregates);

	PG_RETURN_INT64(qd_start_register(&a, &s));
}
