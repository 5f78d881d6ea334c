/*-------------------------------------------------------------------------
 *
 * file_source.c
 *	  Files as a source: the complete files of a directory on the server,
 *	  loaded into a stream table, each exactly once.
 *
 * A pass lists the directory, takes the files that are complete (not
 * starting with '.', matching the pattern, a regular file whose
 * modification time is at least "settle" old: a file written slowly
 * changes its time at every write, and one renamed into the directory
 * keeps the time it was written at), oldest first, up to the batch's
 * limits, and loads each with PostgreSQL's own COPY FROM code (the same
 * parsing, input functions, constraints, triggers and multi-row inserts as
 * COPY), fed by a callback over the file read into memory.  The file's
 * rows and its record in stream.file_log commit in the caller's
 * transaction, so that a file is in the stream exactly once, whatever
 * crashes.  A file whose name was taken before (with another size or
 * modification time) is recorded as a duplicate and reported, never loaded.
 *
 * A bad line (a malformed record, a value its column's type refuses, a
 * constraint) fails the file, naming the file and the line, unless the
 * source sets bad lines aside (on_error => 'dead_letter'): then the file is
 * loaded in a subtransaction, and when it fails on a line, the lines before
 * it are loaded again in one, the line goes to stream.dead_letter_log, and
 * the load goes on after it.  Each good line is loaded at most twice, so a
 * file with bad lines costs at most about twice one without.
 *
 * The whole pass runs as the source's owner, who must have the privileges
 * of pg_read_server_files (and pg_write_server_files to delete or archive
 * read files) and INSERT on the stream, as COPY FROM a file asks.
 *
 * Lines are records as COPY's CSV mode reads them: a newline inside a
 * quoted field does not end the record.  Text lines and JSON lines are read
 * by COPY's CSV mode with a delimiter and quote that text does not contain
 * (\x01 and \x02); a line holding either of those bytes is a bad line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_authid_d.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_dead_letters.h"
#include "catalog/pgs_file_sources.h"
#include "common/pgs_common.h"
#include "source/pgs_file_source.h"

#define FS_TEXT_DELIM	'\x01'
#define FS_TEXT_QUOTE	'\x02'

/* a file found in the directory */
typedef struct FsFile
{
	char	   *name;
	int64		size;
	TimestampTz mtime;
} FsFile;

/* one file being loaded */
typedef struct FsLoad
{
	PgsFileSource *src;
	Relation	rel;
	const char *file_name;
	int64		batch_id;
	char	   *buf;			/* the file */
	int64		len;
	int			nrec;			/* records, blank ones left out */
	int64	   *rec_start;
	int64	   *rec_end;		/* end of the content: no newline, no CR */
	int64	   *rec_line;		/* physical line the record starts on */
	int			first;			/* first data record (after a header) */
	List	   *attnames;		/* String nodes, in the order of the fields */
	List	   *attnums;
	List	   *options;
	char		quote;
	char	   *suffix;			/* appended to every record, or NULL */
	int			suffix_len;
	CopyFromState cstate;		/* the COPY in flight */
	int64		rows;
	int64		bad;
} FsLoad;

/* what the COPY callback feeds: records [next, end) of the load */
static FsLoad *feed_load = NULL;
static int	feed_next;
static int	feed_end;
static StringInfoData feed_pend;
static int	feed_pend_off;

static int
fs_cmp_file(const void *a, const void *b)
{
	const FsFile *x = (const FsFile *) a;
	const FsFile *y = (const FsFile *) b;

	if (x->mtime != y->mtime)
		return (x->mtime > y->mtime) - (x->mtime < y->mtime);
	return strcmp(x->name, y->name);
}

