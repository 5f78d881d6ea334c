/*-------------------------------------------------------------------------
 *
 * merge.c
 *	  The merge placement of a distributed aggregation (Citus): an
 *	  aggregation over a distributed stream whose groups span shards, run
 *	  as one shard query per shard that appends each batch's partial
 *	  groups to an exchange co-located with the stream, and a merge on the
 *	  coordinator that combines them into the coordinator's state and
 *	  target (docs/citus_merge.md).
 *
 * The one thing to know: a merge reads each shard's batches after its mark
 * and advances the marks in the transaction that writes the state and the
 * target; a shard's partial groups exist once per batch (they commit with
 * the batch on the shard's node), so each batch is merged once.  Citus is
 * reached through SQL only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "analyze/pgs_analyze.h"
#include "api/pgs_distributed_api.h"
#include "api/pgs_queries.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_distributed.h"
#include "catalog/pgs_merge_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_merge_distributed);

#define MERGE_EXCHANGE_SUFFIX	"_exchange"
#define PGS_EXCHANGE_SCHEMA		"stream_exchange"

/* is Citus installed in this database? */
static bool
mg_citus_installed(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/*
 * The distributed query a shard's query is part of, from the name the
 * coordinator gives it (<distributed query>_s<shard id>), or NULL.
 */
static char *
mg_distributed_name(const char *shard_query)
{
	const char *p = strrchr(shard_query, '_');
	const char *d;

	if (p == NULL || p[1] != 's' || p[2] == '\0')
		return NULL;
	for (d = p + 2; *d; d++)
		if (*d < '0' || *d > '9')
			return NULL;
	return pnstrdup(shard_query, p - shard_query);
}

/*
 * Is the exchange's shard "target_shard" (its id as text) the one
 * co-located with the stream's shard of shard query "name"
 * (<distributed query>_s<shard id>), in Citus's metadata?  Then the batches
 * of no other shard's query, on this node or another, can write it under
 * that name.
 */
static bool
mg_exchange_shard_of(const char *name, const char *target_shard, const char *exchange)
{
	const char *stream_shard = strrchr(name, '_') + 2;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		found;

	for (const char *c = target_shard; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	if (*target_shard == '\0' || strlen(target_shard) > 18 || strlen(stream_shard) > 18)
		return false;
	values[0] = CStringGetTextDatum(stream_shard);
	values[1] = CStringGetTextDatum(target_shard);
	values[2] = CStringGetTextDatum(quote_qualified_identifier(PGS_EXCHANGE_SCHEMA, exchange));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	found = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_dist_shard s"
								  " JOIN pg_catalog.pg_dist_shard x"
								  " ON x.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue"
								  " WHERE s.shardid OPERATOR(pg_catalog.=) $1::pg_catalog.int8"
								  " AND x.shardid OPERATOR(pg_catalog.=) $2::pg_catalog.int8"
								  " AND x.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($3)"
								  " AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p"
								  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) x.logicalrelid"
								  " AND p.colocationid OPERATOR(pg_catalog.=)"
								  " (SELECT colocationid FROM pg_catalog.pg_dist_partition"
								  " WHERE logicalrelid OPERATOR(pg_catalog.=) s.logicalrelid))",
								  3, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1;
	SPI_finish();
	return found;
}

/*
 * The target of a query in output mode partial must be the exchange of its
 * own distributed query: a table in schema stream_exchange (where only the
 * extension's owner creates tables) named <distributed query>_exchange or
 * a shard of it.  The batches write it as the extension's owner with
 * serialized states the coordinator deserializes, so no other table may be
 * named.  The shape must be a plain aggregation.
 */
Oid
pgs_merge_check_partial(const char *name, const PgsDefinition *d, const char *target,
						bool other_operators)
{
	char	   *base = mg_distributed_name(name);
	char	   *prefix;
	Oid			relid;
	char	   *relname;

	if (!d->aggregates || other_operators || d->chain || d->shape.session)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("output mode \"partial\" needs a plain aggregation"),
				 errdetail("A shard's query of a merged distributed aggregation writes its batches' groups with their partial states; deduplication, joins, session windows, keys and aggregations over aggregations have none."),
				 errhint("Start the aggregation on the coordinator of the distributed stream.")));
	/*
	 * Named in full, and found by name alone: the shard's query runs as
	 * its owner.
	 */
	relid = InvalidOid;
	if (target)
	{
		List	   *names = stringToQualifiedNameList(target);

		if (list_length(names) == 2 && strcmp(strVal(linitial(names)), PGS_EXCHANGE_SCHEMA) == 0)
			relid = get_relname_relid(strVal(lsecond(names)),
									  get_namespace_oid(PGS_EXCHANGE_SCHEMA, false));
	}
	relname = OidIsValid(relid) ? get_rel_name(relid) : NULL;
	prefix = base ? psprintf("%s" MERGE_EXCHANGE_SUFFIX "_", base) : NULL;
	if (base == NULL || relname == NULL || !mg_citus_installed() ||
		strncmp(relname, prefix, strlen(prefix)) != 0 ||
		!mg_exchange_shard_of(name, relname + strlen(prefix),
							  psprintf("%s" MERGE_EXCHANGE_SUFFIX, base)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("output mode \"partial\" writes only the exchange of a merged distributed aggregation"),
				 errdetail("Query \"%s\" names target \"%s\"; a shard's query <name>_s<shard id> writes the shard of stream_exchange.<name>_exchange co-located with its stream's shard, made by the coordinator.",
						   name, target ? target : ""),
				 errhint("Start the aggregation on the coordinator of the distributed stream.")));
	return relid;
}

