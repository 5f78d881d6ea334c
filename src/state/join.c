/*-------------------------------------------------------------------------
 *
 * join.c
 *	  One batch of a join between two streams.
 *
 * The join keeps no copy of either stream: a side's rows that a later row
 * of the other side may still meet are read from its stream table, as of
 * the batch's snapshots, through an index on the join key (design A of
 * docs/joins/state.md).  A batch b writes
 *
 *		new_b(1) JOIN arrived_b(2)   and   arrived_(b-1)(1) JOIN new_b(2)
 *
 * (the pairs whose second row arrived in b: each pair once, whatever the
 * order in which its rows' writers committed), where "arrived" leaves out
 * rows dropped as late and rows the watermark has evicted.  What the
 * streams cannot say is kept in the query's state table,
 * stream_state.<query>:
 *
 *	'u'  a row of a preserved side (outer joins, the left side of a semi
 *		 join) that has not matched yet, with its bound time: when the
 *		 watermark passes it, an outer join writes the row null-extended
 *		 and a semi join forgets it;
 *	'l'  a row dropped as late, which a read of its stream must not meet,
 *		 until the watermark passes it;
 *	's'  the snapshot the query started at (starting_from => 'latest'):
 *		 rows visible in it are not the query's.
 *
 * An aggregation over the join (append mode, grouped by a window of a
 * side's event time) has the aggregation's state table as the query's;
 * the join's is then stream_state.<query>_join, a part of it.  Each
 * statement that evaluates the query's text then runs as the query's
 * partial aggregation, and its groups are folded into the aggregation's
 * state (agg_exec.c), whose windows close by the join's output watermark.
 *
 * The user's code (the query's expressions, the stream's types) runs in
 * owner stretches; the state table is the extension's, written in catalog
 * stretches, and what passes between them are arrays of tids.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_type_d.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"

#include "analyze/pgs_analyze.h"
#include "analyze/pgs_join.h"
#include "analyze/pgs_join_rewrite.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"
#include "common/pgs_phases.h"
#include "common/pgs_errors.h"
#include "common/pgs_plans.h"
#include "source/pgs_offsets.h"
#include "state/pgs_agg.h"
#include "state/pgs_join_exec.h"

PG_FUNCTION_INFO_V1(stream_join_mark);

/* the statements of a join query that run the query's text */
typedef enum JoinStmt
{
	JS_DELTA_NEW1,				/* side 1's new rows with side 2's arrived */
	JS_DELTA_NEW2,				/* side 1's arrived (or waiting) with side 2's new */
	JS_NULL_ROWS,				/* the evicted unmatched rows, null-extended */
	JS_NSTMTS
} JoinStmt;

/* what a backend keeps of a join query: its shape and its statements */
typedef struct JoinPlans
{
	int64		query_id;		/* hash key */
	char	   *signature;
	PgsJoinShape shape;
	char	   *late_column[PGS_MAX_SIDES];
	char	   *bound_column[PGS_MAX_SIDES];
	char	   *filter[PGS_MAX_SIDES];	/* the condition's terms on a preserved
										 * side alone, over "s" */
	char	   *where[PGS_MAX_SIDES];	/* the WHERE clause's */
	PgsJoinRewrite rw[JS_NSTMTS];
	char	   *sql[JS_NSTMTS];
	SPIPlanPtr	plan[JS_NSTMTS];
	char	   *stats_sql[PGS_MAX_SIDES];
	bool		aggregates;		/* the statements are partial aggregations */
} JoinPlans;

static HTAB *join_plans = NULL;

/* the rows the delta statements found matched, per side; NULL when off */
static HTAB *join_marks[PGS_MAX_SIDES] = {NULL, NULL};

/*
 * stream._join_mark(side 1's tid, side 2's tid): the last term of a delta
 * statement's join condition, true, recording that the two rows matched.
 * Outside a join batch it records nothing, and inside one it records only
 * from the call the substitution wrote: a call from other code the batch
 * runs (a function of the query, a policy of a side's owner, a trigger of
 * the target) would otherwise mark rows of the query's preserved side as
 * matched, and take their null-extended rows out of its output.
 */
Datum
stream_join_mark(PG_FUNCTION_ARGS)
{
	Node	   *call = fcinfo->flinfo ? fcinfo->flinfo->fn_expr : NULL;
	int			i;

	if (call == NULL || !IsA(call, FuncExpr) ||
		((FuncExpr *) call)->location != PGS_JOIN_MARK_LOCATION)
		PG_RETURN_BOOL(true);
	for (i = 0; i < PGS_MAX_SIDES; i++)
		if (!PG_ARGISNULL(i) && join_marks[i] != NULL)
			(void) hash_search(join_marks[i], PG_GETARG_POINTER(i), HASH_ENTER, NULL);
	PG_RETURN_BOOL(true);
}

static void
join_marks_begin(void)
{
	HASHCTL		ctl;
	int			i;

	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(ItemPointerData);
		ctl.entrysize = sizeof(ItemPointerData);
		ctl.hcxt = CurrentMemoryContext;
		join_marks[i] = hash_create("pg_streaming join matches", 1024, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/* an abort, or the end of the batch, stops the recording */
void
pgs_join_marks_end(void)
{
	join_marks[0] = join_marks[1] = NULL;
}

static bool
join_marked(int side, ItemPointer tid)
{
	bool		found = false;

	if (join_marks[side] != NULL)
		(void) hash_search(join_marks[side], tid, HASH_FIND, &found);
	return found;
}

/* the tids of an array datum */
static ItemPointer
join_tids(Datum arr, bool isnull, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	ItemPointer tids;
	int			i;
	int			k = 0;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(arr), TIDOID, sizeof(ItemPointerData), false,
					  TYPALIGN_SHORT, &elems, &nulls, n);
	tids = palloc(sizeof(ItemPointerData) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		if (!nulls[i])
			tids[k++] = *(ItemPointer) DatumGetPointer(elems[i]);
	*n = k;
	return tids;
}

static Datum
join_tid_array(ItemPointer tids, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = PointerGetDatum(&tids[i]);
	return PointerGetDatum(construct_array(elems, n, TIDOID, sizeof(ItemPointerData),
										   false, TYPALIGN_SHORT));
}

static Datum
join_time_array(TimestampTz *ts, bool *nulls, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = TimestampTzGetDatum(ts[i]);
	if (n == 0)
		return PointerGetDatum(construct_empty_array(TIMESTAMPTZOID));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TIMESTAMPTZOID,
											  sizeof(TimestampTz), FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
}

/* ---- fingerprints: a stream row named by its content ---- */

/*
 * A logical restore places a stream's rows elsewhere, so the state names
 * each row it keeps ('u', 'l') also by a fingerprint of its content, from
 * which the row is found again (pgs_join_remap_restored).  The fingerprint
 * must come out the same in another cluster and another session: a column
 * of a built-in type (or a domain over one) is hashed in its binary form,
 * detoasted and decompressed, whose bytes name no object of the cluster; a
 * column of another type (an enum, a composite, an array of those, whose
 * binary forms hold the cluster's oids) is hashed in its text form, made
 * with fixed output settings.  The stamp column is left out: a restore
 * into another cluster stamps the rows again, and which rows a query
 * processed is told by their stamps, not by their fingerprints.
 */
typedef struct JoinFpColumn
{
	AttrNumber	attnum;
	bool		text;			/* hashed in its text form */
	int16		typlen;
	bool		typbyval;
	FmgrInfo	out;
} JoinFpColumn;

typedef struct JoinFp
{
	int			ncols;
	JoinFpColumn *cols;
	bool		any_text;
} JoinFp;

#define JOIN_FP_NULL	UINT64CONST(0x5bd1e9955bd1e995)

static void
join_fp_begin(Relation rel, JoinFp *fp)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	memset(fp, 0, sizeof(JoinFp));
	fp->cols = palloc0(sizeof(JoinFpColumn) * Max(desc->natts, 1));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		JoinFpColumn *c;

		if (att->attisdropped || strcmp(NameStr(att->attname), PGS_XID_COLUMN) == 0)
			continue;
		c = &fp->cols[fp->ncols++];
		c->attnum = att->attnum;
		c->typlen = att->attlen;
		c->typbyval = att->attbyval;
		c->text = getBaseType(att->atttypid) >= FirstNormalObjectId;
		if (c->text)
		{
			Oid			outfn;
			bool		varlena;

			getTypeOutputInfo(att->atttypid, &outfn, &varlena);
			fmgr_info(outfn, &c->out);
			fp->any_text = true;
		}
	}
}

