/*-------------------------------------------------------------------------
 *
 * file_source_catalog.c
 *	  stream.file_source_defs and stream.file_log: what a file source is,
 *	  and every file it took.
 *
 * A file's record is written in the transaction that loads its rows, so
 * that a file is loaded exactly once: after a crash, a file whose record
 * committed is never loaded again, and one whose record did not commit left
 * no row behind.  What happens to a read file (kept, deleted, archived)
 * happens only after that commit; after_read_at stays NULL until it is
 * done, so that the next pass finishes it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_file_sources.h"
#include "common/pgs_common.h"

#define FS_COLUMNS \
	"source_id, name, owner::pg_catalog.oid, directory, stream_relid::pg_catalog.oid," \
	" format, header, delimiter, null_string, file_name_column, pattern, settle," \
	" max_files_per_batch, max_bytes_per_batch, after_read, archive_directory," \
	" on_error, trigger, status, batches"

/* does this database's catalog have file sources (0.8 and later)? */
bool
pgs_file_sources_exist(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_8;
}

/*
 * Read a source by name (or by id when name is NULL); false when there is
 * none.  With lock, the row is locked FOR UPDATE: loads of one source, and
 * changes to it, go one at a time.
 */
bool
pgs_file_source_read(const char *name, int64 source_id, bool lock,
					 PgsFileSource *src)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1];
	Datum		values[1];
	const char *sql;
	bool		found = false;
	bool		isnull;

	if (!pgs_file_sources_exist())
		return false;
	if (name != NULL)
	{
		argtypes[0] = TEXTOID;
		values[0] = CStringGetTextDatum(name);
		sql = lock ?
			"SELECT " FS_COLUMNS " FROM stream.file_source_defs WHERE name = $1 FOR UPDATE" :
			"SELECT " FS_COLUMNS " FROM stream.file_source_defs WHERE name = $1";
	}
	else
	{
		argtypes[0] = INT8OID;
		values[0] = Int64GetDatum(source_id);
		sql = lock ?
			"SELECT " FS_COLUMNS " FROM stream.file_source_defs WHERE source_id = $1 FOR UPDATE" :
			"SELECT " FS_COLUMNS " FROM stream.file_source_defs WHERE source_id = $1";
	}
	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec(sql, 1, argtypes, values, NULL, false, 1) > 0)
	{
		Datum		d;

		found = true;
		memset(src, 0, sizeof(PgsFileSource));
		src->source_id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		src->name = pgs_result_text(0, 2, cxt);
		src->owner = DatumGetObjectId(pgs_result_datum(0, 3, &isnull));
		src->directory = pgs_result_text(0, 4, cxt);
		src->stream_relid = DatumGetObjectId(pgs_result_datum(0, 5, &isnull));
		src->format = pgs_result_text(0, 6, cxt);
		src->header = DatumGetBool(pgs_result_datum(0, 7, &isnull));
		src->delimiter = pgs_result_text(0, 8, cxt);
		src->null_string = pgs_result_text(0, 9, cxt);
		src->file_name_column = pgs_result_text(0, 10, cxt);
		src->pattern = pgs_result_text(0, 11, cxt);
		src->settle = pgs_result_copy(0, 12, &isnull, cxt);
		src->settle_us = pgs_interval_usecs(src->settle, "settle", "", 0, PG_INT64_MAX);
		d = pgs_result_datum(0, 13, &isnull);
		src->max_files = isnull ? 0 : DatumGetInt32(d);
		d = pgs_result_datum(0, 14, &isnull);
		src->max_bytes = isnull ? 0 : DatumGetInt64(d);
		src->after_read = pgs_result_text(0, 15, cxt);
		src->archive_directory = pgs_result_text(0, 16, cxt);
		src->on_error = pgs_result_text(0, 17, cxt);
		src->trigger = pgs_result_text(0, 18, cxt);
		src->status = pgs_result_text(0, 19, cxt);
		src->batches = DatumGetInt64(pgs_result_datum(0, 20, &isnull));
	}
	pgs_catalog_end(&acc);
	return found;
}

