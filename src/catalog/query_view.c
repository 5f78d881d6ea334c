/*-------------------------------------------------------------------------
 *
 * query_view.c
 *	  What a query reads, kept by PostgreSQL's own dependencies, and its
 *	  text kept up with renames.
 *
 * Each query has a view, stream_query.<query name>: a view of nothing,
 * whose rule is recorded as depending on everything the query reads, as its
 * owner analyzed it (the dependencies a view over the query would have).
 * Dropping or retyping what it depends on is refused unless CASCADE, which
 * drops the view and with it the query (the sql_drop event trigger).  The
 * view shows nothing of the query, and reading it runs nothing.
 *
 * Batches run the query's text as its owner's analysis deparsed it
 * (run_text): every name outside pg_catalog qualified, function arguments
 * cast, constants as they were read, under fixed output settings; parsed
 * with only pg_catalog (and pg_temp) on the path, it binds what the owner's
 * analysis bound, whatever is created anywhere later.  After a rename of what
 * the query reads, both texts are made again from an analysis taken before
 * the rename (query_catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "utils/fmgroids.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type_d.h"
#include "commands/view.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteSupport.h"
#include "catalog/pg_rewrite.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"

/* the text of a query, deparsed or parsed, means one thing whatever the session set */
static void
qv_fixed_settings(void)
{
	static const char *const settings[][2] = {
		{"datestyle", "ISO"},
		{"intervalstyle", "postgres"},
		{"extra_float_digits", "3"},
		{"standard_conforming_strings", "on"},
		{"backslash_quote", "safe_encoding"},
	};
	int			i;

	for (i = 0; i < lengthof(settings); i++)
		(void) set_config_option(settings[i][0], settings[i][1], PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/*
 * The search_path a role resolves names along, as an explicit list:
 * "$user" made the role's own schema, and schemas it may not use left out,
 * as namespace.c does for it.
 */
char *
pgs_owner_search_path(Oid owner, const char *stored)
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			level = NewGUCNestLevel();
	List	   *oids;
	ListCell   *lc;
	StringInfoData buf;

	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	SetUserIdAndSecContext(owner, saved_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	pgs_set_search_path(pgs_batch_search_path(stored));
	oids = fetch_search_path(false);
	AtEOXact_GUC(false, level);
	SetUserIdAndSecContext(saved_userid, saved_sec_context);

	initStringInfo(&buf);
	foreach(lc, oids)
	{
		char	   *name = get_namespace_name(lfirst_oid(lc));

		if (name != NULL && !isTempNamespace(lfirst_oid(lc)))
			appendStringInfo(&buf, "%s, ", quote_identifier(name));
	}
	appendStringInfoString(&buf, "pg_temp");
	return buf.data;
}

/*
 * A query deparsed with search_path (names it resolves unqualified) and
 * the fixed output settings.
 */
char *
pgs_query_deparse(Query *query, const char *search_path)
{
	int			level = NewGUCNestLevel();
	char	   *text;

	qv_fixed_settings();
	pgs_set_search_path(search_path);
	/* as for a view's rule: columns dropped since come out of join aliases */
	AcquireRewriteLocks(query, false, false);
	text = pg_get_querydef(query, true);
	AtEOXact_GUC(false, level);
	while (isspace((unsigned char) *text))
		text++;
	return pgs_trim_query(text);
}

/*
 * Parse a query's text with the fixed settings: it must be one SELECT (no
 * second statement hides behind a literal whatever a session set).
 */
RawStmt *
pgs_query_parse_one(const char *text)
{
	int			level = NewGUCNestLevel();
	List	   *raw;
	RawStmt    *stmt;

	qv_fixed_settings();
	raw = raw_parser(text, RAW_PARSE_DEFAULT);
	AtEOXact_GUC(false, level);
	if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a streaming query must be one SELECT statement")));
	stmt = linitial_node(RawStmt, raw);
	return stmt;
}

/*
 * Analyze a query's text as its owner along the given path: the text as
 * written along the query's search_path (a query started before the text
 * batches run was kept), or the run text along PGS_RUN_TEXT_PATH.
 */
Query *
pgs_query_analyze_as_owner(Oid owner, const char *text, const char *search_path)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	RawStmt    *raw = pgs_query_parse_one(text);
	Query	   *query;

	pgs_owner_begin(&acc, owner, search_path);
	/* the tree outlives the stretch's SPI connection */
	MemoryContextSwitchTo(cxt);
	query = parse_analyze_fixedparams(raw, text, NULL, 0, NULL);
	pgs_owner_end(&acc);
	return query;
}

/*
 * Create the view that stands for a query in PostgreSQL's dependencies,
 * stream_query.<query name>: a view of nothing, whose rule is recorded as
 * depending on everything the query as its owner analyzed it reads, as a
 * view's rule on its query.  Owned by the extension's owner; reading it
 * returns no row and runs no code, and shows nothing of the query.
 */
Oid
pgs_query_view_create(const char *query_name, Query *analyzed)
{
	PgsCatalogAccess acc = {0};
	const char *text = "SELECT WHERE false";
	char	   *relname = pstrdup(query_name);
	RawStmt    *raw;
	ViewStmt   *view;
	ObjectAddress address;
	ObjectAddress rule;
	int			level;

	if (strlen(relname) >= NAMEDATALEN)
		relname[pg_mbcliplen(relname, strlen(relname), NAMEDATALEN - 1)] = '\0';
	if (OidIsValid(get_relname_relid(relname, get_namespace_oid(PGS_QUERY_VIEW_SCHEMA, false))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation %s already exists",
						quote_qualified_identifier(PGS_QUERY_VIEW_SCHEMA, relname)),
				 errdetail("The query's view in schema %s is named after the query.",
						   PGS_QUERY_VIEW_SCHEMA),
				 errhint("Choose another query name.")));

	pgs_catalog_begin(&acc);
	raw = pgs_query_parse_one(text);
	view = makeNode(ViewStmt);
	view->view = makeRangeVar(PGS_QUERY_VIEW_SCHEMA, relname, -1);
	view->query = raw->stmt;
	view->withCheckOption = NO_CHECK_OPTION;
	level = NewGUCNestLevel();
	(void) set_config_option("default_tablespace", "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	address = DefineView(view, text, raw->stmt_location, raw->stmt_len);
	AtEOXact_GUC(false, level);
	CommandCounterIncrement();
	ObjectAddressSet(rule, RewriteRelationId, get_rewrite_oid(address.objectId, "_RETURN", false));
	recordDependencyOnExpr(&rule, (Node *) analyzed, NIL, DEPENDENCY_NORMAL);
	CommandCounterIncrement();
	/* a temporary object would go with its session, and the view with it */
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(address.objectId)};

		if (pgs_catalog_exec("SELECT 1 FROM pg_catalog.pg_depend d"
							 " WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
							 "   AND d.objid IN (SELECT r.oid FROM pg_catalog.pg_rewrite r"
							 "                    WHERE r.ev_class OPERATOR(pg_catalog.=) $1)"
							 "   AND (CASE d.refclassid"
							 "     WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN"
							 "       (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) d.refobjid)"
							 "     WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN"
							 "       (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) d.refobjid)"
							 "     WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN"
							 "       (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid OPERATOR(pg_catalog.=) d.refobjid)"
							 "     WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN"
							 "       (SELECT oprnamespace FROM pg_catalog.pg_operator WHERE oid OPERATOR(pg_catalog.=) d.refobjid)"
							 "     END) OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema() LIMIT 1",
							 1, argtypes, values, NULL, false, 0) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a streaming query cannot use temporary objects"),
					 errdetail("A temporary object goes with its session, while the query goes on."),
					 errhint("Use a permanent table or function.")));
	}
	pgs_catalog_end(&acc);
	CommandCounterIncrement();
	pgs_relation_goes_with_extension(address.objectId);
	return address.objectId;
}

