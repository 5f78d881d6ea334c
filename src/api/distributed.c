/*-------------------------------------------------------------------------
 *
 * distributed.c
 *	  Streaming queries over streams distributed with Citus, on the
 *	  coordinator: start_query's distributed path, stop/resume/drop by name,
 *	  and stream._reconcile_distributed, which brings the nodes to what the
 *	  coordinator's catalog asks.
 *
 * A query over a distributed stream runs as one ordinary query per shard
 * (the shard query), on the node holding the shard, over the shard, into
 * the co-located shard of the target: so only shapes whose result rows of
 * one shard never meet another shard's run this way ('per_shard').  The
 * coordinator changes its catalog in the caller's transaction; the nodes
 * are changed by the reconciler, outside it, once that is committed.
 * Citus is reached through SQL alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "analyze/pgs_analyze.h"
#include "api/pgs_distributed_api.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_distributed.h"
#include "catalog/pgs_merge_catalog.h"
#include "common/pgs_common.h"
#include "common/pgs_errors.h"

PG_FUNCTION_INFO_V1(stream_reconcile_distributed);

/* a table as pg_dist_partition describes it */
typedef struct DdCitusTable
{
	char		partmethod;		/* 'h' hash, 'n' none (reference, local) */
	char		repmodel;		/* 't' for a reference table */
	int32		colocationid;
	char	   *column;			/* a hash-distributed table's column */
} DdCitusTable;

static bool
dd_citus_installed(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/*
 * Run a statement over Citus's metadata or functions, as the current user,
 * with search_path pg_catalog (a user's objects never stand in for
 * Citus's).  Returns SPI_processed; the caller is connected to SPI.
 */
static int
dd_exec(const char *sql, int nargs, Oid *argtypes, Datum *values, bool read_only)
{
	int			nest = NewGUCNestLevel();
	int			rc;

	pgs_set_search_path("pg_catalog, pg_temp");
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, read_only, 0);
	if (rc < 0)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	AtEOXact_GUC(false, nest);
	return (int) SPI_processed;
}

/* the relation's row of pg_dist_partition, false when it is no Citus table */
static bool
dd_citus_table(Oid relid, DdCitusTable *t)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		found;

	memset(t, 0, sizeof(*t));
	if (!dd_citus_installed())
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	found = dd_exec("SELECT partmethod::text, repmodel::text, colocationid,"
					" CASE WHEN partmethod = 'h'"
					" THEN column_to_column_name(logicalrelid, partkey) END"
					" FROM pg_dist_partition WHERE logicalrelid = $1::regclass",
					1, argtypes, values, true) > 0;
	if (found)
	{
		char	   *pm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *rm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		char	   *col = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
		bool		isnull;

		t->partmethod = pm ? pm[0] : '\0';
		t->repmodel = rm ? rm[0] : '\0';
		t->colocationid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 3, &isnull));
		t->column = col ? SPI_palloc(strlen(col) + 1) : NULL;
		if (col)
			strcpy(t->column, col);
	}
	SPI_finish();
	return found;
}

/* is the relation a Citus table (of any kind)?  false without Citus */
bool
pgs_dist_is_citus_table(Oid relid)
{
	DdCitusTable t;

	return OidIsValid(relid) && dd_citus_table(relid, &t);
}

/* schema.name of a relation, quoted where needed */
static char *
dd_qualified(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* the refusal of a shape that cannot run per shard */
static void dd_refuse(const char *what, const char *detail, const char *hint) pg_attribute_noreturn();

static void
dd_refuse(const char *what, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s is not supported over a distributed stream", what),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

/* every table a query reads, at any level (an Oid list, each once) */
static bool
dd_tables_walker(Node *node, List **relids)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		ListCell   *lc;

		foreach(lc, ((Query *) node)->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION)
				*relids = list_append_unique_oid(*relids, rte->relid);
		}
		return query_tree_walker((Query *) node, dd_tables_walker, relids, 0);
	}
	return expression_tree_walker(node, dd_tables_walker, relids);
}

/*
 * Is expr the stream's distribution column itself, read from the top
 * level's range table entry of the stream?
 */
static bool
dd_is_distribution_column(Query *query, Expr *expr, Oid stream_relid, AttrNumber attno)
{
	Var		   *var;
	RangeTblEntry *rte;

	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	if (expr == NULL || !IsA(expr, Var))
		return false;
	var = (Var *) expr;
	if (var->varlevelsup != 0 || var->varattno != attno ||
		var->varno < 1 || var->varno > list_length(query->rtable))
		return false;
	rte = rt_fetch(var->varno, query->rtable);
	return rte->rtekind == RTE_RELATION && rte->relid == stream_relid;
}

