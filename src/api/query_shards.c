/*-------------------------------------------------------------------------
 *
 * query_shards.c
 *	  A distributed query seen and driven from the coordinator: the figures
 *	  of its shard queries fetched from their nodes (stream.query_shards,
 *	  and the distributed rows of stream.queries and stream.progress), and
 *	  process_all_available, process_batch and await_termination run on
 *	  every shard's node.
 *
 * Everything goes to the nodes through Citus's master_run_on_worker, as
 * the current role, in new connections that see only what is committed:
 * one command per node, all nodes in parallel.  A node that does not
 * answer is never an error of a view: its shards show the error instead.
 * process_all_available and await_termination do raise it, naming the
 * node and the shard, since they cannot do what they were asked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query_shards.h"
#include "api/pgs_query_shards_api.h"

PG_FUNCTION_INFO_V1(stream_query_shards);
PG_FUNCTION_INFO_V1(stream_node_figures);

/* how often await_termination asks the nodes */
#define QS_AWAIT_POLL_MS	200L

/* a node and the shards it holds of the queries at hand */
typedef struct QsNode
{
	char	   *name;			/* NULL: the shards without a placement */
	int			port;
	List	   *shards;			/* PgsQueryShard * */
	bool		success;		/* the last command's */
	char	   *result;
	bool		failed;			/* a command failed: ask nothing more */
} QsNode;