/* ---- start, on the coordinator ---- */

/* is the relation a Citus table? */
static bool
mg_is_citus_table(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	found = SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_dist_partition"
								  " WHERE logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
								  1, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1;
	SPI_finish();
	return found;
}

/*
 * The exchange stream_exchange.<name>_exchange, made by the extension's owner
 * (the shards' batches write it, the merge reads it, nobody else): the
 * stream's distribution column (NULL in every row), the shard's query, the
 * batch, its latest event time, then the partial groups' keys and states;
 * distributed by that column, co-located with the stream, so each shard's
 * batches write an exchange shard on their own node.  Returns it and the
 * shards (PgsDistShard: the target shard is the exchange's) by the
 * stream's shard each goes with.
 */
static Oid
mg_create_exchange(const char *name, Oid stream_relid, const char *column,
				   const PgsAggShape *shape, List **shards)
{
	PgsCatalogAccess acc = {0};
	char	   *relname = psprintf("%s" MERGE_EXCHANGE_SUFFIX, name);
	char	   *qualified = quote_qualified_identifier(PGS_EXCHANGE_SCHEMA, relname);
	AttrNumber	att = get_attnum(stream_relid, column);
	Oid			atttype;
	int32		atttypmod;
	Oid			attcollation;
	StringInfoData sql;
	Oid			relid;
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2];

	if (strlen(relname) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("distributed query name \"%s\" is too long", name),
				 errhint("Use a name of at most %d bytes.",
						 NAMEDATALEN - 1 - (int) strlen(MERGE_EXCHANGE_SUFFIX))));
	get_atttypetypmodcoll(stream_relid, att, &atttype, &atttypmod, &attcollation);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (%s %s, _shard_query pg_catalog.text NOT NULL,"
					 " _batch_id pg_catalog.int8 NOT NULL,"
					 " _max_event_time pg_catalog.timestamptz%s)",
					 qualified, quote_identifier(column),
					 format_type_extended(atttype, atttypmod,
										  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY),
					 pgs_agg_exchange_columns(shape));

	pgs_catalog_begin(&acc);
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the exchange of distributed query \"%s\"", name);
	CommandCounterIncrement();
	relid = get_relname_relid(relname, get_namespace_oid(PGS_EXCHANGE_SCHEMA, false));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(stream_relid);
	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.create_distributed_table($1::pg_catalog.regclass, %s,"
									   " colocate_with => $2::pg_catalog.regclass::pg_catalog.text)",
									   quote_literal_cstr(column)),
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not distribute the exchange of distributed query \"%s\"", name);
	if (SPI_execute_with_args("SELECT s.shardid, x.shardid FROM pg_catalog.pg_dist_shard s"
							  " JOIN pg_catalog.pg_dist_shard x"
							  " ON x.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
							  " AND x.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue"
							  " WHERE s.logicalrelid OPERATOR(pg_catalog.=) $2::pg_catalog.regclass"
							  " ORDER BY s.shardid",
							  2, types, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed == 0)
		elog(ERROR, "the exchange of distributed query \"%s\" has no shards", name);
	*shards = NIL;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		PgsDistShard *s = MemoryContextAllocZero(TopTransactionContext,
												 sizeof(PgsDistShard));
		bool		isnull;
		MemoryContext old;

		s->shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		s->target_shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		s->shard_query = MemoryContextStrdup(TopTransactionContext,
											 psprintf("%s_s" INT64_FORMAT, name, s->shardid));
		if (strlen(s->shard_query) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("shard query name \"%s\" is too long", s->shard_query),
					 errhint("Use a shorter name for the distributed query.")));
		old = MemoryContextSwitchTo(TopTransactionContext);
		*shards = lappend(*shards, s);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return relid;
}

