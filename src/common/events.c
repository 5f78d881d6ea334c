/*-------------------------------------------------------------------------
 *
 * events.c
 *	  The NOTIFY of a committed or failed batch, on its query's channel.
 *
 * A notification is queued in the transaction that commits the batch (or
 * records its failure) and delivered by PostgreSQL only when that
 * transaction commits: a listener never hears of a batch that rolled back.
 * PostgreSQL 15 writes every notification into its queue whether anybody
 * listens or not (and serializes notifying commits on one lock), and no
 * backend can tell whether a channel has a listener, so a query sends
 * events only once its owner turned them on (stream.alter_query(name,
 * events => true)); the channel's name is random, shown to the members of
 * the owner only, so that a stranger cannot listen to it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "common/pgs_events.h"

/* a string clipped to at most max bytes, on a character boundary */
static char *
ev_clip(const char *s, int max)
{
	int			len = strlen(s);

	if (len <= max)
		return (char *) s;
	return pnstrdup(s, pg_mbcliplen(s, len, max));
}

/*
 * The event as JSON: the query, the batch, its status, its rows and the
 * watermark in force (a committed batch), its error (a failed one).  Far
 * below the 8000 bytes a payload may hold: the name is at most a
 * relation name's length, the message is clipped.
 */
char *
pgs_event_payload(const PgsBatchEvent *e)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"query\": ");
	escape_json(&buf, ev_clip(e->query, NAMEDATALEN * 4));
	appendStringInfo(&buf, ", \"batch_id\": " INT64_FORMAT ", \"status\": ", e->batch_id);
	escape_json(&buf, e->status);
	if (e->has_counts)
		appendStringInfo(&buf, ", \"input_rows\": " INT64_FORMAT ", \"output_rows\": " INT64_FORMAT,
						 e->input_rows, e->output_rows);
	if (e->has_watermark)
	{
		appendStringInfoString(&buf, ", \"watermark\": ");
		if (e->watermark_null)
			appendStringInfoString(&buf, "null");
		else
		{
			char		iso[MAXDATELEN + 1];

			JsonEncodeDateTime(iso, TimestampTzGetDatum(e->watermark), TIMESTAMPTZOID, NULL);
			escape_json(&buf, iso);
		}
	}
	if (e->sqlstate != NULL)
	{
		appendStringInfoString(&buf, ", \"sqlstate\": ");
		escape_json(&buf, e->sqlstate);
		appendStringInfoString(&buf, ", \"error\": ");
		escape_json(&buf, ev_clip(e->message ? e->message : "", PGS_EVENT_MESSAGE_MAX));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * Queue the event in the current transaction: PostgreSQL delivers it at
 * commit, and drops it with the transaction otherwise.  A notification
 * queue that a listener which never reads has filled would fail the commit
 * ("too many notifications in the NOTIFY queue"), the batch's or the one
 * recording its failure: past PGS_EVENT_QUEUE_LIMIT of it, the event is
 * left out with a WARNING instead, and the batch goes on.
 */
void
pgs_event_notify(const PgsBatchEvent *e)
{
	double		usage = DatumGetFloat8(OidFunctionCall0(F_PG_NOTIFICATION_QUEUE_USAGE));

	if (usage >= PGS_EVENT_QUEUE_LIMIT)
	{
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the event of batch " INT64_FORMAT " of streaming query \"%s\" is not sent: the notification queue is %.0f%% full",
						e->batch_id, e->query, usage * 100),
				 errdetail("A session that listens and does not read its notifications holds the queue back."),
				 errhint("Find the session (the server log names it since the queue was half full) and end it, or turn the query's events off with stream.alter_query(name, events => false).")));
		return;
	}
	Async_Notify(e->channel, pgs_event_payload(e));
}
