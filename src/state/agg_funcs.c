/*-------------------------------------------------------------------------
 *
 * agg_funcs.c
 *	  stream._agg_combine and stream._agg_final: an aggregate's combine and
 *	  final functions over states kept in a state table; and the same for
 *	  the merge in C (agg_merge.c), pgs_agg_funcs_*.
 *
 * Both run only inside a batch's merge, in a catalog stretch (the SQL
 * functions' EXECUTE right is the extension owner's alone), because they
 * read serialized states, and a deserialization function trusts its input:
 * the states they get come from the batch's own partial aggregation or
 * from the state table, which only the merge writes.  The aggregate's own
 * functions run as the query's owner, under SECURITY_RESTRICTED_OPERATION,
 * with the call context of an aggregation (AggCheckCallContext sees an
 * AggState whose aggregate context is reset after every call), each input
 * copied first, since a combine function may change its first state in
 * place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "parser/parse_agg.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "state/agg_internal.h"
#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_agg_combine);
PG_FUNCTION_INFO_V1(stream_agg_final);
PG_FUNCTION_INFO_V1(stream_agg_merge_step);

/*
 * The owner of the query whose batch is merging its states, or invalid,
 * and the query's search_path, for the functions users write.
 */
static Oid	af_owner = InvalidOid;
static char af_search_path[1024];

void
pgs_agg_set_call_owner(Oid owner, const char *search_path)
{
	af_owner = owner;
	strlcpy(af_search_path, search_path ? search_path : "pg_catalog, pg_temp",
			sizeof(af_search_path));
}

typedef struct AfCache
{
	Oid			aggfnoid;
	Oid			owner;
	Oid			collation;
	Oid			state_type;		/* of the stored states */
	Oid			result_type;	/* of the results (_agg_final) */
	int16		resultlen;
	bool		resultbyval;
	Oid			transtype;
	int16		translen;
	bool		transbyval;
	bool		internal;
	FmgrInfo	combinefn;
	FmgrInfo	serialfn;
	FmgrInfo	deserialfn;
	FmgrInfo	finalfn;
	bool		has_final;
	bool		combine_guc;	/* the function is not C: give its settings a level */
	bool		final_guc;
	AggState   *aggstate;		/* what the functions see as their context */
	ExprContext *econtext;		/* its aggregate context */
} AfCache;

static void
af_check_execute(Oid fn, Oid role)
{
	if (OidIsValid(fn) &&
		pg_proc_aclcheck(fn, role, ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(fn));
}

static Oid
af_func_owner(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/* is a function written in a language users can write in? */
static bool
af_user_language(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	Oid			lang;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	lang = ((Form_pg_proc) GETSTRUCT(tup))->prolang;
	ReleaseSysCache(tup);
	return lang != INTERNALlanguageId && lang != ClanguageId;
}

/* may a state of type "actual" be the aggregate's state of type "declared"? */
static bool
af_state_type_fits(Oid declared, Oid actual)
{
	if (declared == INTERNALOID)
		return actual == BYTEAOID;
	if (!IsPolymorphicType(declared))
		return actual == declared;
	if (get_typtype(actual) == TYPTYPE_PSEUDO)
		return false;
	switch (declared)
	{
		case ANYARRAYOID:
		case ANYCOMPATIBLEARRAYOID:
			return type_is_array(actual);
		case ANYRANGEOID:
		case ANYCOMPATIBLERANGEOID:
			return type_is_range(actual);
		case ANYMULTIRANGEOID:
		case ANYCOMPATIBLEMULTIRANGEOID:
			return type_is_multirange(actual);
		case ANYENUMOID:
			return type_is_enum(actual);
		default:
			return true;
	}
}

static void
af_mismatch(Oid aggfnoid)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("aggregate %s no longer matches the states a streaming aggregation kept for it",
					format_procedure(aggfnoid)),
			 errdetail("The aggregate was replaced with another transition or result type."),
			 errhint("Drop the streaming query and start it again.")));
}

/*
 * The aggregate's functions, looked up once per call site, in *cp (made in
 * mcxt on first use; the merge of agg_merge.c looks them up once per
 * batch).  The stored states must be of the aggregate's present state
 * type: an aggregate replaced in place (CREATE OR REPLACE AGGREGATE keeps
 * its OID) with another one is refused, never fed states of the old type.
 */
