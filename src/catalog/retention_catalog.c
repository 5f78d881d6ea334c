/*-------------------------------------------------------------------------
 *
 * retention_catalog.c
 *	  The one owner of stream.retention and stream.retention_marks, and of
 *	  what retention reads of the queries (their latest end snapshots) and
 *	  writes on them (missed_rows_at, retention_detached_at).
 *
 * storage/retention.c decides what a pass removes; the rows are read and
 * written here, each call in a catalog stretch of its own, in the caller's
 * transaction.  Before version 0.6 the catalog keeps no max_hold, no row
 * lock a pass stopped at, no detached queries and no transaction history:
 * these functions then read and write what it has.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_storage_catalog.h"

/*
 * Lock the stream's retention row (skipping it when somebody else holds it
 * and nowait is set) and read it into *row, in the caller's memory context.
 * False when the stream has no retention, or its row is locked.
 */
bool
pgs_retention_lock_row(Oid relid, bool nowait, PgsRetentionRow *row)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		has_06 = pgs_catalog_has_06();
	StringInfoData sql;
	bool		isnull;
	bool		found;

	initStringInfo(&sql);
	appendStringInfoString(&sql,
						   "SELECT keep, past_inactive_queries, walk_position,"
						   " recycled_position, coalesce(relfilenode, 0)");
	if (has_06)
		appendStringInfoString(&sql,
							   ", max_hold, coalesce(blocked_by::text::bigint, 0),"
							   " blocked_since, blocked_warned_at");
	appendStringInfoString(&sql, " FROM stream.retention WHERE relid::oid = $1");
	appendStringInfoString(&sql, nowait ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE");

	memset(row, 0, sizeof(PgsRetentionRow));
	pgs_catalog_begin(&acc);
	found = pgs_catalog_exec(sql.data, 1, argtypes, values, NULL, false, 0) > 0;
	if (found)
	{
		row->keep = DatumGetIntervalP(pgs_result_copy(0, 1, &isnull, cxt));
		row->past_inactive = DatumGetBool(pgs_result_datum(0, 2, &isnull));
		row->walk = DatumGetInt64(pgs_result_datum(0, 3, &isnull));
		row->recycled = DatumGetInt64(pgs_result_datum(0, 4, &isnull));
		row->relfilenode = DatumGetObjectId(pgs_result_datum(0, 5, &isnull));
	}
	if (found && has_06)
	{
		Datum		d;

		d = pgs_result_copy(0, 6, &isnull, cxt);
		row->max_hold = isnull ? NULL : DatumGetIntervalP(d);
		row->blocked_by = (TransactionId) DatumGetInt64(pgs_result_datum(0, 7, &isnull));
		d = pgs_result_datum(0, 8, &isnull);
		row->blocked_since = isnull ? 0 : DatumGetTimestampTz(d);
		d = pgs_result_datum(0, 9, &isnull);
		row->blocked_warned_at = isnull ? 0 : DatumGetTimestampTz(d);
	}
	pgs_catalog_end(&acc);
	pfree(sql.data);
	return found;
}

/*
 * A mark is a snapshot of this database's transaction history: marks that
 * came with a dump from another history (taken before this history began,
 * or naming transactions this cluster has not reached) would make rows
 * look older than they are, so they are not used.  Ignoring a mark only
 * keeps rows longer.  A catalog older than 0.6 records no history.
 */
#define RET_MARK_OF_THIS_HISTORY \
	" AND taken_at >= (SELECT created_at FROM stream.local_history)" \
	" AND pg_catalog.pg_snapshot_xmax(snapshot) OPERATOR(pg_catalog.<=)" \
	"     pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())"
#define RET_LATEST_MARK_06 \
	"SELECT snapshot, taken_at FROM stream.retention_marks" \
	" WHERE relid::oid = $1 AND taken_at <= now() - $2" \
	RET_MARK_OF_THIS_HISTORY \
	" ORDER BY taken_at DESC LIMIT 1"
#define RET_LATEST_MARK \
	"SELECT snapshot, taken_at FROM stream.retention_marks" \
	" WHERE relid::oid = $1 AND taken_at <= now() - $2" \
	" ORDER BY taken_at DESC LIMIT 1"

/*
 * The marks of the age cut (stream.retention_marks): *snapshot gets the
 * snapshot of the latest mark at least "keep" old (false is returned when
 * there is none yet); with max_hold, *hold_snapshot gets the latest mark at
 * least max_hold old ((Datum) 0 when there is none).  Both are copied into
 * the caller's memory context.  A new mark is taken when the latest is
 * older than a hundredth of the shorter of the two, and marks older than
 * the ones used are forgotten.
 */
