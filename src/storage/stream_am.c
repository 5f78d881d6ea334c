/*-------------------------------------------------------------------------
 *
 * stream_am.c
 *	  The stream_heap table access method: heap storage that is append-only
 *	  and that places a transaction's rows at or after the end of the table.
 *
 * Batches find their rows without a per-row index.  That works because of
 * one placement rule: every row a transaction inserts lands in a block at or
 * after the last block the table had when that transaction first inserted
 * into it.  Heap would break the rule in two ways, both closed here: it
 * reuses free space anywhere in the table (the free space map), and it keeps
 * inserting into the block a backend used last, however old.  So inserts skip
 * the free space map, and the cached target block is forgotten when a new
 * transaction starts inserting.  VACUUM never truncates a stream table, so
 * the table never shrinks under a recorded block number; rewrites (VACUUM
 * FULL, CLUSTER) give the table a new relfilenode, which batches notice.
 *
 * Everything else is heap's, unchanged, but for a TID range scan of whole
 * blocks, which skips heap's per-tuple check of the bounds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/hio.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "replication/logicalworker.h"
#include "utils/rel.h"
#include "utils/xid8.h"

#include "common/pgs_common.h"
#include "storage/pgs_placement.h"

PG_FUNCTION_INFO_V1(stream_heap_handler);

/* what a stream table's relcache entry remembers between inserts */
typedef struct SamRelState
{
	FullTransactionId last_insert_fxid;
	AttrNumber	xid_attno;		/* _stream_xid, or 0 where there is none */
	int			xid_off;		/* its offset in a row without nulls, or -1
								 * where a column of varying length precedes
								 * it */
	bool		recycling;		/* this transaction found the stream filling
								 * a recycled run */
} SamRelState;

static TableAmRoutine sam_routine;
static bool sam_routine_ready = false;
static const TableAmRoutine *heap_routine;

static void
sam_refuse(Relation rel, const char *action)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s stream table \"%s\"", action,
					RelationGetRelationName(rel)),
			 errdetail("Stream tables are append-only: rows can be inserted, never changed or removed."),
			 errhint("Insert corrections as new rows, or turn the table back into an ordinary table with stream.drop_stream().")));
}

/* the relcache entry's state, made at the table's first insert */
static SamRelState *
sam_state(Relation rel)
{
	SamRelState *state = (SamRelState *) rel->rd_amcache;

	if (state == NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		int			i;
		int			off = 0;

		state = MemoryContextAllocZero(CacheMemoryContext, sizeof(SamRelState));
		state->xid_off = -1;
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (off >= 0)
				off = att->attlen > 0 ? att_align_nominal(off, att->attalign) : -1;
			if (!att->attisdropped && att->atttypid == XID8OID &&
				strcmp(NameStr(att->attname), PGS_XID_COLUMN) == 0)
			{
				state->xid_attno = att->attnum;
				state->xid_off = off;
				break;
			}
			if (off >= 0)
				off += att->attlen;
		}
		rel->rd_amcache = state;
	}
	return state;
}

/*
 * The first insert of the current top-level transaction into the table:
 * forget the cached target block so that heap starts from the last block
 * of the table.
 */
static pg_noinline void
sam_first_insert(Relation rel, SamRelState *state, FullTransactionId fxid)
{
	RelationSetTargetBlock(rel, InvalidBlockNumber);
	/* planners learn where this transaction's rows start */
	pgs_writer_register(rel);
	state->last_insert_fxid = fxid;
	/* at commit, wake the queries that read this stream */
	pgs_note_stream_insert(RelationGetRelid(rel));
}

/*
 * Called before every insert; *first tells whether it is the transaction's
 * first into the table.  The rest of a transaction's rows only compare its
 * id: the per-row path is a few instructions, what runs once a transaction
 * is out of line.
 */
static inline SamRelState *
sam_before_insert(Relation rel, bool *first)
{
	FullTransactionId fxid = GetTopFullTransactionId();
	SamRelState *state = sam_state(rel);

	*first = !FullTransactionIdEquals(state->last_insert_fxid, fxid);
	if (unlikely(*first))
		sam_first_insert(rel, state, fxid);
	return state;
}

