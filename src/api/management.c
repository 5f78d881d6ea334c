/*-------------------------------------------------------------------------
 *
 * management.c
 *	  stream.process_batch, stream.process_all_available, stop_query,
 *	  resume_query, await_termination, and the small functions behind the
 *	  views and the install script.
 *
 * Status changes take the query's row lock, which every batch step holds
 * while it runs, so a stop takes effect at the latest after the batch in
 * flight.  The scheduler hears of the change when the transaction commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"
#include "access/xact.h"
#include "utils/guc.h"
#include "utils/resowner.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_ts_config.h"
#include "catalog/pg_ts_dict.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_oper.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "catalog/pg_namespace.h"
#include "access/relation.h"
#include "state/pgs_agg.h"
#include "utils/elog.h"
#include "storage/lmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "api/pgs_distributed_api.h"
#include "api/pgs_query_shards_api.h"
#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_checkpoint.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "common/pgs_errors.h"
#include "exec/pgs_batch.h"
#include "state/pgs_join_exec.h"

PG_FUNCTION_INFO_V1(stream_process_all_available);
PG_FUNCTION_INFO_V1(stream_process_batch);
PG_FUNCTION_INFO_V1(stream_stop_query);
PG_FUNCTION_INFO_V1(stream_resume_query);
PG_FUNCTION_INFO_V1(stream_resume_restored_query);
PG_FUNCTION_INFO_V1(stream_await_termination);
PG_FUNCTION_INFO_V1(stream_pending_rows);
PG_FUNCTION_INFO_V1(stream_pending_rows_exact);
PG_FUNCTION_INFO_V1(stream_on_rename);
PG_FUNCTION_INFO_V1(stream_on_rename_start);
PG_FUNCTION_INFO_V1(stream_create_query_view);
PG_FUNCTION_INFO_V1(stream_extension_created);

/* the longest await_termination waits in one call */
#define MG_MAX_TIMEOUT_USECS	((int64) 366 * USECS_PER_DAY)

/* a query's name from argument 0, which must not be NULL */
static char *
mg_name_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query name must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/*
 * Read (and with lock, lock) a query by name, checking the caller's right
 * to manage it.
 */
static void
mg_read(const char *name, PgsQueryLock lock, PgsQuery *q)
{
	if (!pgs_query_read(name, 0, lock, q))
		pgs_query_report_missing(name);
	pgs_query_check_access(q);
}

static bool
mg_call_is_nonatomic(FunctionCallInfo fcinfo)
{
	return fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
}

/*
 * Shared by both procedures: run batches until one reports that nothing
 * more was available when it was planned (or, for a single batch, once).
 * Each batch frees what it allocated (pgs_run_batch).
 */
static void
mg_process(FunctionCallInfo fcinfo, bool all)
{
	char	   *name = mg_name_arg(fcinfo);
	bool		nonatomic = mg_call_is_nonatomic(fcinfo);
	PgsQuery	q;

	/* a distributed query (Citus coordinator) runs on its shards' nodes */
	if (!pgs_query_read(name, 0, PGS_QUERY_NO_LOCK, &q))
	{
		if (pgs_distributed_process(name, all))
		{
			/* an aggregation merged across shards: the merge, on the coordinator */
			pgs_merge_process(name);
			return;
		}
		mg_read(name, PGS_QUERY_NO_LOCK, &q);
	}
	else
		pgs_query_check_access(&q);
	if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (;;)
	{
		PgsBatchResult r;

		CHECK_FOR_INTERRUPTS();
		r = pgs_run_batch(q.query_id, nonatomic, 0);
		if (r == PGS_BATCH_NONE || !all || r == PGS_BATCH_DONE)
			break;
	}
	SPI_finish();
}

/* CALL stream.process_all_available(name): batches until caught up */
Datum
stream_process_all_available(PG_FUNCTION_ARGS)
{
	mg_process(fcinfo, true);
	PG_RETURN_VOID();
}

/* CALL stream.process_batch(name): at most one batch, a pending one first */
Datum
stream_process_batch(PG_FUNCTION_ARGS)
{
	mg_process(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * stop a query; the batch in flight, holding the row lock, finishes first.
 * A distributed query's shards stop once this commits.
 */
Datum
stream_stop_query(PG_FUNCTION_ARGS)
{
	PgsQuery	q;
	char	   *name = mg_name_arg(fcinfo);
	bool		changed;

	if (!pgs_query_read(name, 0, PGS_QUERY_LOCK, &q) &&
		pgs_dist_manage(name, "stopped", &changed))
		PG_RETURN_BOOL(changed);
	mg_read(name, PGS_QUERY_LOCK, &q);
	if (!q.active)
		PG_RETURN_BOOL(false);
	pgs_query_set_status(q.query_id, "stopped", false);
	pgs_notify_scheduler_at_commit();
	PG_RETURN_BOOL(true);
}

/*
 * a resumed query starts with no error: the last one belonged to its last
 * run.  A distributed query's shards resume once this commits.
 */
Datum
stream_resume_query(PG_FUNCTION_ARGS)
{
	PgsQuery	q;
	char	   *name = mg_name_arg(fcinfo);
	bool		changed;

	if (!pgs_query_read(name, 0, PGS_QUERY_LOCK, &q) &&
		pgs_dist_manage(name, "active", &changed))
		PG_RETURN_BOOL(changed);
	mg_read(name, PGS_QUERY_LOCK, &q);
	if (q.active)
		PG_RETURN_BOOL(false);
	pgs_query_set_status(q.query_id, "active", false);
	pgs_notify_scheduler_at_commit();
	pgs_notice_if_unscheduled(q.name);
	PG_RETURN_BOOL(true);
}

/* rows no boundary can tell from the restored ones: say so, change nothing */
static void
mg_refuse_intruders(const PgsQuery *q, FullTransactionId restore, int64 intruders)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("stream table \"%s\" has rows that cannot be told from the restored ones",
					get_rel_name(q->stream_relid)),
			 errdetail(INT64_FORMAT " rows not written by the restore's transaction " UINT64_FORMAT " carry stamps not after it: the table's first rows are not one restore's, or writers began before the restore ended.",
					   intruders, U64FromFullTransactionId(restore)),
			 errhint("Restore the stream into a table of its own before anything writes it.")));
}