/* add a source, active; returns its id */
int64
pgs_file_source_insert(const PgsFileSource *src)
{
	Oid			argtypes[17] = {TEXTOID, OIDOID, TEXTOID, OIDOID, TEXTOID, BOOLOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID, INT4OID, INT8OID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[17];
	char		nulls[17];
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	int64		id;
	bool		isnull;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(src->name);
	values[1] = ObjectIdGetDatum(src->owner);
	values[2] = CStringGetTextDatum(src->directory);
	values[3] = ObjectIdGetDatum(src->stream_relid);
	values[4] = CStringGetTextDatum(src->format);
	values[5] = BoolGetDatum(src->header);
	values[6] = CStringGetTextDatum(src->delimiter);
	values[7] = CStringGetTextDatum(src->null_string);
	values[8] = src->file_name_column ? CStringGetTextDatum(src->file_name_column) : (Datum) 0;
	nulls[8] = src->file_name_column ? ' ' : 'n';
	values[9] = CStringGetTextDatum(src->pattern);
	values[10] = src->settle;
	values[11] = Int32GetDatum(src->max_files);
	nulls[11] = src->max_files > 0 ? ' ' : 'n';
	values[12] = Int64GetDatum(src->max_bytes);
	nulls[12] = src->max_bytes > 0 ? ' ' : 'n';
	values[13] = CStringGetTextDatum(src->after_read);
	values[14] = src->archive_directory ? CStringGetTextDatum(src->archive_directory) : (Datum) 0;
	nulls[14] = src->archive_directory ? ' ' : 'n';
	values[15] = CStringGetTextDatum(src->on_error);
	values[16] = CStringGetTextDatum(src->trigger);
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.file_source_defs (name, owner, directory,"
					 " stream_relid, format, header, delimiter, null_string,"
					 " file_name_column, pattern, settle, max_files_per_batch,"
					 " max_bytes_per_batch, after_read, archive_directory, on_error,"
					 " trigger, status, created_at)"
					 " VALUES ($1, $2::pg_catalog.regrole, $3, $4::pg_catalog.regclass,"
					 " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
					 " 'active', pg_catalog.now()) RETURNING source_id",
					 17, argtypes, values, nulls, false, 1);
	id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	return id;
}

void
pgs_file_source_delete(int64 source_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(source_id)};

	pgs_catalog_run("DELETE FROM stream.file_source_defs WHERE source_id = $1",
					1, argtypes, values, NULL, false, 0);
}

/* a new status; active clears the last error */
void
pgs_file_source_set_status(int64 source_id, const char *status)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(source_id), CStringGetTextDatum(status)};

	pgs_catalog_run("UPDATE stream.file_source_defs SET status = $2,"
					" sqlstate = CASE WHEN $2 = 'active' THEN NULL ELSE sqlstate END,"
					" error = CASE WHEN $2 = 'active' THEN NULL ELSE error END,"
					" error_detail = CASE WHEN $2 = 'active' THEN NULL ELSE error_detail END"
					" WHERE source_id = $1",
					2, argtypes, values, NULL, false, 0);
}

