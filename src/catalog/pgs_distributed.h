/*-------------------------------------------------------------------------
 *
 * pgs_distributed.h
 *	  Distributed queries as the coordinator keeps them:
 *	  stream.distributed_queries and stream.distributed_query_shards.
 *
 * distributed_catalog.c alone runs statements on these two tables (catalog
 * 0.9 on: callers check the version first).  What the rows ask for is
 * brought about on the nodes by stream._reconcile_distributed (api/).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_DISTRIBUTED_H
#define PGS_DISTRIBUTED_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* one row of stream.distributed_queries */
typedef struct PgsDistQuery
{
	char	   *name;
	Oid			owner;
	char	   *query_text;
	char	   *search_path;
	Oid			stream_relid;
	Oid			target_relid;
	char	   *distribution_column;
	char	   *placement;		/* per_shard or merge */
	char	   *options;		/* jsonb as text */
	char	   *desired_status; /* active, stopped or dropped */
} PgsDistQuery;

/* one row of stream.distributed_query_shards, with its query's row */
typedef struct PgsDistShard
{
	int64		shardid;
	int64		target_shardid; /* 0 without */
	char	   *shard_query;
	char	   *applied_status; /* NULL until started */
	PgsDistQuery query;			/* filled by pgs_dist_shards_to_reconcile */
	char	   *altered_at;		/* the query's, as text, NULL if never altered */
	bool		alter_pending;	/* started, not yet brought to altered_at */
} PgsDistShard;

/* a name taken by a distributed query (false before catalog 0.9) */
extern bool pgs_dist_name_taken(const char *name);

/* record a query and its shards (PgsDistShard *), refusing a name taken */
extern void pgs_dist_query_insert(const PgsDistQuery *q, List *shards);

/* read (and lock) a query that is not dropped; false when there is none */
extern bool pgs_dist_query_read(const char *name, PgsDistQuery *q);
extern void pgs_dist_query_set_desired(const char *name, const char *status);

/*
 * alter_query: the new text (NULL: unchanged), search_path and options
 * (jsonb text) of a query; its shards are then brought to them
 */
extern void pgs_dist_query_alter(const char *name, const char *query_text,
								 const char *search_path, const char *options);

/* is some shard row not as its query wants?  (cheap, for the scheduler) */
extern bool pgs_dist_pending(void);

/* the shard rows not as desired, of one query or all, locked */
extern List *pgs_dist_shards_to_reconcile(const char *name);
extern void pgs_dist_shard_applied(const char *name, int64 shardid,
								   const char *status);
extern void pgs_dist_shard_altered(const char *name, int64 shardid,
								   const char *altered_at);
extern void pgs_dist_shard_failed(const char *name, int64 shardid,
								  const char *error);

/* delete the dropped queries whose every shard is dropped */
extern void pgs_dist_forget_dropped(const char *name);

/* the shard rows still not as desired, of one query or all */
extern int	pgs_dist_count_pending(const char *name);

#endif							/* PGS_DISTRIBUTED_H */
