/*-------------------------------------------------------------------------
 *
 * query_catalog.c
 *	  The one owner of stream.query_defs: read, lock, insert, delete and
 *	  change streaming queries.
 *
 * Every statement here runs in a catalog stretch (catalog.c).  A change
 * that other backends must hear of, a query dropped or moved to another
 * owner, also sends a relcache invalidation for stream.query_defs at
 * commit, which drops the batch statements those backends prepared for it
 * (batch.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_am_d.h"
#include "executor/tuptable.h"
#include "tcop/utility.h"
#include "utils/snapmgr.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type_d.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "lib/stringinfo.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_errors.h"
#include "common/pgs_events.h"
#include "access/xact.h"
#include "utils/memutils.h"
#include "nodes/parsenodes.h"
#include "common/pgs_common.h"

/*
 * The columns pgs_query_read reads, by name: QC_COL(c) is the position of
 * column c in the select list qc_select_list builds from qc_columns, so a
 * column added to both (in the same place) shifts no other.
 */
typedef enum QcColumn
{
	QC_QUERY_ID,
	QC_NAME,
	QC_OWNER,
	QC_STREAM_RELID,
	QC_TARGET_RELID,
	QC_QUERY_TEXT,
	QC_SEARCH_PATH,
	QC_TARGET_COLUMNS,
	QC_OUTPUT_MODE,
	QC_TRIGGER,
	QC_MAX_ROWS,
	QC_STATUS,
	QC_LAST_ERROR,
	QC_LAST_ERROR_SQLSTATE,
	QC_LAST_ERROR_DETAIL,
	QC_LAST_ERROR_HINT,
	QC_STATE_RELID,
	QC_EVENT_TIME,
	QC_WATERMARK_USECS,
	QC_DEDUP_COLUMNS,
	QC_KEY_COLUMNS,
	QC_FOREACH_BATCH,
	QC_DEFINITION_VIEW,
	QC_WATERMARK_POLICY,
	QC_WATERMARKS,
	QC_EVENTS_CHANNEL,
	QC_ON_ERROR,
	QC_NCOLUMNS
} QcColumn;

#define QC_COL(c)	((int) (c) + 1)

/*
 * Each column's expression, by the catalog version it needs: the first
 * form whose version the installed catalog has is read (a catalog older
 * than a column's version reads a typed NULL in its place).
 */
typedef struct QcColumnForm
{
	int			since;
	const char *expr;
} QcColumnForm;

static const QcColumnForm qc_columns[QC_NCOLUMNS][3] = {
	[QC_QUERY_ID] = {{0, "query_id"}},
	[QC_NAME] = {{0, "name"}},
	[QC_OWNER] = {{0, "owner::oid"}},
	[QC_STREAM_RELID] = {{0, "stream_relid::oid"}},
	[QC_TARGET_RELID] = {{0, "target_relid::oid"}},
	/* from 0.5 on, batches run the text their owner's analysis was deparsed to */
	[QC_QUERY_TEXT] = {{PGS_CATALOG_0_5, "coalesce(run_text, query_text)"},
	{0, "query_text"}},
	[QC_SEARCH_PATH] = {{0, "search_path"}},
	[QC_TARGET_COLUMNS] = {{0, "target_columns"}},
	[QC_OUTPUT_MODE] = {{0, "output_mode"}},
	[QC_TRIGGER] = {{0, "trigger"}},
	[QC_MAX_ROWS] = {{0, "coalesce(max_rows_per_batch, 0)"}},
	[QC_STATUS] = {{0, "status"}},
	[QC_LAST_ERROR] = {{0, "last_error"}},
	[QC_LAST_ERROR_SQLSTATE] = {{0, "last_error_sqlstate"}},
	[QC_LAST_ERROR_DETAIL] = {{PGS_CATALOG_0_2, "last_error_detail"},
	{0, "NULL::text"}},
	[QC_LAST_ERROR_HINT] = {{PGS_CATALOG_0_2, "last_error_hint"},
	{0, "NULL::text"}},
	[QC_STATE_RELID] = {{PGS_CATALOG_0_4, "state_relid::oid"},
	{0, "NULL::oid"}},
	[QC_EVENT_TIME] = {{PGS_CATALOG_0_4, "event_time"},
	{0, "NULL::text"}},
	[QC_WATERMARK_USECS] = {{PGS_CATALOG_0_4,
		"(extract(epoch FROM watermark_delay) * 1000000)::int8"},
	{0, "NULL::int8"}},
	[QC_DEDUP_COLUMNS] = {{PGS_CATALOG_0_4, "dedup_columns"},
	{0, "NULL::text[]"}},
	[QC_KEY_COLUMNS] = {{PGS_CATALOG_0_5, "key_columns"},
	{0, "NULL::text[]"}},

	/*
	 * from 0.6 on, a foreach_batch procedure is kept by oid and by name,
	 * since neither pg_dump nor pg_upgrade keeps a function's oid; the
	 * function (SQL, planned at every call) runs only for a query that has
	 * a procedure
	 */
	[QC_FOREACH_BATCH] = {{PGS_CATALOG_0_6,
		"CASE WHEN foreach_batch IS NULL THEN NULL::oid"
		" ELSE stream._foreach_batch_procedure(foreach_batch, foreach_batch_name) END"},
	{PGS_CATALOG_0_5, "foreach_batch::oid"},
	{0, "NULL::oid"}},
	[QC_DEFINITION_VIEW] = {{PGS_CATALOG_0_5, "definition_view::oid"},
	{0, "NULL::oid"}},
	[QC_WATERMARK_POLICY] = {{PGS_CATALOG_0_7, "watermark_policy"},
	{0, "NULL::text"}},
	[QC_WATERMARKS] = {{PGS_CATALOG_0_7, "watermarks"},
	{0, "NULL::text[]"}},
	[QC_EVENTS_CHANNEL] = {{PGS_CATALOG_0_8, "events_channel"},
	{0, "NULL::text"}},
	[QC_ON_ERROR] = {{PGS_CATALOG_0_8, "on_error"},
	{0, "'fail'::text"}},
};

/* the select list of qc_columns for the installed catalog, in order */
static char *
qc_select_list(void)
{
	int			version = pgs_catalog_version();
	StringInfoData buf;
	int			c;

	initStringInfo(&buf);
	for (c = 0; c < QC_NCOLUMNS; c++)
	{
		const QcColumnForm *form = qc_columns[c];

		while (form->since > version)
			form++;
		appendStringInfo(&buf, "%s%s", c > 0 ? ", " : "", form->expr);
	}
	return buf.data;
}

/*
 * Does the catalog have the columns of version 0.2?  A server runs the
 * newest library from the moment it is installed, and the catalog of an
 * older version until ALTER EXTENSION UPDATE: queries go on meanwhile.
 */
static bool
qc_catalog_has_detail(void)
{
	return pgs_catalog_version() >= PGS_CATALOG_0_2;
}

static void qc_invalidate(void);

/*
 * A text[] datum as a list of strings in cxt (NIL for NULL); a NULL
 * element is refused.
 */
static List *
qc_array_text_list(Datum d, bool isnull, MemoryContext cxt)
{
	Datum	   *elems;
	int			nelems;
	int			i;
	List	   *result = NIL;
	MemoryContext old;

	if (isnull)
		return NIL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &nelems);
	old = MemoryContextSwitchTo(cxt);
	for (i = 0; i < nelems; i++)
		result = lappend(result, TextDatumGetCString(elems[i]));
	MemoryContextSwitchTo(old);
	return result;
}

/* a text[] column of the last statement's first row as a list of strings */
static List *
qc_text_list(int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = pgs_result_datum(0, col, &isnull);

	return qc_array_text_list(d, isnull, cxt);
}

/* a list of strings as a text[] datum */
static Datum
qc_text_array(List *list)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(list), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, list)
		elems[i++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, list_length(list), TEXTOID, -1,
										   false, TYPALIGN_INT));
}

static void
qc_fill(PgsQuery *q, MemoryContext cxt)
{
	bool		isnull;
	Datum		d;

	q->query_id = DatumGetInt64(pgs_result_datum(0, QC_COL(QC_QUERY_ID), &isnull));
	q->name = pgs_result_text(0, QC_COL(QC_NAME), cxt);
	q->owner = DatumGetObjectId(pgs_result_datum(0, QC_COL(QC_OWNER), &isnull));
	q->stream_relid = DatumGetObjectId(pgs_result_datum(0, QC_COL(QC_STREAM_RELID), &isnull));
	q->target_relid = DatumGetObjectId(pgs_result_datum(0, QC_COL(QC_TARGET_RELID), &isnull));
	q->query_text = pgs_result_text(0, QC_COL(QC_QUERY_TEXT), cxt);
	q->search_path = pgs_result_text(0, QC_COL(QC_SEARCH_PATH), cxt);
	q->target_columns = qc_text_list(QC_COL(QC_TARGET_COLUMNS), cxt);
	q->output_mode = pgs_result_text(0, QC_COL(QC_OUTPUT_MODE), cxt);
	q->trigger = pgs_result_text(0, QC_COL(QC_TRIGGER), cxt);
	q->max_rows = DatumGetInt32(pgs_result_datum(0, QC_COL(QC_MAX_ROWS), &isnull));
	q->status = pgs_result_text(0, QC_COL(QC_STATUS), cxt);
	q->active = strcmp(q->status, "active") == 0;
	q->last_error = pgs_result_text(0, QC_COL(QC_LAST_ERROR), cxt);
	q->last_error_sqlstate = pgs_result_text(0, QC_COL(QC_LAST_ERROR_SQLSTATE), cxt);
	q->last_error_detail = pgs_result_text(0, QC_COL(QC_LAST_ERROR_DETAIL), cxt);
	q->last_error_hint = pgs_result_text(0, QC_COL(QC_LAST_ERROR_HINT), cxt);
	d = pgs_result_datum(0, QC_COL(QC_STATE_RELID), &isnull);
	q->state_relid = isnull ? InvalidOid : DatumGetObjectId(d);
	q->event_time = pgs_result_text(0, QC_COL(QC_EVENT_TIME), cxt);
	d = pgs_result_datum(0, QC_COL(QC_WATERMARK_USECS), &isnull);
	q->watermark_usecs = isnull ? -1 : DatumGetInt64(d);
	q->dedup_columns = qc_text_list(QC_COL(QC_DEDUP_COLUMNS), cxt);
	q->key_columns = qc_text_list(QC_COL(QC_KEY_COLUMNS), cxt);
	d = pgs_result_datum(0, QC_COL(QC_FOREACH_BATCH), &isnull);
	q->foreach_batch = isnull ? InvalidOid : DatumGetObjectId(d);
	d = pgs_result_datum(0, QC_COL(QC_DEFINITION_VIEW), &isnull);
	q->view_relid = isnull ? InvalidOid : DatumGetObjectId(d);
	q->watermark_policy = pgs_result_text(0, QC_COL(QC_WATERMARK_POLICY), cxt);
	q->watermarks = qc_text_list(QC_COL(QC_WATERMARKS), cxt);
	q->events_channel = pgs_result_text(0, QC_COL(QC_EVENTS_CHANNEL), cxt);
	q->on_error = pgs_result_text(0, QC_COL(QC_ON_ERROR), cxt);
	q->nsides = 0;
}