void
pgs_file_source_check_rights(Oid role, const char *source, const char *after_read)
{
	if (!has_privs_of_role(role, ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read the files of file source \"%s\"", source),
				 errdetail("Role \"%s\" lacks the privileges of the \"pg_read_server_files\" role, which reading files on the server needs, as in COPY FROM a file.",
						   GetUserNameFromId(role, false)),
				 errhint("Ask an administrator to GRANT pg_read_server_files TO the source's owner.")));
	if (after_read != NULL && strcmp(after_read, "keep") != 0 &&
		!has_privs_of_role(role, ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s the files that file source \"%s\" read",
						strcmp(after_read, "delete") == 0 ? "delete" : "archive", source),
				 errdetail("Role \"%s\" lacks the privileges of the \"pg_write_server_files\" role, which changing files on the server needs.",
						   GetUserNameFromId(role, false)),
				 errhint("Ask an administrator to GRANT pg_write_server_files TO the source's owner, or keep read files (after_read => 'keep').")));
}

static TimestampTz
fs_mtime(const struct stat *st)
{
	return time_t_to_timestamptz(st->st_mtim.tv_sec) + st->st_mtim.tv_nsec / 1000;
}

/* the complete files of the directory, oldest first */
static FsFile *
fs_list(PgsFileSource *src, int *nfiles)
{
	TimestampTz ready_before = GetCurrentTimestamp() - src->settle_us;
	DIR		   *dir;
	struct dirent *de;
	FsFile	   *files;
	int			n = 0;
	int			cap = 64;

	files = palloc(sizeof(FsFile) * cap);
	dir = AllocateDir(src->directory);
	if (dir == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("file source \"%s\" could not open directory \"%s\": %m",
						src->name, src->directory)));
	while ((de = ReadDir(dir, src->directory)) != NULL)
	{
		struct stat st;
		char	   *path;

		if (de->d_name[0] == '.')
			continue;
		if (fnmatch(src->pattern, de->d_name, FNM_PERIOD) != 0)
			continue;
		path = psprintf("%s/%s", src->directory, de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		{
			pfree(path);
			continue;
		}
		pfree(path);
		if (fs_mtime(&st) > ready_before)
			continue;
		if (n == cap)
		{
			cap *= 2;
			files = repalloc(files, sizeof(FsFile) * cap);
		}
		files[n].name = pstrdup(de->d_name);
		files[n].size = (int64) st.st_size;
		files[n].mtime = fs_mtime(&st);
		n++;
	}
	FreeDir(dir);
	qsort(files, n, sizeof(FsFile), fs_cmp_file);
	*nfiles = n;
	return files;
}

/* read a whole file; false when it is no longer what the listing saw */
static bool
fs_read(FsLoad *ld, const char *path, const FsFile *f)
{
	int			fd;
	struct stat st;
	int64		done = 0;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			return false;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("file source \"%s\" could not open file \"%s\": %m",
						ld->src->name, path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if ((int64) st.st_size != f->size || fs_mtime(&st) != f->mtime)
	{
		CloseTransientFile(fd);
		return false;
	}
	ld->len = f->size;
	ld->buf = MemoryContextAllocHuge(CurrentMemoryContext, ld->len + 1);
	while (done < ld->len)
	{
		ssize_t		r = read(fd, ld->buf + done, Min(ld->len - done, (int64) 1 << 30));

		if (r < 0)
		{
			if (errno == EINTR)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("file source \"%s\" could not read file \"%s\": %m",
							ld->src->name, path)));
		}
		if (r == 0)
			break;
		done += r;
	}
	CloseTransientFile(fd);
	ld->len = done;
	ld->buf[done] = '\0';
	return true;
}

/*
 * Split the file into records as COPY's CSV mode does: a newline ends a
 * record unless it is inside a quoted field (CSV only).  Blank records of
 * CSV and JSON lines are left out, as Spark's readers skip them.
 */