/*
 * The tables the query reads besides its stream: each must be a Citus
 * reference table, which every node holds whole.  A table of the
 * coordinator alone is on no node; another distributed table's rows for a
 * shard are on other nodes.
 */
static void
dd_check_tables(const PgsDistStart *ds)
{
	List	   *relids = NIL;
	ListCell   *lc;
	Oid			stream = ds->def->aq.stream_relid;

	(void) dd_tables_walker((Node *) ds->def->aq.query, &relids);
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		DdCitusTable t;

		if (relid == stream)
			continue;
		if (!dd_citus_table(relid, &t))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("table \"%s\" is not supported in a query over a distributed stream",
							get_rel_name(relid)),
					 errdetail("\"%s\" is a table of the coordinator alone, and the query runs on the nodes that hold the stream's shards.",
							   get_rel_name(relid)),
					 errhint("Make it a reference table with SELECT create_reference_table(%s), so that every node holds it.",
							 quote_literal_cstr(dd_qualified(relid)))));
		if (t.partmethod != 'n' || t.repmodel != 't')
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("table \"%s\" is not supported in a query over a distributed stream",
							get_rel_name(relid)),
					 errdetail("\"%s\" is distributed: the rows a shard of the stream meets are on other nodes.",
							   get_rel_name(relid)),
					 errhint("Join the stream with reference tables only, or start the query on a stream that is not distributed.")));
	}
}

/*
 * Refuse what cannot run per shard, with a reason, before anything is
 * created: the shapes of citus.md's 'per_shard' run, an aggregation not
 * grouped by the distribution column needs the coordinator's merge, and
 * everything else is refused.
 */
void
pgs_dist_check_shape(PgsDistStart *ds)
{
	const PgsDefinition *d = ds->def;
	Query	   *query = d->aq.query;
	Oid			stream = d->aq.stream_relid;
	DdCitusTable t;
	AttrNumber	attno;
	ListCell   *lc;

	pgs_catalog_require(PGS_CATALOG_0_9, "queries over distributed streams");
	if (ds->nsides == 2)
		dd_refuse("a join between streams",
				  "The two streams' rows that meet may be on different nodes, and each node runs the query over its own shards.",
				  "Join the distributed stream with reference tables, or join streams that are not distributed.");
	if (ds->foreach_batch)
		dd_refuse("foreach_batch",
				  "A distributed stream's batches are made on the nodes holding its shards, each with batch ids of its own.",
				  "Write into a target table, and read it from the procedure's side.");
	if (ds->target_is_stream)
		dd_refuse("target_is_stream",
				  "A target that is a stream would have to be a distributed stream registered on every node.",
				  "Leave target_is_stream out, and make the target a stream afterwards if a query over one stream reads it.");
	if (!dd_citus_table(stream, &t) || t.partmethod != 'h')
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stream \"%s\" is a Citus table that is not distributed by hash",
						get_rel_name(stream)),
				 errdetail("Streaming queries run over a stream of this server, or over one distributed by hash with create_distributed_table."),
				 errhint("Distribute the stream with SELECT create_distributed_table(%s, <column>).",
						 quote_literal_cstr(dd_qualified(stream)))));
	ds->distribution_column = t.column;
	attno = get_attnum(stream, t.column);

	if (d->chain)
		dd_refuse("an aggregation over a streaming aggregation",
				  "The lower aggregation's groups would be split over the shards.",
				  "Start each aggregation as a query of its own.");
	dd_check_tables(ds);

	/* the output column that is the stream's distribution column */
	ds->output_column = NULL;
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk && tle->resname != NULL &&
			dd_is_distribution_column(query, tle->expr, stream, attno))
		{
			ds->output_column = pstrdup(tle->resname);
			break;
		}
	}

	if (d->aggregates)
	{
		bool		grouped = false;

		foreach(lc, query->groupClause)
		{
			SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
			TargetEntry *tle = get_sortgroupclause_tle(sgc, query->targetList);

			if (dd_is_distribution_column(query, tle->expr, stream, attno))
				grouped = true;
		}
		if (!grouped)
		{
			/*
			 * The 'merge' placement: the shards' partial states combined on
			 * the coordinator (merge.c), which checks the rest of the shape.
			 */
			ds->placement = "merge";
			return;
		}
		if (ds->output_column == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("an aggregation over a distributed stream must output its distribution column \"%s\"",
							t.column),
					 errdetail("The target is distributed by it, co-located with the stream, so that each shard writes its own groups."),
					 errhint("Add \"%s\" to the select list.", t.column)));
	}
	else if (ds->output_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a query over a distributed stream must output its distribution column \"%s\"",
						t.column),
				 errdetail("The target is distributed by the stream's column \"%s\" itself, as the query outputs it, co-located with the stream, so that each shard writes its own rows.",
						   t.column),
				 errhint("Add \"%s\" (the column itself, not an expression over it) to the select list.",
						 t.column)));

	if (ds->dedup != NIL && !pgs_list_has_str(ds->dedup, ds->output_column) &&
		!pgs_list_has_str(ds->dedup, t.column))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("deduplication over a distributed stream must include its distribution column \"%s\"",
						t.column),
				 errdetail("Each shard deduplicates its own rows: duplicates in two shards would both be kept."),
				 errhint("Add \"%s\" to deduplicate.", ds->output_column)));
	if (ds->key_given)
		pgs_dist_check_key(ds, ds->key);
	ds->placement = "per_shard";
}

