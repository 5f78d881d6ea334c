/*-------------------------------------------------------------------------
 *
 * agg_internal.h
 *	  What the files of a streaming aggregation (agg_state.c, agg_target.c,
 *	  agg_plans.c, agg_exec.c) share among themselves.  Only the files of
 *	  state/ include this; everybody else uses pgs_agg.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_AGG_INTERNAL_H
#define PGS_AGG_INTERNAL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "nodes/pg_list.h"

#include "state/pgs_agg.h"

/* the ephemeral named relations a batch's statements read */
#define AGG_PARTIAL_ENR		"pgs_partial"
#define AGG_GROUPS_ENR		"pgs_groups"
/* the closed windows of the lower aggregation of a chain (agg_chain.c) */
#define AGG_LOWER_ENR		"pgs_lower"
/* the exchange rows a coordinator's merge read (merge of distributed shards) */
#define AGG_EXCHANGE_ENR	"pgs_exchange"

/* agg_state.c */
extern char *pgs_agg_operator(Oid opno);
extern Oid	pgs_agg_equality(Oid type);

/* agg_target.c */
extern List *pgs_agg_key_columns(const PgsAggShape *shape, List *output_names);

/* agg_plans.c */
extern TupleDesc pgs_agg_rows_desc(const PgsAggShape *shape, bool states,
								   bool with_new);
extern char *pgs_agg_compose_session_merge(const PgsAggShape *shape,
										   Oid state_relid);
extern void pgs_agg_compose_merge(const PgsAggShape *shape, Oid state_relid,
								  char **merge, char **all);
extern void pgs_agg_compose_target(const PgsAggShape *shape, Oid state_relid,
								   Oid target_relid, List *output_names,
								   bool append, bool replace, char **clear,
								   char **write, char **leave);
extern char *pgs_agg_compose_rows(const PgsAggShape *shape, Oid state_relid);
extern char *pgs_agg_compose_evict(const PgsAggShape *shape, Oid state_relid);
extern char *pgs_agg_compose_exchange(const PgsAggShape *shape, Oid exchange_relid);
extern char *pgs_agg_compose_combine(const PgsAggShape *shape);

/* agg_funcs.c: an aggregate's combine and final functions, called from C */
typedef struct AfCache PgsAggFuncs;
extern PgsAggFuncs *pgs_agg_funcs_open(PgsAggFuncs **cache, MemoryContext mcxt,
									   Oid aggfnoid, Oid collation,
									   Oid state_type, Oid result_type);
extern Datum pgs_agg_funcs_combine(PgsAggFuncs *f, Datum a, bool anull,
								   Datum b, bool bnull, bool *isnull);
extern Datum pgs_agg_funcs_final(PgsAggFuncs *f, Datum state, bool isnull,
								 bool *result_null);

/* agg_merge.c: the merge of a batch's partial groups into the state, in C */
typedef struct PgsAggMerge PgsAggMerge;
struct Tuplestorestate;
extern PgsAggMerge *pgs_agg_merge_prepare(const PgsAggShape *shape,
										  Oid state_relid, MemoryContext mcxt);
extern struct Tuplestorestate *pgs_agg_merge_run(PgsAggMerge *m,
												 struct Tuplestorestate *partial,
												 TupleDesc partial_desc,
												 TupleDesc groups_desc,
												 int64 batch_id,
												 MemoryContext cxt);
extern void pgs_agg_merge_free(PgsAggMerge *m);

#endif							/* PGS_AGG_INTERNAL_H */
