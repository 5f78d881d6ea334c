/*-------------------------------------------------------------------------
 *
 * pg_streaming.c
 *	  Module entry point: settings, hooks, and the launcher's registration.
 *
 * The library is loaded by any backend that touches a stream table or calls
 * one of the extension's functions, so everything installed here must also
 * work when the library is not in shared_preload_libraries.  Only then is
 * there shared memory and a launcher; without it, batches run when a
 * session asks for them.
 *
 * This file is the one place that installs hooks and transaction callbacks.
 * Each hook saves the hook installed before it, calls it, and calls the
 * handler the owning module exports; the modules install nothing themselves.
 *
 *	ProcessUtility_hook		storage/guard.c's checks, then bgw/shared.c's
 *	object_access_hook		storage/placement.c
 *	post_parse_analyze_hook	analyze/query_analyze.c, then storage/stream_am.c
 *	planner_hook			state/agg_shape.c
 *	needs_fmgr_hook,
 *	fmgr_hook				storage/shard_moves.c (Citus's shard moves)
 *	shmem_request_hook,
 *	shmem_startup_hook		bgw/shared.c (only in shared_preload_libraries)
 *	transaction end			pgs_at_xact_end, pgs_at_subxact_end below
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "analyze/pgs_analyze.h"
#include "bgw/pgs_bgw.h"
#include "catalog/pgs_query.h"
#include "common/pgs_common.h"
#include "exec/pgs_batch.h"
#include "state/pgs_agg.h"
#include "state/pgs_join_exec.h"
#include "storage/pgs_guard.h"
#include "storage/pgs_placement.h"
#include "storage/pgs_retention.h"
#include "storage/pgs_shard_moves.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static ProcessUtility_hook_type prev_process_utility = NULL;
static object_access_hook_type prev_object_access = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze = NULL;
static planner_hook_type prev_planner = NULL;
static needs_fmgr_hook_type prev_needs_fmgr = NULL;
static fmgr_hook_type prev_fmgr = NULL;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/*
 * The guard's checks come first: a command they refuse must change nothing,
 * and the shared-memory part may stop the database's background processes
 * (DROP DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME).
 * The two look at different commands, so the order changes no command's
 * outcome; it states which part may act on a command the other refuses.
 */
static void
pgs_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	if (!pgs_guard_before_utility(&pstmt, context))
		return;
	pgs_shared_before_utility(pstmt->utilityStmt);

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

static void
pgs_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
	pgs_placement_object_access(access, classId, objectId, subId);
}

static void
pgs_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze)
		prev_post_parse_analyze(pstate, query, jstate);
	pgs_analyze_post_parse(pstate, query);
	pgs_stream_insert_placeholder(pstate->p_target_relation, query);
}

static PlannedStmt *
pgs_planner(Query *parse, const char *query_string, int cursorOptions,
			ParamListInfo boundParams)
{
	PlannedStmt *stmt;
	bool		partial = pgs_agg_plan_partial(parse, &cursorOptions);

	if (prev_planner)
		stmt = prev_planner(parse, query_string, cursorOptions, boundParams);
	else
		stmt = standard_planner(parse, query_string, cursorOptions, boundParams);
	if (partial)
		pgs_agg_fix_partial_plan(stmt);
	return stmt;
}

static bool
pgs_needs_fmgr(Oid fn_oid)
{
	if (prev_needs_fmgr && prev_needs_fmgr(fn_oid))
		return true;
	return pgs_shard_moves_needs_hook(fn_oid);
}

static void
pgs_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (prev_fmgr)
		prev_fmgr(event, flinfo, private);
	pgs_shard_moves_fmgr_event(event, flinfo);
}

static void
pgs_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	pgs_shared_shmem_request();
}

static void
pgs_shmem_startup(void)
{
	if (prev_shmem_startup)
		prev_shmem_startup();
	pgs_shared_shmem_startup();
}

/*
 * The one transaction callback.  Every module keeps its own end-of-
 * transaction state; this calls them in an order that lets each one's
 * commit-time work rely on the ones before it:
 *
 * 1. analysis and the batch executor forget an armed substitution and a
 *    running batch (abort only; they depend on nothing);
 * 2. the rename follower drops what it found, whose memory goes with the
 *    transaction;
 * 3. retention publishes the runs a committed pass wrote into the stream's
 *    shared placement entry,
 * 4. which placement then updates: it takes back the transaction's writer
 *    registrations and frees the entries of the tables it dropped (after
 *    retention, so that a run published for a dropped table is freed with
 *    its entry instead of outliving it);
 * 5. last, the commit wakes the schedulers and the launcher, which then
 *    find the runs and registrations above already in shared memory.
 *
 * Before, each module registered its own callback on first use, so the
 * order depended on which ran first in the backend (callbacks registered
 * later run first); in a writing backend the scheduler was woken before the
 * writer's registration was taken back.  Nothing a woken scheduler reads
 * relied on that: it treats the registration of an ended writer as gone.
 */
static void
pgs_at_xact_end(XactEvent event, void *arg)
{
	pgs_analyze_at_xact_end(event);
	pgs_batch_at_xact_end(event);
	pgs_query_at_xact_end(event);
	pgs_retention_at_xact_end(event);
	pgs_placement_at_xact_end(event);
	pgs_shared_at_xact_end(event);
}

/* the same for subtransactions: each module's state goes with its level */
static void
pgs_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	pgs_analyze_at_subxact_end(event, mySubid);
	pgs_batch_at_subxact_end(event, mySubid);
	pgs_query_at_subxact_end(event, mySubid, parentSubid);
	pgs_retention_at_subxact_end(event, mySubid, parentSubid);
}

void
_PG_init(void)
{
	pgs_define_settings();
	/* a server-start setting exists only where the library is preloaded */
	if (process_shared_preload_libraries_in_progress)
		pgs_placement_define_settings();
	MarkGUCPrefixReserved("pg_streaming");

	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = pgs_process_utility;
	prev_object_access = object_access_hook;
	object_access_hook = pgs_object_access;
	prev_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = pgs_post_parse_analyze;
	prev_planner = planner_hook;
	planner_hook = pgs_planner;
	prev_needs_fmgr = needs_fmgr_hook;
	needs_fmgr_hook = pgs_needs_fmgr;
	prev_fmgr = fmgr_hook;
	fmgr_hook = pgs_fmgr;
	RegisterXactCallback(pgs_at_xact_end, NULL);
	RegisterSubXactCallback(pgs_at_subxact_end, NULL);
	/* retention asks the joins what they may still read */
	pgs_retention_join_hold_hook = pgs_join_retention_hold;

	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request = shmem_request_hook;
		shmem_request_hook = pgs_shmem_request;
		prev_shmem_startup = shmem_startup_hook;
		shmem_startup_hook = pgs_shmem_startup;
		/* every backend inherits it: each commit's notes reach shared memory */
		pgs_commit_notes_enable();
		pgs_register_launcher();
	}
}
