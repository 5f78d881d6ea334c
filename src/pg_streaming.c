/*-------------------------------------------------------------------------
 *
 * pg_streaming.c
 *	  Module entry point: hooks and settings.
 *
 * The library is loaded by any backend that touches a stream table or calls
 * one of the extension's functions, so everything installed here must also
 * work when the library is not in shared_preload_libraries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pg_streaming.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	pgs_install_hooks();
	MarkGUCPrefixReserved("pg_streaming");
}
