/*-------------------------------------------------------------------------
 *
 * merge_catalog.c
 *	  The coordinator's rows of a merged distributed aggregation: its
 *	  definition (stream.distributed_queries with placement 'merge' and
 *	  stream.distributed_merges) and each shard's mark
 *	  (stream.distributed_merge_shards).
 *
 * A merge reads its row FOR UPDATE, so that two merges of one query (the
 * scheduler's and process_all_available's) run one after the other, and the
 * second reads the marks the first committed: no shard's batch is merged
 * twice.  The marks advance in the transaction that merged the rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_merge_catalog.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"

/* a list of strings as a text[] datum */
static Datum
mc_text_array(List *list)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(list), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, list)
		elems[i++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, list_length(list), TEXTOID, -1,
										   false, TYPALIGN_INT));
}

/* a text[] column of the last statement's given row as a list of strings */
static List *
mc_text_list(int row, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = pgs_result_datum(row, col, &isnull);
	Datum	   *elems;
	int			nelems;
	List	   *result = NIL;
	MemoryContext old;

	if (isnull)
		return NIL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &nelems);
	old = MemoryContextSwitchTo(cxt);
	for (int i = 0; i < nelems; i++)
		result = lappend(result, TextDatumGetCString(elems[i]));
	MemoryContextSwitchTo(old);
	return result;
}

/*
 * Record a merged distributed aggregation's merge row and a mark per shard
 * query at batch 0, in the caller's transaction, after its
 * distributed_queries rows (pgs_dist_query_insert).
 */
void
pgs_merge_insert(const PgsMergeDef *m, List *shard_queries)
{
	PgsCatalogAccess acc = {0};
	Oid			mtypes[7] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, INT8OID, OIDOID,
	OIDOID};
	Datum		mvalues[7];
	char		mnulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	ListCell   *lc;

	mvalues[0] = CStringGetTextDatum(m->name);
	mvalues[1] = CStringGetTextDatum(m->output_mode);
	mvalues[2] = mc_text_array(m->target_columns);
	mvalues[3] = m->event_time ? CStringGetTextDatum(m->event_time) : (Datum) 0;
	if (m->event_time == NULL)
		mnulls[3] = mnulls[4] = 'n';
	mvalues[4] = Int64GetDatum(m->watermark_usecs);
	mvalues[5] = ObjectIdGetDatum(m->state_relid);
	mvalues[6] = ObjectIdGetDatum(m->exchange_relid);

	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.distributed_merges (name, output_mode,"
					 " target_columns, event_time, watermark_delay, state_relid,"
					 " exchange_relid)"
					 " VALUES ($1, $2, $3, $4,"
					 " pg_catalog.make_interval(secs => $5::pg_catalog.float8 OPERATOR(pg_catalog./) 1000000),"
					 " $6::pg_catalog.regclass, $7::pg_catalog.regclass)",
					 7, mtypes, mvalues, mnulls, false, 0);
	foreach(lc, shard_queries)
	{
		Oid			stypes[2] = {TEXTOID, TEXTOID};
		Datum		svalues[2];

		svalues[0] = mvalues[0];
		svalues[1] = CStringGetTextDatum(lfirst(lc));
		pgs_catalog_exec("INSERT INTO stream.distributed_merge_shards (name, shard_query)"
						 " VALUES ($1, $2)",
						 2, stypes, svalues, NULL, false, 0);
	}
	pgs_catalog_end(&acc);
}

/*
 * The merged distributed aggregations to merge: the one named (if it is
 * one), or every one not dropped.
 */
List *
pgs_merge_names(const char *name, MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1] = {'n'};
	List	   *names = NIL;
	int			n;

	if (name)
	{
		values[0] = CStringGetTextDatum(name);
		nulls[0] = ' ';
	}
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT m.name FROM stream.distributed_merges m"
						 " JOIN stream.distributed_queries d ON d.name OPERATOR(pg_catalog.=) m.name"
						 " WHERE d.desired_status OPERATOR(pg_catalog.<>) 'dropped'"
						 " AND ($1 IS NULL OR m.name OPERATOR(pg_catalog.=) $1)"
						 " ORDER BY m.merge_id",
						 1, types, values, nulls, true, 0);
	for (int i = 0; i < n; i++)
	{
		char	   *s = pgs_result_text(i, 1, cxt);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		names = lappend(names, s);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return names;
}

