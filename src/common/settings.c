/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The settings of pg_streaming (pg_streaming.*) and the one reading of
 *	  interval arguments against stated bounds.
 *
 * Every layer reads these variables, so they live at the bottom; _PG_init
 * defines them by calling pgs_define_settings() once.  Settings that only
 * one module sizes itself by (stream placement's) are defined by that module.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "common/int.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "common/pgs_common.h"

int			pgs_max_workers = 4;
int			pgs_launcher_naptime_ms = 10000;
int			pgs_worker_idle_timeout_ms = 10000;
int			pgs_max_retries = 5;
int			pgs_retained_batches = 100;
int			pgs_progress_history_minutes = 1440;
int			pgs_retention_naptime_ms = 10000;
int			pgs_merge_naptime_ms = 1000;
int			pgs_max_databases = 256;
int			pgs_batch_timeout_ms = 10 * 60 * 1000;

/*
 * Define the settings, from _PG_init.  The one that sizes shared memory
 * (max_databases) exists only where the library is preloaded, since only
 * there is it read.
 */
void
pgs_define_settings(void)
{
	DefineCustomIntVariable("pg_streaming.max_workers",
							"Maximum number of worker processes running query batches at once, over all databases.",
							NULL,
							&pgs_max_workers,
							4, 0, PGS_MAX_WORKERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.launcher_naptime",
							"Time between the launcher's looks for new databases.",
							NULL,
							&pgs_launcher_naptime_ms,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.worker_idle_timeout",
							"Time an idle query worker waits for work before it exits.",
							NULL,
							&pgs_worker_idle_timeout_ms,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.max_retries",
							"Retries of a batch after a serialization failure, deadlock or lost connection before the query is marked failed.",
							NULL,
							&pgs_max_retries,
							5, 0, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.retained_batches",
							"Number of a query's latest batches whose offsets and progress are kept.",
							NULL,
							&pgs_retained_batches,
							100, 1, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.progress_history_minutes",
							"Minutes of per-minute progress kept for each query in stream.progress_history (0 keeps none).",
							NULL,
							&pgs_progress_history_minutes,
							1440, 0, 366 * 24 * 60,
							PGC_USERSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.retention_naptime",
							"Time between the background retention passes over the streams of a database.",
							NULL,
							&pgs_retention_naptime_ms,
							10000, 100, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.merge_naptime",
							"Time between the scheduler's merges of the shards' partial groups of merged distributed aggregations, on a Citus coordinator (0 turns them off).",
							NULL,
							&pgs_merge_naptime_ms,
							1000, 0, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_streaming.batch_timeout",
							"Time after which a batch run by a background worker is canceled and retried (0 turns the limit off).",
							NULL,
							&pgs_batch_timeout_ms,
							10 * 60 * 1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	/* sizes shared memory: only where there is some (and may be set) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pg_streaming.max_databases",
								"Maximum number of databases with pg_streaming that the background workers serve.",
								"Only databases where the extension is installed count.",
								&pgs_max_databases,
								256, 1, 10000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
}

/* a bound in microseconds as words, whatever the session's IntervalStyle */
static char *
pgs_usecs_text(int64 usecs)
{
	if (usecs == 0)
		return pstrdup("0");
	if (usecs % USECS_PER_DAY == 0)
		return psprintf(INT64_FORMAT " days", usecs / USECS_PER_DAY);
	if (usecs % USECS_PER_SEC == 0)
		return psprintf(INT64_FORMAT " seconds", usecs / USECS_PER_SEC);
	if (usecs % 1000 == 0)
		return psprintf(INT64_FORMAT " ms", usecs / 1000);
	return psprintf(INT64_FORMAT " microseconds", usecs);
}

/*
 * An interval argument (a trigger, a timeout) as microseconds, with a month
 * counted as 30 days as interval comparison counts it.  Anything outside
 * [min_usecs, max_usecs], including what would not fit in 64 bits, is
 * refused with the bounds: every interval argument goes through here, so
 * they all mean the same thing by the same text.  "given" is the text the
 * user wrote, for the message (NULL to print the interval).
 */
int64
pgs_interval_usecs(Datum interval, const char *what, const char *given,
				   int64 min_usecs, int64 max_usecs)
{
	Interval   *iv = DatumGetIntervalP(interval);
	int64		days;
	int64		usecs;
	bool		overflow;

	overflow = pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, (int64) iv->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &usecs) ||
		pg_add_s64_overflow(usecs, iv->time, &usecs);
	if (overflow || usecs < min_usecs || usecs > max_usecs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is out of range", what,
						given ? given :
						DatumGetCString(DirectFunctionCall1(interval_out, interval))),
				 errdetail("Argument %s must be at least %s and at most %s.", what,
						   pgs_usecs_text(min_usecs), pgs_usecs_text(max_usecs))));
	return usecs;
}
