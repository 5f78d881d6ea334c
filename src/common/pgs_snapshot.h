/*-------------------------------------------------------------------------
 *
 * pgs_snapshot.h
 *	  Batch boundaries as the checkpoint stores them, and pg_snapshot datums
 *	  taken apart (common/snapshot.c).
 *
 * The catalog stores boundaries, the source computes them, retention reads
 * them: the types live here, below all three.  What a boundary means, and
 * how batches are cut from them, is source/pgs_offsets.h's to say.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_SNAPSHOT_H
#define PGS_SNAPSHOT_H

#include "postgres.h"

#include "access/transam.h"

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

/* snapshot.c */
extern int	pgs_cmp_u64(const void *a, const void *b);
extern Datum pgs_snapshot_make(PgsXidSnapshot *s);
extern void pgs_snapshot_parse(Datum snap, PgsXidSnapshot *s);
extern bool pgs_snapshot_running(const PgsXidSnapshot *s, uint64 xid);
extern FullTransactionId pgs_snapshot_xmax(Datum snap);

#endif							/* PGS_SNAPSHOT_H */