/* an upsert key must hold the distribution column: a key's rows meet in one shard */
void
pgs_dist_check_key(const PgsDistStart *ds, List *key)
{
	if (key != NIL && !pgs_list_has_str(key, ds->output_column))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the key of an upsert over a distributed stream must include its distribution column \"%s\"",
						ds->output_column),
				 errdetail("Each shard upserts its own rows into its co-located target shard: rows of one key must be in one shard."),
				 errhint("Add \"%s\" to the key.", ds->output_column)));
}

/* start_query's arguments for the shards' queries, as jsonb text */
static char *
dd_options(const PgsDistStart *ds, List *key)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"output_mode\": ");
	escape_json(&buf, ds->output_mode);
	appendStringInfoString(&buf, ", \"trigger\": ");
	escape_json(&buf, ds->trigger);
	if (ds->max_rows > 0)
		appendStringInfo(&buf, ", \"max_rows_per_batch\": %d", ds->max_rows);
	appendStringInfoString(&buf, ", \"starting_from\": ");
	escape_json(&buf, ds->starting_from);
	if (ds->event_time != NULL)
	{
		appendStringInfoString(&buf, ", \"event_time\": ");
		escape_json(&buf, ds->event_time);
		appendStringInfoString(&buf, ", \"watermark\": ");
		escape_json(&buf, ds->watermark_usecs % USECS_PER_SEC == 0 ?
					psprintf(INT64_FORMAT " seconds", ds->watermark_usecs / USECS_PER_SEC) :
					psprintf(INT64_FORMAT " microseconds", ds->watermark_usecs));
	}
	if (ds->dedup != NIL)
	{
		appendStringInfoString(&buf, ", \"deduplicate\": [");
		foreach(lc, ds->dedup)
		{
			if (foreach_current_index(lc) > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, lfirst(lc));
		}
		appendStringInfoChar(&buf, ']');
	}
	if (ds->key_given && key != NIL)
	{
		appendStringInfoString(&buf, ", \"key\": [");
		foreach(lc, key)
		{
			if (foreach_current_index(lc) > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, lfirst(lc));
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, ", \"on_error\": ");
	escape_json(&buf, ds->on_error);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * A target start_query created: distributed by the output column that is
 * the stream's distribution column, co-located with the stream, as the
 * caller (who owns it).  One that exists must be so already.
 */
static void
dd_distribute_target(const PgsDistStart *ds, Oid target_relid, bool created)
{
	Oid			stream = ds->def->aq.stream_relid;
	DdCitusTable st;
	DdCitusTable tt;

	if (created)
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		values[3];

		values[0] = CStringGetTextDatum(dd_qualified(target_relid));
		values[1] = CStringGetTextDatum(ds->output_column);
		values[2] = CStringGetTextDatum(dd_qualified(stream));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		(void) dd_exec("SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)",
					   3, argtypes, values, false);
		SPI_finish();
		CommandCounterIncrement();
		return;
	}
	(void) dd_citus_table(stream, &st);
	if (!dd_citus_table(target_relid, &tt) || tt.partmethod != 'h' ||
		tt.column == NULL || strcmp(tt.column, ds->output_column) != 0 ||
		tt.colocationid != st.colocationid)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is not distributed by \"%s\" co-located with stream \"%s\"",
						get_rel_name(target_relid), ds->output_column, get_rel_name(stream)),
				 errdetail("Each shard of the stream writes the co-located shard of the target, on the same node."),
				 errhint("Name a table that does not exist yet (start_query creates it so), or distribute it with SELECT create_distributed_table(%s, %s, colocate_with => %s).",
						 quote_literal_cstr(dd_qualified(target_relid)),
						 quote_literal_cstr(ds->output_column),
						 quote_literal_cstr(dd_qualified(stream)))));
}

