/*-------------------------------------------------------------------------
 *
 * predicate.c
 *	  The batch predicate: the parameters that select one batch's rows, the
 *	  SQL that applies them to a stream, and the C function that decides,
 *	  row by row, whether a row's transaction is in the batch.
 *
 * Only this file knows what the parameters are.  Everybody else passes a
 * PgsBatchParams from pgs_batch_params() to a statement built here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "access/relation.h"
#include "lib/stringinfo.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/xid8.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "common/pgs_common.h"
#include "source/pgs_offsets.h"
#include "storage/pgs_placement.h"

PG_FUNCTION_INFO_V1(stream_batch_member);
PG_FUNCTION_INFO_V1(stream_batch_member_split);
PG_FUNCTION_INFO_V1(stream_batch_member_packed);

/* rows of the current batch seen by the batch predicate */
int64		pgs_batch_input_rows = 0;

/* the last row the batch predicate accepted: where a failing batch was */
ItemPointerData pgs_batch_last_row;

/*
 * While a batch is narrowed to some of its rows (a failing batch's rows are
 * sought), the only rows it keeps, sorted; NULL otherwise.
 */
static const ItemPointerData *pred_filter = NULL;
static int	pred_filter_n = 0;
static bool pred_filter_exclude = false;	/* the rows listed are left out */

/* while set, the SQL that stands for the stream instead of the batch's rows */
static const char *pred_override = NULL;

/* while set, the stream stands for the rows of the first range of blocks */
static bool pred_one_range = false;

Oid			pgs_batch_param_types[PGS_BATCH_NPARAMS] = {
	XID8OID,					/* $1 xmax(lo) */
	XID8OID,					/* $2 xmax(hi) */
	PG_SNAPSHOTOID,				/* $3 hi */
	XID8OID,					/* $4 the transaction lo splits, or 0 */
	XID8OID,					/* $5 the transaction hi splits, or 0 */
	XID8ARRAYOID,				/* $6 the xids of part (b) */
	TIDOID,						/* $7 the first tid that can hold a row */
	INT8OID,					/* $8 where lo splits $4 */
	INT8OID,					/* $9 where hi splits $5 */
	TIDOID,						/* $10 the first tid past them */
	TIDOID,						/* $11 the first tid of a second range of blocks */
	TIDOID,						/* $12 the first tid past it */
	BYTEAOID					/* $13 $1 to $9 packed (PredPacked) */
};

/*
 * The batch's boundaries as one parameter (catalog 0.10 on), which the
 * predicate decodes on its first row: the per-row cost of a parameter is
 * its evaluation, and the predicate runs on every row of the batch.  xids
 * holds hi's running xids, ascending, then those of part (b).
 */
typedef struct PredPacked
{
	uint64		lo_xmax;
	uint64		hi_xmax;
	uint64		hi_xmin;
	uint64		lo_split;		/* 0, or the transaction lo splits */
	uint64		hi_split;
	uint32		lo_split_block;
	uint32		hi_split_block;
	uint32		nxip;
	uint32		nb;
	uint64		xids[FLEXIBLE_ARRAY_MEMBER];
} PredPacked;

static Datum
pred_tid(int64 block)
{
	ItemPointer tid = palloc(sizeof(ItemPointerData));

	if (block < 0 || block >= (int64) MaxBlockNumber)
		ItemPointerSet(tid, MaxBlockNumber, 0);
	else
		ItemPointerSet(tid, (BlockNumber) block, 0);
	return PointerGetDatum(tid);
}