bool
pgs_retention_marks_cut(Oid relid, Interval *keep, Interval *max_hold,
						Datum *snapshot, Datum *hold_snapshot)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[3] = {OIDOID, INTERVALOID, INTERVALOID};
	Datum		values[3] = {ObjectIdGetDatum(relid), IntervalPGetDatum(keep),
	IntervalPGetDatum(max_hold != NULL ? max_hold : keep)};
	const char *latest = pgs_catalog_has_06() ? RET_LATEST_MARK_06 : RET_LATEST_MARK;
	Datum		forget_before = (Datum) 0;
	bool		found = false;
	bool		forget = false;
	bool		isnull;

	*snapshot = (Datum) 0;
	*hold_snapshot = (Datum) 0;
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("INSERT INTO stream.retention_marks (relid, taken_at, snapshot)"
					 " SELECT $1, now(), pg_current_snapshot()"
					 " WHERE NOT EXISTS (SELECT 1 FROM stream.retention_marks"
					 "  WHERE relid::oid = $1 AND taken_at > now() - least($2, $3) / 100)",
					 3, argtypes, values, NULL, false, 0);
	if (pgs_catalog_exec(latest, 2, argtypes, values, NULL, false, 0) > 0)
	{
		*snapshot = pgs_result_copy(0, 1, &isnull, cxt);
		forget_before = pgs_result_datum(0, 2, &isnull);
		forget = true;
		found = true;
	}
	if (max_hold != NULL)
	{
		Oid			t2[2] = {OIDOID, INTERVALOID};
		Datum		v2[2] = {ObjectIdGetDatum(relid), IntervalPGetDatum(max_hold)};

		/* a mark that may yet become the hold cut stays */
		forget = false;
		if (pgs_catalog_exec(latest, 2, t2, v2, NULL, false, 0) > 0)
		{
			TimestampTz hold_at;

			*hold_snapshot = pgs_result_copy(0, 1, &isnull, cxt);
			hold_at = DatumGetTimestampTz(pgs_result_datum(0, 2, &isnull));
			if (found)
			{
				forget = true;
				if (hold_at < DatumGetTimestampTz(forget_before))
					forget_before = TimestampTzGetDatum(hold_at);
			}
		}
	}
	if (forget)
	{
		Oid			t2[2] = {OIDOID, TIMESTAMPTZOID};
		Datum		v2[2] = {ObjectIdGetDatum(relid), forget_before};

		pgs_catalog_exec("DELETE FROM stream.retention_marks"
						 " WHERE relid::oid = $1 AND taken_at < $2",
						 2, t2, v2, NULL, false, 0);
	}
	if (found && max_hold != NULL)
	{
		/*
		 * Marks are taken at a hundredth of the shorter interval, but older
		 * than the age cut they are only wanted at a hundredth of max_hold:
		 * of those, one per such stretch of time stays, the oldest.
		 */
		Oid			t3[3] = {OIDOID, TIMESTAMPTZOID, INTERVALOID};
		Datum		v3[3] = {ObjectIdGetDatum(relid), (Datum) 0,
		IntervalPGetDatum(max_hold)};

		pgs_catalog_exec("SELECT taken_at FROM stream.retention_marks"
						 " WHERE relid::oid = $1 AND taken_at <= now() - $2"
						 " ORDER BY taken_at DESC LIMIT 1",
						 2, argtypes, values, NULL, false, 0);
		v3[1] = pgs_result_datum(0, 1, &isnull);
		pgs_catalog_exec("DELETE FROM stream.retention_marks m"
						 " WHERE m.relid::oid = $1 AND m.taken_at < $2"
						 "   AND extract(epoch FROM $3) >= 100"
						 "   AND EXISTS (SELECT 1 FROM stream.retention_marks n"
						 "     WHERE n.relid = m.relid AND n.taken_at < m.taken_at"
						 "       AND floor(extract(epoch FROM n.taken_at) / (extract(epoch FROM $3) / 100))"
						 "         = floor(extract(epoch FROM m.taken_at) / (extract(epoch FROM $3) / 100)))",
						 3, t3, v3, NULL, false, 0);
	}
	pgs_catalog_end(&acc);
	return found;
}

/*
 * The stream's queries, in query_id order, into *holders (the caller's
 * memory context), each with the end snapshot of its latest committed
 * batch.  Offsets of another transaction history (a restore) have read
 * nothing.  Read with a fresh snapshot: batches committed since the
 * caller's transaction began count.
 */
