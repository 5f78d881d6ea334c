/*-------------------------------------------------------------------------
 *
 * stream_catalog.c
 *	  The statements on stream.stream_runs, and the reading of checkpoints
 *	  that stream storage asks for (the queries part-way through a split
 *	  transaction).  retention_catalog.c also deletes the runs a retention
 *	  pass has removed, in the statement that records the pass.
 *
 * storage/runs.c and storage/retention.c decide what the runs are; the rows
 * are read and written here, each call in a catalog stretch of its own.
 * Before version 0.3 the catalog has no runs: a stream is then one append
 * run from block 0, and nothing is ever split.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_storage_catalog.h"

/*
 * The stream's runs, in order, into *rows (the caller's memory context).
 * Returns their number; 0 when it has none, or the catalog keeps none.
 */
int
pgs_runs_read(Oid relid, PgsRunRow **rows)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	int			n;
	int			i;

	*rows = NULL;
	if (pgs_catalog_version() < PGS_CATALOG_0_3)
		return 0;
	pgs_catalog_begin(&acc);
	/* a snapshot of its own: runs committed since the caller's began count */
	n = pgs_catalog_exec("SELECT run, first_block, coalesce(end_block, -1), recycled,"
						 " relfilenode FROM stream.stream_runs"
						 " WHERE relid::oid = $1 ORDER BY run",
						 1, argtypes, values, NULL, false, 0);
	if (n > 0)
	{
		*rows = MemoryContextAlloc(cxt, sizeof(PgsRunRow) * n);
		for (i = 0; i < n; i++)
		{
			PgsRunRow  *r = &(*rows)[i];

			r->run = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
			r->first_block = DatumGetInt64(pgs_result_datum(i, 2, &isnull));
			r->end_block = DatumGetInt64(pgs_result_datum(i, 3, &isnull));
			r->recycled = DatumGetBool(pgs_result_datum(i, 4, &isnull));
			r->relfilenode = DatumGetObjectId(pgs_result_datum(i, 5, &isnull));
		}
	}
	pgs_catalog_end(&acc);
	return n;
}

/*
 * Forget the stream's runs and start again with one append run from block
 * 0 of storage relfilenode, numbered after the old ones so that positions
 * only grow.  Returns the new run's number.
 */
int64
pgs_runs_start_again(Oid relid, Oid relfilenode)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {OIDOID, OIDOID, INT8OID};
	Datum		values[3];
	bool		isnull;
	int64		run;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(relfilenode);
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("SELECT coalesce(max(run), 0) + 1 FROM stream.stream_runs"
					 " WHERE relid::oid = $1", 1, argtypes, values, NULL, false, 0);
	run = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	values[2] = Int64GetDatum(run);
	pgs_catalog_exec("DELETE FROM stream.stream_runs WHERE relid::oid = $1",
					 1, argtypes, values, NULL, false, 0);
	pgs_catalog_exec("INSERT INTO stream.stream_runs"
					 " (relid, run, first_block, end_block, recycled, relfilenode)"
					 " VALUES ($1, $3, 0, NULL, false, $2)",
					 3, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
	return run;
}

/*
 * Record recycled runs: nruns stretches of empty blocks [first, end) of
 * storage relfilenode, numbered in order after the stream's last run, and
 * an append run from the table's last block (nblocks - 1) after them.  The
 * stream's rows so far form run 0, appended from block 0, when it had no
 * runs yet; the open append run is closed at nblocks.  Returns the number
 * of the first recycled run (the append run's is that plus nruns).
 */