static int
pred_cmp_tid(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/*
 * Narrow the batch predicate to the given rows (sorted by tid), or with
 * exclude to all but them, or widen it again (NULL).  Only the predicate
 * that knows the row's tid (a catalog of 0.3 on) narrows; the caller
 * clears it on every path.
 */
void
pgs_batch_filter(const ItemPointerData *tids, int ntids, bool exclude)
{
	pred_filter = tids;
	pred_filter_n = ntids;
	pred_filter_exclude = exclude;
}

/* sort tids as pgs_batch_filter wants them */
void
pgs_sort_tids(ItemPointerData *tids, int ntids)
{
	qsort(tids, ntids, sizeof(ItemPointerData), pred_cmp_tid);
}

/*
 * While sql is set, a statement analyzed with the stream substituted reads
 * sql instead of the batch's rows (one column per attribute, as
 * pgs_stream_subquery_sql gives them); NULL ends it.
 */
void
pgs_stream_override(const char *sql)
{
	pred_override = sql;
}

/*
 * While on, a statement analyzed with the stream substituted reads only the
 * first of the batch's two ranges of blocks ($7 to $10): one TID range
 * scan, not an Append of two subquery scans, which costs every row of the
 * batch a node and a projection more.  Only for a batch whose second range
 * is empty (pgs_batch_one_range); the caller clears it on every path.
 */
void
pgs_stream_one_range(bool on)
{
	pred_one_range = on;
}

/*
 * Does the batch of these parameters have no row in its second range of
 * blocks ($11 to $12 empty): may a statement of pgs_stream_one_range read
 * it?
 */
bool
pgs_batch_one_range(const PgsBatchParams *params)
{
	return params->nulls[10] != 'n' && params->nulls[11] != 'n' &&
		ItemPointerCompare((ItemPointer) DatumGetPointer(params->values[10]),
						   (ItemPointer) DatumGetPointer(params->values[11])) >= 0;
}

/*
 * Fill the parameters of the batch predicate for the batch (lo, hi]: rows
 * in one or two ranges of blocks (an end of -1: to the end of the table).
 */
void
pgs_batch_params(const PgsBoundary *lo, const PgsBoundary *hi_boundary,
				 const PgsBlockRange *ranges, int nranges,
				 PgsBatchParams *params)
{
	PgsXidSnapshot hi;
	PgsXidSnapshot los;
	Datum	   *elems;
	int			nelems = 0;
	bool		lo_split = !lo->is_start &&
		FullTransactionIdIsValid(lo->split_xid);
	bool		hi_split = FullTransactionIdIsValid(hi_boundary->split_xid);
	int			i;

	pgs_snapshot_parse(hi_boundary->snapshot, &hi);
	if (lo->is_start)
	{
		los.xmin = los.xmax = 0;
		los.nxip = 0;
		los.xip = NULL;
	}
	else
		pgs_snapshot_parse(lo->snapshot, &los);

	elems = palloc(sizeof(Datum) * (los.nxip + 1));
	for (i = 0; i < los.nxip; i++)
	{
		uint64		x = los.xip[i];

		if (pgs_snapshot_running(&hi, x))
			continue;
		elems[nelems++] = FullTransactionIdGetDatum(FullTransactionIdFromU64(x));
	}

	params->values[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(los.xmax));
	params->values[1] = FullTransactionIdGetDatum(FullTransactionIdFromU64(hi.xmax));
	params->values[2] = hi_boundary->snapshot;
	params->values[3] = FullTransactionIdGetDatum(lo_split ? lo->split_xid :
												  InvalidFullTransactionId);
	params->values[4] = FullTransactionIdGetDatum(hi_split ? hi_boundary->split_xid :
												  InvalidFullTransactionId);
	params->values[5] = PointerGetDatum(construct_array(elems, nelems, XID8OID,
														sizeof(FullTransactionId),
														FLOAT8PASSBYVAL,
														TYPALIGN_DOUBLE));
	Assert(nranges >= 1 && nranges <= 2);
	params->values[6] = pred_tid(Max(ranges[0].first, 0));
	params->values[7] = Int64GetDatum(lo_split ? lo->split_block : 0);
	params->values[8] = Int64GetDatum(hi_split ? hi_boundary->split_block : 0);
	params->values[9] = pred_tid(ranges[0].end);
	params->values[10] = pred_tid(nranges > 1 ? ranges[1].first : 0);
	params->values[11] = pred_tid(nranges > 1 ? ranges[1].end : 0);
	{
		Size		len = offsetof(PredPacked, xids) +
			sizeof(uint64) * (hi.nxip + nelems);
		bytea	   *b = palloc0(VARHDRSZ + len);
		PredPacked *pk = (PredPacked *) VARDATA(b);

		SET_VARSIZE(b, VARHDRSZ + len);
		pk->lo_xmax = los.xmax;
		pk->hi_xmax = hi.xmax;
		pk->hi_xmin = hi.xmin;
		pk->lo_split = lo_split ? U64FromFullTransactionId(lo->split_xid) : 0;
		pk->hi_split = hi_split ? U64FromFullTransactionId(hi_boundary->split_xid) : 0;
		/* as the predicate that takes them one by one reads $8 and $9 */
		pk->lo_split_block = (BlockNumber) Min(lo_split ? lo->split_block : 0,
											   MaxBlockNumber);
		pk->hi_split_block = (BlockNumber) Min(hi_split ? hi_boundary->split_block : 0,
											   MaxBlockNumber);
		pk->nxip = hi.nxip;
		pk->nb = nelems;
		for (i = 0; i < hi.nxip; i++)
			pk->xids[i] = hi.xip[i];
		for (i = 0; i < nelems; i++)
			pk->xids[hi.nxip + i] = U64FromFullTransactionId(DatumGetFullTransactionId(elems[i]));
		params->values[12] = PointerGetDatum(b);
	}
	memset(params->nulls, ' ', sizeof(params->nulls));
}

static const char *
pred_stream_name(Oid stream_relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(stream_relid)),
									  get_rel_name(stream_relid));
}

