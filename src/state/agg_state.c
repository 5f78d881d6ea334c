/*-------------------------------------------------------------------------
 *
 * agg_state.c
 *	  A streaming aggregation's state table: its definition from the query's
 *	  shape, and the check that the shape still fits it; and the names of
 *	  operators and collations its statements write.
 *
 * The state table (schema stream_state, owned by the extension's owner,
 * out of its queries' owners' reach) holds one row per group: the grouping
 * keys key_<n>, each aggregate's transition state agg_<n> (serialized when
 * the state is internal), and the batches that created and last changed
 * the row.  A unique index over the keys treats NULL as a value, as
 * GROUP BY does.  Making and dropping the table is catalog/query_tables.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"
#include "state/agg_internal.h"
#include "state/pgs_agg.h"

/* OPERATOR(schema.name), which finds the operator whatever the path */
char *
pgs_agg_operator(Oid opno)
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
Oid
pgs_agg_equality(Oid type)
{
	Oid			opclass = GetDefaultOpClass(type, BTREE_AM_OID);
	Oid			family = get_opclass_family(opclass);
	Oid			input = get_opclass_input_type(opclass);
	Oid			eq = get_opfamily_member(family, input, input, BTEqualStrategyNumber);

	if (!OidIsValid(eq))
		elog(ERROR, "no btree equality operator for type %s", format_type_be(type));
	return eq;
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
						 " UNIQUE NULLS NOT DISTINCT (%s)) WITH (fillfactor = 50)",
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

/* the type of the state table's column of that name, InvalidOid if none */
static Oid
as_column_type(TupleDesc desc, const char *name)
{
	AttrNumber	attnum = pgs_column_attnum(desc, name);

	return attnum == InvalidAttrNumber ? InvalidOid :
		TupleDescAttr(desc, attnum - 1)->atttypid;
}

/*
 * The state table must have the columns the query's shape gives: a query
 * whose aggregates now resolve to other functions or types (a function
 * replaced, a type changed) cannot go on with the old states.  Read from
 * the table's descriptor, which the merge opens it for next anyway, not
 * by a catalog lookup of each column.
 */
void
pgs_agg_check_state(Oid state_relid, const PgsAggShape *shape,
					const char *query_name)
{
	ListCell   *lc;
	int			i = 0;
	const char *bad = NULL;
	Relation	rel = try_relation_open(state_relid, AccessShareLock);
	TupleDesc	desc;

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the state table of streaming query \"%s\" is gone", query_name),
				 errhint("Drop the query and start it again.")));
	desc = RelationGetDescr(rel);
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);
		char	   *col = psprintf("key_%d", ++i);
		Oid			type = as_column_type(desc, col);

		if (!OidIsValid(type) || type != getBaseType(k->type))
			bad = col;
	}
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);
		char	   *col = psprintf("agg_%d", ++i);
		Oid			type = as_column_type(desc, col);

		if (!OidIsValid(type) || type != c->state_type)
			bad = col;
	}
	if (OidIsValid(as_column_type(desc, psprintf("key_%d", list_length(shape->keys) + 1))) ||
		OidIsValid(as_column_type(desc, psprintf("agg_%d", list_length(shape->calls) + 1))))
		bad = "(count)";
	relation_close(rel, NoLock);
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer matches its state", query_name),
				 errdetail("The query's grouping keys or aggregates now analyze to other types or functions than its state table %s was made for (column %s).",
						   pgs_qualified_relname(state_relid), bad),
				 errhint("Drop the query and start it again; it will aggregate every row of the stream anew.")));
}