/*
 * Every row carries its inserting transaction's top-level id, whatever the
 * writer supplied (an explicit value, INSERT ... SELECT from another stream,
 * COPY with the column, a BEFORE trigger, logical replication): a row
 * stamped with another id would belong to a batch already run, or to none,
 * and never be delivered.  Two writers keep what they supply:
 *   - a relation created in this transaction: the new storage that a
 *     rewriting ALTER TABLE fills with the rows' existing stamps;
 *   - a session in session_replication_role "replica" that is not a logical
 *     replication worker: a restore (pg_restore --disable-triggers) into the
 *     cluster the stamps come from, whose restored checkpoints already
 *     account for them.
 * Even they never keep 0, which no transaction has: it is the placeholder
 * that INSERTs carry in place of the column's default
 * (pgs_stream_insert_placeholder).  sam_keeps_stamps tells, once per call
 * of the access method, whether the writer is one of the two.
 */
static inline bool
sam_keeps_stamps(Relation rel)
{
	return rel->rd_createSubid != InvalidSubTransactionId ||
		(SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA &&
		 !IsLogicalWorker());
}

/*
 * Where the stamp lies in a formed row, or NULL where it has no fixed
 * place: the stamp null, or a column of varying length before it that is
 * not null.
 */
static inline char *
sam_stamp_in_row(SamRelState *state, TupleDesc desc, HeapTuple tuple)
{
	HeapTupleHeader tup = tuple->t_data;
	AttrNumber	attno = state->xid_attno;
	int			off = 0;
	int			i;

	if (HeapTupleHeaderGetNatts(tup) < attno)
		return NULL;
	if (!HeapTupleHasNulls(tuple))
		return state->xid_off < 0 ? NULL :
			(char *) tup + tup->t_hoff + state->xid_off;
	if (att_isnull(attno - 1, tup->t_bits))
		return NULL;
	for (i = 0; i < attno - 1; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att_isnull(i, tup->t_bits))
			continue;
		if (att->attlen <= 0)
			return NULL;
		off = att_align_nominal(off, att->attalign) + att->attlen;
	}
	off = att_align_nominal(off, TupleDescAttr(desc, attno - 1)->attalign);
	return (char *) tup + tup->t_hoff + off;
}

/*
 * The stamp is checked, and set, without deforming the row and without
 * forming it again: COPY hands over rows already formed, an INSERT's row is
 * formed and deformed by its NOT NULL check, or is still an array of
 * values.  Only a row of which the slot has no copy of its own, or with a
 * null or a column of varying length before the stamp, is formed again.
 *
 * A row that keeps what its writer supplied (sam_keeps_stamps) never keeps
 * a null: the access method refuses it as the column's NOT NULL constraint
 * does, so that no row is stored without a stamp whether or not the
 * executor checked the constraint first.
 */
static pg_noinline void
sam_stamp_slow(Relation rel, SamRelState *state, TupleTableSlot *slot,
			   bool keep)
{
	FullTransactionId top;
	TupleDesc	desc = slot->tts_tupleDescriptor;
	AttrNumber	attno = state->xid_attno;
	HeapTuple	formed = NULL;
	char	   *place = NULL;
	uint64		stamp;
	Datum	   *values;
	bool	   *nulls;
	bool		isnull;
	Datum		d;

	top = state->last_insert_fxid;	/* this transaction's, sam_before_insert */
	if (TTS_IS_HEAPTUPLE(slot) || TTS_IS_BUFFERTUPLE(slot))
		formed = ((HeapTupleTableSlot *) slot)->tuple;
	if (slot->tts_nvalid >= attno)
	{
		d = slot->tts_values[attno - 1];
		isnull = slot->tts_isnull[attno - 1];
	}
	else if (formed != NULL && (place = sam_stamp_in_row(state, desc, formed)) != NULL)
	{
		memcpy(&stamp, place, sizeof(stamp));
		d = Int64GetDatum((int64) stamp);
		isnull = false;
	}
	else
		d = slot_getattr(slot, attno, &isnull);
	if (!isnull && FullTransactionIdEquals(DatumGetFullTransactionId(d), top))
		return;
	if (keep && isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
						PGS_XID_COLUMN, RelationGetRelationName(rel)),
				 errdetail("Every row of a stream table carries the id of the transaction that inserted it.")));
	if (keep && U64FromFullTransactionId(DatumGetFullTransactionId(d)) != 0)
		return;

	/* values not formed into a row yet: the stamp is one of them */
	if (TTS_IS_VIRTUAL(slot) ||
		((TTS_IS_HEAPTUPLE(slot) || TTS_IS_BUFFERTUPLE(slot)) && formed == NULL))
	{
		Assert(slot->tts_nvalid == desc->natts);
		slot->tts_values[attno - 1] = FullTransactionIdGetDatum(top);
		slot->tts_isnull[attno - 1] = false;
		return;
	}

	/* a row the slot owns, whose stamp has its place: set there */
	if (formed != NULL && TTS_SHOULDFREE(slot) && !isnull &&
		(place != NULL || (place = sam_stamp_in_row(state, desc, formed)) != NULL))
	{
		stamp = U64FromFullTransactionId(top);
		memcpy(place, &stamp, sizeof(stamp));
		if (slot->tts_nvalid >= attno)
			slot->tts_values[attno - 1] = FullTransactionIdGetDatum(top);
		return;
	}

	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	memcpy(values, slot->tts_values, sizeof(Datum) * desc->natts);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * desc->natts);
	values[attno - 1] = FullTransactionIdGetDatum(top);
	nulls[attno - 1] = false;
	ExecForceStoreHeapTuple(heap_form_tuple(desc, values, nulls), slot, true);
	pfree(values);
	pfree(nulls);
}