/*
 * The sides of a query that reads two streams, from stream.query_side_defs
 * (0.7 on; a query over one stream has no rows there, and nsides stays 0).
 * Runs inside the caller's catalog stretch, after qc_fill.
 */
static void
qc_fill_sides(PgsQuery *q, MemoryContext cxt)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(q->query_id)};
	int			n;
	int			i;

	if (!pgs_catalog_has_joins())
		return;
	n = pgs_catalog_exec("SELECT side, relid::pg_catalog.oid, name, event_time,"
						 " (extract(epoch FROM watermark_delay) * 1000000)::pg_catalog.int8"
						 " FROM stream.query_side_defs WHERE query_id = $1 ORDER BY side",
						 1, argtypes, values, NULL, false, 0);
	if (n == 0)
		return;
	if (n != PGS_MAX_SIDES)
		elog(ERROR, "streaming query \"%s\" has %d sides in stream.query_side_defs",
			 q->name, n);
	for (i = 0; i < n; i++)
	{
		PgsQuerySide *side = &q->sides[i];
		bool		isnull;
		Datum		d;

		if (DatumGetInt16(pgs_result_datum(i, 1, &isnull)) != i + 1)
			elog(ERROR, "streaming query \"%s\" has no side %d in stream.query_side_defs",
				 q->name, i + 1);
		side->relid = DatumGetObjectId(pgs_result_datum(i, 2, &isnull));
		side->name = pgs_result_text(i, 3, cxt);
		side->event_time = pgs_result_text(i, 4, cxt);
		d = pgs_result_datum(i, 5, &isnull);
		side->watermark_usecs = isnull ? -1 : DatumGetInt64(d);
	}
	q->nsides = n;
}

/*
 * The definitions this backend read, by query id, so that the reads of a
 * batch (two, each locking the query's row) fetch only the row's version
 * while the row has not changed.  A row version, (xmin, ctid), names the
 * same column values for as long as it exists (PL/pgSQL trusts a
 * function's pg_proc row the same way).  What the row's columns do not
 * decide is checked apart: the installed catalog's version chooses the
 * select list, kept with each entry; pg_proc decides which procedure a
 * foreach_batch name finds, and its invalidations, like stream.query_defs'
 * own, empty the cache.  A join's sides (another table) are read every
 * time, and a row that the reading transaction wrote itself is not kept:
 * that transaction may still be adding what goes with it.
 */
typedef struct QcCacheEntry
{
	int64		query_id;		/* hash key */
	TransactionId xmin;
	ItemPointerData ctid;
	int			catalog_version;
	MemoryContext cxt;			/* the query's strings and lists */
	PgsQuery	query;
} QcCacheEntry;

static HTAB *qc_cache = NULL;
static bool qc_cache_stale = false;
static bool qc_cache_callbacks = false;
static Oid	qc_cache_defs_relid = InvalidOid;	/* stream.query_defs */

/*
 * stream.query_defs' unique indexes on query_id and on name, which
 * pgs_query_read scans in C (qc_scan_begin), the positions of the columns
 * it decodes, and stream.query_side_defs' index on query_id: found from
 * the tables' index lists and attributes, forgotten at either table's
 * relcache invalidation (an index made or dropped, a column added, sends
 * one).  relid is InvalidOid until they are looked up; an index or column
 * not found leaves its OID or position invalid, and the read then runs in
 * SQL.
 */
typedef struct QcDefsIndexes
{
	Oid			relid;
	AttrNumber	id_attnum;
	AttrNumber	name_attnum;
	Oid			id_index;
	Oid			name_index;
	AttrNumber	attnums[QC_NCOLUMNS];	/* each QcColumn's column */
	AttrNumber	run_text_attnum;
	bool		decodable;		/* every column above found */
	Oid			sides_relid;
	Oid			sides_index;	/* its first key query_id */
} QcDefsIndexes;

/*
 * The column of stream.query_defs each QcColumn decodes in C, as the newest
 * form of qc_columns reads it (query text: run_text first).
 */
static const char *const qc_column_names[QC_NCOLUMNS] = {
	[QC_QUERY_ID] = "query_id",
	[QC_NAME] = "name",
	[QC_OWNER] = "owner",
	[QC_STREAM_RELID] = "stream_relid",
	[QC_TARGET_RELID] = "target_relid",
	[QC_QUERY_TEXT] = "query_text",
	[QC_SEARCH_PATH] = "search_path",
	[QC_TARGET_COLUMNS] = "target_columns",
	[QC_OUTPUT_MODE] = "output_mode",
	[QC_TRIGGER] = "trigger",
	[QC_MAX_ROWS] = "max_rows_per_batch",
	[QC_STATUS] = "status",
	[QC_LAST_ERROR] = "last_error",
	[QC_LAST_ERROR_SQLSTATE] = "last_error_sqlstate",
	[QC_LAST_ERROR_DETAIL] = "last_error_detail",
	[QC_LAST_ERROR_HINT] = "last_error_hint",
	[QC_STATE_RELID] = "state_relid",
	[QC_EVENT_TIME] = "event_time",
	[QC_WATERMARK_USECS] = "watermark_delay",
	[QC_DEDUP_COLUMNS] = "dedup_columns",
	[QC_KEY_COLUMNS] = "key_columns",
	[QC_FOREACH_BATCH] = "foreach_batch",
	[QC_DEFINITION_VIEW] = "definition_view",
	[QC_WATERMARK_POLICY] = "watermark_policy",
	[QC_WATERMARKS] = "watermarks",
	[QC_EVENTS_CHANNEL] = "events_channel",
	[QC_ON_ERROR] = "on_error",
};

static QcDefsIndexes qc_defs = {InvalidOid};

/*
 * A relcache invalidation: of stream.query_defs, or of every relation.  It
 * may come where the catalog cannot be read (an abort, a lock taken): the
 * table's OID is looked up when a definition is kept, not here.
 */
static void
qc_cache_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == qc_defs.relid || relid == qc_defs.sides_relid)
		qc_defs.relid = InvalidOid;
	if (!OidIsValid(relid) || relid == qc_cache_defs_relid)
	{
		qc_cache_stale = true;
		/* looked up again: the extension may be made anew */
		qc_cache_defs_relid = InvalidOid;
	}
}

/* a pg_proc invalidation: a foreach_batch name may find another procedure */
static void
qc_cache_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	qc_cache_stale = true;
}

