/*-------------------------------------------------------------------------
 *
 * pgs_shard_moves.h
 *	  Citus's shard moves refused while a distributed query holds the
 *	  shards (shard_moves.c): the parts of the function manager's hooks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_SHARD_MOVES_H
#define PGS_SHARD_MOVES_H

#include "fmgr.h"

extern bool pgs_shard_moves_needs_hook(Oid fn_oid);
extern void pgs_shard_moves_fmgr_event(FmgrHookEventType event,
									   FmgrInfo *flinfo);

#endif							/* PGS_SHARD_MOVES_H */
