/*-------------------------------------------------------------------------
 *
 * pg_streaming.h
 *	  Declarations shared by the files of pg_streaming.
 *
 * A streaming query reads one stream table.  Each batch is the set of rows
 * whose writing transactions became visible between two snapshots; the
 * offsets of a batch are those two snapshots, kept in the checkpoint
 * catalog so that a replayed batch reads exactly the same rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_STREAMING_H
#define PG_STREAMING_H

#include "postgres.h"

#include "access/transam.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/snapshot.h"

/* name of the column every stream table gets; never written to targets */
#define PGS_XID_COLUMN		"_stream_xid"

/* number of parameters of the batch predicate (see query_analyze.c) */
#define PGS_BATCH_NPARAMS	7

/* ---- catalog.c: running SQL against the extension's catalog ---- */

typedef struct PgsCatalogAccess
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nest_level;
	bool		spi_connected;
} PgsCatalogAccess;

extern void pgs_catalog_begin(PgsCatalogAccess *acc);
extern void pgs_catalog_end(PgsCatalogAccess *acc);
extern int	pgs_catalog_exec(const char *sql, int nargs, Oid *argtypes,
							 Datum *values, const char *nulls, bool read_only,
							 long count);
extern void pgs_set_search_path(const char *path);
extern bool pgs_ensure_snapshot(void);
extern bool pgs_is_stream(Oid relid);
extern void pgs_check_query_access(const char *name, Oid owner);

/* ---- offsets.c: snapshots and batch boundaries ---- */

/*
 * One batch boundary as kept in stream.checkpoint_offsets.  "snapshot" is a
 * pg_snapshot datum (NULL for the start of the stream); from_block is the
 * lowest heap block that can hold a row of a transaction that is not yet
 * visible in this snapshot (valid while the stream keeps its relfilenode).
 */
typedef struct PgsBoundary
{
	bool		is_start;		/* the beginning of the stream */
	Datum		snapshot;		/* pg_snapshot, when !is_start */
	FullTransactionId xmax;
	int64		from_block;		/* block floor, see pgs_boundary_floor */
	int64		tail_block;		/* last block before the snapshot was taken */
	Oid			relfilenode;
} PgsBoundary;

/* the predicate parameters that select one batch's rows */
typedef struct PgsBatchParams
{
	Datum		values[PGS_BATCH_NPARAMS];
	char		nulls[PGS_BATCH_NPARAMS];
} PgsBatchParams;

extern Datum pgs_take_snapshot(bool own_running);
extern FullTransactionId pgs_snapshot_xmax(Datum snap);
extern int64 pgs_boundary_floor(const PgsBoundary *lo, bool lo_usable,
								 Datum hi_snapshot, int64 tail_block);
extern void pgs_batch_params(const PgsBoundary *lo, Datum hi_snapshot,
							 int64 scan_from_block, PgsBatchParams *params);
extern Datum pgs_cut_snapshot(const PgsBoundary *lo, Datum hi_snapshot,
							  FullTransactionId cut,
							  FullTransactionId *excluded, int nexcluded);
extern Oid	pgs_batch_param_types[PGS_BATCH_NPARAMS];
extern int64 pgs_batch_input_rows;

/* ---- query_analyze.c: checks at start and the per-batch rewrite ---- */

typedef struct PgsAnalyzedQuery
{
	Oid			stream_relid;
	List	   *column_names;	/* output columns written to the target */
	List	   *column_types;	/* Oid */
	List	   *column_typmods; /* int32 */
	List	   *column_collations;	/* Oid */
} PgsAnalyzedQuery;

extern void pgs_analyze_user_query(const char *query_text,
								   PgsAnalyzedQuery *result);
extern char *pgs_compose_insert(const char *query_text, Oid target_relid,
								List *target_columns);
extern void pgs_rewrite_begin(const char *sql, Oid stream_relid);
extern void pgs_rewrite_end(void);
extern void pgs_install_hooks(void);
extern char *pgs_stream_subquery_sql(Oid stream_relid);
extern char *pgs_batch_select_sql(Oid stream_relid, const char *select_list,
								  const char *tail);

/* ---- batch.c: the one batch code path ---- */

typedef enum PgsBatchResult
{
	PGS_BATCH_NONE,				/* no new rows: nothing was planned */
	PGS_BATCH_DONE,				/* a batch was planned and committed */
	PGS_BATCH_PARTIAL,			/* committed, but capped: more is available */
	PGS_BATCH_INACTIVE			/* the query is not active: nothing ran */
} PgsBatchResult;

/* flags of pgs_run_batch */
#define PGS_BATCH_REQUIRE_ACTIVE	0x01	/* run only an active query */
#define PGS_BATCH_NO_CAP			0x02	/* ignore max_rows_per_batch */

extern PgsBatchResult pgs_run_batch(int64 query_id, bool nonatomic, int flags);
extern int64 pgs_pending_rows(int64 query_id);

#endif							/* PG_STREAMING_H */