/* the fingerprint of the row in slot */
static int64
join_fp_row(JoinFp *fp, TupleTableSlot *slot)
{
	uint64		h = hash_bytes_extended((const unsigned char *) &fp->ncols,
										sizeof(fp->ncols), 0);
	int			i;

	slot_getallattrs(slot);
	for (i = 0; i < fp->ncols; i++)
	{
		JoinFpColumn *c = &fp->cols[i];
		Datum		v = slot->tts_values[c->attnum - 1];
		uint64		ch;

		if (slot->tts_isnull[c->attnum - 1])
			ch = JOIN_FP_NULL;
		else if (c->text)
		{
			char	   *str = OutputFunctionCall(&c->out, v);

			ch = hash_bytes_extended((const unsigned char *) str, strlen(str), 1);
			pfree(str);
		}
		else if (c->typbyval)
		{
			char		buf[sizeof(Datum)];

			store_att_byval(buf, v, c->typlen);
			ch = hash_bytes_extended((const unsigned char *) buf, c->typlen, 1);
		}
		else if (c->typlen > 0)
			ch = hash_bytes_extended((const unsigned char *) DatumGetPointer(v),
									 c->typlen, 1);
		else if (c->typlen == -1)
		{
			struct varlena *d = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v));

			ch = hash_bytes_extended((const unsigned char *) VARDATA_ANY(d),
									 VARSIZE_ANY_EXHDR(d), 1);
			if ((Pointer) d != DatumGetPointer(v))
				pfree(d);
		}
		else
			ch = hash_bytes_extended((const unsigned char *) DatumGetCString(v),
									 strlen(DatumGetCString(v)), 1);
		h = hash_combine64(h, ch);
	}
	return (int64) h;
}

/*
 * The output settings under which a text form is the same in every
 * session: undone at the end of the caller's owner stretch.
 */
static void
join_fp_settings(const JoinFp *fp)
{
	if (!fp->any_text)
		return;
	(void) set_config_option("TimeZone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("DateStyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * The fingerprints of a side's rows at tids, as an int8[]: the rows are
 * fetched from the stream (where the batch has just read them), and any
 * output function runs as the query's owner.
 */
static Datum
join_fingerprints(const PgsQuery *q, int side, const ItemPointer tids, int n)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	Relation	rel = table_open(q->sides[side].relid, AccessShareLock);
	Datum	   *fps = palloc(sizeof(Datum) * Max(n, 1));
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	JoinFp		fp;
	int			i;

	join_fp_begin(rel, &fp);
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	MemoryContextSwitchTo(cxt);
	join_fp_settings(&fp);
	for (i = 0; i < n; i++)
	{
		if (!table_tuple_fetch_row_version(rel, &tids[i], SnapshotAny, slot))
			elog(ERROR, "row (%u,%u) of stream table \"%s\" vanished",
				 ItemPointerGetBlockNumber(&tids[i]), ItemPointerGetOffsetNumber(&tids[i]),
				 RelationGetRelationName(rel));
		fps[i] = Int64GetDatum(join_fp_row(&fp, slot));
	}
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return PointerGetDatum(construct_array(fps, n, INT8OID, 8, FLOAT8PASSBYVAL,
										   TYPALIGN_DOUBLE));
}

/* does the join's state table name rows by fingerprint too (made after 0.7)? */
static bool
join_has_fp(const PgsQuery *q)
{
	return get_attnum(q->state_relid, "fp") != InvalidAttrNumber;
}

/* ---- the state table ---- */

/*
 * Create a join query's state table; with a start snapshot (a query
 * starting from the latest rows), record it.
 */
Oid
pgs_join_create_state(const char *query_name)
{
	char	   *qualified;
	Oid			relid;

	relid = pgs_state_create_table(query_name,
								   "(side smallint NOT NULL, kind \"char\" NOT NULL,"
								   " tid tid, t timestamptz, snap pg_catalog.pg_snapshot,"
								   " fp bigint)",
								   &qualified);
	pgs_state_ddl(psprintf("CREATE INDEX ON %s (side, kind, tid)", qualified), query_name);
	return relid;
}

#define JOIN_CHAIN_SUFFIX	"_join"

/*
 * The join's state table below an aggregation: stream_state.<query>_join,
 * a part of the aggregation's state table (dropping that drops it).
 */
void
pgs_join_create_chain_state(const char *query_name, Oid agg_state_relid)
{
	Oid			relid = pgs_join_create_state(pgs_state_part_name(query_name, JOIN_CHAIN_SUFFIX));

	pgs_state_part_attach(relid, agg_state_relid);
}

/* is the query's state table an aggregation's over the join? */
static bool
join_chained(const PgsQuery *q)
{
	return OidIsValid(q->state_relid) &&
		get_attnum(q->state_relid, "side") == InvalidAttrNumber;
}

/*
 * The query as the join's code sees it: with the join's state table.  A
 * chained query without that table cannot run a batch.
 */
static void
join_own(const PgsQuery *q, PgsQuery *jq)
{
	Oid			relid = pgs_state_part_lookup(q->name, JOIN_CHAIN_SUFFIX);

	if (!OidIsValid(relid) || get_attnum(relid, "side") == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the join state table of streaming query \"%s\" is missing", q->name),
				 errdetail("An aggregation over a join keeps the join's rows in %s.%s.",
						   PGS_AGG_STATE_SCHEMA,
						   quote_identifier(pgs_state_part_name(q->name, JOIN_CHAIN_SUFFIX))),
				 errhint("Drop the query and start it again.")));
	*jq = *q;
	jq->state_relid = relid;
}

/* rows visible in "snap" are before the query: it starts after them */
void
pgs_join_set_start(const PgsQuery *q, Datum snap)
{
	Oid			types[1] = {PG_SNAPSHOTOID};
	Datum		values[1] = {snap};
	PgsQuery	jq;

	if (join_chained(q))
	{
		join_own(q, &jq);
		q = &jq;
	}

	pgs_catalog_run(psprintf("DELETE FROM %s WHERE kind = 's';"
							 " INSERT INTO %s (side, kind, snap) VALUES (0, 's', $1)",
							 pgs_qualified_relname(q->state_relid),
							 pgs_qualified_relname(q->state_relid)),
					1, types, values, NULL, false, 0);
}

/* the start snapshot (with start), and the tids of each side's rows of a kind (with tids) */
static void
join_read_state(const PgsQuery *q, char kind, Datum *tids, Datum *start,
				bool *start_null)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	char	   *rel = pgs_qualified_relname(q->state_relid);
	int			side;
	MemoryContext spi;

	pgs_catalog_begin(&acc);
	spi = CurrentMemoryContext;
	for (side = 0; tids != NULL && side < PGS_MAX_SIDES; side++)
	{
		Oid			types[2] = {INT2OID, CHAROID};
		Datum		values[2] = {Int16GetDatum(side + 1), CharGetDatum(kind)};
		bool		isnull;
		Datum		d;

		pgs_catalog_exec(psprintf("SELECT coalesce(pg_catalog.array_agg(tid), '{}')"
								  " FROM %s WHERE side = $1 AND kind = $2", rel),
						 2, types, values, NULL, true, 0);
		d = pgs_result_datum(0, 1, &isnull);
		MemoryContextSwitchTo(cxt);
		tids[side] = PointerGetDatum(DatumGetArrayTypePCopy(d));
		MemoryContextSwitchTo(spi);
	}
	if (start)
	{
		*start_null = true;
		if (pgs_catalog_exec(psprintf("SELECT snap FROM %s WHERE kind = 's'", rel),
							 0, NULL, NULL, NULL, true, 0) > 0)
		{
			bool		isnull;
			Datum		d = pgs_result_datum(0, 1, &isnull);

			if (!isnull)
			{
				MemoryContextSwitchTo(cxt);
				*start = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
				*start_null = false;
				MemoryContextSwitchTo(spi);
			}
		}
	}
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
}

/* ---- the statements ---- */

/*
 * Free what join_plans_for kept of a query under the plan context: its
 * statements and their texts.  The context lives as long as the backend,
 * and the plans are made again each time stream.query_defs changes.
 */
