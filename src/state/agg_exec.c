/*-------------------------------------------------------------------------
 *
 * agg_exec.c
 *	  A streaming aggregation's state table, its keyed target, and the
 *	  batch that folds new rows into both.
 *
 * The state table (schema stream_state, owned by the extension's owner,
 * out of its queries' owners' reach) holds one row per group: the grouping
 * keys key_<n>, each aggregate's transition state agg_<n> (serialized when
 * the state is internal), and the batches that created and last changed
 * the row.  A unique index over the keys treats NULL as a value, as
 * GROUP BY does.
 *
 * A batch, in its one transaction:
 *	 1. partial: the query's text, analyzed with the stream substituted and
 *		turned into its partial form (agg_shape.c), runs as the owner over
 *		the batch's rows; its groups go to a tuplestore.
 *	 2. merge: in a catalog stretch, those groups are upserted into the
 *		state table, combining states with stream._agg_combine, and the
 *		touched groups come back with their aggregates' final values
 *		(stream._agg_final); both run the aggregate's functions as the
 *		owner.  Complete mode with ORDER BY or LIMIT takes every group's.
 *	 3. target: as the owner, the query's select list, HAVING and ORDER BY,
 *		deparsed over those results, write the target: an upsert by the
 *		keys, and the removal of groups that stopped satisfying HAVING; or,
 *		without keys and for a top-N, the whole result in place of the old.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension_d.h"
#include "catalog/pg_index.h"
#include "catalog/pg_namespace_d.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type_d.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "analyze/pgs_analyze.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "common/pgs_plans.h"
#include "pg_streaming.h"
#include "exec/pgs_batch.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"

#define AGG_PARTIAL_ENR		"pgs_partial"
#define AGG_GROUPS_ENR		"pgs_groups"

/* ---- names ---- */

char *
pgs_qualified_relname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* a function's name, schema-qualified and quoted */
char *
pgs_qualified_procname(Oid procid)
{
	return quote_qualified_identifier(get_namespace_name(get_func_namespace(procid)),
									  get_func_name(procid));
}

/* OPERATOR(schema.name), which finds the operator whatever the path */
static char *
ae_operator(Oid opno)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *s;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tup);
	s = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
				 NameStr(op->oprname));
	ReleaseSysCache(tup);
	return s;
}

/* a collation's name, always schema-qualified */
char *
pgs_agg_collation_name(Oid collation)
{
	HeapTuple	tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(collation));
	Form_pg_collation coll;
	char	   *s;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for collation %u", collation);
	coll = (Form_pg_collation) GETSTRUCT(tup);
	s = quote_qualified_identifier(get_namespace_name(coll->collnamespace),
								   NameStr(coll->collname));
	ReleaseSysCache(tup);
	return s;
}

/* the equality operator of a type's default btree operator class */
static Oid
ae_equality(Oid type)
{
	Oid			opclass = GetDefaultOpClass(type, BTREE_AM_OID);
	Oid			family = get_opclass_family(opclass);
	Oid			input = get_opclass_input_type(opclass);
	Oid			eq = get_opfamily_member(family, input, input, BTEqualStrategyNumber);

	if (!OidIsValid(eq))
		elog(ERROR, "no btree equality operator for type %s", format_type_be(type));
	return eq;
}

/* ---- the state table ---- */

/*
 * Run DDL on a state table in a catalog stretch, in the database's default
 * tablespace and as a heap, whatever the caller set.
 */
void
pgs_state_ddl(const char *sql, const char *query_name)
{
	PgsCatalogAccess acc = {0};

	pgs_catalog_begin(&acc);
	(void) set_config_option("default_tablespace", "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("default_table_access_method", "heap", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the state of streaming query \"%s\"", query_name);
	pgs_catalog_end(&acc);
	CommandCounterIncrement();
}

/*
 * Create a table of a query's in one of the extension's schemas, named after
 * the query, going with the extension: "kind" is "TABLE" or "UNLOGGED
 * TABLE", "owner" gets it when valid (else the extension's owner keeps it);
 * *qualified gets its name.
 */
static Oid
ae_create_query_table(const char *schema, const char *kind, const char *query_name,
					  const char *definition, Oid owner, char **qualified)
{
	char	   *relname = pstrdup(query_name);
	Oid			relid;
	char	   *sql;

	if (strlen(relname) >= NAMEDATALEN)
		relname[pg_mbcliplen(relname, strlen(relname), NAMEDATALEN - 1)] = '\0';
	*qualified = quote_qualified_identifier(schema, relname);
	if (OidIsValid(get_relname_relid(relname, get_namespace_oid(schema, false))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation %s already exists", *qualified),
				 errdetail("The query's table in schema %s is named after the query.", schema),
				 errhint("Choose another query name.")));
	sql = psprintf("CREATE %s %s %s", kind, *qualified, definition);
	if (OidIsValid(owner))
		sql = psprintf("%s; ALTER TABLE %s OWNER TO %s", sql, *qualified,
					   quote_identifier(GetUserNameFromId(owner, false)));
	pgs_state_ddl(sql, query_name);
	relid = get_relname_relid(relname, get_namespace_oid(schema, false));
	if (!OidIsValid(relid))
		elog(ERROR, "table %s not found after its creation", *qualified);
	pgs_relation_goes_with_extension(relid);
	return relid;
}