static AfCache *
af_cache_in(AfCache **cp, MemoryContext mcxt, Oid caller,
			Oid aggfnoid, Oid collation, Oid state_type, Oid result_type)
{
	AfCache    *c = *cp;
	HeapTuple	tup;
	Form_pg_aggregate agg;
	Oid			aggowner;
	Oid			declared_result;
	MemoryContext old;
	Expr	   *expr;

	if (!OidIsValid(af_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s runs only inside the batch of a streaming aggregation",
						OidIsValid(caller) ? get_func_name(caller) :
						"the merge of aggregate states")));
	if (c != NULL && c->aggfnoid == aggfnoid && c->owner == af_owner &&
		c->collation == collation && c->state_type == state_type &&
		c->result_type == result_type)
		return c;

	tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
	agg = (Form_pg_aggregate) GETSTRUCT(tup);

	/* as the executor checks them: the caller's right, the owner's rights */
	af_check_execute(aggfnoid, af_owner);
	aggowner = af_func_owner(aggfnoid);
	af_check_execute(agg->aggcombinefn, aggowner);
	af_check_execute(agg->aggserialfn, aggowner);
	af_check_execute(agg->aggdeserialfn, aggowner);
	af_check_execute(agg->aggfinalfn, aggowner);

	if (!OidIsValid(agg->aggcombinefn) || agg->aggfinalextra ||
		(agg->aggtranstype == INTERNALOID &&
		 (!OidIsValid(agg->aggserialfn) || !OidIsValid(agg->aggdeserialfn))) ||
		!af_state_type_fits(agg->aggtranstype, state_type))
		af_mismatch(aggfnoid);
	declared_result = get_func_rettype(aggfnoid);
	if (OidIsValid(result_type) && !IsPolymorphicType(declared_result) &&
		getBaseType(declared_result) != result_type)
		af_mismatch(aggfnoid);

	/* what stays with the cache is made in its context */
	old = MemoryContextSwitchTo(mcxt);
	if (c == NULL)
	{
		c = palloc0(sizeof(AfCache));
		c->econtext = CreateStandaloneExprContext();
		c->aggstate = makeNode(AggState);
		c->aggstate->curaggcontext = c->econtext;
		c->aggstate->tmpcontext = c->econtext;
		*cp = c;
	}
	c->aggfnoid = InvalidOid;	/* until filled in */

	c->internal = agg->aggtranstype == INTERNALOID;
	c->transtype = c->internal ? INTERNALOID : state_type;
	get_typlenbyval(state_type, &c->translen, &c->transbyval);
	if (OidIsValid(result_type))
		get_typlenbyval(result_type, &c->resultlen, &c->resultbyval);

	/* with their call expressions, for polymorphic functions */
	fmgr_info_cxt(agg->aggcombinefn, &c->combinefn, mcxt);
	build_aggregate_transfn_expr(&c->transtype, 1, 0, false, c->transtype,
								 collation, agg->aggcombinefn, InvalidOid,
								 &expr, NULL);
	fmgr_info_set_expr((Node *) expr, &c->combinefn);
	c->combine_guc = af_user_language(agg->aggcombinefn);
	if (c->internal)
	{
		fmgr_info_cxt(agg->aggserialfn, &c->serialfn, mcxt);
		build_aggregate_serialfn_expr(agg->aggserialfn, &expr);
		fmgr_info_set_expr((Node *) expr, &c->serialfn);
		fmgr_info_cxt(agg->aggdeserialfn, &c->deserialfn, mcxt);
		build_aggregate_deserialfn_expr(agg->aggdeserialfn, &expr);
		fmgr_info_set_expr((Node *) expr, &c->deserialfn);
	}
	c->has_final = OidIsValid(agg->aggfinalfn);
	if (c->has_final)
	{
		fmgr_info_cxt(agg->aggfinalfn, &c->finalfn, mcxt);
		build_aggregate_finalfn_expr(NULL, 1, c->transtype,
									 OidIsValid(result_type) ? result_type : declared_result,
									 collation, agg->aggfinalfn, &expr);
		fmgr_info_set_expr((Node *) expr, &c->finalfn);
		c->final_guc = af_user_language(agg->aggfinalfn);
	}
	ReleaseSysCache(tup);
	c->owner = af_owner;
	c->collation = collation;
	c->state_type = state_type;
	c->result_type = result_type;
	c->aggfnoid = aggfnoid;
	MemoryContextSwitchTo(old);
	return c;
}

