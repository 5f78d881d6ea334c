/*-------------------------------------------------------------------------
 *
 * pgs_events.h
 *	  A batch's event: the NOTIFY a committed or failed batch sends on its
 *	  query's channel.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_EVENTS_H
#define PGS_EVENTS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* what one batch's event says; the strings are the caller's */
typedef struct PgsBatchEvent
{
	const char *channel;		/* the query's events channel */
	const char *query;			/* the query's name */
	int64		batch_id;
	const char *status;			/* committed, failed or retrying */
	bool		has_counts;		/* a committed batch's rows */
	int64		input_rows;
	int64		output_rows;
	bool		has_watermark;	/* the query has an event time */
	bool		watermark_null; /* none yet */
	TimestampTz watermark;		/* in force for the batch */
	const char *sqlstate;		/* a failed batch's error, or NULL */
	const char *message;
} PgsBatchEvent;

/* how full PostgreSQL's notification queue may be for an event to be sent */
#define PGS_EVENT_QUEUE_LIMIT	0.9

/* the longest error message an event carries, in bytes */
#define PGS_EVENT_MESSAGE_MAX	2000

extern char *pgs_event_payload(const PgsBatchEvent *e);
extern void pgs_event_notify(const PgsBatchEvent *e);

#endif							/* PGS_EVENTS_H */
