/*-------------------------------------------------------------------------
 *
 * pgs_query_tables.h
 *	  The tables and views the extension makes for queries in its own
 *	  schemas (query_tables.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_QUERY_TABLES_H
#define PGS_QUERY_TABLES_H

#include "postgres.h"

#include "nodes/parsenodes.h"

#define PGS_AGG_STATE_SCHEMA	"stream_state"
#define PGS_BATCH_SCHEMA		"stream_batch"
#define PGS_QUERY_VIEW_SCHEMA	"stream_query"

extern void pgs_state_ddl(const char *sql, const char *query_name);
extern Oid	pgs_state_create_table(const char *query_name, const char *definition,
								   char **qualified);
extern Oid	pgs_batch_table_create(const char *query_name, const char *definition,
								   Oid owner, char **qualified);
extern void pgs_relation_goes_with_extension(Oid relid);
extern void pgs_query_table_drop(Oid relid, DropBehavior behavior);
extern int64 pgs_state_bytes(Oid state_relid);
extern char *pgs_state_part_name(const char *query_name, const char *suffix);
extern Oid	pgs_state_part_lookup(const char *query_name, const char *suffix);
extern void pgs_state_part_attach(Oid relid, Oid state_relid);

#endif							/* PGS_QUERY_TABLES_H */