/*
 * The shards' options: start_query's arguments of each shard's query, in
 * output mode partial.
 */
static char *
mg_shard_options(const PgsDistStart *ds)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"output_mode\": \"partial\", \"trigger\": ");
	escape_json(&buf, ds->trigger);
	if (ds->max_rows > 0)
		appendStringInfo(&buf, ", \"max_rows_per_batch\": %d", ds->max_rows);
	if (ds->starting_from)
	{
		appendStringInfoString(&buf, ", \"starting_from\": ");
		escape_json(&buf, ds->starting_from);
	}
	if (ds->event_time)
	{
		appendStringInfoString(&buf, ", \"event_time\": ");
		escape_json(&buf, ds->event_time);
		appendStringInfo(&buf, ", \"watermark\": \"" INT64_FORMAT " microseconds\"",
						 ds->watermark_usecs);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * The merge placement of start_query over a distributed stream (its
 * distributed path, distributed.c, found an aggregation not grouped by the
 * distribution column), in the caller's transaction, as the caller: the
 * shape checked for a merge, the coordinator's target (a table of its own,
 * made when missing) and state, the exchange co-located with the stream,
 * and the catalog rows the reconciler starts the shards' queries from
 * (options with output mode partial).  Returns minus the number of shard
 * queries, as the per_shard placement does.
 */
int64
pgs_merge_start(const PgsDistStart *ds)
{
	const PgsDefinition *d = ds->def;
	PgsMergeDef m;
	RangeVar   *rv;
	bool		created;
	List	   *shards;
	List	   *shard_queries = NIL;
	PgsDistQuery q;
	PgsQuery	local;
	ListCell   *lc;

	if (!d->aggregates || d->chain || d->shape.session || ds->nsides > 0 ||
		ds->dedup != NIL || ds->key_given || ds->foreach_batch || ds->target_is_stream)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("only a plain aggregation can be merged across the shards of a distributed stream"),
				 errdetail("An aggregation not grouped by the distribution column combines the shards' partial states on the coordinator; deduplication, keys, joins between streams, session windows, foreach_batch and targets that are streams are not merged."),
				 errhint("Group by the distribution column \"%s\" to run the query on each shard alone.",
						 ds->distribution_column)));
	if (strcmp(ds->on_error, "fail") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("on_error => '%s' is not supported for an aggregation merged across shards",
						ds->on_error),
				 errhint("Start the query with on_error => 'fail'.")));
	if (pgs_dist_name_taken(ds->name) || pgs_query_read(ds->name, 0, PGS_QUERY_NO_LOCK, &local))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("streaming query \"%s\" already exists", ds->name),
				 errhint("Choose another name, or drop the query first.")));

	memset(&m, 0, sizeof(m));
	m.name = (char *) ds->name;
	m.query_text = (char *) ds->query_text;
	m.output_mode = (char *) ds->output_mode;
	m.event_time = (char *) ds->event_time;
	m.watermark_usecs = ds->event_time ? ds->watermark_usecs : -1;
	m.stream_relid = d->aq.stream_relid;
	if (pg_class_aclcheck(m.stream_relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(m.stream_relid));

	/* the coordinator's target: a table of its own, made when missing */
	rv = makeRangeVarFromNameList(stringToQualifiedNameList(ds->target));
	m.target_relid = RangeVarGetRelid(rv, NoLock, true);
	created = !OidIsValid(m.target_relid);
	if (created)
		m.target_relid = pgs_start_create_target(rv, ds->target, (PgsAnalyzedQuery *) &d->aq);
	else
	{
		pgs_check_target(m.target_relid, m.stream_relid, (PgsAnalyzedQuery *) &d->aq);
		if (mg_is_citus_table(m.target_relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("target \"%s\" of an aggregation merged across shards is a Citus table",
							ds->target),
					 errdetail("The merge writes the whole result on the coordinator."),
					 errhint("Name a table of the coordinator's, or one that does not exist yet.")));
		if (pg_class_aclcheck(m.target_relid, GetUserId(),
							  ACL_SELECT | ACL_INSERT | ACL_UPDATE | ACL_DELETE) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(m.target_relid));
	}
	if (pgs_keyed_target(d))
		pgs_agg_prepare_target(m.target_relid, created, &d->shape, d->aq.column_names,
							   m.output_mode, false);

	m.owner = GetUserId();
	m.search_path = pstrdup(GetConfigOption("search_path", false, false));
	m.target_columns = d->aq.column_names;
	m.state_relid = pgs_agg_create_state(ds->name, m.owner, &d->shape);
	m.exchange_relid = mg_create_exchange(ds->name, m.stream_relid, ds->distribution_column,
										  &d->shape, &shards);
	memset(&q, 0, sizeof(q));
	q.name = m.name;
	q.owner = m.owner;
	q.query_text = m.query_text;
	q.search_path = m.search_path;
	q.stream_relid = m.stream_relid;
	q.target_relid = m.target_relid;
	q.distribution_column = (char *) ds->distribution_column;
	q.placement = "merge";
	q.options = mg_shard_options(ds);
	pgs_dist_query_insert(&q, shards);
	foreach(lc, shards)
		shard_queries = lappend(shard_queries, ((PgsDistShard *) lfirst(lc))->shard_query);
	pgs_merge_insert(&m, shard_queries);

	/* the reconciler starts the shards' queries, the scheduler merges them */
	pgs_notify_scheduler_at_commit();
	return -(int64) list_length(shards);
}

