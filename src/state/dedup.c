/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  Deduplication within a watermark (Spark's
 *	  dropDuplicatesWithinWatermark): a row whose key was seen less than the
 *	  watermark's delay before is dropped.
 *
 * The state table (stream_state.<query>, the extension owner's, like an
 * aggregation's) holds one row per key seen: the key columns, the time the
 * key expires (its first row's event time plus the delay), and the row's
 * place in its batch.  A batch, in its one transaction:
 *	 1. runs the query over its rows as the owner, into a tuplestore, and
 *		drops the rows at or before the previous batch's watermark (late,
 *		counted);
 *	 2. in a catalog stretch, keeps each key's earliest row of the batch,
 *		inserts the keys not in the state (ON CONFLICT DO NOTHING, NULL a
 *		value like any other), returns the rows of those that were new, and
 *		evicts the keys that expired at the watermark in force;
 *	 3. inserts those rows into the target as the owner.
 *
 * Below an aggregation (Spark's dropDuplicatesWithinWatermark then
 * groupBy), the keys are columns of the stream and the state is a table of
 * its own, stream_state.<query>_dedup, part of the aggregation's state table
 * (an internal dependency: it goes with it).  A batch, in the same one
 * transaction, reads the keys, the event time and the tid of the batch's
 * rows as the owner, drops the late ones, keeps and evicts keys as above,
 * and hands the kept rows' tids to the aggregation (agg_exec.c), whose
 * reads of the stream keep only those rows.  A replay runs the same
 * statements over the same rows and the state as the last committed batch
 * left it: the same rows survive, and are aggregated once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_extension_d.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "analyze/pgs_analyze.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "common/pgs_phases.h"
#include "common/pgs_plans.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"

#define DEDUP_ROWS_ENR	"pgs_rows"
#define DEDUP_NEW_ENR	"pgs_new"

/*
 * Create the state table of a new deduplicating query: one key column per
 * deduplicated output column (of its base type and collation), the time
 * the key expires, the row's place in its batch.
 */
Oid
pgs_dedup_create_state(const char *query_name, List *key_types,
					   List *key_collations, Oid time_type)
{
	StringInfoData buf;
	StringInfoData keys;
	char	   *qualified;
	ListCell   *lt;
	ListCell   *lc;
	int			i = 0;
	Oid			relid;

	initStringInfo(&buf);
	initStringInfo(&keys);
	appendStringInfoChar(&buf, '(');
	forboth(lt, key_types, lc, key_collations)
	{
		i++;
		appendStringInfo(&buf, "key_%d %s", i,
						 format_type_extended(getBaseType(lfirst_oid(lt)), -1,
											  FORMAT_TYPE_FORCE_QUALIFY));
		if (OidIsValid(lfirst_oid(lc)))
			appendStringInfo(&buf, " COLLATE %s", pgs_agg_collation_name(lfirst_oid(lc)));
		appendStringInfoString(&buf, ", ");
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
	}
	appendStringInfo(&buf, "_expires_at %s NOT NULL, _row bigint NOT NULL,"
					 " _first_batch bigint NOT NULL,"
					 " UNIQUE NULLS NOT DISTINCT (%s))",
					 format_type_be_qualified(time_type), keys.data);
	relid = pgs_state_create_table(query_name, buf.data, &qualified);
	pgs_state_ddl(psprintf("CREATE INDEX ON %s (_expires_at)", qualified), query_name);
	return relid;
}

#define DEDUP_CHAIN_SUFFIX	"_dedup"

/*
 * Create the deduplication state of an aggregation below deduplication:
 * stream_state.<query>_dedup, of the same columns as a deduplicating
 * query's, a part of the aggregation's state table: dropping that drops it.
 */
void
pgs_dedup_create_chain_state(const char *query_name, Oid agg_state_relid,
							 List *key_types, List *key_collations, Oid time_type)
{
	Oid			relid = pgs_dedup_create_state(pgs_state_part_name(query_name, DEDUP_CHAIN_SUFFIX),
											   key_types, key_collations, time_type);

	pgs_state_part_attach(relid, agg_state_relid);
}

/*
 * The deduplication state below an aggregation, or InvalidOid: found by its
 * name, a part of the aggregation's state table (again, after a restore).
 */
static Oid
dd_chain_relid(const PgsQuery *q)
{
	Oid			relid = pgs_state_part_lookup(q->name, DEDUP_CHAIN_SUFFIX);

	if (!OidIsValid(relid) ||
		get_attnum(relid, "_expires_at") == InvalidAttrNumber)
		return InvalidOid;
	pgs_state_part_attach(relid, q->state_relid);
	return relid;
}

/*
 * Does the query deduplicate the stream's rows below its aggregation?  Its
 * state table is then the aggregation's, without the expiry of keys.
 */
bool
pgs_dedup_chained(const PgsQuery *q)
{
	return q->dedup_columns != NIL && OidIsValid(q->state_relid) &&
		get_attnum(q->state_relid, "_expires_at") == InvalidAttrNumber;
}

/* a deduplicating query's statements, prepared on first use */
typedef struct DedupPlans
{
	int64		query_id;		/* hash key */
	char	   *signature;
	SPIPlanPtr	rows;			/* owner: the query over the batch */
	SPIPlanPtr	keep;			/* catalog: new keys in, their rows out */
	SPIPlanPtr	evict;			/* catalog: expired keys out */
	SPIPlanPtr	write;			/* owner: the rows into the target */
	TupleDesc	rows_desc;
	int			time_col;		/* the event time among the output columns, 0-based */
	Oid			time_type;
	Oid			state_relid;	/* below an aggregation: its own table */
} DedupPlans;

static HTAB *dedup_plans = NULL;

/*
 * The query's output must still be of the types its state was made for:
 * the statement that keeps new keys runs as the superuser, and must plan
 * no cast of the owner's between the rows and the state.
 */
static void
dd_check_state(const PgsQuery *q, DedupPlans *p)
{
	ListCell   *lc;
	int			i = 0;
	bool		bad = false;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(q->state_relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the state table of streaming query \"%s\" is gone", q->name),
				 errhint("Drop the query and start it again.")));
	foreach(lc, q->dedup_columns)
	{
		char	   *col = psprintf("key_%d", ++i);
		AttrNumber	a = get_attnum(q->state_relid, col);
		int			k;
		Oid			type = InvalidOid;
		int32		typmod;
		Oid			coll = InvalidOid;

		for (k = 0; k < p->rows_desc->natts; k++)
			if (strcmp(NameStr(TupleDescAttr(p->rows_desc, k)->attname), lfirst(lc)) == 0)
				break;
		if (a != InvalidAttrNumber)
			get_atttypetypmodcoll(q->state_relid, a, &type, &typmod, &coll);
		if (a == InvalidAttrNumber || k >= p->rows_desc->natts ||
			type != getBaseType(TupleDescAttr(p->rows_desc, k)->atttypid) ||
			coll != TupleDescAttr(p->rows_desc, k)->attcollation)
			bad = true;
	}
	if (p->time_type != get_atttype(q->state_relid, get_attnum(q->state_relid, "_expires_at")) ||
		(p->time_type != TIMESTAMPTZOID && p->time_type != TIMESTAMPOID))
		bad = true;
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer matches its state", q->name),
				 errdetail("Its deduplicated columns or its event time are now of other types than its state table %s was made for.",
						   pgs_qualified_relname(q->state_relid)),
				 errhint("Drop the query and start it again.")));
}


