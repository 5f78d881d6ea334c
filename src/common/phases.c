/*-------------------------------------------------------------------------
 *
 * phases.c
 *	  The clock of a batch's run: the time from its start to its stop,
 *	  each stretch charged to the part of the work it went to.
 *
 * The batch (exec/) starts the clock with the timestamp it records as the
 * run's start and stops it with the one it records as its end, so that
 * the parts add up to no more than the run's duration; the code that does
 * the work (state/, exec/) says when it moves from one part to the next.
 * Outside a batch the clock does not run and a switch does nothing.  One
 * clock a backend: a batch never runs inside another.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "common/pgs_phases.h"

static PgsPhase phase_current = PGS_PHASE_NONE;
static TimestampTz phase_since;
static int64 phase_usecs[PGS_NPHASES];

/* charge the time since the last switch to the current part */
static void
phase_charge(TimestampTz now)
{
	/* a clock set back must not make a part negative */
	if (phase_current != PGS_PHASE_NONE && now > phase_since)
		phase_usecs[phase_current] += now - phase_since;
	phase_since = now;
}

/* a batch's run starts, at "now", planning */
void
pgs_phase_start(TimestampTz now)
{
	memset(phase_usecs, 0, sizeof(phase_usecs));
	phase_current = PGS_PHASE_PLAN;
	phase_since = now;
}

/*
 * The work moves on to "next"; returns the part it was in, so that a
 * caller doing a piece of another part can go back to it.
 */
PgsPhase
pgs_phase_switch(PgsPhase next)
{
	PgsPhase	prev = phase_current;

	if (prev == PGS_PHASE_NONE || next == PGS_PHASE_NONE || next == prev)
		return prev;
	phase_charge(GetCurrentTimestamp());
	phase_current = next;
	return prev;
}

/*
 * The run ends at "now": usecs (PGS_NPHASES of them) gets each part's
 * time, NULL when the caller only stops the clock (an abort).
 */
void
pgs_phase_stop(TimestampTz now, int64 *usecs)
{
	phase_charge(now);
	if (usecs != NULL)
		memcpy(usecs, phase_usecs, sizeof(phase_usecs));
	phase_current = PGS_PHASE_NONE;
}