/*
 * Read a merge's definition and lock its row until the end of the
 * transaction (a merge of it running elsewhere is waited for); false when
 * it is gone or dropped meanwhile.
 */
bool
pgs_merge_read(const char *name, PgsMergeDef *m, MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	int			n;

	memset(m, 0, sizeof(*m));
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT m.merge_id, d.owner::pg_catalog.oid, d.query_text,"
						 " d.search_path, d.stream_relid::pg_catalog.oid,"
						 " d.target_relid::pg_catalog.oid, m.output_mode, m.target_columns,"
						 " m.event_time,"
						 " (pg_catalog.date_part('epoch', m.watermark_delay) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8,"
						 " m.state_relid::pg_catalog.oid, m.exchange_relid::pg_catalog.oid,"
						 " m.merges, m.watermark"
						 " FROM stream.distributed_merges m"
						 " JOIN stream.distributed_queries d ON d.name OPERATOR(pg_catalog.=) m.name"
						 " WHERE m.name OPERATOR(pg_catalog.=) $1"
						 " AND d.desired_status OPERATOR(pg_catalog.<>) 'dropped'"
						 " FOR UPDATE OF m",
						 1, types, values, NULL, false, 0);
	if (n == 1)
	{
		m->name = MemoryContextStrdup(cxt, name);
		m->merge_id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		m->owner = DatumGetObjectId(pgs_result_datum(0, 2, &isnull));
		m->query_text = pgs_result_text(0, 3, cxt);
		m->search_path = pgs_result_text(0, 4, cxt);
		m->stream_relid = DatumGetObjectId(pgs_result_datum(0, 5, &isnull));
		m->target_relid = DatumGetObjectId(pgs_result_datum(0, 6, &isnull));
		m->output_mode = pgs_result_text(0, 7, cxt);
		m->target_columns = mc_text_list(0, 8, cxt);
		m->event_time = pgs_result_text(0, 9, cxt);
		m->watermark_usecs = DatumGetInt64(pgs_result_datum(0, 10, &isnull));
		if (isnull)
			m->watermark_usecs = -1;
		m->state_relid = DatumGetObjectId(pgs_result_datum(0, 11, &isnull));
		m->exchange_relid = DatumGetObjectId(pgs_result_datum(0, 12, &isnull));
		m->merges = DatumGetInt64(pgs_result_datum(0, 13, &isnull));
		m->watermark = DatumGetTimestampTz(pgs_result_datum(0, 14, &m->watermark_null));
	}
	pgs_catalog_end(&acc);
	return n == 1;
}

/*
 * Each shard's mark (PgsMergeMark), with whether its shard's query was
 * started on its node: only a started query's rows are read, those of a
 * query of that name that the distributed query did not start are not.
 */
List *
pgs_merge_marks(const char *name, MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	List	   *marks = NIL;
	int			n;

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT ms.shard_query, ms.merged_batch, ms.max_event_time,"
						 " COALESCE(s.applied_status OPERATOR(pg_catalog.=) ANY ('{active,stopped}'), false)"
						 " FROM stream.distributed_merge_shards ms"
						 " LEFT JOIN stream.distributed_query_shards s"
						 " ON s.name OPERATOR(pg_catalog.=) ms.name"
						 " AND s.shard_query OPERATOR(pg_catalog.=) ms.shard_query"
						 " WHERE ms.name OPERATOR(pg_catalog.=) $1 ORDER BY ms.shard_query",
						 1, types, values, NULL, true, 0);
	for (int i = 0; i < n; i++)
	{
		PgsMergeMark *mk = MemoryContextAllocZero(cxt, sizeof(PgsMergeMark));
		bool		isnull;

		mk->shard_query = pgs_result_text(i, 1, cxt);
		mk->batch_id = DatumGetInt64(pgs_result_datum(i, 2, &isnull));
		mk->max_time = DatumGetTimestampTz(pgs_result_datum(i, 3, &mk->time_null));
		mk->started = DatumGetBool(pgs_result_datum(i, 4, &isnull));
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			marks = lappend(marks, mk);
			MemoryContextSwitchTo(old);
		}
	}
	pgs_catalog_end(&acc);
	return marks;
}

/*
 * After a merge, in its transaction: the marks it advanced (each the latest
 * batch it merged of that shard, and the latest event time seen), and the
 * merge's count and watermark.
 */