void
pgs_dedup_forget_plans(void)
{
	HASH_SEQ_STATUS seq;
	DedupPlans *p;

	if (dedup_plans == NULL)
		return;
	hash_seq_init(&seq, dedup_plans);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		SPIPlanPtr	plans[] = {p->rows, p->keep, p->evict, p->write};

		for (int i = 0; i < lengthof(plans); i++)
			if (plans[i])
				SPI_freeplan(plans[i]);
		if (p->signature)
			pfree(p->signature);
		if (p->rows_desc)
			FreeTupleDesc(p->rows_desc);
	}
	hash_destroy(dedup_plans);
	dedup_plans = NULL;
}





/*
 * The query's entry of the backend's deduplication plans: *current when it
 * holds the statements of signature "sig", else emptied (its statements
 * freed) for the caller to fill.
 */
static DedupPlans *
dd_plans_entry(int64 query_id, const char *sig, bool *current)
{
	DedupPlans *p;
	bool		found;
	int			i;

	if (dedup_plans == NULL)
		dedup_plans = pgs_query_id_hash("pg_streaming deduplication plans", sizeof(DedupPlans));
	p = hash_search(dedup_plans, &query_id, HASH_ENTER, &found);
	*current = found && p->signature && strcmp(p->signature, sig) == 0;
	if (*current)
		return p;
	if (found)
	{
		SPIPlanPtr	plans[] = {p->rows, p->keep, p->evict, p->write};

		for (i = 0; i < lengthof(plans); i++)
			if (plans[i])
				SPI_freeplan(plans[i]);
		if (p->rows_desc)
			FreeTupleDesc(p->rows_desc);
		if (p->signature)
			pfree(p->signature);
	}
	memset(((char *) p) + sizeof(int64), 0, sizeof(DedupPlans) - sizeof(int64));
	return p;
}