/*
 * A relation the extension made for a query goes with the extension (DROP
 * EXTENSION drops it) without being a member of it, which pg_dump would
 * skip: a relation made while an update script runs would be one.
 */
void
pgs_relation_goes_with_extension(Oid relid)
{
	ObjectAddress rel;
	ObjectAddress ext;

	ObjectAddressSet(rel, RelationRelationId, relid);
	ObjectAddressSet(ext, ExtensionRelationId, get_extension_oid("pg_streaming", false));
	if (creating_extension)
		deleteDependencyRecordsForClass(RelationRelationId, relid,
										ExtensionRelationId, DEPENDENCY_EXTENSION);
	recordDependencyOn(&rel, &ext, DEPENDENCY_AUTO);
}

/*
 * Create the state table of a new query, stream_state.<query name>, with
 * the given column list (and storage options), owned by the extension's
 * owner.
 */
Oid
pgs_state_create_table(const char *query_name, const char *definition,
					   char **qualified)
{
	return ae_create_query_table(PGS_AGG_STATE_SCHEMA, "TABLE", query_name, definition,
								 InvalidOid, qualified);
}

/*
 * Create a foreach_batch query's table of batch rows, stream_batch.<query
 * name>, unlogged (each batch fills it anew), owned by the query's owner.
 */
Oid
pgs_batch_table_create(const char *query_name, const char *definition, Oid owner,
					   char **qualified)
{
	return ae_create_query_table(PGS_BATCH_SCHEMA, "UNLOGGED TABLE", query_name,
								 definition, owner, qualified);
}

/*
 * Create the state table of a new query, owned by the extension's owner.
 * Runs in the transaction that starts the query.
 */
Oid
pgs_agg_create_state(const char *query_name, Oid owner, const PgsAggShape *shape)
{
	StringInfoData buf;
	StringInfoData keys;
	char	   *qualified;
	ListCell   *lc;
	Oid			relid;
	int			i;

	initStringInfo(&buf);
	initStringInfo(&keys);
	appendStringInfoChar(&buf, '(');
	i = 0;
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		appendStringInfo(&buf, "key_%d %s", i,
						 format_type_extended(getBaseType(k->type), -1,
											  FORMAT_TYPE_FORCE_QUALIFY));
		if (OidIsValid(k->collation))
			appendStringInfo(&buf, " COLLATE %s", pgs_agg_collation_name(k->collation));
		appendStringInfoString(&buf, ", ");
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
	}
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		appendStringInfo(&buf, "agg_%d %s, ", i,
						 format_type_extended(c->state_type, -1, FORMAT_TYPE_FORCE_QUALIFY));
	}
	/* one group without keys: a constant key after the states */
	if (shape->keys == NIL)
	{
		appendStringInfoString(&buf, "_one boolean NOT NULL DEFAULT true CHECK (_one), ");
		appendStringInfoString(&keys, "_one");
	}
	if (shape->session)
	{
		/* a key's sessions, each with its end; a batch replaces those it merges */
		PgsAggKey  *tk = list_nth(shape->keys, shape->time_key);

		appendStringInfo(&buf, "_session_end %s NOT NULL, _first_batch bigint NOT NULL,"
						 " _last_batch bigint NOT NULL)",
						 format_type_extended(getBaseType(tk->type), -1,
											  FORMAT_TYPE_FORCE_QUALIFY));
	}
	else
		appendStringInfo(&buf, "_first_batch bigint NOT NULL, _last_batch bigint NOT NULL,"
						 " UNIQUE NULLS NOT DISTINCT (%s)) WITH (fillfactor = 90)",
						 keys.data);

	relid = pgs_state_create_table(query_name, buf.data, &qualified);
	/* the types named in its definition are the types analyzed */
	pgs_agg_check_state(relid, shape, query_name);

	/* closed windows are found by their time; a key's sessions by the key */
	if (shape->time_key >= 0)
	{
		char	   *index;

		if (shape->session)
		{
			StringInfoData others;
			int			k;

			initStringInfo(&others);
			for (k = 0; k < list_length(shape->keys); k++)
				if (k != shape->time_key)
					appendStringInfo(&others, "%skey_%d", others.len ? ", " : "", k + 1);
			index = psprintf("CREATE INDEX ON %s (_session_end); CREATE INDEX ON %s (%s)",
							 qualified, qualified, others.data);
		}
		else
			index = psprintf("CREATE INDEX ON %s (key_%d)", qualified, shape->time_key + 1);
		pgs_state_ddl(index, query_name);
	}
	return relid;
}

