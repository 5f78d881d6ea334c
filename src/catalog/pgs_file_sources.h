/*-------------------------------------------------------------------------
 *
 * pgs_file_sources.h
 *	  File sources in the catalog: stream.file_source_defs, where each
 *	  source is defined, and stream.file_log, every file a source took.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_FILE_SOURCES_H
#define PGS_FILE_SOURCES_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

typedef struct PgsFileSource
{
	int64		source_id;
	char	   *name;
	Oid			owner;
	char	   *directory;
	Oid			stream_relid;
	char	   *format;			/* csv, text, jsonl */
	bool		header;
	char	   *delimiter;
	char	   *null_string;
	char	   *file_name_column;	/* or NULL */
	char	   *pattern;
	int64		settle_us;
	Datum		settle;			/* the interval as given */
	int32		max_files;		/* 0: no limit */
	int64		max_bytes;		/* 0: no limit */
	char	   *after_read;		/* keep, delete, archive */
	char	   *archive_directory;	/* or NULL */
	char	   *on_error;		/* fail, dead_letter */
	char	   *trigger;
	char	   *status;			/* active, stopped, failed */
	int64		batches;
} PgsFileSource;

/* what the scheduler needs of an active source */
typedef struct PgsActiveFileSource
{
	int64		source_id;
	Oid			owner;
	bool		owner_can_login;
	char	   *trigger;
} PgsActiveFileSource;

/* a file as a source's record knows it */
typedef struct PgsFileRecord
{
	char	   *file_name;
	int64		size;
	TimestampTz mtime;
	bool		loaded;			/* else a duplicate name reported */
	bool		after_read_done;
} PgsFileRecord;

extern bool pgs_file_sources_exist(void);
extern bool pgs_file_source_read(const char *name, int64 source_id, bool lock,
								 PgsFileSource *src);
extern int64 pgs_file_source_insert(const PgsFileSource *src);
extern void pgs_file_source_delete(int64 source_id);
extern void pgs_file_source_set_status(int64 source_id, const char *status);
extern void pgs_file_source_set_error(int64 source_id, bool fail,
									  const char *sqlstate, const char *message,
									  const char *detail);
extern int64 pgs_file_source_next_batch(int64 source_id);
extern List *pgs_file_source_list_active(void);
extern List *pgs_file_records(int64 source_id, List *names, bool pending_only);
extern void pgs_file_record_add(int64 source_id, const char *file_name, int64 size,
								TimestampTz mtime, bool loaded, int64 rows,
								int64 bad_rows, int64 batch_id, bool after_read_done);
extern void pgs_file_record_done(int64 source_id, const char *file_name, int64 size,
								 TimestampTz mtime);

#endif							/* PGS_FILE_SOURCES_H */
