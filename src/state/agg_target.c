/*-------------------------------------------------------------------------
 *
 * agg_target.c
 *	  The keyed target of a streaming aggregation: the unique key over the
 *	  grouping columns that update and complete modes upsert by.
 *
 * A target the query creates gets the key; a target that existed must
 * already have one whose equality is GROUP BY's (the keys' default btree
 * classes and collations, NULL as a value), or the query is refused at
 * start rather than writing duplicates later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "common/pgs_common.h"
#include "state/agg_internal.h"
#include "state/pgs_agg.h"

/* the target's columns that hold the grouping keys, in the keys' order */
List *
pgs_agg_key_columns(const PgsAggShape *shape, List *output_names)
{
	List	   *cols = NIL;
	ListCell   *lc;

	foreach(lc, shape->keys)
		cols = lappend(cols, list_nth(output_names, ((PgsAggKey *) lfirst(lc))->output));
	return cols;
}

/* does an index make the key columns unique, NULL counting as a value? */
static bool
at_index_keys(Relation rel, List *attnums, const PgsAggShape *shape)
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

/* is the table of the heap access method? */
static bool
at_is_heap(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		heap = rel->rd_rel->relam == HEAP_TABLE_AM_OID;

	table_close(rel, AccessShareLock);
	return heap;
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
	List	   *cols = pgs_agg_key_columns(shape, output_names);
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
		if (get_atttype(target_relid, a) != k->type && by_key)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("key column \"%s\" of target table \"%s\" is of type %s, but the output column is of type %s",
							(char *) lfirst(lc), get_rel_name(target_relid),
							format_type_be(get_atttype(target_relid, a)),
							format_type_be(k->type)),
					 errdetail("The target is upserted by its key columns, which must be of the output columns' own types."),
					 errhint("Cast the column in the query, or change the target column's type.")));
		if (get_atttype(target_relid, a) != k->type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("key column \"%s\" of target table \"%s\" is of type %s, but the grouping key is of type %s",
							(char *) lfirst(lc), get_rel_name(target_relid),
							format_type_be(get_atttype(target_relid, a)),
							format_type_be(k->type)),
					 errdetail("In %s mode the target is keyed by the grouping columns, which must be of the keys' own types.", mode),
					 errhint("Cast the grouping expression in the query, or change the column's type.")));
		attnums = lappend_int(attnums, a);
	}
	if (created)
	{
		/*
		 * Every batch rewrites the row of every group it changed: half of
		 * each block left free keeps those updates on their block (HOT),
		 * without a new entry in the key's index, as for the state table
		 * (agg_state.c).  At the default fillfactor the first batches'
		 * updates left their blocks and the table grew to eight times its
		 * rows.  A table of another access method keeps its own options.
		 */
		char	   *sql = psprintf("ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (%s)%s",
								   pgs_qualified_relname(target_relid), list.data,
								   at_is_heap(target_relid) ? ", SET (fillfactor = 50)" : "");

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not add the key of target table \"%s\"", get_rel_name(target_relid));
		SPI_finish();
		CommandCounterIncrement();
		return;
	}
	rel = table_open(target_relid, AccessShareLock);
	ok = at_index_keys(rel, attnums, shape);
	table_close(rel, AccessShareLock);
	if (!ok && by_key)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("target table \"%s\" has no unique key over the key columns (%s)",
						get_rel_name(target_relid), list.data),
				 errdetail("Each batch upserts its rows by the key columns, and NULL is a value like any other."),
				 errhint("Add one: ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (%s);",
						 pgs_qualified_relname(target_relid), list.data)));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("target table \"%s\" has no unique key over the grouping columns (%s)",
						get_rel_name(target_relid), list.data),
				 errdetail("In %s mode each batch upserts the groups it changed, by their grouping columns, and NULL is a group like any other.", mode),
				 errhint("Add one: ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (%s);",
						 pgs_qualified_relname(target_relid), list.data)));
}
