/*-------------------------------------------------------------------------
 *
 * pgs_merge_catalog.h
 *	  The coordinator's catalog of merged distributed aggregations
 *	  (stream.distributed_merges and stream.distributed_merge_shards): the
 *	  definition a merge runs and each shard's mark, advanced in the merge's
 *	  own transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_MERGE_CATALOG_H
#define PGS_MERGE_CATALOG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* what a merge of one distributed aggregation runs with */
typedef struct PgsMergeDef
{
	char	   *name;
	int64		merge_id;
	Oid			owner;
	char	   *query_text;
	char	   *search_path;
	Oid			stream_relid;
	Oid			target_relid;
	char	   *output_mode;	/* the coordinator's target's */
	List	   *target_columns; /* char * */
	char	   *event_time;		/* or NULL */
	int64		watermark_usecs;	/* -1 without */
	Oid			state_relid;
	Oid			exchange_relid;
	int64		merges;
	bool		watermark_null;
	TimestampTz watermark;
} PgsMergeDef;

/* how far the merges read a shard's batches in the exchange */
typedef struct PgsMergeMark
{
	char	   *shard_query;
	int64		batch_id;		/* the latest batch merged */
	bool		time_null;		/* no event time among its merged rows */
	TimestampTz max_time;		/* else the latest */
	bool		started;		/* its shard's query was started on its node */
} PgsMergeMark;

extern void pgs_merge_insert(const PgsMergeDef *m, List *shard_queries);
extern List *pgs_merge_names(const char *name, MemoryContext cxt);
extern bool pgs_merge_read(const char *name, PgsMergeDef *m, MemoryContext cxt);
extern List *pgs_merge_marks(const char *name, MemoryContext cxt);
extern void pgs_merge_record(const char *name, List *marks, bool watermark_null,
							 TimestampTz watermark);

extern void pgs_merge_forget_dropped(const char *name);

#endif							/* PGS_MERGE_CATALOG_H */
