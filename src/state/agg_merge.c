/*-------------------------------------------------------------------------
 *
 * agg_merge.c
 *	  The merge of a batch's partial groups into a query's state table, in
 *	  C: each group found through the state's unique index over its keys,
 *	  its states combined with the aggregates' combine functions
 *	  (agg_funcs.c, as the query's owner), its row updated or inserted, and
 *	  its results computed with the final functions.
 *
 * It gives what the merge statement (agg_plans.c, pgs_agg_compose_merge)
 * gives: the touched groups' keys as stored, their results, and whether
 * the batch created them, in rows of the same description, so that the
 * target's statements and everything after them are the same.  One thing
 * differs: a group whose every combined state is, byte for byte, the state
 * it had is left as it is.  Its row is not written (its _last_batch stays)
 * and it is not among the touched groups: no result of it can change, so
 * the target is not written for it either.
 *
 * Only the query's batch writes its state table, under the query's lock:
 * a lookup through the index and an update or insert need no speculative
 * insertion.  The index treats NULL as a value (UNIQUE NULLS NOT DISTINCT),
 * as GROUP BY does; an index that does not is followed as ON CONFLICT
 * follows it (a NULL key never matches).  Rows are written as the server's
 * own simple writes write them (execReplication.c): constraints checked,
 * every index maintained, WAL as for any table.  A state table the merge
 * cannot take this way (other columns, triggers, no such index) keeps the
 * merge statement, as session windows do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type_d.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "common/pgs_common.h"
#include "state/agg_internal.h"
#include "state/pgs_agg.h"

struct PgsAggMerge
{
	MemoryContext mcxt;			/* holds this */
	Oid			state_relid;
	Oid			index_relid;	/* unique over the keys, or over _one */
	int			nkeys;			/* grouping keys; 0: the one group */
	int			nindex;			/* columns of the index */
	int			naggs;
	int			natts;			/* of the state table */
	AttrNumber *key_att;		/* the index's columns in the state table */
	AttrNumber *agg_att;
	AttrNumber	first_att;
	AttrNumber	last_att;
	FmgrInfo   *key_eq;			/* per index column: its equality */
	Oid		   *key_collation;
	bool		nulls_not_distinct;
	FmgrInfo   *key_hash;		/* per key: the hash function of its equality */
	int16	   *key_len;
	bool	   *key_byval;
	bool		can_scan;		/* every key has one: see am_scan_state */
	Oid		   *aggfnoid;
	Oid		   *inputcollid;
	Oid		   *state_type;
	Oid		   *result_type;
	int16	   *state_len;
	bool	   *state_byval;
	Oid		   *att_type;		/* of every column, as prepared */
	PgsAggFuncs **funcs;		/* this batch's, in its context */
};

/* the attribute named "name" of desc, if it is of type "type" */
static AttrNumber
am_attnum(TupleDesc desc, const char *name, Oid type)
{
	AttrNumber	attnum = pgs_column_attnum(desc, name);

	return attnum != InvalidAttrNumber &&
		TupleDescAttr(desc, attnum - 1)->atttypid == type ? attnum : InvalidAttrNumber;
}

/*
 * The merge of a query's shape into its state table, made in a context of
 * its own under mcxt, or NULL when the merge statement must do it: session
 * windows, whose merge replaces rows; a state table with columns, triggers
 * or an index other than those the aggregation made.
 */
