/*-------------------------------------------------------------------------
 *
 * shards.c
 *	  Streams whose table is a shard of a distributed table (Citus): the
 *	  shard as a stream of its node, and the writes of a query's own code
 *	  into a target shard.
 *
 * The extension never links against Citus: everything it asks of Citus
 * goes through SQL, and only once the extension citus is installed in the
 * database.  A shard of a distributed stream is already a stream table
 * (Citus creates it with the coordinator's access method and columns); what
 * it lacks on its node is the registration in stream.streams.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog/pgs_catalog.h"
#include "common/pgs_common.h"
#include "storage/pgs_shards.h"

#define SHARDS_MANUAL_CHANGES	"citus.enable_manual_changes_to_shards"

/* is the extension citus installed in this database? */
bool
pgs_citus_present(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/* one boolean answer of Citus's SQL about a relation, as the caller */
static bool
shards_ask(const char *sql, Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		answer = false;
	bool		pushed = pgs_ensure_snapshot();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, 1, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not ask Citus: %s", sql);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull);

		answer = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	if (pushed)
		PopActiveSnapshot();
	return answer;
}

/* is the relation a shard of a distributed or reference table, on this node? */
bool
pgs_citus_is_shard(Oid relid)
{
	if (!pgs_citus_present())
		return false;
	return shards_ask("SELECT pg_catalog.relation_is_a_known_shard($1::pg_catalog.regclass)",
					  relid);
}

/* is the relation a table Citus distributes (distributed, reference, ...)? */
bool
pgs_citus_is_table(Oid relid)
{
	if (!pgs_citus_present())
		return false;
	return shards_ask("SELECT true FROM pg_catalog.pg_dist_partition"
					  " WHERE logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
					  relid);
}

/*
 * Is the table a stream as stream.create_stream makes one: the stream_heap
 * access method and a column _stream_xid of type xid8 whose default is
 * pg_current_xact_id() (NOT NULL or not: from catalog 0.11 a stream's
 * column has no such constraint, the access method refusing a null stamp)?  A shard of a distributed stream is one;
 * anything else is not made one here.
 */
static bool
shards_has_stream_shape(Relation rel)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), PGS_XID_COLUMN);
	Form_pg_attribute att;
	Node	   *def;

	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relam != get_table_am_oid("stream_heap", true) ||
		attnum == InvalidAttrNumber)
		return false;
	att = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	if (att->atttypid != XID8OID || !att->atthasdef)
		return false;
	def = build_column_default(rel, attnum);
	return def != NULL && IsA(def, FuncExpr) &&
		((FuncExpr *) def)->funcid == F_PG_CURRENT_XACT_ID;
}

/*
 * Register a shard of a distributed stream in this node's stream.streams,
 * when it is not yet: the DDL guards then protect it as any stream, and
 * queries of this node may read it.  Its table is not changed (it already
 * is a stream).  Whoever may read the shard may register it: that only
 * declares what the table already is, which its owner decided when making
 * the distributed table a stream.
 */
void
pgs_register_stream_shard(Oid relid)
{
	Relation	rel;
	bool		shape;

	if (pgs_is_stream(relid))
		return;
	rel = relation_open(relid, AccessShareLock);
	shape = shards_has_stream_shape(rel);
	relation_close(rel, NoLock);
	if (!pgs_citus_is_shard(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not a shard of a distributed table", get_rel_name(relid)),
				 errdetail("A shard query reads a shard of a distributed stream on the node holding it."),
				 errhint("Name the local shard of the stream, as pg_dist_shard and shard_name() give it.")));
	if (!shape)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("shard \"%s\" is not a stream", get_rel_name(relid)),
				 errdetail("A shard of a distributed stream has the access method stream_heap and the column %s as stream.create_stream makes them.",
						   PGS_XID_COLUMN),
				 errhint("Make the distributed table a stream on the coordinator with stream.create_stream().")));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	pgs_stream_register(relid, true);
}

/*
 * Citus refuses writes into a shard on its node unless
 * citus.enable_manual_changes_to_shards is on.  A query whose target is a
 * shard (the co-located target of a shard query) writes it in its batch's
 * transaction: the setting is turned on for that stretch only, in a GUC
 * nest level the caller ends with pgs_shard_writes_end (an error ends it
 * with the transaction).  Returns the nest level, or -1 when nothing was
 * set (no Citus, or the target is no shard).
 */
int
pgs_shard_writes_begin(Oid target_relid)
{
	int			nest;

	if (!OidIsValid(target_relid) || !pgs_citus_present() ||
		GetConfigOption(SHARDS_MANUAL_CHANGES, true, false) == NULL ||
		!pgs_citus_is_shard(target_relid))
		return -1;
	nest = NewGUCNestLevel();
	(void) set_config_option(SHARDS_MANUAL_CHANGES, "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/* end what pgs_shard_writes_begin started */
void
pgs_shard_writes_end(int nest_level)
{
	if (nest_level >= 0)
		AtEOXact_GUC(false, nest_level);
}