/* ---- joins, and streams linked by joins, after a restore ---- */

/* a restored query among those stamped again together */
typedef struct MgReader
{
	PgsQuery	q;
	Datum		end;			/* its latest committed end; 0: none */
	bool		split;
	int			start_bit;		/* a join started from 'latest': the bit of
								 * its start snapshot; else -1 */
	Datum		start;
} MgReader;

/* the streams linked by restored joins, and their restored queries */
typedef struct MgComponent
{
	int			nstreams;
	Oid			streams[PGS_RESTAMP_CLASSES];
	bool		has_rows[PGS_RESTAMP_CLASSES];
	FullTransactionId restore[PGS_RESTAMP_CLASSES];
	int			nreaders;
	MgReader   *readers;
	bool		has_join;		/* a restored join that can carry on */
	StringInfoData left_out;	/* joins whose state cannot follow */
	int			nleft;
	int64		left_ids[PGS_RESTAMP_CLASSES];
} MgComponent;

static int
mg_stream_index(const MgComponent *c, Oid relid)
{
	int			i;

	for (i = 0; i < c->nstreams; i++)
		if (c->streams[i] == relid)
			return i;
	return -1;
}

static int
mg_reader_cmp(const void *a, const void *b)
{
	int64		x = ((const MgReader *) a)->q.query_id;
	int64		y = ((const MgReader *) b)->q.query_id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* does the reader read the stream? */
static bool
mg_reads(const MgReader *r, Oid relid)
{
	if (r->q.nsides == PGS_MAX_SIDES)
		return r->q.sides[0].relid == relid || r->q.sides[1].relid == relid;
	return r->q.stream_relid == relid;
}

/*
 * The component of q's streams: they, and every stream of every restored
 * query that reads one of them, transitively, with those queries (each
 * locked as its batches lock it), in query id order.  A restored join whose
 * state cannot find its rows again (made before fingerprints) is left out,
 * as before: its checkpoint stays the other history's.
 */
static void
mg_component(const PgsQuery *q, MgComponent *c)
{
	int			i;
	int			j;
	int			k;
	int			cap = 16;

	memset(c, 0, sizeof(MgComponent));
	initStringInfo(&c->left_out);
	c->readers = palloc(sizeof(MgReader) * cap);
	if (q->nsides == PGS_MAX_SIDES)
	{
		c->streams[c->nstreams++] = q->sides[0].relid;
		if (q->sides[1].relid != q->sides[0].relid)
			c->streams[c->nstreams++] = q->sides[1].relid;
	}
	else
		c->streams[c->nstreams++] = q->stream_relid;
	for (i = 0; i < c->nstreams; i++)
	{
		PgsForeignReader *found;
		int			n = pgs_checkpoint_foreign_readers(c->streams[i], &found);

		for (j = 0; j < n; j++)
		{
			MgReader   *r;
			PgsQuery	rq;
			bool		known = false;

			for (k = 0; k < c->nreaders; k++)
				if (c->readers[k].q.query_id == found[j].query_id)
					known = true;
			for (k = 0; k < c->nleft; k++)
				if (c->left_ids[k] == found[j].query_id)
					known = true;
			if (known)
				continue;
			if (!pgs_query_read(NULL, found[j].query_id, PGS_QUERY_LOCK, &rq))
				elog(ERROR, "streaming query with id " INT64_FORMAT " vanished",
					 found[j].query_id);
			if (rq.nsides == PGS_MAX_SIDES && !pgs_join_has_fingerprints(&rq))
			{
				if (c->nleft < PGS_RESTAMP_CLASSES)
					c->left_ids[c->nleft++] = rq.query_id;
				appendStringInfo(&c->left_out, "%s%s", c->left_out.len > 0 ? ", " : "",
								 quote_identifier(rq.name));
				continue;
			}
			if (c->nreaders == cap)
			{
				cap *= 2;
				c->readers = repalloc(c->readers, sizeof(MgReader) * cap);
			}
			r = &c->readers[c->nreaders++];
			r->q = rq;
			r->end = found[j].end;
			r->split = found[j].split;
			r->start_bit = -1;
			r->start = (Datum) 0;
			if (rq.nsides == PGS_MAX_SIDES)
			{
				c->has_join = true;
				for (k = 0; k < PGS_MAX_SIDES; k++)
					if (mg_stream_index(c, rq.sides[k].relid) < 0 &&
						c->nstreams < PGS_RESTAMP_CLASSES)
						c->streams[c->nstreams++] = rq.sides[k].relid;
			}
		}
	}
	qsort(c->readers, c->nreaders, sizeof(MgReader), mg_reader_cmp);
}

/* this history's snapshot in which the rows whose stamps have bit b are running */
static Datum
mg_bit_snapshot(const bool *seen, int b, uint64 xmax)
{
	StringInfoData snap;
	uint64		mask;

	initStringInfo(&snap);
	appendStringInfo(&snap, UINT64_FORMAT ":" UINT64_FORMAT ":",
					 (uint64) FirstNormalTransactionId, xmax);
	for (mask = 0; mask < PGS_RESTAMP_CLASSES; mask++)
		if (seen[mask] && (mask & (UINT64CONST(1) << b)))
			appendStringInfo(&snap, "%s" UINT64_FORMAT,
							 snap.data[snap.len - 1] == ':' ? "" : ",",
							 (uint64) FirstNormalTransactionId + mask);
	return DirectFunctionCall1(pg_snapshot_in, CStringGetDatum(snap.data));
}

/*
 * Stamp again at once every stream of q's component (mg_component), with
 * one numbering of its restored queries: bit i of a row's new stamp is set
 * when query i reads the row's stream and had not processed the row, and a
 * join started from the latest rows has one more bit, set when the row was
 * not visible in its start snapshot.  A join reads its two streams through
 * one snapshot pair, which lists as running the same numbers for both.
 * Before the stamps change, each join's state is given the new places of
 * the rows it names (pgs_join_remap_restored); the stamps, rewritten in
 * place, come last, and a call that failed part-way is made again.
 */
static void
mg_restamp_component(const PgsQuery *q, MgComponent *c)
{
	Datum		snaps[PGS_RESTAMP_MAX_QUERIES];
	bool		seen[PGS_RESTAMP_CLASSES];
	int			nbits;
	int			i;
	int			k;
	int64		restamped = 0;
	uint64		xmax = 0;
	StringInfoData names;
	StringInfoData streams;
	StringInfoData others;

	initStringInfo(&names);
	initStringInfo(&streams);
	initStringInfo(&others);
	for (k = 0; k < c->nstreams; k++)
		appendStringInfo(&streams, "%s\"%s\"", k > 0 ? ", " : "", get_rel_name(c->streams[k]));

	/* the bits: one per query, one more per join started from 'latest' */
	nbits = c->nreaders;
	for (i = 0; i < c->nreaders; i++)
	{
		MgReader   *r = &c->readers[i];

		appendStringInfo(&names, "%s%s", i > 0 ? ", " : "", quote_identifier(r->q.name));
		if (r->q.nsides == PGS_MAX_SIDES && pgs_join_read_start(&r->q, &r->start))
			r->start_bit = nbits++;
	}
	if (nbits > PGS_RESTAMP_MAX_QUERIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stream tables %s linked by joins have %d restored queries, more than %d",
						streams.data, nbits, PGS_RESTAMP_MAX_QUERIES),
				 errdetail("The streams of restored joins are stamped again together, for streaming queries %s; a join started from the latest rows counts twice.",
						   names.data),
				 errhint("Drop the restored queries that are not needed, or choose restored_rows => 'deliver' for the joins after a restore that does not keep the stamps.")));

	/* each stream with restored rows is its owner's to stamp again */
	for (k = 0; k < c->nstreams; k++)
	{
		PgsQuery	sq;
		bool		kept = false;
		int64		restored = 0;
		int64		intruders = 0;

		sq = *q;
		for (i = 0; i < c->nreaders; i++)
			if (mg_reads(&c->readers[i], c->streams[k]))
				sq = c->readers[i].q;
		sq.stream_relid = c->streams[k];
		c->has_rows[k] = pgs_restored_rows(&sq, &c->restore[k], &kept, &restored, &intruders);
		if (!c->has_rows[k])
			continue;
		if (!pg_class_ownercheck(c->streams[k], GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of stream table \"%s\" to stamp its restored rows again",
							get_rel_name(c->streams[k])),
					 errdetail("Restored joins link stream tables %s: their rows are stamped again together.",
							   streams.data),
					 errhint("Ask the owner of those streams to call stream.resume_restored_query('%s', 'checkpoint').",
							 q->name)));
		if (!kept)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the restored rows of stream table \"%s\" did not keep their stamps",
							get_rel_name(c->streams[k])),
					 errdetail("Restored joins link stream tables %s, whose rows are stamped again together from the restored checkpoints; the rows of \"%s\" carry the restoring transaction's id.",
							   streams.data, get_rel_name(c->streams[k])),
					 errhint("Restore every linked stream keeping the stamps, or choose restored_rows => 'deliver' for the joins.")));
		if (intruders > 0)
			mg_refuse_intruders(&sq, c->restore[k], intruders);
		if (xmax == 0 || U64FromFullTransactionId(c->restore[k]) + 1 < xmax)
			xmax = U64FromFullTransactionId(c->restore[k]) + 1;
	}
	if (xmax <= FirstNormalTransactionId + PGS_RESTAMP_CLASSES)
		elog(ERROR, "the restore's transaction id " UINT64_FORMAT " is too low", xmax - 1);

	/* the rows are stamped in place: see mg_restamp */
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("stream.resume_restored_query(..., 'checkpoint') cannot run inside a transaction block when it stamps restored rows again"),
				 errhint("Call it on its own, outside BEGIN ... COMMIT.")));
	for (k = 0; k < c->nstreams; k++)
		LockRelationOid(c->streams[k], AccessExclusiveLock);
	for (i = 0; i < c->nreaders; i++)
	{
		MgReader   *r = &c->readers[i];

		if (r->split)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the checkpoint of streaming query \"%s\" ends part-way through the rows of one transaction",
							r->q.name),
					 errdetail("Which of that transaction's rows it processed was told by their places in the table, which the restore changed."),
					 errhint("Restore without keeping the stamps, and choose restored_rows => 'skip' or 'deliver'.")));
		snaps[i] = r->end;
		if (r->start_bit >= 0)
			snaps[r->start_bit] = r->start;
		if (r->q.query_id != q->query_id || !has_privs_of_role(GetUserId(), q->owner))
			appendStringInfo(&others, "%s%s", others.len > 0 ? ", " : "",
							 quote_identifier(r->q.name));
	}

	/* the joins' states follow their rows, while the stamps still tell */
	for (i = 0; i < c->nreaders; i++)
	{
		MgReader   *r = &c->readers[i];
		PgsJoinProcessed how;

		if (r->q.nsides != PGS_MAX_SIDES)
			continue;
		memset(&how, 0, sizeof(how));
		how.end = r->end;
		how.bit = i;
		how.start_bit = r->start_bit;
		how.classes = PGS_RESTAMP_CLASSES;
		for (k = 0; k < PGS_MAX_SIDES; k++)
		{
			int			s = mg_stream_index(c, r->q.sides[k].relid);

			how.restore[k] = c->has_rows[s] ? c->restore[s] : InvalidFullTransactionId;
		}
		(void) pgs_join_remap_restored(&r->q, &how);
	}

	/* the stamps */
	memset(seen, 0, sizeof(seen));
	for (k = 0; k < c->nstreams; k++)
	{
		bool		reads[PGS_RESTAMP_MAX_QUERIES];

		if (!c->has_rows[k])
			continue;
		for (i = 0; i < c->nreaders; i++)
		{
			reads[i] = mg_reads(&c->readers[i], c->streams[k]);
			if (c->readers[i].start_bit >= 0)
				reads[c->readers[i].start_bit] = reads[i];
		}
		restamped += pgs_restamp_restored_bits(c->streams[k], c->restore[k], nbits,
											   snaps, reads, seen);
	}

	/* each query's boundary, and a 'latest' join's start, list their bits */
	for (i = 0; i < c->nreaders; i++)
	{
		MgReader   *r = &c->readers[i];

		if (r->q.nsides == PGS_MAX_SIDES)
		{
			pgs_checkpoint_restart(r->q.query_id, mg_bit_snapshot(seen, i, xmax),
								   pgs_stream_relfilenode(r->q.sides[0].relid));
			pgs_checkpoint_restart_side(r->q.query_id,
										pgs_stream_relfilenode(r->q.sides[1].relid));
			if (r->start_bit >= 0)
				pgs_join_set_start(&r->q, mg_bit_snapshot(seen, r->start_bit, xmax));
		}
		else
			pgs_checkpoint_restart(r->q.query_id, mg_bit_snapshot(seen, i, xmax),
								   pgs_stream_relfilenode(r->q.stream_relid));
	}
	ereport(NOTICE,
			(errmsg("stamped " INT64_FORMAT " restored rows of stream tables %s again",
					restamped, streams.data),
			 others.len > 0 ?
			 errdetail("The checkpoints of streaming queries %s, restored with them, are this cluster's now too; resume them with stream.resume_query().",
					   others.data) : 0));
	if (c->left_out.len > 0)
		ereport(WARNING,
				(errmsg("streaming queries %s were left out", c->left_out.data),
				 errdetail("Their join state names rows only by their place in the table (it was made by pg_streaming 0.7), which the restore changed."),
				 errhint("Drop them and start them again, with starting_from => 'latest' to leave the rows already processed.")));
	if (has_privs_of_role(GetUserId(), q->owner))
	{
		pgs_query_set_status(q->query_id, "active", false);
		pgs_notify_scheduler_at_commit();
		pgs_notice_if_unscheduled(q->name);
	}
}