/* free every kept definition */
static void
qc_cache_flush(void)
{
	HASH_SEQ_STATUS seq;
	QcCacheEntry *entry;

	qc_cache_stale = false;
	if (qc_cache == NULL)
		return;
	hash_seq_init(&seq, qc_cache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		MemoryContextDelete(entry->cxt);
	hash_destroy(qc_cache);
	qc_cache = NULL;
}

static char *
qc_strdup(const char *s, MemoryContext cxt)
{
	return s != NULL ? MemoryContextStrdup(cxt, s) : NULL;
}

static List *
qc_copy_strings(List *list, MemoryContext cxt)
{
	List	   *result = NIL;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	foreach(lc, list)
		result = lappend(result, pstrdup(lfirst(lc)));
	MemoryContextSwitchTo(old);
	return result;
}

/* a query's definition, with everything it points to copied into cxt */
static void
qc_copy(PgsQuery *dst, const PgsQuery *src, MemoryContext cxt)
{
	int			i;

	*dst = *src;
	dst->name = qc_strdup(src->name, cxt);
	dst->query_text = qc_strdup(src->query_text, cxt);
	dst->search_path = qc_strdup(src->search_path, cxt);
	dst->target_columns = qc_copy_strings(src->target_columns, cxt);
	dst->output_mode = qc_strdup(src->output_mode, cxt);
	dst->trigger = qc_strdup(src->trigger, cxt);
	dst->status = qc_strdup(src->status, cxt);
	dst->last_error = qc_strdup(src->last_error, cxt);
	dst->last_error_sqlstate = qc_strdup(src->last_error_sqlstate, cxt);
	dst->last_error_detail = qc_strdup(src->last_error_detail, cxt);
	dst->last_error_hint = qc_strdup(src->last_error_hint, cxt);
	dst->event_time = qc_strdup(src->event_time, cxt);
	dst->dedup_columns = qc_copy_strings(src->dedup_columns, cxt);
	dst->key_columns = qc_copy_strings(src->key_columns, cxt);
	for (i = 0; i < src->nsides; i++)
	{
		dst->sides[i].name = qc_strdup(src->sides[i].name, cxt);
		dst->sides[i].event_time = qc_strdup(src->sides[i].event_time, cxt);
	}
	dst->watermark_policy = qc_strdup(src->watermark_policy, cxt);
	dst->watermarks = qc_copy_strings(src->watermarks, cxt);
	dst->events_channel = qc_strdup(src->events_channel, cxt);
	dst->on_error = qc_strdup(src->on_error, cxt);
}

/* the row version (xmin, ctid) in columns col and col + 1 of the last row */
static void
qc_row_version(int col, TransactionId *xmin, ItemPointerData *ctid)
{
	bool		isnull;

	*xmin = DatumGetTransactionId(pgs_result_datum(0, col, &isnull));
	ItemPointerCopy((ItemPointer) DatumGetPointer(pgs_result_datum(0, col + 1, &isnull)),
					ctid);
}

/* the kept definition of the query, if it is of this row version */
static QcCacheEntry *
qc_cache_lookup(int64 query_id, TransactionId xmin, const ItemPointerData *ctid)
{
	QcCacheEntry *entry;

	if (qc_cache_stale)
		qc_cache_flush();
	if (qc_cache == NULL)
		return NULL;
	entry = hash_search(qc_cache, &query_id, HASH_FIND, NULL);
	if (entry == NULL || entry->xmin != xmin || !ItemPointerEquals(&entry->ctid, (ItemPointer) ctid) ||
		entry->catalog_version != pgs_catalog_version())
		return NULL;
	return entry;
}

/* once per backend: the invalidations that empty the kept definitions */
static void
qc_cache_register_callbacks(void)
{
	if (qc_cache_callbacks)
		return;
	CacheRegisterRelcacheCallback(qc_cache_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, qc_cache_syscache_callback, (Datum) 0);
	qc_cache_callbacks = true;
}

/* keep the definition just read, of row version (xmin, ctid) */
static void
qc_cache_store(const PgsQuery *q, TransactionId xmin, const ItemPointerData *ctid)
{
	QcCacheEntry *entry;
	bool		found;

	if (TransactionIdIsCurrentTransactionId(xmin))
		return;
	qc_cache_register_callbacks();
	if (qc_cache_stale)
		qc_cache_flush();
	if (!OidIsValid(qc_cache_defs_relid))
		qc_cache_defs_relid = pgs_query_defs_relid();
	if (qc_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(QcCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		qc_cache = hash_create("pg_streaming query definitions", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(qc_cache, &q->query_id, HASH_ENTER, &found);
	if (found)
		MemoryContextDelete(entry->cxt);
	entry->cxt = AllocSetContextCreate(CacheMemoryContext,
									   "pg_streaming query definition",
									   ALLOCSET_SMALL_SIZES);
	entry->xmin = xmin;
	entry->ctid = *ctid;
	entry->catalog_version = pgs_catalog_version();
	qc_copy(&entry->query, q, entry->cxt);
}

/*
 * A valid btree index of rel, without predicate or expression, whose first
 * key is column attnum of type typid: with unique, a unique index of that
 * one key.  InvalidOid when there is none.
 */
static Oid
qc_defs_find_index(Relation rel, List *indexes, AttrNumber attnum, Oid typid,
				   bool unique)
{
	ListCell   *lc;

	if (attnum == InvalidAttrNumber ||
		TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != typid)
		return InvalidOid;
	foreach(lc, indexes)
	{
		Relation	irel = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = irel->rd_index;
		bool		fits;

		fits = (!unique || (ix->indisunique && ix->indnkeyatts == 1)) &&
			ix->indisvalid && ix->indisready && ix->indkey.values[0] == attnum &&
			irel->rd_rel->relam == BTREE_AM_OID &&
			RelationGetIndexPredicate(irel) == NIL &&
			RelationGetIndexExpressions(irel) == NIL;
		index_close(irel, NoLock);
		if (fits)
			return lfirst_oid(lc);
	}
	return InvalidOid;
}

/* look up qc_defs for stream.query_defs, open as rel */
static void
qc_defs_find(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes = RelationGetIndexList(rel);
	Oid			sides_relid;
	int			c;

	qc_cache_register_callbacks();
	memset(&qc_defs, 0, sizeof(qc_defs));
	qc_defs.id_attnum = pgs_column_attnum(desc, "query_id");
	qc_defs.name_attnum = pgs_column_attnum(desc, "name");
	qc_defs.id_index = qc_defs_find_index(rel, indexes, qc_defs.id_attnum, INT8OID, true);
	qc_defs.name_index = qc_defs_find_index(rel, indexes, qc_defs.name_attnum, TEXTOID, true);
	list_free(indexes);
	qc_defs.decodable = true;
	for (c = 0; c < QC_NCOLUMNS; c++)
	{
		qc_defs.attnums[c] = pgs_column_attnum(desc, qc_column_names[c]);
		if (qc_defs.attnums[c] == InvalidAttrNumber)
			qc_defs.decodable = false;
	}
	qc_defs.run_text_attnum = pgs_column_attnum(desc, "run_text");
	if (qc_defs.run_text_attnum == InvalidAttrNumber)
		qc_defs.decodable = false;

	sides_relid = get_relname_relid("query_side_defs", RelationGetNamespace(rel));
	if (OidIsValid(sides_relid))
	{
		Relation	srel = table_open(sides_relid, AccessShareLock);

		indexes = RelationGetIndexList(srel);
		qc_defs.sides_index = qc_defs_find_index(srel, indexes,
												 pgs_column_attnum(RelationGetDescr(srel), "query_id"),
												 INT8OID, false);
		list_free(indexes);
		table_close(srel, NoLock);
		qc_defs.sides_relid = sides_relid;
	}
	qc_defs.relid = RelationGetRelid(rel);
}

/* what qc_scan_begin found */
typedef enum QcScanResult
{
	QC_SCAN_UNAVAILABLE,		/* no index to scan: ask SQL */
	QC_SCAN_NOT_FOUND,
	QC_SCAN_FOUND
} QcScanResult;

/*
 * One row of stream.query_defs found by qc_scan_begin: the relations,
 * the snapshot it was found under, which stays registered until
 * qc_scan_end (a TOASTed column is read under it), and the row in slot.
 */
typedef struct QcScan
{
	Relation	rel;
	Relation	irel;
	Snapshot	snapshot;
	TupleTableSlot *slot;
} QcScan;

/*
 * Does the row version in slot still have the key it was found by?  A
 * version reached by following the update chain may have been renamed.
 */
static bool
qc_version_has_key(TupleTableSlot *slot, const char *name, int64 query_id)
{
	bool		isnull;
	Datum		d;

	if (name != NULL)
	{
		d = slot_getattr(slot, qc_defs.name_attnum, &isnull);
		return !isnull && strcmp(TextDatumGetCString(d), name) == 0;
	}
	d = slot_getattr(slot, qc_defs.id_attnum, &isnull);
	return !isnull && DatumGetInt64(d) == query_id;
}

/*
 * Find a query's row in stream.query_defs by name or id with an index scan
 * under a new snapshot, as the statement "SELECT ... FROM stream.query_defs
 * WHERE key = $1 [FOR UPDATE]" finds it, without parsing, planning or
 * starting an executor.  With PGS_QUERY_LOCK the row is locked as FOR
 * UPDATE locks it (nodeLockRows.c): in READ COMMITTED the lock waits for a
 * transaction that holds or changes the row, then takes the row's latest
 * version, which is found only if it still has the key; in REPEATABLE READ
 * and SERIALIZABLE a row changed since the snapshot is a serialization
 * failure.  A deadlock or a lock timeout while waiting fails as the
 * statement would.  Unless the result is QC_SCAN_UNAVAILABLE, the caller
 * ends the scan with qc_scan_end.
 */
static QcScanResult
qc_scan_begin(const char *name, int64 query_id, PgsQueryLock lock, QcScan *scan)
{
	Oid			relid = pgs_query_defs_relid();
	Oid			indexoid;
	ScanKeyData key;
	IndexScanDesc iscan;
	QcScanResult result;

	memset(scan, 0, sizeof(*scan));
	if (!OidIsValid(relid))
		return QC_SCAN_UNAVAILABLE;
	if (lock == PGS_QUERY_LOCK)
	{
		/* refused where the statement would be, in the catalog's words */
		pgs_require_writable();
		PreventCommandIfParallelMode("SELECT FOR UPDATE");
	}
	/* the table lock FOR UPDATE takes, or a plain read's */
	scan->rel = table_open(relid, lock == PGS_QUERY_LOCK ? RowShareLock : AccessShareLock);
	if (qc_defs.relid != relid)
		qc_defs_find(scan->rel);
	indexoid = name != NULL ? qc_defs.name_index : qc_defs.id_index;
	if (!OidIsValid(indexoid) || qc_defs.id_attnum == InvalidAttrNumber)
	{
		table_close(scan->rel, NoLock);
		scan->rel = NULL;
		return QC_SCAN_UNAVAILABLE;
	}
	scan->irel = index_open(indexoid, AccessShareLock);

	scan->snapshot = pgs_catalog_statement_snapshot();
	if (name != NULL)
		ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
							   scan->irel->rd_indcollation[0], F_TEXTEQ,
							   CStringGetTextDatum(name));
	else
		ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
							   scan->irel->rd_indcollation[0], F_INT8EQ,
							   Int64GetDatum(query_id));
	scan->slot = table_slot_create(scan->rel, NULL);
	iscan = index_beginscan(scan->rel, scan->irel, scan->snapshot, 1, 0);
	index_rescan(iscan, &key, 1, NULL, 0);
	result = index_getnext_slot(iscan, ForwardScanDirection, scan->slot) ?
		QC_SCAN_FOUND : QC_SCAN_NOT_FOUND;
	index_endscan(iscan);

	if (result == QC_SCAN_FOUND && lock == PGS_QUERY_LOCK)
	{
		ItemPointerData tid = scan->slot->tts_tid;
		TM_FailureData tmfd;
		TM_Result	tm;
		int			flags = TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;

		if (!IsolationUsesXactSnapshot())
			flags |= TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
		tm = table_tuple_lock(scan->rel, &tid, scan->snapshot, scan->slot,
							  GetCurrentCommandId(true), LockTupleExclusive,
							  LockWaitBlock, flags, &tmfd);
		switch (tm)
		{
			case TM_Ok:
				if (tmfd.traversed && !qc_version_has_key(scan->slot, name, query_id))
					result = QC_SCAN_NOT_FOUND;
				break;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				if (tm == TM_Updated)
					elog(ERROR, "unexpected table_tuple_lock status: %u", tm);
				result = QC_SCAN_NOT_FOUND;
				break;
			case TM_SelfModified:
				/* changed by this very command: FOR UPDATE skips it too */
				result = QC_SCAN_NOT_FOUND;
				break;
			case TM_Invisible:
				elog(ERROR, "attempted to lock invisible tuple");
				break;
			default:
				elog(ERROR, "unexpected table_tuple_lock status: %u", tm);
				break;
		}
	}
	return result;
}

static void
qc_scan_end(QcScan *scan)
{
	ExecDropSingleTupleTableSlot(scan->slot);
	UnregisterSnapshot(scan->snapshot);
	index_close(scan->irel, NoLock);
	table_close(scan->rel, NoLock);
}

/* the id and the version (xmin, ctid) of the row found */
static void
qc_scan_version(QcScan *scan, int64 *query_id, TransactionId *xmin, ItemPointerData *ctid)
{
	bool		isnull;

	*query_id = DatumGetInt64(slot_getattr(scan->slot, qc_defs.id_attnum, &isnull));
	*xmin = DatumGetTransactionId(slot_getsysattr(scan->slot,
												  MinTransactionIdAttributeNumber,
												  &isnull));
	*ctid = scan->slot->tts_tid;
}

/* a text column of the row found, in cxt; NULL for NULL */
static char *
qc_slot_text(TupleTableSlot *slot, QcColumn c, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, qc_defs.attnums[c], &isnull);
	MemoryContext old;
	char	   *result;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	result = TextDatumGetCString(d);
	MemoryContextSwitchTo(old);
	return result;
}

/* a text[] column of the row found as a list of strings in cxt */
static List *
qc_slot_text_list(TupleTableSlot *slot, QcColumn c, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, qc_defs.attnums[c], &isnull);

	return qc_array_text_list(d, isnull, cxt);
}