/* drop a dropped query's state table, if it is still there */
void
pgs_agg_drop_state(Oid state_relid)
{
	pgs_agg_drop_query_table(state_relid, DROP_RESTRICT);
}

/*
 * Drop a table (or view) the extension made for a query that is gone.  A
 * query dropped because the table it reads or writes is dropped with
 * CASCADE takes what others built on its tables with it (DROP_CASCADE), as
 * CASCADE does with views on the dropped table itself: otherwise a view of
 * another role on a query's table of batch rows would pin a stream its
 * owner drops.
 */
void
pgs_agg_drop_query_table(Oid state_relid, DropBehavior behavior)
{
	ObjectAddress table;

	Oid			nsp;

	if (!OidIsValid(state_relid) ||
		!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(state_relid)))
		return;
	/*
	 * Only a table or view of the extension's own schemas: an OID kept in
	 * the catalog may have gone with its object and come back as another's.
	 */
	nsp = get_rel_namespace(state_relid);
	if (nsp != get_namespace_oid(PGS_AGG_STATE_SCHEMA, true) &&
		nsp != get_namespace_oid(PGS_BATCH_SCHEMA, true) &&
		nsp != get_namespace_oid(PGS_QUERY_VIEW_SCHEMA, true))
		return;
	ObjectAddressSet(table, RelationRelationId, state_relid);
	performDeletion(&table, behavior, PERFORM_DELETION_INTERNAL);
}

/*
 * The state table must have the columns the query's shape gives: a query
 * whose aggregates now resolve to other functions or types (a function
 * replaced, a type changed) cannot go on with the old states.
 */
void
pgs_agg_check_state(Oid state_relid, const PgsAggShape *shape,
					const char *query_name)
{
	ListCell   *lc;
	int			i = 0;
	const char *bad = NULL;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(state_relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the state table of streaming query \"%s\" is gone", query_name),
				 errhint("Drop the query and start it again.")));
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);
		char	   *col = psprintf("key_%d", ++i);
		AttrNumber	a = get_attnum(state_relid, col);

		if (a == InvalidAttrNumber || get_atttype(state_relid, a) != getBaseType(k->type))
			bad = col;
	}
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);
		char	   *col = psprintf("agg_%d", ++i);
		AttrNumber	a = get_attnum(state_relid, col);

		if (a == InvalidAttrNumber || get_atttype(state_relid, a) != c->state_type)
			bad = col;
	}
	if (get_attnum(state_relid, psprintf("key_%d", list_length(shape->keys) + 1)) != InvalidAttrNumber ||
		get_attnum(state_relid, psprintf("agg_%d", list_length(shape->calls) + 1)) != InvalidAttrNumber)
		bad = "(count)";
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer matches its state", query_name),
				 errdetail("The query's grouping keys or aggregates now analyze to other types or functions than its state table %s was made for (column %s).",
						   pgs_qualified_relname(state_relid), bad),
				 errhint("Drop the query and start it again; it will aggregate every row of the stream anew.")));
}

/* ---- the keyed target ---- */

static List *
ae_key_columns(const PgsAggShape *shape, List *output_names)
{
	List	   *cols = NIL;
	ListCell   *lc;

	foreach(lc, shape->keys)
		cols = lappend(cols, list_nth(output_names, ((PgsAggKey *) lfirst(lc))->output));
	return cols;
}

/* does an index make the key columns unique, NULL counting as a value? */
static bool
ae_index_keys(Relation rel, List *attnums, const PgsAggShape *shape)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index ix;
		bool		ok;
		int			i;

		if (!HeapTupleIsValid(tup))
			continue;
		ix = (Form_pg_index) GETSTRUCT(tup);
		ok = ix->indisunique && ix->indisvalid && ix->indimmediate &&
			ix->indnkeyatts == list_length(attnums) &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL);
		for (i = 0; ok && i < ix->indnkeyatts; i++)
		{
			AttrNumber	a = ix->indkey.values[i];
			PgsAggKey  *k = NULL;
			ListCell   *la;
			ListCell   *lk;
			bool		isnull;
			oidvector  *classes;
			oidvector  *collations;

			forboth(la, attnums, lk, shape->keys)
				if (lfirst_int(la) == a)
					k = lfirst(lk);
			if (k == NULL)
			{
				ok = false;
				break;
			}
			if (!ix->indnullsnotdistinct &&
				!TupleDescAttr(RelationGetDescr(rel), a - 1)->attnotnull)
				ok = false;
			/* its equality must be GROUP BY's: the default class, the collation */
			classes = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup,
																	Anum_pg_index_indclass,
																	&isnull));
			collations = (oidvector *) DatumGetPointer(SysCacheGetAttr(INDEXRELID, tup,
																	   Anum_pg_index_indcollation,
																	   &isnull));
			if (classes->values[i] != GetDefaultOpClass(k->type, BTREE_AM_OID) ||
				collations->values[i] != k->collation)
				ok = false;
		}
		ReleaseSysCache(tup);
		if (ok)
			return true;
	}
	return false;
}

