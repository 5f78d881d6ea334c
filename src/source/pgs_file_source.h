/*-------------------------------------------------------------------------
 *
 * pgs_file_source.h
 *	  Files as a source: the complete files of a server directory loaded
 *	  into a stream table, each file exactly once (file_source.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_FILE_SOURCE_H
#define PGS_FILE_SOURCE_H

#include "postgres.h"

/* may this role read files on the server (and delete or move them)? */
extern void pgs_file_source_check_rights(Oid role, const char *source,
										 const char *after_read);

/*
 * One batch of a source, in the caller's transaction: the after-read
 * handling of files loaded by earlier commits, then the files ready now.
 * Returns the files loaded, or -1 when the source is gone (or, with
 * require_active, no longer active); *more when files were left for the
 * next batch.
 */
extern int	pgs_file_source_load(int64 source_id, const char *name,
								 bool require_active, bool *more);

/* the after-read handling of committed loads only; false when gone */
extern bool pgs_file_source_finish(int64 source_id);

#endif							/* PGS_FILE_SOURCE_H */