/* an oid column of the row found; InvalidOid for NULL */
static Oid
qc_slot_oid(TupleTableSlot *slot, QcColumn c)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, qc_defs.attnums[c], &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/*
 * The definition in the row found, decoded as qc_fill reads qc_columns'
 * select list, with the same functions where that list computes a column;
 * false, with nothing decoded, where only SQL serves: a catalog older than
 * 0.8 or of other columns, or a foreach_batch procedure (found by an SQL
 * function).  The sides are not read here.
 */
static bool
qc_decode(QcScan *scan, PgsQuery *q, MemoryContext cxt)
{
	TupleTableSlot *slot = scan->slot;
	bool		isnull;
	Datum		d;

	if (!qc_defs.decodable || pgs_catalog_version() < PGS_CATALOG_0_8)
		return false;
	(void) slot_getattr(slot, qc_defs.attnums[QC_FOREACH_BATCH], &isnull);
	if (!isnull)
		return false;

	memset(q, 0, sizeof(*q));
	q->query_id = DatumGetInt64(slot_getattr(slot, qc_defs.attnums[QC_QUERY_ID], &isnull));
	q->name = qc_slot_text(slot, QC_NAME, cxt);
	q->owner = qc_slot_oid(slot, QC_OWNER);
	q->stream_relid = qc_slot_oid(slot, QC_STREAM_RELID);
	q->target_relid = qc_slot_oid(slot, QC_TARGET_RELID);
	/* coalesce(run_text, query_text) */
	d = slot_getattr(slot, qc_defs.run_text_attnum, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		q->query_text = TextDatumGetCString(d);
		MemoryContextSwitchTo(old);
	}
	else
		q->query_text = qc_slot_text(slot, QC_QUERY_TEXT, cxt);
	q->search_path = qc_slot_text(slot, QC_SEARCH_PATH, cxt);
	q->target_columns = qc_slot_text_list(slot, QC_TARGET_COLUMNS, cxt);
	q->output_mode = qc_slot_text(slot, QC_OUTPUT_MODE, cxt);
	q->trigger = qc_slot_text(slot, QC_TRIGGER, cxt);
	d = slot_getattr(slot, qc_defs.attnums[QC_MAX_ROWS], &isnull);
	q->max_rows = isnull ? 0 : DatumGetInt32(d);
	q->status = qc_slot_text(slot, QC_STATUS, cxt);
	q->active = q->status != NULL && strcmp(q->status, "active") == 0;
	q->last_error = qc_slot_text(slot, QC_LAST_ERROR, cxt);
	q->last_error_sqlstate = qc_slot_text(slot, QC_LAST_ERROR_SQLSTATE, cxt);
	q->last_error_detail = qc_slot_text(slot, QC_LAST_ERROR_DETAIL, cxt);
	q->last_error_hint = qc_slot_text(slot, QC_LAST_ERROR_HINT, cxt);
	q->state_relid = qc_slot_oid(slot, QC_STATE_RELID);
	q->event_time = qc_slot_text(slot, QC_EVENT_TIME, cxt);
	/* (extract(epoch FROM watermark_delay) * 1000000)::int8 */
	d = slot_getattr(slot, qc_defs.attnums[QC_WATERMARK_USECS], &isnull);
	if (isnull)
		q->watermark_usecs = -1;
	else
	{
		Datum		epoch = DirectFunctionCall2(extract_interval,
												CStringGetTextDatum("epoch"), d);
		Datum		usecs = DirectFunctionCall2(numeric_mul, epoch,
												DirectFunctionCall1(int4_numeric,
																	Int32GetDatum(1000000)));

		q->watermark_usecs = DatumGetInt64(DirectFunctionCall1(numeric_int8, usecs));
	}
	q->dedup_columns = qc_slot_text_list(slot, QC_DEDUP_COLUMNS, cxt);
	q->key_columns = qc_slot_text_list(slot, QC_KEY_COLUMNS, cxt);
	q->foreach_batch = InvalidOid;
	q->view_relid = qc_slot_oid(slot, QC_DEFINITION_VIEW);
	q->watermark_policy = qc_slot_text(slot, QC_WATERMARK_POLICY, cxt);
	q->watermarks = qc_slot_text_list(slot, QC_WATERMARKS, cxt);
	q->events_channel = qc_slot_text(slot, QC_EVENTS_CHANNEL, cxt);
	q->on_error = qc_slot_text(slot, QC_ON_ERROR, cxt);
	q->nsides = 0;
	return true;
}

/*
 * Has the query rows in stream.query_side_defs, under the scan's snapshot?
 * True where that cannot be told in C: qc_fill_sides then reads them.
 */
static bool
qc_scan_may_have_sides(QcScan *scan, int64 query_id)
{
	Relation	srel;
	Relation	sirel;
	ScanKeyData key;
	IndexScanDesc iscan;
	TupleTableSlot *slot;
	bool		found;

	if (!pgs_catalog_has_joins())
		return false;
	if (!OidIsValid(qc_defs.sides_index))
		return true;
	srel = table_open(qc_defs.sides_relid, AccessShareLock);
	sirel = index_open(qc_defs.sides_index, AccessShareLock);
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   sirel->rd_indcollation[0], F_INT8EQ,
						   Int64GetDatum(query_id));
	slot = table_slot_create(srel, NULL);
	iscan = index_beginscan(srel, sirel, scan->snapshot, 1, 0);
	index_rescan(iscan, &key, 1, NULL, 0);
	found = index_getnext_slot(iscan, ForwardScanDirection, slot);
	index_endscan(iscan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(sirel, NoLock);
	table_close(srel, NoLock);
	return found;
}

/*
 * Read a query by name (when name is not NULL) or by id, locking its row
 * when asked; false when there is none.  The lock lasts until the end of
 * the transaction.  The row is found and locked in C (qc_scan_begin); a
 * definition this backend read before, of the row version the row still
 * has, is not read again (see QcCacheEntry), and another is decoded from
 * the row found, or, where only SQL serves (qc_decode), read in SQL, the
 * lock already held.
 */
bool
pgs_query_read(const char *name, int64 query_id, PgsQueryLock lock, PgsQuery *q)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1];
	Datum		values[1];
	const char *key = name != NULL ? "name" : "query_id";
	const char *lock_clause = lock == PGS_QUERY_LOCK ? " FOR UPDATE" : "";
	TransactionId xmin;
	ItemPointerData ctid;
	QcCacheEntry *entry;
	QcScan		scan;
	QcScanResult scanned;
	bool		found;

	scanned = qc_scan_begin(name, query_id, lock, &scan);
	if (scanned == QC_SCAN_NOT_FOUND)
	{
		qc_scan_end(&scan);
		return false;
	}
	if (scanned == QC_SCAN_FOUND)
	{
		int64		found_id;
		bool		sides;

		qc_scan_version(&scan, &found_id, &xmin, &ctid);
		entry = qc_cache_lookup(found_id, xmin, &ctid);
		if (entry != NULL)
		{
			qc_scan_end(&scan);
			qc_copy(q, &entry->query, cxt);
			if (q->nsides > 0)
			{
				pgs_catalog_begin(&acc);
				qc_fill_sides(q, cxt);
				pgs_catalog_end(&acc);
			}
			return true;
		}
		if (qc_decode(&scan, q, cxt))
		{
			sides = qc_scan_may_have_sides(&scan, q->query_id);
			qc_scan_end(&scan);
			if (sides)
			{
				pgs_catalog_begin(&acc);
				qc_fill_sides(q, cxt);
				pgs_catalog_end(&acc);
			}
			qc_cache_store(q, xmin, &ctid);
			return true;
		}
		qc_scan_end(&scan);
	}

	if (name != NULL)
	{
		argtypes[0] = TEXTOID;
		values[0] = CStringGetTextDatum(name);
	}
	else
	{
		argtypes[0] = INT8OID;
		values[0] = Int64GetDatum(query_id);
	}
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec(psprintf("SELECT %s, xmin, ctid FROM stream.query_defs"
									  " WHERE %s = $1%s",
									  qc_select_list(), key, lock_clause),
							 1, argtypes, values, NULL, false, 0) > 0;
	if (found)
	{
		qc_row_version(QC_COL(QC_NCOLUMNS), &xmin, &ctid);
		qc_fill(q, cxt);
		qc_fill_sides(q, cxt);
		qc_cache_store(q, xmin, &ctid);
	}
	pgs_catalog_end(&acc);
	return found;
}

/*
 * The active queries whose owner exists, in id order, for the scheduler:
 * a list of PgsActiveQuery in the caller's memory context.
 */
List *
pgs_query_list_active(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	List	   *result = NIL;
	int			n;
	int			i;

	pgs_catalog_begin(&acc);
	/* a join's second stream, whose commits make it due too */
	n = pgs_catalog_exec(pgs_catalog_has_joins() ?
						 "SELECT q.query_id, q.stream_relid::oid, q.trigger, q.owner::oid,"
						 " r.rolcanlogin, s.relid::oid"
						 " FROM stream.query_defs q JOIN pg_catalog.pg_roles r ON r.oid = q.owner::oid"
						 " LEFT JOIN stream.query_side_defs s ON s.query_id = q.query_id AND s.side = 2"
						 " WHERE q.status = 'active' ORDER BY q.query_id" :
						 "SELECT q.query_id, q.stream_relid::oid, q.trigger, q.owner::oid,"
						 " r.rolcanlogin, NULL::pg_catalog.oid"
						 " FROM stream.query_defs q JOIN pg_catalog.pg_roles r ON r.oid = q.owner::oid"
						 " WHERE q.status = 'active' ORDER BY q.query_id",
						 0, NULL, NULL, NULL, false, 0);
	for (i = 0; i < n; i++)
	{
		PgsActiveQuery *a = MemoryContextAllocZero(cxt, sizeof(PgsActiveQuery));
		MemoryContext old;
		bool		isnull;

		a->query_id = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		a->stream_relid = DatumGetObjectId(pgs_result_datum(i, 2, &isnull));
		a->trigger = pgs_result_text(i, 3, cxt);
		a->owner = DatumGetObjectId(pgs_result_datum(i, 4, &isnull));
		a->owner_can_login = DatumGetBool(pgs_result_datum(i, 5, &isnull));
		a->stream2_relid = DatumGetObjectId(pgs_result_datum(i, 6, &isnull));
		if (isnull || a->stream2_relid == a->stream_relid)
			a->stream2_relid = InvalidOid;
		old = MemoryContextSwitchTo(cxt);
		result = lappend(result, a);
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return result;
}

/* the error for a query name that names no query */
void
pgs_query_report_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("streaming query \"%s\" does not exist", name),
			 errhint("See stream.queries for the queries you can see.")));
}

