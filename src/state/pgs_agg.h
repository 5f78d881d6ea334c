/*-------------------------------------------------------------------------
 *
 * pgs_agg.h
 *	  Incremental aggregation: the shape of an aggregating streaming query,
 *	  its state table, and the batch that folds new rows into the state.
 *
 * A batch runs the query's aggregates over its own rows only, as partial
 * aggregates (PostgreSQL's own AGGSPLIT_INITIAL_SERIAL: transition
 * functions, then serialization), merges those states into the query's
 * state table with the aggregates' combine functions, and computes the
 * touched groups' results with their final functions.  The target is then
 * written from those results, as the output mode says.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_AGG_H
#define PGS_AGG_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "catalog/pgs_merge_catalog.h"
#include "catalog/pgs_query_tables.h"

/* one grouping expression: key_<n> of the state table */
typedef struct PgsAggKey
{
	Expr	   *expr;			/* as the parser left it */
	Oid			type;
	Oid			collation;
	int			output;			/* the output column that is it, 0-based */
} PgsAggKey;

/* one distinct aggregate call: agg_<n> of the state table */
typedef struct PgsAggCall
{
	Aggref	   *aggref;			/* as the parser left it */
	Oid			transtype;		/* resolved */
	Oid			state_type;		/* transtype, or bytea for internal */
} PgsAggCall;

/* the shape of a query that aggregates over its stream */
typedef struct PgsAggShape
{
	List	   *keys;			/* PgsAggKey */
	List	   *calls;			/* PgsAggCall */

	/*
	 * The query's output columns, HAVING and ORDER BY over the results of
	 * the groups: Vars of range table entry 1, whose attribute numbers are
	 * those of the state table (keys first, then aggregates, whose Vars
	 * stand for their final values).
	 */
	List	   *outputs;		/* Expr per output column */
	Node	   *having;
	List	   *sort_exprs;		/* Expr */
	List	   *sort_ops;		/* Oid */
	List	   *sort_nulls_first;	/* int */
	Node	   *limit_count;	/* Const or NULL */
	Node	   *limit_offset;

	/*
	 * With an event time: the grouping key that gives a group's time (its
	 * window's end, or the event time itself), or -1, and the window's size
	 * to add to the key (0 for the event time itself).
	 */
	int			time_key;
	int64		time_size;
	bool		session;		/* the time key is a session window */
	bool		session_call;	/* stream.session is among the keys at all */
} PgsAggShape;

/* agg_shape.c */
extern bool pgs_agg_describe(Query *query, List *output_names,
							 PgsAggShape *shape);
extern void pgs_agg_partialize(Query *query, const PgsAggShape *shape);
extern char *pgs_agg_shape_signature(const PgsAggShape *shape);
extern void pgs_agg_find_time_key(PgsAggShape *shape, Query *query,
								  Oid stream_relid, const char *event_time);
struct PlannedStmt;
extern bool pgs_agg_plan_partial(Query *parse, int *cursorOptions);
extern void pgs_agg_fix_partial_plan(struct PlannedStmt *stmt);
extern char *pgs_agg_deparse(Node *expr, Oid state_relid);

/* agg_funcs.c */
extern void pgs_agg_set_call_owner(Oid owner, const char *search_path);

/* agg_state.c */
extern Oid	pgs_agg_create_state(const char *query_name, Oid owner,
								 const PgsAggShape *shape);
extern void pgs_agg_check_state(Oid state_relid, const PgsAggShape *shape,
								const char *query_name);
extern char *pgs_agg_collation_name(Oid collation);

/* agg_target.c */
extern void pgs_agg_prepare_target(Oid target_relid, bool created,
								   const PgsAggShape *shape,
								   List *output_names, const char *mode,
								   bool by_key);

/* agg_exec.c */
struct PgsQuery;
struct PgsBatchParams;

/*
 * The event times of a batch's rows, when its partial aggregation read them
 * in the same pass (read): their count, their least and greatest (a
 * timestamp without time zone taken as UTC) and the sum of their
 * microseconds since 2000-01-01; not read when one is infinite (infinite).
 */
typedef struct PgsAggTimes
{
	bool		read;
	bool		infinite;
	int64		count;
	TimestampTz min;
	TimestampTz max;
	double		sum;
} PgsAggTimes;

/* what one batch did to the state and the target */
typedef struct PgsAggResult
{
	int64		input_rows;
	int64		output_rows;
	int64		groups_updated;
	int64		groups_added;
	int64		late_groups;	/* dropped as late */
	int64		evicted;		/* groups whose windows closed */
	/* below deduplication (a chain): the deduplication's part of the above */
	bool		chained;
	int64		dedup_state_rows;	/* its keys after the batch */
	int64		dedup_added;
	int64		dedup_evicted;
	int64		dedup_late;
	/* an aggregation over a streaming aggregation: the lower one's part */
	bool		agg_chained;
	int64		lower_state_rows;	/* its groups after the batch */
	int64		lower_added;
	int64		lower_updated;
	int64		lower_evicted;
	int64		lower_late;
	PgsAggTimes times;			/* the batch's event times, if read */
} PgsAggResult;

