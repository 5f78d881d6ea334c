/*-------------------------------------------------------------------------
 *
 * query_tables.c
 *	  The tables and views the extension makes for a query in its own
 *	  schemas: state tables (stream_state), tables of batch rows
 *	  (stream_batch) and query views (stream_query).
 *
 * They are the extension's, not their queries' owners': made in a catalog
 * stretch, going with the extension (DROP EXTENSION drops them), named
 * after their query, and dropped only when they still lie in one of those
 * schemas.  What goes into a state table is state/'s to say; making and
 * dropping it is here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog/pgs_catalog.h"
#include "catalog/pgs_query_tables.h"
#include "common/pgs_common.h"

/*
 * Run DDL on a state table in a catalog stretch, in the database's default
 * tablespace and as a heap, whatever the caller set.
 */
void
pgs_state_ddl(const char *sql, const char *query_name)
{
	PgsCatalogAccess acc = {0};

	pgs_catalog_begin(&acc);
	(void) set_config_option("default_tablespace", "", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("default_table_access_method", "heap", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not create the state of streaming query \"%s\"", query_name);
	pgs_catalog_end(&acc);
	CommandCounterIncrement();
}

/*
 * Create a table of a query's in one of the extension's schemas, named after
 * the query, going with the extension: "kind" is "TABLE" or "UNLOGGED
 * TABLE", "owner" gets it when valid (else the extension's owner keeps it);
 * *qualified gets its name.
 */
static Oid
ae_create_query_table(const char *schema, const char *kind, const char *query_name,
					  const char *definition, Oid owner, char **qualified)
{
	char	   *relname = pstrdup(query_name);
	Oid			relid;
	char	   *sql;

	if (strlen(relname) >= NAMEDATALEN)
		relname[pg_mbcliplen(relname, strlen(relname), NAMEDATALEN - 1)] = '\0';
	*qualified = quote_qualified_identifier(schema, relname);
	if (OidIsValid(get_relname_relid(relname, get_namespace_oid(schema, false))))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation %s already exists", *qualified),
				 errdetail("The query's table in schema %s is named after the query.", schema),
				 errhint("Choose another query name.")));
	sql = psprintf("CREATE %s %s %s", kind, *qualified, definition);
	if (OidIsValid(owner))
		sql = psprintf("%s; ALTER TABLE %s OWNER TO %s", sql, *qualified,
					   quote_identifier(GetUserNameFromId(owner, false)));
	pgs_state_ddl(sql, query_name);
	relid = get_relname_relid(relname, get_namespace_oid(schema, false));
	if (!OidIsValid(relid))
		elog(ERROR, "table %s not found after its creation", *qualified);
	pgs_relation_goes_with_extension(relid);
	return relid;
}

/*
 * A relation the extension made for a query goes with the extension (DROP
 * EXTENSION drops it) without being a member of it, which pg_dump would
 * skip: a relation made while an update script runs would be one.
 */
void
pgs_relation_goes_with_extension(Oid relid)
{
	ObjectAddress rel;
	ObjectAddress ext;

	ObjectAddressSet(rel, RelationRelationId, relid);
	ObjectAddressSet(ext, ExtensionRelationId, get_extension_oid("pg_streaming", false));
	if (creating_extension)
		deleteDependencyRecordsForClass(RelationRelationId, relid,
										ExtensionRelationId, DEPENDENCY_EXTENSION);
	recordDependencyOn(&rel, &ext, DEPENDENCY_AUTO);
}

/*
 * Create the state table of a new query, stream_state.<query name>, with
 * the given column list (and storage options), owned by the extension's
 * owner.
 */
Oid
pgs_state_create_table(const char *query_name, const char *definition,
					   char **qualified)
{
	return ae_create_query_table(PGS_AGG_STATE_SCHEMA, "TABLE", query_name, definition,
								 InvalidOid, qualified);
}

/*
 * Create a foreach_batch query's table of batch rows, stream_batch.<query
 * name>, unlogged (each batch fills it anew), owned by the query's owner.
 */
Oid
pgs_batch_table_create(const char *query_name, const char *definition, Oid owner,
					   char **qualified)
{
	return ae_create_query_table(PGS_BATCH_SCHEMA, "UNLOGGED TABLE", query_name,
								 definition, owner, qualified);
}