/*
 * Only the owner of a query, a member of the owning role, or a superuser
 * may see or change it.  Called with the caller's identity in place.  The
 * message names the query the caller named, as PostgreSQL's do for tables,
 * and nothing else about it.
 */
void
pgs_query_check_access(const PgsQuery *q)
{
	if (!has_privs_of_role(GetUserId(), q->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for streaming query \"%s\"", q->name),
				 errhint("Only the owner of a query, a member of the owning role or a superuser can manage it.")));
}

/*
 * The side rows of a new query that reads two streams, in the caller's
 * catalog stretch.  A query over one stream has none.
 */
static void
qc_insert_sides(int64 query_id, const PgsQuery *q)
{
	int			i;

	for (i = 0; i < q->nsides; i++)
	{
		const PgsQuerySide *side = &q->sides[i];
		Oid			argtypes[6] = {INT8OID, INT2OID, OIDOID, TEXTOID, TEXTOID, INT8OID};
		Datum		values[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

		values[0] = Int64GetDatum(query_id);
		values[1] = Int16GetDatum(i + 1);
		values[2] = ObjectIdGetDatum(side->relid);
		values[3] = CStringGetTextDatum(side->name);
		values[4] = side->event_time ? CStringGetTextDatum(side->event_time) : (Datum) 0;
		values[5] = Int64GetDatum(side->watermark_usecs);
		nulls[4] = nulls[5] = side->event_time ? ' ' : 'n';
		pgs_catalog_exec("INSERT INTO stream.query_side_defs (query_id, side, relid, name,"
						 " event_time, watermark_delay)"
						 " VALUES ($1, $2, $3, $4, $5,"
						 " $6::pg_catalog.float8 * pg_catalog.interval '1 microsecond')",
						 6, argtypes, values, nulls, false, 0);
	}
}

/* a new query; returns its id */
int64
pgs_query_insert(const PgsQuery *q)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[17] = {TEXTOID, OIDOID, TEXTOID, TEXTOID, OIDOID, OIDOID,
		TEXTARRAYOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID, TEXTARRAYOID,
	TEXTARRAYOID, OIDOID, TEXTOID, TEXTARRAYOID};
	Datum		values[17];
	char		nulls[17];
	bool		isnull;
	int64		query_id;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(q->name);
	values[1] = ObjectIdGetDatum(q->owner);
	values[2] = CStringGetTextDatum(q->query_text);
	values[3] = CStringGetTextDatum(q->search_path);
	values[4] = ObjectIdGetDatum(q->stream_relid);
	values[5] = ObjectIdGetDatum(q->target_relid);
	values[6] = qc_text_array(q->target_columns);
	values[7] = CStringGetTextDatum(q->output_mode);
	values[8] = CStringGetTextDatum(q->trigger);
	values[9] = Int32GetDatum(q->max_rows);
	nulls[9] = q->max_rows > 0 ? ' ' : 'n';
	values[10] = q->event_time ? CStringGetTextDatum(q->event_time) : (Datum) 0;
	nulls[10] = q->event_time ? ' ' : 'n';
	values[11] = Int64GetDatum(q->watermark_usecs);
	nulls[11] = q->event_time ? ' ' : 'n';
	values[12] = qc_text_array(q->dedup_columns);
	nulls[12] = q->dedup_columns != NIL ? ' ' : 'n';
	values[13] = qc_text_array(q->key_columns);
	nulls[13] = q->key_columns != NIL ? ' ' : 'n';
	values[14] = ObjectIdGetDatum(q->foreach_batch);
	nulls[14] = OidIsValid(q->foreach_batch) ? ' ' : 'n';
	values[15] = q->watermark_policy ? CStringGetTextDatum(q->watermark_policy) : (Datum) 0;
	nulls[15] = q->watermark_policy ? ' ' : 'n';
	values[16] = qc_text_array(q->watermarks);
	nulls[16] = q->watermarks != NIL ? ' ' : 'n';

	/* start_query refuses what an older catalog has no place for */
	if ((q->nsides > 0 || q->watermarks != NIL || q->watermark_policy != NULL) &&
		!pgs_catalog_has_joins())
		elog(ERROR, "the catalog of pg_streaming has no place for a join's sides");

	pgs_catalog_begin(&acc);
	{
		Oid			argt1[1] = {TEXTOID};

		/* from 0.9 on, a distributed query's name is taken as well */
		if (pgs_catalog_exec(pgs_catalog_version() >= PGS_CATALOG_0_9 ?
							 "SELECT 1 FROM stream.query_defs WHERE name = $1"
							 " UNION ALL SELECT 1 FROM stream.distributed_queries WHERE name = $1" :
							 "SELECT 1 FROM stream.query_defs WHERE name = $1",
							 1, argt1, values, NULL, false, 0) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("streaming query \"%s\" already exists", q->name),
					 errhint("Drop it with stream.drop_query(), or choose another name.")));
	}
	/* an older catalog, before its update, has fewer columns */
	if (pgs_catalog_has_joins())
		pgs_catalog_exec("INSERT INTO stream.query_defs (name, owner, query_text,"
						 " search_path, stream_relid, target_relid, target_columns,"
						 " output_mode, trigger, max_rows_per_batch, event_time,"
						 " watermark_delay, dedup_columns, key_columns, foreach_batch,"
						 " foreach_batch_name, watermark_policy, watermarks)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
						 " $12::pg_catalog.float8 * pg_catalog.interval '1 microsecond', $13,"
						 " $14, $15, stream._procedure_signature($15), $16, $17)"
						 " RETURNING query_id",
						 17, argtypes, values, nulls, false, 0);
	else if (pgs_catalog_has_06())
		pgs_catalog_exec("INSERT INTO stream.query_defs (name, owner, query_text,"
						 " search_path, stream_relid, target_relid, target_columns,"
						 " output_mode, trigger, max_rows_per_batch, event_time,"
						 " watermark_delay, dedup_columns, key_columns, foreach_batch,"
						 " foreach_batch_name)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
						 " $12::pg_catalog.float8 * pg_catalog.interval '1 microsecond', $13,"
						 " $14, $15, stream._procedure_signature($15))"
						 " RETURNING query_id",
						 15, argtypes, values, nulls, false, 0);
	else if (pgs_catalog_has_keys())
		pgs_catalog_exec("INSERT INTO stream.query_defs (name, owner, query_text,"
						 " search_path, stream_relid, target_relid, target_columns,"
						 " output_mode, trigger, max_rows_per_batch, event_time,"
						 " watermark_delay, dedup_columns, key_columns, foreach_batch)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
						 " $12::pg_catalog.float8 * pg_catalog.interval '1 microsecond', $13,"
						 " $14, $15::pg_catalog.regprocedure)"
						 " RETURNING query_id",
						 15, argtypes, values, nulls, false, 0);
	else if (q->event_time)
		pgs_catalog_exec("INSERT INTO stream.query_defs (name, owner, query_text,"
						 " search_path, stream_relid, target_relid, target_columns,"
						 " output_mode, trigger, max_rows_per_batch, event_time,"
						 " watermark_delay, dedup_columns)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
						 " $12::pg_catalog.float8 * pg_catalog.interval '1 microsecond', $13)"
						 " RETURNING query_id",
						 13, argtypes, values, nulls, false, 0);
	else
		pgs_catalog_exec("INSERT INTO stream.query_defs (name, owner, query_text,"
						 " search_path, stream_relid, target_relid, target_columns,"
						 " output_mode, trigger, max_rows_per_batch)"
						 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
						 " RETURNING query_id",
						 10, argtypes, values, nulls, false, 0);
	query_id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
	qc_insert_sides(query_id, q);
	/* what a failing row does: start_query asked for 0.8 before anything but 'fail' */
	if (q->on_error != NULL && strcmp(q->on_error, "fail") != 0)
	{
		Oid			argt2[2] = {INT8OID, TEXTOID};
		Datum		vals2[2] = {Int64GetDatum(query_id), CStringGetTextDatum(q->on_error)};

		pgs_catalog_exec("UPDATE stream.query_defs SET on_error = $2 WHERE query_id = $1",
						 2, argt2, vals2, NULL, false, 0);
	}
	pgs_catalog_end(&acc);
	return query_id;
}

/*
 * alter_query: a query's new text (with the search_path and output columns
 * it was checked with), trigger and cap, all written as given.  Other
 * backends prepare the query's statements again.
 */
void
pgs_query_alter(const PgsQuery *q, bool text_changed)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, INT4OID, BOOLOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(q->query_id);
	values[1] = CStringGetTextDatum(q->query_text);
	values[2] = CStringGetTextDatum(q->search_path);
	values[3] = qc_text_array(q->target_columns);
	values[4] = CStringGetTextDatum(q->trigger);
	values[5] = Int32GetDatum(q->max_rows);
	nulls[5] = q->max_rows > 0 ? ' ' : 'n';
	values[6] = BoolGetDatum(text_changed);
	pgs_catalog_begin(&acc);
	/* without a new text, the text shown stays as written */
	pgs_catalog_exec("UPDATE stream.query_defs SET"
					 " query_text = CASE WHEN $7 THEN $2 ELSE query_text END,"
					 " search_path = CASE WHEN $7 THEN $3 ELSE search_path END,"
					 " target_columns = CASE WHEN $7 THEN $4 ELSE target_columns END,"
					 " trigger = $5, max_rows_per_batch = $6, altered_at = pg_catalog.now()"
					 " WHERE query_id OPERATOR(pg_catalog.=) $1",
					 7, argtypes, values, nulls, false, 0);
	pgs_catalog_end(&acc);
	qc_invalidate();
}

/*
 * alter_query: a query's watermark delays, as q holds them (its own, or
 * each side's), with the watermarks argument as it now reads.  The
 * watermarks already reached are the checkpoint's and stay as they are.
 */
