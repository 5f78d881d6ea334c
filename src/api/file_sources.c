/*-------------------------------------------------------------------------
 *
 * file_sources.c
 *	  stream.create_file_source, drop_file_source, stop_file_source,
 *	  resume_file_source and load_file_source.
 *
 * A file source belongs to the role that creates it, which must be able to
 * read files on the server (pg_read_server_files, as COPY FROM a file
 * asks), and to change them (pg_write_server_files) when read files are
 * deleted or archived, and may insert into the stream.  The background
 * worker loads it as that role; the rights are checked again at every
 * pass, so that a role that lost them loads nothing more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "bgw/pgs_bgw.h"
#include "catalog/pgs_catalog.h"
#include "catalog/pgs_file_sources.h"
#include "common/pgs_common.h"
#include "source/pgs_file_source.h"

PG_FUNCTION_INFO_V1(stream_create_file_source);
PG_FUNCTION_INFO_V1(stream_drop_file_source);
PG_FUNCTION_INFO_V1(stream_stop_file_source);
PG_FUNCTION_INFO_V1(stream_resume_file_source);
PG_FUNCTION_INFO_V1(stream_load_file_source);

static char *
fs_text_arg(FunctionCallInfo fcinfo, int n, const char *dflt)
{
	if (PG_ARGISNULL(n))
		return dflt ? pstrdup(dflt) : NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static void
fs_refuse(const char *what, const char *value, const char *allowed)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s for a file source: \"%s\"", what, value),
			 errhint("%s", allowed)));
}

/* an absolute path of an existing directory */
static void
fs_check_directory(const char *what, const char *path)
{
	struct stat st;

	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of a file source must be an absolute path: \"%s\"", what, path)));
	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat %s \"%s\": %m", what, path)));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s \"%s\" is not a directory", what, path)));
}

/* the source, which the caller must own (be a member of its owner) */
static PgsFileSource *
fs_read_owned(FunctionCallInfo fcinfo, bool lock)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PgsFileSource *src = palloc0(sizeof(PgsFileSource));

	pgs_catalog_require(PGS_CATALOG_0_8, "file sources");
	if (!pgs_file_source_read(name, 0, lock, src) ||
		!has_privs_of_role(GetUserId(), src->owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("file source \"%s\" does not exist", name),
				 errhint("See stream.file_sources for the sources you can see.")));
	return src;
}

