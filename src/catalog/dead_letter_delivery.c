/*-------------------------------------------------------------------------
 *
 * dead_letter_delivery.c
 *	  A query's dead letters delivered again: which are still waiting, and
 *	  marking each delivered, or failed again with its new error.
 *
 * Each change is made in the caller's transaction, the one that wrote the
 * row to the target, so that a row is delivered once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_dead_letters.h"

/*
 * The query's dead letters not yet delivered, oldest first, locked against
 * a concurrent delivery: a list of PgsWaitingLetter in the caller's memory.
 */
List *
pgs_dead_letters_waiting(int64 query_id)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};
	List	   *result = NIL;
	int			n;
	int			i;

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT id, row_data::text FROM stream.dead_letter_log"
						 " WHERE query_id = $1 AND delivered_at IS NULL"
						 "   AND row_data IS NOT NULL"
						 " ORDER BY id FOR UPDATE",
						 1, argtypes, values, NULL, false, 0);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		PgsWaitingLetter *w = MemoryContextAlloc(cxt, sizeof(PgsWaitingLetter));

		w->id = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		w->row_data = pgs_result_text(i, 2, cxt);
		result = lappend(result, w);
	}
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	return result;
}

/* the dead letter was delivered, in this transaction */
void
pgs_dead_letter_delivered(int64 id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};

	pgs_catalog_run("UPDATE stream.dead_letter_log SET delivered_at = pg_catalog.clock_timestamp()"
					" WHERE id = $1",
					1, argtypes, values, NULL, false, 0);
}

/* the dead letter failed again: its new error */
void
pgs_dead_letter_failed_again(int64 id, const char *sqlstate, const char *message,
							 const char *detail)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(sqlstate);
	values[2] = CStringGetTextDatum(message ? message : "");
	values[3] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[3] = detail ? ' ' : 'n';
	pgs_catalog_run("UPDATE stream.dead_letter_log SET sqlstate = $2, message = $3,"
					" detail = $4, failed_at = pg_catalog.clock_timestamp()"
					" WHERE id = $1",
					4, argtypes, values, nulls, false, 0);
}
