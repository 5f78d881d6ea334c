/*-------------------------------------------------------------------------
 *
 * shard_queries.c
 *	  stream._start_shard_query: on a node of a Citus cluster, one shard's
 *	  query of a distributed query, an ordinary query of this node over the
 *	  local shard of the stream into the co-located shard of the target.
 *
 * The coordinator's query text names the coordinator's tables; the shard's
 * query must name the local relations that stand for them here (the
 * stream's shard, a reference table's local shard).  The text is rewritten
 * where the parser says each table reference is, and nowhere else: string
 * literals, comments, column names and CTEs that look like a table's name
 * stay as written.  The rewritten text must then name no distributed table
 * (reading one from a node would read every shard of it, through Citus, in
 * every batch).  The query itself is started by stream.start_query, as the
 * caller, so every check and every object of a local query are the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "parser/gram.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "storage/pgs_shards.h"

PG_FUNCTION_INFO_V1(stream_start_shard_query);
PG_FUNCTION_INFO_V1(stream_alter_shard_query);

/* one entry of relation_map: a distributed table and its local stand-in */
typedef struct SqMapEntry
{
	const char *key;			/* as given */
	Oid			table;			/* the distributed table, on this node */
	Oid			local;			/* the local relation standing for it */
	char	   *local_name;		/* its qualified, quoted name */
} SqMapEntry;

/* one replacement in the text */
typedef struct SqEdit
{
	int			location;
	int			length;
	char	   *replacement;
} SqEdit;

/* the state of one text's rewrite */
typedef struct SqRewrite
{
	const char *qtext;
	List	   *map;			/* SqMapEntry * */
	List	   *ctes;			/* char *: CTE names in scope */
	List	   *edits;			/* SqEdit * */
	Oid			stream_shard;
	bool		reads_stream_shard;
} SqRewrite;

/* the options start_query takes as named arguments, and how each is cast */
static const struct
{
	const char *key;
	const char *expr;			/* %s: the option's value as text */
}			sq_options[] =
{
	{"output_mode", "%s"},
	{"trigger", "%s"},
	{"max_rows_per_batch", "(%s)::pg_catalog.int4"},
	{"starting_from", "%s"},
	{"event_time", "%s"},
	{"watermark", "(%s)::pg_catalog.interval"},
	{"deduplicate", NULL},
	{"key", NULL},
	{"on_error", "%s"},
};

/* a relation's name, qualified and quoted */
static char *
sq_relname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* a relation named by text, resolved along the search_path in force */
static Oid
sq_resolve(const char *name, bool missing_ok)
{
	List	   *names = stringToQualifiedNameList(name);

	return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, missing_ok);
}

/*
 * relation_map: an object whose keys name the distributed tables (as the
 * coordinator names them, qualified) and whose values name the local
 * relations standing for them on this node.
 */
static List *
sq_read_map(Jsonb *map)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *entries = NIL;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(map))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation_map must be a JSON object"),
				 errhint("Map each distributed table to its local shard, as in {\"public.ev\": \"public.ev_102008\"}.")));
	it = JsonbIteratorInit(&map->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		SqMapEntry *e;

		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("relation_map maps \"%s\" to something other than a relation's name", key),
					 errhint("Map each distributed table to its local shard's name, as a JSON string.")));
		e = palloc0(sizeof(SqMapEntry));
		e->key = key;
		e->table = sq_resolve(key, true);
		if (!OidIsValid(e->table))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" of relation_map does not exist on this node", key)));
		if (!pgs_citus_is_table(e->table))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("relation \"%s\" of relation_map is not a distributed table", key),
					 errdetail("relation_map maps the distributed and reference tables a query names to their local shards.")));
		e->local = sq_resolve(pnstrdup(v.val.string.val, v.val.string.len), true);
		if (!OidIsValid(e->local))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" of relation_map does not exist on this node",
							pnstrdup(v.val.string.val, v.val.string.len)),
					 errhint("Map \"%s\" to a shard this node holds.", key)));
		e->local_name = sq_relname(e->local);
		entries = lappend(entries, e);
	}
	return entries;
}

/*
 * The length of the name of nparts parts (name, schema.name or
 * catalog.schema.name) at the start of qtext, as the core scanner reads it:
 * quoted parts, spaces and comments between the parts included.  The
 * scanner ends each token it returns with a NUL in its own copy of the
 * text, so the last part's extent is where that copy ends.
 */