static void
join_free_plans(JoinPlans *p)
{
	int			i;

	for (i = 0; i < JS_NSTMTS; i++)
	{
		if (p->plan[i])
			SPI_freeplan(p->plan[i]);
		if (p->sql[i])
			pfree(p->sql[i]);
	}
	for (i = 0; i < PGS_MAX_SIDES; i++)
	{
		if (p->late_column[i])
			pfree(p->late_column[i]);
		if (p->bound_column[i])
			pfree(p->bound_column[i]);
		if (p->filter[i])
			pfree(p->filter[i]);
		if (p->where[i])
			pfree(p->where[i]);
		if (p->stats_sql[i])
			pfree(p->stats_sql[i]);
	}
	if (p->signature)
		pfree(p->signature);
	memset(((char *) p) + sizeof(int64), 0, sizeof(JoinPlans) - sizeof(int64));
}

/* the query's statements get prepared anew on next use */
void
pgs_join_forget_plans(void)
{
	HASH_SEQ_STATUS seq;
	JoinPlans  *p;

	if (join_plans == NULL)
		return;
	hash_seq_init(&seq, join_plans);
	while ((p = hash_seq_search(&seq)) != NULL)
		join_free_plans(p);
	hash_destroy(join_plans);
	join_plans = NULL;
}

/*
 * The select list of a side's statistics statement: the row's tid, the
 * event time of its watermark, the time its bound reads (infinity for a
 * side nothing bounds, so that its waiting rows are never evicted).
 */
static char *
join_stats_sql(const PgsQuery *q, JoinPlans *p, int side)
{
	Oid			relid = q->sides[side].relid;
	char	   *w = p->late_column[side] ?
		pgs_join_time_sql(relid, "s", p->late_column[side]) : "NULL::pg_catalog.timestamptz";
	char	   *b = p->bound_column[side] ?
		pgs_join_time_sql(relid, "s", p->bound_column[side]) : "'infinity'::pg_catalog.timestamptz";
	char	   *rows = pgs_batch_rows_sql_at(relid,
											 psprintf("s.ctid AS tid, %s AS w, %s AS b, (%s) AS pf, (%s) AS wf",
													  w, b, p->filter[side] ? p->filter[side] : "true",
													  p->where[side] ? p->where[side] : "true"),
											 side * PGS_BATCH_NPARAMS);
	bool		keep = p->shape.preserved[side];
	char	   *not_late = psprintf("(x.w OPERATOR(pg_catalog.>) $%d) IS NOT FALSE AND x.wf IS TRUE",
										PGS_JOIN_P_LATE);

	return psprintf("SELECT pg_catalog.count(*),"
					" pg_catalog.min(x.w) FILTER (WHERE pg_catalog.isfinite(x.w)),"
					" pg_catalog.max(x.w) FILTER (WHERE pg_catalog.isfinite(x.w)),"
					" pg_catalog.array_agg(x.tid) FILTER (WHERE x.w OPERATOR(pg_catalog.<=) $%d),"
					" pg_catalog.array_agg(x.b) FILTER (WHERE x.w OPERATOR(pg_catalog.<=) $%d),"
					" %s, %s, %s,"
					" pg_catalog.count(x.w) FILTER (WHERE pg_catalog.isfinite(x.w)),"
					" pg_catalog.avg(pg_catalog.date_part('epoch', x.w)) FILTER (WHERE pg_catalog.isfinite(x.w))"
					" FROM (%s) AS x",
					PGS_JOIN_P_LATE, PGS_JOIN_P_LATE,
					keep ? psprintf("pg_catalog.array_agg(x.tid) FILTER (WHERE %s AND x.pf IS TRUE)", not_late) : "NULL::pg_catalog.tid[]",
					keep ? psprintf("pg_catalog.array_agg(x.b) FILTER (WHERE %s AND x.pf IS TRUE)", not_late) : "NULL::pg_catalog.timestamptz[]",
					keep ? psprintf("pg_catalog.array_agg(x.tid) FILTER (WHERE %s AND x.pf IS NOT TRUE)", not_late) : "NULL::pg_catalog.tid[]",
					rows);
}

static void
join_rewrite_init(const PgsQuery *q, JoinPlans *p, PgsJoinRewrite *rw,
				  PgsSideRole role1, PgsSideRole role2, bool delta, int new_side)
{
	int			side;

	memset(rw, 0, sizeof(PgsJoinRewrite));
	rw->relid[0] = q->sides[0].relid;
	rw->relid[1] = q->sides[1].relid;
	rw->role[0] = role1;
	rw->role[1] = role2;
	rw->kind = p->shape.kind;
	rw->delta = delta;
	rw->new_side = new_side;
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		rw->late_column[side] = p->late_column[side];
		rw->bound_column[side] = p->bound_column[side];
		rw->bound_strict[side] = p->shape.bound[side].strict;
	}
}

/* the shape and the statements of the query, as this backend knows them */
static JoinPlans *
join_plans_for(const PgsQuery *q)
{
	JoinPlans  *p;
	bool		found;
	char	   *sig = psprintf("%s|%s|%u|%u|%u|%s|%s|%s", q->query_text, q->search_path,
							   q->target_relid, q->sides[0].relid, q->sides[1].relid,
							   q->sides[0].event_time ? q->sides[0].event_time : "",
							   q->sides[1].event_time ? q->sides[1].event_time : "",
							   q->output_mode);
	MemoryContext old;
	Query	   *analyzed;
	PgsJoinShape shape;
	char	   *insert;
	int			side;

	if (join_plans == NULL)
		join_plans = pgs_query_id_hash("pg_streaming join plans", sizeof(JoinPlans));
	p = hash_search(join_plans, &q->query_id, HASH_ENTER, &found);
	if (found && p->signature && strcmp(p->signature, sig) == 0)
		return p;
	if (found)
		join_free_plans(p);
	else
		memset(((char *) p) + sizeof(int64), 0, sizeof(JoinPlans) - sizeof(int64));

	analyzed = pgs_query_analyze_as_owner(q->owner, q->query_text,
										  pgs_batch_search_path(q->search_path));

	/*
	 * The shape, as the owner: reading it folds the condition's constant
	 * expressions, which may call the owner's functions.  And a preserved
	 * side's rows that can match nothing are written at once.
	 */
	{
		char	   *filters[PGS_MAX_SIDES] = {NULL, NULL};
		char	   *wheres[PGS_MAX_SIDES] = {NULL, NULL};
		PgsCatalogAccess acc = {0};
		MemoryContext cxt = CurrentMemoryContext;

		pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
		MemoryContextSwitchTo(cxt);
		pgs_join_analyze(analyzed, q->output_mode, q->sides, &shape, false, q->name);
		for (side = 0; side < PGS_MAX_SIDES; side++)
		{
			if (!shape.preserved[side])
				continue;
			if (shape.kind != PGS_JOIN_SEMI)
				filters[side] = pgs_join_side_filter_sql(analyzed, q->sides[0].relid,
														 q->sides[1].relid, side, false);
			wheres[side] = pgs_join_side_filter_sql(analyzed, q->sides[0].relid,
													q->sides[1].relid, side, true);
		}
		pgs_owner_end(&acc);
		MemoryContextSwitchTo(cxt);
		old = MemoryContextSwitchTo(pgs_plan_context());
		for (side = 0; side < PGS_MAX_SIDES; side++)
		{
			p->filter[side] = filters[side] ? pstrdup(filters[side]) : NULL;
			p->where[side] = wheres[side] ? pstrdup(wheres[side]) : NULL;
		}
	}
	p->shape = shape;
	p->shape.keys = NULL;
	p->shape.range = NULL;
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		p->late_column[side] = q->sides[side].event_time ?
			pstrdup(q->sides[side].event_time) : NULL;
		p->bound_column[side] = NULL;
	}
	MemoryContextSwitchTo(old);

	/* the texts are composed here, and only what is kept is copied */
	for (side = 0; side < PGS_MAX_SIDES; side++)
		if (shape.bound[side].bounded)
			p->bound_column[side] = MemoryContextStrdup(pgs_plan_context(),
														get_attname(q->sides[side].relid,
																	shape.bound[side].time_attno,
																	false));
	/* an aggregation over the join runs its partial form (agg_exec.c) */
	p->aggregates = analyzed->hasAggs || analyzed->groupClause != NIL;
	insert = p->aggregates ? pgs_trim_query(q->query_text) :
		pgs_compose_insert(q->query_text, q->target_relid, q->target_columns, NIL);
	for (side = 0; side < JS_NSTMTS; side++)
		p->sql[side] = MemoryContextStrdup(pgs_plan_context(), insert);
	for (side = 0; side < PGS_MAX_SIDES; side++)
		p->stats_sql[side] = MemoryContextStrdup(pgs_plan_context(),
												 join_stats_sql(q, p, side));
	join_rewrite_init(q, p, &p->rw[JS_DELTA_NEW1], PGS_SIDE_NEW, PGS_SIDE_LIVE_HI, true, 0);
	join_rewrite_init(q, p, &p->rw[JS_DELTA_NEW2],
					  shape.kind == PGS_JOIN_SEMI ? PGS_SIDE_TIDS : PGS_SIDE_LIVE_LO,
					  PGS_SIDE_NEW, true, 1);
	join_rewrite_init(q, p, &p->rw[JS_NULL_ROWS], PGS_SIDE_TIDS, PGS_SIDE_TIDS, false, -1);
	p->signature = MemoryContextStrdup(pgs_plan_context(), sig);
	return p;
}