/*
 * A keyed target (update mode, complete mode without ORDER BY or LIMIT)
 * needs a unique key over the grouping columns: added to a target the
 * query created, required of one that existed, whose key columns must
 * also be of the keys' own types.
 */
void
pgs_agg_prepare_target(Oid target_relid, bool created, const PgsAggShape *shape,
					   List *output_names, const char *mode, bool by_key)
{
	List	   *cols = ae_key_columns(shape, output_names);
	List	   *attnums = NIL;
	StringInfoData list;
	ListCell   *lc;
	ListCell   *lk;
	Relation	rel;
	bool		ok;

	if (cols == NIL)
		return;
	initStringInfo(&list);
	forboth(lc, cols, lk, shape->keys)
	{
		AttrNumber	a = get_attnum(target_relid, lfirst(lc));
		PgsAggKey  *k = lfirst(lk);

		appendStringInfo(&list, "%s%s", list.len ? ", " : "", quote_identifier(lfirst(lc)));
		if (get_atttype(target_relid, a) != k->type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("key column \"%s\" of target table \"%s\" is of type %s, but the %s is of type %s",
							(char *) lfirst(lc), get_rel_name(target_relid),
							format_type_be(get_atttype(target_relid, a)),
							by_key ? "output column" : "grouping key",
							format_type_be(k->type)),
					 by_key ?
					 errdetail("The target is upserted by its key columns, which must be of the output columns' own types.") :
					 errdetail("In %s mode the target is keyed by the grouping columns, which must be of the keys' own types.", mode),
					 by_key ?
					 errhint("Cast the column in the query, or change the target column's type.") :
					 errhint("Cast the grouping expression in the query, or change the column's type.")));
		attnums = lappend_int(attnums, a);
	}
	if (created)
	{
		char	   *sql = psprintf("ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (%s)",
								   pgs_qualified_relname(target_relid), list.data);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not add the key of target table \"%s\"", get_rel_name(target_relid));
		SPI_finish();
		CommandCounterIncrement();
		return;
	}
	rel = table_open(target_relid, AccessShareLock);
	ok = ae_index_keys(rel, attnums, shape);
	table_close(rel, AccessShareLock);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("target table \"%s\" has no unique key over the %s (%s)",
						get_rel_name(target_relid),
						by_key ? "key columns" : "grouping columns", list.data),
				 by_key ?
				 errdetail("Each batch upserts its rows by the key columns, and NULL is a value like any other.") :
				 errdetail("In %s mode each batch upserts the groups it changed, by their grouping columns, and NULL is a group like any other.", mode),
				 errhint("Add one: ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (%s);",
						 pgs_qualified_relname(target_relid), list.data)));
}

/* ---- the batch's statements ---- */

typedef struct AggPlans
{
	int64		query_id;		/* hash key */
	char	   *signature;
	SPIPlanPtr	partial;		/* owner: the query in its partial form */
	SPIPlanPtr	merge;			/* catalog: upsert states, touched results */
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
	int			nresults;		/* aggregates, each with a result type */
	Oid		   *merge_types;	/* the batch id, then the result types */
	TupleDesc	partial_desc;	/* the rows of AGG_PARTIAL_ENR */
	TupleDesc	groups_desc;	/* the rows of AGG_GROUPS_ENR */
	bool		keyed;
	bool		replace;		/* the whole result replaces the target's */
	bool		complete;
} AggPlans;

static HTAB *agg_plans = NULL;

static void
ae_free(AggPlans *p)
{
	SPIPlanPtr *plans[] = {&p->partial, &p->merge, &p->results_all, &p->clear,
	&p->write, &p->leave, &p->evict, &p->count};

	for (int i = 0; i < lengthof(plans); i++)
	{
		if (*plans[i])
			SPI_freeplan(*plans[i]);
		*plans[i] = NULL;
	}
	if (p->signature)
		pfree(p->signature);
	p->signature = NULL;
	if (p->shape)
		pfree(p->shape);
	p->shape = NULL;
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

/* a description of the ENR of the touched groups, for the statements' analysis */
static TupleDesc
ae_groups_desc(const PgsAggShape *shape)
{
	int			n = list_length(shape->keys) + list_length(shape->calls) + 1;
	TupleDesc	d = CreateTemplateTupleDesc(n);
	ListCell   *lc;
	int			i = 0;

	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		TupleDescInitEntry(d, i, psprintf("key_%d", i), getBaseType(k->type), -1, 0);
		TupleDescInitEntryCollation(d, i, k->collation);
	}
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		TupleDescInitEntry(d, i, psprintf("agg_%d", i - list_length(shape->keys)),
						   getBaseType(c->aggref->aggtype), -1, 0);
		TupleDescInitEntryCollation(d, i, c->aggref->aggcollid);
	}
	TupleDescInitEntry(d, n, "_new", BOOLOID, -1, 0);
	return d;
}

