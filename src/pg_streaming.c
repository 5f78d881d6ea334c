/*-------------------------------------------------------------------------
 *
 * pg_streaming.c
 *	  Module entry point: settings, hooks, and the launcher's registration.
 *
 * The library is loaded by any backend that touches a stream table or calls
 * one of the extension's functions, so everything installed here must also
 * work when the library is not in shared_preload_libraries.  Only then is
 * there shared memory and a launcher; without it, batches run when a
 * session asks for them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "pg_streaming.h"
#include "shared.h"

PG_MODULE_MAGIC;

int			pgs_max_workers = 4;
int			pgs_launcher_naptime_ms = 10000;
int			pgs_worker_idle_timeout_ms = 10000;
int			pgs_max_retries = 5;
int			pgs_retained_batches = 100;

void		_PG_init(void);

void
_PG_init(void)
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
	MarkGUCPrefixReserved("pg_streaming");

	pgs_install_hooks();

	if (process_shared_preload_libraries_in_progress)
	{
		pgs_shmem_init_hooks();
		pgs_register_launcher();
	}
}
