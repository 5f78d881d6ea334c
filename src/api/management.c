/*-------------------------------------------------------------------------
 *
 * management.c
 *	  stream.stop_query, stream.resume_query, stream.await_termination, and
 *	  the small functions behind the views and the install script.
 *
 * Status changes take the query's row lock, which every batch step holds
 * while it runs, so a stop takes effect at the latest after the batch in
 * flight.  The scheduler hears of the change when the transaction commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/timestamp.h"

#include "pg_streaming.h"
#include "shared.h"

PG_FUNCTION_INFO_V1(stream_stop_query);
PG_FUNCTION_INFO_V1(stream_resume_query);
PG_FUNCTION_INFO_V1(stream_await_termination);
PG_FUNCTION_INFO_V1(stream_pending_rows);
PG_FUNCTION_INFO_V1(stream_extension_created);

typedef struct MgQuery
{
	int64		query_id;
	Oid			owner;
	char	   *status;
	char	   *last_error;
	char	   *last_sqlstate;
} MgQuery;

/* a copy that outlives the catalog stretch's SPI connection */
static char *
mg_strdup(const char *v)
{
	char	   *copy;

	if (v == NULL)
		return NULL;
	copy = SPI_palloc(strlen(v) + 1);
	strcpy(copy, v);
	return copy;
}

/*
 * Read (and with lock, lock) a query by name, checking the caller's right
 * to manage it.
 */
static void
mg_read(const char *name, bool lock, MgQuery *q)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	char	   *v;

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec(lock ?
						 "SELECT query_id, owner::oid, status, last_error, last_error_sqlstate"
						 " FROM stream.query_defs WHERE name = $1 FOR UPDATE" :
						 "SELECT query_id, owner::oid, status, last_error, last_error_sqlstate"
						 " FROM stream.query_defs WHERE name = $1",
						 1, argtypes, values, NULL, false, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("streaming query \"%s\" does not exist", name),
				 errhint("See stream.queries for the queries you can see.")));
	q->query_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	q->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	q->status = mg_strdup(v);
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	q->last_error = mg_strdup(v);
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	q->last_sqlstate = mg_strdup(v);
	pgs_catalog_end(&acc);
	pgs_check_query_access(name, q->owner);
}

static void
mg_set_status(int64 query_id, const char *status)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(query_id), CStringGetTextDatum(status)};

	pgs_catalog_begin(&acc);
	pgs_catalog_exec("UPDATE stream.query_defs SET status = $2 WHERE query_id = $1",
					 2, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
	pgs_notify_scheduler_at_commit();
}

Datum
stream_stop_query(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MgQuery		q;

	mg_read(name, true, &q);
	if (strcmp(q.status, "active") != 0)
		PG_RETURN_BOOL(false);
	mg_set_status(q.query_id, "stopped");
	PG_RETURN_BOOL(true);
}

Datum
stream_resume_query(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MgQuery		q;

	mg_read(name, true, &q);
	if (strcmp(q.status, "active") == 0)
		PG_RETURN_BOOL(false);
	mg_set_status(q.query_id, "active");
	pgs_notice_if_unscheduled(name);
	PG_RETURN_BOOL(true);
}

/*
 * Wait until the query is stopped, finished or failed, or the timeout
 * passes: true when it ended, false on timeout.  A failed query raises its
 * error, as Spark's awaitTermination rethrows the query's exception.
 */
Datum
stream_await_termination(PG_FUNCTION_ARGS)
{
	char	   *name;
	TimestampTz deadline = 0;
	MgQuery		q;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(1))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(1);
		int64		usecs = iv->time + iv->day * USECS_PER_DAY +
			(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;

		if (usecs < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must not be negative")));
		deadline = GetCurrentTimestamp() + usecs;
	}

	for (;;)
	{
		mg_read(name, false, &q);
		if (strcmp(q.status, "failed") == 0)
		{
			int			code = ERRCODE_INTERNAL_ERROR;

			if (q.last_sqlstate && strlen(q.last_sqlstate) == 5)
				code = MAKE_SQLSTATE(q.last_sqlstate[0], q.last_sqlstate[1],
									 q.last_sqlstate[2], q.last_sqlstate[3],
									 q.last_sqlstate[4]);
			ereport(ERROR,
					(errcode(code),
					 errmsg("streaming query \"%s\" failed: %s", name,
							q.last_error ? q.last_error : "unknown error"),
					 errhint("Fix the cause, then start it again with stream.resume_query().")));
		}
		if (strcmp(q.status, "active") != 0)
			PG_RETURN_BOOL(true);
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
			PG_RETURN_BOOL(false);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 50L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

Datum
stream_pending_rows(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(pgs_pending_rows(PG_GETARG_INT64(0)));
}

/*
 * Without shared_preload_libraries no worker will run the query: say so
 * where it is started or resumed.
 */
void
pgs_notice_if_unscheduled(const char *name)
{
	if (pgs_shared == NULL)
		ereport(NOTICE,
				(errmsg("pg_streaming is not in shared_preload_libraries, so nothing will run query \"%s\" on its own", name),
				 errhint("Run its batches with CALL stream.process_all_available(), or add pg_streaming to shared_preload_libraries and restart the server.")));
}

/* run by the install script: the launcher should look at this database */
Datum
stream_extension_created(PG_FUNCTION_ARGS)
{
	pgs_notify_launcher_at_commit();
	PG_RETURN_VOID();
}