/*
 * The two shapes nearly every row comes in, stamped without looking at
 * what the writer supplied (it is replaced whatever it is): values not
 * formed into a row (COPY, a row that a BEFORE trigger or a projection
 * left as values), and a row the slot owns with no nulls and no column of
 * varying length before the stamp (an INSERT's).  Everything else, and a
 * writer that keeps its stamps, takes sam_stamp_slow().
 */
static inline void
sam_stamp(Relation rel, SamRelState *state, TupleTableSlot *slot, bool keep)
{
	AttrNumber	attno = state->xid_attno;
	HeapTuple	formed;

	if (attno == 0)
		return;
	if (likely(!keep) &&
		(TTS_IS_BUFFERTUPLE(slot) || TTS_IS_HEAPTUPLE(slot) || TTS_IS_VIRTUAL(slot)))
	{
		formed = TTS_IS_VIRTUAL(slot) ? NULL : ((HeapTupleTableSlot *) slot)->tuple;
		if (formed == NULL)
		{
			Assert(slot->tts_nvalid == slot->tts_tupleDescriptor->natts);
			slot->tts_values[attno - 1] =
				FullTransactionIdGetDatum(state->last_insert_fxid);
			slot->tts_isnull[attno - 1] = false;
			return;
		}
		if (TTS_SHOULDFREE(slot) && state->xid_off >= 0 &&
			!HeapTupleHasNulls(formed) &&
			HeapTupleHeaderGetNatts(formed->t_data) >= attno)
		{
			uint64		stamp = U64FromFullTransactionId(state->last_insert_fxid);

			memcpy((char *) formed->t_data + formed->t_data->t_hoff + state->xid_off,
				   &stamp, sizeof(stamp));
			if (slot->tts_nvalid >= attno)
				slot->tts_values[attno - 1] =
					FullTransactionIdGetDatum(state->last_insert_fxid);
			return;
		}
	}
	sam_stamp_slow(rel, state, slot, keep);
}

/*
 * The column's default, pg_current_xact_id(), costs an INSERT statement
 * more than the rest of what a stream adds to it: the rewriter reads the
 * default back from its stored text, the planner and the executor prepare
 * a function call, all for a value the access method checks anyway.  So
 * an INSERT into a stream that does not name the column is given the
 * constant 0 for it instead, which sam_stamp() always replaces with the
 * transaction's id, whatever the writer (a cached plan run later in
 * session_replication_role "replica" included).  Where anything looks at
 * the row before the access method does, the statement keeps the default,
 * so that it sees the stamp the row will have: BEFORE ROW triggers, rules
 * (NEW), CHECK constraints, stored generated columns, row-level security's
 * WITH CHECK, a partition's constraint, ON CONFLICT's arbiter indexes.
 * A change to any of these invalidates the cached plans of the statement,
 * which is then analyzed again.
 */
