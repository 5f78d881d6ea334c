/*-------------------------------------------------------------------------
 *
 * pgs_placement.h
 *	  Where a stream's new rows go, and positions: places in the order in
 *	  which a stream's blocks are written (placement.c, runs.c).
 *
 * A stream's rows are written in runs of blocks, numbered in the order they
 * are used (stream.stream_runs): appended at the end of the table, or in a
 * range of blocks that retention has emptied (a recycled run).  A position
 * is a run number and a block; a transaction writes its rows at or after
 * the position that was current when it first inserted.  A stream whose
 * rows were never recycled has only run 0, where a position is a block.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_PLACEMENT_H
#define PGS_PLACEMENT_H

#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "nodes/parsenodes.h"
#include "storage/block.h"
#include "utils/relcache.h"

#define PGS_POSITION(run, block)	((((int64) (run)) << 32) | (int64) (block))
#define PGS_POSITION_RUN(pos)		((int64) (pos) >> 32)
#define PGS_POSITION_BLOCK(pos)		((int64) ((pos) & (int64) 0xFFFFFFFF))

/* a range of blocks [first, end); end -1 for "to the end of the table" */
typedef struct PgsBlockRange
{
	int64		first;
	int64		end;
} PgsBlockRange;

/* one row of stream.stream_runs */
typedef struct PgsRun
{
	int64		run;
	int64		first_block;
	int64		end_block;		/* -1 while open */
	bool		recycled;
} PgsRun;

#define PGS_MAX_QUEUED_RUNS	32

/* the current placement of a stream's rows, as writers follow it */
typedef struct PgsPlacementState
{
	Oid			relfilenode;
	bool		recycled;		/* filling a recycled run */
	int64		run;
	int64		first;			/* an append run's first block */
	int64		cursor;			/* a recycled run: where new transactions start */
	int64		end;
	int			nqueued;		/* recycled runs to fill after it, in order */
	PgsRun		queued[PGS_MAX_QUEUED_RUNS];
	int64		fallback_run;	/* the append run that follows them all */
	int64		fallback_first;
} PgsPlacementState;

/* a transaction writing a stream, and the position of its first row */
typedef struct PgsWriter
{
	uint64		xid;
	int64		first;
	Oid			relfilenode;
} PgsWriter;

/* placement.c: shared memory, present with shared_preload_libraries */
extern void pgs_placement_shmem_request(void);
extern void pgs_placement_shmem_startup(void);
extern bool pgs_placement_available(void);
extern bool pgs_placement_read(Oid relid, PgsPlacementState *state);
extern void pgs_placement_set(Oid relid, const PgsPlacementState *state,
							  bool only_forward);
extern void pgs_placement_add_runs(Oid relid, Oid relfilenode,
								   const PgsRun *runs, int nruns,
								   int64 fallback_run, int64 fallback_first);
extern bool pgs_placement_before_insert(Relation rel, Size len,
										bool first_of_xact);
extern Size pgs_placement_room(Relation rel);
extern void pgs_writer_register(Relation rel);
extern void pgs_placement_note_tail(Oid relid, Oid relfilenode, int64 tail);
extern bool pgs_writers_read(Oid relid, uint64 *since, PgsWriter **writers,
							 int *nwriters);
extern void pgs_placement_define_settings(void);
extern void pgs_placement_object_access(ObjectAccessType access, Oid classId,
										Oid objectId, int subId);
extern void pgs_placement_at_xact_end(XactEvent event);

/* stream_am.c: an INSERT's stamp left to the access method */
extern void pgs_stream_insert_placeholder(Relation target, Query *query);
extern int	pgs_max_streams;

/* runs.c: the runs catalog */
extern int	pgs_runs_load(Oid relid, Oid relfilenode, PgsRun **runs);
extern int64 pgs_stream_tail(Oid relid, Oid relfilenode, BlockNumber nblocks);
extern int	pgs_scan_ranges(Oid relid, Oid relfilenode, int64 from_position,
							PgsBlockRange *ranges);

#endif							/* PGS_PLACEMENT_H */