void
pgs_query_alter_watermarks(const PgsQuery *q)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {INT8OID, INT8OID, TEXTARRAYOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			i;

	values[0] = Int64GetDatum(q->query_id);
	values[1] = Int64GetDatum(q->watermark_usecs);
	nulls[1] = q->event_time ? ' ' : 'n';
	values[2] = qc_text_array(q->watermarks);
	nulls[2] = q->watermarks != NIL ? ' ' : 'n';
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("UPDATE stream.query_defs SET"
					 " watermark_delay = $2::pg_catalog.float8 * pg_catalog.interval '1 microsecond',"
					 " watermarks = $3, altered_at = pg_catalog.now()"
					 " WHERE query_id OPERATOR(pg_catalog.=) $1",
					 3, argtypes, values, nulls, false, 0);
	for (i = 0; i < q->nsides; i++)
	{
		Oid			side_types[3] = {INT8OID, INT2OID, INT8OID};
		Datum		side_values[3];
		char		side_nulls[3] = {' ', ' ', ' '};

		side_values[0] = Int64GetDatum(q->query_id);
		side_values[1] = Int16GetDatum(i + 1);
		side_values[2] = Int64GetDatum(q->sides[i].watermark_usecs);
		side_nulls[2] = q->sides[i].event_time ? ' ' : 'n';
		pgs_catalog_exec("UPDATE stream.query_side_defs SET"
						 " watermark_delay = $3::pg_catalog.float8 * pg_catalog.interval '1 microsecond'"
						 " WHERE query_id OPERATOR(pg_catalog.=) $1 AND side OPERATOR(pg_catalog.=) $2",
						 3, side_types, side_values, side_nulls, false, 0);
	}
	pgs_catalog_end(&acc);
	qc_invalidate();
}

/*
 * alter_query: turn a query's batch events on (a new random channel, so
 * that whoever learnt the old one hears nothing more) or off.  Returns the
 * channel, or NULL.
 */
char *
pgs_query_set_events(int64 query_id, bool on)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {INT8OID, BOOLOID};
	Datum		values[2] = {Int64GetDatum(query_id), BoolGetDatum(on)};
	char	   *channel;

	pgs_catalog_begin(&acc);
	pgs_catalog_exec("UPDATE stream.query_defs SET events_channel = CASE WHEN $2 THEN"
					 " 'stream_events_' OPERATOR(pg_catalog.||)"
					 " pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text, '-', '')"
					 " END, altered_at = pg_catalog.now()"
					 " WHERE query_id OPERATOR(pg_catalog.=) $1 RETURNING events_channel",
					 2, argtypes, values, NULL, false, 0);
	channel = pgs_result_text(0, 1, cxt);
	pgs_catalog_end(&acc);
	qc_invalidate();
	return channel;
}

/*
 * "q"'s view depends on the object classid/objid, or on an object that
 * depends on it, however deep (what a rename carries over: an array type,
 * a table's row type, a typed table, an inheritance child, a schema's
 * objects, an extension's members).
 */
#define QC_VIEW_DEPENDS_ON(classid, objid) \
	" EXISTS (WITH RECURSIVE touched(classid, objid) AS (" \
	"     SELECT " classid "::pg_catalog.oid, " objid "::pg_catalog.oid" \
	"     UNION SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, touched t" \
	"      WHERE d.refclassid OPERATOR(pg_catalog.=) t.classid" \
	"        AND d.refobjid OPERATOR(pg_catalog.=) t.objid" \
	"        AND d.deptype OPERATOR(pg_catalog.=) ANY ('{n,a,i,e}'::pg_catalog.\"char\"[]))" \
	"  SELECT 1 FROM pg_catalog.pg_depend d, touched t" \
	"   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass" \
	"     AND d.objid IN (SELECT r.oid FROM pg_catalog.pg_rewrite r" \
	"                      WHERE r.ev_class OPERATOR(pg_catalog.=) q.definition_view)" \
	"     AND d.refclassid OPERATOR(pg_catalog.=) t.classid" \
	"     AND d.refobjid OPERATOR(pg_catalog.=) t.objid)"

/*
 * The queries a renaming command touches, found and locked by its
 * ddl_command_start trigger, with their analysis from before the rename
 * (which names objects by OID, and so follows the rename as a view does);
 * taken by its ddl_command_end trigger.  In the transaction's memory.
 */
typedef struct QcRenamed
{
	int64		query_id;
	Oid			owner;
	char	   *search_path;
	bool		qualified;		/* the text is the run text */
	char	   *name;
	Query	   *analyzed;
	SubTransactionId subid;		/* of the command that found it */
} QcRenamed;

static List *qc_renamed = NIL;
static MemoryContext qc_renamed_cxt = NULL;	/* under TopTransactionContext */

/* from the transaction-end dispatcher */
void
pgs_query_at_xact_end(XactEvent event)
{
	/* the memory goes with the transaction's */
	qc_renamed = NIL;
	qc_renamed_cxt = NULL;
}

/* a renaming command that failed in a subtransaction found nothing */
void
pgs_query_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid)
{
	ListCell   *lc;

	foreach(lc, qc_renamed)
	{
		QcRenamed  *r = lfirst(lc);

		if (r->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
			qc_renamed = foreach_delete_current(qc_renamed, lc);
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			r->subid = parentSubid;
	}
}

/*
 * Before a command that renames (or moves) the object classid/objid: lock
 * the rows of the queries whose views depend on it (or on what is in the
 * renamed schema, on a table below the renamed one, on a member of the moved
 * extension), as a batch does before it opens the tables its query reads, so
 * that the rename (which then locks the object) and a batch wait for each
 * other in one order, never in a cycle; and analyze their texts as their
 * owners, while the names still lead where they did.
 */
void
pgs_query_lock_for_rename(Oid classid, Oid objid)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(classid), ObjectIdGetDatum(objid)};
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *volatile found = NIL;
	ListCell   *lc;
	int			n;
	int			i;

	if (qc_renamed_cxt == NULL)
		qc_renamed_cxt = AllocSetContextCreate(TopTransactionContext, "pg_streaming renames",
											   ALLOCSET_SMALL_SIZES);

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT q.query_id, q.owner::pg_catalog.oid, q.search_path,"
						 " coalesce(q.run_text, q.query_text), q.run_text IS NOT NULL, q.name"
						 " FROM stream.query_defs q"
						 " WHERE q.definition_view IS NOT NULL AND"
						 QC_VIEW_DEPENDS_ON("$1", "$2")
						 " ORDER BY q.query_id FOR UPDATE OF q",
						 2, argtypes, values, NULL, false, 0);
	for (i = 0; i < n; i++)
	{
		QcRenamed  *r = MemoryContextAllocZero(cxt, sizeof(QcRenamed));
		bool		isnull;
		MemoryContext spi;

		r->query_id = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		r->owner = DatumGetObjectId(pgs_result_datum(i, 2, &isnull));
		r->search_path = pgs_result_text(i, 3, cxt);
		/* the text rides along in the analysis's place until analyzed */
		r->analyzed = (Query *) pgs_result_text(i, 4, cxt);
		r->qualified = DatumGetBool(pgs_result_datum(i, 5, &isnull));
		r->name = pgs_result_text(i, 6, cxt);
		r->subid = GetCurrentSubTransactionId();
		spi = MemoryContextSwitchTo(cxt);
		found = lappend((List *) found, r);
		MemoryContextSwitchTo(spi);
	}
	pgs_catalog_end(&acc);
	MemoryContextSwitchTo(cxt);

	/*
	 * Each analysis in a subtransaction of its own: a query its owner can no
	 * longer analyze (a schema's USAGE taken away) must not stop the rename;
	 * its texts then stay as they are.
	 */
	foreach(lc, (List *) found)
	{
		QcRenamed  *r = lfirst(lc);
		char	   *text = (char *) r->analyzed;
		QcRenamed  *volatile kept = NULL;

		BeginInternalSubTransaction(NULL);
		PG_TRY();
		{
			MemoryContext old = MemoryContextSwitchTo(qc_renamed_cxt);

			kept = palloc(sizeof(QcRenamed));
			*kept = *r;
			kept->search_path = pstrdup(r->search_path);
			kept->analyzed = pgs_query_analyze_as_owner(r->owner, text,
														r->qualified ? PGS_RUN_TEXT_PATH :
														pgs_batch_search_path(r->search_path));
			MemoryContextSwitchTo(old);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();

			/*
			 * A cancel or a termination stops the rename: it is raised again
			 * outside the subtransaction, and the rename rolls back whole.
			 */
			if (pgs_error_is_interrupt(edata->sqlerrcode))
			{
				MemoryContextSwitchTo(cxt);
				CurrentResourceOwner = owner;
				ReThrowError(edata);
			}
			ereport(WARNING,
					(errmsg("the text of streaming query \"%s\" does not follow this rename",
							r->name),
					 errdetail("Its owner could not analyze it: %s", edata->message),
					 errhint("Change its text with stream.alter_query() after the rename.")));
			kept = NULL;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (kept != NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(qc_renamed_cxt);

			qc_renamed = lappend(qc_renamed, (QcRenamed *) kept);
			MemoryContextSwitchTo(old);
		}
	}
}

/*
 * A rename of a foreach_batch procedure, or of its schema, is followed by
 * the name kept beside its oid (which pg_dump and pg_upgrade do not keep):
 * a name that no longer finds a procedure takes the oid's.  A name that
 * still finds one is left alone, since after a restore it is the oid that
 * is out of date.
 */
void
pgs_query_follow_procedure_renames(void)
{
	if (!pgs_catalog_has_06())
		return;
	pgs_catalog_run("UPDATE stream.query_defs"
					" SET foreach_batch_name = stream._procedure_signature(foreach_batch)"
					" WHERE foreach_batch IS NOT NULL"
					" AND pg_catalog.to_regprocedure(foreach_batch_name) IS NULL"
					" AND stream._procedure_signature(foreach_batch) IS NOT NULL",
					0, NULL, NULL, NULL, false, 0);
}

/*
 * After the rename: the texts of the queries found before it become their
 * analyses deparsed, for people with the names their owner's search_path
 * finds left unqualified, for batches with every name outside pg_catalog
 * qualified.  A renamed column that was a query's event time is renamed
 * there too, except where a deduplicating query outputs it under its name.
 */