/* the partial aggregation's output, for the merge statement's analysis */
static TupleDesc
ae_partial_desc(const PgsAggShape *shape)
{
	int			n = list_length(shape->keys) + list_length(shape->calls);
	TupleDesc	d = CreateTemplateTupleDesc(Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		TupleDescInitEntry(d, i, psprintf("key_%d", i), getBaseType(k->type), -1, 0);
		TupleDescInitEntryCollation(d, i, k->collation);
	}
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		TupleDescInitEntry(d, i, psprintf("agg_%d", i - list_length(shape->keys)),
						   c->state_type, -1, 0);
	}
	return d;
}

/*
 * stream._agg_final(...) of aggregate n over column agg_<n> of alias "a".
 * Its result type comes from parameter $<param>, a NULL declared of the
 * result's base type: no type is named in the statement, which runs as the
 * superuser (a name could be made to lead to another type, a domain's
 * CHECK would run).
 */
static void
ae_final_call(StringInfo buf, const PgsAggCall *c, const char *alias, int n,
			  int param)
{
	appendStringInfo(buf, "stream._agg_final(%u::pg_catalog.oid, %u::pg_catalog.oid, %s.agg_%d, $%d) AS agg_%d",
					 c->aggref->aggfnoid, c->aggref->inputcollid, alias, n,
					 param, n);
}

/*
 * The select list of the groups' results; the result types' parameters
 * start at $<first_param>.
 */
static void
ae_results_list(StringInfo buf, const PgsAggShape *shape, const char *alias,
				const char *new_expr, int first_param)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, shape->keys)
		appendStringInfo(buf, "%s.key_%d, ", alias, ++i);
	i = 0;
	foreach(lc, shape->calls)
	{
		ae_final_call(buf, lfirst(lc), alias, i + 1, first_param + i);
		i++;
		appendStringInfoString(buf, ", ");
	}
	appendStringInfo(buf, "%s AS _new", new_expr);
}

/*
 * The merge of a session-window aggregation: the batch's rows (grouped by
 * their own times, each a session [t, t + gap)) and the stored sessions of
 * the keys they touch are ordered by start within each key; a session that
 * starts after the end of every one before it starts a new merged session;
 * the stored sessions are replaced by the merged ones, whose states
 * stream._agg_merge combines.  Parameters as in the merge: $1 the batch,
 * then the result types.
 */
static char *
ae_compose_session_merge(const PgsAggShape *shape, Oid state_relid)
{
	StringInfoData buf;
	StringInfoData others;		/* the other keys, as key_<n> */
	StringInfoData match;
	StringInfoData aggs;
	StringInfoData cols;
	StringInfoData sel;
	char	   *gap = psprintf("'" INT64_FORMAT " microseconds'::pg_catalog.interval",
							   shape->time_size);
	int			t = shape->time_key + 1;
	ListCell   *lc;
	int			i;

	initStringInfo(&others);
	initStringInfo(&match);
	initStringInfo(&aggs);
	initStringInfo(&cols);
	initStringInfo(&sel);
	i = 0;
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		appendStringInfo(&cols, "key_%d, ", i);
		if (i == t)
		{
			appendStringInfoString(&sel, "pg_catalog.min(g._s), ");
			continue;
		}
		appendStringInfo(&sel, "g.key_%d, ", i);
		appendStringInfo(&others, "%skey_%d", others.len ? ", " : "", i);
		appendStringInfo(&match, "%s(st.key_%d %s k.key_%d OR (st.key_%d IS NOT DISTINCT FROM NULL AND k.key_%d IS NOT DISTINCT FROM NULL))",
						 match.len ? " AND " : "", i, ae_operator(ae_equality(k->type)),
						 i, i, i);
	}
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		appendStringInfo(&aggs, ", agg_%d", i);
		appendStringInfo(&cols, "agg_%d, ", i);
		appendStringInfo(&sel, "stream._agg_merge(%u::pg_catalog.oid, %u::pg_catalog.oid, g.agg_%d ORDER BY g._s), ",
						 c->aggref->aggfnoid, c->aggref->inputcollid, i);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "WITH p AS (SELECT %s, key_%d AS _s, key_%d OPERATOR(pg_catalog.+) %s AS _e%s"
					 " FROM " AGG_PARTIAL_ENR " WHERE key_%d IS NOT NULL),"
					 " k AS (SELECT DISTINCT %s FROM p),"
					 " old AS (DELETE FROM %s st USING k WHERE %s RETURNING st.*),"
					 " u AS (SELECT %s, _s, _e%s FROM p"
					 " UNION ALL SELECT %s, key_%d, _session_end%s FROM old),"
					 " o AS (SELECT u.*, pg_catalog.max(u._e) OVER (PARTITION BY %s ORDER BY u._s"
					 " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS _prev FROM u),"
					 " f AS (SELECT o.*, CASE WHEN o._prev IS NULL OR o._s OPERATOR(pg_catalog.>) o._prev"
					 " THEN 1 ELSE 0 END AS _flag FROM o),"
					 /* among rows of one start, a new session's first */
					 " g AS (SELECT f.*, pg_catalog.sum(f._flag) OVER (PARTITION BY %s ORDER BY f._s,"
					 " f._flag DESC ROWS UNBOUNDED PRECEDING) AS _sid FROM f),"
					 " m AS (INSERT INTO %s AS s (%s_session_end, _first_batch, _last_batch)"
					 " SELECT %spg_catalog.max(g._e), $1, $1 FROM g GROUP BY %s, g._sid RETURNING s.*)"
					 " SELECT ",
					 others.data, t, t, gap, aggs.data, t,
					 others.data,
					 pgs_qualified_relname(state_relid), match.data,
					 others.data, aggs.data,
					 others.data, t, aggs.data,
					 others.data,
					 others.data,
					 pgs_qualified_relname(state_relid), cols.data,
					 sel.data, others.data);
	ae_results_list(&buf, shape, "m", "true", 2);
	appendStringInfoString(&buf, " FROM m");
	return buf.data;
}

