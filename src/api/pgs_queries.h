/*-------------------------------------------------------------------------
 *
 * pgs_queries.h
 *	  The checks of a query's definition that stream.start_query (start.c)
 *	  and stream.alter_query (alter.c) share, made in queries.c.
 *
 * For api/ only.  Each check raises an error and changes nothing when the
 * definition cannot be served; the target checks may add the unique key of
 * a target the same call created.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_QUERIES_H
#define PGS_QUERIES_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "analyze/pgs_analyze.h"
#include "state/pgs_agg.h"

/* a trigger's canonical text, or an error (queries.c) */
extern char *pgs_check_trigger(const char *trigger);

/* the bounds of an interval trigger, and of a watermark's delay */
#define PGS_MIN_TRIGGER_USECS	((int64) 1000)
#define PGS_MAX_TRIGGER_USECS	((int64) 366 * USECS_PER_DAY)

/*
 * What a query's definition is checked with, once at start and again when
 * alter_query changes its text.
 */
typedef struct PgsDefinition
{
	/* given */
	const char *query_text;
	const char *output_mode;
	const char *event_time;		/* NULL without */
	List	   *dedup;			/* char * */
	const PgsQuerySide *sides;	/* a join's, with their watermarks, or NULL */
	/* found */
	PgsAnalyzedQuery aq;
	bool		aggregates;
	PgsAggShape shape;
	Oid			event_type;
	List	   *dedup_types;
	List	   *dedup_collations;
	/* an aggregation over a streaming aggregation: the subquery's shape */
	bool		chain;
	PgsAggShape lower_shape;
} PgsDefinition;

extern Oid	pgs_check_event_time(Oid stream_relid, const char *event_time);
extern void pgs_check_definition(PgsDefinition *d);
extern bool pgs_keyed_target(const PgsDefinition *d);
extern void pgs_check_key(List *key, const PgsDefinition *d, PgsAggShape *shape);
extern void pgs_check_target(Oid target_relid, Oid stream_relid, PgsAnalyzedQuery *aq);
extern void pgs_check_rights(const char *insert_sql, Oid stream_relid, Oid target_relid,
							 bool aggregates);

/* start.c: one element of a watermarks argument, '<name>.<column> <delay>' */
extern void pgs_parse_watermark(const char *given, char **name, char **column,
								int64 *usecs);

/* start.c: a target created with the query's output columns, as the caller */
struct RangeVar;
extern Oid	pgs_start_create_target(struct RangeVar *rv, const char *target,
									PgsAnalyzedQuery *aq);

/*
 * merge.c: the target of a shard's query in output mode partial, which
 * must be its distributed query's exchange (an error otherwise)
 */
extern Oid	pgs_merge_check_partial(const char *name, const PgsDefinition *d,
									const char *target, bool other_operators);

#endif							/* PGS_QUERIES_H */