PgsAggMerge *
pgs_agg_merge_prepare(const PgsAggShape *shape, Oid state_relid,
					  MemoryContext mcxt)
{
	MemoryContext cxt;
	MemoryContext old;
	PgsAggMerge *m;
	Relation	rel;
	TupleDesc	desc;
	List	   *indexes;
	ListCell   *lc;
	int			ncols = 0;
	bool		ok = true;

	if (shape->session)
		return NULL;
	cxt = AllocSetContextCreate(mcxt, "pg_streaming state merge",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	m = palloc0(sizeof(PgsAggMerge));
	m->mcxt = cxt;
	m->state_relid = state_relid;
	m->nkeys = list_length(shape->keys);
	m->nindex = Max(m->nkeys, 1);
	m->naggs = list_length(shape->calls);
	m->key_att = palloc0(sizeof(AttrNumber) * m->nindex);
	m->agg_att = palloc0(sizeof(AttrNumber) * Max(m->naggs, 1));
	m->key_eq = palloc0(sizeof(FmgrInfo) * m->nindex);
	m->key_collation = palloc0(sizeof(Oid) * m->nindex);
	m->key_hash = palloc0(sizeof(FmgrInfo) * m->nindex);
	m->key_len = palloc0(sizeof(int16) * m->nindex);
	m->key_byval = palloc0(sizeof(bool) * m->nindex);
	m->aggfnoid = palloc0(sizeof(Oid) * Max(m->naggs, 1));
	m->inputcollid = palloc0(sizeof(Oid) * Max(m->naggs, 1));
	m->state_type = palloc0(sizeof(Oid) * Max(m->naggs, 1));
	m->result_type = palloc0(sizeof(Oid) * Max(m->naggs, 1));
	m->state_len = palloc0(sizeof(int16) * Max(m->naggs, 1));
	m->state_byval = palloc0(sizeof(bool) * Max(m->naggs, 1));
	m->funcs = palloc0(sizeof(PgsAggFuncs *) * Max(m->naggs, 1));

	rel = table_open(state_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	m->natts = desc->natts;
	m->att_type = palloc(sizeof(Oid) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
		m->att_type[i] = TupleDescAttr(desc, i)->atttypid;
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhastriggers ||
		rel->rd_rel->relhasrules || rel->rd_rel->relispartition)
		ok = false;

	/* the columns: exactly those the aggregation made */
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);
		int			i = foreach_current_index(lc);

		m->key_att[i] = am_attnum(desc, psprintf("key_%d", i + 1), getBaseType(k->type));
		ok = ok && m->key_att[i] != InvalidAttrNumber;
	}
	if (m->nkeys == 0)
	{
		m->key_att[0] = am_attnum(desc, "_one", BOOLOID);
		ok = ok && m->key_att[0] != InvalidAttrNumber;
	}
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);
		int			i = foreach_current_index(lc);

		m->agg_att[i] = am_attnum(desc, psprintf("agg_%d", i + 1), c->state_type);
		ok = ok && m->agg_att[i] != InvalidAttrNumber;
		m->aggfnoid[i] = c->aggref->aggfnoid;
		m->inputcollid[i] = c->aggref->inputcollid;
		m->state_type[i] = c->state_type;
		m->result_type[i] = getBaseType(c->aggref->aggtype);
		get_typlenbyval(c->state_type, &m->state_len[i], &m->state_byval[i]);
	}
	m->first_att = am_attnum(desc, "_first_batch", INT8OID);
	m->last_att = am_attnum(desc, "_last_batch", INT8OID);
	ok = ok && m->first_att != InvalidAttrNumber && m->last_att != InvalidAttrNumber;
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			ncols++;
	if (ncols != m->nindex + m->naggs + 2)
		ok = false;

	/* the unique index over the keys, in their order */
	indexes = ok ? RelationGetIndexList(rel) : NIL;
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		fits = form->indisunique && form->indisvalid && form->indislive &&
			form->indnkeyatts == m->nindex && form->indnatts == m->nindex &&
			RelationGetIndexExpressions(index) == NIL &&
			RelationGetIndexPredicate(index) == NIL &&
			index->rd_rel->relam == BTREE_AM_OID;

		for (int i = 0; fits && i < m->nindex; i++)
			fits = form->indkey.values[i] == m->key_att[i];
		if (fits)
		{
			m->can_scan = m->nkeys > 0;
			for (int i = 0; i < m->nindex && fits; i++)
			{
				Oid			type = index->rd_opcintype[i];
				Oid			eq = get_opfamily_member(index->rd_opfamily[i], type, type,
													 BTEqualStrategyNumber);

				fits = OidIsValid(eq);
				if (fits)
				{
					Oid			lhash;
					Oid			rhash;

					fmgr_info_cxt(get_opcode(eq), &m->key_eq[i], cxt);
					m->key_collation[i] = index->rd_indcollation[i];
					/*
					 * A hash consistent with the equality, for the scan; the
					 * type cache says whether the column's type can be hashed
					 * all through (an array, record or range hashes its
					 * elements, which may have no hash function).
					 */
					if (get_op_hash_functions(eq, &lhash, &rhash) && lhash == rhash &&
						OidIsValid(lookup_type_cache(TupleDescAttr(desc, m->key_att[i] - 1)->atttypid,
													 TYPECACHE_HASH_PROC)->hash_proc))
						fmgr_info_cxt(lhash, &m->key_hash[i], cxt);
					else
						m->can_scan = false;
					get_typlenbyval(TupleDescAttr(desc, m->key_att[i] - 1)->atttypid,
									&m->key_len[i], &m->key_byval[i]);
				}
			}
			if (fits)
			{
				m->index_relid = RelationGetRelid(index);
				m->nulls_not_distinct = form->indnullsnotdistinct;
			}
		}
		index_close(index, AccessShareLock);
		if (OidIsValid(m->index_relid))
			break;
	}
	table_close(rel, AccessShareLock);
	MemoryContextSwitchTo(old);
	if (!ok || !OidIsValid(m->index_relid))
	{
		MemoryContextDelete(cxt);
		return NULL;
	}
	return m;
}