/* the query's statements */
static DedupPlans *
dd_plans(const PgsQuery *q)
{
	DedupPlans *p;
	bool		found;
	char	   *sig = psprintf("%s|%s|%u|%u|%s", q->query_text, q->search_path,
							   q->state_relid, q->target_relid,
							   get_rel_name(q->target_relid) ? pgs_qualified_relname(q->target_relid) : "");
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData cols;
	StringInfoData keys;
	StringInfoData qkeys;
	StringInfoData bkeys;
	StringInfoData sql;
	ListCell   *lc;
	int			i;
	char	   *rows_sql;
	char	   *ord;
	CachedPlanSource *source;
	Oid			keep_types[3] = {INTERVALOID, INT8OID, InvalidOid};

	p = dd_plans_entry(q->query_id, sig, &found);
	if (found)
		return p;

	/* the column lists */
	initStringInfo(&cols);
	initStringInfo(&keys);
	initStringInfo(&qkeys);
	initStringInfo(&bkeys);
	p->time_col = -1;
	i = 0;
	foreach(lc, q->target_columns)
	{
		const char *c = quote_identifier(lfirst(lc));

		appendStringInfo(&cols, "%s%s", i ? ", " : "", c);
		if (strcmp(lfirst(lc), q->event_time) == 0)
			p->time_col = i;
		i++;
	}
	if (p->time_col < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("deduplicating query \"%s\" no longer outputs its event-time column", q->name),
				 errhint("Drop the query and start it again.")));
	i = 0;
	foreach(lc, q->dedup_columns)
	{
		i++;
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
		appendStringInfo(&qkeys, "%sr.%s", i > 1 ? ", " : "", quote_identifier(lfirst(lc)));
		appendStringInfo(&bkeys, "%sb.%s", i > 1 ? ", " : "", quote_identifier(lfirst(lc)));
	}

	/* the rows of the batch, as the owner */
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	MemoryContextSwitchTo(cxt);
	rows_sql = psprintf("SELECT %s FROM (\n%s\n) AS q", cols.data,
						pgs_trim_query(q->query_text));
	pgs_rewrite_arm(rows_sql, q->stream_relid, q->view_relid);
	PG_TRY();
	{
		p->rows = pgs_state_prepare(rows_sql, PGS_BATCH_NPARAMS, pgs_batch_param_types);
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	source = linitial(SPI_plan_get_plan_sources(p->rows));
	{
		MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());

		p->rows_desc = CreateTupleDescCopy(source->resultDesc);
		MemoryContextSwitchTo(old);
	}
	p->time_type = getBaseType(TupleDescAttr(p->rows_desc, p->time_col)->atttypid);
	pgs_owner_end(&acc);
	dd_check_state(q, p);

	/*
	 * Each key's earliest row of the batch; the keys the state has not
	 * seen go in, and their rows come out.  The rows' place in the batch
	 * joins the two.
	 */
	keep_types[2] = p->time_type;
	/* the rows' place in the batch, under a name no output column has */
	{
		bool		taken = true;

		ord = pstrdup("_ord");
		while (taken)
		{
			taken = false;
			foreach(lc, q->target_columns)
				if (strcmp(lfirst(lc), ord) == 0)
					taken = true;
			if (taken)
				ord = psprintf("%s_", ord);
		}
		ord = pstrdup(quote_identifier(ord));
	}
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "WITH r AS (SELECT p.*, pg_catalog.row_number() OVER () AS %s FROM " DEDUP_ROWS_ENR " p),"
					 " b AS (SELECT DISTINCT ON (%s) r.* FROM r ORDER BY %s, r.%s, r.%s)"
					 " INSERT INTO %s AS s (%s, _expires_at, _row, _first_batch)"
					 " SELECT %s, b.%s OPERATOR(pg_catalog.+) $1, b.%s, $2 FROM b"
					 " ON CONFLICT (%s) DO NOTHING RETURNING s._row",
					 ord, qkeys.data, qkeys.data,
					 quote_identifier(list_nth(q->target_columns, p->time_col)), ord,
					 pgs_qualified_relname(q->state_relid), keys.data, bkeys.data,
					 quote_identifier(list_nth(q->target_columns, p->time_col)), ord,
					 keys.data);
	pgs_catalog_begin(&acc);
	MemoryContextSwitchTo(cxt);
	pgs_state_register(DEDUP_ROWS_ENR, tuplestore_begin_heap(false, false, work_mem), p->rows_desc);
	p->keep = pgs_state_prepare(sql.data, 2, keep_types);
	p->evict = pgs_state_prepare(psprintf("DELETE FROM %s WHERE _expires_at OPERATOR(pg_catalog.<=) $1",
								   pgs_qualified_relname(q->state_relid)),
						  1, &keep_types[2]);
	pgs_catalog_end(&acc);

	/* the target, as the owner */
	pgs_owner_begin(&acc, q->owner, psprintf("pg_catalog, %s", pgs_batch_search_path(q->search_path)));
	MemoryContextSwitchTo(cxt);
	pgs_state_register(DEDUP_NEW_ENR, tuplestore_begin_heap(false, false, work_mem), p->rows_desc);
	p->write = pgs_state_prepare(psprintf("INSERT INTO %s (%s) SELECT %s FROM " DEDUP_NEW_ENR,
								   pgs_qualified_relname(q->target_relid), cols.data, cols.data),
						  0, NULL);
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);
	p->signature = MemoryContextStrdup(pgs_plan_context(), sig);
	return p;
}