static int
sq_name_length(const char *qtext, int nparts)
{
	core_yyscan_t scanner;
	core_yy_extra_type extra;
	core_YYSTYPE lval;
	YYLTYPE		loc;
	int			end = 0;
	int			i;

	scanner = scanner_init(qtext, &extra, &ScanKeywords, ScanKeywordTokens);
	for (i = 0; i < 2 * nparts - 1; i++)
	{
		int			tok = core_yylex(&lval, &loc, scanner);

		if (i % 2 == 1 ? tok != '.' : (tok == 0 || tok == '.' || (i == 0 && loc != 0)))
			elog(ERROR, "could not find the table name at \"%.20s\"", qtext);
		if (i % 2 == 0)
			end = loc + strlen(extra.scanbuf + loc);
	}
	scanner_finish(scanner);
	return end;
}

/*
 * A table reference of the text: when it names, under the search_path, a
 * table of the map, its name is replaced by the local relation's (with its
 * range name kept as an alias, so that column references qualified by it
 * stay right); a distributed table not in the map is refused; anything
 * else is left as written.  An unqualified name of a CTE in scope names
 * the CTE.
 */
static void
sq_range_var(SqRewrite *rw, RangeVar *rv)
{
	Oid			relid;
	ListCell   *lc;
	SqMapEntry *found = NULL;
	SqEdit	   *edit;
	int			nparts;

	if (rv->schemaname == NULL && rv->catalogname == NULL)
		foreach(lc, rw->ctes)
			if (strcmp(lfirst(lc), rv->relname) == 0)
				return;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return;
	if (relid == rw->stream_shard)
		rw->reads_stream_shard = true;
	foreach(lc, rw->map)
		if (((SqMapEntry *) lfirst(lc))->table == relid)
			found = lfirst(lc);
	if (found == NULL)
	{
		if (pgs_citus_is_table(relid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("distributed table \"%s\" is not in relation_map", sq_relname(relid)),
					 errdetail("A shard query reads the local shards of the tables it names; reading the distributed table would read every shard in every batch."),
					 errhint("Add \"%s\" to relation_map with its local shard.", sq_relname(relid))));
		return;
	}
	if (found->local == rw->stream_shard)
		rw->reads_stream_shard = true;
	if (rv->location < 0)
		elog(ERROR, "table reference without a location in a query text");
	nparts = 1 + (rv->schemaname != NULL) + (rv->catalogname != NULL);
	edit = palloc(sizeof(SqEdit));
	edit->location = rv->location;
	edit->length = sq_name_length(rw->qtext + rv->location, nparts);
	edit->replacement = rv->alias != NULL ? found->local_name :
		psprintf("%s AS %s", found->local_name, quote_identifier(rv->relname));
	rw->edits = lappend(rw->edits, edit);
}

/*
 * Walk the raw parse tree for table references.  A WITH clause puts its
 * CTEs' names in scope for the statement (and, recursive, for its CTEs; else
 * each CTE sees the ones before it).  The relations named by FOR UPDATE OF
 * and INTO are range names and targets, not tables read.
 */
static bool
sq_walker(Node *node, void *context)
{
	SqRewrite  *rw = (SqRewrite *) context;

	if (node == NULL)
		return false;
	if (IsA(node, RangeVar))
	{
		sq_range_var(rw, (RangeVar *) node);
		return false;
	}
	if (IsA(node, LockingClause) || IsA(node, IntoClause))
		return false;
	if (IsA(node, SelectStmt) && ((SelectStmt *) node)->withClause != NULL)
	{
		SelectStmt *stmt = (SelectStmt *) node;
		WithClause *with = stmt->withClause;
		List	   *outer = rw->ctes;
		List	   *all = list_copy(outer);
		ListCell   *lc;
		bool		result;

		foreach(lc, with->ctes)
			all = lappend(all, ((CommonTableExpr *) lfirst(lc))->ctename);
		if (!with->recursive)
			rw->ctes = list_copy(outer);
		else
			rw->ctes = all;
		foreach(lc, with->ctes)
		{
			CommonTableExpr *cte = (CommonTableExpr *) lfirst(lc);

			if (sq_walker(cte->ctequery, rw))
				return true;
			if (!with->recursive)
				rw->ctes = lappend(rw->ctes, cte->ctename);
		}
		rw->ctes = all;
		stmt->withClause = NULL;
		result = raw_expression_tree_walker(node, sq_walker, rw);
		stmt->withClause = with;
		rw->ctes = outer;
		return result;
	}
	return raw_expression_tree_walker(node, sq_walker, rw);
}

static int
sq_edit_cmp(const ListCell *a, const ListCell *b)
{
	return ((SqEdit *) lfirst(a))->location - ((SqEdit *) lfirst(b))->location;
}