/* the statements of the catalog stretch: merge, and every group's results */
static void
ae_compose_merge(const PgsAggShape *shape, Oid state_relid, char **merge,
				 char **all)
{
	StringInfoData buf;
	StringInfoData cols;
	StringInfoData keys;
	ListCell   *lc;
	int			i;
	char	   *state = pgs_qualified_relname(state_relid);

	initStringInfo(&cols);
	initStringInfo(&keys);
	i = 0;
	foreach(lc, shape->keys)
	{
		i++;
		appendStringInfo(&cols, "key_%d, ", i);
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
	}
	if (shape->keys == NIL)
		appendStringInfoString(&keys, "_one");
	i = 0;
	foreach(lc, shape->calls)
		appendStringInfo(&cols, "agg_%d, ", ++i);

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "WITH m AS (INSERT INTO %s AS s (%s_first_batch, _last_batch)"
					 " SELECT p.*, $1, $1 FROM " AGG_PARTIAL_ENR " p"
					 " ON CONFLICT (%s) DO UPDATE SET ",
					 state, cols.data, keys.data);
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		appendStringInfo(&buf,
						 "agg_%d = stream._agg_combine(%u::pg_catalog.oid, %u::pg_catalog.oid, s.agg_%d, excluded.agg_%d), ",
						 i, c->aggref->aggfnoid, c->aggref->inputcollid, i, i);
	}
	appendStringInfoString(&buf, "_last_batch = excluded._last_batch RETURNING s.*) SELECT ");
	ae_results_list(&buf, shape, "m", "m._first_batch OPERATOR(pg_catalog.=) $1", 2);
	appendStringInfoString(&buf, " FROM m");
	*merge = buf.data;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	ae_results_list(&buf, shape, "s", "false", 1);
	appendStringInfo(&buf, " FROM %s s", state);
	*all = buf.data;
}

/* the statements of the owner stretch, over the touched groups' results */
static void
ae_compose_target(const PgsAggShape *shape, Oid state_relid, Oid target_relid,
				  List *output_names, AggPlans *p, char **clear, char **write,
				  char **leave)
{
	StringInfoData buf;
	StringInfoData cols;
	StringInfoData outs;
	char	   *target = pgs_qualified_relname(target_relid);
	char	   *having = shape->having ? pgs_agg_deparse(shape->having, state_relid) : NULL;
	List	   *keycols = ae_key_columns(shape, output_names);
	ListCell   *lc;
	ListCell   *lc2;
	int			i;

	initStringInfo(&cols);
	initStringInfo(&outs);
	forboth(lc, output_names, lc2, shape->outputs)
	{
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", quote_identifier(lfirst(lc)));
		appendStringInfo(&outs, "%s%s", outs.len ? ", " : "",
						 pgs_agg_deparse(lfirst(lc2), state_relid));
	}

	*clear = psprintf("DELETE FROM %s", target);
	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s AS t (%s) SELECT %s FROM " AGG_GROUPS_ENR " s",
					 target, cols.data, outs.data);
	if (having)
		appendStringInfo(&buf, " WHERE %s", having);
	*leave = NULL;
	if (p->append)
	{
		/* a closed window's row, written once */
		*write = buf.data;
		return;
	}
	if (p->replace)
	{
		i = 0;
		foreach(lc, shape->sort_exprs)
		{
			appendStringInfo(&buf, "%s %s USING %s NULLS %s",
							 i == 0 ? " ORDER BY" : ",",
							 pgs_agg_deparse(lfirst(lc), state_relid),
							 ae_operator(list_nth_oid(shape->sort_ops, i)),
							 list_nth_int(shape->sort_nulls_first, i) ? "FIRST" : "LAST");
			i++;
		}
		if (shape->limit_count && !((Const *) shape->limit_count)->constisnull)
			appendStringInfo(&buf, " LIMIT %s",
							 pgs_agg_deparse(shape->limit_count, state_relid));
		if (shape->limit_offset && !((Const *) shape->limit_offset)->constisnull)
			appendStringInfo(&buf, " OFFSET %s",
							 pgs_agg_deparse(shape->limit_offset, state_relid));
		*write = buf.data;
		return;
	}

	/* keyed: upsert by the keys */
	appendStringInfoString(&buf, " ON CONFLICT (");
	i = 0;
	foreach(lc, keycols)
		appendStringInfo(&buf, "%s%s", i++ ? ", " : "", quote_identifier(lfirst(lc)));
	appendStringInfoString(&buf, ") DO ");
	i = 0;
	foreach(lc, output_names)
	{
		if (pgs_list_has_str(keycols, lfirst(lc)))
			continue;
		appendStringInfo(&buf, "%s%s = excluded.%s", i++ ? ", " : "UPDATE SET ",
						 quote_identifier(lfirst(lc)), quote_identifier(lfirst(lc)));
	}
	if (i == 0)
		appendStringInfoString(&buf, "NOTHING");
	*write = buf.data;

	if (having)
	{
		initStringInfo(&buf);
		appendStringInfo(&buf, "DELETE FROM %s t USING " AGG_GROUPS_ENR " s WHERE NOT coalesce(%s, false)",
						 target, having);
		i = 0;
		forboth(lc, keycols, lc2, shape->keys)
		{
			PgsAggKey  *k = lfirst(lc2);
			const char *col = quote_identifier(lfirst(lc));

			i++;
			/* a pure NULL test: IS NULL would take a row of NULLs for one */
			appendStringInfo(&buf, " AND (t.%s %s s.key_%d OR (t.%s IS NOT DISTINCT FROM NULL AND s.key_%d IS NOT DISTINCT FROM NULL))",
							 col, ae_operator(ae_equality(k->type)), i, col, i);
		}
		*leave = buf.data;
	}
}

