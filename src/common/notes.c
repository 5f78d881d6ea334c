/*-------------------------------------------------------------------------
 *
 * notes.c
 *	  Commit notes: what this backend's transaction tells the background
 *	  workers when it commits (streams it inserted into, a changed query
 *	  catalog, a newly created extension).
 *
 * Storage and the catalog note these while a transaction runs; they must
 * not reach into the workers' shared memory, which is the layer above them.
 * The notes are kept here, backend-local, and the workers' transaction-end
 * callback (bgw/shared.c) takes them at commit and acts on them.  Without
 * shared memory (the library not preloaded) nobody takes them, so nothing
 * is noted: pgs_commit_notes_enable() turns them on where somebody will.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "common/pgs_common.h"

static bool notes_enabled = false;
static List *note_stream_relids = NIL;	/* in TopTransactionContext */
static bool note_scheduler = false;
static bool note_launcher = false;

/*
 * Somebody takes the notes at every transaction end from now on: the
 * workers' shared memory exists and its transaction-end callback is set.
 */
void
pgs_commit_notes_enable(void)
{
	notes_enabled = true;
}

/*
 * Called for every insert into a stream table (stream_am.c); remembers the
 * stream so that the commit can wake the queries that read it.
 */
void
pgs_note_stream_insert(Oid relid)
{
	MemoryContext old;

	if (!notes_enabled || list_member_oid(note_stream_relids, relid))
		return;
	old = MemoryContextSwitchTo(TopTransactionContext);
	note_stream_relids = lappend_oid(note_stream_relids, relid);
	MemoryContextSwitchTo(old);
}

/* the query catalog changed: the scheduler re-reads it at commit */
void
pgs_notify_scheduler_at_commit(void)
{
	if (!notes_enabled)
		return;
	note_scheduler = true;
}

/* the extension was created here: the launcher looks at commit */
void
pgs_notify_launcher_at_commit(void)
{
	if (!notes_enabled)
		return;
	note_launcher = true;
	note_scheduler = true;
}

/*
 * Take this transaction's notes, leaving none: false when there are none.
 * The list of streams lives in TopTransactionContext, so the caller uses
 * it before the transaction's memory goes.
 */
bool
pgs_take_commit_notes(PgsCommitNotes *notes)
{
	notes->stream_relids = note_stream_relids;
	notes->scheduler = note_scheduler;
	notes->launcher = note_launcher;
	pgs_forget_commit_notes();
	return notes->stream_relids != NIL || notes->scheduler || notes->launcher;
}

/* the transaction aborted or was prepared: it announces nothing */
void
pgs_forget_commit_notes(void)
{
	note_stream_relids = NIL;
	note_scheduler = false;
	note_launcher = false;
}