/* does the analyzed and rewritten query read a distributed table? */
static bool
sq_citus_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		ListCell   *lc;

		foreach(lc, ((Query *) node)->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind == RTE_RELATION && pgs_citus_is_table(rte->relid))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the shard query reads distributed table \"%s\"",
								sq_relname(rte->relid)),
						 errdetail("A shard query reads the local shards of the tables it names; a view or function that reads the distributed table would read every shard in every batch."),
						 errhint("Name the table itself in the query, and map it in relation_map.")));
		}
		return query_tree_walker((Query *) node, sq_citus_walker, context, 0);
	}
	return expression_tree_walker(node, sq_citus_walker, context);
}

/*
 * The text with every table reference of the map replaced by its local
 * relation, checked: it analyzes, names no distributed table, and reads the
 * stream's shard.  Runs under the query's search_path.
 */
static char *
sq_rewrite(const char *qtext, List *map, Oid stream_shard)
{
	SqRewrite	rw = {0};
	RawStmt    *raw;
	StringInfoData buf;
	int			pos = 0;
	ListCell   *lc;
	List	   *queries;

	rw.qtext = qtext;
	rw.map = map;
	rw.stream_shard = stream_shard;
	raw = pgs_query_parse_one(qtext);
	(void) sq_walker(raw->stmt, &rw);
	list_sort(rw.edits, sq_edit_cmp);

	initStringInfo(&buf);
	foreach(lc, rw.edits)
	{
		SqEdit	   *e = lfirst(lc);

		appendBinaryStringInfo(&buf, qtext + pos, e->location - pos);
		appendStringInfoString(&buf, e->replacement);
		pos = e->location + e->length;
	}
	appendStringInfoString(&buf, qtext + pos);

	if (!rw.reads_stream_shard)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query does not read stream shard \"%s\"", sq_relname(stream_shard)),
				 errhint("Map the distributed stream the query reads to this shard in relation_map.")));

	/* the rewritten text analyzes, views expanded, and reads no distributed table */
	raw = pgs_query_parse_one(buf.data);
	queries = pg_analyze_and_rewrite_fixedparams(raw, buf.data, NULL, 0, NULL);
	foreach(lc, queries)
		(void) sq_citus_walker(lfirst(lc), NULL);
	return buf.data;
}

/*
 * Start the shard's query with stream.start_query, as the caller, options
 * as its named arguments (a JSON array or a text[] literal for deduplicate
 * and key); returns its id.
 */
static int64
sq_start(const char *name, const char *qtext, Oid target, Jsonb *options)
{
	StringInfoData sql;
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		values[4];
	int			found = 0;
	int			i;
	bool		isnull;
	int64		id;

	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT stream.start_query(name => $1, query => $2, target => $3");
	for (i = 0; i < lengthof(sq_options); i++)
	{
		const char *key = sq_options[i].key;
		char	   *value = psprintf("($4 OPERATOR(pg_catalog.->>) %s)", quote_literal_cstr(key));

		if (getKeyJsonValueFromContainer(&options->root, key, strlen(key), NULL) == NULL)
			continue;
		found++;
		appendStringInfo(&sql, ", %s => ", key);
		if (sq_options[i].expr != NULL)
			appendStringInfo(&sql, sq_options[i].expr, value);
		else
			appendStringInfo(&sql,
							 "CASE pg_catalog.jsonb_typeof($4 OPERATOR(pg_catalog.->) %s)"
							 " WHEN 'array' THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($4 OPERATOR(pg_catalog.->) %s))"
							 " ELSE %s::pg_catalog.text[] END",
							 quote_literal_cstr(key), quote_literal_cstr(key), value);
	}
	if (found != JsonContainerSize(&options->root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of a shard query take only start_query's arguments"),
				 errdetail("Known options: output_mode, trigger, max_rows_per_batch, starting_from, event_time, watermark, deduplicate, key, on_error.")));
	appendStringInfoChar(&sql, ')');

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(qtext);
	values[2] = CStringGetTextDatum(sq_relname(target));
	values[3] = JsonbPGetDatum(options);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql.data, 4, argtypes, values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not start shard query \"%s\"", name);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return id;
}

/*
 * stream._start_shard_query(distributed_query, shard_query, query,
 * search_path, stream_shard, target_shard, relation_map, options): start,
 * as the caller, the query named shard_query over this node's shard of a
 * distributed stream, or return the id of the one already started with the
 * same text for the same distributed query.
 */