Datum
stream_create_file_source(PG_FUNCTION_ARGS)
{
	PgsFileSource src = {0};
	Oid			owner = GetUserId();
	char	   *relname;
	Datum		settle;

	pgs_catalog_require(PGS_CATALOG_0_8, "file sources");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a file source needs a name, a directory and a stream")));
	pgs_require_writable();
	src.name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	src.directory = text_to_cstring(PG_GETARG_TEXT_PP(1));
	src.stream_relid = PG_GETARG_OID(2);
	src.owner = owner;
	src.format = fs_text_arg(fcinfo, 3, "csv");
	src.header = PG_ARGISNULL(4) ? false : PG_GETARG_BOOL(4);
	src.delimiter = fs_text_arg(fcinfo, 5, NULL);
	src.null_string = fs_text_arg(fcinfo, 6, NULL);
	src.file_name_column = fs_text_arg(fcinfo, 7, NULL);
	src.pattern = fs_text_arg(fcinfo, 8, "*");
	settle = PG_ARGISNULL(9) ?
		DirectFunctionCall3(interval_in, CStringGetDatum("5 seconds"),
							ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)) :
		PG_GETARG_DATUM(9);
	src.settle = settle;
	src.max_files = PG_ARGISNULL(10) ? 0 : PG_GETARG_INT32(10);
	src.max_bytes = PG_ARGISNULL(11) ? 0 : PG_GETARG_INT64(11);
	src.after_read = fs_text_arg(fcinfo, 12, "keep");
	src.archive_directory = fs_text_arg(fcinfo, 13, NULL);
	src.on_error = fs_text_arg(fcinfo, 14, "fail");
	src.trigger = fs_text_arg(fcinfo, 15, "1 second");

	if (src.name[0] == '\0')
		fs_refuse("name", src.name, "Give the source a name.");
	if (strcmp(src.format, "csv") != 0 && strcmp(src.format, "text") != 0 &&
		strcmp(src.format, "jsonl") != 0)
		fs_refuse("format", src.format, "The formats are csv, text (one line, one row, into the stream's first column) and jsonl (JSON lines, into the stream's first column).");
	if (strcmp(src.format, "csv") == 0)
	{
		if (src.delimiter == NULL)
			src.delimiter = pstrdup(",");
		if (src.null_string == NULL)
			src.null_string = pstrdup("");
		if (strlen(src.delimiter) != 1 || src.delimiter[0] == '"' ||
			src.delimiter[0] == '\n' || src.delimiter[0] == '\r')
			fs_refuse("delimiter", src.delimiter, "The delimiter is a single one-byte character other than a quote or a newline.");
	}
	else
	{
		if (src.delimiter != NULL || src.null_string != NULL || src.header)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header, delimiter and null_string apply to the csv format only"),
					 errdetail("Format %s reads each line whole into the stream's first column.", src.format)));
		src.delimiter = pstrdup("");
		src.null_string = pstrdup("");
	}
	if (strcmp(src.after_read, "keep") != 0 && strcmp(src.after_read, "delete") != 0 &&
		strcmp(src.after_read, "archive") != 0)
		fs_refuse("after_read", src.after_read, "After a file is loaded it is kept ('keep'), deleted ('delete') or moved to archive_directory ('archive').");
	if (strcmp(src.on_error, "fail") != 0 && strcmp(src.on_error, "dead_letter") != 0)
		fs_refuse("on_error", src.on_error, "A bad line fails the file ('fail') or goes to stream.dead_letters ('dead_letter').");
	if ((strcmp(src.after_read, "archive") == 0) != (src.archive_directory != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive_directory goes with after_read => 'archive', and only with it")));
	if (PG_ARGISNULL(9) == false &&
		pgs_interval_usecs(settle, "settle", "", 0, PG_INT64_MAX) < 0)
		fs_refuse("settle", "negative", "settle is zero or more.");
	if (!PG_ARGISNULL(10) && src.max_files < 1)
		fs_refuse("max_files_per_batch", psprintf("%d", src.max_files), "A batch takes at least one file.");
	if (!PG_ARGISNULL(11) && src.max_bytes < 1)
		fs_refuse("max_bytes_per_batch", psprintf(INT64_FORMAT, src.max_bytes), "A batch takes at least one byte (and always at least one file).");
	if (strcmp(src.trigger, "once") == 0 || strcmp(src.trigger, "available_now") == 0 ||
		strcmp(src.trigger, "continuous") == 0)
		fs_refuse("trigger", src.trigger, "A file source looks at its directory on an interval trigger (such as '1 second'), or only when stream.load_file_source is called ('manual').");
	if (strcmp(src.trigger, "manual") != 0)
		(void) pgs_interval_usecs(DirectFunctionCall3(interval_in,
													  CStringGetDatum(src.trigger),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)),
								  "trigger", src.trigger, 1000, PG_INT64_MAX);

	/* the rights first, so that nothing is said of the server's files */
	pgs_file_source_check_rights(owner, src.name, src.after_read);
	relname = get_rel_name(src.stream_relid);
	if (relname == NULL || !pgs_is_stream(src.stream_relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation %s is not a stream table",
						relname ? pgs_qualified_relname(src.stream_relid) : "?"),
				 errhint("Create it with USING stream_heap, or turn a table into one with stream.create_stream.")));
	if (pg_class_aclcheck(src.stream_relid, owner, ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to insert into stream %s",
						pgs_qualified_relname(src.stream_relid)),
				 errdetail("A file source loads its files with the rights of the role that creates it."),
				 errhint("Ask the stream's owner to GRANT INSERT on it.")));
	if (src.file_name_column != NULL &&
		get_attnum(src.stream_relid, src.file_name_column) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of file_name_column is not a column of stream %s",
						src.file_name_column, pgs_qualified_relname(src.stream_relid))));
	fs_check_directory("directory", src.directory);
	if (src.archive_directory != NULL)
	{
		struct stat a;
		struct stat d;

		fs_check_directory("archive_directory", src.archive_directory);
		if (stat(src.archive_directory, &a) == 0 && stat(src.directory, &d) == 0 &&
			a.st_dev != d.st_dev)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("archive_directory \"%s\" is not on the file system of directory \"%s\"",
							src.archive_directory, src.directory),
					 errdetail("Read files are moved with a rename, which works within one file system only.")));
	}
	{
		PgsFileSource other;

		if (pgs_file_source_read(src.name, 0, false, &other))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("file source \"%s\" already exists", src.name)));
	}
	src.source_id = pgs_file_source_insert(&src);
	pgs_notify_scheduler_at_commit();
	PG_RETURN_INT64(src.source_id);
}

Datum
stream_drop_file_source(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PgsFileSource src;

	pgs_catalog_require(PGS_CATALOG_0_8, "file sources");
	if (PG_GETARG_BOOL(1) &&
		(!pgs_file_source_read(name, 0, false, &src) ||
		 !has_privs_of_role(GetUserId(), src.owner)))
		PG_RETURN_BOOL(false);
	src = *fs_read_owned(fcinfo, true);
	pgs_file_source_delete(src.source_id);
	pgs_notify_scheduler_at_commit();
	PG_RETURN_BOOL(true);
}

Datum
stream_stop_file_source(PG_FUNCTION_ARGS)
{
	PgsFileSource *src = fs_read_owned(fcinfo, true);

	if (strcmp(src->status, "active") != 0)
		PG_RETURN_BOOL(false);
	pgs_file_source_set_status(src->source_id, "stopped");
	pgs_notify_scheduler_at_commit();
	PG_RETURN_BOOL(true);
}

Datum
stream_resume_file_source(PG_FUNCTION_ARGS)
{
	PgsFileSource *src = fs_read_owned(fcinfo, true);

	if (strcmp(src->status, "active") == 0)
		PG_RETURN_BOOL(false);
	pgs_file_source_check_rights(src->owner, src->name, src->after_read);
	pgs_file_source_set_status(src->source_id, "active");
	pgs_notify_scheduler_at_commit();
	PG_RETURN_BOOL(true);
}

/*
 * One batch now, in the caller's transaction (for tests, and for a cron
 * job with trigger => 'manual').  Read files of earlier commits are
 * deleted or archived first; those of this call wait for the next pass,
 * since they may be moved only once this transaction has committed.
 */
Datum
stream_load_file_source(PG_FUNCTION_ARGS)
{
	PgsFileSource *src = fs_read_owned(fcinfo, false);
	bool		more;

	pgs_require_writable();
	PG_RETURN_INT32(pgs_file_source_load(src->source_id, NULL, false, &more));
}