/* one shard row per shard of the stream, with the co-located target shard */
static List *
dd_shards(const PgsDistStart *ds, Oid target_relid)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2];
	MemoryContext cxt = CurrentMemoryContext;
	List	   *shards = NIL;
	int			n;
	int			i;

	values[0] = ObjectIdGetDatum(ds->def->aq.stream_relid);
	values[1] = ObjectIdGetDatum(target_relid);
	/* not read-only: the shards of a target distributed just now are seen */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = dd_exec("SELECT s.shardid, t.shardid FROM pg_dist_shard s"
				" LEFT JOIN pg_dist_shard t ON t.logicalrelid = $2::regclass"
				" AND t.shardminvalue = s.shardminvalue AND t.shardmaxvalue = s.shardmaxvalue"
				" WHERE s.logicalrelid = $1::regclass ORDER BY s.shardid",
				2, argtypes, values, false);
	for (i = 0; i < n; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		PgsDistShard *s = palloc0(sizeof(PgsDistShard));
		bool		isnull;

		s->shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												 SPI_tuptable->tupdesc, 1, &isnull));
		s->target_shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 2, &isnull));
		if (isnull)
			elog(ERROR, "shard " INT64_FORMAT " of \"%s\" has no co-located shard of \"%s\"",
				 s->shardid, get_rel_name(ds->def->aq.stream_relid),
				 get_rel_name(target_relid));
		s->shard_query = psprintf("%s_s" INT64_FORMAT, ds->name, s->shardid);
		if (strlen(s->shard_query) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("streaming query name \"%s\" is too long for a query over a distributed stream",
							ds->name),
					 errdetail("Each shard runs a query named \"%s\", which must be shorter than %d bytes.",
							   s->shard_query, NAMEDATALEN),
					 errhint("Choose a shorter name.")));
		shards = lappend(shards, s);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (shards == NIL)
		elog(ERROR, "distributed stream \"%s\" has no shards",
			 get_rel_name(ds->def->aq.stream_relid));
	return shards;
}

/*
 * Distribute or check the target, and record the query and one row per
 * shard in the caller's transaction.  The nodes start the shard queries
 * once this commits (the scheduler's reconciler).  Returns minus the
 * number of shard queries: a distributed query has no query_id.
 */
int64
pgs_dist_start(PgsDistStart *ds, Oid target_relid, bool created, List *key)
{
	PgsDistQuery q;
	List	   *shards;

	if (!ds->key_given && key != NIL)
		pgs_dist_check_key(ds, key);
	dd_distribute_target(ds, target_relid, created);
	shards = dd_shards(ds, target_relid);

	memset(&q, 0, sizeof(q));
	q.name = (char *) ds->name;
	q.owner = GetUserId();
	q.query_text = (char *) ds->query_text;
	q.search_path = pstrdup(GetConfigOption("search_path", false, false));
	q.stream_relid = ds->def->aq.stream_relid;
	q.target_relid = target_relid;
	q.distribution_column = ds->distribution_column;
	q.placement = (char *) ds->placement;
	q.options = dd_options(ds, key);
	q.desired_status = "active";
	pgs_dist_query_insert(&q, shards);
	pgs_notify_scheduler_at_commit();
	return -(int64) list_length(shards);
}

/*
 * stop_query, resume_query, drop_query of a name that is no local query:
 * a distributed query's desired status, set in the caller's transaction
 * after the same check of rights as a local query's.
 */
bool
pgs_dist_manage(const char *name, const char *status, bool *changed)
{
	PgsDistQuery q;

	if (!pgs_dist_query_read(name, &q))
		return false;
	if (!has_privs_of_role(GetUserId(), q.owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for streaming query \"%s\"", name),
				 errhint("Only the owner of a query, a member of the owning role or a superuser can manage it.")));
	/* no status: only the check, for a refusal that names the query */
	*changed = status != NULL && strcmp(q.desired_status, status) != 0;
	if (*changed)
	{
		pgs_dist_query_set_desired(name, status);
		pgs_notify_scheduler_at_commit();
	}
	return true;
}