/*
 * stream.resume_restored_query for a join between two streams (see below
 * for the single-stream query): 'checkpoint' after a restore that kept the
 * stamps, into another cluster (every stream linked by restored joins
 * stamped again at once, mg_restamp_component) or into the same one (the
 * checkpoint adopted, the state given the rows' new places); 'deliver'
 * (the state forgotten, every restored row of both streams processed
 * again, as a query started afresh over its whole streams); 'skip' is
 * refused: what a join's state names is found again only through the
 * stamps the restore kept.
 */
static void
mg_resume_join(const PgsQuery *q, const char *how, const PgsHistoryCheck *h)
{
	bool		same_cluster = h->recorded && h->sysid_known && h->local_known &&
		h->system_identifier == h->local_system_identifier && !h->behind;
	bool		has_rows[PGS_MAX_SIDES];
	bool		kept[PGS_MAX_SIDES];
	FullTransactionId restore[PGS_MAX_SIDES];
	int64		intruders[PGS_MAX_SIDES];
	PgsQuery	sq[PGS_MAX_SIDES];
	bool		foreign_stamps = false;
	int			side;

	if (strcmp(how, "skip") == 0)
	{
		pgs_query_check_access(q);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming query \"%s\" joins two streams and cannot take its restored rows as processed", q->name),
				 errdetail("Which restored rows its state names, and which of them it processed, is told only by the stamps a restore keeps."),
				 errhint("Choose restored_rows => 'deliver' to deliver every restored row again into an emptied target, or restore keeping the stamps and choose 'checkpoint'; or drop the query and start it again with starting_from => 'latest'.")));
	}
	for (side = 0; side < PGS_MAX_SIDES; side++)
	{
		int64		restored = 0;

		sq[side] = *q;
		sq[side].stream_relid = q->sides[side].relid;
		has_rows[side] = pgs_restored_rows(&sq[side], &restore[side], &kept[side],
										   &restored, &intruders[side]);
		if (has_rows[side] && kept[side] && !same_cluster)
			foreign_stamps = true;
	}
	if (strcmp(how, "checkpoint") == 0 && !pgs_join_has_fingerprints(q))
	{
		pgs_query_check_access(q);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("streaming query \"%s\" joins two streams and cannot carry on after a restore into another transaction history", q->name),
				 errdetail("Its state was made by pg_streaming 0.7, which names the rows a join keeps only by their place in the table, and a logical restore changes it."),
				 errhint("Choose restored_rows => 'deliver' to deliver every restored row again into an emptied target, or drop the query and start it again, with starting_from => 'latest' to leave the rows already processed.")));
	}

	if (foreign_stamps)
	{
		MgComponent c;

		if (strcmp(how, "checkpoint") != 0)
		{
			pgs_query_check_access(q);
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("stream tables \"%s\" and \"%s\" of streaming query \"%s\" hold rows stamped in another cluster",
							get_rel_name(q->sides[0].relid), get_rel_name(q->sides[1].relid), q->name),
					 errdetail("The restore kept the stamps the rows were dumped with, and the query's checkpoint was written by the database system with identifier " UINT64_FORMAT ", not this one: those transaction ids name nothing here, for this query or any other, until they are stamped again.",
							   (uint64) h->system_identifier),
					 errhint("Choose restored_rows => 'checkpoint': the restored checkpoints tell exactly which of those rows each query processed.")));
		}
		/* the stream owners may do this, for every query on their streams */
		for (side = 0; side < PGS_MAX_SIDES; side++)
			if (!pg_class_ownercheck(q->sides[side].relid, GetUserId()))
				pgs_query_check_access(q);
		mg_component(q, &c);
		mg_restamp_component(q, &c);
		return;
	}
	pgs_query_check_access(q);

	if (strcmp(how, "checkpoint") == 0)
	{
		PgsJoinProcessed proc;
		PgsForeignReader *readers;
		int			n;
		int			i;

		for (side = 0; side < PGS_MAX_SIDES; side++)
			if (!same_cluster || (has_rows[side] && !kept[side]))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("the checkpoint of streaming query \"%s\" cannot tell which restored rows it processed", q->name),
						 !same_cluster ?
						 errdetail("It was written in the database system with identifier " UINT64_FORMAT ", not in this cluster's transaction history.",
								   (uint64) h->system_identifier) :
						 errdetail("The restore gave the rows of stream table \"%s\" its own transaction id (it ran without session_replication_role = replica).",
								   get_rel_name(q->sides[side].relid)),
						 errhint("Choose restored_rows => 'deliver' to deliver them again into an emptied target.")));

		/* the same history: the stamps hold, the rows' places do not */
		memset(&proc, 0, sizeof(proc));
		proc.bit = proc.start_bit = -1;
		n = pgs_checkpoint_foreign_readers(q->sides[0].relid, &readers);
		for (i = 0; i < n; i++)
			if (readers[i].query_id == q->query_id)
				proc.end = readers[i].end;
		(void) pgs_join_remap_restored(q, &proc);
		pgs_checkpoint_adopt(q->query_id);
	}
	else
	{
		Datum		none;

		/* an aggregation's state over the join holds the restored rows */
		if (OidIsValid(q->state_relid) && get_attnum(q->state_relid, "side") == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("streaming query \"%s\" keeps state, which holds the restored rows already", q->name),
					 errhint("Drop the query and start it again over an emptied target.")));
		for (side = 0; side < PGS_MAX_SIDES; side++)
			if (intruders[side] > 0)
				mg_refuse_intruders(&sq[side], restore[side], intruders[side]);

		/* before every transaction, both streams from their first block */
		none = DirectFunctionCall1(pg_snapshot_in,
								   CStringGetDatum(psprintf(UINT64_FORMAT ":" UINT64_FORMAT ":",
															(uint64) FirstNormalTransactionId,
															(uint64) FirstNormalTransactionId)));
		pgs_join_clear_state(q);
		pgs_checkpoint_restart(q->query_id, none, pgs_stream_relfilenode(q->sides[0].relid));
		pgs_checkpoint_restart_side(q->query_id, pgs_stream_relfilenode(q->sides[1].relid));
		pgs_checkpoint_forget_watermarks(q->query_id);
	}
	pgs_query_set_status(q->query_id, "active", false);
	pgs_notify_scheduler_at_commit();
	pgs_notice_if_unscheduled(q->name);
}

