/*-------------------------------------------------------------------------
 *
 * serving.c
 *	  stream._serving: how the background workers serve a query right now,
 *	  for the column serving of stream.queries.
 *
 * The answer comes from shared memory only (bgw/shared.c): no catalog read
 * and no lock but pg_streaming's own, so that monitoring stays cheap and a
 * query that cannot be served says so where operators look (no scheduler,
 * no worker slot, a full pool).  It tells whether a query id is running or
 * waiting, nothing more, so it needs no check of the caller's rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "bgw/pgs_bgw.h"

PG_FUNCTION_INFO_V1(stream_serving);

Datum
stream_serving(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(pgs_query_serving(PG_GETARG_INT64(0))));
}
