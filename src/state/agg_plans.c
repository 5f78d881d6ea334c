/*-------------------------------------------------------------------------
 *
 * agg_plans.c
 *	  The statements of a streaming aggregation's batch, composed from the
 *	  query's shape: the merge into the state table, every group's results,
 *	  the closed windows' eviction, and the writes of the target.
 *
 * The statements of the catalog stretch run as the superuser: they name no
 * type and no function outside pg_catalog and stream (result types come
 * from parameters), so that nothing a query's owner creates can take their
 * place.  The target's statements run as the owner over the groups'
 * results, with the query's select list, HAVING and ORDER BY deparsed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "analyze/pgs_analyze.h"
#include "common/pgs_common.h"
#include "state/agg_internal.h"
#include "state/pgs_agg.h"

/*
 * A description of rows of a query's groups, for the analysis of the
 * statements that read them as an ephemeral named relation: the keys, then
 * per aggregate its transition state (states: the partial aggregation's
 * output) or its final result (the touched groups), then with_new, the
 * boolean _new that tells a group the batch created.
 */
TupleDesc
pgs_agg_rows_desc(const PgsAggShape *shape, bool states, bool with_new)
{
	int			n = list_length(shape->keys) + list_length(shape->calls) +
		(with_new ? 1 : 0);
	TupleDesc	d = CreateTemplateTupleDesc(Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		TupleDescInitEntry(d, i, psprintf("key_%d", i), getBaseType(k->type), -1, 0);
		TupleDescInitEntryCollation(d, i, k->collation);
	}
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);
		char	   *name;

		i++;
		name = psprintf("agg_%d", i - list_length(shape->keys));
		if (states)
			TupleDescInitEntry(d, i, name, c->state_type, -1, 0);
		else
		{
			TupleDescInitEntry(d, i, name, getBaseType(c->aggref->aggtype), -1, 0);
			TupleDescInitEntryCollation(d, i, c->aggref->aggcollid);
		}
	}
	if (with_new)
		TupleDescInitEntry(d, n, "_new", BOOLOID, -1, 0);
	return d;
}

/*
 * stream._agg_final(...) of aggregate n over column agg_<n> of alias "a".
 * Its result type comes from parameter $<param>, a NULL declared of the
 * result's base type: no type is named in the statement, which runs as the
 * superuser (a name could be made to lead to another type, a domain's
 * CHECK would run).
 */
static void
ap_final_call(StringInfo buf, const PgsAggCall *c, const char *alias, int n,
			  int param)
{
	appendStringInfo(buf, "stream._agg_final(%u::pg_catalog.oid, %u::pg_catalog.oid, %s.agg_%d, $%d) AS agg_%d",
					 c->aggref->aggfnoid, c->aggref->inputcollid, alias, n,
					 param, n);
}

/*
 * The select list of the groups' results; the result types' parameters
 * start at $<first_param>.
 */
static void
ap_results_list(StringInfo buf, const PgsAggShape *shape, const char *alias,
				const char *new_expr, int first_param)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, shape->keys)
		appendStringInfo(buf, "%s.key_%d, ", alias, ++i);
	i = 0;
	foreach(lc, shape->calls)
	{
		ap_final_call(buf, lfirst(lc), alias, i + 1, first_param + i);
		i++;
		appendStringInfoString(buf, ", ");
	}
	appendStringInfo(buf, "%s AS _new", new_expr);
}

/*
 * The merge of a session-window aggregation: the batch's rows (grouped by
 * their own times, each a session [t, t + gap)) and the stored sessions of
 * the keys they touch are ordered by start within each key; a session that
 * starts after the end of every one before it starts a new merged session;
 * the stored sessions are replaced by the merged ones, whose states
 * stream._agg_merge combines.  Parameters as in the merge: $1 the batch,
 * then the result types.
 */
