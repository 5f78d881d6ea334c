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

#include "analyze/pgs_analyze.h"
#include "state/pgs_agg.h"
#include "bgw/pgs_bgw.h"
#include "pg_streaming.h"
#include "storage/pgs_guard.h"
#include "storage/pgs_placement.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	pgs_define_settings();
	/* a server-start setting exists only where the library is preloaded */
	if (process_shared_preload_libraries_in_progress)
		pgs_placement_define_settings();
	MarkGUCPrefixReserved("pg_streaming");

	pgs_install_hooks();
	pgs_agg_install_planner_hook();
	pgs_install_guards();
	pgs_placement_install_hooks();

	if (process_shared_preload_libraries_in_progress)
	{
		pgs_shmem_init_hooks();
		pgs_register_launcher();
	}
}