/* has the state table still the columns, of the types, it was prepared with? */
static bool
am_same_columns(const PgsAggMerge *m, TupleDesc desc)
{
	if (desc->natts != m->natts)
		return false;
	for (int i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->atttypid != m->att_type[i])
			return false;
	return true;
}

void
pgs_agg_merge_free(PgsAggMerge *m)
{
	if (m != NULL)
		MemoryContextDelete(m->mcxt);
}

/*
 * The state's rows are found by one pass over the state table, rather than
 * by a descent of its index per group, when a batch brings at least this
 * many groups per block of the table (and at least AM_SCAN_MIN_GROUPS): a
 * lookup through the index costs about what a pass over a block costs.
 */
#define AM_SCAN_GROUPS_PER_BLOCK	4
#define AM_SCAN_MIN_GROUPS			64

/* the hash of a group's keys, NULL hashing as 0 */
static uint32
am_hash(const PgsAggMerge *m, const Datum *values, const bool *isnull)
{
	uint32		h = 0;

	for (int k = 0; k < m->nkeys; k++)
	{
		uint32		hk = 0;

		if (!isnull[k])
			hk = DatumGetUInt32(FunctionCall1Coll(&m->key_hash[k], m->key_collation[k],
												  values[k]));
		h = hash_combine(h, hk);
	}
	return h;
}

/* are two groups' keys equal as the state's index tells them? */
static bool
am_keys_equal(const PgsAggMerge *m, const Datum *a, const bool *anull,
			  const Datum *b, const bool *bnull)
{
	for (int k = 0; k < m->nkeys; k++)
	{
		if (anull[k] || bnull[k])
		{
			/* only an index that takes NULL for a value has such keys here */
			if (anull[k] != bnull[k])
				return false;
			continue;
		}
		if (!DatumGetBool(FunctionCall2Coll(&m->key_eq[k], m->key_collation[k],
											a[k], b[k])))
			return false;
	}
	return true;
}

/*
 * The state rows of a batch's partial groups, found by one pass over the
 * state table instead of a descent of its unique index per group, when the
 * batch touches many groups for the table's size (a lookup through the
 * index, its descent and its heap fetch, was a fifth of the merge's cost of
 * a group).  Returns, per partial group in the tuplestore's order, a copy
 * of its row as the snapshot sees it (its t_self the row's tid), or NULL
 * where the state has none; or NULL (nothing looked for) when the index is
 * to be used: few groups, a key type without a hash function consistent
 * with the index's equality, two partial groups with equal keys, or copies
 * of the rows found that would take more than work_mem.
 *
 * The keys are compared with the index's own equality and collation, and
 * hashed with the hash functions of that equality operator, which agree
 * with it by definition (as a hash join's); NULL matches NULL only when
 * the index treats NULL as a value, as a lookup through it would.  The
 * rows are read under the merge's snapshot, taken before any of them is
 * written.  What it returns lives in *scancxt, made here.
 */