/*
 * WHERE clause of one branch of the batch's rows: the blocks of one range,
 * and the batch predicate, with the rows of a split transaction on the
 * batch's side of each boundary.  From catalog 0.10 on, the member
 * function takes the boundaries packed in one parameter; before, one by
 * one, and a catalog not yet updated to splitting boundaries has the
 * member function without them.
 */
static void
pred_append_branch(StringInfo buf, const char *select_list, Oid stream_relid,
				   int from_param, int to_param, int base)
{
	appendStringInfo(buf, "SELECT %s FROM ONLY %s AS s"
					 " WHERE s.ctid OPERATOR(pg_catalog.>=) $%d"
					 " AND s.ctid OPERATOR(pg_catalog.<) $%d",
					 select_list, pred_stream_name(stream_relid),
					 base + from_param, base + to_param);
	if (pgs_catalog_packs_boundaries())
		appendStringInfo(buf, " AND stream._batch_member(s." PGS_XID_COLUMN
						 ", s.ctid, $%d)", base + 13);
	else if (pgs_catalog_splits())
		appendStringInfo(buf, " AND stream._batch_member(s." PGS_XID_COLUMN
						 ", s.ctid, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
						 base + 1, base + 2, base + 3, base + 6, base + 4,
						 base + 8, base + 5, base + 9);
	else
		appendStringInfo(buf, " AND stream._batch_member(s." PGS_XID_COLUMN
						 ", $%d, $%d, $%d, $%d)",
						 base + 1, base + 2, base + 3, base + 6);
}

/*
 * The batch's rows with the given select list: the rows of two ranges of
 * blocks ($7 to $10 and $11 to $12, each a TID range scan), which are those
 * of part (a) or (b) of the batch (see offsets.c).  "base" shifts every
 * parameter number: a statement over two streams has a block of
 * PGS_BATCH_NPARAMS parameters per stream.
 */
static void
pred_append_rows(StringInfo buf, const char *select_list, Oid stream_relid,
				 int base)
{
	pred_append_branch(buf, select_list, stream_relid, 7, 10, base);
	appendStringInfoString(buf, " UNION ALL ");
	pred_append_branch(buf, select_list, stream_relid, 11, 12, base);
}

/*
 * The rows of one stream's part of a batch over two streams, whose
 * parameters start after "base": the select list as given.
 */
char *
pgs_batch_rows_sql_at(Oid stream_relid, const char *select_list, int base)
{
	StringInfoData buf;

	initStringInfo(&buf);
	pred_append_rows(&buf, select_list, stream_relid, base);
	return buf.data;
}

