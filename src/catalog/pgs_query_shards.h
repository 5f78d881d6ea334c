/*-------------------------------------------------------------------------
 *
 * pgs_query_shards.h
 *	  The shards of the coordinator's distributed queries as the current
 *	  role may see them, each with the node that holds it now, and a node's
 *	  own figures for the shard queries it runs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_QUERY_SHARDS_H
#define PGS_QUERY_SHARDS_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* one shard of a distributed query, with its node (NULL: no placement) */
typedef struct PgsQueryShard
{
	char	   *name;			/* the distributed query */
	Oid			owner;
	char	   *desired_status;
	int64		shardid;
	char	   *shard_query;
	char	   *applied_status;	/* NULL: not started */
	char	   *last_error;
	char	   *node_name;
	int			node_port;
} PgsQueryShard;

extern bool pgs_distributed_query_owner(const char *name, Oid *owner);
extern List *pgs_query_shards_read(Oid viewer, const char *name);
extern char *pgs_node_figures(bool progress, Datum names);
extern bool pgs_node_figures_answering(void);

#endif							/* PGS_QUERY_SHARDS_H */