static HeapTuple *
am_scan_state(const PgsAggMerge *m, Relation rel, Snapshot snapshot,
			  Tuplestorestate *partial, TupleTableSlot *in, MemoryContext *scancxt)
{
	MemoryContext cxt;
	int64		n = tuplestore_tuple_count(partial);
	MemoryContext old;
	MemoryContext probe;
	Datum	   *keys;
	bool	   *nulls;
	uint32	   *hashes;
	int		   *next;
	int		   *heads;
	uint32		mask;
	HeapTuple  *match;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Datum	   *rkeys;
	bool	   *rnulls;
	int			i = 0;
	int			copied = 0;
	AttrNumber	last_key = 0;

	if (!m->can_scan || n < AM_SCAN_MIN_GROUPS || n > INT_MAX / 4 ||
		n < (int64) AM_SCAN_GROUPS_PER_BLOCK * RelationGetNumberOfBlocks(rel))
		return NULL;
	/* the arrays below: within work_mem, each one allocation */
	if ((double) n * (m->nkeys * (sizeof(Datum) + sizeof(bool)) +
					  sizeof(uint32) + 5 * sizeof(int) + sizeof(HeapTuple)) >
		(double) work_mem * 1024 ||
		(double) n * m->nkeys * sizeof(Datum) >= (double) MaxAllocSize ||
		(double) n * 4 * sizeof(int) >= (double) MaxAllocSize)
		return NULL;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pg_streaming state scan",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	probe = AllocSetContextCreate(cxt, "pg_streaming state scan probe",
								  ALLOCSET_SMALL_SIZES);
	mask = 1;
	while (mask < n * 2)
		mask <<= 1;
	heads = palloc(sizeof(int) * mask);
	memset(heads, -1, sizeof(int) * mask);
	mask--;
	keys = palloc(sizeof(Datum) * n * m->nkeys);
	nulls = palloc(sizeof(bool) * n * m->nkeys);
	hashes = palloc(sizeof(uint32) * n);
	next = palloc(sizeof(int) * n);
	match = palloc0(sizeof(HeapTuple) * n);
	rkeys = palloc(sizeof(Datum) * m->nkeys);
	rnulls = palloc(sizeof(bool) * m->nkeys);

	/* the partial groups' keys, hashed */
	tuplestore_rescan(partial);
	while (tuplestore_gettupleslot(partial, true, false, in))
	{
		Datum	   *k = keys + (int64) i * m->nkeys;
		bool	   *kn = nulls + (int64) i * m->nkeys;
		bool		lookup = true;

		if (i >= n)
			elog(ERROR, "the partial groups of a streaming aggregation changed while merged");
		slot_getsomeattrs(in, m->nkeys);
		for (int c = 0; c < m->nkeys; c++)
		{
			kn[c] = in->tts_isnull[c];
			k[c] = kn[c] ? (Datum) 0 :
				datumCopy(in->tts_values[c], m->key_byval[c], m->key_len[c]);
			if (kn[c] && !m->nulls_not_distinct)
				lookup = false;
		}
		next[i] = -1;
		if (lookup)
		{
			MemoryContextSwitchTo(probe);
			hashes[i] = am_hash(m, k, kn);
			for (int j = heads[hashes[i] & mask]; j >= 0; j = next[j])
				if (hashes[j] == hashes[i] &&
					am_keys_equal(m, keys + (int64) j * m->nkeys,
								  nulls + (int64) j * m->nkeys, k, kn))
				{
					/* two groups with one key: the lookups keep the old way */
					MemoryContextSwitchTo(old);
					MemoryContextDelete(cxt);
					return NULL;
				}
			MemoryContextReset(probe);
			MemoryContextSwitchTo(cxt);
			next[i] = heads[hashes[i] & mask];
			heads[hashes[i] & mask] = i;
		}
		i++;
	}
	if (i != n)
		elog(ERROR, "the partial groups of a streaming aggregation changed while merged");
	/* the keys' copies too: within work_mem, or the index */
	if (MemoryContextMemAllocated(cxt, true) > (Size) work_mem * 1024)
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return NULL;
	}

	/* one pass over the state, no synchronized start: every row once */
	for (int c = 0; c < m->nkeys; c++)
		last_key = Max(last_key, m->key_att[c]);
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan_strat(rel, snapshot, 0, NULL, true, false);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		lookup = true;
		uint32		h;

		CHECK_FOR_INTERRUPTS();
		slot_getsomeattrs(slot, last_key);
		for (int c = 0; c < m->nkeys; c++)
		{
			rkeys[c] = slot->tts_values[m->key_att[c] - 1];
			rnulls[c] = slot->tts_isnull[m->key_att[c] - 1];
			if (rnulls[c] && !m->nulls_not_distinct)
				lookup = false;
		}
		if (!lookup)
			continue;
		MemoryContextSwitchTo(probe);
		h = am_hash(m, rkeys, rnulls);
		for (int j = heads[h & mask]; j >= 0; j = next[j])
			if (hashes[j] == h &&
				am_keys_equal(m, keys + (int64) j * m->nkeys,
							  nulls + (int64) j * m->nkeys, rkeys, rnulls))
			{
				if (match[j] != NULL)
					elog(ERROR, "the state of a streaming aggregation has two rows of one group");
				MemoryContextSwitchTo(cxt);
				match[j] = ExecCopySlotHeapTuple(slot);
				/* the copies are held in memory: within work_mem, or the index */
				if (++copied % 64 == 0 &&
					MemoryContextMemAllocated(cxt, true) > (Size) work_mem * 1024)
				{
					table_endscan(scan);
					ExecDropSingleTupleTableSlot(slot);
					MemoryContextSwitchTo(old);
					MemoryContextDelete(cxt);
					return NULL;
				}
				break;
			}
		MemoryContextSwitchTo(cxt);
		MemoryContextReset(probe);
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextSwitchTo(old);
	*scancxt = cxt;
	return match;
}