/*
 * A count of one committed transaction's rows in a range of blocks: $1 the
 * transaction, $2 and $3 the first tid in and the first tid past the range.
 */
char *
pgs_split_count_sql(Oid stream_relid)
{
	return psprintf("SELECT pg_catalog.count(*), pg_catalog.min(s.ctid),"
					" pg_catalog.max(s.ctid) FROM ONLY %s AS s"
					" WHERE s.ctid OPERATOR(pg_catalog.>=) $2"
					" AND s.ctid OPERATOR(pg_catalog.<) $3"
					" AND s." PGS_XID_COLUMN " OPERATOR(pg_catalog.=) $1",
					pred_stream_name(stream_relid));
}

/*
 * A SELECT of the batch's rows with the given select list, for the planning
 * step (existence and per-transaction counts).
 */
char *
pgs_batch_select_sql(Oid stream_relid, const char *select_list,
					 const char *tail)
{
	return pgs_batch_select_cols_sql(stream_relid, "s.ctid, s." PGS_XID_COLUMN,
									 select_list, tail);
}

/* the same, the rows giving the columns "inner_cols" of the stream (as s.col) */
char *
pgs_batch_select_cols_sql(Oid stream_relid, const char *inner_cols,
						  const char *select_list, const char *tail)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s FROM (", select_list);
	pred_append_rows(&buf, inner_cols, stream_relid, 0);
	appendStringInfoString(&buf, ") AS s");
	if (tail)
		appendStringInfo(&buf, " %s", tail);
	return buf.data;
}


/*
 * The stream's columns in their order, each as alias.column, a dropped one
 * as a NULL that holds its place.
 */
static void
pred_append_columns(StringInfo buf, Oid stream_relid, const char *alias)
{
	Relation	rel = relation_open(stream_relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (i > 0)
			appendStringInfoString(buf, ", ");
		if (att->attisdropped)
			appendStringInfoString(buf, "NULL::pg_catalog.int4");
		else
			appendStringInfo(buf, "%s.%s", alias, quote_identifier(NameStr(att->attname)));
	}
	relation_close(rel, NoLock);
}
/*
 * The subquery that stands for the stream table: one output column per
 * attribute number, so that the outer query's Vars keep their meaning.
 * The batch predicate also counts the batch's rows.  With
 * pgs_stream_one_range, the rows of the first range of blocks alone.
 */
char *
pgs_stream_subquery_sql(Oid stream_relid)
{
	StringInfoData buf;

	if (pred_override != NULL)
		return pstrdup(pred_override);
	initStringInfo(&buf);
	pred_append_columns(&buf, stream_relid, "s");
	{
		char	   *select_list = buf.data;

		initStringInfo(&buf);
		if (pred_one_range)
			pred_append_branch(&buf, select_list, stream_relid, 7, 10, 0);
		else
			pred_append_rows(&buf, select_list, stream_relid, 0);
	}
	return buf.data;
}

/*
 * One row of the stream from its jsonb form (as to_jsonb gave it), in the
 * shape of pgs_stream_subquery_sql: "expr" is the jsonb.
 */
char *
pgs_stream_row_from_jsonb_sql(Oid stream_relid, const char *expr)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	pred_append_columns(&buf, stream_relid, "r");
	appendStringInfo(&buf, " FROM pg_catalog.jsonb_populate_record(NULL::%s, %s) AS r",
					 pred_stream_name(stream_relid), expr);
	return buf.data;
}

/* the batch predicate's view of one batch, parsed once per execution */
typedef struct MemberState
{
	uint64		lo_xmax;
	uint64		hi_xmax;
	PgsXidSnapshot hi;
	int			nb;
	uint64	   *b;
	uint64		lo_split;		/* 0, or the transaction lo splits */
	BlockNumber lo_split_block;
	uint64		hi_split;
	BlockNumber hi_split_block;
	/* the verdict on the latest transaction seen, not a split one */
	bool		have_last;
	uint64		last_xid;
	bool		last_member;
} MemberState;