/*
 * After a restore into another cluster that kept the rows' stamps: stamp
 * the restored rows again (restored.c), from the checkpoints of every query
 * on the stream that came with the restore, and give each of those queries
 * a boundary in this history from which its next batch delivers exactly
 * the restored rows it had not processed, and every row written here.  The
 * stamps are the stream's, so this is its owner's to do, and it is done for
 * all of those queries at once; each query other than the one named keeps
 * its status for its own owner to resume.
 */
static void
mg_restamp(const PgsQuery *q, FullTransactionId restore)
{
	int64	   *ids;
	Datum	   *ends;
	bool	   *splits;
	bool		seen[PGS_RESTAMP_CLASSES];
	int			n;
	int			i;
	int64		restamped;
	uint64		xmax = U64FromFullTransactionId(restore) + 1;
	Oid			relfilenode;
	StringInfoData others;

	if (!pg_class_ownercheck(q->stream_relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of stream table \"%s\" to stamp its restored rows again",
						get_rel_name(q->stream_relid)),
				 errhint("Ask the stream's owner to call stream.resume_restored_query('%s', 'checkpoint').",
						 q->name)));

	/*
	 * The rows are stamped in place, outside the transaction: a ROLLBACK of
	 * the caller's transaction block would keep the stamps and lose the
	 * boundaries that give them their meaning.  Called alone, the call
	 * commits or fails whole but for the stamps, and is made again at once.
	 */
	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("stream.resume_restored_query(..., 'checkpoint') cannot run inside a transaction block when it stamps restored rows again"),
				 errhint("Call it on its own, outside BEGIN ... COMMIT.")));

	/* a restored join reads the stream: its streams are stamped together */
	if (pgs_catalog_has_joins())
	{
		MgComponent c;

		mg_component(q, &c);
		if (c.has_join)
		{
			mg_restamp_component(q, &c);
			return;
		}
	}
	LockRelationOid(q->stream_relid, AccessExclusiveLock);
	n = pgs_checkpoint_foreign_queries(q->stream_relid, &ids, &ends, &splits);
	if (n > PGS_RESTAMP_MAX_QUERIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("stream table \"%s\" has %d restored queries, more than %d",
						get_rel_name(q->stream_relid), n, PGS_RESTAMP_MAX_QUERIES),
				 errhint("Drop the restored queries that are not needed, or choose restored_rows => 'skip' or 'deliver' after a restore that does not keep the stamps.")));
	if (xmax <= FirstNormalTransactionId + PGS_RESTAMP_CLASSES)
		elog(ERROR, "the restore's transaction id " UINT64_FORMAT " is too low", xmax - 1);
	initStringInfo(&others);
	for (i = 0; i < n; i++)
	{
		PgsQuery	other;

		/* the lock every batch step of that query takes */
		if (!pgs_query_read(NULL, ids[i], PGS_QUERY_LOCK, &other))
			elog(ERROR, "streaming query with id " INT64_FORMAT " vanished", ids[i]);
		if (splits[i])
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the checkpoint of streaming query \"%s\" ends part-way through the rows of one transaction",
							other.name),
					 errdetail("Which of that transaction's rows it processed was told by their places in the table, which the restore changed."),
					 errhint("Restore without keeping the stamps, and choose restored_rows => 'skip' or 'deliver'.")));
		if (ids[i] != q->query_id || !has_privs_of_role(GetUserId(), q->owner))
			appendStringInfo(&others, "%s%s", others.len > 0 ? ", " : "",
							 quote_identifier(other.name));
	}
	restamped = pgs_restamp_restored(q->stream_relid, restore, n, ends, seen);
	relfilenode = pgs_stream_relfilenode(q->stream_relid);
	for (i = 0; i < n; i++)
		pgs_checkpoint_restart(ids[i], mg_bit_snapshot(seen, i, xmax), relfilenode);
	ereport(NOTICE,
			(errmsg("stamped " INT64_FORMAT " restored rows of stream table \"%s\" again",
					restamped, get_rel_name(q->stream_relid)),
			 others.len > 0 ?
			 errdetail("The checkpoints of streaming queries %s, restored with it, are this cluster's now too; resume them with stream.resume_query().",
					   others.data) : 0));
	/* the query goes on if the caller may run it; else its owner resumes it */
	if (has_privs_of_role(GetUserId(), q->owner))
	{
		pgs_query_set_status(q->query_id, "active", false);
		pgs_notify_scheduler_at_commit();
		pgs_notice_if_unscheduled(q->name);
	}
}