char *
pgs_agg_compose_session_merge(const PgsAggShape *shape, Oid state_relid)
{
	StringInfoData buf;
	StringInfoData others;		/* the other keys, as key_<n> */
	StringInfoData match;
	StringInfoData aggs;
	StringInfoData cols;
	StringInfoData sel;
	char	   *gap = psprintf("'" INT64_FORMAT " microseconds'::pg_catalog.interval",
							   shape->time_size);
	int			t = shape->time_key + 1;
	ListCell   *lc;
	int			i;

	initStringInfo(&others);
	initStringInfo(&match);
	initStringInfo(&aggs);
	initStringInfo(&cols);
	initStringInfo(&sel);
	i = 0;
	foreach(lc, shape->keys)
	{
		PgsAggKey  *k = lfirst(lc);

		i++;
		appendStringInfo(&cols, "key_%d, ", i);
		if (i == t)
		{
			appendStringInfoString(&sel, "pg_catalog.min(g._s), ");
			continue;
		}
		appendStringInfo(&sel, "g.key_%d, ", i);
		appendStringInfo(&others, "%skey_%d", others.len ? ", " : "", i);
		appendStringInfo(&match, "%s(st.key_%d %s k.key_%d OR (st.key_%d IS NOT DISTINCT FROM NULL AND k.key_%d IS NOT DISTINCT FROM NULL))",
						 match.len ? " AND " : "", i, pgs_agg_operator(pgs_agg_equality(k->type)),
						 i, i, i);
	}
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		appendStringInfo(&aggs, ", agg_%d", i);
		appendStringInfo(&cols, "agg_%d, ", i);
		appendStringInfo(&sel, "stream._agg_merge(%u::pg_catalog.oid, %u::pg_catalog.oid, g.agg_%d ORDER BY g._s), ",
						 c->aggref->aggfnoid, c->aggref->inputcollid, i);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "WITH p AS (SELECT %s, key_%d AS _s, key_%d OPERATOR(pg_catalog.+) %s AS _e%s"
					 " FROM " AGG_PARTIAL_ENR " WHERE key_%d IS NOT NULL),"
					 " k AS (SELECT DISTINCT %s FROM p),"
					 " old AS (DELETE FROM %s st USING k WHERE %s RETURNING st.*),"
					 " u AS (SELECT %s, _s, _e%s FROM p"
					 " UNION ALL SELECT %s, key_%d, _session_end%s FROM old),"
					 " o AS (SELECT u.*, pg_catalog.max(u._e) OVER (PARTITION BY %s ORDER BY u._s"
					 " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS _prev FROM u),"
					 " f AS (SELECT o.*, CASE WHEN o._prev IS NULL OR o._s OPERATOR(pg_catalog.>) o._prev"
					 " THEN 1 ELSE 0 END AS _flag FROM o),"
					 /* among rows of one start, a new session's first */
					 " g AS (SELECT f.*, pg_catalog.sum(f._flag) OVER (PARTITION BY %s ORDER BY f._s,"
					 " f._flag DESC ROWS UNBOUNDED PRECEDING) AS _sid FROM f),"
					 " m AS (INSERT INTO %s AS s (%s_session_end, _first_batch, _last_batch)"
					 " SELECT %spg_catalog.max(g._e), $1, $1 FROM g GROUP BY %s, g._sid RETURNING s.*)"
					 " SELECT ",
					 others.data, t, t, gap, aggs.data, t,
					 others.data,
					 pgs_qualified_relname(state_relid), match.data,
					 others.data, aggs.data,
					 others.data, t, aggs.data,
					 others.data,
					 others.data,
					 pgs_qualified_relname(state_relid), cols.data,
					 sel.data, others.data);
	ap_results_list(&buf, shape, "m", "true", 2);
	appendStringInfoString(&buf, " FROM m");
	return buf.data;
}

/* the statements of the catalog stretch: merge, and every group's results */
void
pgs_agg_compose_merge(const PgsAggShape *shape, Oid state_relid, char **merge,
					  char **all)
{
	StringInfoData buf;
	StringInfoData cols;
	StringInfoData keys;
	ListCell   *lc;
	int			i;
	char	   *state = pgs_qualified_relname(state_relid);

	initStringInfo(&cols);
	initStringInfo(&keys);
	i = 0;
	foreach(lc, shape->keys)
	{
		i++;
		appendStringInfo(&cols, "key_%d, ", i);
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
	}
	if (shape->keys == NIL)
		appendStringInfoString(&keys, "_one");
	i = 0;
	foreach(lc, shape->calls)
		appendStringInfo(&cols, "agg_%d, ", ++i);

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "WITH m AS (INSERT INTO %s AS s (%s_first_batch, _last_batch)"
					 " SELECT p.*, $1, $1 FROM " AGG_PARTIAL_ENR " p"
					 " ON CONFLICT (%s) DO UPDATE SET ",
					 state, cols.data, keys.data);
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		appendStringInfo(&buf,
						 "agg_%d = stream._agg_combine(%u::pg_catalog.oid, %u::pg_catalog.oid, s.agg_%d, excluded.agg_%d), ",
						 i, c->aggref->aggfnoid, c->aggref->inputcollid, i, i);
	}
	appendStringInfoString(&buf, "_last_batch = excluded._last_batch RETURNING s.*) SELECT ");
	ap_results_list(&buf, shape, "m", "m._first_batch OPERATOR(pg_catalog.=) $1", 2);
	appendStringInfoString(&buf, " FROM m");
	*merge = buf.data;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	ap_results_list(&buf, shape, "s", "false", 1);
	appendStringInfo(&buf, " FROM %s s", state);
	*all = buf.data;
}

