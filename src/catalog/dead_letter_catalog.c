/*-------------------------------------------------------------------------
 *
 * dead_letter_catalog.c
 *	  stream.dead_letter_log: the rows a query or a file source set aside
 *	  instead of failing its batch.
 *
 * A row set aside is written in the batch's own transaction, the one that
 * delivers the batch's other rows, so that each row ends in the target or
 * here exactly once.  Only the row's owner (and its members) sees it,
 * through stream.dead_letters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_dead_letters.h"

bool
pgs_dead_letter_add(const PgsDeadLetter *dl)
{
	Oid			types[10] = {INT8OID, TEXTOID, OIDOID, INT8OID, JSONBOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[10];
	char		nulls[10];
	const char *texts[5] = {dl->raw_line, dl->position, dl->sqlstate,
	dl->message, dl->detail};
	int			i;

	if (pgs_catalog_version() < PGS_CATALOG_0_8)
		return false;
	Assert((dl->query_id > 0) != (dl->source != NULL));
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(dl->query_id);
	nulls[0] = dl->query_id > 0 ? ' ' : 'n';
	values[1] = dl->source ? CStringGetTextDatum(dl->source) : (Datum) 0;
	nulls[1] = dl->source ? ' ' : 'n';
	values[2] = ObjectIdGetDatum(dl->owner);
	values[3] = Int64GetDatum(dl->batch_id);
	nulls[3] = dl->batch_id >= 0 ? ' ' : 'n';
	values[4] = dl->row_data;
	nulls[4] = dl->row_data != (Datum) 0 ? ' ' : 'n';
	for (i = 0; i < 5; i++)
	{
		values[5 + i] = texts[i] ? CStringGetTextDatum(texts[i]) : (Datum) 0;
		nulls[5 + i] = texts[i] ? ' ' : 'n';
	}
	pgs_catalog_run("INSERT INTO stream.dead_letter_log"
					" (query_id, source, owner, batch_id, row_data, raw_line,"
					" position, sqlstate, message, detail, failed_at)"
					" VALUES ($1, $2, $3::pg_catalog.regrole, $4, $5, $6, $7,"
					" coalesce($8, 'XX000'), coalesce($9, ''), $10,"
					" pg_catalog.clock_timestamp())",
					10, types, values, nulls, false, 0);
	return true;
}