void
pgs_query_follow_renames(Oid column_relid, const char *old_column, const char *new_column)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	List	   *renamed = qc_renamed;
	MemoryContext renamed_cxt = qc_renamed_cxt;
	ListCell   *lc;
	int			n = list_length(renamed);

	qc_renamed = NIL;
	qc_renamed_cxt = NULL;
	foreach(lc, renamed)
	{
		QcRenamed  *r = lfirst(lc);
		Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		values[3];

		/* deparsed outside any catalog statement, with fixed settings */
		values[0] = Int64GetDatum(r->query_id);
		values[1] = CStringGetTextDatum(pgs_query_deparse(r->analyzed,
														  pgs_owner_search_path(r->owner, r->search_path)));
		values[2] = CStringGetTextDatum(pgs_query_deparse(r->analyzed, PGS_RUN_TEXT_PATH));
		pgs_catalog_run("UPDATE stream.query_defs SET query_text = $2, run_text = $3"
						" WHERE query_id OPERATOR(pg_catalog.=) $1",
						3, argtypes, values, NULL, false, 0);
	}
	if (OidIsValid(column_relid))
	{
		Oid			argtypes[3] = {OIDOID, TEXTOID, TEXTOID};
		Datum		values[3] = {ObjectIdGetDatum(column_relid), CStringGetTextDatum(old_column),
		CStringGetTextDatum(new_column)};

		pgs_catalog_begin(&acc);
		/* a deduplicating query outputs its event time under the column's name */
		if (pgs_catalog_exec("SELECT name FROM stream.query_defs"
							 " WHERE stream_relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
							 "   AND event_time OPERATOR(pg_catalog.=) $2"
							 "   AND dedup_columns IS NOT NULL LIMIT 1",
							 2, argtypes, values, NULL, false, 0) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot rename column \"%s\" of stream \"%s\"", old_column,
							get_rel_name(column_relid)),
					 errdetail("It is the event time of deduplicating query \"%s\", which outputs it under its name.",
							   pgs_result_text(0, 1, cxt)),
					 errhint("Drop the query, rename the column, and start the query again.")));
		/* below an aggregation, deduplication names the stream's columns */
		if (pgs_catalog_exec("SELECT name FROM stream.query_defs d"
							 " WHERE stream_relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
							 "   AND $2 OPERATOR(pg_catalog.=) ANY (dedup_columns)"
							 "   AND state_relid IS NOT NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a"
							 "     WHERE a.attrelid OPERATOR(pg_catalog.=) d.state_relid::pg_catalog.oid"
							 "       AND a.attname OPERATOR(pg_catalog.=) '_expires_at' AND NOT a.attisdropped)"
							 " ORDER BY name LIMIT 1",
							 2, argtypes, values, NULL, false, 0) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot rename column \"%s\" of stream \"%s\"", old_column,
							get_rel_name(column_relid)),
					 errdetail("Streaming query \"%s\" deduplicates the stream's rows by it before aggregating them.",
							   pgs_result_text(0, 1, cxt)),
					 errhint("Drop the query, rename the column, and start the query again.")));
		/*
		 * The watermarks argument as given names the old column: it goes,
		 * and stream.queries shows the watermark from the columns again.
		 */
		n += pgs_catalog_exec(pgs_catalog_has_joins() ?
							  "UPDATE stream.query_defs SET event_time = $3, watermarks = NULL"
							  " WHERE stream_relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
							  "   AND event_time OPERATOR(pg_catalog.=) $2" :
							  "UPDATE stream.query_defs SET event_time = $3"
							  " WHERE stream_relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
							  "   AND event_time OPERATOR(pg_catalog.=) $2",
							  3, argtypes, values, NULL, false, 0);
		/* a join's side with the column as its event time */
		if (pgs_catalog_has_joins())
			n += pgs_catalog_exec("WITH s AS (UPDATE stream.query_side_defs SET event_time = $3"
								  "  WHERE relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
								  "    AND event_time OPERATOR(pg_catalog.=) $2 RETURNING query_id)"
								  " UPDATE stream.query_defs SET watermarks = NULL"
								  " WHERE query_id IN (SELECT query_id FROM s)",
								  3, argtypes, values, NULL, false, 0);
		pgs_catalog_end(&acc);
	}
	if (renamed_cxt != NULL)
		MemoryContextDelete(renamed_cxt);
	if (n > 0)
		qc_invalidate();
}

/* record a query's view (stream_query.<name>) and the text batches run */
void
pgs_query_set_view(int64 query_id, Oid view_relid, const char *tree)
{
	Oid			argtypes[3] = {INT8OID, OIDOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(query_id), ObjectIdGetDatum(view_relid),
	CStringGetTextDatum(tree)};

	pgs_catalog_run("UPDATE stream.query_defs SET definition_view = $2, run_text = $3"
					" WHERE query_id OPERATOR(pg_catalog.=) $1",
					3, argtypes, values, NULL, false, 0);
}

/* record a new streaming aggregation's state table */
void
pgs_query_set_state(int64 query_id, Oid state_relid)
{
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		values[2] = {Int64GetDatum(query_id), ObjectIdGetDatum(state_relid)};

	pgs_catalog_run("UPDATE stream.query_defs SET state_relid = $2 WHERE query_id = $1",
					2, argtypes, values, NULL, false, 0);
}

static int
qc_cmp_names(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/*
 * A foreach_batch query's target is the extension's table of its batch rows,
 * which goes with the query (NULL for other queries, and before 0.5).
 */
#define QC_BATCH_TABLE \
	(pgs_catalog_has_keys() ? \
	 "CASE WHEN foreach_batch IS NOT NULL THEN target_relid::oid END, definition_view::oid" : \
	 "NULL::oid, NULL::oid")

/*
 * A join reads its second stream as a side only (stream_relid is its first):
 * the condition that adds the queries reading $1 that way (none before 0.7).
 */
#define QC_READS_AS_SIDE \
	(pgs_catalog_has_joins() ? \
	 " OR query_id IN (SELECT s.query_id FROM stream.query_side_defs s" \
	 " WHERE s.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1)" : "")

/*
 * Drop the state (and batch) tables of the queries a statement deleted;
 * with cascade, with what depends on them (pgs_query_table_drop).
 */
static void
qc_drop_states(List *relids, bool cascade)
{
	ListCell   *lc;

	foreach(lc, relids)
		pgs_query_table_drop(lfirst_oid(lc),
							 cascade ? DROP_CASCADE : DROP_RESTRICT);
}

/*
 * The tables in columns first..last of the last statement's rows (state,
 * batch table, view), in cxt.
 */
static List *
qc_collect_states(int n, int first, int last, MemoryContext cxt)
{
	List	   *relids = NIL;
	int			i;
	int			col;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	for (i = 0; i < n; i++)
		for (col = first; col <= last; col++)
		{
			bool		isnull;
			Datum		d = pgs_result_datum(i, col, &isnull);

			if (!isnull)
				relids = lappend_oid(relids, DatumGetObjectId(d));
		}
	MemoryContextSwitchTo(old);
	return relids;
}

/* other backends drop what they prepared for changed queries at commit */
static void
qc_invalidate(void)
{
	CacheInvalidateRelcacheByRelid(pgs_query_defs_relid());
}

/*
 * Delete the queries that "where" (a condition on stream.query_defs with
 * one argument) selects, in a catalog stretch; other backends hear of it
 * when something was deleted.  Returns how many.
 */
static int
qc_delete(const char *where, Oid argtype, Datum value, bool cascade)
{
	const char *sql = psprintf("DELETE FROM stream.query_defs WHERE %s", where);
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {argtype};
	Datum		values[1] = {value};
	int			n;
	List	   *states = NIL;
	bool		has_state = pgs_catalog_has_state();
	MemoryContext cxt = CurrentMemoryContext;

	pgs_catalog_begin(&acc);

	/*
	 * From 0.11 the statement removes the queries' checkpoint rows itself,
	 * under its own snapshot: the rows are locked first, in a statement of
	 * their own, so that a batch that held one has committed its rows
	 * before that snapshot is taken (a foreign key's cascade used to take
	 * a snapshot of its own after the wait).
	 */
	if (pgs_catalog_offsets_unkeyed())
		(void) pgs_catalog_exec(psprintf("SELECT 1 FROM stream.query_defs WHERE %s FOR UPDATE",
										 where),
								1, argtypes, values, NULL, false, 0);
	if (has_state)
		sql = pgs_checkpoint_delete_queries_sql(sql, psprintf("state_relid::oid, %s",
															  QC_BATCH_TABLE));
	n = pgs_catalog_exec(sql, 1, argtypes, values, NULL, false, 0);
	if (has_state)
		states = qc_collect_states(n, 1, 3, cxt);
	pgs_catalog_end(&acc);
	qc_drop_states(states, cascade);
	if (n > 0)
		qc_invalidate();
	return n;
}

/* remove a query with its checkpoint */
void
pgs_query_delete(int64 query_id)
{
	(void) qc_delete("query_id = $1",
					 INT8OID, Int64GetDatum(query_id), false);
}

/*
 * Change a query's status.  Making it active again clears the last error,
 * which belonged to the run that ended.
 */
void
pgs_query_set_status(int64 query_id, const char *status, bool only_if_active)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, BOOLOID};
	Datum		values[3] = {Int64GetDatum(query_id), CStringGetTextDatum(status),
	BoolGetDatum(only_if_active)};

	bool		detail = qc_catalog_has_detail();

	pgs_catalog_run(detail ?
					"UPDATE stream.query_defs SET status = $2,"
					" last_error = CASE WHEN $2 = 'active' THEN NULL ELSE last_error END,"
					" last_error_sqlstate = CASE WHEN $2 = 'active' THEN NULL ELSE last_error_sqlstate END,"
					" last_error_detail = CASE WHEN $2 = 'active' THEN NULL ELSE last_error_detail END,"
					" last_error_hint = CASE WHEN $2 = 'active' THEN NULL ELSE last_error_hint END,"
					" last_error_at = CASE WHEN $2 = 'active' THEN NULL ELSE last_error_at END"
					" WHERE query_id = $1 AND (NOT $3 OR status = 'active')" :
					"UPDATE stream.query_defs SET status = $2,"
					" last_error = CASE WHEN $2 = 'active' THEN NULL ELSE last_error END,"
					" last_error_sqlstate = CASE WHEN $2 = 'active' THEN NULL ELSE last_error_sqlstate END,"
					" last_error_at = CASE WHEN $2 = 'active' THEN NULL ELSE last_error_at END"
					" WHERE query_id = $1 AND (NOT $3 OR status = 'active')",
					3, argtypes, values, NULL, false, 0);
}

/*
 * The event of a failed batch, in the transaction that records its error,
 * when the query sends events: the batch is the one written ahead and not
 * committed, or else the one after the latest (a batch that failed while it
 * was planned; 1 for a query without any); a query that will try it again
 * says "retrying".
 */
