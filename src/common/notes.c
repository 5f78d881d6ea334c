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

/*
 * A prepared transaction commits later, by COMMIT PREPARED, in a
 * transaction that noted nothing: its notes would be lost, and the queries
 * reading its streams would find its rows only at their next idle check.
 * Citus commits every transaction that writes on more than one node so.
 * PREPARE TRANSACTION keeps the notes under the transaction's GID, and a
 * COMMIT PREPARED of that GID in this session (Citus sends it on the
 * connection that prepared) notes them again in its own transaction.  A
 * GID committed elsewhere is forgotten when the list is full.
 */
typedef struct PreparedNotes
{
	char	   *gid;
	List	   *stream_relids;
	bool		scheduler;
	bool		launcher;
} PreparedNotes;

#define NOTES_MAX_PREPARED	32

static List *prepared_notes = NIL;	/* of PreparedNotes, in TopMemoryContext */

static void
notes_free_prepared(PreparedNotes *p)
{
	pfree(p->gid);
	list_free(p->stream_relids);
	pfree(p);
}

/* PREPARE TRANSACTION gid is about to run: keep this transaction's notes */
void
pgs_notes_keep_prepared(const char *gid)
{
	MemoryContext old;
	PreparedNotes *p;

	if (!notes_enabled || gid == NULL ||
		(note_stream_relids == NIL && !note_scheduler && !note_launcher))
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (list_length(prepared_notes) >= NOTES_MAX_PREPARED)
	{
		notes_free_prepared(linitial(prepared_notes));
		prepared_notes = list_delete_first(prepared_notes);
	}
	p = palloc(sizeof(PreparedNotes));
	p->gid = pstrdup(gid);
	p->stream_relids = list_copy(note_stream_relids);
	p->scheduler = note_scheduler;
	p->launcher = note_launcher;
	prepared_notes = lappend(prepared_notes, p);
	MemoryContextSwitchTo(old);
}

/*
 * COMMIT PREPARED or ROLLBACK PREPARED gid is about to run: the kept notes
 * become this transaction's (a commit's), or go.
 */
void
pgs_notes_finish_prepared(const char *gid, bool commit)
{
	ListCell   *lc;

	if (gid == NULL)
		return;
	foreach(lc, prepared_notes)
	{
		PreparedNotes *p = lfirst(lc);

		if (strcmp(p->gid, gid) != 0)
			continue;
		if (commit)
		{
			ListCell   *r;

			foreach(r, p->stream_relids)
				pgs_note_stream_insert(lfirst_oid(r));
			if (p->scheduler)
				pgs_notify_scheduler_at_commit();
			if (p->launcher)
				pgs_notify_launcher_at_commit();
		}
		prepared_notes = foreach_delete_current(prepared_notes, lc);
		notes_free_prepared(p);
		return;
	}
}