void
pgs_stream_insert_placeholder(Relation target, Query *query)
{
	SamRelState *state;
	TupleConstr *constr;
	ListCell   *lc;

	/* EXPLAIN shows the statement as it runs */
	if (query->commandType == CMD_UTILITY && query->utilityStmt != NULL &&
		IsA(query->utilityStmt, ExplainStmt) &&
		IsA(((ExplainStmt *) query->utilityStmt)->query, Query))
		query = (Query *) ((ExplainStmt *) query->utilityStmt)->query;
	if (query->commandType != CMD_INSERT || target == NULL ||
		target->rd_tableam != &sam_routine || query->onConflict != NULL)
		return;
	if (query->resultRelation <= 0 ||
		rt_fetch(query->resultRelation, query->rtable)->relid !=
		RelationGetRelid(target))
		return;
	if ((target->trigdesc != NULL && target->trigdesc->trig_insert_before_row) ||
		target->rd_rules != NULL || target->rd_rel->relrowsecurity ||
		target->rd_rel->relispartition)
		return;
	constr = RelationGetDescr(target)->constr;
	if (constr != NULL && (constr->num_check > 0 || constr->has_generated_stored))
		return;
	state = sam_state(target);
	if (state->xid_attno == 0)
		return;
	foreach(lc, query->targetList)
	{
		if (((TargetEntry *) lfirst(lc))->resno == state->xid_attno)
			return;
	}
	query->targetList =
		lappend(query->targetList,
				makeTargetEntry((Expr *) makeConst(XID8OID, -1, InvalidOid,
												   sizeof(FullTransactionId),
												   FullTransactionIdGetDatum(InvalidFullTransactionId),
												   false, FLOAT8PASSBYVAL),
								state->xid_attno, pstrdup(PGS_XID_COLUMN),
								false));
}

/* the room a row takes in a block, as heap will reckon it */
static Size
sam_row_size(TupleTableSlot *slot)
{
	HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, true, NULL);

	/* a larger row is moved to TOAST storage down to about this */
	return MAXALIGN(Min(tuple->t_len, TOAST_TUPLE_THRESHOLD));
}

/*
 * Point heap at the block where the row belongs (placement.c): the end of
 * the table, or a block of the recycled run the stream is filling.
 */
static void
sam_place(Relation rel, TupleTableSlot *slot, bool first,
		  struct BulkInsertStateData *bistate)
{
	SamRelState *state = (SamRelState *) rel->rd_amcache;

	/*
	 * A transaction that began appending goes on appending even if the
	 * stream turns to recycled blocks meanwhile: it registered where its
	 * rows start, and rows past the append run's end lie in the append run
	 * that follows every recycled run.  So only its first row, and the rows
	 * of one that began in a recycled run, look at the shared placement.
	 */
	if (!first && !state->recycling)
		return;
	state->recycling = pgs_placement_before_insert(rel, sam_row_size(slot), first);
	if (bistate != NULL && state->recycling)
		ReleaseBulkInsertStatePin(bistate);
}

static void
sam_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid,
				 int options, struct BulkInsertStateData *bistate)
{
	bool		first;
	SamRelState *state = sam_before_insert(rel, &first);

	sam_stamp(rel, state, slot, sam_keeps_stamps(rel));
	if (unlikely(first || state->recycling))
		sam_place(rel, slot, first, bistate);
	heap_routine->tuple_insert(rel, slot, cid, options | TABLE_INSERT_SKIP_FSM,
							   bistate);
}

static void
sam_tuple_insert_speculative(Relation rel, TupleTableSlot *slot,
							 CommandId cid, int options,
							 struct BulkInsertStateData *bistate,
							 uint32 specToken)
{
	bool		first;
	SamRelState *state = sam_before_insert(rel, &first);

	sam_stamp(rel, state, slot, sam_keeps_stamps(rel));
	sam_place(rel, slot, first, bistate);
	heap_routine->tuple_insert_speculative(rel, slot, cid,
										   options | TABLE_INSERT_SKIP_FSM,
										   bistate, specToken);
}

/*
 * COPY's inserts.  While the stream fills a recycled run, heap is given as
 * many rows at a time as fit in the block chosen for the first of them:
 * heap would put the rest in new blocks at the end of the table.
 */