void
pgs_merge_record(const char *name, List *marks, bool watermark_null,
				 TimestampTz watermark)
{
	PgsCatalogAccess acc = {0};
	ListCell   *lc;
	Oid			mtypes[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		mvalues[2];
	char		mnulls[2] = {' ', ' '};

	pgs_catalog_begin(&acc);
	foreach(lc, marks)
	{
		PgsMergeMark *mk = lfirst(lc);
		Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID};
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};

		values[0] = CStringGetTextDatum(name);
		values[1] = CStringGetTextDatum(mk->shard_query);
		values[2] = Int64GetDatum(mk->batch_id);
		values[3] = TimestampTzGetDatum(mk->max_time);
		if (mk->time_null)
			nulls[3] = 'n';
		if (pgs_catalog_exec("UPDATE stream.distributed_merge_shards"
							 " SET merged_batch = $3,"
							 " max_event_time = GREATEST(max_event_time, $4),"
							 " merged_at = pg_catalog.now()"
							 " WHERE name OPERATOR(pg_catalog.=) $1"
							 " AND shard_query OPERATOR(pg_catalog.=) $2"
							 " AND merged_batch OPERATOR(pg_catalog.<) $3",
							 4, types, values, nulls, false, 0) != 1)
			elog(ERROR, "the mark of shard query \"%s\" of distributed query \"%s\" did not advance",
				 mk->shard_query, name);
	}
	mvalues[0] = CStringGetTextDatum(name);
	mvalues[1] = TimestampTzGetDatum(watermark);
	if (watermark_null)
		mnulls[1] = 'n';
	pgs_catalog_exec("UPDATE stream.distributed_merges SET merges = merges OPERATOR(pg_catalog.+) 1,"
					 " watermark = $2, last_merge_at = pg_catalog.now()"
					 " WHERE name OPERATOR(pg_catalog.=) $1",
					 2, mtypes, mvalues, mnulls, false, 0);
	pgs_catalog_end(&acc);
}

/*
 * Before a dropped distributed query's rows go (pgs_dist_forget_dropped,
 * once every shard's query is dropped): the exchange and the coordinator's
 * state table of those that were merged, dropped as the extension's owner
 * (whose tables they are; Citus drops the exchange's shards on the nodes).
 */
void
pgs_merge_forget_dropped(const char *name)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1] = {'n'};
	List	   *relids = NIL;
	ListCell   *lc;
	int			n;

	if (name != NULL)
	{
		values[0] = CStringGetTextDatum(name);
		nulls[0] = ' ';
	}
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT m.exchange_relid::pg_catalog.oid, m.state_relid::pg_catalog.oid"
						 " FROM stream.distributed_merges m"
						 " JOIN stream.distributed_queries q ON q.name OPERATOR(pg_catalog.=) m.name"
						 " WHERE q.desired_status OPERATOR(pg_catalog.=) 'dropped'"
						 " AND ($1 IS NULL OR q.name OPERATOR(pg_catalog.=) $1)"
						 " AND NOT EXISTS (SELECT 1 FROM stream.distributed_query_shards s"
						 " WHERE s.name OPERATOR(pg_catalog.=) q.name"
						 " AND s.applied_status IS DISTINCT FROM 'dropped')",
						 1, argtypes, values, nulls, false, 0);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		relids = lappend_oid(relids, DatumGetObjectId(pgs_result_datum(i, 1, &isnull)));
		relids = lappend_oid(relids, DatumGetObjectId(pgs_result_datum(i, 2, &isnull)));
	}
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);

		/*
		 * The exchange by a DROP TABLE statement, which Citus sees (its
		 * metadata and the shards on the nodes go with it); the state table
		 * as a query's.
		 */
		if (foreach_current_index(lc) % 2 == 0 && get_rel_name(relid) != NULL &&
			get_rel_namespace(relid) == get_namespace_oid("stream_exchange", false))
		{
			if (SPI_execute(psprintf("DROP TABLE %s", pgs_qualified_relname(relid)),
							false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not drop the exchange of a dropped distributed query");
		}
		else if (foreach_current_index(lc) % 2 == 1)
			pgs_query_table_drop(relid, DROP_RESTRICT);
	}
	pgs_catalog_end(&acc);
}