static void
fs_scan(FsLoad *ld)
{
	bool		csv = strcmp(ld->src->format, "csv") == 0;
	bool		keep_blank = strcmp(ld->src->format, "text") == 0;
	int			cap = 1024;
	int64		pos = 0;
	int64		line = 1;

	ld->rec_start = palloc(sizeof(int64) * cap);
	ld->rec_end = palloc(sizeof(int64) * cap);
	ld->rec_line = palloc(sizeof(int64) * cap);
	ld->nrec = 0;
	while (pos < ld->len)
	{
		int64		start = pos;
		int64		start_line = line;
		int64		end;
		int64		next;

		if (csv)
		{
			bool		in_quote = false;

			while (pos < ld->len)
			{
				char		c = ld->buf[pos];

				if (c == '"')
					in_quote = !in_quote;
				else if (c == '\n')
				{
					line++;
					if (!in_quote)
						break;
				}
				pos++;
			}
		}
		else
		{
			char	   *nl = memchr(ld->buf + pos, '\n', ld->len - pos);

			pos = nl ? nl - ld->buf : ld->len;
			if (nl)
				line++;
		}
		end = pos;
		next = pos < ld->len ? pos + 1 : pos;
		if (end > start && ld->buf[end - 1] == '\r')
			end--;
		pos = next;
		if (end == start && !keep_blank)
			continue;
		if (ld->nrec == cap)
		{
			cap *= 2;
			ld->rec_start = repalloc_huge(ld->rec_start, sizeof(int64) * cap);
			ld->rec_end = repalloc_huge(ld->rec_end, sizeof(int64) * cap);
			ld->rec_line = repalloc_huge(ld->rec_line, sizeof(int64) * cap);
		}
		ld->rec_start[ld->nrec] = start;
		ld->rec_end[ld->nrec] = end;
		ld->rec_line[ld->nrec] = start_line;
		ld->nrec++;
	}
}

/* the fields of a CSV header record, unquoted */
static List *
fs_header_fields(FsLoad *ld, int rec)
{
	const char *p = ld->buf + ld->rec_start[rec];
	const char *e = ld->buf + ld->rec_end[rec];
	char		delim = ld->src->delimiter[0];
	List	   *fields = NIL;
	StringInfoData f;

	initStringInfo(&f);
	for (;;)
	{
		bool		in_quote = false;

		resetStringInfo(&f);
		while (p < e)
		{
			if (*p == '"')
			{
				if (in_quote && p + 1 < e && p[1] == '"')
				{
					appendStringInfoChar(&f, '"');
					p += 2;
					continue;
				}
				in_quote = !in_quote;
			}
			else if (*p == delim && !in_quote)
				break;
			else
				appendStringInfoChar(&f, *p);
			p++;
		}
		fields = lappend(fields, pstrdup(f.data));
		if (p >= e)
			break;
		p++;					/* the delimiter */
	}
	return fields;
}

/* is this a column COPY can fill (not dropped, not generated, not the stamp)? */
static bool
fs_column_usable(Form_pg_attribute att)
{
	return !att->attisdropped && att->attgenerated == '\0' &&
		strcmp(NameStr(att->attname), PGS_XID_COLUMN) != 0;
}

/*
 * The columns the fields go to, in field order, and COPY's options: by the
 * header's names for CSV with a header, else by position; the file's name
 * last, when asked for.
 */