/*
 * stream.resume_restored_query(name, restored_rows): carry on a query whose
 * checkpoint a logical restore brought from another transaction history,
 * the caller saying what to do with the rows restored with its stream, since
 * only a restore that kept the rows' stamps can tell which of them the
 * checkpoint processed:
 *
 * - 'checkpoint': that restore.  Into the cluster the checkpoint was written
 *   in, the checkpoint is adopted as it is; into another, the stream's
 *   restored rows are stamped again for every restored query on it
 *   (mg_restamp).  Either way the query goes on exactly once;
 * - 'skip': the restored rows count as processed (those pending at dump
 *   time are never delivered);
 * - 'deliver': every restored row is delivered again, once, for a target
 *   emptied by the caller; not for a query with state, whose state holds
 *   them already.
 *
 * Rows written after the restore are delivered once in every case.  With
 * 'skip' and 'deliver' the query gets a new boundary in this history, just
 * after the restore's transaction or before every transaction; stamps of
 * another cluster are refused there, since they name nothing here.  Returns
 * false, changing nothing, when the query's checkpoint is this history's
 * already.
 */
Datum
stream_resume_restored_query(PG_FUNCTION_ARGS)
{
	char	   *how = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PgsQuery	q;
	PgsHistoryCheck h;
	FullTransactionId restore = InvalidFullTransactionId;
	bool		kept = false;
	int64		intruders = 0;
	int64		restored = 0;
	bool		has_rows;
	bool		same_cluster;
	uint64		from;

	if (strcmp(how, "checkpoint") != 0 && strcmp(how, "skip") != 0 &&
		strcmp(how, "deliver") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("restored_rows must be 'checkpoint', 'skip' or 'deliver', not \"%s\"", how)));
	{
		char	   *name = mg_name_arg(fcinfo);

		if (!pgs_query_read(name, 0, PGS_QUERY_LOCK, &q))
			pgs_query_report_missing(name);
	}

	/*
	 * The query's owner carries it on; so may the stream's owner with
	 * 'checkpoint', whose stamping again is theirs to do (mg_restamp).
	 */
	if (strcmp(how, "checkpoint") != 0 ||
		!pg_class_ownercheck(q.stream_relid, GetUserId()))
		pgs_query_check_access(&q);
	pgs_catalog_require(PGS_CATALOG_0_6,
						"the transaction histories stream.resume_restored_query checks");
	if (pgs_checkpoint_check_history(q.query_id, &h))
		PG_RETURN_BOOL(false);
	if (q.nsides == PGS_MAX_SIDES)
	{
		mg_resume_join(&q, how, &h);
		PG_RETURN_BOOL(true);
	}

	same_cluster = h.recorded && h.sysid_known && h.local_known &&
		h.system_identifier == h.local_system_identifier && !h.behind;
	has_rows = pgs_restored_rows(&q, &restore, &kept, &restored, &intruders);
	if (has_rows && kept && !same_cluster)
	{
		if (strcmp(how, "checkpoint") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("stream table \"%s\" of streaming query \"%s\" holds rows stamped in another cluster",
							get_rel_name(q.stream_relid), q.name),
					 errdetail("The restore kept the stamps the rows were dumped with, and the query's checkpoint was written by the database system with identifier " UINT64_FORMAT ", not this one: those transaction ids name nothing here, for this query or any other, until they are stamped again.",
							   (uint64) h.system_identifier),
					 errhint("Choose restored_rows => 'checkpoint': the restored checkpoints tell exactly which of those rows each query processed.")));
		if (intruders > 0)
			mg_refuse_intruders(&q, restore, intruders);
		mg_restamp(&q, restore);
		PG_RETURN_BOOL(true);
	}
	/* every other way on is the query owner's */
	pgs_query_check_access(&q);

	if (strcmp(how, "checkpoint") == 0)
	{
		if (!same_cluster || (has_rows && !kept))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the checkpoint of streaming query \"%s\" cannot tell which restored rows it processed", q.name),
					 !same_cluster ?
					 errdetail("It was written in the database system with identifier " UINT64_FORMAT ", not in this cluster's transaction history.",
							   (uint64) h.system_identifier) :
					 errdetail("The restore gave the rows of stream table \"%s\" its own transaction id (it ran without session_replication_role = replica).",
							   get_rel_name(q.stream_relid)),
					 errhint("Choose restored_rows => 'skip' to take the restored rows as processed, or 'deliver' to deliver them again into an emptied target.")));
		pgs_checkpoint_adopt(q.query_id);
	}
	else
	{
		if (strcmp(how, "deliver") == 0 && OidIsValid(q.state_relid))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("streaming query \"%s\" keeps state, which holds the restored rows already", q.name),
					 errhint("Choose restored_rows => 'skip', or drop the query and start it again over an emptied target.")));
		if (intruders > 0)
			mg_refuse_intruders(&q, restore, intruders);

		/*
		 * A boundary whose snapshot sees every transaction up to the restore
		 * ('skip'), or none ('deliver'); floor 0, so that the next batch
		 * reads the whole table once.
		 */
		if (strcmp(how, "skip") == 0 && has_rows)
		{
			from = U64FromFullTransactionId(restore) + 1;

			/* which rows were taken as restored is a guess: say which */
			ereport(NOTICE,
					(errmsg("the " INT64_FORMAT " rows of stream table \"%s\" written by transaction " UINT64_FORMAT ", the first to write it, count as restored and processed",
							restored, get_rel_name(q.stream_relid),
							U64FromFullTransactionId(restore))));
		}
		else
			from = FirstNormalTransactionId;
		pgs_checkpoint_restart(q.query_id,
							   DirectFunctionCall1(pg_snapshot_in,
												   CStringGetDatum(psprintf(UINT64_FORMAT ":" UINT64_FORMAT ":",
																			from, from))),
							   pgs_stream_relfilenode(q.stream_relid));
	}
	pgs_query_set_status(q.query_id, "active", false);
	pgs_notify_scheduler_at_commit();
	pgs_notice_if_unscheduled(q.name);
	PG_RETURN_BOOL(true);
}