/* ---- the merge, on the coordinator ---- */

/* what the watermark of one merge is computed from */
typedef struct MgWatermarkArg
{
	const PgsMergeDef *m;
	List	   *marks;			/* every shard's, as committed */
	bool		null;			/* out: the watermark after the merge */
	TimestampTz watermark;
} MgWatermarkArg;

/*
 * The watermarks of a merge (a PgsMergeWatermark): in force before it, the
 * one the last merge recorded (rows of windows it closed are late); after
 * it, the least over every shard of its latest event time, the rows just
 * read included, less the delay, never moving back.  A shard that has
 * given no event time yet (idle, or not started) holds it at NULL: no
 * window closes until every shard has spoken, as a shard may still bring
 * rows of any window (stream.distributed_merge_shards shows which).
 */
static bool
mg_watermark(void *arg, List *marks, PgsWatermarks *w)
{
	MgWatermarkArg *a = (MgWatermarkArg *) arg;
	ListCell   *lc;
	bool		null = false;
	TimestampTz least = 0;

	if (a->m->event_time == NULL || a->m->watermark_usecs < 0)
	{
		a->null = true;
		return false;
	}
	foreach(lc, a->marks)
	{
		PgsMergeMark *old = lfirst(lc);
		bool		tnull = old->time_null;
		TimestampTz t = old->max_time;
		ListCell   *lc2;

		foreach(lc2, marks)
		{
			PgsMergeMark *now = lfirst(lc2);

			if (strcmp(now->shard_query, old->shard_query) == 0 && !now->time_null &&
				(tnull || now->max_time > t))
			{
				t = now->max_time;
				tnull = false;
			}
		}
		if (tnull)
			null = true;
		else if (foreach_current_index(lc) == 0 || t < least)
			least = t;
	}
	w->late_null = a->m->watermark_null;
	w->late = a->m->watermark;
	w->watermark_null = w->late_null;
	w->watermark = w->late;
	if (!null)
		pgs_watermark_advance(&w->watermark_null, &w->watermark, least,
							  a->m->watermark_usecs);
	a->null = w->watermark_null;
	a->watermark = w->watermark;
	return true;
}

/*
 * One merge of one distributed aggregation, in the caller's transaction:
 * the rows of the started shards' batches after their marks, folded into
 * the state and the target as one batch (the merge's number), the marks
 * advanced to the batches read, and the rows of the batches the previous
 * merges committed removed from the exchange.  Returns the rows merged.
 */