static void
qc_notify_failure(int64 query_id, bool fail, const char *sqlstate, const char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(query_id)};
	PgsBatchEvent e = {0};
	bool		isnull;

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT q.events_channel, q.name,"
						 " CASE WHEN m.b IS NULL THEN 1"
						 "      WHEN EXISTS (SELECT 1 FROM stream.checkpoint_commits c"
						 "                    WHERE c.query_id = $1 AND c.batch_id = m.b) THEN m.b + 1"
						 "      ELSE m.b END"
						 " FROM stream.query_defs q,"
						 "      (SELECT pg_catalog.max(o.batch_id) AS b FROM stream.checkpoint_offsets o"
						 "        WHERE o.query_id = $1) m"
						 " WHERE q.query_id = $1 AND q.events_channel IS NOT NULL",
						 1, argtypes, values, NULL, false, 0) > 0)
	{
		e.channel = pgs_result_text(0, 1, cxt);
		e.query = pgs_result_text(0, 2, cxt);
		e.batch_id = DatumGetInt64(pgs_result_datum(0, 3, &isnull));
		e.status = fail ? "failed" : "retrying";
		e.sqlstate = sqlstate ? sqlstate : "";
		e.message = message;
		pgs_event_notify(&e);
	}
	pgs_catalog_end(&acc);
}

/*
 * Record a batch's error; with fail, an active query is also marked
 * failed.  Runs in a transaction of its own (the batch's has rolled back).
 */
void
pgs_query_set_error(int64 query_id, bool fail, const char *sqlstate,
					const char *message, const char *detail, const char *hint)
{
	Oid			argtypes[6] = {INT8OID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		has_detail = qc_catalog_has_detail();

	values[0] = Int64GetDatum(query_id);
	values[1] = BoolGetDatum(fail);
	values[2] = CStringGetTextDatum(sqlstate ? sqlstate : "");
	values[3] = CStringGetTextDatum(message ? message : "");
	values[4] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[4] = detail ? ' ' : 'n';
	values[5] = hint ? CStringGetTextDatum(hint) : (Datum) 0;
	nulls[5] = hint ? ' ' : 'n';
	if (pgs_catalog_run(has_detail ?
					"UPDATE stream.query_defs SET"
					" status = CASE WHEN $2 THEN 'failed' ELSE status END,"
					" last_error = $4, last_error_sqlstate = $3,"
					" last_error_detail = $5, last_error_hint = $6,"
					" last_error_at = pg_catalog.now()"
					" WHERE query_id = $1 AND status = 'active'" :
					"UPDATE stream.query_defs SET"
					" status = CASE WHEN $2 THEN 'failed' ELSE status END,"
					" last_error = $4, last_error_sqlstate = $3,"
					" last_error_at = pg_catalog.now()"
					" WHERE query_id = $1 AND status = 'active'",
					6, argtypes, values, nulls, false, 0) > 0 &&
		pgs_catalog_version() >= PGS_CATALOG_0_8)
		qc_notify_failure(query_id, fail, sqlstate, message);
}

/* the names of the queries that read a stream, quoted, or NULL for none */
char *
pgs_query_names_reading(Oid stream_relid)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream_relid)};
	char	   *names = NULL;

	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec(psprintf("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(name), ', ' ORDER BY name)"
								  " FROM stream.query_defs WHERE stream_relid::oid = $1%s"
								  " HAVING count(*) > 0", QC_READS_AS_SIDE),
						 1, argtypes, values, NULL, false, 0) > 0)
		names = pgs_result_text(0, 1, cxt);
	pgs_catalog_end(&acc);
	return names;
}

/*
 * Do rows written into "target" reach "stream" through streaming queries:
 * a query reading the target as its stream (or a join's side) writes its
 * own target, which another reads, and so on?  Whoever owns them: a cycle
 * is one however many owners it passes.
 */
bool
pgs_query_target_reaches(Oid target, Oid stream)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(target), ObjectIdGetDatum(stream)};
	bool		isnull;
	bool		reaches;

	pgs_catalog_begin(&acc);
	pgs_catalog_exec(psprintf("WITH RECURSIVE reads (query_id, relid) AS ("
							  "  SELECT query_id, stream_relid::pg_catalog.oid FROM stream.query_defs%s),"
							  " fed (relid) AS ("
							  "  SELECT $1"
							  "  UNION"
							  "  SELECT d.target_relid::pg_catalog.oid"
							  "    FROM fed f JOIN reads r ON r.relid OPERATOR(pg_catalog.=) f.relid"
							  "    JOIN stream.query_defs d ON d.query_id OPERATOR(pg_catalog.=) r.query_id)"
							  " SELECT EXISTS (SELECT 1 FROM fed WHERE relid OPERATOR(pg_catalog.=) $2)",
							  pgs_catalog_has_joins() ?
							  "  UNION ALL SELECT query_id, relid::pg_catalog.oid FROM stream.query_side_defs" : ""),
					 2, argtypes, values, NULL, true, 0);
	reaches = DatumGetBool(pgs_result_datum(0, 1, &isnull));
	pgs_catalog_end(&acc);
	return reaches;
}

/*
 * Drop every query that reads the table as its stream or writes it as its
 * target; returns their names, quoted, or NULL when there were none.  The
 * table is being dropped with CASCADE, so the queries' tables go with what
 * depends on them.
 */
char *
pgs_query_delete_using(Oid relid)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *names = NULL;
	List	   *states = NIL;
	int			n;
	int			i;

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec(pgs_catalog_has_state() ?
						 pgs_checkpoint_delete_queries_sql(psprintf("DELETE FROM stream.query_defs"
																	" WHERE stream_relid::oid = $1 OR target_relid::oid = $1"
																	" OR state_relid::oid = $1%s%s",
																	pgs_catalog_has_keys() ? " OR definition_view::oid = $1" : "",
																	QC_READS_AS_SIDE),
														   psprintf("name, state_relid::oid, %s",
																	QC_BATCH_TABLE)) :
						 "DELETE FROM stream.query_defs"
						 " WHERE stream_relid::oid = $1 OR target_relid::oid = $1"
						 " RETURNING name, NULL::oid, NULL::oid, NULL::oid",
						 1, argtypes, values, NULL, false, 0);
	if (n > 0)
	{
		StringInfoData buf;
		List	   *list = NIL;
		ListCell   *lc;

		for (i = 0; i < n; i++)
			list = lappend(list, pgs_result_text(i, 1, cxt));
		list_sort(list, qc_cmp_names);
		initStringInfo(&buf);
		foreach(lc, list)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
							 quote_identifier(lfirst(lc)));
		names = MemoryContextStrdup(cxt, buf.data);
		states = qc_collect_states(n, 2, 4, cxt);
	}
	pgs_catalog_end(&acc);
	qc_drop_states(states, true);
	if (names != NULL)
		qc_invalidate();
	return names;
}

/*
 * Drop every query that reads a stream (stream.drop_stream with cascade),
 * their tables with what depends on them; returns how many.
 */
int
pgs_query_delete_reading(Oid stream_relid)
{
	return qc_delete(psprintf("stream_relid::oid = $1%s",
							  QC_READS_AS_SIDE),
					 OIDOID, ObjectIdGetDatum(stream_relid), true);
}

/* how many queries a role owns in this database, for DROP ROLE */
int
pgs_query_count_owned(Oid roleid)
{
	return (int) pgs_catalog_int8("SELECT count(*) FROM stream.query_defs WHERE owner::oid = $1",
								  OIDOID, ObjectIdGetDatum(roleid));
}

/* DROP OWNED BY: the role's queries go with its other objects */
int
pgs_query_delete_owned(Oid roleid, bool cascade)
{
	return qc_delete("owner::oid = $1",
					 OIDOID, ObjectIdGetDatum(roleid), cascade);
}

/* REASSIGN OWNED BY: the queries run as their new owner from now on */
int
pgs_query_reassign_owned(Oid old_roleid, Oid new_roleid)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(old_roleid), ObjectIdGetDatum(new_roleid)};
	int			n;

	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("UPDATE stream.query_defs SET owner = $2::pg_catalog.regrole"
						 " WHERE owner::oid = $1",
						 2, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
	if (n > 0)
		qc_invalidate();
	return n;
}

/*
 * The query of that name when it exists: its id, owner, text and the
 * distributed query it runs one shard of (NULL for a query of this
 * database alone), for stream._start_shard_query to tell a repeated call
 * from a clash.  Catalog 0.9 on.
 */
bool
pgs_query_shard_def(const char *name, int64 *query_id, Oid *owner,
					char **query_text, char **distributed_query)
{
	PgsCatalogAccess acc = {0};
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		found;

	pgs_catalog_require(PGS_CATALOG_0_9, "shard queries");
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec("SELECT query_id, owner::oid, query_text, distributed_query"
							 " FROM stream.query_defs WHERE name = $1",
							 1, argtypes, values, NULL, true, 1) > 0;
	if (found)
	{
		bool		isnull;

		*query_id = DatumGetInt64(pgs_result_datum(0, 1, &isnull));
		*owner = DatumGetObjectId(pgs_result_datum(0, 2, &isnull));
		*query_text = pgs_result_text(0, 3, cxt);
		*distributed_query = pgs_result_text(0, 4, cxt);
	}
	pgs_catalog_end(&acc);
	return found;
}

/* record the distributed query a query runs one shard of (catalog 0.9 on) */
void
pgs_query_set_distributed(int64 query_id, const char *distributed_query)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(query_id), CStringGetTextDatum(distributed_query)};

	pgs_catalog_require(PGS_CATALOG_0_9, "shard queries");
	pgs_catalog_run("UPDATE stream.query_defs SET distributed_query = $2 WHERE query_id = $1",
					2, argtypes, values, NULL, false, 0);
}

/*
 * The distributed queries (of this coordinator) that read a stream, as a
 * list of names, or NULL when none does (or the catalog predates 0.9).
 */
char *
pgs_distributed_query_names_reading(Oid stream_relid)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream_relid)};
	char	   *names = NULL;

	if (pgs_catalog_version() < PGS_CATALOG_0_9)
		return NULL;
	pgs_catalog_begin(&acc);
	if (pgs_catalog_exec("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(name), ', ' ORDER BY name)"
						 " FROM stream.distributed_queries WHERE stream_relid::oid = $1"
						 " HAVING count(*) > 0",
						 1, argtypes, values, NULL, true, 0) > 0)
		names = pgs_result_text(0, 1, cxt);
	pgs_catalog_end(&acc);
	return names;
}