static void
sam_multi_insert(Relation rel, TupleTableSlot **slots, int nslots,
				 CommandId cid, int options, struct BulkInsertStateData *bistate)
{
	bool		first;
	SamRelState *state = sam_before_insert(rel, &first);
	Size		reserve = RelationGetTargetPageFreeSpace(rel, HEAP_DEFAULT_FILLFACTOR);
	bool		keep = sam_keeps_stamps(rel);
	int			i;
	int			done = 0;

	for (i = 0; i < nslots; i++)
		sam_stamp(rel, state, slots[i], keep);
	while (done < nslots)
	{
		int			n = nslots - done;

		sam_place(rel, slots[done], first && done == 0, bistate);
		if (state->recycling)
		{
			Size		room = pgs_placement_room(rel) + sizeof(ItemIdData);
			Size		used = 0;

			for (n = 0; done + n < nslots; n++)
			{
				Size		size = sam_row_size(slots[done + n]) + sizeof(ItemIdData);

				if (n > 0 && used + size + reserve > room)
					break;
				used += size;
			}
		}
		heap_routine->multi_insert(rel, slots + done, n, cid,
								   options | TABLE_INSERT_SKIP_FSM, bistate);
		done += n;
	}
}

/*
 * A logical replication worker applying an upstream delete to a stream
 * keeps the row: an upstream stream deletes only by its retention, which
 * is the publisher's to decide, and a subscriber's stream keeps its rows
 * until its own retention removes them.  Refusing would halt the whole
 * subscription until ALTER SUBSCRIPTION ... SKIP.
 */
static TM_Result
sam_tuple_delete(Relation rel, ItemPointer tid, CommandId cid,
				 Snapshot snapshot, Snapshot crosscheck, bool wait,
				 TM_FailureData *tmfd, bool changingPart)
{
	if (IsLogicalWorker())
	{
		ereport(DEBUG1,
				(errmsg_internal("stream table \"%s\" keeps row (%u,%u) that logical replication deletes upstream",
								 RelationGetRelationName(rel),
								 ItemPointerGetBlockNumber(tid),
								 ItemPointerGetOffsetNumber(tid))));
		return TM_Ok;
	}
	sam_refuse(rel, "delete rows of");
	return TM_Invisible;		/* keep compiler quiet */
}

static TM_Result
sam_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot,
				 CommandId cid, Snapshot snapshot, Snapshot crosscheck,
				 bool wait, TM_FailureData *tmfd, LockTupleMode *lockmode,
				 bool *update_indexes)
{
	sam_refuse(rel, "update rows of");
	return TM_Invisible;		/* keep compiler quiet */
}

/*
 * A new relfilenode for a relation that already existed before this
 * subtransaction is TRUNCATE; new relations (CREATE TABLE, and the transient
 * table of a rewrite) are created here too and are allowed.
 */
static void
sam_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode,
							  char persistence, TransactionId *freezeXid,
							  MultiXactId *minmulti)
{
	if (rel->rd_createSubid == InvalidSubTransactionId)
		sam_refuse(rel, "truncate");
	heap_routine->relation_set_new_filenode(rel, newrnode, persistence,
											freezeXid, minmulti);
}

static void
sam_relation_nontransactional_truncate(Relation rel)
{
	sam_refuse(rel, "truncate");
}

/* VACUUM may not shrink the table: batches keep block numbers */
static void
sam_relation_vacuum(Relation rel, struct VacuumParams *params,
					BufferAccessStrategy bstrategy)
{
	params->truncate = VACOPTVALUE_DISABLED;
	heap_routine->relation_vacuum(rel, params, bstrategy);
}

/*
 * Index builds and the validation pass of CREATE INDEX CONCURRENTLY are
 * heap's own, which read the table with heap_getnext(); that function
 * accepts only relations whose access method is heap's very routine.  The
 * storage is heap's, so heap's scans are run with the relation presenting
 * heap's routine for their length, and given ours back however they end.
 * A rebuild of the relation's cache entry in the middle (an invalidation
 * processed while the index's expressions or TOAST access take a lock)
 * would set our routine again: a relcache callback puts heap's back.
 */
#define SAM_MAX_BUILDS	8

static Relation sam_building[SAM_MAX_BUILDS];
static int	sam_nbuilding = 0;
static bool sam_callback_registered = false;

static void
sam_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < sam_nbuilding; i++)
		if (!OidIsValid(relid) || RelationGetRelid(sam_building[i]) == relid)
			sam_building[i]->rd_tableam = heap_routine;
}