static bool
qs_citus_installed(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/* "name:port", for messages and the views */
static char *
qs_node_label(const QsNode *n)
{
	return n->name ? psprintf("%s:%d", n->name, n->port) : NULL;
}

/* the shards grouped by node, in the order the nodes first appear */
static List *
qs_group(List *shards)
{
	List	   *nodes = NIL;
	ListCell   *lc;

	foreach(lc, shards)
	{
		PgsQueryShard *s = lfirst(lc);
		QsNode	   *found = NULL;
		ListCell   *ln;

		foreach(ln, nodes)
		{
			QsNode	   *n = lfirst(ln);

			if ((n->name == NULL && s->node_name == NULL) ||
				(n->name && s->node_name && n->port == s->node_port &&
				 strcmp(n->name, s->node_name) == 0))
			{
				found = n;
				break;
			}
		}
		if (!found)
		{
			found = palloc0(sizeof(QsNode));
			found->name = s->node_name;
			found->port = s->node_port;
			nodes = lappend(nodes, found);
		}
		found->shards = lappend(found->shards, s);
	}
	return nodes;
}

/*
 * Run commands[i] on nodes[i] (nodes with a name only), all in parallel,
 * as the current role, and keep each node's success and result text (its
 * value, or its error).  The caller is connected to SPI.
 */
static void
qs_run(QsNode **nodes, char **commands, int n)
{
	Datum	   *names = palloc(sizeof(Datum) * n);
	Datum	   *ports = palloc(sizeof(Datum) * n);
	Datum	   *cmds = palloc(sizeof(Datum) * n);
	Oid			argtypes[3] = {TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
	Datum		values[3];
	int			i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
	{
		names[i] = CStringGetTextDatum(nodes[i]->name);
		ports[i] = Int32GetDatum(nodes[i]->port);
		cmds[i] = CStringGetTextDatum(commands[i]);
	}
	values[0] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(ports, n, INT4OID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(cmds, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT w.node_name, w.node_port, w.success, w.result"
							  " FROM pg_catalog.master_run_on_worker($1, $2, $3, true) w",
							  3, argtypes, values, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "master_run_on_worker did not answer for every node");
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *node = SPI_getvalue(tup, desc, 1);
		char	   *port = SPI_getvalue(tup, desc, 2);
		char	   *success = SPI_getvalue(tup, desc, 3);
		char	   *result = SPI_getvalue(tup, desc, 4);

		/* the rows come in the order of the commands */
		if (node == NULL || strcmp(node, nodes[i]->name) != 0 ||
			port == NULL || atoi(port) != nodes[i]->port)
			elog(ERROR, "master_run_on_worker answered out of order");
		nodes[i]->success = success && strcmp(success, "t") == 0;
		nodes[i]->result = result ? pstrdup(result) : pstrdup("");
	}
}

/* ARRAY['a', 'b']::text[] of the shard queries of a node */
static void
qs_append_names(StringInfo buf, List *shards)
{
	ListCell   *lc;

	appendStringInfoString(buf, "ARRAY[");
	foreach(lc, shards)
	{
		PgsQueryShard *s = lfirst(lc);

		if (lc != list_head(shards))
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, quote_literal_cstr(s->shard_query));
	}
	appendStringInfoString(buf, "]::text[]");
}

/*
 * Ask every node with a placement for its figures of the shard queries it
 * holds (stream.queries rows, or stream.progress rows), one command per
 * node, in parallel.  The caller is connected to SPI.
 */
static void
qs_fetch(List *nodes, bool progress)
{
	QsNode	  **asked = palloc(sizeof(QsNode *) * Max(list_length(nodes), 1));
	char	  **commands = palloc(sizeof(char *) * Max(list_length(nodes), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, nodes)
	{
		QsNode	   *node = lfirst(lc);
		StringInfoData cmd;

		if (node->name == NULL)
			continue;
		initStringInfo(&cmd);
		appendStringInfo(&cmd, "SELECT stream._node_figures(%s, ",
						 progress ? "true" : "false");
		qs_append_names(&cmd, node->shards);
		appendStringInfoChar(&cmd, ')');
		asked[n] = node;
		commands[n] = cmd.data;
		n++;
	}
	qs_run(asked, commands, n);
}

/*
 * The elements of a node's JSON array of figures: each element's text at
 * key, and the element as jsonb, in the current memory context.
 */
static int
qs_elements(const char *json, const char *key, char ***keys, Datum **elems)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(json), CStringGetTextDatum(key)};
	MemoryContext cxt = CurrentMemoryContext;
	int			n;
	int			i;

	if (SPI_execute_with_args("SELECT e OPERATOR(pg_catalog.->>) $2, e"
							  " FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) e",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading a node's figures failed");
	n = (int) SPI_processed;
	*keys = palloc(sizeof(char *) * Max(n, 1));
	*elems = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		(*keys)[i] = pgs_result_text(i, 1, cxt);
		(*elems)[i] = pgs_result_copy(i, 2, &isnull, cxt);
	}
	return n;
}

/*
 * stream._query_shards(progress boolean): one row per shard of each
 * distributed query the current role may see (progress false), with the
 * node's stream.queries row of the shard query as jsonb (NULL when the
 * node has none, or did not answer: node_error says why); or one row per
 * committed batch a node keeps of each shard query (progress true), with
 * the node's stream.progress row.  Without Citus, on a catalog older than
 * 0.9, or without distributed queries: no rows, and no node is asked.
 */
Datum
stream_query_shards(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		progress = PG_GETARG_BOOL(0);
	List	   *shards;
	List	   *nodes;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	/* a node answering a coordinator (itself, maybe) does not ask again */
	if (!qs_citus_installed() || pgs_node_figures_answering())
		PG_RETURN_VOID();
	shards = pgs_query_shards_read(GetUserId(), NULL);
	if (shards == NIL)
		PG_RETURN_VOID();
	nodes = qs_group(shards);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	qs_fetch(nodes, progress);
	foreach(lc, nodes)
	{
		QsNode	   *node = lfirst(lc);
		char	  **keys = NULL;
		Datum	   *elems = NULL;
		int			nelems = 0;
		ListCell   *ls;

		if (node->name && node->success)
			nelems = qs_elements(node->result, progress ? "query" : "name",
								 &keys, &elems);
		foreach(ls, node->shards)
		{
			PgsQueryShard *s = lfirst(ls);
			Datum		values[9];
			bool		nulls[9] = {0};
			char	   *label = qs_node_label(node);
			char	   *node_error = NULL;
			bool		emitted = false;
			int			i;

			values[0] = CStringGetTextDatum(s->name);
			values[1] = Int64GetDatum(s->shardid);
			values[2] = label ? CStringGetTextDatum(label) : (Datum) 0;
			nulls[2] = label == NULL;
			values[3] = CStringGetTextDatum(s->shard_query);
			values[4] = s->applied_status ? CStringGetTextDatum(s->applied_status) : (Datum) 0;
			nulls[4] = s->applied_status == NULL;
			values[5] = s->last_error ? CStringGetTextDatum(s->last_error) : (Datum) 0;
			nulls[5] = s->last_error == NULL;
			values[6] = CStringGetTextDatum(s->desired_status);
			if (node->name == NULL)
				node_error = psprintf("shard %lld has no placement",
									  (long long) s->shardid);
			else if (!node->success)
				node_error = psprintf("node %s did not answer: %s", label,
									  node->result);
			values[7] = node_error ? CStringGetTextDatum(node_error) : (Datum) 0;
			nulls[7] = node_error == NULL;
			for (i = 0; i < nelems; i++)
			{
				if (keys[i] == NULL || strcmp(keys[i], s->shard_query) != 0)
					continue;
				values[8] = elems[i];
				nulls[8] = false;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 values, nulls);
				emitted = true;
			}
			if (!emitted && !progress)
			{
				nulls[8] = true;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 values, nulls);
			}
		}
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * stream._node_figures(progress boolean, names text[]): on a node, the
 * current role's view of the named queries, as a JSON array of
 * stream.queries rows or of stream.progress rows (the command the
 * coordinator sends each node).
 */
Datum
stream_node_figures(PG_FUNCTION_ARGS)
{
	char	   *json = pgs_node_figures(PG_GETARG_BOOL(0), PG_GETARG_DATUM(1));

	PG_RETURN_TEXT_P(cstring_to_text(json ? json : "[]"));
}

/*
 * The distributed query of that name, if any, checked as a local query's
 * management is: only a member of the owning role, or a superuser.  Then
 * the coordinator brings the nodes to the catalog first
 * (stream._reconcile_distributed, where it exists), so that shards
 * started or stopped by the caller's committed work are there.
 */
static bool
qs_enter(const char *name)
{
	Oid			owner;

	if (!qs_citus_installed() || !pgs_distributed_query_owner(name, &owner))
		return false;
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for streaming query \"%s\"", name),
				 errhint("Only the owner of a query, a member of the owning role or a superuser can manage it.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('stream._reconcile_distributed(text)') IS NOT NULL",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *exists = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (exists && strcmp(exists, "t") == 0)
		{
			Oid			argtypes[1] = {TEXTOID};
			Datum		values[1] = {CStringGetTextDatum(name)};

			if (SPI_execute_with_args("SELECT stream._reconcile_distributed($1)",
									  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "stream._reconcile_distributed failed");
		}
	}
	SPI_finish();
	return true;
}

/* a shard whose query cannot be asked for anything on its node */
static void
qs_check_started(const char *name, const QsNode *node, const PgsQueryShard *s)
{
	if (node->name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard %lld of distributed query \"%s\" has no placement",
						(long long) s->shardid, name),
				 errhint("See pg_dist_placement for the shard.")));
	if (s->applied_status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard query \"%s\" of distributed query \"%s\" has not started on node %s:%d",
						s->shard_query, name, node->name, node->port),
				 s->last_error ?
				 errdetail("Starting it failed: %s", s->last_error) :
				 errdetail("The coordinator has not started it yet."),
				 errhint("See stream.query_shards; the coordinator retries at every pass of its scheduler.")));
}

