/*-------------------------------------------------------------------------
 *
 * pgs_distributed_api.h
 *	  Streaming queries over streams distributed with Citus, on the
 *	  coordinator (distributed.c): start_query's distributed path and the
 *	  management of a distributed query by name.
 *
 * For api/ only.  Citus is reached through SQL alone, after checking that
 * the extension citus is installed in the database.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_DISTRIBUTED_API_H
#define PGS_DISTRIBUTED_API_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "api/pgs_queries.h"

/* what start_query was given and found, as the distributed path needs it */
typedef struct PgsDistStart
{
	const char *name;
	const char *query_text;
	const char *target;
	const char *output_mode;
	const char *trigger;
	int32		max_rows;		/* 0 for no cap */
	const char *starting_from;
	const char *event_time;		/* NULL without */
	int64		watermark_usecs;
	List	   *dedup;			/* char * */
	bool		key_given;
	List	   *key;			/* char *, as given */
	const char *on_error;
	bool		foreach_batch;
	bool		target_is_stream;
	int			nsides;			/* 2 for a join between streams */
	const PgsDefinition *def;
	/* found by pgs_dist_check_shape */
	char	   *distribution_column;	/* the stream's */
	char	   *output_column;	/* the output column that is it */
	const char *placement;		/* per_shard, or merge (merge.c starts it) */
} PgsDistStart;

/* is the relation a Citus table (of any kind)?  false without Citus */
extern bool pgs_dist_is_citus_table(Oid relid);

/* refuse what cannot run per shard; nothing is created yet */
extern void pgs_dist_check_shape(PgsDistStart *ds);

/* an upsert key must hold the output column that is the distribution column */
extern void pgs_dist_check_key(const PgsDistStart *ds, List *key);

/*
 * With the target created or checked by start_query's own code: distribute
 * it (or check it), and record the query and its shards.  Returns minus
 * the number of shard queries.
 */
extern int64 pgs_dist_start(PgsDistStart *ds, Oid target_relid, bool created,
							List *key);

/*
 * stop, resume, drop: true when name is a distributed query (its desired
 * status then set to status, *changed saying whether it changed)
 */
extern bool pgs_dist_manage(const char *name, const char *status, bool *changed);

/* what alter_query was given for a distributed query (NULL: unchanged) */
typedef struct PgsDistAlter
{
	const char *name;
	const char *query_text;
	const char *search_path;	/* the caller's, with which the text is read */
	const char *trigger;
	bool		max_rows_given;
	int32		max_rows;		/* 0 for no cap */
	const char *watermark;		/* the delay as interval_out writes it */
	bool		other_given;	/* watermarks or events, not for these */
} PgsDistAlter;

/*
 * alter_query of a name that is no local query: true when it is a
 * distributed query, its new definition then checked and recorded for the
 * nodes in the caller's transaction
 */
extern bool pgs_dist_alter(const PgsDistAlter *a);

/*
 * merge.c: the merge placement, started for start_query once
 * pgs_dist_check_shape found it; returns minus the number of shard queries
 */
extern int64 pgs_merge_start(const PgsDistStart *ds);

/* merge.c: after the shards' batches, a merged query's merge (else nothing) */
extern void pgs_merge_process(const char *name);

#endif							/* PGS_DISTRIBUTED_API_H */