/* present heap's routine on rel until sam_end_heap_scan() */
static void
sam_begin_heap_scan(Relation rel)
{
	if (!sam_callback_registered)
	{
		CacheRegisterRelcacheCallback(sam_relcache_callback, (Datum) 0);
		sam_callback_registered = true;
	}
	if (sam_nbuilding >= SAM_MAX_BUILDS)
		elog(ERROR, "too many index builds at once on stream tables");
	sam_building[sam_nbuilding++] = rel;
	rel->rd_tableam = heap_routine;
}

static void
sam_end_heap_scan(Relation rel)
{
	rel->rd_tableam = &sam_routine;
	if (sam_nbuilding > 0)
		sam_nbuilding--;
}

static double
sam_index_build_range_scan(Relation table_rel, Relation index_rel,
						   struct IndexInfo *index_info, bool allow_sync,
						   bool anyvisible, bool progress,
						   BlockNumber start_blockno, BlockNumber numblocks,
						   IndexBuildCallback callback, void *callback_state,
						   TableScanDesc scan)
{
	volatile double tuples = 0;

	sam_begin_heap_scan(table_rel);
	PG_TRY();
	{
		tuples = heap_routine->index_build_range_scan(table_rel, index_rel,
													  index_info, allow_sync,
													  anyvisible, progress,
													  start_blockno, numblocks,
													  callback, callback_state,
													  scan);
	}
	PG_FINALLY();
	{
		sam_end_heap_scan(table_rel);
	}
	PG_END_TRY();
	return tuples;
}

static void
sam_index_validate_scan(Relation table_rel, Relation index_rel,
						struct IndexInfo *index_info, Snapshot snapshot,
						struct ValidateIndexState *state)
{
	sam_begin_heap_scan(table_rel);
	PG_TRY();
	{
		heap_routine->index_validate_scan(table_rel, index_rel, index_info,
										  snapshot, state);
	}
	PG_FINALLY();
	{
		sam_end_heap_scan(table_rel);
	}
	PG_END_TRY();
}

/*
 * A TID range scan of whole blocks, as every batch reads its rows (from
 * (first, 0) to before (end, 0)): heap_set_tidrange limited the scan to
 * those blocks, every tuple of which is in the range, so heap's plain scan
 * within the limits returns the same tuples in the same order without
 * comparing each one's tid with both bounds.  Bounds inside a block take
 * heap's own path.  An empty range limits the scan to no block: either
 * path returns nothing.
 */
static bool
sam_scan_getnextslot_tidrange(TableScanDesc sscan, ScanDirection direction,
							  TupleTableSlot *slot)
{
	if (ItemPointerGetOffsetNumberNoCheck(&sscan->rs_mintid) <= FirstOffsetNumber &&
		ItemPointerGetOffsetNumberNoCheck(&sscan->rs_maxtid) >= MaxHeapTuplesPerPage)
		return heap_routine->scan_getnextslot(sscan, direction, slot);
	return heap_routine->scan_getnextslot_tidrange(sscan, direction, slot);
}

/* TOAST tables of stream tables are ordinary heap tables */
static Oid
sam_relation_toast_am(Relation rel)
{
	return HEAP_TABLE_AM_OID;
}

Datum
stream_heap_handler(PG_FUNCTION_ARGS)
{
	if (!sam_routine_ready)
	{
		heap_routine = GetHeapamTableAmRoutine();
		sam_routine = *heap_routine;
		sam_routine.tuple_insert = sam_tuple_insert;
		sam_routine.tuple_insert_speculative = sam_tuple_insert_speculative;
		sam_routine.multi_insert = sam_multi_insert;
		sam_routine.tuple_delete = sam_tuple_delete;
		sam_routine.tuple_update = sam_tuple_update;
		sam_routine.relation_set_new_filenode = sam_relation_set_new_filenode;
		sam_routine.relation_nontransactional_truncate =
			sam_relation_nontransactional_truncate;
		sam_routine.relation_vacuum = sam_relation_vacuum;
		sam_routine.relation_toast_am = sam_relation_toast_am;
		sam_routine.index_build_range_scan = sam_index_build_range_scan;
		sam_routine.index_validate_scan = sam_index_validate_scan;
		sam_routine.scan_getnextslot_tidrange = sam_scan_getnextslot_tidrange;
		sam_routine_ready = true;
	}
	PG_RETURN_POINTER(&sam_routine);
}