/* raise the error a failed query recorded, with its detail and hint */
static void
mg_raise_failure(const PgsQuery *q)
{
	int			code = ERRCODE_INTERNAL_ERROR;
	const char *s = q->last_error_sqlstate;

	if (s && strlen(s) == 5)
		code = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
	ereport(ERROR,
			(errcode(code),
			 q->last_error ?
			 errmsg("streaming query \"%s\" failed: %s", q->name, q->last_error) :
			 errmsg("streaming query \"%s\" failed: unknown error", q->name),
			 q->last_error_detail ? errdetail_internal("%s", q->last_error_detail) : 0,
			 q->last_error_hint ?
			 errhint("%s Fix the cause, then start the query again with stream.resume_query().",
					 q->last_error_hint) :
			 errhint("Fix the cause, then start the query again with stream.resume_query().")));
}

/*
 * Wait until the query is stopped, finished or failed, or the timeout
 * passes: true when it ended, false on timeout.  A failed query raises its
 * error, as Spark's awaitTermination rethrows the query's exception.
 */
Datum
stream_await_termination(PG_FUNCTION_ARGS)
{
	char	   *name = mg_name_arg(fcinfo);
	TimestampTz deadline = 0;
	PgsQuery	q;

	if (!PG_ARGISNULL(1))
		deadline = GetCurrentTimestamp() +
			pgs_interval_usecs(PG_GETARG_DATUM(1), "timeout", NULL, 0,
							   MG_MAX_TIMEOUT_USECS);

	/* a distributed query (Citus coordinator): until all its shards' end */
	if (!pgs_query_read(name, 0, PGS_QUERY_NO_LOCK, &q))
	{
		bool		ended;

		if (pgs_distributed_await(name, deadline, &ended))
			PG_RETURN_BOOL(ended);
	}

	for (;;)
	{
		mg_read(name, PGS_QUERY_NO_LOCK, &q);
		if (strcmp(q.status, "failed") == 0)
			mg_raise_failure(&q);
		if (!q.active)
			PG_RETURN_BOOL(true);
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
			PG_RETURN_BOOL(false);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 50L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * How long the count for stream.queries waits for a lock on a stream, at
 * most: another role holding one must not hang monitoring.
 */
#define MG_MONITOR_LOCK_TIMEOUT "100ms"

/*
 * The estimate of pgs_pending_rows for monitoring, which must never fail
 * or hang on another role's code or locks: counted with row_security off
 * (so that no policy of any role runs; where one would apply, the count
 * fails instead of filtering) and a short lock_timeout, in a
 * subtransaction whose failure makes the count unknown (-1).  A cancel
 * (statement_timeout, a user's) is not swallowed.
 */
static int64
mg_pending_rows_guarded(const PgsQuery *q)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int64		n;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			nest = NewGUCNestLevel();

		(void) set_config_option("row_security", "off", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		(void) set_config_option("lock_timeout", MG_MONITOR_LOCK_TIMEOUT,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
		n = pgs_pending_rows(q, true);
		AtEOXact_GUC(false, nest);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
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

		/*
		 * A cancel or a termination is the caller's, raised again outside
		 * the subtransaction.
		 */
		if (pgs_error_is_interrupt(edata->sqlerrcode))
			ReThrowError(edata);
		ereport(DEBUG1,
				(errmsg("pending rows of streaming query \"%s\" not counted: %s",
						q->name, edata->message)));
		FreeErrorData(edata);
		n = -1;
	}
	PG_END_TRY();
	return n;
}

/*
 * Rows of the query's stream that no committed batch has processed, for
 * the view stream.queries: NULL for a query the caller may not see (the
 * view shows none of those anyway), whose owner may not read the stream,
 * or whose stream cannot be counted without running a role's code or
 * waiting on its locks (mg_pending_rows_guarded).  The stream is read as
 * the query's owner.
 */
Datum
stream_pending_rows(PG_FUNCTION_ARGS)
{
	PgsQuery	q;
	int64		n;

	if (!pgs_query_read(NULL, PG_GETARG_INT64(0), PGS_QUERY_NO_LOCK, &q) ||
		!has_privs_of_role(GetUserId(), q.owner))
		PG_RETURN_NULL();
	/* another history's offsets count nothing here */
	if (pgs_checkpoint_is_foreign(&q))
		PG_RETURN_NULL();
	n = mg_pending_rows_guarded(&q);
	if (n < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(n);
}

/*
 * stream.pending_rows(name): the exact count, reading every pending row;
 * an error where the owner may not read the stream.
 */
Datum
stream_pending_rows_exact(PG_FUNCTION_ARGS)
{
	PgsQuery	q;
	int64		n;

	mg_read(mg_name_arg(fcinfo), PGS_QUERY_NO_LOCK, &q);
	pgs_check_history(&q);
	n = pgs_pending_rows(&q, false);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the owner of streaming query \"%s\" may not read its stream \"%s\"",
						q.name, get_rel_name(q.stream_relid)),
				 errhint("Grant SELECT on the stream to the query's owner.")));
	PG_RETURN_INT64(n);
}