/* the statements of the owner stretch, over the touched groups' results */
void
pgs_agg_compose_target(const PgsAggShape *shape, Oid state_relid, Oid target_relid,
					   List *output_names, bool append, bool replace,
					   char **clear, char **write, char **leave)
{
	StringInfoData buf;
	StringInfoData cols;
	StringInfoData outs;
	char	   *target = pgs_qualified_relname(target_relid);
	char	   *having = shape->having ? pgs_agg_deparse(shape->having, state_relid) : NULL;
	List	   *keycols = pgs_agg_key_columns(shape, output_names);
	ListCell   *lc;
	ListCell   *lc2;
	int			i;

	initStringInfo(&cols);
	initStringInfo(&outs);
	forboth(lc, output_names, lc2, shape->outputs)
	{
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "", quote_identifier(lfirst(lc)));
		appendStringInfo(&outs, "%s%s", outs.len ? ", " : "",
						 pgs_agg_deparse(lfirst(lc2), state_relid));
	}

	*clear = psprintf("DELETE FROM %s", target);
	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s AS t (%s) SELECT %s FROM " AGG_GROUPS_ENR " s",
					 target, cols.data, outs.data);
	if (having)
		appendStringInfo(&buf, " WHERE %s", having);
	*leave = NULL;
	if (append)
	{
		/* a closed window's row, written once */
		*write = buf.data;
		return;
	}
	if (replace)
	{
		i = 0;
		foreach(lc, shape->sort_exprs)
		{
			appendStringInfo(&buf, "%s %s USING %s NULLS %s",
							 i == 0 ? " ORDER BY" : ",",
							 pgs_agg_deparse(lfirst(lc), state_relid),
							 pgs_agg_operator(list_nth_oid(shape->sort_ops, i)),
							 list_nth_int(shape->sort_nulls_first, i) ? "FIRST" : "LAST");
			i++;
		}
		if (shape->limit_count && !((Const *) shape->limit_count)->constisnull)
			appendStringInfo(&buf, " LIMIT %s",
							 pgs_agg_deparse(shape->limit_count, state_relid));
		if (shape->limit_offset && !((Const *) shape->limit_offset)->constisnull)
			appendStringInfo(&buf, " OFFSET %s",
							 pgs_agg_deparse(shape->limit_offset, state_relid));
		*write = buf.data;
		return;
	}

	/* keyed: upsert by the keys */
	appendStringInfoString(&buf, " ON CONFLICT (");
	i = 0;
	foreach(lc, keycols)
		appendStringInfo(&buf, "%s%s", i++ ? ", " : "", quote_identifier(lfirst(lc)));
	appendStringInfoString(&buf, ") DO ");
	i = 0;
	foreach(lc, output_names)
	{
		if (pgs_list_has_str(keycols, lfirst(lc)))
			continue;
		appendStringInfo(&buf, "%s%s = excluded.%s", i++ ? ", " : "UPDATE SET ",
						 quote_identifier(lfirst(lc)), quote_identifier(lfirst(lc)));
	}
	if (i == 0)
		appendStringInfoString(&buf, "NOTHING");
	*write = buf.data;

	if (having)
	{
		initStringInfo(&buf);
		appendStringInfo(&buf, "DELETE FROM %s t USING " AGG_GROUPS_ENR " s WHERE NOT coalesce(%s, false)",
						 target, having);
		i = 0;
		forboth(lc, keycols, lc2, shape->keys)
		{
			PgsAggKey  *k = lfirst(lc2);
			const char *col = quote_identifier(lfirst(lc));

			i++;
			/* a pure NULL test: IS NULL would take a row of NULLs for one */
			appendStringInfo(&buf, " AND (t.%s %s s.key_%d OR (t.%s IS NOT DISTINCT FROM NULL AND s.key_%d IS NOT DISTINCT FROM NULL))",
							 col, pgs_agg_operator(pgs_agg_equality(k->type)), i, col, i);
		}
		*leave = buf.data;
	}
}