/*
 * Below an aggregation, the state's key columns must still be of the
 * stream's columns' types, and its expiry of the event time's: the
 * statement that keeps new keys runs as the superuser.
 */
static void
dd_chain_check_state(const PgsQuery *q, DedupPlans *p)
{
	ListCell   *lc;
	int			i = 0;
	bool		bad = false;

	foreach(lc, q->dedup_columns)
	{
		AttrNumber	a = get_attnum(p->state_relid, psprintf("key_%d", ++i));
		AttrNumber	sa = get_attnum(q->stream_relid, lfirst(lc));
		Oid			type = InvalidOid,
					stype = InvalidOid;
		int32		typmod;
		Oid			coll = InvalidOid,
					scoll = InvalidOid;

		if (a != InvalidAttrNumber)
			get_atttypetypmodcoll(p->state_relid, a, &type, &typmod, &coll);
		if (sa > 0)
			get_atttypetypmodcoll(q->stream_relid, sa, &stype, &typmod, &scoll);
		if (a == InvalidAttrNumber || sa <= 0 || type != getBaseType(stype) || coll != scoll)
			bad = true;
	}
	if (get_attnum(p->state_relid, psprintf("key_%d", i + 1)) != InvalidAttrNumber ||
		p->time_type != get_atttype(p->state_relid, get_attnum(p->state_relid, "_expires_at")) ||
		(p->time_type != TIMESTAMPTZOID && p->time_type != TIMESTAMPOID))
		bad = true;
	if (bad)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer matches its state", q->name),
				 errdetail("Its stream's deduplicated columns or event time are now of other types than its state table %s was made for.",
						   pgs_qualified_relname(p->state_relid)),
				 errhint("Drop the query and start it again.")));
}