static void
fs_columns(FsLoad *ld)
{
	PgsFileSource *src = ld->src;
	TupleDesc	desc = RelationGetDescr(ld->rel);
	char	   *relname = pgs_qualified_relname(RelationGetRelid(ld->rel));
	bool		csv = strcmp(src->format, "csv") == 0;
	List	   *names = NIL;
	ListCell   *lc;
	int			i;

	ld->first = 0;
	if (csv && src->header)
	{
		if (ld->nrec == 0)
			return;
		names = fs_header_fields(ld, 0);
		ld->first = 1;
	}
	else
	{
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!fs_column_usable(att) ||
				(src->file_name_column &&
				 strcmp(NameStr(att->attname), src->file_name_column) == 0))
				continue;
			names = lappend(names, pstrdup(NameStr(att->attname)));
			if (!csv)
				break;
		}
		if (names == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("stream %s has no column for the lines of file source \"%s\"",
							relname, src->name)));
	}
	if (src->file_name_column)
		names = lappend(names, pstrdup(src->file_name_column));

	ld->attnames = NIL;
	ld->attnums = NIL;
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		AttrNumber	attnum = InvalidAttrNumber;

		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (fs_column_usable(att) && strcmp(NameStr(att->attname), name) == 0)
				attnum = att->attnum;
		}
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" named in the header of file \"%s\" is not a column of stream %s",
							name, ld->file_name, relname),
					 errdetail("File source \"%s\" loads CSV fields by the names in the header.", src->name),
					 errhint("Fix the file's header, or add the column to the stream.")));
		if (list_member_int(ld->attnums, attnum))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column \"%s\" is named twice in the header of file \"%s\"",
							name, ld->file_name)));
		ld->attnames = lappend(ld->attnames, makeString(name));
		ld->attnums = lappend_int(ld->attnums, attnum);
	}

	ld->options = list_make1(makeDefElem("format", (Node *) makeString("csv"), -1));
	ld->options = lappend(ld->options,
						  makeDefElem("encoding",
									  (Node *) makeString(pstrdup(GetDatabaseEncodingName())), -1));
	if (csv)
	{
		ld->quote = '"';
		ld->options = lappend(ld->options,
							  makeDefElem("delimiter", (Node *) makeString(src->delimiter), -1));
		ld->options = lappend(ld->options,
							  makeDefElem("null", (Node *) makeString(src->null_string), -1));
	}
	else
	{
		ld->quote = FS_TEXT_QUOTE;
		ld->options = lappend(ld->options,
							  makeDefElem("delimiter", (Node *) makeString("\x01"), -1));
		ld->options = lappend(ld->options,
							  makeDefElem("quote", (Node *) makeString("\x02"), -1));
		ld->options = lappend(ld->options,
							  makeDefElem("force_not_null",
										  (Node *) list_make1(linitial(ld->attnames)), -1));
	}
	if (src->file_name_column)
	{
		StringInfoData s;
		const char *c;

		initStringInfo(&s);
		appendStringInfoChar(&s, csv ? src->delimiter[0] : FS_TEXT_DELIM);
		appendStringInfoChar(&s, ld->quote);
		for (c = ld->file_name; *c; c++)
		{
			if (*c == ld->quote)
				appendStringInfoChar(&s, ld->quote);
			appendStringInfoChar(&s, *c);
		}
		appendStringInfoChar(&s, ld->quote);
		ld->suffix = s.data;
		ld->suffix_len = s.len;
	}
}

/*
 * COPY's data source: records [feed_next, feed_end), each with the suffix
 * and a newline; a record that is "\." alone (COPY's end-of-data marker)
 * is quoted, so that it is read as data.
 */
static int
fs_feed(void *outbuf, int minread, int maxread)
{
	char	   *out = outbuf;
	int			n = 0;

	while (n < maxread)
	{
		if (feed_pend_off < feed_pend.len)
		{
			int			k = Min(maxread - n, feed_pend.len - feed_pend_off);

			memcpy(out + n, feed_pend.data + feed_pend_off, k);
			n += k;
			feed_pend_off += k;
			continue;
		}
		if (feed_next >= feed_end)
			break;
		{
			FsLoad	   *ld = feed_load;
			int64		s = ld->rec_start[feed_next];
			int64		len = ld->rec_end[feed_next] - s;

			resetStringInfo(&feed_pend);
			feed_pend_off = 0;
			if (len == 2 && ld->buf[s] == '\\' && ld->buf[s + 1] == '.')
			{
				appendStringInfoChar(&feed_pend, ld->quote);
				appendStringInfoString(&feed_pend, "\\.");
				appendStringInfoChar(&feed_pend, ld->quote);
			}
			else
				appendBinaryStringInfo(&feed_pend, ld->buf + s, (int) len);
			if (ld->suffix)
				appendBinaryStringInfo(&feed_pend, ld->suffix, ld->suffix_len);
			appendStringInfoChar(&feed_pend, '\n');
			feed_next++;
		}
	}
	return n;
}