/* parse and analyze the query's text as its owner: its shape */
static void
ae_shape(const PgsQuery *q, PgsAggShape *shape)
{
	List	   *raw = raw_parser(q->query_text, RAW_PARSE_DEFAULT);
	Query	   *query = parse_analyze_fixedparams(linitial_node(RawStmt, raw),
												  q->query_text, NULL, 0, NULL);

	if (!pgs_agg_describe(query, q->target_columns, shape))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer aggregates", q->name),
				 errhint("Drop the query and start it again.")));
	if (q->event_time)
		pgs_agg_find_time_key(shape, query, q->stream_relid, q->event_time);
}

/*
 * The closed windows: deleted from the state with their results.  $1 is
 * the cutoff (the watermark less the window's size), the result types'
 * parameters follow.
 */
static char *
ae_compose_evict(const PgsAggShape *shape, Oid state_relid)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (shape->session)
		appendStringInfo(&buf, "WITH d AS (DELETE FROM %s s WHERE s._session_end OPERATOR(pg_catalog.<=) $1"
						 " RETURNING s.*) SELECT ", pgs_qualified_relname(state_relid));
	else
		appendStringInfo(&buf, "WITH d AS (DELETE FROM %s s WHERE s.key_%d OPERATOR(pg_catalog.<=) $1"
						 " RETURNING s.*) SELECT ",
						 pgs_qualified_relname(state_relid), shape->time_key + 1);
	ae_results_list(&buf, shape, "d", "false", 2);
	appendStringInfoString(&buf, " FROM d");
	return buf.data;
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