int64
pgs_runs_record_recycled(Oid relid, Oid relfilenode, int64 nblocks, int nruns,
						 const int64 *first_blocks, const int64 *end_blocks)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[5] = {OIDOID, OIDOID, INT8OID, INT8OID, INT8OID};
	Datum		values[5];
	bool		isnull;
	int64		first_run;
	int64		run;
	int			i;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(relfilenode);
	values[2] = Int64GetDatum(nblocks);
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.stream_runs"
					 " (relid, run, first_block, end_block, recycled, relfilenode)"
					 " SELECT $1, 0, 0, NULL, false, $2 WHERE NOT EXISTS"
					 " (SELECT 1 FROM stream.stream_runs WHERE relid::oid = $1)",
					 3, argtypes, values, NULL, false, 0);
	pgs_catalog_exec("UPDATE stream.stream_runs SET end_block = $3"
					 " WHERE relid::oid = $1 AND end_block IS NULL",
					 3, argtypes, values, NULL, false, 0);
	pgs_catalog_exec("SELECT max(run) + 1 FROM stream.stream_runs WHERE relid::oid = $1",
					 1, argtypes, values, NULL, false, 0);
	first_run = run = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	for (i = 0; i < nruns; i++, run++)
	{
		values[2] = Int64GetDatum(run);
		values[3] = Int64GetDatum(first_blocks[i]);
		values[4] = Int64GetDatum(end_blocks[i]);
		pgs_catalog_exec("INSERT INTO stream.stream_runs"
						 " (relid, run, first_block, end_block, recycled, relfilenode)"
						 " VALUES ($1, $3, $4, $5, true, $2)",
						 5, argtypes, values, NULL, false, 0);
	}
	values[2] = Int64GetDatum(run);
	values[3] = Int64GetDatum(nblocks - 1);
	pgs_catalog_exec("INSERT INTO stream.stream_runs"
					 " (relid, run, first_block, end_block, recycled, relfilenode)"
					 " VALUES ($1, $3, $4, NULL, false, $2)",
					 4, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
	return first_run;
}

/*
 * The rows (name, stream) of the latest catalog statement, as a list of
 * names and, in *relids, of streams, both in cxt.
 */
static List *
sc_names_and_streams(int n, List **relids, MemoryContext cxt)
{
	List	   *queries = NIL;
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			stream = DatumGetObjectId(pgs_result_datum(i, 2, &isnull));
		char	   *name = pgs_result_text(i, 1, cxt);
		MemoryContext old;

		/* both lists, not only what they hold, outlive the stretch */
		old = MemoryContextSwitchTo(cxt);
		queries = lappend(queries, name);
		*relids = lappend_oid(*relids, stream);
		MemoryContextSwitchTo(old);
	}
	return queries;
}

/*
 * The queries (names, in the caller's memory context) whose latest offsets
 * stop part-way through a transaction of stream relid (of any stream when
 * relid is InvalidOid), and in *relids the stream of each: a rewrite of
 * the stream would lose the place the rest of that transaction starts at.
 * A catalog older than 0.3 splits nothing.
 */
List *
pgs_split_queries(Oid relid, List **relids)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *queries = NIL;
	int			n;

	*relids = NIL;
	if (pgs_catalog_version() < PGS_CATALOG_0_3)
		return NIL;
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT DISTINCT ON (d.stream_relid) d.name, d.stream_relid::oid"
						 " FROM stream.query_defs d"
						 " JOIN LATERAL (SELECT o.* FROM stream.checkpoint_offsets o"
						 "  WHERE o.query_id = d.query_id"
						 "  ORDER BY o.batch_id DESC LIMIT 1) o ON true"
						 " WHERE (d.stream_relid::oid = $1 OR $1 = 0)"
						 "   AND (o.end_split_xid IS NOT NULL"
						 "        OR (o.start_split_xid IS NOT NULL AND NOT EXISTS"
						 "            (SELECT 1 FROM stream.checkpoint_commits k"
						 "              WHERE k.query_id = o.query_id AND k.batch_id = o.batch_id)))"
						 " ORDER BY d.stream_relid, d.name",
						 1, argtypes, values, NULL, true, 0);
	queries = sc_names_and_streams(n, relids, cxt);
	pgs_catalog_end(&acc);
	return queries;
}

/*
 * The joins between streams (names, in the caller's memory context) that
 * read stream relid (any stream when relid is InvalidOid), one per stream,
 * and in *relids the stream of each: a join keeps rows of its streams by
 * their place in the table, which a rewrite would change.  Nothing before
 * the catalog of 0.7.
 */
List *
pgs_join_queries(Oid relid, List **relids)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *queries = NIL;
	int			n;

	*relids = NIL;
	if (!pgs_catalog_has_joins())
		return NIL;
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT DISTINCT ON (s.relid) d.name, s.relid::oid"
						 " FROM stream.query_defs d"
						 " JOIN stream.query_side_defs s USING (query_id)"
						 " WHERE s.relid::oid = $1 OR $1 = 0"
						 " ORDER BY s.relid, d.name",
						 1, argtypes, values, NULL, true, 0);
	queries = sc_names_and_streams(n, relids, cxt);
	pgs_catalog_end(&acc);
	return queries;
}