/*
 * Give a query its view (replacing the one it had) and keep its analyzed
 * form: "analyzed" is the query as its owner analyzed it.  A foreach_batch
 * procedure is among what the view depends on.
 */
void
pgs_query_define_view(const PgsQuery *q, Query *analyzed)
{
	Oid			relid;

	/* a catalog older than 0.5 keeps no view (nor runs its query's text) */
	if (!pgs_catalog_has_keys())
		return;
	if (OidIsValid(q->view_relid))
	{
		pgs_query_table_drop(q->view_relid, DROP_RESTRICT);
		CommandCounterIncrement();
	}
	relid = pgs_query_view_create(q->name, analyzed);
	if (OidIsValid(q->foreach_batch))
	{
		ObjectAddress view;
		ObjectAddress proc;

		ObjectAddressSet(view, RelationRelationId, relid);
		ObjectAddressSet(proc, ProcedureRelationId, q->foreach_batch);
		recordDependencyOn(&view, &proc, DEPENDENCY_NORMAL);
	}
	pgs_query_set_view(q->query_id, relid, pgs_query_deparse(analyzed, PGS_RUN_TEXT_PATH));
}

/*
 * What the rule of a query's view depends on: a list of ObjectAddress
 * (NIL when there is no such view).
 */
List *
pgs_query_view_depends(Oid view_relid)
{
	Oid			rule = get_rewrite_oid(view_relid, "_RETURN", true);
	Relation	dep;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *refs = NIL;

	if (!OidIsValid(rule))
		return NIL;
	dep = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RewriteRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(rule));
	scan = systable_beginscan(dep, DependDependerIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);
		ObjectAddress *ref = palloc(sizeof(ObjectAddress));

		ObjectAddressSet(*ref, d->refclassid, d->refobjid);
		refs = lappend(refs, ref);
	}
	systable_endscan(scan);
	table_close(dep, AccessShareLock);
	return refs;
}

/* does the rule of a query's view depend on the relation? */
bool
pgs_query_view_reads(Oid view_relid, Oid relid)
{
	ListCell   *lc;

	foreach(lc, pgs_query_view_depends(view_relid))
	{
		ObjectAddress *ref = lfirst(lc);

		if (ref->classId == RelationRelationId && ref->objectId == relid)
			return true;
	}
	return false;
}

/*
 * Give a query its view again where it has none, or one without its
 * dependencies (pg_dump keeps a view's definition, not dependencies
 * recorded beside it): from its text analyzed as its owner.  Before a
 * backend's first batch of the query.
 */
void
pgs_query_repair_view(const PgsQuery *q)
{
	if (!pgs_catalog_has_keys())
		return;
	if (OidIsValid(q->view_relid) &&
		get_rel_namespace(q->view_relid) == get_namespace_oid(PGS_QUERY_VIEW_SCHEMA, true) &&
		pgs_query_view_reads(q->view_relid, q->stream_relid))
		return;
	pgs_query_define_view(q, pgs_query_analyze_as_owner(q->owner, q->query_text,
														pgs_batch_search_path(q->search_path)));
}