/* run by the install script: the launcher should look at this database */
Datum
stream_extension_created(PG_FUNCTION_ARGS)
{
	pgs_notify_launcher_at_commit();
	PG_RETURN_VOID();
}

/* is the command one that can rename what queries read? */
static bool
mg_renames(Node *parsetree)
{
	return (IsA(parsetree, RenameStmt) || IsA(parsetree, AlterObjectSchemaStmt) ||
			(IsA(parsetree, AlterEnumStmt) && ((AlterEnumStmt *) parsetree)->oldVal != NULL)) &&
		OidIsValid(get_extension_oid("pg_streaming", true)) && pgs_catalog_has_keys();
}

/* an object named by a list of names, of one of the kinds a query can read */
static ObjectAddress
mg_named_object(ObjectType type, Node *object)
{
	ObjectAddress address = InvalidObjectAddress;

	switch (type)
	{
		case OBJECT_FUNCTION:
		case OBJECT_PROCEDURE:
		case OBJECT_ROUTINE:
		case OBJECT_AGGREGATE:
			ObjectAddressSet(address, ProcedureRelationId,
							 LookupFuncWithArgs(type, castNode(ObjectWithArgs, object), true));
			break;
		case OBJECT_OPERATOR:
			ObjectAddressSet(address, OperatorRelationId,
							 LookupOperWithArgs(castNode(ObjectWithArgs, object), true));
			break;
		case OBJECT_TYPE:
		case OBJECT_DOMAIN:
			ObjectAddressSet(address, TypeRelationId,
							 LookupTypeNameOid(NULL,
											   makeTypeNameFromNameList(castNode(List, object)),
											   true));
			break;
		case OBJECT_COLLATION:
			ObjectAddressSet(address, CollationRelationId,
							 get_collation_oid(castNode(List, object), true));
			break;
		case OBJECT_TSCONFIGURATION:
			ObjectAddressSet(address, TSConfigRelationId,
							 get_ts_config_oid(castNode(List, object), true));
			break;
		case OBJECT_TSDICTIONARY:
			ObjectAddressSet(address, TSDictionaryRelationId,
							 get_ts_dict_oid(castNode(List, object), true));
			break;
		case OBJECT_EXTENSION:
			ObjectAddressSet(address, ExtensionRelationId,
							 get_extension_oid(strVal(object), true));
			break;
		default:
			break;
	}
	return address;
}

