/*-------------------------------------------------------------------------
 *
 * names.c
 *	  Names as the statements pg_streaming composes write them: relations and
 *	  procedures schema-qualified and quoted, a query's text trimmed to be
 *	  nested, the search_path batches run with, and a column found by its
 *	  name in a relation's descriptor.
 *
 * Every name a composed statement holds is qualified, so that what it finds
 * does not depend on the search_path of whoever runs it; these helpers are
 * shared by the catalog, the state and the batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "common/pgs_common.h"

/*
 * The number of the column called name in desc (dropped columns skipped),
 * or InvalidAttrNumber: what get_attnum answers, from a relation already
 * open, without a catalog lookup.
 */
AttrNumber
pgs_column_attnum(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	return InvalidAttrNumber;
}

/* a relation's name, schema-qualified and quoted */
char *
pgs_qualified_relname(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* a function's name, schema-qualified and quoted */
char *
pgs_qualified_procname(Oid procid)
{
	return quote_qualified_identifier(get_namespace_name(get_func_namespace(procid)),
									  get_func_name(procid));
}

/* the query text without trailing blanks and semicolons */
char *
pgs_trim_query(const char *text)
{
	char	   *s = pstrdup(text);
	int			len = strlen(s);

	while (len > 0 && (isspace((unsigned char) s[len - 1]) || s[len - 1] == ';'))
		s[--len] = '\0';
	return s;
}

/*
 * The query's search_path with pg_catalog first and pg_temp last: a name
 * the query's text leaves unqualified is PostgreSQL's own (the text batches
 * run names everything else in full), and the temporary schema is the
 * session's that runs the batch, never the query's.
 */
char *
pgs_batch_search_path(const char *stored)
{
	char	   *copy = pstrdup(stored);
	List	   *names;
	ListCell   *lc;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pg_catalog, ");
	if (SplitIdentifierString(copy, ',', &names))
	{
		foreach(lc, names)
		{
			const char *name = lfirst(lc);

			if (strcmp(name, "pg_temp") == 0 || strcmp(name, "pg_catalog") == 0)
				continue;
			/* "$user" is kept as written: it is no identifier to quote */
			appendStringInfo(&buf, "%s, ",
							 strcmp(name, "$user") == 0 ? "\"$user\"" :
							 quote_identifier(name));
		}
	}
	appendStringInfoString(&buf, "pg_temp");
	return buf.data;
}