int
pgs_retention_holders(Oid relid, PgsRetentionHolder **holders)
{
	MemoryContext cxt = CurrentMemoryContext;
	PgsCatalogAccess acc = {0};
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int			n;
	int			i;

	pgs_catalog_begin(&acc);
	/*
	 * A join between streams reads its streams' earlier rows again (the
	 * rows the other side may still match): it is marked, and the caller
	 * asks what it may still read.  It is detached from each of its
	 * streams on its own: from its first by the query's mark, from its
	 * second by side 2's (0.8 on; before, it could not be).
	 */
	if (pgs_catalog_has_joins())
		n = pgs_catalog_exec(psprintf("SELECT d.query_id, d.status = 'active', o.end_snapshot,"
							 " CASE WHEN d.stream_relid::oid = $1 THEN d.retention_detached_at IS NOT NULL"
							 "      ELSE %s END,"
							 " j.query_id IS NOT NULL"
							 " FROM stream.query_defs d"
							 " LEFT JOIN stream.query_side_defs j ON j.query_id = d.query_id AND j.side = 2"
							 " LEFT JOIN LATERAL (SELECT o.end_snapshot"
							 "   FROM stream.checkpoint_commits k"
							 "   JOIN stream.checkpoint_offsets o USING (query_id, batch_id)"
							 "  WHERE k.query_id = d.query_id"
							 "    AND o.history_id = (SELECT history_id FROM stream.local_history)"
							 "  ORDER BY k.batch_id DESC LIMIT 1) o ON true"
							 " WHERE d.stream_relid::oid = $1 OR j.relid::oid = $1"
							 " ORDER BY d.query_id",
							 pgs_catalog_version() >= PGS_CATALOG_0_8 ?
							 "j.retention_detached_at IS NOT NULL" : "false"),
							 1, argtypes, values, NULL, false, 0);
	else
		n = pgs_catalog_exec(pgs_catalog_has_06() ?
							 "SELECT d.query_id, d.status = 'active', o.end_snapshot,"
							 " d.retention_detached_at IS NOT NULL, false"
							 " FROM stream.query_defs d"
							 " LEFT JOIN LATERAL (SELECT o.end_snapshot"
							 "   FROM stream.checkpoint_commits k"
							 "   JOIN stream.checkpoint_offsets o USING (query_id, batch_id)"
							 "  WHERE k.query_id = d.query_id"
							 "    AND o.history_id = (SELECT history_id FROM stream.local_history)"
							 "  ORDER BY k.batch_id DESC LIMIT 1) o ON true"
							 " WHERE d.stream_relid::oid = $1 ORDER BY d.query_id" :
							 "SELECT d.query_id, d.status = 'active', o.end_snapshot, false, false"
							 " FROM stream.query_defs d"
							 " LEFT JOIN LATERAL (SELECT o.end_snapshot"
							 "   FROM stream.checkpoint_commits k"
							 "   JOIN stream.checkpoint_offsets o USING (query_id, batch_id)"
							 "  WHERE k.query_id = d.query_id"
							 "  ORDER BY k.batch_id DESC LIMIT 1) o ON true"
							 " WHERE d.stream_relid::oid = $1 ORDER BY d.query_id",
							 1, argtypes, values, NULL, false, 0);
	*holders = MemoryContextAllocZero(cxt, sizeof(PgsRetentionHolder) * (n + 1));
	for (i = 0; i < n; i++)
	{
		PgsRetentionHolder *h = &(*holders)[i];
		bool		isnull;

		h->query_id = DatumGetInt64(pgs_result_datum(i, 1, &isnull));
		h->active = DatumGetBool(pgs_result_datum(i, 2, &isnull));
		h->detached = DatumGetBool(pgs_result_datum(i, 4, &isnull));
		h->join = DatumGetBool(pgs_result_datum(i, 5, &isnull));
		h->end_snapshot = pgs_result_copy(i, 3, &isnull, cxt);
		h->read_nothing = isnull;
	}
	pgs_catalog_end(&acc);
	return n;
}

/* retention removed rows the query had not read: say so on the query */
void
pgs_retention_mark_missed(int64 query_id)
{
	Oid			t[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(query_id)};

	pgs_catalog_run("UPDATE stream.query_defs SET missed_rows_at = now()"
					" WHERE query_id = $1 AND missed_rows_at IS NULL",
					1, t, v, NULL, false, 0);
}