/*
 * The statements of deduplication below an aggregation: the batch's rows'
 * tids, keys and event times, as the owner; the keys not seen before in,
 * their rows' tids out; the expired keys out.
 */
static DedupPlans *
dd_chain_plans(const PgsQuery *q)
{
	DedupPlans *p;
	bool		found;
	Oid			state_relid = dd_chain_relid(q);
	char	   *sig;
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData inner;
	StringInfoData keys;
	StringInfoData rkeys;
	StringInfoData bkeys;
	ListCell   *lc;
	int			i = 0;
	CachedPlanSource *source;
	Oid			keep_types[3] = {INTERVALOID, INT8OID, InvalidOid};

	if (!OidIsValid(state_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the deduplication state of streaming query \"%s\" is gone", q->name),
				 errdetail("Its aggregation's state table %s has no deduplication table as its part.",
						   pgs_qualified_relname(q->state_relid)),
				 errhint("Drop the query and start it again.")));
	sig = psprintf("%s|%s|%u|%u|%s", q->query_text, q->search_path, q->state_relid,
				   state_relid, pgs_qualified_relname(q->stream_relid));
	p = dd_plans_entry(q->query_id, sig, &found);
	if (found)
		return p;
	p->state_relid = state_relid;

	initStringInfo(&inner);
	initStringInfo(&keys);
	initStringInfo(&rkeys);
	initStringInfo(&bkeys);
	appendStringInfoString(&inner, "s.ctid AS pgs_tid");
	i = 0;
	foreach(lc, q->dedup_columns)
	{
		i++;
		appendStringInfo(&inner, ", s.%s AS key_%d", quote_identifier(lfirst(lc)), i);
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
		appendStringInfo(&rkeys, "%sr.key_%d", i > 1 ? ", " : "", i);
		appendStringInfo(&bkeys, "%sb.key_%d", i > 1 ? ", " : "", i);
	}
	appendStringInfo(&inner, ", s.%s AS pgs_time", quote_identifier(q->event_time));
	p->time_col = i + 1;

	/* the batch's rows, as the owner: the stream's columns, read directly */
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	MemoryContextSwitchTo(cxt);
	p->rows = pgs_state_prepare(pgs_batch_select_cols_sql(q->stream_relid, inner.data, "s.*", NULL),
								PGS_BATCH_NPARAMS, pgs_batch_param_types);
	source = linitial(SPI_plan_get_plan_sources(p->rows));
	{
		MemoryContext old = MemoryContextSwitchTo(pgs_plan_context());

		p->rows_desc = CreateTupleDescCopy(source->resultDesc);
		MemoryContextSwitchTo(old);
	}
	p->time_type = getBaseType(TupleDescAttr(p->rows_desc, p->time_col)->atttypid);
	pgs_owner_end(&acc);
	dd_chain_check_state(q, p);

	/* each key's earliest row of the batch; the new keys in, their tids out */
	keep_types[2] = p->time_type;
	pgs_catalog_begin(&acc);
	MemoryContextSwitchTo(cxt);
	pgs_state_register(DEDUP_ROWS_ENR, tuplestore_begin_heap(false, false, work_mem), p->rows_desc);
	p->keep = pgs_state_prepare(psprintf("WITH r AS (SELECT p.*, pg_catalog.row_number() OVER () AS pgs_ord"
										 " FROM " DEDUP_ROWS_ENR " p),"
										 " b AS (SELECT DISTINCT ON (%s) r.* FROM r ORDER BY %s, r.pgs_time, r.pgs_ord)"
										 " INSERT INTO %s AS s (%s, _expires_at, _row, _first_batch)"
										 " SELECT %s, b.pgs_time OPERATOR(pg_catalog.+) $1, b.pgs_ord, $2 FROM b"
										 " ON CONFLICT (%s) DO NOTHING RETURNING s._row",
										 rkeys.data, rkeys.data,
										 pgs_qualified_relname(state_relid), keys.data,
										 bkeys.data, keys.data),
								2, keep_types);
	p->evict = pgs_state_prepare(psprintf("DELETE FROM %s WHERE _expires_at OPERATOR(pg_catalog.<=) $1",
										  pgs_qualified_relname(state_relid)),
								 1, &keep_types[2]);
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	p->signature = MemoryContextStrdup(pgs_plan_context(), sig);
	return p;
}