Datum
stream_start_shard_query(PG_FUNCTION_ARGS)
{
	char	   *distributed = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *qtext = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *search_path = text_to_cstring(PG_GETARG_TEXT_PP(3));
	Oid			stream_shard = PG_GETARG_OID(4);
	Oid			target_shard = PG_GETARG_OID(5);
	Jsonb	   *map = PG_GETARG_JSONB_P(6);
	Jsonb	   *options = PG_GETARG_JSONB_P(7);
	int			nest;
	char	   *rewritten;
	int64		id;
	Oid			owner;
	char	   *old_text;
	char	   *old_distributed;

	pgs_require_writable();
	pgs_catalog_require(PGS_CATALOG_0_9, "shard queries");
	if (!pgs_citus_present())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("shard queries need the extension citus in this database"),
				 errhint("A distributed query is started on the Citus coordinator with stream.start_query().")));

	/* the text is read, rewritten and started along the query's search_path */
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	rewritten = sq_rewrite(qtext, sq_read_map(map), stream_shard);

	if (pgs_query_shard_def(name, &id, &owner, &old_text, &old_distributed))
	{
		if (owner == GetUserId() && old_distributed != NULL &&
			strcmp(old_distributed, distributed) == 0 && strcmp(old_text, rewritten) == 0)
		{
			AtEOXact_GUC(false, nest);
			PG_RETURN_INT64(id);
		}
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("streaming query \"%s\" already exists with another definition", name),
				 errdetail("Shard query \"%s\" of distributed query \"%s\" would read: %s",
						   name, distributed, rewritten),
				 errhint("Drop the query of that name on this node with stream.drop_query(), or choose another name.")));
	}

	pgs_register_stream_shard(stream_shard);
	id = sq_start(name, rewritten, target_shard, options);
	pgs_query_set_distributed(id, distributed);

	/*
	 * Citus creates the extension on a node in a prepared transaction, whose
	 * commit tells the launcher nothing: the first shard query does.
	 */
	pgs_notify_launcher_at_commit();
	AtEOXact_GUC(false, nest);
	PG_RETURN_INT64(id);
}

/*
 * stream._alter_shard_query(distributed_query, shard_query, query,
 * search_path, relation_map, options): bring the shard query of the
 * distributed query to the coordinator's new definition, with
 * stream.alter_query as the caller: the text rewritten as
 * _start_shard_query rewrites it (given to alter_query only when it
 * differs from the query's), and the trigger, cap and watermark of options.
 * Called again with the same arguments it changes nothing.
 */
Datum
stream_alter_shard_query(PG_FUNCTION_ARGS)
{
	char	   *distributed = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *qtext = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *search_path = text_to_cstring(PG_GETARG_TEXT_PP(3));
	Jsonb	   *map = PG_GETARG_JSONB_P(4);
	Jsonb	   *options = PG_GETARG_JSONB_P(5);
	Oid			argtypes[3] = {TEXTOID, TEXTOID, JSONBOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	PgsQuery	q;
	int64		id;
	Oid			owner;
	char	   *old_text;
	char	   *old_distributed;
	char	   *rewritten;
	int			nest;

	pgs_require_writable();
	pgs_catalog_require(PGS_CATALOG_0_9, "shard queries");
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	if (!pgs_query_shard_def(name, &id, &owner, &old_text, &old_distributed) ||
		old_distributed == NULL || strcmp(old_distributed, distributed) != 0 ||
		!pgs_query_read(name, 0, PGS_QUERY_NO_LOCK, &q))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("streaming query \"%s\" is no shard query of distributed query \"%s\" on this node",
						name, distributed),
				 errhint("The coordinator starts it with stream._start_shard_query().")));

	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	rewritten = sq_rewrite(qtext, sq_read_map(map), q.stream_relid);

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(rewritten);
	values[2] = JsonbPGetDatum(options);
	if (strcmp(rewritten, old_text) == 0)
		nulls[1] = 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* alter_query checks the caller's rights, the text and its target */
	if (SPI_execute_with_args(psprintf("SELECT stream.alter_query($1, query => $2,"
									   " trigger => $3 OPERATOR(pg_catalog.->>) 'trigger',"
									   " max_rows_per_batch => COALESCE(($3 OPERATOR(pg_catalog.->>)"
									   " 'max_rows_per_batch')::pg_catalog.int4, 0)%s)",
									   q.event_time != NULL ?
									   ", watermark => ($3 OPERATOR(pg_catalog.->>) 'watermark')::pg_catalog.interval" : ""),
							  3, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not alter shard query \"%s\"", name);
	SPI_finish();
	AtEOXact_GUC(false, nest);
	PG_RETURN_VOID();
}