/* the query's statements, prepared on first use */
static AggPlans *
ae_plans(const PgsQuery *q)
{
	AggPlans   *p;
	bool		found;
	char	   *sig = ae_signature(q);
	PgsAggShape shape;
	PgsCatalogAccess acc = {0};
	char	   *merge,
			   *all,
			   *clear,
			   *write,
			   *leave;
	MemoryContext cxt = CurrentMemoryContext;

	if (agg_plans == NULL)
		agg_plans = pgs_query_id_hash("pg_streaming aggregation plans", sizeof(AggPlans));
	p = hash_search(agg_plans, &q->query_id, HASH_ENTER, &found);
	if (!found)
		memset(((char *) p) + sizeof(int64), 0, sizeof(AggPlans) - sizeof(int64));
	else if (p->signature && strcmp(p->signature, sig) == 0)
		return p;
	ae_free(p);

	/* the shape and the partial statement, as the owner */
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	MemoryContextSwitchTo(cxt);
	ae_shape(q, &shape);
	pgs_agg_check_state(q->state_relid, &shape, q->name);
	p->shape = MemoryContextStrdup(pgs_plan_context(), pgs_agg_shape_signature(&shape));
	p->complete = strcmp(q->output_mode, "complete") == 0;
	p->append = strcmp(q->output_mode, "append") == 0;
	p->session = shape.session;
	/* merged sessions change their keys: a complete result is replaced */
	p->keyed = shape.keys != NIL && !p->append && !p->session &&
		!(p->complete && (shape.limit_count || shape.limit_offset));
	p->replace = !p->keyed && !p->append;
	p->time_key = p->complete ? -1 : shape.time_key;
	p->time_size = shape.time_size;
	p->time_type = p->time_key >= 0 ?
		getBaseType(((PgsAggKey *) list_nth(shape.keys, p->time_key))->type) : InvalidOid;
	if (p->append && p->time_key < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer groups by a window of its event time", q->name),
				 errhint("Drop the query and start it again.")));
	ae_compose_merge(&shape, q->state_relid, &merge, &all);
	if (p->session)
		merge = ae_compose_session_merge(&shape, q->state_relid);
	ae_compose_target(&shape, q->state_relid, q->target_relid, q->target_columns,
					  p, &clear, &write, &leave);
	{
		char	   *text = pgs_trim_query(q->query_text);

		pgs_rewrite_arm_partial(text, q->stream_relid, q->view_relid, p->shape);
		PG_TRY();
		{
			p->partial = pgs_state_prepare(text, PGS_BATCH_NPARAMS, pgs_batch_param_types);
		}
		PG_FINALLY();
		{
			pgs_rewrite_disarm();
		}
		PG_END_TRY();
	}
	pgs_owner_end(&acc);

	{
		MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());
		ListCell   *lc;
		int			i = 1;

		p->partial_desc = ae_partial_desc(&shape);
		p->groups_desc = ae_groups_desc(&shape);
		p->nresults = list_length(shape.calls);
		p->merge_types = palloc(sizeof(Oid) * (p->nresults + 1));
		p->merge_types[0] = INT8OID;
		foreach(lc, shape.calls)
			p->merge_types[i++] = getBaseType(((PgsAggCall *) lfirst(lc))->aggref->aggtype);
		MemoryContextSwitchTo(old);
	}

	/* the merge, in a catalog stretch */
	pgs_catalog_begin(&acc);
	MemoryContextSwitchTo(cxt);
	pgs_state_register(AGG_PARTIAL_ENR,
				tuplestore_begin_heap(false, false, work_mem), p->partial_desc);
	p->merge = pgs_state_prepare(merge, p->nresults + 1, p->merge_types);
	if (p->session)
		p->count = pgs_state_prepare(psprintf("SELECT pg_catalog.count(*) FROM %s",
											  pgs_qualified_relname(q->state_relid)), 0, NULL);
	if (p->replace)
		p->results_all = pgs_state_prepare(all, p->nresults, p->merge_types + 1);
	if (p->time_key >= 0)
	{
		MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());

		p->evict_types = palloc(sizeof(Oid) * (p->nresults + 1));
		p->evict_types[0] = p->time_type;
		memcpy(p->evict_types + 1, p->merge_types + 1, sizeof(Oid) * p->nresults);
		MemoryContextSwitchTo(old);
		p->evict = pgs_state_prepare(ae_compose_evict(&shape, q->state_relid),
							  p->nresults + 1, p->evict_types);
	}
	pgs_catalog_end(&acc);

	/* the target, as the owner */
	pgs_owner_begin(&acc, q->owner, ae_target_search_path(q));
	MemoryContextSwitchTo(cxt);
	pgs_state_register(AGG_GROUPS_ENR,
				tuplestore_begin_heap(false, false, work_mem), p->groups_desc);
	p->clear = pgs_state_prepare(clear, 0, NULL);
	p->write = pgs_state_prepare(write, 0, NULL);
	if (leave)
		p->leave = pgs_state_prepare(leave, 0, NULL);
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);

	p->signature = MemoryContextStrdup(pgs_plan_context(), sig);
	return p;
}

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

/* step 1: the batch's groups with their partial states, as the owner */
static Tuplestorestate *
ae_partial(const PgsQuery *q, AggPlans *p, PgsBatchParams *params,
		   MemoryContext cxt, int64 *input_rows)
{
	PgsCatalogAccess acc = {0};
	CachedPlanSource *source;
	Tuplestorestate *volatile partial = NULL;

	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	source = linitial(SPI_plan_get_plan_sources(p->partial));
	pgs_batch_input_rows = 0;
	pgs_rewrite_arm_partial(source->query_string, q->stream_relid, q->view_relid, p->shape);
	PG_TRY();
	{
		partial = pgs_state_run_into(p->partial,
							  pgs_state_params(PGS_BATCH_NPARAMS, pgs_batch_param_types,
										params->values, params->nulls),
							  cxt);
	}
	PG_FINALLY();
	{
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
	pgs_catalog_begin(&acc);
	pgs_agg_set_call_owner(q->owner, pgs_batch_search_path(q->search_path));
	PG_TRY();
	{
		int64		before = p->session ? ae_state_count(p) : 0;

		pgs_state_register(AGG_PARTIAL_ENR, partial, p->partial_desc);
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
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	AggPlans   *p = ae_plans(q);
	Tuplestorestate *partial;
	Tuplestorestate *groups;
	Tuplestorestate *all;
	Tuplestorestate *evicted = NULL;
	int64		session_delta;

	memset(result, 0, sizeof(PgsAggResult));
	partial = ae_partial(q, p, params, cxt, &result->input_rows);
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