static int64
mg_merge_one(const PgsMergeDef *m)
{
	List	   *marks = pgs_merge_marks(m->name, CurrentMemoryContext);
	StringInfoData filter;
	StringInfoData done;
	PgsQuery	q;
	MgWatermarkArg warg;
	PgsAggResult r;
	List	   *read;
	ListCell   *lc;

	initStringInfo(&filter);
	initStringInfo(&done);
	foreach(lc, marks)
	{
		PgsMergeMark *mk = lfirst(lc);
		char	   *shard = quote_literal_cstr(mk->shard_query);

		if (!mk->started)
			continue;
		appendStringInfo(&filter, "%s(e._shard_query OPERATOR(pg_catalog.=) %s"
						 " AND e._batch_id OPERATOR(pg_catalog.>) " INT64_FORMAT ")",
						 filter.len ? " OR " : "", shard, mk->batch_id);
		if (mk->batch_id > 0)
			appendStringInfo(&done, "%s(_shard_query OPERATOR(pg_catalog.=) %s"
							 " AND _batch_id OPERATOR(pg_catalog.<=) " INT64_FORMAT ")",
							 done.len ? " OR " : "", shard, mk->batch_id);
	}
	if (filter.len == 0)
		return 0;

	memset(&q, 0, sizeof(q));
	q.query_id = -m->merge_id;
	q.name = m->name;
	q.owner = m->owner;
	q.stream_relid = m->stream_relid;
	q.target_relid = m->target_relid;
	q.query_text = m->query_text;
	q.search_path = m->search_path;
	q.target_columns = m->target_columns;
	q.output_mode = m->output_mode;
	q.state_relid = m->state_relid;
	q.event_time = m->event_time;
	q.watermark_usecs = m->watermark_usecs;
	q.on_error = "fail";

	warg.m = m;
	warg.marks = marks;
	warg.null = m->watermark_null;
	warg.watermark = m->watermark;
	read = pgs_agg_merge_exchange(&q, m->merges + 1, m->exchange_relid, filter.data,
								  pgs_agg_state_count(&q), mg_watermark, &warg, &r);
	if (read == NIL)
		return 0;
	if (done.len > 0)
		pgs_agg_exchange_forget(m->exchange_relid, done.data);
	pgs_merge_record(m->name, read, warg.null, warg.watermark);
	return r.input_rows;
}

/*
 * Merge one query by name if the caller may (its owner's members): else an
 * error when "named" (the caller asked for it), nothing otherwise.
 */
static int64
mg_merge_named(const char *name, bool named)
{
	PgsMergeDef m;

	if (!pgs_merge_read(name, &m, CurrentMemoryContext))
		return 0;
	if (!has_privs_of_role(GetUserId(), m.owner))
	{
		if (named)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be a member of the owner of distributed query \"%s\"", m.name)));
		return 0;
	}
	return mg_merge_one(&m);
}

/*
 * stream._merge_distributed(name DEFAULT NULL): merge the exchange rows of
 * one merged distributed aggregation, or of every one the caller may merge
 * (its owner's members; a superuser's, every one), in the caller's
 * transaction.  Called by the coordinator's scheduler and by
 * process_all_available.  Returns the exchange rows merged.
 */
Datum
stream_merge_distributed(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *names;
	ListCell   *lc;
	int64		merged = 0;

	if (pgs_catalog_version() < PGS_CATALOG_0_9 || !mg_citus_installed())
	{
		if (name)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("distributed query \"%s\" does not exist", name)));
		PG_RETURN_INT64(0);
	}
	pgs_require_writable();
	names = pgs_merge_names(name, CurrentMemoryContext);
	if (name && names == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("distributed query \"%s\" is not a merged aggregation", name),
				 errhint("stream.distributed_merges lists the distributed queries whose shards' groups are merged.")));
	foreach(lc, names)
		merged += mg_merge_named(lfirst(lc), name != NULL);
	PG_RETURN_INT64(merged);
}

/*
 * After process_all_available or process_batch of a distributed query on
 * its shards (query_shards.c): a merged one's new partial groups merged
 * now, in the caller's transaction, so that the target holds every row
 * committed before the call.  Nothing for another query.
 */
void
pgs_merge_process(const char *name)
{
	if (pgs_catalog_version() < PGS_CATALOG_0_9 || !mg_citus_installed() ||
		pgs_merge_names(name, CurrentMemoryContext) == NIL)
		return;
	(void) mg_merge_named(name, true);
}