/* the last error of an active source, which fails it when fail says so */
void
pgs_file_source_set_error(int64 source_id, bool fail, const char *sqlstate,
						  const char *message, const char *detail)
{
	Oid			argtypes[5] = {INT8OID, BOOLOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (!pgs_file_sources_exist())
		return;
	values[0] = Int64GetDatum(source_id);
	values[1] = BoolGetDatum(fail);
	values[2] = CStringGetTextDatum(sqlstate ? sqlstate : "XX000");
	values[3] = CStringGetTextDatum(message ? message : "");
	values[4] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[4] = detail ? ' ' : 'n';
	pgs_catalog_run("UPDATE stream.file_source_defs SET"
					" status = CASE WHEN $2 THEN 'failed' ELSE status END,"
					" sqlstate = $3, error = $4, error_detail = $5"
					" WHERE source_id = $1 AND status = 'active'",
					5, argtypes, values, nulls, false, 0);
}

/* the next batch number of a source (its row is locked by the caller) */
int64
pgs_file_source_next_batch(int64 source_id)
{
	return pgs_catalog_int8("UPDATE stream.file_source_defs SET batches = batches + 1,"
							" last_load_at = pg_catalog.now()"
							" WHERE source_id = $1 RETURNING batches",
							INT8OID, Int64GetDatum(source_id));
}

/* the active sources, for the scheduler */
List *
pgs_file_source_list_active(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	List	   *result = NIL;
	int			n;
	int			i;

	if (!pgs_file_sources_exist())
		return NIL;
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT d.source_id, d.owner::pg_catalog.oid, r.rolcanlogin, d.trigger"
						 " FROM stream.file_source_defs d"
						 " JOIN pg_catalog.pg_roles r ON r.oid = d.owner::pg_catalog.oid"
						 " WHERE d.status = 'active' AND d.trigger <> 'manual'"
						 " ORDER BY d.source_id",
						 0, NULL, NULL, NULL, false, 0);
	for (i = 0; i < n; i++)
	{
		PgsActiveFileSource *a = MemoryContextAllocZero(cxt, sizeof(PgsActiveFileSource));
		MemoryContext old;
		bool		isnull;

		a->source_id = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		a->owner = DatumGetObjectId(pgs_result_datum(i, 2, &isnull));
		a->owner_can_login = DatumGetBool(pgs_result_datum(i, 3, &isnull));
		a->trigger = pgs_result_text(i, 4, cxt);
		old = MemoryContextSwitchTo(cxt);
		result = lappend(result, a);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return result;
}

/*
 * The records of a source for the given file names (or, with pending_only,
 * of every loaded file whose after-read handling is still to do).
 */
List *
pgs_file_records(int64 source_id, List *names, bool pending_only)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];
	List	   *result = NIL;
	int			n;
	int			i;

	values[0] = Int64GetDatum(source_id);
	if (pending_only)
		values[1] = (Datum) 0;
	else
	{
		Datum	   *elems = palloc(sizeof(Datum) * (list_length(names) + 1));
		ListCell   *lc;
		int			k = 0;

		if (names == NIL)
			return NIL;
		foreach(lc, names)
			elems[k++] = CStringGetTextDatum((char *) lfirst(lc));
		values[1] = PointerGetDatum(construct_array(elems, k, TEXTOID, -1, false,
													TYPALIGN_INT));
	}
	pgs_catalog_begin(&acc);
	n = pending_only ?
		pgs_catalog_exec("SELECT file_name, size, mtime, status = 'loaded', after_read_at IS NOT NULL"
						 " FROM stream.file_log WHERE source_id = $1"
						 " AND status = 'loaded' AND after_read_at IS NULL",
						 1, argtypes, values, NULL, false, 0) :
		pgs_catalog_exec("SELECT file_name, size, mtime, status = 'loaded', after_read_at IS NOT NULL"
						 " FROM stream.file_log WHERE source_id = $1"
						 " AND file_name = ANY ($2)",
						 2, argtypes, values, NULL, false, 0);
	for (i = 0; i < n; i++)
	{
		PgsFileRecord *r = MemoryContextAllocZero(cxt, sizeof(PgsFileRecord));
		MemoryContext old;
		bool		isnull;

		r->file_name = pgs_result_text(i, 1, cxt);
		r->size = DatumGetInt64(pgs_result_datum(i, 2, &isnull));
		r->mtime = DatumGetTimestampTz(pgs_result_datum(i, 3, &isnull));
		r->loaded = DatumGetBool(pgs_result_datum(i, 4, &isnull));
		r->after_read_done = DatumGetBool(pgs_result_datum(i, 5, &isnull));
		old = MemoryContextSwitchTo(cxt);
		result = lappend(result, r);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return result;
}

/* record a file taken, in the transaction that loaded its rows */
void
pgs_file_record_add(int64 source_id, const char *file_name, int64 size,
					TimestampTz mtime, bool loaded, int64 rows, int64 bad_rows,
					int64 batch_id, bool after_read_done)
{
	Oid			argtypes[9] = {INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID, BOOLOID,
	INT8OID, INT8OID, INT8OID, BOOLOID};
	Datum		values[9];
	char		nulls[9];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(source_id);
	values[1] = CStringGetTextDatum(file_name);
	values[2] = Int64GetDatum(size);
	values[3] = TimestampTzGetDatum(mtime);
	values[4] = BoolGetDatum(loaded);
	values[5] = Int64GetDatum(rows);
	values[6] = Int64GetDatum(bad_rows);
	values[7] = Int64GetDatum(batch_id);
	values[8] = BoolGetDatum(after_read_done);
	if (!loaded)
		nulls[5] = nulls[6] = 'n';
	if (batch_id <= 0)
		nulls[7] = 'n';
	pgs_catalog_run("INSERT INTO stream.file_log (source_id, file_name, size, mtime,"
					" status, rows, bad_rows, batch_id, taken_at, after_read_at)"
					" VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN 'loaded' ELSE 'duplicate' END,"
					" $6, $7, $8, pg_catalog.now(),"
					" CASE WHEN $9 THEN pg_catalog.now() END)",
					9, argtypes, values, nulls, false, 0);
}

/* the after-read handling of a loaded file is done */
void
pgs_file_record_done(int64 source_id, const char *file_name, int64 size,
					 TimestampTz mtime)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID};
	Datum		values[4];

	values[0] = Int64GetDatum(source_id);
	values[1] = CStringGetTextDatum(file_name);
	values[2] = Int64GetDatum(size);
	values[3] = TimestampTzGetDatum(mtime);
	pgs_catalog_run("UPDATE stream.file_log SET after_read_at = pg_catalog.clock_timestamp()"
					" WHERE source_id = $1 AND file_name = $2 AND size = $3 AND mtime = $4",
					4, argtypes, values, NULL, false, 0);
}
