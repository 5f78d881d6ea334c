/*-------------------------------------------------------------------------
 *
 * pgs_shards.h
 *	  Streams whose table is a shard of a Citus table (shards.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_SHARDS_H
#define PGS_SHARDS_H

#include "postgres.h"

extern bool pgs_citus_present(void);
extern bool pgs_citus_is_shard(Oid relid);
extern bool pgs_citus_is_table(Oid relid);
extern void pgs_register_stream_shard(Oid relid);
extern int	pgs_shard_writes_begin(Oid target_relid);
extern void pgs_shard_writes_end(int nest_level);

#endif							/* PGS_SHARDS_H */
