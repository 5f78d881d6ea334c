/*-------------------------------------------------------------------------
 *
 * pgs_offsets.h
 *	  Batch boundaries (offsets.c) and the batch predicate (predicate.c).
 *
 * A batch is the set of stream rows whose writing transaction is visible in
 * its end snapshot and not in its start snapshot, the previous batch's end.
 * Each boundary also records a block floor, below which no row of a
 * transaction it does not see can lie, so that the next batch reads only a
 * TID range of the stream.  The boundary's type (PgsBoundary) lives below,
 * in common/pgs_snapshot.h, since the checkpoint stores it and retention
 * reads it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_OFFSETS_H
#define PGS_OFFSETS_H

#include "postgres.h"

#include "access/transam.h"
#include "fmgr.h"
#include "storage/itemptr.h"

#include "common/pgs_snapshot.h"

/* number of parameters of the batch predicate (see predicate.c) */
#define PGS_BATCH_NPARAMS	13

/* the predicate parameters that select one batch's rows */
typedef struct PgsBatchParams
{
	Datum		values[PGS_BATCH_NPARAMS];
	char		nulls[PGS_BATCH_NPARAMS];
} PgsBatchParams;

/* offsets.c */
extern Datum pgs_take_snapshot(bool own_running);
extern int64 pgs_boundary_floor(const PgsBoundary *lo, bool lo_usable,
								 Datum hi_snapshot, int64 tail_block);
struct PgsWriter;
extern int64 pgs_boundary_floor_known(const PgsBoundary *lo, bool lo_usable,
									  Datum hi_snapshot, int64 tail_block,
									  Oid relfilenode, uint64 since,
									  const struct PgsWriter *writers,
									  int nwriters, PgsBoundary *hi);
extern int64 pgs_boundary_scan_from(const PgsBoundary *lo, Datum hi_snapshot);
extern Datum pgs_snapshot_without(Datum snap, FullTransactionId xid);
extern Datum pgs_cut_snapshot(const PgsBoundary *lo, Datum hi_snapshot,
							  FullTransactionId cut,
							  FullTransactionId *excluded, int nexcluded);
extern int	pgs_batch_has_rows(Oid stream_relid, Oid owner,
							   const PgsBatchParams *params);

/* predicate.c */
extern Datum stream_batch_member_packed(PG_FUNCTION_ARGS);
extern Oid	pgs_batch_param_types[PGS_BATCH_NPARAMS];
extern int64 pgs_batch_input_rows;
struct PgsBlockRange;
extern void pgs_batch_params(const PgsBoundary *lo, const PgsBoundary *hi,
							 const struct PgsBlockRange *ranges, int nranges,
							 PgsBatchParams *params);
extern char *pgs_stream_subquery_sql(Oid stream_relid);
extern char *pgs_batch_rows_sql_at(Oid stream_relid, const char *select_list,
								   int base);
extern char *pgs_batch_select_sql(Oid stream_relid, const char *select_list,
								  const char *tail);
extern char *pgs_batch_select_cols_sql(Oid stream_relid, const char *inner_cols,
									   const char *select_list, const char *tail);
extern char *pgs_split_count_sql(Oid stream_relid);
extern ItemPointerData pgs_batch_last_row;
extern void pgs_batch_filter(const ItemPointerData *tids, int ntids, bool exclude);
extern void pgs_sort_tids(ItemPointerData *tids, int ntids);
extern void pgs_stream_override(const char *sql);
extern void pgs_stream_one_range(bool on);
extern bool pgs_batch_one_range(const PgsBatchParams *params);
extern char *pgs_stream_row_from_jsonb_sql(Oid stream_relid, const char *expr);

#endif							/* PGS_OFFSETS_H */
