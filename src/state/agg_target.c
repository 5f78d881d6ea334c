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
 * A batch writes the touched groups' rows with one upsert by that key
 * (agg_plans.c, pgs_agg_compose_target).  A plain target (an ordinary table
 * with no trigger, rule or row-level security) takes the groups the state
 * already had as an UPDATE by the key instead (pgs_agg_target_write): an
 * upsert that finds its row locks it, then updates it, and the lock is a
 * WAL record of its own; the update alone costs a quarter less.  Nothing a
 * user's objects see differs, since the table has none that could see it;
 * the upsert still runs every batch over the other groups (none, mostly),
 * first, so that its rights, its arbiter and its errors stay the batch's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "analyze/pgs_analyze.h"
#include "catalog/pgs_catalog.h"
#include "common/pgs_common.h"
#include "common/pgs_plans.h"
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

/* ---- the keyed write of a plain target ---- */

/*
 * Known groups below which the upsert alone writes a plain target: the
 * split costs a second statement's start and end (some 15 us), the UPDATE
 * saves under a microsecond a group.
 */
#define TW_MIN_KNOWN	64

/* the planner's settings under which the UPDATE is planned */
static const char *const tw_plan_settings[][2] = {
	{"enable_hashjoin", "off"},
	{"enable_mergejoin", "off"},
	{"enable_seqscan", "off"},
	{"enable_nestloop", "on"},
	{"enable_indexscan", "on"},
};

struct PgsAggTargetWrite
{
	MemoryContext mcxt;			/* holds this */
	Oid			target_relid;
	int			nkeys;			/* the groups' first columns */
	char	   *update_sql;
	SPIPlanPtr	update;			/* prepared when first run */
};

/*
 * The UPDATE of a keyed target's rows by the touched groups, or NULL where
 * the upsert alone writes the target: a HAVING (whose groups may leave and
 * come back), no column but the keys (DO NOTHING).  Only the text: it is
 * prepared when a batch first runs it.
 */
PgsAggTargetWrite *
pgs_agg_target_write_prepare(const PgsAggShape *shape, Oid state_relid,
							 Oid target_relid, List *output_names,
							 MemoryContext mcxt)
{
	List	   *keycols = pgs_agg_key_columns(shape, output_names);
	StringInfoData buf;
	StringInfoData where;
	PgsAggTargetWrite *w;
	MemoryContext old;
	ListCell   *lc;
	ListCell   *lc2;
	int			nset = 0;
	int			i = 0;

	if (shape->keys == NIL || shape->having != NULL)
		return NULL;
	initStringInfo(&buf);
	initStringInfo(&where);
	appendStringInfo(&buf, "UPDATE ONLY %s AS t SET ", pgs_qualified_relname(target_relid));
	forboth(lc, output_names, lc2, shape->outputs)
	{
		if (pgs_list_has_str(keycols, lfirst(lc)))
			continue;
		appendStringInfo(&buf, "%s%s = %s", nset++ ? ", " : "",
						 quote_identifier(lfirst(lc)),
						 pgs_agg_deparse(lfirst(lc2), state_relid));
	}
	if (nset == 0)
		return NULL;

	/* the key's equality and collation are the arbiter index's */
	forboth(lc, keycols, lc2, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc2);

		appendStringInfo(&where, "%st.%s %s s.key_%d", i ? " AND " : "",
						 quote_identifier(lfirst(lc)),
						 pgs_agg_operator(pgs_agg_equality(k->type)), i + 1);
		i++;
		if (OidIsValid(k->collation))
			appendStringInfo(&where, " COLLATE %s", generate_collation_name(k->collation));
	}
	appendStringInfo(&buf, " FROM " AGG_GROUPS_ENR " s WHERE s._new IS FALSE AND %s",
					 where.data);

	mcxt = AllocSetContextCreate(mcxt, "pg_streaming target write",
								 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(mcxt);
	w = palloc0(sizeof(PgsAggTargetWrite));
	w->mcxt = mcxt;
	w->target_relid = target_relid;
	w->nkeys = list_length(shape->keys);
	w->update_sql = pstrdup(buf.data);
	MemoryContextSwitchTo(old);
	return w;
}