static MemberState *
member_state(FunctionCallInfo fcinfo, int argoff)
{
	MemberState *st = (MemberState *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	ArrayType  *arr;
	Datum	   *elems;
	int			i;

	if (st != NULL)
		return st;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	arr = PG_GETARG_ARRAYTYPE_P(argoff + 3);
	st = palloc0(sizeof(MemberState));
	st->lo_xmax = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(argoff));
	st->hi_xmax = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(argoff + 1));
	pgs_snapshot_parse(PG_GETARG_DATUM(argoff + 2), &st->hi);
	deconstruct_array(arr, XID8OID, sizeof(FullTransactionId),
					  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, NULL, &st->nb);
	st->b = palloc(sizeof(uint64) * (st->nb + 1));
	for (i = 0; i < st->nb; i++)
		st->b[i] = U64FromFullTransactionId(DatumGetFullTransactionId(elems[i]));
	qsort(st->b, st->nb, sizeof(uint64), pgs_cmp_u64);
	fcinfo->flinfo->fn_extra = st;
	MemoryContextSwitchTo(old);
	return st;
}

/* is transaction x visible in hi and not in lo? */
static bool
member_of(const MemberState *st, uint64 x)
{
	if (x >= st->lo_xmax)
		return x < st->hi_xmax && !pgs_snapshot_running(&st->hi, x);
	return st->nb > 0 &&
		bsearch(&x, st->b, st->nb, sizeof(uint64), pgs_cmp_u64) != NULL;
}

/*
 * stream._batch_member(xid, xmax(lo), xmax(hi), hi, part (b) xids), as a
 * catalog not yet updated calls it: is a row written by transaction xid part
 * of the batch?  Counts the rows it accepts.
 */
Datum
stream_batch_member(PG_FUNCTION_ARGS)
{
	uint64		x = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(0));
	MemberState *st = member_state(fcinfo, 1);
	bool		member = member_of(st, x);

	if (member)
		pgs_batch_input_rows++;
	PG_RETURN_BOOL(member);
}

/*
 * Is the row at tid, written by transaction x, part of the batch?  A split
 * transaction is listed as running in the snapshot that splits it; its
 * rows before the split block are on the earlier side.  Rows of one
 * transaction come together, so the verdict on the latest other one is
 * kept.  Counts the rows it accepts, and keeps the latest.
 */
static pg_noinline bool
member_row_decide(MemberState *st, uint64 x, ItemPointer tid)
{
	BlockNumber blk = ItemPointerGetBlockNumber(tid);
	bool		member;

	if (st->hi_split != 0 && x == st->hi_split)
		member = blk < st->hi_split_block &&
			(x != st->lo_split || blk >= st->lo_split_block);
	else if (st->lo_split != 0 && x == st->lo_split)
		member = member_of(st, x) && blk >= st->lo_split_block;
	else
	{
		if (!st->have_last || x != st->last_xid)
		{
			st->last_member = member_of(st, x);
			st->last_xid = x;
			st->have_last = true;
		}
		member = st->last_member;
	}
	if (member && pred_filter != NULL)
		member = pred_filter_exclude ==
			(pred_filter_n == 0 ||
			 bsearch(tid, pred_filter, pred_filter_n,
					 sizeof(ItemPointerData), pred_cmp_tid) == NULL);
	if (member)
	{
		pgs_batch_input_rows++;
		ItemPointerCopy(tid, &pgs_batch_last_row);
	}
	return member;
}

/*
 * member_row_decide's verdict, on the path of almost every row inline: a
 * row of the same transaction as the row before (never a split one), the
 * batch not narrowed.  The rest is out of line, so that this path, run for
 * every row of the batch, saves no registers.
 */
static inline bool
member_row(MemberState *st, uint64 x, ItemPointer tid)
{
	if (likely(st->have_last && x == st->last_xid && pred_filter == NULL))
	{
		if (!st->last_member)
			return false;
		pgs_batch_input_rows++;
		ItemPointerCopy(tid, &pgs_batch_last_row);
		return true;
	}
	return member_row_decide(st, x, tid);
}