/* the same, for one of the SQL functions below */
static AfCache *
af_cache(FunctionCallInfo fcinfo, Oid aggfnoid, Oid collation, Oid state_type,
		 Oid result_type)
{
	return af_cache_in((AfCache **) &fcinfo->flinfo->fn_extra,
					   fcinfo->flinfo->fn_mcxt,
					   fcinfo->flinfo->fn_oid,
					   aggfnoid, collation, state_type, result_type);
}

/* call one of the aggregate's functions as the query's owner */
static Datum
af_call(AfCache *c, FmgrInfo *fn, bool guc_level, int nargs, Datum a0,
		bool n0, Datum a1, bool n1, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	Oid			save_user;
	int			save_sec;
	int			nest = 0;
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, fn, nargs, c->collation,
							 (Node *) c->aggstate, NULL);
	fcinfo->args[0].value = a0;
	fcinfo->args[0].isnull = n0;
	fcinfo->args[1].value = a1;
	fcinfo->args[1].isnull = n1;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(c->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	/*
	 * A function users can write runs with the query's search_path, as in
	 * any aggregation of the query's; what it sets is rolled back after it.
	 */
	if (guc_level)
	{
		nest = NewGUCNestLevel();
		(void) set_config_option("search_path", af_search_path, PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	}
	result = FunctionCallInvoke(fcinfo);
	if (guc_level)
		AtEOXact_GUC(false, nest);
	SetUserIdAndSecContext(save_user, save_sec);
	*isnull = fcinfo->isnull;
	return result;
}

/* a stored state as the aggregate's functions take it, in its context */
static Datum
af_state_in(AfCache *c, Datum d, bool isnull, bool *out_null)
{
	*out_null = isnull;
	if (isnull)
		return (Datum) 0;
	if (c->internal)
	{
		/*
		 * Stored, the serialized state may be compressed or out of line,
		 * which no deserialization function expects of a state a partial
		 * aggregation hands over: it gets a plain copy.  Strict, with a
		 * dummy second argument, as the executor calls it.
		 */
		d = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
		return af_call(c, &c->deserialfn, false, 2, d, false,
					   PointerGetDatum(NULL), false, out_null);
	}
	if (c->translen == -1)
		return PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
	return datumCopy(d, c->transbyval, c->translen);
}

/* the state that combines a and b, in the caller's context */
static Datum
af_combine_in(AfCache *c, Datum a, bool anull, Datum b, bool bnull, bool *isnull)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		s1,
				s2,
				r;
	bool		n1,
				n2,
				rnull;

	/* a strict combine function leaves a lone state as it is */
	if (c->combinefn.fn_strict && (anull || bnull))
	{
		*isnull = anull && bnull;
		if (*isnull)
			return (Datum) 0;
		return datumCopy(anull ? b : a, c->transbyval, c->translen);
	}

	MemoryContextSwitchTo(c->econtext->ecxt_per_tuple_memory);
	s1 = af_state_in(c, a, anull, &n1);
	s2 = af_state_in(c, b, bnull, &n2);
	r = af_call(c, &c->combinefn, c->combine_guc, 2, s1, n1, s2, n2, &rnull);
	if (!rnull && c->internal)
		r = af_call(c, &c->serialfn, false, 1, r, false, (Datum) 0, true, &rnull);
	MemoryContextSwitchTo(caller);
	if (!rnull)
		r = datumCopy(r, c->transbyval, c->translen);
	ReScanExprContext(c->econtext);
	*isnull = rnull;
	return r;
}

/* the state that combines a and b, of type "type", in the caller's context */
static Datum
af_combine(FunctionCallInfo fcinfo, Oid aggfnoid, Oid collation, Oid type,
		   Datum a, bool anull, Datum b, bool bnull, bool *isnull)
{
	AfCache    *c = af_cache(fcinfo, aggfnoid, collation, type, InvalidOid);

	return af_combine_in(c, a, anull, b, bnull, isnull);
}