/*
 * What every statement of a join's batch runs with, inside its owner
 * stretch (undone at its end): no JIT, as the planner prices each probe of
 * the other side's index at the cost of a search of its whole key range
 * and so compiles statements that read a few hundred rows, for longer than
 * they run; with "probes", no hash or merge join either.
 */
static void
join_statement_settings(bool probes)
{
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (!probes)
		return;
	/* a delta probes the other side's index, row by row: never a hash of it */
	(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

static SPIPlanPtr
join_prepare(const PgsQuery *q, JoinPlans *p, JoinStmt k)
{
	SPIPlanPtr	volatile plan = NULL;

	if (p->aggregates)
		pgs_rewrite_arm_join_then(p->sql[k], &p->rw[k], q->view_relid,
								  pgs_agg_partial_finish, pgs_agg_partial_arg(q));
	else
		pgs_rewrite_arm_join(p->sql[k], &p->rw[k], q->view_relid);
	PG_TRY();
	{
		plan = SPI_prepare(p->sql[k], PGS_JOIN_NPARAMS, pgs_join_params_types());
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	pgs_keep_plan(plan);
	return plan;
}

static int
join_execute_plan(const PgsQuery *q, JoinPlans *p, JoinStmt k, Datum *values,
				  char *nulls)
{
	CachedPlanSource *source = linitial(SPI_plan_get_plan_sources(p->plan[k]));
	volatile int rc = 0;

	pgs_rewrite_arm_join(source->query_string, &p->rw[k], q->view_relid);
	PG_TRY();
	{
		bool		pushed = pgs_ensure_snapshot();

		rc = SPI_execute_plan(p->plan[k], values, nulls, false, 0);
		if (pushed)
			PopActiveSnapshot();
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	pgs_adopt_plan(p->plan[k]);
	return rc;
}

/*
 * Run one of the statements that evaluate the query's text, as the owner:
 * prepared on first use, the reads substituted for its kind here and
 * whenever the plan cache analyzes it again.  A delta reads the other side
 * through its index, key by key, as the join's cost depends on.  Returns
 * the rows written.
 */
static uint64
join_run_stmt(const PgsQuery *q, JoinPlans *p, JoinStmt k, Datum *values,
			  char *nulls)
{
	PgsCatalogAccess acc = {0};
	int			rc;
	uint64		written;

	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	join_statement_settings(k != JS_NULL_ROWS);
	if (p->plan[k] == NULL)
		p->plan[k] = join_prepare(q, p, k);
	rc = join_execute_plan(q, p, k, values, nulls);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "join statement failed: %s", SPI_result_code_string(rc));
	written = SPI_processed;
	pgs_owner_end(&acc);
	return written;
}

/*
 * The same for an aggregation over the join: the statement is the query's
 * partial aggregation, whose groups are returned in a tuplestore of the
 * caller's memory context.
 */
static Tuplestorestate *
join_run_partial(const PgsQuery *q, JoinPlans *p, JoinStmt k, Datum *values,
				 char *nulls)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	const void *arg = pgs_agg_partial_arg(q);
	CachedPlanSource *source;
	Tuplestorestate *volatile rows = NULL;

	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	join_statement_settings(k != JS_NULL_ROWS);
	if (p->plan[k] == NULL)
		p->plan[k] = join_prepare(q, p, k);
	source = linitial(SPI_plan_get_plan_sources(p->plan[k]));
	pgs_rewrite_arm_join_then(source->query_string, &p->rw[k], q->view_relid,
							  pgs_agg_partial_finish, arg);
	PG_TRY();
	{
		rows = pgs_state_run_into(p->plan[k],
								  pgs_state_params(PGS_JOIN_NPARAMS,
												   pgs_join_params_types(),
												   values, nulls),
								  cxt);
	}
	PG_FINALLY();
	{
		pgs_rewrite_disarm();
	}
	PG_END_TRY();
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);
	return rows;
}

/* what the statistics statement found of one side's new rows */
typedef struct SideRows
{
	int64		input_rows;
	bool		times_null;
	TimestampTz tmin;
	TimestampTz tmax;
	int			nlate;
	ItemPointer late_tids;
	Datum		late_times;		/* timestamptz[] */
	bool		late_times_null;
	int			nkeep;
	ItemPointer keep_tids;		/* a preserved side's new rows, not late */
	TimestampTz *keep_times;
	bool	   *keep_nulls;
	int			nnow;
	ItemPointer now_tids;		/* its new rows that can match nothing */
	int64		ntimes;			/* the rows with an event time ... */
	double		tavg;			/* ... and its mean, in seconds since 1970 */
} SideRows;

static void
join_side_rows(const PgsQuery *q, JoinPlans *p, int side, Datum *values,
			   char *nulls, SideRows *r)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	bool		isnull;
	Datum		d;

	memset(r, 0, sizeof(SideRows));
	pgs_owner_begin(&acc, q->owner, pgs_batch_search_path(q->search_path));
	join_statement_settings(false);
	pgs_owner_exec(q->query_id, p->stats_sql[side], PGS_JOIN_NPARAMS,
				   pgs_join_params_types(), values, nulls, false, 0);
	MemoryContextSwitchTo(cxt);
	r->input_rows = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	r->tmin = DatumGetTimestampTz(pgs_result_datum(0, 2, &isnull));
	r->times_null = isnull;
	r->tmax = DatumGetTimestampTz(pgs_result_datum(0, 3, &isnull));
	d = pgs_result_datum(0, 4, &isnull);
	r->late_tids = join_tids(d, isnull, &r->nlate);
	d = pgs_result_datum(0, 5, &isnull);
	r->late_times_null = isnull;
	if (!isnull)
		r->late_times = PointerGetDatum(DatumGetArrayTypePCopy(d));
	d = pgs_result_datum(0, 6, &isnull);
	r->keep_tids = join_tids(d, isnull, &r->nkeep);
	d = pgs_result_datum(0, 7, &isnull);
	if (!isnull && r->nkeep > 0)
	{
		Datum	   *elems;
		int			n;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(d), TIMESTAMPTZOID, sizeof(TimestampTz),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &r->keep_nulls, &n);
		Assert(n == r->nkeep);
		r->keep_times = palloc(sizeof(TimestampTz) * Max(n, 1));
		for (i = 0; i < n; i++)
			r->keep_times[i] = r->keep_nulls[i] ? 0 : DatumGetTimestampTz(elems[i]);
	}
	d = pgs_result_datum(0, 8, &isnull);
	r->now_tids = join_tids(d, isnull, &r->nnow);
	r->ntimes = DatumGetInt64(pgs_result_datum(0, 9, &isnull));
	d = pgs_result_datum(0, 10, &isnull);
	r->tavg = isnull ? 0 : DatumGetFloat8(d);
	pgs_owner_end(&acc);
	MemoryContextSwitchTo(cxt);
}

/*
 * W + offset, or NULL without W or without a bound.  For a key of windows,
 * the start of the window that holds it: a row before that start is in a
 * window that ended at or before W, which no row still to come is in.
 */
