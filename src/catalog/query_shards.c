/*-------------------------------------------------------------------------
 *
 * query_shards.c
 *	  The coordinator's distributed queries and their shards, read for
 *	  monitoring and for process_all_available and await_termination, with
 *	  the node that holds each shard now (Citus's pg_dist_placement); and on
 *	  a node, its own figures for the shard queries the coordinator asks of.
 *
 * The coordinator's rows are read in a catalog stretch, filtered to the
 * queries of roles the viewer belongs to, as the views filter.  A node's
 * figures are read from its own views as the caller (the role the
 * coordinator connected as), so that the node shows the coordinator's
 * viewer exactly what it would show that role itself.  Callers check that
 * Citus is installed: the statements name its tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query_shards.h"

/* set while this backend answers a coordinator's request for figures */
static bool qs_answering = false;

/*
 * Does a distributed query of this name exist (and is not being dropped)?
 * Its owner in *owner.  False on a catalog older than 0.9.
 */
bool
pgs_distributed_query_owner(const char *name, Oid *owner)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	PgsCatalogAccess acc = {0};
	bool		found;
	bool		isnull;

	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return false;
	values[0] = CStringGetTextDatum(name);
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT owner::oid FROM stream.distributed_queries"
							 " WHERE name = $1 AND desired_status <> 'dropped'",
							 1, argtypes, values, NULL, true, 1) > 0;
	if (found)
		*owner = DatumGetObjectId(pgs_result_datum(0, 1, &isnull));
	pgs_catalog_end(&acc);
	return found;
}

/*
 * The shards of the distributed queries whose owner the viewer is a member
 * of (of the one named, when name is not NULL), in name and shard order,
 * each with the node of its active placement now, allocated in the
 * caller's memory context.  Empty on a catalog older than 0.9.  Read with
 * a snapshot of its own (not read-only), so that a procedure sees what a
 * reconciler pass committed after the procedure began.
 */
List *
pgs_query_shards_read(Oid viewer, const char *name)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	PgsCatalogAccess acc = {0};
	List	   *shards = NIL;
	int			n;
	int			i;

	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return NIL;
	values[0] = ObjectIdGetDatum(viewer);
	if (name)
		values[1] = CStringGetTextDatum(name);
	else
		nulls[1] = 'n';
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT d.name, d.owner::oid, d.desired_status, s.shardid,"
						 " s.shard_query, s.applied_status, s.last_error,"
						 " p.nodename, p.nodeport"
						 " FROM stream.distributed_queries d"
						 " JOIN stream.distributed_query_shards s USING (name)"
						 " LEFT JOIN LATERAL (SELECT n.nodename::text, n.nodeport"
						 "   FROM pg_dist_placement pl JOIN pg_dist_node n USING (groupid)"
						 "  WHERE pl.shardid = s.shardid"
						 "  ORDER BY pl.shardstate = 1 DESC, pl.placementid LIMIT 1) p ON true"
						 " WHERE pg_has_role($1, d.owner::oid, 'MEMBER')"
						 " AND ($2::text IS NULL OR d.name = $2)"
						 " ORDER BY d.name, s.shardid",
						 2, argtypes, values, nulls, false, 0);
	for (i = 0; i < n; i++)
	{
		PgsQueryShard *s = MemoryContextAllocZero(cxt, sizeof(PgsQueryShard));
		bool		isnull;
		Datum		port;

		s->name = pgs_result_text(i, 1, cxt);
		s->owner = DatumGetObjectId(pgs_result_datum(i, 2, &isnull));
		s->desired_status = pgs_result_text(i, 3, cxt);
		s->shardid = DatumGetInt64(pgs_result_datum(i, 4, &isnull));
		s->shard_query = pgs_result_text(i, 5, cxt);
		s->applied_status = pgs_result_text(i, 6, cxt);
		s->last_error = pgs_result_text(i, 7, cxt);
		s->node_name = pgs_result_text(i, 8, cxt);
		port = pgs_result_datum(i, 9, &isnull);
		s->node_port = isnull ? 0 : DatumGetInt32(port);
		shards = lappend(shards, s);
	}
	pgs_catalog_end(&acc);
	return shards;
}

/*
 * On a node: its stream.queries rows (progress false) or stream.progress
 * rows (true) of the named queries, as a JSON array, read as the caller.
 * While it runs, the coordinator's side of these views here shows nothing
 * (pgs_node_figures_answering), so that a coordinator that holds shards
 * itself does not ask itself again.
 */
char *
pgs_node_figures(bool progress, Datum names)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1] = {names};
	char	   *result = NULL;
	bool		was = qs_answering;

	qs_answering = true;
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args(progress ?
								  "SELECT COALESCE(pg_catalog.json_agg(pg_catalog.to_jsonb(p))::text, '[]')"
								  " FROM stream.progress p"
								  " WHERE p.query OPERATOR(pg_catalog.=) ANY ($1)" :
								  "SELECT COALESCE(pg_catalog.json_agg(pg_catalog.to_jsonb(q))::text, '[]')"
								  " FROM stream.queries q"
								  " WHERE q.name OPERATOR(pg_catalog.=) ANY ($1)",
								  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading the node's figures failed");
		result = pgs_result_text(0, 1, cxt);
		SPI_finish();
	}
	PG_FINALLY();
	{
		qs_answering = was;
	}
	PG_END_TRY();
	return result;
}

/* is this backend answering a coordinator's request for figures? */
bool
pgs_node_figures_answering(void)
{
	return qs_answering;
}