void
pgs_agg_target_write_free(PgsAggTargetWrite *w)
{
	if (w == NULL)
		return;
	if (w->update)
		SPI_freeplan(w->update);
	MemoryContextDelete(w->mcxt);
}

/*
 * Is the target, as it is now, one whose rows nothing but the statement
 * itself sees written: an ordinary table without triggers (a foreign key's
 * among them), rules or row-level security?
 */
static bool
tw_plain_target(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	bool		plain;

	if (!HeapTupleIsValid(tup))
		return false;
	form = (Form_pg_class) GETSTRUCT(tup);
	plain = form->relkind == RELKIND_RELATION && !form->relhastriggers &&
		!form->relhasrules && !form->relrowsecurity;
	ReleaseSysCache(tup);
	return plain;
}

/* run a prepared statement of the owner stretch; the rows it wrote */
static uint64
tw_run(SPIPlanPtr plan)
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

/* ts (all the groups, or those set apart) as the rows of AGG_GROUPS_ENR */
static void
tw_register(Tuplestorestate *ts, TupleDesc desc)
{
	(void) SPI_unregister_relation(AGG_GROUPS_ENR);
	pgs_state_register(AGG_GROUPS_ENR, ts, desc);
}

/*
 * Write the touched groups (rows of desc: the keys, the results, whether
 * the batch created the group) to a keyed target, as the owner, in the
 * owner stretch with the groups registered as AGG_GROUPS_ENR; "upsert" is
 * the upsert of every registered group.  Returns the rows written.
 *
 * With w NULL, a target that is not plain, or fewer than TW_MIN_KNOWN
 * known groups, the upsert writes them all.  Otherwise the groups the
 * state had before the batch, with keys that are not NULL ("known"), are
 * set apart: the upsert writes the others first (none, most batches: its
 * rights are checked and its arbiter planned all the same), then the
 * UPDATE writes the known ones by the key, planned as lookups through the
 * key's index whatever the target's size when it was planned.  A known
 * group whose row the target no longer has (deleted by someone) leaves the
 * UPDATE short: the upsert then writes every group again, the same values
 * over the rows the statements before wrote.
 */
uint64
pgs_agg_target_write(PgsAggTargetWrite *w, SPIPlanPtr upsert,
					 Tuplestorestate *groups, TupleDesc desc)
{
	Tuplestorestate *rest;
	TupleTableSlot *slot;
	uint64		nknown = 0;
	uint64		written;
	uint64		updated;
	int			level;

	if (w == NULL || tuplestore_tuple_count(groups) < TW_MIN_KNOWN ||
		!tw_plain_target(w->target_relid))
		return tw_run(upsert);

	/* the others, set apart; the known ones stay among all the groups */
	rest = tuplestore_begin_heap(false, false, work_mem);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(groups);
	while (tuplestore_gettupleslot(groups, true, false, slot))
	{
		bool		is_known;

		slot_getallattrs(slot);
		is_known = !slot->tts_isnull[desc->natts - 1] &&
			!DatumGetBool(slot->tts_values[desc->natts - 1]);
		for (int k = 0; is_known && k < w->nkeys; k++)
			is_known = !slot->tts_isnull[k];
		if (is_known)
			nknown++;
		else
			tuplestore_puttupleslot(rest, slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_rescan(groups);
	if (nknown < TW_MIN_KNOWN)
	{
		tuplestore_end(rest);
		return tw_run(upsert);
	}

	tw_register(rest, desc);
	written = tw_run(upsert);
	tw_register(groups, desc);
	tuplestore_end(rest);
	if (w->update == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(w->mcxt);

		w->update = pgs_state_prepare(w->update_sql, 0, NULL);
		MemoryContextSwitchTo(old);
	}

	/*
	 * A lookup per group, never a scan of the target: the generic plan is
	 * made once, perhaps while the target was empty, and whatever the
	 * session's settings.
	 */
	level = NewGUCNestLevel();
	for (int i = 0; i < lengthof(tw_plan_settings); i++)
		(void) set_config_option(tw_plan_settings[i][0], tw_plan_settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	updated = tw_run(w->update);
	AtEOXact_GUC(true, level);

	/* a row gone: every group again, the same values where written */
	if (updated != nknown)
		return tw_run(upsert);
	return written + updated;
}