static void
join_bound(const PgsJoinBound *b, bool w_null, TimestampTz w, Datum *value,
		   char *null)
{
	TimestampTz t;

	*null = 'n';
	*value = (Datum) 0;
	if (w_null || !b->bounded)
		return;
	if (pg_add_s64_overflow(w, b->offset_usecs, &t) || !IS_VALID_TIMESTAMP(t))
		t = b->offset_usecs < 0 ? DT_NOBEGIN : DT_NOEND;
	else if (b->window_usecs > 0)
	{
		int64		since;
		int64		n;
		TimestampTz start;

		/* floor((t - origin) / size) * size + origin; out of range: none */
		if (pg_sub_s64_overflow(t, b->window_origin, &since))
			t = DT_NOBEGIN;
		else
		{
			n = since / b->window_usecs;
			if (since % b->window_usecs != 0 && since < 0)
				n--;
			if (pg_mul_s64_overflow(n, b->window_usecs, &start) ||
				pg_add_s64_overflow(start, b->window_origin, &start) ||
				!IS_VALID_TIMESTAMP(start))
				t = DT_NOBEGIN;
			else
				t = start;
		}
	}
	*value = TimestampTzGetDatum(t);
	*null = ' ';
}

/*
 * Write rows of a kind for one side into the state table, with their
 * fingerprints where the table has them.
 */
static int64
join_state_insert(const PgsQuery *q, int side, char kind, ItemPointer tids, int n,
				  Datum times)
{
	Oid			types[5] = {INT2OID, CHAROID, TIDARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID};
	Datum		values[5] = {Int16GetDatum(side + 1), CharGetDatum(kind),
	join_tid_array(tids, n), times, (Datum) 0};
	char	   *rel = pgs_qualified_relname(q->state_relid);

	if (!join_has_fp(q))
		return pgs_catalog_run(psprintf("INSERT INTO %s (side, kind, tid, t)"
										" SELECT $1, $2, u.tid, u.t"
										" FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(tid, t)",
										rel),
							   4, types, values, NULL, false, 0);
	values[4] = join_fingerprints(q, side, tids, n);
	return pgs_catalog_run(psprintf("INSERT INTO %s (side, kind, tid, t, fp)"
									" SELECT $1, $2, u.tid, u.t, u.fp"
									" FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4),"
									" pg_catalog.unnest($5)) AS u(tid, t, fp)",
									rel),
						   5, types, values, NULL, false, 0);
}

/*
 * Forget a side's rows of a kind whose bound time the watermark passed
 * (rows without one can never match: at once); with "returning", the tids
 * of the rows forgotten.  A side nothing bounds keeps its rows.
 */
static Datum
join_state_evict(const PgsQuery *q, int side, char kind, Datum bound, char bound_null,
				 bool strict, bool returning, int64 *count)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[3] = {INT2OID, CHAROID, TIMESTAMPTZOID};
	Datum		values[3] = {Int16GetDatum(side + 1), CharGetDatum(kind), bound};
	char		nulls[3] = {' ', ' ', bound_null};
	char	   *rel = pgs_qualified_relname(q->state_relid);
	Datum		result = (Datum) 0;

	pgs_catalog_begin(&acc);
	pgs_catalog_exec(psprintf("WITH d AS (DELETE FROM %s WHERE side = $1 AND kind = $2"
							  " AND (t IS NULL OR t OPERATOR(pg_catalog.%s) $3) RETURNING tid)"
							  " SELECT pg_catalog.count(*), coalesce(pg_catalog.array_agg(tid), '{}') FROM d",
							  rel, strict ? "<=" : "<"),
					 3, types, values, nulls, false, 0);
	{
		bool		isnull;

		*count = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		if (returning)
		{
			Datum		d = pgs_result_datum(0, 2, &isnull);
			MemoryContext spi = MemoryContextSwitchTo(cxt);

			result = PointerGetDatum(DatumGetArrayTypePCopy(d));
			MemoryContextSwitchTo(spi);
		}
	}
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	return result;
}

/* the rows of the state table, per side */
static void
join_state_counts(const PgsQuery *q, int64 *counts)
{
	PgsCatalogAccess acc = {0};
	int			i;
	int			n;

	counts[0] = counts[1] = 0;
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec(psprintf("SELECT side, pg_catalog.count(*) FROM %s"
								  " WHERE kind OPERATOR(pg_catalog.<>) 's' GROUP BY side",
								  pgs_qualified_relname(q->state_relid)),
						 0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int			side = DatumGetInt16(pgs_result_datum(i, 1, &isnull));

		if (side >= 1 && side <= PGS_MAX_SIDES)
			counts[side - 1] = DatumGetInt64(pgs_result_datum(i, 2, &isnull));
	}
	pgs_catalog_end(&acc);
}

/*
 * The watermark of a side after the batch, from the one before and the
 * latest event time of its new rows (late ones included), never moving
 * back.
 */
static void
join_side_watermark(const PgsQuerySide *s, const PgsSideProgress *prev,
					const SideRows *r, PgsSideProgress *out)
{
	out->watermark_null = prev->watermark_null;
	out->watermark = prev->watermark;
	if (s->event_time == NULL || r->times_null)
		return;
	pgs_watermark_advance(&out->watermark_null, &out->watermark, r->tmax,
						  s->watermark_usecs);
}

/*
 * Run one batch of a join query: write the pairs the batch adds, and the
 * rows the watermark settles, into the target; keep the state; fill the
 * batch's progress and each side's.  Returns the rows written.
 */