/* the aggregate's result from a stored state, in the caller's context */
static Datum
af_final_in(AfCache *c, Datum state, bool isnull, bool *result_null)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		s,
				r;
	bool		snull,
				rnull;

	MemoryContextSwitchTo(c->econtext->ecxt_per_tuple_memory);
	s = af_state_in(c, state, isnull, &snull);
	if (!c->has_final)
	{
		r = s;
		rnull = snull;
	}
	else if (snull && c->finalfn.fn_strict)
		rnull = true, r = (Datum) 0;
	else
		r = af_call(c, &c->finalfn, c->final_guc, 1, s, snull, (Datum) 0, true, &rnull);
	MemoryContextSwitchTo(caller);
	if (!rnull)
		r = datumCopy(r, c->resultbyval, c->resultlen);
	ReScanExprContext(c->econtext);
	*result_null = rnull;
	return r;
}

/*
 * The C interface of the merge (agg_merge.c), which keeps *cache with the
 * query's statements: the aggregate's functions, checked again at each
 * call (once per batch), as the SQL functions below check them at each
 * statement.  The call owner must be set (pgs_agg_set_call_owner).
 */
PgsAggFuncs *
pgs_agg_funcs_open(PgsAggFuncs **cache, MemoryContext mcxt, Oid aggfnoid,
				   Oid collation, Oid state_type, Oid result_type)
{
	return af_cache_in(cache, mcxt, InvalidOid, aggfnoid, collation,
					   state_type, result_type);
}

/* the stored state "a" combined with the partial state "b", serialized */
Datum
pgs_agg_funcs_combine(PgsAggFuncs *f, Datum a, bool anull, Datum b, bool bnull,
					  bool *isnull)
{
	return af_combine_in(f, a, anull, b, bnull, isnull);
}

/* the aggregate's result from a state as stored */
Datum
pgs_agg_funcs_final(PgsAggFuncs *f, Datum state, bool isnull, bool *result_null)
{
	return af_final_in(f, state, isnull, result_null);
}

/*
 * stream._agg_combine(aggregate oid, collation oid, a anyelement,
 *					   b anyelement) returns anyelement
 * The state that combines a and b: serialized for an internal state.
 */
Datum
stream_agg_combine(PG_FUNCTION_ARGS)
{
	Datum		r;
	bool		isnull;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	r = af_combine(fcinfo, PG_GETARG_OID(0), PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1),
				   get_fn_expr_argtype(fcinfo->flinfo, 2),
				   PG_GETARG_DATUM(2), PG_ARGISNULL(2),
				   PG_GETARG_DATUM(3), PG_ARGISNULL(3), &isnull);
	if (isnull)
		PG_RETURN_NULL();
	return r;
}

/*
 * stream._agg_merge_step(state anyelement, aggregate oid, collation oid,
 *						  value anyelement): the transition function of the
 * aggregate stream._agg_merge, which combines every state of a group of
 * rows (the sessions a batch merged).
 */
Datum
stream_agg_merge_step(PG_FUNCTION_ARGS)
{
	Datum		r;
	bool		isnull;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0) && PG_ARGISNULL(3))
		PG_RETURN_NULL();
	r = af_combine(fcinfo, PG_GETARG_OID(1), PG_ARGISNULL(2) ? InvalidOid : PG_GETARG_OID(2),
				   get_fn_expr_argtype(fcinfo->flinfo, 3),
				   PG_GETARG_DATUM(0), PG_ARGISNULL(0),
				   PG_GETARG_DATUM(3), PG_ARGISNULL(3), &isnull);
	if (isnull)
		PG_RETURN_NULL();
	return r;
}

/*
 * stream._agg_final(aggregate oid, collation oid, state "any",
 *					 result_type anyelement) returns anyelement
 * The aggregate's result from a stored state.
 */
Datum
stream_agg_final(PG_FUNCTION_ARGS)
{
	Oid			state_type = get_fn_expr_argtype(fcinfo->flinfo, 2);
	Oid			result_type = get_fn_expr_rettype(fcinfo->flinfo);
	AfCache    *c;
	Datum		r;
	bool		rnull;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	c = af_cache(fcinfo, PG_GETARG_OID(0), PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1),
				 state_type, result_type);
	r = af_final_in(c, PG_GETARG_DATUM(2), PG_ARGISNULL(2), &rnull);
	if (rnull)
		PG_RETURN_NULL();
	return r;
}