/*
 * The object a renaming command renames or moves (or whose enum label it
 * renames), looked up by name without a lock (the command takes its own);
 * an invalid address when it does not exist or is of no kind a query reads.
 */
static ObjectAddress
mg_renamed_object(Node *parsetree)
{
	ObjectAddress address = InvalidObjectAddress;

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *rs = (RenameStmt *) parsetree;

		if (rs->renameType == OBJECT_SCHEMA)
			ObjectAddressSet(address, NamespaceRelationId,
							 get_namespace_oid(rs->subname, true));
		else if (rs->relation != NULL)
			ObjectAddressSet(address, RelationRelationId,
							 RangeVarGetRelid(rs->relation, NoLock, true));
		else if (rs->object != NULL)
			address = mg_named_object(rs->renameType, rs->object);
	}
	else if (IsA(parsetree, AlterObjectSchemaStmt))
	{
		AlterObjectSchemaStmt *as = (AlterObjectSchemaStmt *) parsetree;

		if (as->relation != NULL)
			ObjectAddressSet(address, RelationRelationId,
							 RangeVarGetRelid(as->relation, NoLock, true));
		else if (as->object != NULL)
			address = mg_named_object(as->objectType, as->object);
	}
	else if (IsA(parsetree, AlterEnumStmt))
		ObjectAddressSet(address, TypeRelationId,
						 LookupTypeNameOid(NULL,
										   makeTypeNameFromNameList(((AlterEnumStmt *) parsetree)->typeName),
										   true));
	return address;
}

/* may the current user rename the object (so that the command goes on)? */
static bool
mg_owns(ObjectAddress address)
{
	Oid			user = GetUserId();

	switch (address.classId)
	{
		case RelationRelationId:
			return pg_class_ownercheck(address.objectId, user);
		case NamespaceRelationId:
			return pg_namespace_ownercheck(address.objectId, user);
		case ProcedureRelationId:
			return pg_proc_ownercheck(address.objectId, user);
		case OperatorRelationId:
			return pg_oper_ownercheck(address.objectId, user);
		case TypeRelationId:
			return pg_type_ownercheck(address.objectId, user);
		case CollationRelationId:
			return pg_collation_ownercheck(address.objectId, user);
		case TSConfigRelationId:
			return pg_ts_config_ownercheck(address.objectId, user);
		case TSDictionaryRelationId:
			return pg_ts_dict_ownercheck(address.objectId, user);
		case ExtensionRelationId:
			return pg_extension_ownercheck(address.objectId, user);
		default:
			return false;
	}
}

/*
 * The ddl_command_start event trigger of renaming commands: the rows of the
 * queries are locked before the command locks what it renames.
 */
Datum
stream_on_rename_start(PG_FUNCTION_ARGS)
{
	Node	   *parsetree;
	ObjectAddress address;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stream.on_rename_start() must be called as an event trigger")));
	parsetree = ((EventTriggerData *) fcinfo->context)->parsetree;
	if (!mg_renames(parsetree))
		PG_RETURN_NULL();
	/* a command that will fail on the rights makes nobody wait */
	address = mg_renamed_object(parsetree);
	if (OidIsValid(address.objectId) && mg_owns(address))
		pgs_query_lock_for_rename(address.classId, address.objectId);
	PG_RETURN_NULL();
}

/*
 * The ddl_command_end event trigger of renaming commands: queries follow
 * the renames of what they read, as views do.
 */
Datum
stream_on_rename(PG_FUNCTION_ARGS)
{
	Node	   *parsetree;
	Oid			column_relid = InvalidOid;
	const char *old_column = NULL;
	const char *new_column = NULL;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("stream.on_rename() must be called as an event trigger")));
	parsetree = ((EventTriggerData *) fcinfo->context)->parsetree;
	if (!mg_renames(parsetree))
		PG_RETURN_NULL();
	if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN &&
		((RenameStmt *) parsetree)->relation != NULL)
	{
		RenameStmt *rs = (RenameStmt *) parsetree;

		column_relid = RangeVarGetRelid(rs->relation, NoLock, true);
		old_column = rs->subname;
		new_column = rs->newname;
	}
	pgs_query_follow_renames(column_relid, old_column, new_column);
	pgs_query_follow_procedure_renames();
	PG_RETURN_NULL();
}

/*
 * Give a query its view (stream_query.<name>), for queries started before
 * the views existed: run by the update script.  The query's text is
 * analyzed as its owner, with its search_path.
 */
Datum
stream_create_query_view(PG_FUNCTION_ARGS)
{
	PgsQuery	q;

	if (!pgs_query_read(NULL, PG_GETARG_INT64(0), PGS_QUERY_LOCK, &q))
		PG_RETURN_NULL();
	if (!OidIsValid(q.view_relid))
		pgs_query_define_view(&q, pgs_query_analyze_as_owner(q.owner, q.query_text,
															 pgs_batch_search_path(q.search_path)));
	PG_RETURN_VOID();
}