uint64
pgs_join_execute(const PgsQuery *q, const PgsJoinBatch *jb, PgsProgress *progress,
				 PgsSideProgress *sp)
{
	JoinPlans  *p = join_plans_for(q);
	const PgsWatermarks *w = &jb->watermarks;
	Datum		values[PGS_JOIN_NPARAMS];
	char		nulls[PGS_JOIN_NPARAMS];
	SideRows	rows[PGS_MAX_SIDES];
	PgsSideProgress prev[PGS_MAX_SIDES];
	Datum		late_tids[PGS_MAX_SIDES];
	Datum		waiting[PGS_MAX_SIDES];
	Datum		evicted[PGS_MAX_SIDES];
	int64		counts[PGS_MAX_SIDES];
	int64		added[PGS_MAX_SIDES] = {0, 0};
	int64		removed[PGS_MAX_SIDES] = {0, 0};
	bool		any_evicted = false;
	int64		ntimes = 0;
	double		tsum = 0;
	int64		agg_late = 0;
	int64		agg_state = 0;
	int64		agg_updated = 0;
	int64		agg_evicted = 0;
	uint64		written = 0;
	int			side;
	int			i;
	const PgsQuery *agg = NULL;
	PgsQuery	jq;
	List	   *partials = NIL;

	if (join_chained(q))
	{
		agg = q;
		join_own(q, &jq);
		q = &jq;
		p = join_plans_for(q);
	}
	/* the text aggregates exactly when the state is an aggregation's */
	if (p->aggregates != (agg != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("streaming query \"%s\" no longer matches its state", q->name),
				 errdetail(p->aggregates ?
						   "Its text aggregates over the join, and its state is a join's only." :
						   "Its state is an aggregation's over the join, and its text no longer aggregates."),
				 errhint("Drop the query and start it again.")));
	memset(nulls, ' ', sizeof(nulls));
	for (i = 0; i < PGS_BATCH_NPARAMS; i++)
	{
		values[i] = jb->side_params[0].values[i];
		nulls[i] = jb->side_params[0].nulls[i];
		values[PGS_BATCH_NPARAMS + i] = jb->side_params[1].values[i];
		nulls[PGS_BATCH_NPARAMS + i] = jb->side_params[1].nulls[i];
	}
	values[PGS_JOIN_P_LO_SNAPSHOT - 1] = jb->lo_snapshot;
	nulls[PGS_JOIN_P_LO_SNAPSHOT - 1] = jb->lo_null ? 'n' : ' ';
	values[PGS_JOIN_P_LATE - 1] = TimestampTzGetDatum(w->late);
	nulls[PGS_JOIN_P_LATE - 1] = (!jb->has_watermark || w->late_null) ? 'n' : ' ';
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		/* rows the watermark of the late filter passed cannot match new rows */
		join_bound(&p->shape.bound[side], !jb->has_watermark || w->late_null, w->late,
				   &values[PGS_JOIN_P_BOUND - 1 + side], &nulls[PGS_JOIN_P_BOUND - 1 + side]);
		values[PGS_JOIN_P_TIDS - 1 + side] = join_tid_array(NULL, 0);
	}

	/*
	 * The start, and the rows a semi join still waits to match; each side's
	 * new rows, and the pairs: read_ms (a pair statement reads the other
	 * side and inserts what it finds).  What the join keeps: merge_ms.
	 */
	(void) pgs_phase_switch(PGS_PHASE_READ);
	{
		Datum		start = (Datum) 0;
		bool		start_null = true;

		/* only a semi join reads its waiting rows back (an outer join's are many) */
		join_read_state(q, 'u', p->shape.kind == PGS_JOIN_SEMI ? waiting : NULL,
						&start, &start_null);
		values[PGS_JOIN_P_START_SNAPSHOT - 1] = start;
		nulls[PGS_JOIN_P_START_SNAPSHOT - 1] = start_null ? 'n' : ' ';
	}

	/* each side's new rows: counts, times, the late ones recorded */
	memset(rows, 0, sizeof(rows));
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		rows[side].times_null = true;
		if (jb->no_data)
			continue;
		join_side_rows(q, p, side, values, nulls, &rows[side]);
		if (rows[side].nlate > 0 && q->sides[side].event_time != NULL)
			added[side] += join_state_insert(q, side, 'l', rows[side].late_tids,
											 rows[side].nlate, rows[side].late_times);
	}
	if (!jb->no_data)
		join_read_state(q, 'l', late_tids, NULL, NULL);
	for (side = 0; side < PGS_MAX_SIDES; side++)
		values[PGS_JOIN_P_LATE_TIDS - 1 + side] = jb->no_data ?
			join_tid_array(NULL, 0) : late_tids[side];

	/* the pairs: side 1's new rows first, then side 2's */
	join_marks_begin();
	if (!jb->no_data)
	{
		if (p->aggregates)
			partials = lappend(partials, join_run_partial(agg, p, JS_DELTA_NEW1, values, nulls));
		else
			written += join_run_stmt(q, p, JS_DELTA_NEW1, values, nulls);
		if (p->shape.kind == PGS_JOIN_SEMI)
			values[PGS_JOIN_P_TIDS - 1] = waiting[0];
		if (p->aggregates)
			partials = lappend(partials, join_run_partial(agg, p, JS_DELTA_NEW2, values, nulls));
		else
			written += join_run_stmt(q, p, JS_DELTA_NEW2, values, nulls);
	}

	/* a preserved side's rows wait for a match, until the watermark passes them */
	(void) pgs_phase_switch(PGS_PHASE_MERGE);
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		SideRows   *r = &rows[side];
		ItemPointer tids;
		TimestampTz *times;
		bool	   *tnulls;
		int			n = 0;
		Datum		marked;
		int			nmarked = 0;
		ItemPointer mtids;
		HASH_SEQ_STATUS seq;
		ItemPointer m;

		if (!p->shape.preserved[side])
			continue;
		tids = palloc(sizeof(ItemPointerData) * Max(r->nkeep, 1));
		times = palloc(sizeof(TimestampTz) * Max(r->nkeep, 1));
		tnulls = palloc(sizeof(bool) * Max(r->nkeep, 1));
		for (i = 0; i < r->nkeep; i++)
		{
			if (join_marked(side, &r->keep_tids[i]))
				continue;
			tids[n] = r->keep_tids[i];
			times[n] = r->keep_times ? r->keep_times[i] : 0;
			tnulls[n] = r->keep_nulls ? r->keep_nulls[i] : true;
			n++;
		}
		if (n > 0)
			added[side] += join_state_insert(q, side, 'u', tids, n,
											 join_time_array(times, tnulls, n));
		/* rows that waited and matched in this batch */
		mtids = palloc(sizeof(ItemPointerData) * Max(hash_get_num_entries(join_marks[side]), 1));
		hash_seq_init(&seq, join_marks[side]);
		while ((m = hash_seq_search(&seq)) != NULL)
			mtids[nmarked++] = *m;
		if (nmarked > 0)
		{
			Oid			types[2] = {INT2OID, TIDARRAYOID};
			Datum		v[2];

			marked = join_tid_array(mtids, nmarked);
			v[0] = Int16GetDatum(side + 1);
			v[1] = marked;
			removed[side] += pgs_catalog_run(psprintf("DELETE FROM %s WHERE side = $1 AND kind = 'u'"
													  " AND tid OPERATOR(pg_catalog.=) ANY ($2)",
													  pgs_qualified_relname(q->state_relid)),
											 2, types, v, NULL, false, 0);
		}
	}
	pgs_join_marks_end();

	/*
	 * Eviction, by the watermark in force: the waiting rows it passed are
	 * written null-extended (outer joins) or forgotten (a semi join), and
	 * late rows it passed can no longer be met.
	 */
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		Datum		bound;
		char		bound_null;
		int64		n = 0;

		evicted[side] = join_tid_array(NULL, 0);
		join_bound(&p->shape.bound[side], !jb->has_watermark || w->watermark_null,
				   w->watermark, &bound, &bound_null);
		if (p->shape.preserved[side])
		{
			evicted[side] = join_state_evict(q, side, 'u', bound, bound_null,
											 p->shape.bound[side].strict, true, &n);
			removed[side] += n;
			if (rows[side].nnow > 0)
			{
				/* and the new rows that could match nothing */
				int			nold;
				ItemPointer old = join_tids(evicted[side], false, &nold);
				ItemPointer all = palloc(sizeof(ItemPointerData) * (nold + rows[side].nnow));

				memcpy(all, old, sizeof(ItemPointerData) * nold);
				memcpy(all + nold, rows[side].now_tids, sizeof(ItemPointerData) * rows[side].nnow);
				evicted[side] = join_tid_array(all, nold + rows[side].nnow);
				n += rows[side].nnow;
			}
			if (n > 0 && p->shape.kind != PGS_JOIN_SEMI)
				any_evicted = true;
		}
		if (bound_null != 'n')
		{
			(void) join_state_evict(q, side, 'l', bound, bound_null,
									p->shape.bound[side].strict, false, &n);
			removed[side] += n;
		}
	}
	if (any_evicted)
	{
		for (side = 0; side < PGS_MAX_SIDES; side++)
			values[PGS_JOIN_P_TIDS - 1 + side] = evicted[side];
		(void) pgs_phase_switch(PGS_PHASE_READ);
		if (p->aggregates)
			partials = lappend(partials, join_run_partial(agg, p, JS_NULL_ROWS, values, nulls));
		else
			written += join_run_stmt(q, p, JS_NULL_ROWS, values, nulls);
	}

	/*
	 * The aggregation over the join: its groups merged, its closed windows
	 * written.  Its watermark is the join's output watermark, W + the
	 * shape's offset, for late rows as for eviction (surface.md 2.9).
	 */
	if (agg != NULL)
	{
		PgsWatermarks aw = *w;
		PgsAggResult r;

		if (!jb->has_watermark)
			aw.late_null = aw.watermark_null = true;
		if (!aw.late_null &&
			(pg_add_s64_overflow(aw.late, p->shape.output_offset_usecs, &aw.late) ||
			 !IS_VALID_TIMESTAMP(aw.late)))
			aw.late = MIN_TIMESTAMP;
		if (!aw.watermark_null &&
			(pg_add_s64_overflow(aw.watermark, p->shape.output_offset_usecs, &aw.watermark) ||
			 !IS_VALID_TIMESTAMP(aw.watermark)))
			aw.watermark = MIN_TIMESTAMP;
		pgs_agg_execute_partials(agg, jb->batch_id, partials, &aw, &r);
		written += r.output_rows;
		agg_late = r.late_groups;
		agg_state = pgs_agg_state_count(agg);
		agg_updated = r.groups_updated;
		agg_evicted = r.evicted;
	}

	/* the figures */
	(void) pgs_phase_switch(PGS_PHASE_MERGE);
	join_state_counts(q, counts);
	pgs_checkpoint_side_watermarks(q->query_id, PGS_MAX_SIDES, prev);
	progress->input_rows = 0;
	progress->late_rows = 0;
	progress->times_null = true;
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		ntimes += rows[side].ntimes;
		tsum += rows[side].tavg * rows[side].ntimes;
	}
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		SideRows   *r = &rows[side];
		PgsSideProgress *s = &sp[side];

		memset(s, 0, sizeof(PgsSideProgress));
		s->input_rows = r->input_rows;
		s->late_rows = q->sides[side].event_time ? r->nlate : 0;
		s->state_rows = counts[side];
		s->times_null = r->times_null;
		s->event_time_min = r->tmin;
		s->event_time_max = r->tmax;
		join_side_watermark(&q->sides[side], &prev[side], r, s);
		pgs_progress_add_operator(progress, "join", side + 1, s->state_rows,
								  added[side], removed[side], s->late_rows);
		progress->input_rows += s->input_rows;
		progress->late_rows += s->late_rows;
		if (!r->times_null)
		{
			if (progress->times_null || r->tmin < progress->event_time_min)
				progress->event_time_min = r->tmin;
			if (progress->times_null || r->tmax > progress->event_time_max)
				progress->event_time_max = r->tmax;
			progress->times_null = false;
		}
	}
	/* the aggregation over the join, after the join's sides */
	if (agg != NULL)
		pgs_progress_add_operator(progress, "aggregation", 0, agg_state, agg_updated,
								  agg_evicted, agg_late);
	/* the mean over both sides' rows, as a batch over one stream has it */
	if (!progress->times_null && ntimes > 0)
		progress->event_time_avg = DatumGetTimestampTz(DirectFunctionCall1(float8_timestamptz,
																		   Float8GetDatum(tsum / ntimes)));
	progress->has_state = true;
	progress->state_rows = counts[0] + counts[1] + agg_state;
	progress->late_rows += agg_late;
	progress->state_rows_updated = added[0] + added[1] + agg_updated;

	/* the watermark of the next batch: the sides' by the policy */
	progress->next_null = w->watermark_null;
	progress->next_watermark = w->watermark;
	if (jb->has_watermark)
	{
		bool		use_max = q->watermark_policy && strcmp(q->watermark_policy, "max") == 0;
		bool		have = false;
		bool		missing = false;
		TimestampTz global = 0;

		for (side = 0; side < PGS_MAX_SIDES; side++)
		{
			if (q->sides[side].event_time == NULL)
				continue;
			if (sp[side].watermark_null)
			{
				missing = true;
				continue;
			}
			if (!have || (use_max ? sp[side].watermark > global : sp[side].watermark < global))
				global = sp[side].watermark;
			have = true;
		}
		/* under "min", a side without rows yet holds the watermark back */
		if (have && (use_max || !missing) &&
			(progress->next_null || global > progress->next_watermark))
		{
			progress->next_watermark = global;
			progress->next_null = false;
		}
	}
	return written;
}