/*
 * Record the row lock a pass stopped at (InvalidTransactionId: none), since
 * when, and when it was last warned about (0: never).  A catalog older than
 * 0.6 has no place for it.
 */
void
pgs_retention_record_blocker(Oid relid, TransactionId blocker,
							 TimestampTz since, TimestampTz warned_at)
{
	Oid			argtypes[4] = {OIDOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (!pgs_catalog_has_06())
		return;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum((int64) blocker);
	values[2] = TimestampTzGetDatum(since);
	values[3] = TimestampTzGetDatum(warned_at);
	if (!TransactionIdIsValid(blocker))
		nulls[1] = nulls[2] = 'n';
	if (warned_at == 0)
		nulls[3] = 'n';
	pgs_catalog_run("UPDATE stream.retention SET blocked_by = $2::text::xid,"
					" blocked_since = $3, blocked_warned_at = $4"
					" WHERE relid::oid = $1",
					4, argtypes, values, nulls, false, 0);
}

/*
 * Record what a pass did and where the next one starts, and forget the
 * runs before every position still in use (the walk's, and those each
 * query's latest offsets start from).
 */
void
pgs_retention_record_pass(Oid relid, const PgsRetentionPassRow *pass)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[8] = {OIDOID, INT8OID, INT8OID, XID8OID, INT8OID,
	INT8OID, INT8OID, OIDOID};
	Datum		values[8];
	char		nulls[8];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(pass->walk);
	values[2] = Int64GetDatum(pass->recycled);
	values[3] = FullTransactionIdGetDatum(FullTransactionIdFromU64(pass->horizon));
	values[4] = Int64GetDatum(pass->held_by);
	nulls[4] = pass->held_by != 0 ? ' ' : 'n';
	values[5] = Int64GetDatum(pass->rows_removed);
	values[6] = Int64GetDatum(pass->blocks_recycled);
	values[7] = ObjectIdGetDatum(pass->relfilenode);
	pgs_catalog_begin(&acc);
	pgs_catalog_exec("UPDATE stream.retention SET walk_position = $2,"
					 " recycled_position = $3, horizon = $4, held_by = $5,"
					 " rows_removed = rows_removed + $6,"
					 " blocks_recycled = blocks_recycled + $7,"
					 " relfilenode = $8, last_pass_at = now()"
					 " WHERE relid::oid = $1",
					 8, argtypes, values, nulls, false, 0);
	pgs_catalog_exec(psprintf("DELETE FROM stream.stream_runs"
							  " WHERE relid::oid = $1 AND run < least($2 >> 32, $3 >> 32,"
							  "  (SELECT min(least(CASE WHEN o.scan_to_block IS NULL"
							  "                    THEN o.scan_from_block END,"
							  "                    o.end_floor_block, o.end_tail_block,"
							  "                    o.end_rest_floor,"
							  "                    (SELECT min(f) FROM unnest(o.end_writer_firsts) f)) >> 32)"
							  "     FROM stream.query_defs d"
							  "     JOIN LATERAL (SELECT * FROM stream.checkpoint_offsets o"
							  "                    WHERE o.query_id = d.query_id"
							  "                    ORDER BY o.batch_id DESC LIMIT 1) o ON true"
							  "    WHERE d.stream_relid::oid = $1)%s)",
							  /* and where a join's second stream starts from */
							  pgs_catalog_has_joins() ?
							  ", (SELECT min(least(c.scan_from_block, c.end_floor_block,"
							  "                    c.end_tail_block, c.end_rest_floor,"
							  "                    (SELECT min(f) FROM unnest(c.end_writer_firsts) f)) >> 32)"
							  "     FROM stream.query_side_defs s"
							  "     JOIN LATERAL (SELECT * FROM stream.checkpoint_sides c"
							  "                    WHERE c.query_id = s.query_id"
							  "                    ORDER BY c.batch_id DESC LIMIT 1) c ON true"
							  "    WHERE s.side = 2 AND s.relid::oid = $1)" : ""),
					 3, argtypes, values, nulls, false, 0);
	pgs_catalog_end(&acc);
}

/* the stream's walk and recycling start again at position */
void
pgs_retention_restart_at(Oid relid, int64 position)
{
	Oid			argtypes[2] = {OIDOID, INT8OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int64GetDatum(position)};

	pgs_catalog_run("UPDATE stream.retention SET walk_position = $2,"
					" recycled_position = $2 WHERE relid::oid = $1",
					2, argtypes, values, NULL, false, 0);
}