/*
 * stream._batch_member(xid, tid, xmax(lo), xmax(hi), hi, part (b) xids,
 * lo's split xid, its block, hi's split xid, its block): is the row at tid,
 * written by transaction xid, part of the batch?  A split transaction is
 * listed as running in the snapshot that splits it; its rows before the
 * split block are on the earlier side.  It is the cheapest qual of the
 * batch's subquery, so it runs before any of the query's own conditions
 * and the count of rows it accepts is the batch's input rows.
 */
Datum
stream_batch_member_split(PG_FUNCTION_ARGS)
{
	MemberState *st = (MemberState *) fcinfo->flinfo->fn_extra;

	if (st == NULL)
	{
		st = member_state(fcinfo, 2);
		st->lo_split = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(6));
		st->lo_split_block = (BlockNumber) Min(PG_GETARG_INT64(7), MaxBlockNumber);
		st->hi_split = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(8));
		st->hi_split_block = (BlockNumber) Min(PG_GETARG_INT64(9), MaxBlockNumber);
	}
	PG_RETURN_BOOL(member_row(st, U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(0)),
							  (ItemPointer) PG_GETARG_POINTER(1)));
}

/*
 * The batch's boundaries from their packed form (pgs_batch_params), checked
 * against its length: anybody may call the function with any bytea.
 */
static pg_noinline MemberState *
member_unpack(FunctionCallInfo fcinfo)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(2);
	Size		len = VARSIZE_ANY_EXHDR(b);
	PredPacked	head;
	MemberState *st;
	MemoryContext old;

	if (len < offsetof(PredPacked, xids))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid batch boundaries"),
				 errdetail_plural("The boundaries are %zu byte long, shorter than their header.",
								  "The boundaries are %zu bytes long, shorter than their header.",
								  len, len)));
	memcpy(&head, VARDATA_ANY(b), offsetof(PredPacked, xids));
	if (head.nxip > MaxAllocSize / sizeof(uint64) ||
		head.nb > MaxAllocSize / sizeof(uint64) ||
		len != offsetof(PredPacked, xids) + sizeof(uint64) * ((Size) head.nxip + head.nb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid batch boundaries"),
				 errdetail("The boundaries are %zu bytes long for %u and %u transactions.",
						   len, head.nxip, head.nb)));

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	st = palloc0(sizeof(MemberState));
	st->lo_xmax = head.lo_xmax;
	st->hi_xmax = head.hi_xmax;
	st->hi.xmin = head.hi_xmin;
	st->hi.xmax = head.hi_xmax;
	st->hi.nxip = (int) head.nxip;
	st->hi.xip = palloc(sizeof(uint64) * (head.nxip + 1));
	memcpy(st->hi.xip, VARDATA_ANY(b) + offsetof(PredPacked, xids),
		   sizeof(uint64) * head.nxip);
	st->nb = (int) head.nb;
	st->b = palloc(sizeof(uint64) * (head.nb + 1));
	memcpy(st->b, VARDATA_ANY(b) + offsetof(PredPacked, xids) + sizeof(uint64) * head.nxip,
		   sizeof(uint64) * head.nb);
	qsort(st->b, st->nb, sizeof(uint64), pgs_cmp_u64);
	st->lo_split = head.lo_split;
	st->lo_split_block = head.lo_split_block;
	st->hi_split = head.hi_split;
	st->hi_split_block = head.hi_split_block;
	fcinfo->flinfo->fn_extra = st;
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * stream._batch_member(xid, tid, boundaries): stream_batch_member_split's
 * decision, with the boundaries packed in one parameter that is decoded on
 * the first row (catalog 0.10 on).
 */
Datum
stream_batch_member_packed(PG_FUNCTION_ARGS)
{
	MemberState *st = (MemberState *) fcinfo->flinfo->fn_extra;

	if (unlikely(st == NULL))
		st = member_unpack(fcinfo);
	PG_RETURN_BOOL(member_row(st, U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(0)),
							  (ItemPointer) PG_GETARG_POINTER(1)));
}