/*
 * Merge the partial groups (rows of partial_desc: the keys, then each
 * aggregate's state) into the state table, as batch batch_id; returns the
 * groups written with their results (rows of groups_desc, made in cxt), or
 * NULL when the state table is no longer one this merge can take (the
 * caller runs the merge statement).  Runs in the batch's catalog stretch,
 * with the call owner set: the aggregates' functions run as the owner.
 */
Tuplestorestate *
pgs_agg_merge_run(PgsAggMerge *m, Tuplestorestate *partial, TupleDesc partial_desc,
				  TupleDesc groups_desc, int64 batch_id, MemoryContext cxt)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext rowcxt;
	Relation	rel;
	Relation	index = NULL;
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *rri;
	EPQState	epq;
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *found;
	TupleTableSlot *scanned;
	TupleTableSlot *newslot;
	TupleTableSlot *in;
	Tuplestorestate *groups;
	HeapTuple  *match;
	MemoryContext scancxt = NULL;
	int64		pos = 0;
	ScanKeyData *skeys;
	Datum	   *values;
	bool	   *isnull;
	Datum	   *out;
	bool	   *outnull;
	int			nout = groups_desc->natts;

	if (partial_desc->natts != m->nkeys + m->naggs ||
		nout != m->nkeys + m->naggs + 1)
		elog(ERROR, "the groups of a streaming aggregation do not match its state");

	/*
	 * The aggregates' functions, looked up and their rights checked anew
	 * for every batch, in the batch's memory: how a function is called (as
	 * its definer, with its settings, strict or not) is fixed when it is
	 * looked up, and may have changed since the last batch.
	 */
	for (int a = 0; a < m->naggs; a++)
	{
		m->funcs[a] = NULL;
		(void) pgs_agg_funcs_open(&m->funcs[a], caller, m->aggfnoid[a],
								  m->inputcollid[a], m->state_type[a],
								  m->result_type[a]);
	}

	rel = table_open(m->state_relid, RowExclusiveLock);
	if (!am_same_columns(m, RelationGetDescr(rel)) || rel->rd_rel->relhastriggers ||
		rel->rd_rel->relhasrules)
	{
		table_close(rel, RowExclusiveLock);
		return NULL;
	}

	estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = m->state_relid;
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	for (int i = 0; i < rri->ri_NumIndices; i++)
		if (RelationGetRelid(rri->ri_IndexRelationDescs[i]) == m->index_relid)
			index = rri->ri_IndexRelationDescs[i];
	if (index == NULL)
	{
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
		table_close(rel, RowExclusiveLock);
		return NULL;
	}

	/* the state as the statements before left it */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	/* the aggregates' functions may run queries: they see this snapshot */
	PushActiveSnapshot(snapshot);
	estate->es_snapshot = snapshot;
	estate->es_output_cid = GetCurrentCommandId(true);
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);

	found = table_slot_create(rel, &estate->es_tupleTable);
	scanned = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsHeapTuple);
	newslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
	in = MakeSingleTupleTableSlot(partial_desc, &TTSOpsMinimalTuple);
	scan = index_beginscan(rel, index, snapshot, m->nindex, 0);
	skeys = palloc0(sizeof(ScanKeyData) * m->nindex);
	values = palloc(sizeof(Datum) * m->natts);
	isnull = palloc(sizeof(bool) * m->natts);
	out = palloc(sizeof(Datum) * nout);
	outnull = palloc(sizeof(bool) * nout);

	MemoryContextSwitchTo(cxt);
	groups = tuplestore_begin_heap(false, false, work_mem);
	MemoryContextSwitchTo(caller);
	rowcxt = AllocSetContextCreate(caller, "pg_streaming state merge row",
								   ALLOCSET_DEFAULT_SIZES);

	match = am_scan_state(m, rel, snapshot, partial, in, &scancxt);

	tuplestore_rescan(partial);
	while (tuplestore_gettupleslot(partial, true, false, in))
	{
		TupleTableSlot *row = found;
		bool		exists = true;
		bool		changed = false;
		bool		is_new;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(in);
		if (match != NULL)
		{
			/* the pass over the state found the group's row, or none */
			exists = match[pos] != NULL;
			if (exists)
			{
				ExecStoreHeapTuple(match[pos], scanned, false);
				row = scanned;
			}
			pos++;
		}

		/*
		 * The group's row, if the state has it; in the batch's context, in
		 * which the index scan keeps what it makes as it goes.
		 */
		for (int k = 0; match == NULL && k < m->nindex; k++)
		{
			if (m->nkeys == 0)
				ScanKeyEntryInitializeWithInfo(&skeys[k], 0, k + 1,
											   BTEqualStrategyNumber, InvalidOid,
											   m->key_collation[k], &m->key_eq[k],
											   BoolGetDatum(true));
			else if (in->tts_isnull[k])
			{
				if (!m->nulls_not_distinct)
					exists = false;
				ScanKeyEntryInitialize(&skeys[k], SK_ISNULL | SK_SEARCHNULL, k + 1,
									   InvalidStrategy, InvalidOid, InvalidOid,
									   InvalidOid, (Datum) 0);
			}
			else
				ScanKeyEntryInitializeWithInfo(&skeys[k], 0, k + 1,
											   BTEqualStrategyNumber, InvalidOid,
											   m->key_collation[k], &m->key_eq[k],
											   in->tts_values[k]);
		}
		if (exists && match == NULL)
		{
			index_rescan(scan, skeys, m->nindex, NULL, 0);
			exists = index_getnext_slot(scan, ForwardScanDirection, found);
		}
		MemoryContextSwitchTo(rowcxt);

		memset(isnull, true, sizeof(bool) * m->natts);
		if (exists)
		{
			slot_getallattrs(row);
			for (int k = 0; k < m->nindex; k++)
			{
				values[m->key_att[k] - 1] = row->tts_values[m->key_att[k] - 1];
				isnull[m->key_att[k] - 1] = row->tts_isnull[m->key_att[k] - 1];
			}
			for (int a = 0; a < m->naggs; a++)
			{
				int			att = m->agg_att[a] - 1;
				Datum		stored = row->tts_values[att];
				bool		snull = row->tts_isnull[att];
				bool		vnull;
				Datum		v;

				v = pgs_agg_funcs_combine(m->funcs[a], stored, snull,
										  in->tts_values[m->nkeys + a],
										  in->tts_isnull[m->nkeys + a], &vnull);
				if (vnull != snull ||
					(!vnull && !datum_image_eq(v, stored, m->state_byval[a],
											   m->state_len[a])))
					changed = true;
				values[att] = v;
				isnull[att] = vnull;
			}
			if (!changed)
			{
				/* nothing of the group can change: neither row is written */
				MemoryContextSwitchTo(caller);
				MemoryContextReset(rowcxt);
				continue;
			}
			values[m->first_att - 1] = row->tts_values[m->first_att - 1];
			isnull[m->first_att - 1] = row->tts_isnull[m->first_att - 1];
			is_new = !isnull[m->first_att - 1] &&
				DatumGetInt64(values[m->first_att - 1]) == batch_id;
		}
		else
		{
			for (int k = 0; k < m->nindex; k++)
			{
				values[m->key_att[k] - 1] = m->nkeys == 0 ? BoolGetDatum(true) :
					in->tts_values[k];
				isnull[m->key_att[k] - 1] = m->nkeys == 0 ? false : in->tts_isnull[k];
			}
			for (int a = 0; a < m->naggs; a++)
			{
				values[m->agg_att[a] - 1] = in->tts_values[m->nkeys + a];
				isnull[m->agg_att[a] - 1] = in->tts_isnull[m->nkeys + a];
			}
			values[m->first_att - 1] = Int64GetDatum(batch_id);
			isnull[m->first_att - 1] = false;
			is_new = true;
		}
		values[m->last_att - 1] = Int64GetDatum(batch_id);
		isnull[m->last_att - 1] = false;

		/* the touched group's results, as the merge statement gives them */
		for (int k = 0; k < m->nkeys; k++)
		{
			out[k] = values[m->key_att[k] - 1];
			outnull[k] = isnull[m->key_att[k] - 1];
		}
		for (int a = 0; a < m->naggs; a++)
			out[m->nkeys + a] = pgs_agg_funcs_final(m->funcs[a],
													values[m->agg_att[a] - 1],
													isnull[m->agg_att[a] - 1],
													&outnull[m->nkeys + a]);
		out[nout - 1] = BoolGetDatum(is_new);
		outnull[nout - 1] = false;
		tuplestore_putvalues(groups, groups_desc, out, outnull);

		/* the row, as the server's own simple writes write it */
		ExecClearTuple(newslot);
		memcpy(newslot->tts_values, values, sizeof(Datum) * m->natts);
		memcpy(newslot->tts_isnull, isnull, sizeof(bool) * m->natts);
		ExecStoreVirtualTuple(newslot);
		if (exists)
			ExecSimpleRelationUpdate(rri, estate, &epq, row, newslot);
		else
			ExecSimpleRelationInsert(rri, estate, newslot);

		MemoryContextSwitchTo(caller);
		MemoryContextReset(rowcxt);
		ResetPerTupleExprContext(estate);
	}

	index_endscan(scan);
	if (scancxt != NULL)
		MemoryContextDelete(scancxt);
	ExecDropSingleTupleTableSlot(in);
	EvalPlanQualEnd(&epq);
	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	MemoryContextDelete(rowcxt);
	/* what follows in the batch sees the rows written */
	CommandCounterIncrement();
	return groups;
}
