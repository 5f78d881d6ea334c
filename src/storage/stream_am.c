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
 * Everything else is heap's, unchanged.
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

/*
 * Called before every insert: when this is the first insert of the current
 * top-level transaction into the table, forget the cached target block so
 * that heap starts from the last block of the table.  *first tells whether
 * it was.
 */
static SamRelState *
sam_before_insert(Relation rel, bool *first)
{
	FullTransactionId fxid = GetTopFullTransactionId();
	SamRelState *state = (SamRelState *) rel->rd_amcache;

	if (state == NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		int			i;

		state = MemoryContextAllocZero(CacheMemoryContext, sizeof(SamRelState));
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped && att->atttypid == XID8OID &&
				strcmp(NameStr(att->attname), PGS_XID_COLUMN) == 0)
				state->xid_attno = att->attnum;
		}
		rel->rd_amcache = state;
	}
	*first = !FullTransactionIdEquals(state->last_insert_fxid, fxid);
	if (*first)
	{
		RelationSetTargetBlock(rel, InvalidBlockNumber);
		/* planners learn where this transaction's rows start */
		pgs_writer_register(rel);
		state->last_insert_fxid = fxid;
		/* at commit, wake the queries that read this stream */
		pgs_note_stream_insert(RelationGetRelid(rel));
	}
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
 */
static void
sam_stamp(Relation rel, SamRelState *state, TupleTableSlot *slot)
{
	FullTransactionId top;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
	bool		isnull;
	Datum		d;

	if (state->xid_attno == 0 || rel->rd_createSubid != InvalidSubTransactionId)
		return;
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA &&
		!IsLogicalWorker())
		return;
	top = state->last_insert_fxid;	/* this transaction's, sam_before_insert */
	d = slot_getattr(slot, state->xid_attno, &isnull);
	if (!isnull && FullTransactionIdEquals(DatumGetFullTransactionId(d), top))
		return;

	desc = slot->tts_tupleDescriptor;
	slot_getallattrs(slot);
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	memcpy(values, slot->tts_values, sizeof(Datum) * desc->natts);
	memcpy(nulls, slot->tts_isnull, sizeof(bool) * desc->natts);
	values[state->xid_attno - 1] = FullTransactionIdGetDatum(top);
	nulls[state->xid_attno - 1] = false;
	ExecForceStoreHeapTuple(heap_form_tuple(desc, values, nulls), slot, true);
	pfree(values);
	pfree(nulls);
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

	sam_stamp(rel, sam_before_insert(rel, &first), slot);
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

	sam_stamp(rel, sam_before_insert(rel, &first), slot);
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
	int			i;
	int			done = 0;

	for (i = 0; i < nslots; i++)
		sam_stamp(rel, state, slots[i]);
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
		sam_routine_ready = true;
	}
	PG_RETURN_POINTER(&sam_routine);
}
