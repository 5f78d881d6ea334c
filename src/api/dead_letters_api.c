/*-------------------------------------------------------------------------
 *
 * dead_letters_api.c
 *	  stream.deliver_dead_letters: a query's dead letters delivered again,
 *	  once its text was fixed with stream.alter_query.
 *
 * Only the query's owner (or a member of the owning role) may call it, and
 * the rows go through the query's text as the owner, whoever calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query.h"
#include "exec/pgs_batch.h"

PG_FUNCTION_INFO_V1(stream_deliver_dead_letters);

Datum
stream_deliver_dead_letters(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PgsQuery	q;

	pgs_catalog_require(PGS_CATALOG_0_8, "stream.deliver_dead_letters");
	pgs_require_writable();
	/* the query's row lock: no batch of it runs meanwhile */
	if (!pgs_query_read(name, 0, PGS_QUERY_LOCK, &q))
		pgs_query_report_missing(name);
	pgs_query_check_access(&q);
	PG_RETURN_INT64(pgs_deliver_dead_letters(&q));
}