/* COPY records [a, b) into the stream; errors are the caller's */
static uint64
fs_copy(FsLoad *ld, int a, int b)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	RangeTblEntry *rte;
	ListCell   *lc;
	uint64		n;

	nsitem = addRangeTableEntryForRelation(pstate, ld->rel, RowExclusiveLock,
										   NULL, false, false);
	rte = nsitem->p_rte;
	rte->requiredPerms = ACL_INSERT;
	foreach(lc, ld->attnums)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	ExecCheckRTPerms(pstate->p_rtable, true);

	feed_load = ld;
	feed_next = a;
	feed_end = b;
	/* in the file's memory, gone with it */
	initStringInfo(&feed_pend);
	feed_pend_off = 0;
	ld->cstate = BeginCopyFrom(pstate, ld->rel, NULL, NULL, false, fs_feed,
							   ld->attnames, ld->options);
	n = CopyFrom(ld->cstate);
	EndCopyFrom(ld->cstate);
	ld->cstate = NULL;
	feed_load = NULL;
	return n;
}

/*
 * COPY records [a, b) in a subtransaction; on an error, false with the
 * error and the record it names (-1 when it names none).
 */
static bool
fs_try_copy(FsLoad *ld, int a, int b, ErrorData **edata, int *bad)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	*bad = -1;
	*edata = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		ld->rows += fs_copy(ld, a, b);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		uint64		lineno = 0;

		MemoryContextSwitchTo(cxt);
		*edata = CopyErrorData();
		FlushErrorState();
		if (ld->cstate != NULL)
			lineno = ld->cstate->cur_lineno;
		ld->cstate = NULL;
		feed_load = NULL;
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (lineno >= 1 && a + (int64) lineno - 1 < b)
			*bad = a + (int) lineno - 1;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* a line's text, fit to be stored (bytes the encoding refuses become '?') */
static char *
fs_line_text(FsLoad *ld, int rec)
{
	int64		len = ld->rec_end[rec] - ld->rec_start[rec];
	char	   *s = pnstrdup(ld->buf + ld->rec_start[rec], len);

	if (!pg_verifymbstr(s, strlen(s), true))
	{
		char	   *c;

		for (c = s; *c; c++)
			if (IS_HIGHBIT_SET(*c))
				*c = '?';
	}
	return s;
}

static bool
fs_data_error(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION;
}

/* the error of a file that fails on a line, naming the file and the line */
static void
fs_report_line(FsLoad *ld, ErrorData *edata, int bad)
{
	if (bad < 0)
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("file source \"%s\" could not load file \"%s\": %s",
						ld->src->name, ld->file_name, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 errhint("Nothing of the file was loaded; fix the file, or see the source's stream.")));
	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg("file source \"%s\" could not load line " INT64_FORMAT " of file \"%s\": %s",
					ld->src->name, ld->rec_line[bad], ld->file_name, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 errhint("Nothing of the file was loaded.  Fix the line and resume the source, or create the source with on_error => 'dead_letter' to set bad lines aside.")));
}

/*
 * Load records [a, b), setting aside each line that fails with a data
 * error; any other error is raised.
 */