/* a string option of a distributed query's options, NULL when absent */
static char *
dd_option_text(Jsonb *options, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&options->root, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* an array-of-strings option (deduplicate, key), NIL when absent */
static List *
dd_option_list(Jsonb *options, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&options->root, key, strlen(key), NULL);
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	List	   *result = NIL;

	if (v == NULL || v->type != jbvBinary)
		return NIL;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		if (tok == WJB_ELEM && e.type == jbvString)
			result = lappend(result, pnstrdup(e.val.string.val, e.val.string.len));
	return result;
}

/* the refusal of a change alter_query cannot make to a distributed query */
static void dd_alter_refuse(const char *name, const char *what, const char *detail) pg_attribute_noreturn();

static void
dd_alter_refuse(const char *name, const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("alter_query cannot change %s of distributed query \"%s\"", what, name),
			 errdetail("%s", detail),
			 errhint("Drop the query and start it again with the new definition.")));
}

/*
 * The new text, read as the owner under the caller's search_path, checked
 * as start_query's distributed path checks it: the same stream, the same
 * placement, the target's distribution column in the output, the target's
 * columns and the owner's rights; the key and deduplication kept.
 */
static void
dd_alter_check_text(const PgsDistAlter *a, const PgsDistQuery *q, Jsonb *options)
{
	PgsDefinition d;
	PgsDistStart ds;
	DdCitusTable tt;
	Oid			saved_userid;
	int			saved_sec_context;
	int			nest;
	List	   *key = dd_option_list(options, "key");

	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	SetUserIdAndSecContext(q->owner, saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nest = NewGUCNestLevel();
	pgs_set_search_path(a->search_path);

	memset(&d, 0, sizeof(d));
	d.query_text = a->query_text;
	d.output_mode = dd_option_text(options, "output_mode");
	d.event_time = dd_option_text(options, "event_time");
	d.dedup = dd_option_list(options, "deduplicate");
	pgs_check_definition(&d);
	if (d.aq.stream_relid != q->stream_relid)
		dd_alter_refuse(q->name, "the stream",
						psprintf("The new text reads \"%s\", the query's shards are shards of \"%s\".",
								 get_rel_name(d.aq.stream_relid), get_rel_name(q->stream_relid)));

	memset(&ds, 0, sizeof(ds));
	ds.name = q->name;
	ds.query_text = a->query_text;
	ds.output_mode = d.output_mode;
	ds.trigger = dd_option_text(options, "trigger");
	ds.on_error = dd_option_text(options, "on_error");
	ds.event_time = d.event_time;
	ds.dedup = d.dedup;
	ds.key_given = key != NIL;
	ds.key = key;
	ds.def = &d;
	pgs_dist_check_shape(&ds);
	if (strcmp(ds.placement, q->placement) != 0)
		dd_alter_refuse(q->name, "the placement",
						psprintf("The query runs with placement '%s'; the new text would need '%s'.",
								 q->placement, ds.placement));
	if (!dd_citus_table(q->target_relid, &tt) || tt.column == NULL ||
		strcmp(tt.column, ds.output_column) != 0)
		dd_alter_refuse(q->name, "the distribution column in the output",
						psprintf("The target \"%s\" is distributed by \"%s\"; the new text outputs the stream's distribution column as \"%s\".",
								 get_rel_name(q->target_relid), tt.column ? tt.column : "?",
								 ds.output_column));
	pgs_check_target(q->target_relid, q->stream_relid, &d.aq);
	pgs_check_rights(pgs_compose_insert(a->query_text, q->target_relid,
										d.aq.column_names, key),
					 q->stream_relid, q->target_relid, d.aggregates);
	AtEOXact_GUC(false, nest);
	SetUserIdAndSecContext(saved_userid, saved_sec_context);
}

/*
 * alter_query on the coordinator: the same check of rights as for a local
 * query, the new definition checked as start would check it, and recorded
 * with a new altered_at in the caller's transaction.  The reconciler then
 * brings each shard's query to it on its node; the shards themselves check
 * the change against their state (an aggregation's grouping keys).
 */
bool
pgs_dist_alter(const PgsDistAlter *a)
{
	PgsDistQuery q;
	Jsonb	   *options;
	StringInfoData patch;
	bool		unused;
	char	   *new_options;

	/* checks the caller's rights first, changes nothing */
	if (!pgs_dist_manage(a->name, NULL, &unused))
		return false;
	if (!pgs_dist_query_read(a->name, &q))
		return false;
	if (a->other_given)
		dd_alter_refuse(a->name, "watermarks or events",
						"A distributed query reads one stream, whose shards' queries send no events.");
	if (strcmp(q.placement, "merge") == 0 &&
		(a->query_text != NULL || a->max_rows_given || a->watermark != NULL))
		dd_alter_refuse(a->name, "more than the trigger",
						"It is a merged aggregation: the shards' partial groups and the coordinator's merged state are made by the text, cap and watermark it was started with; only the shards' trigger may change.");
	options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(q.options)));
	if (a->watermark != NULL && dd_option_text(options, "event_time") == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distributed query \"%s\" has no event time, so no watermark", a->name),
				 errhint("Start a query with event_time => and watermark => to have one.")));
	if (a->max_rows_given && a->max_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows_per_batch must be positive, or 0 for none, not %d", a->max_rows)));
	if (a->query_text != NULL)
		dd_alter_check_text(a, &q, options);

	/* the options with the new trigger, cap and delay */
	initStringInfo(&patch);
	appendStringInfoChar(&patch, '{');
	if (a->trigger != NULL)
	{
		appendStringInfoString(&patch, "\"trigger\": ");
		escape_json(&patch, pgs_check_trigger(a->trigger));
	}
	if (a->max_rows_given && a->max_rows > 0)
		appendStringInfo(&patch, "%s\"max_rows_per_batch\": %d",
						 patch.len > 1 ? ", " : "", a->max_rows);
	if (a->watermark != NULL)
	{
		appendStringInfoString(&patch, patch.len > 1 ? ", \"watermark\": " : "\"watermark\": ");
		escape_json(&patch, a->watermark);
	}
	appendStringInfoChar(&patch, '}');
	{
		Datum		merged = DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(options),
												 DirectFunctionCall1(jsonb_in, CStringGetDatum(patch.data)));

		if (a->max_rows_given && a->max_rows == 0)
			merged = DirectFunctionCall2(jsonb_delete, merged,
										 CStringGetTextDatum("max_rows_per_batch"));
		new_options = DatumGetCString(DirectFunctionCall1(jsonb_out, merged));
	}
	pgs_dist_query_alter(a->name, a->query_text, a->search_path, new_options);
	pgs_notify_scheduler_at_commit();
	return true;
}

