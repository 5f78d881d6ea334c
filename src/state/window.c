/*-------------------------------------------------------------------------
 *
 * window.c
 *	  Event-time windows: stream.tumble and stream.hop.
 *
 * A window is [start, start + size): its start inclusive, its end
 * exclusive, and its starts aligned to an origin (the Unix epoch unless
 * given, as Spark aligns them) by floor division, so that times before the
 * origin fall into the windows before it.  Sizes and slides are fixed
 * lengths: a day is 24 hours, and months, whose length varies, are refused.
 * Both functions work on timestamptz and on timestamp alike (microseconds
 * from the same epoch).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/timestamp.h"

#include "state/pgs_agg.h"

PG_FUNCTION_INFO_V1(stream_tumble);
PG_FUNCTION_INFO_V1(stream_hop);
PG_FUNCTION_INFO_V1(stream_session);

/* the interval arguments of the window functions */
typedef enum WnLength
{
	WN_SIZE,
	WN_SLIDE,
	WN_GAP
} WnLength;

/*
 * A window's size, slide or session gap in microseconds: positive, of a
 * fixed length.  Each refusal is a whole message that names the argument.
 */
static int64
wn_usecs(Interval *iv, WnLength which)
{
	int64		days;
	int64		usecs;

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(which == WN_SIZE ? gettext_noop("a window's size must have a fixed length") :
						which == WN_SLIDE ? gettext_noop("a window's slide must have a fixed length") :
						gettext_noop("a window's gap must have a fixed length")),
				 errdetail("Months and years vary in length."),
				 errhint("Give it in days, hours, minutes or seconds, such as '30 days'.")));
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &days) ||
		pg_add_s64_overflow(days, iv->time, &usecs))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg(which == WN_SIZE ? gettext_noop("a window's size is out of range") :
						which == WN_SLIDE ? gettext_noop("a window's slide is out of range") :
						gettext_noop("a window's gap is out of range"))));
	if (usecs <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(which == WN_SIZE ? gettext_noop("a window's size must be positive") :
						which == WN_SLIDE ? gettext_noop("a window's slide must be positive") :
						gettext_noop("a window's gap must be positive"))));
	return usecs;
}

/* floor(a / b) for b > 0 */
static int64
wn_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* the start of the last window of the slide's grid at or before ts */
static int64
wn_start(int64 ts, int64 slide, int64 origin)
{
	int64		offset;
	int64		start;

	if (pg_sub_s64_overflow(ts, origin, &offset) ||
		pg_mul_s64_overflow(wn_floor_div(offset, slide), slide, &start) ||
		pg_add_s64_overflow(start, origin, &start) ||
		!IS_VALID_TIMESTAMP(start))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for a window")));
	return start;
}

static void
wn_check_finite(int64 ts, int64 origin)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the event time must be finite for a window")));
	if (TIMESTAMP_NOT_FINITE(origin))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the origin must be finite for a window")));
}

/*
 * stream.tumble(ts, size, origin) returns the start of the one window of
 * size "size" that holds ts.
 */
Datum
stream_tumble(PG_FUNCTION_ARGS)
{
	int64		ts = PG_GETARG_INT64(0);
	int64		size = wn_usecs(PG_GETARG_INTERVAL_P(1), WN_SIZE);
	int64		origin = PG_GETARG_INT64(2);

	wn_check_finite(ts, origin);
	PG_RETURN_INT64(wn_start(ts, size, origin));
}

typedef struct HopState
{
	int64		next;			/* the next start to return */
	int64		last;			/* the last one */
	int64		slide;
	bool		done;
} HopState;

/*
 * stream.hop(ts, size, slide, origin) returns the start of every window of
 * size "size", starting every "slide", that holds ts, in ascending order:
 * ceil(size / slide) of them, or one fewer.
 */
Datum
stream_hop(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	HopState   *st;

	if (SRF_IS_FIRSTCALL())
	{
		int64		ts = PG_GETARG_INT64(0);
		int64		size = wn_usecs(PG_GETARG_INTERVAL_P(1), WN_SIZE);
		int64		slide = wn_usecs(PG_GETARG_INTERVAL_P(2), WN_SLIDE);
		int64		origin = PG_GETARG_INT64(3);
		MemoryContext old;
		int64		first;

		if (slide > size)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the slide of a window must not be longer than its size"),
					 errdetail("A slide longer than the size leaves times in no window."),
					 errhint("Use a slide at most as long as the size; a slide equal to it gives stream.tumble's windows.")));
		wn_check_finite(ts, origin);
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		st = palloc(sizeof(HopState));
		st->slide = slide;
		st->last = wn_start(ts, slide, origin);
		/* the earliest start whose window still holds ts: start + size > ts */
		first = st->last - wn_floor_div(size - 1 - (ts - st->last), slide) * slide;
		if (!IS_VALID_TIMESTAMP(first))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range for a window")));
		st->next = first;
		st->done = false;
		funcctx->user_fctx = st;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (HopState *) funcctx->user_fctx;
	if (!st->done && st->next <= st->last)
	{
		int64		start = st->next;

		/* the last window may start near the end of the range */
		if (pg_add_s64_overflow(st->next, st->slide, &st->next))
			st->done = true;
		SRF_RETURN_NEXT(funcctx, Int64GetDatum(start));
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * stream.session(ts, gap) marks a session-window grouping key.  A row
 * starts the session [ts, ts + gap); a streaming aggregation merges a key's
 * sessions that touch, and the key's value is the merged session's start.
 * Evaluated on its own, it is the row's own session's start: ts.
 */
Datum
stream_session(PG_FUNCTION_ARGS)
{
	int64		ts = PG_GETARG_INT64(0);

	(void) wn_usecs(PG_GETARG_INTERVAL_P(1), WN_GAP);
	PG_RETURN_INT64(ts);
}

/*
 * Move a watermark (*null: none yet) by the latest event time seen, less
 * the delay, never back; a time too far back for the delay counts as the
 * earliest.
 */
void
pgs_watermark_advance(bool *null, TimestampTz *watermark, TimestampTz latest,
					  int64 delay_usecs)
{
	int64		candidate;

	if (pg_sub_s64_overflow(latest, delay_usecs, &candidate) ||
		!IS_VALID_TIMESTAMP(candidate))
		candidate = MIN_TIMESTAMP;
	if (*null || candidate > *watermark)
	{
		*watermark = candidate;
		*null = false;
	}
}