static void
fs_load_range(FsLoad *ld, int a, int b)
{
	while (a < b)
	{
		ErrorData  *edata;
		int			bad;

		CHECK_FOR_INTERRUPTS();
		if (fs_try_copy(ld, a, b, &edata, &bad))
			return;
		if (!fs_data_error(edata->sqlerrcode))
			ReThrowError(edata);
		if (strcmp(ld->src->on_error, "dead_letter") != 0 || bad < 0)
			fs_report_line(ld, edata, bad);
		{
			PgsDeadLetter dl = {0};

			dl.source = ld->src->name;
			dl.owner = ld->src->owner;
			dl.batch_id = ld->batch_id;
			dl.raw_line = fs_line_text(ld, bad);
			dl.position = psprintf("line " INT64_FORMAT " of file \"%s\"",
								   ld->rec_line[bad], ld->file_name);
			dl.sqlstate = unpack_sql_state(edata->sqlerrcode);
			dl.message = edata->message;
			dl.detail = edata->detail;
			if (!pgs_dead_letter_add(&dl))
				fs_report_line(ld, edata, bad);
			ld->bad++;
		}
		/* the lines before it, then on after it */
		fs_load_range(ld, a, bad);
		a = bad + 1;
		FreeErrorData(edata);
	}
}

/* load one file's rows; the caller records it */
static bool
fs_load_file(PgsFileSource *src, Relation rel, const FsFile *f, int64 batch_id,
			 int64 *rows, int64 *bad)
{
	FsLoad		ld = {0};
	char	   *path = psprintf("%s/%s", src->directory, f->name);

	ld.src = src;
	ld.rel = rel;
	ld.file_name = f->name;
	ld.batch_id = batch_id;
	if (!fs_read(&ld, path, f))
		return false;
	fs_scan(&ld);
	fs_columns(&ld);
	if (ld.nrec > ld.first)
		fs_load_range(&ld, ld.first, ld.nrec);
	*rows = ld.rows;
	*bad = ld.bad;
	return true;
}

/* the after-read handling of the committed loads still waiting for it */
static void
fs_after_read(PgsFileSource *src)
{
	List	   *pending;
	ListCell   *lc;

	if (strcmp(src->after_read, "keep") == 0)
		return;
	pending = pgs_file_records(src->source_id, NIL, true);
	foreach(lc, pending)
	{
		PgsFileRecord *r = lfirst(lc);
		char	   *path = psprintf("%s/%s", src->directory, r->file_name);
		struct stat st;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			(int64) st.st_size == r->size && fs_mtime(&st) == r->mtime)
		{
			if (strcmp(src->after_read, "delete") == 0)
			{
				if (unlink(path) != 0)
				{
					ereport(WARNING,
							(errcode_for_file_access(),
							 errmsg("file source \"%s\" could not delete file \"%s\": %m",
									src->name, path),
							 errdetail("The file was loaded; it is not loaded again, and deleting it is tried again at the next pass.")));
					continue;
				}
			}
			else
			{
				char	   *to = psprintf("%s/%s", src->archive_directory, r->file_name);

				if (rename(path, to) != 0)
				{
					ereport(WARNING,
							(errcode_for_file_access(),
							 errmsg("file source \"%s\" could not move file \"%s\" to \"%s\": %m",
									src->name, path, to),
							 errdetail("The file was loaded; it is not loaded again, and moving it is tried again at the next pass."),
							 errhint("The archive directory must be writable by the server and on the same file system as the directory.")));
					continue;
				}
			}
		}
		/* done now, or done before a crash kept the record from saying so */
		pgs_file_record_done(src->source_id, r->file_name, r->size, r->mtime);
	}
}

/* read and lock a source, checking that it may run; NULL when it may not */
static PgsFileSource *
fs_open(int64 source_id, const char *name, bool require_active)
{
	PgsFileSource *src = palloc0(sizeof(PgsFileSource));

	if (!pgs_file_source_read(name, source_id, true, src))
	{
		if (name != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("file source \"%s\" does not exist", name),
					 errhint("See stream.file_sources for the sources you can see.")));
		return NULL;
	}
	if (require_active && strcmp(src->status, "active") != 0)
		return NULL;
	if (!require_active && strcmp(src->status, "failed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("file source \"%s\" has failed", src->name),
				 errhint("See its error in stream.file_sources, fix the cause, then call stream.resume_file_source.")));
	return src;
}

