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
#include "utils/rel.h"
#include "utils/xid8.h"

#include "pg_streaming.h"
#include "source/pgs_offsets.h"

PG_FUNCTION_INFO_V1(stream_batch_member);

/* rows of the current batch seen by the batch predicate */
int64		pgs_batch_input_rows = 0;

Oid			pgs_batch_param_types[PGS_BATCH_NPARAMS] = {
	XID8OID,					/* $1 xmax(lo) */
	XID8OID,					/* $2 xmax(hi) */
	PG_SNAPSHOTOID,				/* $3 hi */
	XID8OID,					/* $4 (unused) */
	XID8OID,					/* $5 (unused) */
	XID8ARRAYOID,				/* $6 the xids of part (b) */
	TIDOID						/* $7 the first tid that can hold a row */
};

/*
 * Fill the seven parameters of the batch predicate for the batch (lo, hi].
 */
void
pgs_batch_params(const PgsBoundary *lo, Datum hi_snapshot,
				 int64 scan_from_block, PgsBatchParams *params)
{
	PgsXidSnapshot hi;
	PgsXidSnapshot los;
	Datum	   *elems;
	int			nelems = 0;
	uint64		bmin = 1,
				bmax = 0;
	ItemPointer tid;
	int			i;

	pgs_snapshot_parse(hi_snapshot, &hi);
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
		if (nelems == 1 || x < bmin)
			bmin = x;
		if (nelems == 1 || x > bmax)
			bmax = x;
	}

	tid = palloc(sizeof(ItemPointerData));
	ItemPointerSet(tid, (BlockNumber) Max(scan_from_block, 0), 0);

	params->values[0] = FullTransactionIdGetDatum(FullTransactionIdFromU64(los.xmax));
	params->values[1] = FullTransactionIdGetDatum(FullTransactionIdFromU64(hi.xmax));
	params->values[2] = hi_snapshot;
	params->values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(bmin));
	params->values[4] = FullTransactionIdGetDatum(FullTransactionIdFromU64(bmax));
	params->values[5] = PointerGetDatum(construct_array(elems, nelems, XID8OID,
														sizeof(FullTransactionId),
														FLOAT8PASSBYVAL,
														TYPALIGN_DOUBLE));
	params->values[6] = PointerGetDatum(tid);
	memset(params->nulls, ' ', sizeof(params->nulls));
}

/*
 * FROM and WHERE clauses that select one batch's rows of the stream, with
 * the parameters filled by pgs_batch_params().  The rows come from the part
 * of the table at or after $7 (a TID range scan), and are those of part (a)
 * or (b) of the batch (see offsets.c).
 */
static void
pred_append_from_where(StringInfo buf, Oid stream_relid)
{
	appendStringInfo(buf, " FROM ONLY %s.%s AS s"
					 " WHERE s.ctid OPERATOR(pg_catalog.>=) $7"
					 " AND stream._batch_member(s." PGS_XID_COLUMN ", $1, $2, $3, $6)",
					 quote_identifier(get_namespace_name(get_rel_namespace(stream_relid))),
					 quote_identifier(get_rel_name(stream_relid)));
}

/*
 * A SELECT of the batch's rows with the given select list, for the planning
 * step (existence and per-transaction counts).
 */
char *
pgs_batch_select_sql(Oid stream_relid, const char *select_list,
					 const char *tail)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s", select_list);
	pred_append_from_where(&buf, stream_relid);
	if (tail)
		appendStringInfo(&buf, " %s", tail);
	return buf.data;
}

/*
 * The subquery that stands for the stream table: one output column per
 * attribute number, so that the outer query's Vars keep their meaning.
 * The batch predicate also counts the batch's rows.
 */
char *
pgs_stream_subquery_sql(Oid stream_relid)
{
	StringInfoData buf;
	Relation	rel;
	TupleDesc	desc;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	rel = relation_open(stream_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		if (att->attisdropped)
			appendStringInfoString(&buf, "NULL::pg_catalog.int4");
		else
			appendStringInfo(&buf, "s.%s", quote_identifier(NameStr(att->attname)));
	}
	relation_close(rel, NoLock);
	pred_append_from_where(&buf, stream_relid);
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
} MemberState;

/*
 * stream._batch_member(xid, xmax(lo), xmax(hi), hi, part (b) xids): is a row
 * written by transaction xid part of the batch?  Counts the rows it accepts.
 * It is the cheapest qual of the batch's subquery, so it runs before any of
 * the query's own conditions and the count is the batch's input rows.
 */
Datum
stream_batch_member(PG_FUNCTION_ARGS)
{
	uint64		x = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(0));
	MemberState *st = (MemberState *) fcinfo->flinfo->fn_extra;
	bool		member;

	if (st == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(4);
		Datum	   *elems;
		int			i;

		st = palloc0(sizeof(MemberState));
		st->lo_xmax = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(1));
		st->hi_xmax = U64FromFullTransactionId(PG_GETARG_FULLTRANSACTIONID(2));
		pgs_snapshot_parse(PG_GETARG_DATUM(3), &st->hi);
		deconstruct_array(arr, XID8OID, sizeof(FullTransactionId),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, NULL, &st->nb);
		st->b = palloc(sizeof(uint64) * (st->nb + 1));
		for (i = 0; i < st->nb; i++)
			st->b[i] = U64FromFullTransactionId(DatumGetFullTransactionId(elems[i]));
		qsort(st->b, st->nb, sizeof(uint64), pgs_cmp_u64);
		fcinfo->flinfo->fn_extra = st;
		MemoryContextSwitchTo(old);
	}

	if (x >= st->lo_xmax)
		member = x < st->hi_xmax && !pgs_snapshot_running(&st->hi, x);
	else
		member = st->nb > 0 &&
			bsearch(&x, st->b, st->nb, sizeof(uint64), pgs_cmp_u64) != NULL;
	if (member)
		pgs_batch_input_rows++;
	PG_RETURN_BOOL(member);
}