/*
 * The streams with retention, as a list of oids in cxt; NIL before the
 * catalog of 0.3 (or without the extension).
 */
List *
pgs_retention_stream_list(MemoryContext cxt)
{
	PgsCatalogAccess acc = {0};
	List	   *result = NIL;
	int			n;
	int			i;

	if (pgs_catalog_version() < PGS_CATALOG_0_3)
		return NIL;
	pgs_catalog_begin(&acc);
	n = pgs_catalog_exec("SELECT relid::oid FROM stream.retention ORDER BY 1",
						 0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		result = lappend_oid(result, DatumGetObjectId(pgs_result_datum(i, 1, &isnull)));
		MemoryContextSwitchTo(old);
	}
	pgs_catalog_end(&acc);
	return result;
}

/* the stream keeps every row from now on */
void
pgs_retention_unset(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	pgs_catalog_run("DELETE FROM stream.retention WHERE relid::oid = $1",
					1, argtypes, values, NULL, false, 0);
}

/*
 * Set the stream's retention; with_max_hold (the signature of 0.6, whose
 * catalog has the column) sets max_hold too, NULL for none.
 */
void
pgs_retention_set(Oid relid, Interval *keep, bool past_inactive,
				  bool with_max_hold, Interval *max_hold)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[4] = {OIDOID, INTERVALOID, BOOLOID, INTERVALOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', 'n'};

	values[0] = ObjectIdGetDatum(relid);
	values[1] = IntervalPGetDatum(keep);
	values[2] = BoolGetDatum(past_inactive);
	values[3] = (Datum) 0;
	if (max_hold != NULL)
	{
		values[3] = IntervalPGetDatum(max_hold);
		nulls[3] = ' ';
	}
	pgs_catalog_begin(&acc);
	if (with_max_hold)
		pgs_catalog_exec("INSERT INTO stream.retention (relid, keep, past_inactive_queries, max_hold)"
						 " VALUES ($1, $2, $3, $4) ON CONFLICT (relid) DO UPDATE"
						 " SET keep = excluded.keep,"
						 " past_inactive_queries = excluded.past_inactive_queries,"
						 " max_hold = excluded.max_hold",
						 4, argtypes, values, nulls, false, 0);
	else
		pgs_catalog_exec("INSERT INTO stream.retention (relid, keep, past_inactive_queries)"
						 " VALUES ($1, $2, $3) ON CONFLICT (relid) DO UPDATE"
						 " SET keep = excluded.keep,"
						 " past_inactive_queries = excluded.past_inactive_queries",
						 3, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
}

/*
 * The stream's query "name" holds no row of the stream back from now on
 * (the first time counts).  A join is found by either of its streams and
 * detached from that stream only: its other stream's rows stay held.
 * Returns the number of queries and sides changed: 0 when the stream has
 * no such query.  A catalog older than 0.8 has no place for a join's
 * second stream: that is refused, nothing changed.
 */
int
pgs_retention_detach_query(Oid relid, const char *name)
{
	PgsCatalogAccess acc = {0};
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2] = {ObjectIdGetDatum(relid), CStringGetTextDatum(name)};
	int			n;

	pgs_catalog_begin(&acc);
	if (pgs_catalog_has_joins() && pgs_catalog_version() < PGS_CATALOG_0_8 &&
		pgs_catalog_exec("SELECT 1 FROM stream.query_defs d"
						 " JOIN stream.query_side_defs s ON s.query_id = d.query_id"
						 " WHERE d.name = $2 AND s.relid::oid = $1"
						 "   AND d.stream_relid::oid <> $1",
						 2, argtypes, values, NULL, true, 1) > 0)
		pgs_catalog_require(PGS_CATALOG_0_8, "joins detached from their second stream");
	n = pgs_catalog_exec("UPDATE stream.query_defs"
						 " SET retention_detached_at = coalesce(retention_detached_at, now())"
						 " WHERE stream_relid::oid = $1 AND name = $2",
						 2, argtypes, values, NULL, false, 0);
	if (pgs_catalog_version() >= PGS_CATALOG_0_8)
		n += pgs_catalog_exec("UPDATE stream.query_side_defs s"
							  " SET retention_detached_at = coalesce(s.retention_detached_at, now())"
							  " FROM stream.query_defs d"
							  " WHERE d.query_id = s.query_id AND d.name = $2"
							  "   AND s.relid::oid = $1",
							  2, argtypes, values, NULL, false, 0);
	pgs_catalog_end(&acc);
	return n;
}