/* ---------------------------------------------------------------------
 * The reconciler
 * ---------------------------------------------------------------------
 */

/* the json object of the relation map, one key at a time */
static void
dd_map_add(StringInfo map, Oid relid, const char *shard_name)
{
	appendStringInfoString(map, map->len > 1 ? ", " : "");
	escape_json(map, dd_qualified(relid));
	appendStringInfoString(map, ": ");
	escape_json(map, shard_name);
}

/* a shard's relation name as Citus names it, schema-qualified */
static char *
dd_shard_name(Oid relid, int64 shardid)
{
	Oid			argtypes[2] = {OIDOID, INT8OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int64GetDatum(shardid)};

	if (dd_exec("SELECT shard_name($1::regclass, $2, false)", 2, argtypes, values, true) != 1)
		elog(ERROR, "no name for shard " INT64_FORMAT, shardid);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * The target shard's name, from the table it is a shard of: the query's
 * target, or for the merge placement the exchange (merge.c).
 */
static char *
dd_target_shard_name(int64 shardid)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(shardid)};

	if (dd_exec("SELECT shard_name(logicalrelid, shardid, false) FROM pg_dist_shard"
				" WHERE shardid = $1", 1, argtypes, values, true) != 1)
		elog(ERROR, "no name for shard " INT64_FORMAT, shardid);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * The relation map of a shard's query: the stream's shard, and each
 * reference table the query names, analyzed now as its owner under its
 * search_path (as the node will resolve the names), to its shard.
 */
