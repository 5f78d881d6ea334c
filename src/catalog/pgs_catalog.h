/*-------------------------------------------------------------------------
 *
 * pgs_catalog.h
 *	  The only way into pg_streaming's catalog tables, and the one way to
 *	  run SQL as a query's owner.
 *
 * Two kinds of stretch exist, and nothing else switches identity.  A
 * catalog stretch runs as the bootstrap superuser with a search_path of
 * pg_catalog, and its statements touch the extension's own tables only.  An
 * owner stretch runs as a query's owner, under SECURITY_RESTRICTED_OPERATION,
 * and everything it changes in the session's settings is rolled back when it
 * ends: that is where a user's stream is read and a user's code runs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_CATALOG_H
#define PGS_CATALOG_H

#include "postgres.h"

#include "executor/spi.h"

typedef struct PgsCatalogAccess
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nest_level;
	bool		spi_connected;
} PgsCatalogAccess;

/* catalog stretch: bootstrap superuser, search_path pg_catalog, SPI */
extern void pgs_catalog_begin(PgsCatalogAccess *acc);
extern void pgs_catalog_end(PgsCatalogAccess *acc);

/* owner stretch: the owner's identity, restricted, the given search_path */
extern void pgs_owner_begin(PgsCatalogAccess *acc, Oid owner,
							const char *search_path);
extern void pgs_owner_end(PgsCatalogAccess *acc);

/* run a statement, prepared once per backend; returns SPI_processed */
extern int	pgs_catalog_exec(const char *sql, int nargs, Oid *argtypes,
							 Datum *values, const char *nulls, bool read_only,
							 long count);
/* the same for a statement over a user's table, in query_id's owner stretch */
extern int	pgs_owner_exec(int64 query_id, const char *sql, int nargs,
						   Oid *argtypes, Datum *values, const char *nulls,
						   bool read_only, long count);

/* results of the last statement, copied into the given context */
extern char *pgs_result_text(int row, int col, MemoryContext cxt);
extern Datum pgs_result_datum(int row, int col, bool *isnull);
extern Datum pgs_result_copy(int row, int col, bool *isnull,
							 MemoryContext cxt);

extern void pgs_set_search_path(const char *path);
extern void pgs_require_writable(void);

struct HTAB;
extern struct HTAB *pgs_query_id_hash(const char *name, Size entrysize);
extern bool pgs_ensure_snapshot(void);
extern int64 pgs_catalog_int8(const char *sql, Oid argtype, Datum arg);
extern bool pgs_is_stream(Oid relid);
extern void pgs_stream_register(Oid relid, bool add);
extern Oid	pgs_query_defs_relid(void);

#endif							/* PGS_CATALOG_H */