struct PgsWatermarks;
extern void pgs_agg_execute(const struct PgsQuery *q, int64 batch_id,
							struct PgsBatchParams *params,
							int64 state_rows_before,
							const struct PgsWatermarks *watermarks,
							PgsAggResult *result);
extern void pgs_agg_execute_rows(const struct PgsQuery *q, int64 batch_id,
								 struct PgsBatchParams *params,
								 int64 state_rows_before,
								 const struct PgsWatermarks *watermarks,
								 Datum tids, PgsAggResult *result);
extern void pgs_agg_deliver_row(const struct PgsQuery *q, int64 batch_id,
								const struct PgsWatermarks *watermarks,
								PgsAggResult *result);
extern void pgs_agg_forget_plans(void);
extern const void *pgs_agg_partial_arg(const struct PgsQuery *q);
extern void pgs_agg_partial_finish(Query *query, const void *arg);
extern void pgs_agg_execute_partials(const struct PgsQuery *q, int64 batch_id,
									 List *partials,
									 const struct PgsWatermarks *watermarks,
									 PgsAggResult *result);
extern int64 pgs_agg_state_count(const struct PgsQuery *q);

/* the merge placement of a distributed aggregation (agg_exec.c) */
extern void pgs_agg_execute_exchange(const struct PgsQuery *q, int64 batch_id,
									 struct PgsBatchParams *params,
									 bool time_null, TimestampTz max_time,
									 PgsAggResult *result);

/*
 * The watermarks of a merge, from the marks of the rows it read: false
 * without an event time.
 */
typedef bool (*PgsMergeWatermark) (void *arg, List *marks,
								   struct PgsWatermarks *w);
extern List *pgs_agg_merge_exchange(const struct PgsQuery *q, int64 merge_id,
									Oid exchange_relid, const char *filter,
									int64 state_rows_before,
									PgsMergeWatermark merge_watermark, void *arg,
									PgsAggResult *result);
extern void pgs_agg_exchange_forget(Oid exchange_relid, const char *filter);
extern char *pgs_agg_exchange_columns(const PgsAggShape *shape);

/* statements of the state's batches (agg_exec.c) */
#include "executor/spi.h"
#include "utils/tuplestore.h"
extern SPIPlanPtr pgs_state_prepare(const char *sql, int nargs, Oid *argtypes);
extern void pgs_state_register(const char *name, Tuplestorestate *ts,
							   TupleDesc desc);
extern Tuplestorestate *pgs_state_run_into(SPIPlanPtr plan, ParamListInfo params,
										   MemoryContext cxt);
extern ParamListInfo pgs_state_params(int n, Oid *types, Datum *values,
									  const char *nulls);
extern Tuplestorestate *pgs_state_drop_late(Tuplestorestate *rows, TupleDesc desc,
											int col, int64 size, bool late_null,
											int64 late, bool count_nulls,
											MemoryContext cxt, int64 *dropped);

/* dedup.c */
extern Oid	pgs_dedup_create_state(const char *query_name, List *key_types,
								   List *key_collations, Oid time_type);
extern void pgs_dedup_execute(const struct PgsQuery *q, int64 batch_id,
							  struct PgsBatchParams *params,
							  const struct PgsWatermarks *watermarks,
							  PgsAggResult *result);
extern void pgs_dedup_create_chain_state(const char *query_name, Oid agg_state_relid,
										 List *key_types, List *key_collations,
										 Oid time_type);
extern bool pgs_dedup_chained(const struct PgsQuery *q);
extern void pgs_dedup_forget_plans(void);

/* agg_chain.c */
extern int	pgs_agg_chain_find(Query *query, Oid stream_relid);
extern void pgs_agg_chain_describe(Query *query, int rti, Oid stream_relid,
								   const char *event_time, PgsAggShape *lower,
								   PgsAggShape *upper, bool check);
extern bool pgs_agg_chain_same(Query *old, PgsAggShape *old_upper, Query *new,
							   Oid stream_relid, const char *event_time);
extern void pgs_agg_chain_cut(Query *query, int rti, bool lower);
extern TupleDesc pgs_agg_chain_rows_desc(Query *query, int rti);
extern Oid	pgs_agg_create_chain_state(const char *query_name, Oid owner,
									   const PgsAggShape *lower,
									   Oid upper_state_relid);
extern Oid	pgs_agg_chain_state(const struct PgsQuery *q);

/* window.c */
extern void pgs_watermark_advance(bool *null, TimestampTz *watermark,
								  TimestampTz latest, int64 delay_usecs);

#endif							/* PGS_AGG_H */
