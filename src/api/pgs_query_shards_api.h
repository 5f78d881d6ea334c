/*-------------------------------------------------------------------------
 *
 * pgs_query_shards_api.h
 *	  process_all_available, process_batch and await_termination of a
 *	  distributed query on the coordinator (query_shards.c), for
 *	  management.c.  For api/ only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_QUERY_SHARDS_API_H
#define PGS_QUERY_SHARDS_API_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* false when name is no distributed query here; otherwise it ran */
extern bool pgs_distributed_process(const char *name, bool all);
extern bool pgs_distributed_await(const char *name, TimestampTz deadline,
								  bool *ended);

#endif							/* PGS_QUERY_SHARDS_API_H */