/* ---- after a logical restore ---- */

/* does the join's state name its rows by fingerprint (a state made after 0.7)? */
bool
pgs_join_has_fingerprints(const PgsQuery *q)
{
	PgsQuery	jq;

	if (join_chained(q))
	{
		join_own(q, &jq);
		q = &jq;
	}
	return join_has_fp(q);
}

/* the snapshot the join started at (starting_from => 'latest'), or false */
bool
pgs_join_read_start(const PgsQuery *q, Datum *start)
{
	PgsQuery	jq;
	bool		start_null = true;

	if (join_chained(q))
	{
		join_own(q, &jq);
		q = &jq;
	}
	join_read_state(q, 'u', NULL, start, &start_null);
	return !start_null;
}

/*
 * Forget everything the join's state holds, its start included: its next
 * batch reads its streams as a query that starts afresh.
 */
void
pgs_join_clear_state(const PgsQuery *q)
{
	PgsQuery	jq;

	if (join_chained(q))
	{
		join_own(q, &jq);
		q = &jq;
	}
	pgs_catalog_run(psprintf("DELETE FROM %s", pgs_qualified_relname(q->state_relid)),
					0, NULL, NULL, NULL, false, 0);
}

/* is the stamp visible in the snapshot, as pg_visible_in_snapshot says? */
static bool
join_visible(const PgsXidSnapshot *s, uint64 stamp)
{
	if (stamp < s->xmin)
		return true;
	if (stamp >= s->xmax)
		return false;
	return !pgs_snapshot_running(s, stamp);
}

/* what a state row needs: as many processed rows of its fingerprint */
typedef struct JoinFpWant
{
	int64		fp;				/* hash key */
	int			need;
	int			found;
	int			used;
	ItemPointerData *tids;
} JoinFpWant;

/*
 * After a logical restore: the join's state names rows of its streams by
 * their places, which the restore changed.  Each state row is given the
 * place of a restored row of its side with its fingerprint that the join
 * processed (rows the join had not processed yet, or that were before its
 * start, are not the state's): such rows are the same row for the join,
 * whichever of them the state names, so they are matched by number.  Which
 * rows the join processed is told by how->end and its start snapshot, or,
 * for rows already stamped again (a stamping that failed part-way and is
 * made again), by the bits how->bit and how->start_bit of their new stamps.
 * A state row that finds no row is an error, and nothing is changed.
 * Returns the number of state rows moved.
 */
int64
pgs_join_remap_restored(const PgsQuery *q, const PgsJoinProcessed *how)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	PgsQuery	jq;
	PgsXidSnapshot end;
	PgsXidSnapshot start;
	Datum		startd = (Datum) 0;
	bool		has_start;
	int			nstate;
	ItemPointerData *state_ctid;
	int		   *state_side;
	int64	   *state_fp;
	ItemPointerData *new_tid;
	int64		missing[PGS_MAX_SIDES] = {0, 0};
	int			side;
	int			i;

	if (join_chained(q))
	{
		join_own(q, &jq);
		q = &jq;
	}
	if (!join_has_fp(q))
		elog(ERROR, "the join state of streaming query \"%s\" has no fingerprints", q->name);
	has_start = pgs_join_read_start(q, &startd);
	if (how->end != (Datum) 0)
		pgs_snapshot_parse(how->end, &end);
	if (has_start)
		pgs_snapshot_parse(startd, &start);

	/* the rows the state names */
	pgs_catalog_begin(&acc);
	nstate = pgs_catalog_exec(psprintf("SELECT ctid, side, fp FROM %s"
									   " WHERE kind IN ('u', 'l') ORDER BY side, fp",
									   pgs_qualified_relname(q->state_relid)),
							  0, NULL, NULL, NULL, true, 0);
	MemoryContextSwitchTo(cxt);
	state_ctid = palloc(sizeof(ItemPointerData) * Max(nstate, 1));
	state_side = palloc(sizeof(int) * Max(nstate, 1));
	state_fp = palloc(sizeof(int64) * Max(nstate, 1));
	new_tid = palloc(sizeof(ItemPointerData) * Max(nstate, 1));
	for (i = 0; i < nstate; i++)
	{
		bool		isnull;
		Datum		d;

		state_ctid[i] = *(ItemPointer) DatumGetPointer(pgs_result_datum(i, 1, &isnull));
		state_side[i] = DatumGetInt16(pgs_result_datum(i, 2, &isnull)) - 1;
		d = pgs_result_datum(i, 3, &isnull);
		if (isnull || state_side[i] < 0 || state_side[i] >= PGS_MAX_SIDES)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the join state of streaming query \"%s\" has a row without a fingerprint",
							q->name)));
		state_fp[i] = DatumGetInt64(d);
	}
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);
	if (nstate == 0)
		return 0;

	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		HASHCTL		ctl;
		HTAB	   *want;
		JoinFpWant *w;
		bool		found;
		Relation	rel;
		TupleTableSlot *slot;
		TableScanDesc scan;
		Snapshot	snapshot;
		AttrNumber	xid_attno;
		JoinFp		fp;
		PgsCatalogAccess oacc = {0};
		int			nwant = 0;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(JoinFpWant);
		ctl.hcxt = cxt;
		want = hash_create("pg_streaming join fingerprints", 256, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (i = 0; i < nstate; i++)
		{
			if (state_side[i] != side)
				continue;
			w = hash_search(want, &state_fp[i], HASH_ENTER, &found);
			if (!found)
			{
				w->need = w->found = w->used = 0;
				w->tids = NULL;
			}
			w->need++;
			nwant++;
		}
		if (nwant == 0)
			continue;

		/* the stream's rows the join processed, by fingerprint */
		rel = table_open(q->sides[side].relid, AccessShareLock);
		xid_attno = get_attnum(q->sides[side].relid, PGS_XID_COLUMN);
		if (xid_attno == InvalidAttrNumber)
			elog(ERROR, "stream table \"%s\" has no column %s",
				 RelationGetRelationName(rel), PGS_XID_COLUMN);
		join_fp_begin(rel, &fp);
		pgs_owner_begin(&oacc, q->owner, pgs_batch_search_path(q->search_path));
		MemoryContextSwitchTo(cxt);
		join_fp_settings(&fp);
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		scan = table_beginscan(rel, snapshot, 0, NULL);
		slot = table_slot_create(rel, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, xid_attno, &isnull);
			uint64		stamp = isnull ? 0 :
				U64FromFullTransactionId(DatumGetFullTransactionId(d));
			bool		processed;
			int64		f;

			if (FullTransactionIdIsValid(how->restore[side]) && how->bit >= 0 &&
				stamp >= FirstNormalTransactionId &&
				stamp < FirstNormalTransactionId + how->classes)
			{
				uint64		mask = stamp - FirstNormalTransactionId;

				processed = (mask & (UINT64CONST(1) << how->bit)) == 0 &&
					(how->start_bit < 0 || (mask & (UINT64CONST(1) << how->start_bit)) != 0);
			}
			else
				processed = how->end != (Datum) 0 && !isnull &&
					join_visible(&end, stamp) &&
					!(has_start && join_visible(&start, stamp));
			if (!processed)
				continue;
			f = join_fp_row(&fp, slot);
			w = hash_search(want, &f, HASH_FIND, &found);
			if (!found || w->found >= w->need)
				continue;
			if (w->tids == NULL)
				w->tids = MemoryContextAlloc(cxt, sizeof(ItemPointerData) * w->need);
			w->tids[w->found++] = slot->tts_tid;
		}
		ExecDropSingleTupleTableSlot(slot);
		table_endscan(scan);
		UnregisterSnapshot(snapshot);
		pgs_owner_end(&oacc);
		MemoryContextSwitchTo(cxt);
		table_close(rel, NoLock);

		for (i = 0; i < nstate; i++)
		{
			if (state_side[i] != side)
				continue;
			w = hash_search(want, &state_fp[i], HASH_FIND, &found);
			Assert(found);
			if (w->used < w->found)
				new_tid[i] = w->tids[w->used++];
			else
				missing[side]++;
		}
		hash_destroy(want);
	}
	for (side = 0; side < PGS_MAX_SIDES; side++)
		if (missing[side] > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the join state of streaming query \"%s\" names " INT64_FORMAT " rows of stream table \"%s\" that its restored rows do not hold",
							q->name, missing[side], get_rel_name(q->sides[side].relid)),
					 errdetail("A join keeps rows of its streams that wait for a match or were dropped as late, and finds them again after a restore by their content among the rows it had processed."),
					 errhint("Restore the stream's rows as they were dumped, or choose restored_rows => 'deliver' to deliver every restored row again into an emptied target.")));

	{
		Oid			types[2] = {TIDARRAYOID, TIDARRAYOID};
		Datum		values[2] = {join_tid_array(state_ctid, nstate),
		join_tid_array(new_tid, nstate)};

		pgs_catalog_run(psprintf("UPDATE %s s SET tid = u.tid"
								 " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(old, tid)"
								 " WHERE s.ctid OPERATOR(pg_catalog.=) u.old",
								 pgs_qualified_relname(q->state_relid)),
						2, types, values, NULL, false, 0);
	}
	return nstate;
}