/* the batch's rows, as the owner */
static Tuplestorestate *
dd_rows(const PgsQuery *q, DedupPlans *p, PgsBatchParams *params, MemoryContext cxt,
		int64 *input_rows)
{
	PgsCatalogAccess acc = {0};
	CachedPlanSource *source;
	Tuplestorestate *volatile rows = NULL;
	ParamListInfo pl = pgs_state_params(PGS_BATCH_NPARAMS, pgs_batch_param_types,
										params->values, params->nulls);
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	source = linitial(SPI_plan_get_plan_sources(p->rows));
	pgs_batch_input_rows = 0;
	pgs_rewrite_arm(source->query_string, q->stream_relid, q->view_relid);
	PG_TRY();
	{
		rows = pgs_state_run_into(p->rows, pl, cxt);
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	*input_rows = pgs_batch_input_rows;
	pgs_owner_end(&acc);
	return rows;
}

/*
 * The rows of "rows" at the places (1-based, a bigint column) in "places",
 * in their order in "rows".  The statement that keeps new keys returns only
 * their rows' places: joining them back to the rows in SQL would be planned
 * for the empty tuplestore the statement was prepared with.
 */
static Tuplestorestate *
dd_rows_at(Tuplestorestate *rows, TupleDesc desc, Tuplestorestate *places,
		   MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int64		n = tuplestore_tuple_count(rows);
	bool	   *at = palloc0(sizeof(bool) * (n + 1));
	TupleDesc	place_desc = CreateTemplateTupleDesc(1);
	TupleTableSlot *slot;
	Tuplestorestate *kept = tuplestore_begin_heap(false, false, work_mem);
	int64		i = 0;
	bool		isnull;

	TupleDescInitEntry(place_desc, 1, "_row", INT8OID, -1, 0);
	slot = MakeSingleTupleTableSlot(place_desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(places);
	while (tuplestore_gettupleslot(places, true, false, slot))
	{
		int64		place = DatumGetInt64(slot_getattr(slot, 1, &isnull));

		if (isnull || place < 1 || place > n)
			elog(ERROR, "deduplication kept a row at place " INT64_FORMAT " of " INT64_FORMAT,
				 place, n);
		at[place] = true;
	}
	ExecDropSingleTupleTableSlot(slot);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
		if (at[++i])
			tuplestore_puttupleslot(kept, slot);
	ExecDropSingleTupleTableSlot(slot);
	pfree(at);
	MemoryContextSwitchTo(old);
	return kept;
}

/* the keys seen for the first time, with their rows; expired keys out */
static Tuplestorestate *
dd_keep(const PgsQuery *q, DedupPlans *p, int64 batch_id, Tuplestorestate *rows,
		const PgsWatermarks *w, MemoryContext cxt, int64 *evicted)
{
	PgsCatalogAccess acc = {0};
	Oid			types[2] = {INTERVALOID, INT8OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	Interval   *delay = palloc0(sizeof(Interval));
	Tuplestorestate *places;
	Tuplestorestate *kept;

	delay->time = q->watermark_usecs;
	values[0] = IntervalPGetDatum(delay);
	values[1] = Int64GetDatum(batch_id);
	pgs_catalog_begin(&acc);
	pgs_state_register(DEDUP_ROWS_ENR, rows, p->rows_desc);
	places = pgs_state_run_into(p->keep, pgs_state_params(2, types, values, nulls), cxt);
	kept = dd_rows_at(rows, p->rows_desc, places, cxt);
	tuplestore_end(places);
	*evicted = 0;
	if (!w->watermark_null)
	{
		Datum		cutoff = Int64GetDatum(w->watermark);
		char		isnull = ' ';
		int			rc;
		bool		pushed = pgs_ensure_snapshot();

		rc = SPI_execute_plan_extended(p->evict,
									   &(SPIExecuteOptions) {
										   .params = pgs_state_params(1, &p->time_type, &cutoff, &isnull)});
		if (pushed)
			PopActiveSnapshot();
		pgs_adopt_plan(p->evict);
		if (rc < 0)
			elog(ERROR, "could not evict the expired keys of a deduplicating query");
		*evicted = (int64) SPI_processed;
	}
	pgs_catalog_end(&acc);
	return kept;
}

/* the kept rows' tids, as a tid[] in cxt */
static Datum
dd_tids(Tuplestorestate *kept, TupleDesc desc, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int64		n = tuplestore_tuple_count(kept);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i = 0;
	bool		isnull;
	Datum		tids;

	tuplestore_rescan(kept);
	while (tuplestore_gettupleslot(kept, true, false, slot))
	{
		Datum		d = slot_getattr(slot, 1, &isnull);

		if (!isnull)
		{
			ItemPointer tid = palloc(sizeof(ItemPointerData));

			ItemPointerCopy((ItemPointer) DatumGetPointer(d), tid);
			elems[i++] = PointerGetDatum(tid);
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	tids = PointerGetDatum(construct_array(elems, i, TIDOID, sizeof(ItemPointerData),
										   false, TYPALIGN_SHORT));
	MemoryContextSwitchTo(old);
	return tids;
}

/*
 * One batch of an aggregation below deduplication, in the run's
 * transaction: see the head of this file.  What the progress says sums
 * both operators: the rows read, the keys and groups kept, the rows and
 * groups dropped as late, the keys and windows evicted.
 */
static void
dd_chain_execute(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
				 const PgsWatermarks *watermarks, PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	DedupPlans *p = dd_chain_plans(q);
	int64		before = pgs_checkpoint_state_rows(q->query_id);
	Tuplestorestate *rows;
	Tuplestorestate *kept;
	Datum		tids;
	int64		input_rows;
	int64		late;
	int64		evicted;
	int64		nkept;
	PgsAggResult agg;

	{
		PgsCatalogAccess acc = {0};

		/* the statement names the stream itself: no substitution */
		(void) pgs_phase_switch(PGS_PHASE_READ);
		pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
		rows = pgs_state_run_into(p->rows,
								  pgs_state_params(PGS_BATCH_NPARAMS, pgs_batch_param_types,
												   params->values, params->nulls),
								  cxt);
		pgs_owner_end(&acc);
	}
	input_rows = tuplestore_tuple_count(rows);
	/* a row without a time cannot be dated: it goes, as late */
	rows = pgs_state_drop_late(rows, p->rows_desc, p->time_col + 1, 0,
							   watermarks->late_null, watermarks->late, true, cxt,
							   &late);
	(void) pgs_phase_switch(PGS_PHASE_MERGE);
	kept = dd_keep(q, p, batch_id, rows, watermarks, cxt, &evicted);
	nkept = tuplestore_tuple_count(kept);
	tids = dd_tids(kept, p->rows_desc, cxt);
	tuplestore_end(rows);
	tuplestore_end(kept);

	pgs_agg_execute_rows(q, batch_id, params, before, watermarks, tids, &agg);
	*result = agg;
	result->input_rows = input_rows;
	result->groups_added = nkept + agg.groups_added;
	result->groups_updated = nkept + agg.groups_updated;
	result->late_groups = late + agg.late_groups;
	result->evicted = evicted + agg.evicted;

	/*
	 * Each operator's part, for stream.progress_operators: the keys after
	 * the batch follow from the last batch's figure, or, when batches ran
	 * before the catalog kept one, from a count of the state.
	 */
	result->chained = true;
	result->dedup_added = nkept;
	result->dedup_evicted = evicted;
	result->dedup_late = late;
	if (pgs_checkpoint_operator_state_rows(q->query_id, "deduplication",
										   &result->dedup_state_rows))
		result->dedup_state_rows += nkept - evicted;
	else if (before > 0)
	{
		PgsCatalogAccess acc = {0};
		bool		isnull;

		/* the state as this batch left it */
		pgs_catalog_begin(&acc);
		pgs_catalog_exec(psprintf("SELECT pg_catalog.count(*) FROM %s",
								  pgs_qualified_relname(p->state_relid)),
						 0, NULL, NULL, NULL, true, 0);
		result->dedup_state_rows = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		pgs_catalog_end(&acc);
	}
	else
		result->dedup_state_rows = nkept - evicted;
}

/*
 * One batch of a deduplicating query, in the run's transaction: see the
 * head of this file.
 */
void
pgs_dedup_execute(const PgsQuery *q, int64 batch_id, PgsBatchParams *params,
				  const PgsWatermarks *watermarks, PgsAggResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	DedupPlans *p;
	Tuplestorestate *rows;
	Tuplestorestate *kept;
	int			rc;
	bool		pushed;

	if (pgs_dedup_chained(q))
	{
		dd_chain_execute(q, batch_id, params, watermarks, result);
		return;
	}
	memset(result, 0, sizeof(PgsAggResult));
	p = dd_plans(q);
	(void) pgs_phase_switch(PGS_PHASE_READ);
	rows = dd_rows(q, p, params, cxt, &result->input_rows);
	/* a row without a time cannot be dated: it goes, as late */
	rows = pgs_state_drop_late(rows, p->rows_desc, p->time_col + 1, 0,
							   watermarks->late_null, watermarks->late, true, cxt,
							   &result->late_groups);
	(void) pgs_phase_switch(PGS_PHASE_MERGE);
	kept = dd_keep(q, p, batch_id, rows, watermarks, cxt, &result->evicted);
	result->groups_added = tuplestore_tuple_count(kept);
	result->groups_updated = result->groups_added;

	(void) pgs_phase_switch(PGS_PHASE_WRITE);
	pgs_owner_begin(&acc, q->owner, psprintf("pg_catalog, %s", pgs_batch_search_path(q->search_path)));
	pgs_state_register(DEDUP_NEW_ENR, kept, p->rows_desc);
	pushed = pgs_ensure_snapshot();
	rc = SPI_execute_plan(p->write, NULL, NULL, false, 0);
	if (pushed)
		PopActiveSnapshot();
	pgs_adopt_plan(p->write);
	if (rc < 0)
		elog(ERROR, "could not write the rows of a deduplicating query");
	result->output_rows = (int64) SPI_processed;
	pgs_owner_end(&acc);
	tuplestore_end(rows);
	tuplestore_end(kept);
}