/*
 * Drop a table (or view) the extension made for a query that is gone.  A
 * query dropped because the table it reads or writes is dropped with
 * CASCADE takes what others built on its tables with it (DROP_CASCADE), as
 * CASCADE does with views on the dropped table itself: otherwise a view of
 * another role on a query's table of batch rows would pin a stream its
 * owner drops.
 */
void
pgs_query_table_drop(Oid relid, DropBehavior behavior)
{
	ObjectAddress table;
	Oid			nsp;

	if (!OidIsValid(relid) ||
		!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return;
	/*
	 * Only a table or view of the extension's own schemas: an OID kept in
	 * the catalog may have gone with its object and come back as another's.
	 */
	nsp = get_rel_namespace(relid);
	if (nsp != get_namespace_oid(PGS_AGG_STATE_SCHEMA, true) &&
		nsp != get_namespace_oid(PGS_BATCH_SCHEMA, true) &&
		nsp != get_namespace_oid(PGS_QUERY_VIEW_SCHEMA, true) &&
		nsp != get_namespace_oid("stream_exchange", true))
		return;
	ObjectAddressSet(table, RelationRelationId, relid);
	performDeletion(&table, behavior, PERFORM_DELETION_INTERNAL);
}


/* the size of one table with its indexes and TOAST, 0 when it is gone */
static int64
ae_relation_bytes(Oid relid)
{
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return 0;
	return DatumGetInt64(DirectFunctionCall1(pg_total_relation_size,
											 ObjectIdGetDatum(relid)));
}

/* the tables that are internal parts of a query's state table */
static List *
qt_state_parts(Oid state_relid)
{
	Relation	depend;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *parts = NIL;

	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(state_relid));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);

		if (d->classid == RelationRelationId && d->objsubid == 0 &&
			d->deptype == DEPENDENCY_INTERNAL &&
			get_rel_relkind(d->objid) == RELKIND_RELATION)
			parts = lappend_oid(parts, d->objid);
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return parts;
}

/*
 * The bytes a query's state takes on disk: its state table and the tables
 * that are internal parts of it (a chain's lower aggregation, its
 * deduplication or its join), each with its indexes and TOAST.  A few
 * file-size calls per table: cheap enough for every batch.
 */
int64
pgs_state_bytes(Oid state_relid)
{
	int64		bytes = ae_relation_bytes(state_relid);
	ListCell   *lc;

	foreach(lc, qt_state_parts(state_relid))
		bytes += ae_relation_bytes(lfirst_oid(lc));
	return bytes;
}

/*
 * A chain keeps the state of its operator below in a table of its own,
 * stream_state.<query><suffix> (the query's name clipped to leave room for
 * the suffix), an internal part of the query's state table: dropping the
 * query drops it.
 */
char *
pgs_state_part_name(const char *query_name, const char *suffix)
{
	char	   *name = pstrdup(query_name);
	int			room = NAMEDATALEN - 1 - strlen(suffix);

	if (strlen(name) > room)
		name[pg_mbcliplen(name, strlen(name), room)] = '\0';
	return psprintf("%s%s", name, suffix);
}

/* the table of that name in stream_state, or InvalidOid */
Oid
pgs_state_part_lookup(const char *query_name, const char *suffix)
{
	Oid			nsp = get_namespace_oid(PGS_AGG_STATE_SCHEMA, true);
	Oid			relid;

	if (!OidIsValid(nsp))
		return InvalidOid;
	relid = get_relname_relid(pgs_state_part_name(query_name, suffix), nsp);
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return InvalidOid;
	return relid;
}

/*
 * Make relid a part of the state table, unless it is one: a restore
 * (pg_dump keeps tables, not their dependencies on each other) leaves it on
 * its own.  No other query's table can have its name while the query
 * exists: the first of the two to be made would have taken it.
 */
void
pgs_state_part_attach(Oid relid, Oid state_relid)
{
	ObjectAddress dep;
	ObjectAddress ref;

	if (list_member_oid(qt_state_parts(state_relid), relid))
		return;
	ObjectAddressSet(dep, RelationRelationId, relid);
	ObjectAddressSet(ref, RelationRelationId, state_relid);
	recordDependencyOn(&dep, &ref, DEPENDENCY_INTERNAL);
	CommandCounterIncrement();
}
