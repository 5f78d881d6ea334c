/*-------------------------------------------------------------------------
 *
 * analyze_internal.h
 *	  What query_analyze.c and join_shape.c share; for analyze/ only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ANALYZE_INTERNAL_H
#define ANALYZE_INTERNAL_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"

/* query_analyze.c */
extern bool qa_is_stream(Oid relid);
extern bool pgs_count_stream_reads(Node *node, void *arg);
extern void pgs_rte_become_subquery(RangeTblEntry *rte, const char *sql,
									Oid *param_types, int nparams,
									bool security_barrier);

/* join_shape.c */
extern List *pgs_join_semi_sublinks(Query *query);
extern void pgs_join_refuse_reads(int nreads) pg_attribute_noreturn();
extern void pgs_join_refuse_placement(Query *query) pg_attribute_noreturn();

#endif							/* ANALYZE_INTERNAL_H */
