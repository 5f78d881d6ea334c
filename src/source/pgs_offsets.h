/*-------------------------------------------------------------------------
 *
 * pgs_offsets.h
 *	  Batch boundaries (offsets.c) and the batch predicate (predicate.c).
 *
 * A batch is the set of stream rows whose writing transaction is visible in
 * its end snapshot and not in its start snapshot, the previous batch's end.
 * Each boundary also records a block floor, below which no row of a
 * transaction it does not see can lie, so that the next batch reads only a
 * TID range of the stream.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_OFFSETS_H
#define PGS_OFFSETS_H

#include "postgres.h"

#include "access/transam.h"

/* number of parameters of the batch predicate (see predicate.c) */
#define PGS_BATCH_NPARAMS	12

/* a block number meaning "to the end of the table" */
#define PGS_NO_BLOCK		((int64) -1)

/*
 * One batch boundary as kept in stream.checkpoint_offsets.  "snapshot" is a
 * pg_snapshot datum (NULL for the start of the stream); from_block is the
 * lowest heap block that can hold a row of a transaction that is not yet
 * visible in this snapshot (valid while the stream keeps its relfilenode).
 *
 * A boundary can also lie inside one committed transaction whose rows are
 * more than a batch may hold (the rows a table had when it became a
 * stream, a large COPY): split_xid is then listed as running in the
 * snapshot, its rows in blocks before split_block are on this side of the
 * boundary and the rest, up to split_stop, on the other.  rest_floor is the
 * floor of every other transaction the snapshot does not see.
 */
typedef struct PgsBoundary
{
	bool		is_start;		/* the beginning of the stream */
	Datum		snapshot;		/* pg_snapshot, when !is_start */
	FullTransactionId xmax;
	int64		from_block;		/* floor position, see pgs_boundary_floor */
	int64		tail_block;		/* the position current before the snapshot */
	Oid			relfilenode;
	FullTransactionId split_xid;	/* invalid: the boundary splits nothing */
	int64		split_block;
	int64		split_stop;		/* past the last block of split_xid's rows */
	int64		rest_floor;

	/*
	 * Writers of the stream running at the boundary, each with the position
	 * its rows start at; from_block leaves them out, so that batches read
	 * their blocks only once they have committed.
	 */
	int			nwriters;
	uint64	   *writer_xids;
	int64	   *writer_firsts;
} PgsBoundary;

/* a snapshot taken apart: full xids, xip ascending */
typedef struct PgsXidSnapshot
{
	uint64		xmin;
	uint64		xmax;
	int			nxip;
	uint64	   *xip;
} PgsXidSnapshot;

/* the predicate parameters that select one batch's rows */
typedef struct PgsBatchParams
{
	Datum		values[PGS_BATCH_NPARAMS];
	char		nulls[PGS_BATCH_NPARAMS];
} PgsBatchParams;

/* offsets.c */
extern int	pgs_cmp_u64(const void *a, const void *b);
extern void pgs_snapshot_parse(Datum snap, PgsXidSnapshot *s);
extern bool pgs_snapshot_running(const PgsXidSnapshot *s, uint64 xid);
extern Datum pgs_take_snapshot(bool own_running);
extern FullTransactionId pgs_snapshot_xmax(Datum snap);
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

/* predicate.c */
extern Oid	pgs_batch_param_types[PGS_BATCH_NPARAMS];
extern int64 pgs_batch_input_rows;
struct PgsBlockRange;
extern void pgs_batch_params(const PgsBoundary *lo, const PgsBoundary *hi,
							 const struct PgsBlockRange *ranges, int nranges,
							 PgsBatchParams *params);
extern char *pgs_stream_subquery_sql(Oid stream_relid);
extern char *pgs_batch_select_sql(Oid stream_relid, const char *select_list,
								  const char *tail);
extern char *pgs_batch_select_cols_sql(Oid stream_relid, const char *inner_cols,
									   const char *select_list, const char *tail);
extern char *pgs_split_count_sql(Oid stream_relid);

#endif							/* PGS_OFFSETS_H */
