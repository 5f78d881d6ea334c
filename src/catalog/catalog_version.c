/*-------------------------------------------------------------------------
 *
 * catalog_version.c
 *	  Which version of pg_streaming's catalog this database has, and the one
 *	  error for a feature the catalog is too old for.
 *
 * A server runs the newest installed library from the moment it is
 * installed; each database keeps the catalog of the version it was created
 * with or last updated to, until ALTER EXTENSION pg_streaming UPDATE, and its
 * queries keep running meanwhile.  Every difference between catalog versions
 * is decided in catalog/, by the one number this file gives: pg_extension's
 * extversion, read once and kept until pg_extension changes (a syscache
 * invalidation callback forgets it, in this backend at the next command and
 * in the others at their next transaction; servers older than 15.20 have no
 * such syscache, and read it once per transaction instead).
 *
 * Refusing to run batches until the update, as TimescaleDB refuses a
 * library that does not match its catalog, is not done: a package upgrade
 * installs the new library for every database of the server at once, and
 * would stop every streaming query of every database until an operator
 * updated each one.  The old catalog goes on working as it did; only the
 * features it has no place for are refused, with pgs_catalog_require.
 *
 * ALTER EXTENSION UPDATE writes each step's version into pg_extension before
 * it runs that step's script (ApplyExtensionUpdates), and makes it visible
 * with the script's first CommandCounterIncrement: while a step's script
 * runs, the version is the step's target, so the scripts add a version's
 * columns before they call what reads them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "catalog/pgs_catalog.h"

/* the library's own version, the newest catalog it knows */
#define PGS_LIBRARY_VERSION		PGS_CATALOG_0_11

/* the installed version, or -1 when it must be read again */
static int	cv_version = -1;
static bool cv_callback_registered = false;

/*
 * pg_extension changed (CREATE, ALTER or DROP EXTENSION, of any extension,
 * committed by another backend or done by this one): read it again.
 */
static void
cv_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	cv_version = -1;
}

/* "0.6" as PGS_CATALOG_VERSION(0, 6); a text we did not write is an error */
static int
cv_parse(const char *text)
{
	int			major;
	int			minor;
	char		extra;

	if (sscanf(text, "%d.%d%c", &major, &minor, &extra) != 2 ||
		major < 0 || minor < 0 || minor > 99)
		elog(ERROR, "unrecognized version \"%s\" of extension \"pg_streaming\"",
			 text);
	return PGS_CATALOG_VERSION(major, minor);
}

/* pg_extension's extversion of pg_streaming, as a number; 0 when absent */
static int
cv_read(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int			version = 0;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("pg_streaming"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = cv_parse(TextDatumGetCString(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * The version of pg_streaming's catalog in this database, as
 * PGS_CATALOG_VERSION(major, minor), or 0 when the extension is not
 * installed.  Needs a transaction (it reads pg_extension when it has no
 * number yet).
 */
int
pgs_catalog_version(void)
{
#if PG_VERSION_NUM >= 150020
	if (!cv_callback_registered)
	{
		CacheRegisterSyscacheCallback(EXTENSIONOID, cv_invalidate, (Datum) 0);
		cv_callback_registered = true;
	}
#else

	/*
	 * Minor releases before 15.20 have no syscache on pg_extension, so no
	 * invalidation tells of an update: read the version once per
	 * transaction, known by its start time, and at every call while an
	 * extension script runs (the steps of a chained update are one
	 * transaction, each with its own version).
	 */
	static TimestampTz read_in_xact = 0;

	if (creating_extension ||
		read_in_xact != GetCurrentTransactionStartTimestamp())
	{
		cv_version = -1;
		read_in_xact = GetCurrentTransactionStartTimestamp();
	}
	(void) cv_callback_registered;
	(void) cv_invalidate;
#endif
	if (cv_version < 0)
		cv_version = cv_read();
	return cv_version;
}

/*
 * Refuse what the installed catalog has no place for: "what" (a plural
 * subject, such as "key and foreach_batch") needs the catalog of the given
 * version.  The one error for every feature that waits for ALTER EXTENSION
 * UPDATE; nothing has been changed when it is raised.
 */
void
pgs_catalog_require(int version, const char *what)
{
	int			installed = pgs_catalog_version();

	if (installed >= version)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s need the catalog of pg_streaming %d.%d",
					what, version / 100, version % 100),
			 errdetail("This database's catalog of pg_streaming is of version %d.%d; the library is of version %d.%d.",
					   installed / 100, installed % 100,
					   PGS_LIBRARY_VERSION / 100, PGS_LIBRARY_VERSION % 100),
			 errhint("Run ALTER EXTENSION pg_streaming UPDATE.")));
}
