/*-------------------------------------------------------------------------
 *
 * shard_move_catalog.c
 *	  The distributed queries (stream.distributed_queries, 0.9) that hold
 *	  a set of Citus shards in place.
 *
 * Citus moves, copies and splits the shards of a co-location group
 * together, so a shard is held when any table of its group is the stream
 * or the target of a distributed query that still runs somewhere: one
 * whose desired status is not 'dropped', or a dropped one that some node
 * has not dropped yet (its shard query still reads the shard there).
 * Only the coordinator has these rows; Citus's own tables (pg_dist_*) are
 * read here because the question joins them with ours.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_shard_move_catalog.h"

/*
 * Does this database have a distributed query at all?  A cheap first
 * question before working out what a rebalance would move; false before
 * catalog 0.9 and where pg_streaming is not installed.
 */
bool
pgs_catalog_has_distributed_queries(void)
{
	PgsCatalogAccess acc = {0};
	bool		found;

	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return false;
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT 1 FROM stream.distributed_queries",
							 0, NULL, NULL, NULL, true, 1) > 0;
	pgs_catalog_end(&acc);
	return found;
}

/*
 * The first shard of shardids (int8[]) that a distributed query holds in
 * place, with the query, in *conflict; false when none is held.  Needs
 * Citus in the database (the caller is one of its functions).
 */
bool
pgs_catalog_shard_move_conflict(ArrayType *shardids,
								PgsShardMoveConflict *conflict)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1] = {PointerGetDatum(shardids)};
	MemoryContext caller = CurrentMemoryContext;
	bool		found = false;

	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return false;
	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT q.name, q.stream_relid::oid, s.shardid,"
						 "       s.logicalrelid::oid"
						 "  FROM pg_dist_shard s"
						 "  JOIN pg_dist_partition p"
						 "    ON p.logicalrelid = s.logicalrelid"
						 "  JOIN pg_dist_partition g"
						 "    ON g.logicalrelid = s.logicalrelid"
						 "    OR (p.colocationid <> 0"
						 "        AND g.colocationid = p.colocationid)"
						 "  JOIN stream.distributed_queries q"
						 "    ON g.logicalrelid::oid IN (q.stream_relid::oid,"
						 "                               q.target_relid::oid)"
						 " WHERE s.shardid = ANY ($1)"
						 "   AND (q.desired_status <> 'dropped'"
						 "        OR EXISTS (SELECT FROM stream.distributed_query_shards d"
						 "                    WHERE d.name = q.name"
						 "                      AND d.applied_status IS DISTINCT FROM 'dropped'))"
						 " ORDER BY s.shardid, q.name LIMIT 1",
						 1, argtypes, values, NULL, true, 1) > 0)
	{
		bool		isnull;

		conflict->query = pgs_result_text(0, 1, caller);
		conflict->stream_relid = DatumGetObjectId(pgs_result_datum(0, 2, &isnull));
		conflict->shardid = DatumGetInt64(pgs_result_datum(0, 3, &isnull));
		conflict->shard_relid = DatumGetObjectId(pgs_result_datum(0, 4, &isnull));
		found = true;
	}
	pgs_catalog_end(&acc);
	return found;
}