static char *
dd_relation_map(const PgsDistShard *s, char **stream_shard)
{
	PgsAnalyzedQuery aq;
	List	   *relids = NIL;
	ListCell   *lc;
	StringInfoData map;
	int			nest = NewGUCNestLevel();

	memset(&aq, 0, sizeof(aq));
	pgs_set_search_path(s->query.search_path);
	pgs_analyze_user_query(s->query.query_text, &aq);
	(void) dd_tables_walker((Node *) aq.query, &relids);
	AtEOXact_GUC(false, nest);

	initStringInfo(&map);
	appendStringInfoChar(&map, '{');
	*stream_shard = dd_shard_name(s->query.stream_relid, s->shardid);
	dd_map_add(&map, s->query.stream_relid, *stream_shard);
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(relid)};
		DdCitusTable t;
		bool		isnull;
		int64		shardid;

		if (relid == s->query.stream_relid || !dd_citus_table(relid, &t) ||
			t.partmethod != 'n')
			continue;
		if (dd_exec("SELECT shardid FROM pg_dist_shard WHERE logicalrelid = $1::regclass",
					1, argtypes, values, true) != 1)
			continue;
		shardid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
		dd_map_add(&map, relid, dd_shard_name(relid, shardid));
	}
	appendStringInfoChar(&map, '}');
	return map.data;
}

/* the command that takes a shard's query from its applied status one step on */
static char *
dd_command(const PgsDistShard *s, const char **next)
{
	const char *desired = s->query.desired_status;

	if (strcmp(desired, "dropped") == 0)
	{
		*next = "dropped";
		return psprintf("SELECT stream.drop_query(%s, if_exists => true)",
						quote_literal_cstr(s->shard_query));
	}
	if (s->applied_status == NULL)
	{
		char	   *stream_shard;
		char	   *map = dd_relation_map(s, &stream_shard);

		*next = "active";
		return psprintf("SELECT stream._start_shard_query(%s, %s, %s, %s, %s::regclass,"
						" %s::regclass, %s::jsonb, %s::jsonb)",
						quote_literal_cstr(s->query.name),
						quote_literal_cstr(s->shard_query),
						quote_literal_cstr(s->query.query_text),
						quote_literal_cstr(s->query.search_path),
						quote_literal_cstr(stream_shard),
						quote_literal_cstr(dd_target_shard_name(s->target_shardid)),
						quote_literal_cstr(map),
						quote_literal_cstr(s->query.options));
	}
	if (s->alter_pending)
	{
		char	   *stream_shard;
		char	   *map = dd_relation_map(s, &stream_shard);

		/* the query's new definition first, its status kept */
		*next = s->applied_status;
		return psprintf("SELECT stream._alter_shard_query(%s, %s, %s, %s, %s::jsonb, %s::jsonb)",
						quote_literal_cstr(s->query.name),
						quote_literal_cstr(s->shard_query),
						quote_literal_cstr(s->query.query_text),
						quote_literal_cstr(s->query.search_path),
						quote_literal_cstr(map),
						quote_literal_cstr(s->query.options));
	}
	if (strcmp(desired, "stopped") == 0)
	{
		*next = "stopped";
		return psprintf("SELECT stream.stop_query(%s)", quote_literal_cstr(s->shard_query));
	}
	*next = "active";
	return psprintf("SELECT stream.resume_query(%s)", quote_literal_cstr(s->shard_query));
}

/*
 * Bring one shard's query one step on, as the query's owner, on the node
 * holding the shard now.  Returns the status reached, or NULL with *error
 * set when the node could not be reached or refused.
 */
static const char *
dd_reconcile_step(const PgsDistShard *s, char **error, List *unreachable,
				  char **failed_node)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3];
	const char *next = NULL;
	char	   *command;
	char	   *node;
	int32		port;
	bool		isnull;
	bool		success;

	{
		Oid			at[1] = {INT8OID};
		Datum		av[1] = {Int64GetDatum(s->shardid)};

		if (dd_exec("SELECT n.nodename, n.nodeport FROM pg_dist_placement p"
					" JOIN pg_dist_node n ON n.groupid = p.groupid"
					" WHERE p.shardid = $1 AND n.noderole = 'primary' AND n.isactive"
					" ORDER BY n.nodeid LIMIT 1", 1, at, av, true) != 1)
		{
			*error = psprintf("shard " INT64_FORMAT " has no active placement", s->shardid);
			return NULL;
		}
		node = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		port = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										   2, &isnull));
	}
	/* a node that did not answer in this pass is not waited for again */
	if (list_member(unreachable, makeString(psprintf("%s:%d", node, port))))
		return NULL;
	command = dd_command(s, &next);
	values[0] = CStringGetTextDatum(node);
	values[1] = Int32GetDatum(port);
	values[2] = CStringGetTextDatum(command);
	if (dd_exec("SELECT success, result FROM master_run_on_worker(ARRAY[$1], ARRAY[$2],"
				" ARRAY[$3], false)", 3, argtypes, values, false) != 1)
		elog(ERROR, "master_run_on_worker gave no result");
	success = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										 1, &isnull));
	if (!success)
	{
		char	   *result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		*error = psprintf("%s:%d: %s", node, port, result ? result : "failed");
		if (result != NULL && strncmp(result, "failed to connect", 17) == 0)
			*failed_node = psprintf("%s:%d", node, port);
		return NULL;
	}
	return next;
}