bool
pgs_file_source_finish(int64 source_id)
{
	PgsFileSource *src = fs_open(source_id, NULL, false);
	PgsCatalogAccess acc = {0};

	if (src == NULL)
		return false;
	pgs_file_source_check_rights(src->owner, src->name, src->after_read);
	pgs_owner_begin(&acc, src->owner, "pg_catalog, pg_temp");
	fs_after_read(src);
	pgs_owner_end(&acc);
	return true;
}

int
pgs_file_source_load(int64 source_id, const char *name, bool require_active,
					 bool *more)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext file_cxt;
	PgsFileSource *src;
	PgsCatalogAccess acc = {0};
	Relation	rel;
	FsFile	   *files;
	int			nfiles;
	List	   *names = NIL;
	List	   *records;
	int64		batch_id = 0;
	int64		bytes = 0;
	int			taken = 0;
	int			i;

	*more = false;
	src = fs_open(source_id, name, require_active);
	if (src == NULL)
		return -1;
	pgs_file_source_check_rights(src->owner, src->name, src->after_read);
	if (get_rel_name(src->stream_relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the stream of file source \"%s\" no longer exists", src->name),
				 errhint("Drop the source with stream.drop_file_source and create it again for another stream.")));

	pgs_owner_begin(&acc, src->owner, "pg_catalog, pg_temp");
	fs_after_read(src);

	files = fs_list(src, &nfiles);
	for (i = 0; i < nfiles; i++)
		names = lappend(names, files[i].name);
	records = pgs_file_records(src->source_id, names, false);

	rel = table_open(src->stream_relid, RowExclusiveLock);
	if (check_enable_rls(src->stream_relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("file source \"%s\" cannot load into stream %s: it has row-level security",
						src->name, pgs_qualified_relname(src->stream_relid)),
				 errhint("COPY FROM does not support row-level security either; disable it on the stream, or load as a role that bypasses it.")));

	file_cxt = AllocSetContextCreate(cxt, "pg_streaming file", ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < nfiles; i++)
	{
		FsFile	   *f = &files[i];
		bool		same = false;
		bool		taken_name = false;
		ListCell   *lc;
		int64		rows = 0;
		int64		bad = 0;
		bool		loaded;

		foreach(lc, records)
		{
			PgsFileRecord *r = lfirst(lc);

			if (strcmp(r->file_name, f->name) != 0)
				continue;
			taken_name = true;
			if (r->size == f->size && r->mtime == f->mtime)
				same = true;
		}
		if (same)
			continue;
		if (taken_name)
		{
			ereport(WARNING,
					(errmsg("file source \"%s\" did not load file \"%s\": a file of that name was taken before",
							src->name, f->name),
					 errdetail("The file has " INT64_FORMAT " bytes; stream.files shows the file taken under that name and this one, as a duplicate.",
							   f->size),
					 errhint("Give a new file a name not used before; rename this one to have it loaded.")));
			pgs_file_record_add(src->source_id, f->name, f->size, f->mtime, false,
								0, 0, 0, true);
			continue;
		}
		if (taken > 0 &&
			((src->max_files > 0 && taken >= src->max_files) ||
			 (src->max_bytes > 0 && bytes + f->size > src->max_bytes)))
		{
			*more = true;
			break;
		}
		if (batch_id == 0)
			batch_id = pgs_file_source_next_batch(src->source_id);
		MemoryContextSwitchTo(file_cxt);
		loaded = fs_load_file(src, rel, f, batch_id, &rows, &bad);
		MemoryContextSwitchTo(cxt);
		MemoryContextReset(file_cxt);
		if (!loaded)
			continue;			/* changed since the listing: next pass */
		pgs_file_record_add(src->source_id, f->name, f->size, f->mtime, true,
							rows, bad, batch_id,
							strcmp(src->after_read, "keep") == 0);
		taken++;
		bytes += f->size;
	}
	MemoryContextDelete(file_cxt);
	table_close(rel, NoLock);
	pgs_owner_end(&acc);
	return taken;
}