/*
 * The rows of the lower aggregation of a chain (agg_chain.c): its select
 * list and HAVING over its closed windows, the subquery's rows that the
 * upper aggregation reads.
 */
char *
pgs_agg_compose_rows(const PgsAggShape *shape, Oid state_relid)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT ");
	foreach(lc, shape->outputs)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 pgs_agg_deparse(lfirst(lc), state_relid));
	appendStringInfoString(&buf, " FROM " AGG_GROUPS_ENR " s");
	if (shape->having)
		appendStringInfo(&buf, " WHERE %s", pgs_agg_deparse(shape->having, state_relid));
	return buf.data;
}

/*
 * The closed windows: deleted from the state with their results.  $1 is
 * the cutoff (the watermark less the window's size), the result types'
 * parameters follow.
 */
char *
pgs_agg_compose_evict(const PgsAggShape *shape, Oid state_relid)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (shape->session)
		appendStringInfo(&buf, "WITH d AS (DELETE FROM %s s WHERE s._session_end OPERATOR(pg_catalog.<=) $1"
						 " RETURNING s.*) SELECT ", pgs_qualified_relname(state_relid));
	else
		appendStringInfo(&buf, "WITH d AS (DELETE FROM %s s WHERE s.key_%d OPERATOR(pg_catalog.<=) $1"
						 " RETURNING s.*) SELECT ",
						 pgs_qualified_relname(state_relid), shape->time_key + 1);
	ap_results_list(&buf, shape, "d", "false", 2);
	appendStringInfoString(&buf, " FROM d");
	return buf.data;
}

/*
 * A shard's batch of a merged aggregation appends its partial groups to
 * the exchange: $1 the shard's query, $2 the batch, $3 the batch's latest
 * event time.  The exchange's other columns (the distribution column)
 * stay NULL: a partial group belongs to no one value of it.
 */
char *
pgs_agg_compose_exchange(const PgsAggShape *shape, Oid exchange_relid)
{
	StringInfoData buf;
	int			n = list_length(shape->keys) + list_length(shape->calls);
	TupleDesc	desc = pgs_agg_rows_desc(shape, true, false);

	initStringInfo(&buf);
	appendStringInfo(&buf, "INSERT INTO %s (_shard_query, _batch_id, _max_event_time",
					 pgs_qualified_relname(exchange_relid));
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, ", %s",
						 quote_identifier(NameStr(TupleDescAttr(desc, i)->attname)));
	appendStringInfoString(&buf, ") SELECT $1, $2, $3, p.* FROM " AGG_PARTIAL_ENR " p");
	return buf.data;
}

/*
 * The coordinator's merge: the exchange rows it reads (AGG_EXCHANGE_ENR),
 * their groups' states combined into one partial row per group, as the
 * partial statement of one batch would give them.
 */
char *
pgs_agg_compose_combine(const PgsAggShape *shape)
{
	StringInfoData buf;
	StringInfoData keys;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&buf);
	initStringInfo(&keys);
	foreach(lc, shape->keys)
	{
		i++;
		appendStringInfo(&keys, "%skey_%d", i > 1 ? ", " : "", i);
	}
	appendStringInfo(&buf, "SELECT %s%s", keys.data, i > 0 ? ", " : "");
	i = 0;
	foreach(lc, shape->calls)
	{
		PgsAggCall *c = lfirst(lc);

		i++;
		appendStringInfo(&buf, "%sstream._agg_merge(%u::pg_catalog.oid, %u::pg_catalog.oid, agg_%d) AS agg_%d",
						 i > 1 ? ", " : "", c->aggref->aggfnoid,
						 c->aggref->inputcollid, i, i);
	}
	appendStringInfoString(&buf, " FROM " AGG_EXCHANGE_ENR);
	if (shape->keys != NIL)
		appendStringInfo(&buf, " GROUP BY %s", keys.data);
	return buf.data;
}

/*
 * The exchange's columns of the partial groups, each after a comma: the
 * keys and the states as the partial aggregation gives them (the
 * coordinator makes the table, api/merge.c).
 */
char *
pgs_agg_exchange_columns(const PgsAggShape *shape)
{
	TupleDesc	desc = pgs_agg_rows_desc(shape, true, false);
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		appendStringInfo(&buf, ", %s %s", quote_identifier(NameStr(a->attname)),
						 format_type_be_qualified(a->atttypid));
		if (OidIsValid(a->attcollation) && a->attcollation != get_typcollation(a->atttypid))
			appendStringInfo(&buf, " COLLATE %s", pgs_agg_collation_name(a->attcollation));
	}
	return buf.data;
}