/*
 * One shard row, in a subtransaction so that an error (a node that does
 * not answer, a query the node refuses) is recorded and the next shard
 * goes on; as the query's owner, whose rights the node's query runs with.
 * A shard on a node that did not answer earlier in the pass (unreachable,
 * in the caller's context) is left as it is, its last error kept.
 */
static void
dd_reconcile_shard(PgsDistShard *s, List **unreachable)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			saved_user;
	int			saved_sec;
	char	   *volatile error = NULL;
	const char *volatile reached = NULL;
	int			steps;

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	for (steps = 0; steps < 3; steps++)
	{
		char	   *step_error = NULL;
		char	   *failed_node = NULL;
		const char *step;

		/* a start or an alter brings the shard to the query's definition */
		bool		defines = strcmp(s->query.desired_status, "dropped") != 0 &&
			(s->applied_status == NULL || s->alter_pending);

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			/* restricted: nothing here is to change the session's state */
			if (saved_user != s->query.owner)
				SetUserIdAndSecContext(s->query.owner,
									   saved_sec | SECURITY_LOCAL_USERID_CHANGE |
									   SECURITY_RESTRICTED_OPERATION);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			step = dd_reconcile_step(s, &step_error, *unreachable, &failed_node);
			/* what the step found is in SPI's memory: keep it in ours */
			reached = step ? MemoryContextStrdup(cxt, step) : NULL;
			error = step_error ? MemoryContextStrdup(cxt, step_error) : NULL;
			if (failed_node != NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);

				*unreachable = lappend(*unreachable, makeString(pstrdup(failed_node)));
				MemoryContextSwitchTo(old);
			}
			SPI_finish();
			SetUserIdAndSecContext(saved_user, saved_sec);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			SetUserIdAndSecContext(saved_user, saved_sec);
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			/* a cancel or a termination is not the node's error */
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
				pgs_error_is_termination(edata->sqlerrcode))
				ReThrowError(edata);
			reached = NULL;
			error = edata->message;
		}
		PG_END_TRY();

		if (reached == NULL)
		{
			if (error != NULL)
				pgs_dist_shard_failed(s->query.name, s->shardid, error);
			return;
		}
		pgs_dist_shard_applied(s->query.name, s->shardid, reached);
		s->applied_status = pstrdup(reached);
		if (defines)
		{
			if (s->altered_at != NULL)
				pgs_dist_shard_altered(s->query.name, s->shardid, s->altered_at);
			s->alter_pending = false;
		}
		/* started or altered where it must be stopped: one more step */
		if (strcmp(reached, s->query.desired_status) == 0 && !s->alter_pending)
			return;
	}
}

/*
 * stream._reconcile_distributed(name DEFAULT NULL): for each shard row of
 * the named distributed query (or of every one) whose applied status is not
 * its query's desired status, the command on the shard's node; then the
 * dropped queries whose every shard is dropped go.  Acts on the queries
 * the caller may manage only.  Returns the shard rows still not as
 * desired.  The nodes' changes commit on their own, before the caller's
 * transaction: call it only where the rows it acts on are committed.
 */
Datum
stream_reconcile_distributed(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *shards;
	List	   *unreachable = NIL;
	ListCell   *lc;

	if (pgs_catalog_version() < PGS_CATALOG_0_9 || !dd_citus_installed())
		PG_RETURN_INT32(0);
	pgs_require_writable();
	shards = pgs_dist_shards_to_reconcile(name);
	foreach(lc, shards)
	{
		PgsDistShard *s = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		if (!has_privs_of_role(GetUserId(), s->query.owner))
			continue;
		dd_reconcile_shard(s, &unreachable);
	}
	pgs_merge_forget_dropped(name);
	pgs_dist_forget_dropped(name);
	PG_RETURN_INT32(pgs_dist_count_pending(name));
}