/*
 * process_all_available (all) or process_batch of a distributed query:
 * every shard query's procedure on its node, the nodes in parallel and
 * each node's shards one after another (one command per node at a time,
 * so that a failure names its shard).  Each shard query catches up with
 * the rows committed to its shard before its call, so when this returns
 * every row committed before the call is processed.  A node whose call
 * fails is asked nothing more; a shard whose query has not started (or
 * that has no placement) is skipped.  The first of these is raised, naming
 * the node and the shard, once the other shards are processed.
 */
bool
pgs_distributed_process(const char *name, bool all)
{
	List	   *shards = NIL;
	PgsQueryShard *unstarted = NULL;
	List	   *nodes;
	int			nnodes;
	QsNode	  **asked;
	char	  **commands;
	int			round;
	ListCell   *lc;
	QsNode	   *failed_node = NULL;
	PgsQueryShard *failed_shard = NULL;
	char	   *failed_result = NULL;

	if (!qs_enter(name))
		return false;
	/* the shards that cannot be asked wait for the end, the others go on */
	foreach(lc, pgs_query_shards_read(GetUserId(), name))
	{
		PgsQueryShard *s = lfirst(lc);

		if (s->node_name != NULL && s->applied_status != NULL)
			shards = lappend(shards, s);
		else if (unstarted == NULL)
			unstarted = s;
	}
	nodes = qs_group(shards);
	nnodes = list_length(nodes);
	asked = palloc(sizeof(QsNode *) * Max(nnodes, 1));
	commands = palloc(sizeof(char *) * Max(nnodes, 1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (round = 0;; round++)
	{
		PgsQueryShard **which = palloc(sizeof(PgsQueryShard *) * Max(nnodes, 1));
		int			n = 0;
		int			i;

		foreach(lc, nodes)
		{
			QsNode	   *node = lfirst(lc);
			PgsQueryShard *s;

			/* a node that failed is asked nothing more */
			if (round >= list_length(node->shards) || node->failed)
				continue;
			s = list_nth(node->shards, round);
			asked[n] = node;
			which[n] = s;
			commands[n] = psprintf("CALL stream.%s(%s)",
								   all ? "process_all_available" : "process_batch",
								   quote_literal_cstr(s->shard_query));
			n++;
		}
		if (n == 0)
			break;
		CHECK_FOR_INTERRUPTS();
		qs_run(asked, commands, n);
		for (i = 0; i < n; i++)
		{
			if (asked[i]->success)
				continue;
			asked[i]->failed = true;
			if (failed_node == NULL)
			{
				failed_node = asked[i];
				failed_shard = which[i];
				failed_result = asked[i]->result;
			}
		}
	}
	if (unstarted)
	{
		QsNode		node = {unstarted->node_name, unstarted->node_port};

		qs_check_started(name, &node, unstarted);
	}
	if (failed_node)
		ereport(ERROR,
				(errcode(strncmp(failed_result, "failed to connect", 17) == 0 ?
						 ERRCODE_CONNECTION_FAILURE :
						 ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("distributed query \"%s\" failed on node %s:%d, shard %lld",
						name, failed_node->name, failed_node->port,
						(long long) failed_shard->shardid),
				 errdetail("Shard query \"%s\": %s", failed_shard->shard_query,
						   failed_result),
				 errhint("See stream.query_shards for every shard's status; the other nodes' shards were processed.")));
	SPI_finish();
	return true;
}

/*
 * Has every shard's query ended (stopped, finished, or never to start
 * because the query is not active)?  A failed shard query raises its
 * error, named by node and shard, as await_termination raises a local
 * query's; so does a node that does not answer.
 */
static bool
qs_all_ended(const char *name, List *nodes)
{
	bool		ended = true;
	ListCell   *lc;

	foreach(lc, nodes)
	{
		QsNode	   *node = lfirst(lc);
		char	  **keys = NULL;
		Datum	   *elems = NULL;
		int			nelems;
		ListCell   *ls;

		if (node->name == NULL)
		{
			ended = false;
			continue;
		}
		if (!node->success)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("distributed query \"%s\": node %s:%d did not answer",
							name, node->name, node->port),
					 errdetail("%s", node->result),
					 errhint("See stream.query_shards for every shard's status.")));
		nelems = qs_elements(node->result, "name", &keys, &elems);
		foreach(ls, node->shards)
		{
			PgsQueryShard *s = lfirst(ls);
			const char *status = NULL;
			const char *error = NULL;
			int			i;

			for (i = 0; i < nelems; i++)
			{
				Oid			argtypes[1] = {JSONBOID};
				Datum		values[1] = {elems[i]};

				if (keys[i] == NULL || strcmp(keys[i], s->shard_query) != 0)
					continue;
				if (SPI_execute_with_args("SELECT $1 OPERATOR(pg_catalog.->>) 'status',"
										  " $1 OPERATOR(pg_catalog.->>) 'last_error'",
										  1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
					elog(ERROR, "reading a node's figures failed");
				status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
				error = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			}
			if (status && strcmp(status, "failed") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("distributed query \"%s\" failed on node %s:%d, shard %lld",
								name, node->name, node->port, (long long) s->shardid),
						 errdetail("Shard query \"%s\": %s", s->shard_query,
								   error ? error : "unknown error"),
						 errhint("Fix the cause, then start the query again with stream.resume_query().")));
			if (status ? strcmp(status, "active") == 0 :
				(s->applied_status == NULL &&
				 strcmp(s->desired_status, "active") == 0))
				ended = false;
		}
	}
	return ended;
}

/*
 * await_termination of a distributed query: until every shard's query has
 * ended, or the deadline (0: none) passes; *ended says which.
 */
bool
pgs_distributed_await(const char *name, TimestampTz deadline, bool *ended)
{
	if (!qs_enter(name))
		return false;
	for (;;)
	{
		MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
												  "pg_streaming await",
												  ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		List	   *nodes = qs_group(pgs_query_shards_read(GetUserId(), name));
		bool		done;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		qs_fetch(nodes, false);
		done = qs_all_ended(name, nodes);
		SPI_finish();
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		if (done)
		{
			*ended = true;
			return true;
		}
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
		{
			*ended = false;
			return true;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 QS_AWAIT_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
