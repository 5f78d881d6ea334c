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
 * Only catalog/ runs statements on stream.*, stream_state, stream_batch
 * and stream_query (the extension's schemas): code above it calls the
 * functions of catalog/ named for what they do, and runs only statements
 * over users' tables (a stream, a target) itself.  Two kinds remain above
 * it: state/ runs each batch's statements over the query's own state table
 * (stream_state.<query>) in a catalog stretch, and exec/ writes a
 * foreach_batch query's batch table (stream_batch.<query>, the owner's)
 * as the owner, as it writes any target.  The installed catalog's version
 * is read only here (catalog_version.c): code above it asks
 * pgs_catalog_require, a function that hides the branch, or one of the
 * thin names at the end of this header (api/ asks pgs_catalog_has_keys
 * before it looks for a target's primary key or follows a rename).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_CATALOG_H
#define PGS_CATALOG_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/snapshot.h"

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

/*
 * run a statement, prepared on first use and kept (at most 256, the least
 * recently used evicted); returns SPI_processed
 */
extern int	pgs_catalog_exec(const char *sql, int nargs, Oid *argtypes,
							 Datum *values, const char *nulls, bool read_only,
							 long count);
/* the same for a statement over a user's table, in query_id's owner stretch */
extern int	pgs_owner_exec(int64 query_id, const char *sql, int nargs,
						   Oid *argtypes, Datum *values, const char *nulls,
						   bool read_only, long count);

/* one statement in a catalog stretch of its own; returns SPI_processed */
extern int	pgs_catalog_run(const char *sql, int nargs, Oid *argtypes,
							Datum *values, const char *nulls, bool read_only,
							long count);

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
extern Snapshot pgs_catalog_statement_snapshot(void);
extern Oid	pgs_query_defs_relid(void);
extern List *pgs_catalog_busy_tables(MemoryContext cxt);

/*
 * catalog_version.c: the installed catalog's version, read once per backend
 * (once per transaction on servers older than 15.20)
 */
#define PGS_CATALOG_VERSION(major, minor)	((major) * 100 + (minor))
#define PGS_CATALOG_0_2		PGS_CATALOG_VERSION(0, 2)	/* error details */
#define PGS_CATALOG_0_3		PGS_CATALOG_VERSION(0, 3)	/* split boundaries, runs, retention */
#define PGS_CATALOG_0_4		PGS_CATALOG_VERSION(0, 4)	/* state, event time */
#define PGS_CATALOG_0_5		PGS_CATALOG_VERSION(0, 5)	/* keys, foreach_batch, views */
#define PGS_CATALOG_0_6		PGS_CATALOG_VERSION(0, 6)	/* histories, max_hold */
#define PGS_CATALOG_0_7		PGS_CATALOG_VERSION(0, 7)	/* joins between streams */
#define PGS_CATALOG_0_8		PGS_CATALOG_VERSION(0, 8)	/* a join detached per stream */
#define PGS_CATALOG_0_9		PGS_CATALOG_VERSION(0, 9)	/* distributed queries */
#define PGS_CATALOG_0_10	PGS_CATALOG_VERSION(0, 10)	/* a packed batch predicate */
#define PGS_CATALOG_0_11	PGS_CATALOG_VERSION(0, 11)	/* no keys to the offsets */

extern int	pgs_catalog_version(void);
extern void pgs_catalog_require(int version, const char *what);

/* thin names over the version, for what each version brought */
static inline bool
pgs_catalog_has_state(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_4;
}

static inline bool
pgs_catalog_has_keys(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_5;
}

static inline bool
pgs_catalog_has_06(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_6;
}

/* sides, per-side offsets and progress, watermarks => and watermark_policy */
static inline bool
pgs_catalog_has_joins(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_7;
}

/* stream._batch_member(xid8, tid, bytea), the batch's boundaries packed */
static inline bool
pgs_catalog_packs_boundaries(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_10;
}

/*
 * the rows belonging to a batch's offsets have no foreign key to them: what
 * removes offsets removes those rows itself
 */
static inline bool
pgs_catalog_offsets_unkeyed(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_11;
}

/*
 * Whether the DDL guard lets a stream's _stream_xid go without NOT NULL
 * (0.11 on): new streams are made without the constraint, whose check
 * costs every row written, since the access method refuses a null stamp
 * itself.
 */
static inline bool
pgs_catalog_stamps_unconstrained(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_11;
}

#endif							/* PGS_CATALOG_H */