/* ---- what retention must keep ---- */

/*
 * What a later batch of join query_id may still read of stream relid, for
 * retention (storage/pgs_retention.h): of the rows visible in end_snapshot
 * (the latest committed batch's end), the rows of each side on the stream
 * whose bound time the watermark in force for the next batch has not
 * passed (a live read), and the rows its state table names (waiting and
 * late rows, read by tid).  *min_xid gets the smallest _stream_xid among
 * them.  False when a side on the stream has no bound: the join may read
 * any of its rows again.  The stream is read as the query's owner, as the
 * batches read it: rows its policies hide from the owner are never read.
 * It costs a read of the side's live rows, which an index on the side's
 * time column serves, once per retention pass.
 */
static bool
join_retention_min(const PgsQuery *qp, Oid relid, Datum end_snapshot,
				   uint64 *min_xid)
{
	PgsQuery	q = *qp;
	JoinPlans  *p;
	PgsWatermarks w;
	bool		has_watermark = false;
	Datum		waiting[PGS_MAX_SIDES];
	Datum		late[PGS_MAX_SIDES];
	Datum		start = (Datum) 0;
	bool		start_null = true;
	int			side;

	*min_xid = PG_UINT64_MAX;
	/* below an aggregation, the join's rows are in its own table */
	if (join_chained(qp))
		join_own(qp, &q);
	p = join_plans_for(&q);
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		if (q.sides[side].relid == relid && !p->shape.bound[side].bounded)
			return false;
		if (q.sides[side].event_time != NULL)
			has_watermark = true;
	}
	/* the next batch's live reads are bounded by its late watermark */
	w.late_null = true;
	if (has_watermark)
		pgs_checkpoint_plan_watermarks(q.query_id, &w);
	join_read_state(&q, 'u', waiting, &start, &start_null);
	join_read_state(&q, 'l', late, NULL, NULL);
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		PgsCatalogAccess acc = {0};
		MemoryContext cxt = CurrentMemoryContext;
		Oid			types[5] = {TIMESTAMPTZOID, PG_SNAPSHOTOID, PG_SNAPSHOTOID,
		TIDARRAYOID, TIDARRAYOID};
		Datum		values[5];
		char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
		char	   *bound = "COALESCE($1, '-infinity'::pg_catalog.timestamptz)";
		char	   *stream = pgs_qualified_relname(relid);
		bool		isnull;
		Datum		d;

		if (q.sides[side].relid != relid)
			continue;
		join_bound(&p->shape.bound[side], w.late_null, w.late, &values[0], &nulls[0]);
		values[1] = end_snapshot;
		values[2] = start;
		nulls[2] = start_null ? 'n' : ' ';
		values[3] = waiting[side];
		values[4] = late[side];
		if (get_atttype(relid, p->shape.bound[side].time_attno) == TIMESTAMPOID)
			bound = psprintf("pg_catalog.timezone('UTC', %s)", bound);
		pgs_owner_begin(&acc, q.owner, pgs_batch_search_path(q.search_path));
		pgs_owner_exec(q.query_id,
					   psprintf("SELECT pg_catalog.min(x) FROM ("
								" SELECT s." PGS_XID_COLUMN " AS x FROM ONLY %s AS s"
								"  WHERE s.%s OPERATOR(pg_catalog.%s) %s"
								"    AND pg_catalog.pg_visible_in_snapshot(s." PGS_XID_COLUMN ", $2)"
								"    AND ($3::pg_catalog.pg_snapshot IS NULL"
								"     OR NOT pg_catalog.pg_visible_in_snapshot(s." PGS_XID_COLUMN ", $3))"
								" UNION ALL"
								" SELECT s." PGS_XID_COLUMN " FROM ONLY %s AS s"
								"  WHERE s.ctid OPERATOR(pg_catalog.=) ANY (pg_catalog.array_cat($4, $5))) AS r",
								stream, quote_identifier(p->bound_column[side]),
								p->shape.bound[side].strict ? ">" : ">=",
								bound, stream),
					   5, types, values, nulls, true, 0);
		MemoryContextSwitchTo(cxt);
		d = pgs_result_datum(0, 1, &isnull);
		if (!isnull)
		{
			uint64		x = U64FromFullTransactionId(DatumGetFullTransactionId(d));

			if (x < *min_xid)
				*min_xid = x;
		}
		pgs_owner_end(&acc);
		MemoryContextSwitchTo(cxt);
	}
	return true;
}

/*
 * join_retention_min in a subtransaction of its own: a join its owner can
 * no longer analyze or read (a privilege taken away) holds every row, with
 * a WARNING, and does not stop the pass over the stream.  The error itself
 * goes to the server log only: it may quote a text the stream's owner,
 * who runs the pass, is not shown.
 */
bool
pgs_join_retention_hold(int64 query_id, Oid relid, Datum end_snapshot,
						uint64 *min_xid)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool result = false;
	PgsQuery	q;

	*min_xid = PG_UINT64_MAX;
	memset(&q, 0, sizeof(q));
	if (!pgs_query_read(NULL, query_id, PGS_QUERY_NO_LOCK, &q) ||
		q.nsides != PGS_MAX_SIDES || !OidIsValid(q.state_relid))
		return false;
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		MemoryContextSwitchTo(cxt);
		result = join_retention_min(&q, relid, end_snapshot, min_xid);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* a cancel or a termination stops the pass */
		if (pgs_error_is_interrupt(edata->sqlerrcode))
			ReThrowError(edata);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("retention keeps every row of stream \"%s\" for streaming query \"%s\"",
						get_rel_name(relid), q.name),
				 errdetail("The rows its join may still read could not be found as its owner."),
				 errdetail_log("The rows its join may still read could not be found as its owner: %s",
							   edata->message),
				 errhint("Make the query's text valid for its owner again, or detach the query with stream.detach_query().")));
		*min_xid = PG_UINT64_MAX;
		result = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return result;
}
