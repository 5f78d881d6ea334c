/*-------------------------------------------------------------------------
 *
 * pgs_analyze.h
 *	  Checking a streaming query at start, and substituting its stream by
 *	  one batch's rows while the batch statement is analyzed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_ANALYZE_H
#define PGS_ANALYZE_H

#include "postgres.h"

#include "access/xact.h"
#include "nodes/pg_list.h"
#include "parser/parse_node.h"

#include "analyze/pgs_join.h"

typedef struct PgsAnalyzedQuery
{
	Oid			stream_relid;
	struct Query *query;		/* as analyzed */
	bool		sorted;			/* ORDER BY at its top level */
	bool		limited;		/* LIMIT or OFFSET at its top level */
	List	   *column_names;	/* output columns written to the target */
	List	   *column_types;	/* Oid */
	List	   *column_typmods; /* int32 */
	List	   *column_collations;	/* Oid */
	int			nsides;			/* 0: one stream read; 2: a join between streams */
	PgsJoinSideRef sides[PGS_MAX_SIDES];	/* in side order; side 1 also
											 * for one read named in FROM */
	bool		aggregated_aggregation; /* aggregates an aggregation in FROM */
} PgsAnalyzedQuery;

extern void pgs_analyze_user_query(const char *query_text,
								   PgsAnalyzedQuery *result);
extern bool pgs_list_has_str(List *list, const char *str);
extern char *pgs_compose_insert(const char *query_text, Oid target_relid,
								List *target_columns, List *key_columns);

/*
 * Arm the substitution for the analysis of one statement: the one whose
 * source text is at "token" (the very pointer, not a string equal to it).
 * Disarmed by pgs_rewrite_disarm() and by any transaction or
 * subtransaction abort.
 */
extern void pgs_rewrite_arm(const char *token, Oid stream_relid, Oid view_relid);
/* the caller's next step with the query its substitution analyzed */
typedef void (*PgsRewriteFinish) (struct Query *query, const void *arg);
extern void pgs_rewrite_arm_then(const char *token, Oid stream_relid,
								 Oid view_relid, PgsRewriteFinish finish,
								 const void *finish_arg);
extern void pgs_rewrite_disarm(void);
extern void pgs_analyze_post_parse(ParseState *pstate, Query *query);
extern void pgs_analyze_at_xact_end(XactEvent event);
extern void pgs_analyze_at_subxact_end(SubXactEvent event, SubTransactionId mySubid);

#endif							/* PGS_ANALYZE_H */
