/*-------------------------------------------------------------------------
 *
 * pgs_shard_move_catalog.h
 *	  Which distributed query forbids moving a set of Citus shards
 *	  (shard_move_catalog.c), for storage/shard_moves.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_SHARD_MOVE_CATALOG_H
#define PGS_SHARD_MOVE_CATALOG_H

#include "postgres.h"

#include "utils/array.h"

/* a shard that may not move, and the distributed query that holds it */
typedef struct PgsShardMoveConflict
{
	char	   *query;			/* the distributed query's name */
	Oid			stream_relid;	/* the stream it reads */
	int64		shardid;		/* the shard the operation would move */
	Oid			shard_relid;	/* that shard's distributed table */
} PgsShardMoveConflict;

extern bool pgs_catalog_has_distributed_queries(void);
extern bool pgs_catalog_shard_move_conflict(ArrayType *shardids,
											PgsShardMoveConflict *conflict);

#endif							/* PGS_SHARD_MOVE_CATALOG_H */
