/*-------------------------------------------------------------------------
 *
 * agg_funcs.c
 *	  stream._agg_combine and stream._agg_final: an aggregate's combine and
 *	  final functions over states kept in a state table.
 *
 * Both run only inside a batch's merge statement, in a catalog stretch
 * (their EXECUTE right is the extension owner's alone), because they read
 * serialized states, and a deserialization function trusts its input: the
 * states they get come from the batch's own partial aggregation or from
 * the state table, which only that statement writes.  The aggregate's own
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
#include "catalog/pg_proc.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/acl.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_agg_combine);
PG_FUNCTION_INFO_V1(stream_agg_final);

/* the owner of the query whose batch is merging its states, or invalid */
static Oid	af_owner = InvalidOid;

void
pgs_agg_set_call_owner(Oid owner)
{
	af_owner = owner;
}

typedef struct AfCache
{
	Oid			aggfnoid;
	Oid			owner;
	Oid			collation;
	Oid			transtype;
	int16		translen;
	bool		transbyval;
	bool		internal;
	FmgrInfo	combinefn;
	FmgrInfo	serialfn;
	FmgrInfo	deserialfn;
	FmgrInfo	finalfn;
	bool		has_final;
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

static AfCache *
af_cache(FunctionCallInfo fcinfo, Oid aggfnoid, Oid collation)
{
	AfCache    *c = (AfCache *) fcinfo->flinfo->fn_extra;
	HeapTuple	tup;
	Form_pg_aggregate agg;
	Oid			aggowner;
	MemoryContext old;

	if (!OidIsValid(af_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s runs only inside the batch of a streaming aggregation",
						get_func_name(fcinfo->flinfo->fn_oid))));
	if (c != NULL && c->aggfnoid == aggfnoid && c->owner == af_owner &&
		c->collation == collation)
		return c;

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (c == NULL)
	{
		c = palloc0(sizeof(AfCache));
		c->econtext = CreateStandaloneExprContext();
		c->aggstate = makeNode(AggState);
		c->aggstate->curaggcontext = c->econtext;
		c->aggstate->tmpcontext = c->econtext;
		fcinfo->flinfo->fn_extra = c;
	}
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

	if (!OidIsValid(agg->aggcombinefn))
		elog(ERROR, "aggregate %u has no combine function", aggfnoid);
	c->aggfnoid = aggfnoid;
	c->owner = af_owner;
	c->collation = collation;
	c->internal = agg->aggtranstype == INTERNALOID;
	fmgr_info_cxt(agg->aggcombinefn, &c->combinefn, fcinfo->flinfo->fn_mcxt);
	if (c->internal)
	{
		fmgr_info_cxt(agg->aggserialfn, &c->serialfn, fcinfo->flinfo->fn_mcxt);
		fmgr_info_cxt(agg->aggdeserialfn, &c->deserialfn, fcinfo->flinfo->fn_mcxt);
	}
	c->has_final = OidIsValid(agg->aggfinalfn);
	if (c->has_final)
		fmgr_info_cxt(agg->aggfinalfn, &c->finalfn, fcinfo->flinfo->fn_mcxt);
	ReleaseSysCache(tup);
	MemoryContextSwitchTo(old);
	return c;
}

/* call one of the aggregate's functions as the query's owner */
static Datum
af_call(AfCache *c, FmgrInfo *fn, int nargs, Datum a0, bool n0, Datum a1,
		bool n1, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	Oid			save_user;
	int			save_sec;
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
	result = FunctionCallInvoke(fcinfo);
	SetUserIdAndSecContext(save_user, save_sec);
	*isnull = fcinfo->isnull;
	return result;
}

/* a stored state as the aggregate's functions take it, in its context */
static Datum
af_state_in(AfCache *c, Datum d, bool isnull, Oid type, bool *out_null)
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
		return af_call(c, &c->deserialfn, 2, d, false, PointerGetDatum(NULL),
					   false, out_null);
	}
	if (type != c->transtype)
	{
		get_typlenbyval(type, &c->translen, &c->transbyval);
		c->transtype = type;
	}
	if (c->translen == -1)
		return PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
	return datumCopy(d, c->transbyval, c->translen);
}

/*
 * stream._agg_combine(aggregate oid, collation oid, a anyelement,
 *					   b anyelement) returns anyelement
 * The state that combines a and b: serialized for an internal state.
 */
Datum
stream_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 2);
	AfCache    *c;
	Datum		s1,
				s2,
				r;
	bool		n1,
				n2,
				rnull;
	int16		len;
	bool		byval;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	c = af_cache(fcinfo, PG_GETARG_OID(0), PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1));
	get_typlenbyval(type, &len, &byval);

	/* a strict combine function leaves a lone state as it is */
	if (c->combinefn.fn_strict && (PG_ARGISNULL(2) || PG_ARGISNULL(3)))
	{
		if (PG_ARGISNULL(2) && PG_ARGISNULL(3))
			PG_RETURN_NULL();
		return PG_ARGISNULL(2) ? PG_GETARG_DATUM(3) : PG_GETARG_DATUM(2);
	}

	MemoryContextSwitchTo(c->econtext->ecxt_per_tuple_memory);
	s1 = af_state_in(c, PG_GETARG_DATUM(2), PG_ARGISNULL(2), type, &n1);
	s2 = af_state_in(c, PG_GETARG_DATUM(3), PG_ARGISNULL(3), type, &n2);
	r = af_call(c, &c->combinefn, 2, s1, n1, s2, n2, &rnull);
	if (!rnull && c->internal)
		r = af_call(c, &c->serialfn, 1, r, false, (Datum) 0, true, &rnull);
	MemoryContextSwitchTo(caller);
	if (!rnull)
		r = datumCopy(r, byval, len);
	ReScanExprContext(c->econtext);
	if (rnull)
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
	MemoryContext caller = CurrentMemoryContext;
	Oid			state_type = get_fn_expr_argtype(fcinfo->flinfo, 2);
	Oid			result_type = get_fn_expr_rettype(fcinfo->flinfo);
	AfCache    *c;
	Datum		s,
				r;
	bool		snull,
				rnull;
	int16		len;
	bool		byval;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	c = af_cache(fcinfo, PG_GETARG_OID(0), PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1));
	get_typlenbyval(result_type, &len, &byval);

	MemoryContextSwitchTo(c->econtext->ecxt_per_tuple_memory);
	s = af_state_in(c, PG_GETARG_DATUM(2), PG_ARGISNULL(2), state_type, &snull);
	if (!c->has_final)
	{
		r = s;
		rnull = snull;
	}
	else if (snull && c->finalfn.fn_strict)
		rnull = true, r = (Datum) 0;
	else
		r = af_call(c, &c->finalfn, 1, s, snull, (Datum) 0, true, &rnull);
	MemoryContextSwitchTo(caller);
	if (!rnull)
		r = datumCopy(r, byval, len);
	ReScanExprContext(c->econtext);
	if (rnull)
		PG_RETURN_NULL();
	return r;
}
