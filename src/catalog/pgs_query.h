/*-------------------------------------------------------------------------
 *
 * pgs_query.h
 *	  Streaming queries as stream.query_defs keeps them.
 *
 * query_catalog.c reads, locks and changes whole queries in
 * stream.query_defs; the rest of catalog/ only joins it in its reads, and
 * retention_catalog.c marks what retention did to a query (missed_rows_at,
 * retention_detached_at).  Everybody outside catalog/ gets a PgsQuery.  Each function runs its own catalog
 * stretch, and copies what it returns into the caller's memory context.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_QUERY_H
#define PGS_QUERY_H

#include "postgres.h"

#include "access/xact.h"
#include "nodes/pg_list.h"

/* a join reads two streams, each a side of its own */
#define PGS_MAX_SIDES	2

/* one side of a query that reads two streams (stream.query_side_defs) */
typedef struct PgsQuerySide
{
	Oid			relid;			/* the side's stream */
	char	   *name;			/* its range name in the query text */
	char	   *event_time;		/* its watermark's column, or NULL */
	int64		watermark_usecs;	/* its delay; -1 without */
} PgsQuerySide;

typedef struct PgsQuery
{
	int64		query_id;
	char	   *name;
	Oid			owner;
	Oid			stream_relid;
	Oid			target_relid;
	char	   *query_text;
	char	   *search_path;	/* in force when the query was started */
	List	   *target_columns; /* char *, the columns the batch writes */
	char	   *output_mode;
	char	   *trigger;
	int32		max_rows;		/* max_rows_per_batch; 0 for none */
	char	   *status;			/* active, stopped, finished or failed */
	bool		active;
	char	   *last_error;
	char	   *last_error_sqlstate;
	char	   *last_error_detail;
	char	   *last_error_hint;
	Oid			state_relid;	/* a streaming aggregation's state table */
	char	   *event_time;		/* the event-time column, or NULL */
	int64		watermark_usecs;	/* the watermark's delay; -1 without */
	List	   *dedup_columns;	/* char *: deduplicated output columns, or NIL */
	List	   *key_columns;	/* char *: the upsert key of a query without
								 * aggregation in update mode, or NIL */
	Oid			foreach_batch;	/* the procedure called per batch, or
								 * InvalidOid; the target is then the
								 * extension's table of the batch's rows */
	Oid			view_relid;		/* stream_query.<name>: the query's text as a
								 * view, for PostgreSQL's dependencies */
	int			nsides;			/* 0: one stream (stream_relid); 2: a join */
	PgsQuerySide sides[PGS_MAX_SIDES];
	char	   *watermark_policy;	/* "min" or "max"; NULL for one stream */
	List	   *watermarks;		/* char *: the watermarks argument as given,
								 * or NIL */
	char	   *events_channel; /* where its batches' events are sent, or
								 * NULL for none */
	char	   *on_error;		/* "fail" or "dead_letter" (0.8 on) */
} PgsQuery;

/* what the scheduler needs of an active query */
typedef struct PgsActiveQuery
{
	int64		query_id;
	Oid			stream_relid;
	Oid			stream2_relid;	/* a join's other stream, or InvalidOid */
	Oid			owner;
	bool		owner_can_login;
	char	   *trigger;
} PgsActiveQuery;

/* how pgs_query_read locks the row */
typedef enum PgsQueryLock
{
	PGS_QUERY_NO_LOCK,
	PGS_QUERY_LOCK				/* FOR UPDATE: serializes the query's batch
								 * steps and status changes */
} PgsQueryLock;

extern bool pgs_query_read(const char *name, int64 query_id, PgsQueryLock lock,
						   PgsQuery *q);
extern List *pgs_query_list_active(void);
extern void pgs_query_check_access(const PgsQuery *q);
extern void pgs_query_report_missing(const char *name) pg_attribute_noreturn();
extern int64 pgs_query_insert(const PgsQuery *q);
extern void pgs_query_delete(int64 query_id);
extern void pgs_query_set_state(int64 query_id, Oid state_relid);
extern void pgs_query_alter(const PgsQuery *q, bool text_changed);
extern void pgs_query_alter_watermarks(const PgsQuery *q);
extern char *pgs_query_set_events(int64 query_id, bool on);
extern void pgs_query_set_view(int64 query_id, Oid view_relid, const char *run_text);

/* what the text batches run is deparsed with: pg_catalog's names alone unqualified */
#define PGS_RUN_TEXT_PATH	"pg_catalog, pg_temp"
extern void pgs_query_lock_for_rename(Oid classid, Oid objid);
extern void pgs_query_follow_renames(Oid column_relid, const char *old_column,
									 const char *new_column);
extern void pgs_query_at_xact_end(XactEvent event);
extern void pgs_query_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
									 SubTransactionId parentSubid);

/* query_view.c: a query's view, and its text after renames */
struct Query;
struct RawStmt;
extern void pgs_query_define_view(const PgsQuery *q, struct Query *analyzed);
extern Oid	pgs_query_view_create(const char *query_name, struct Query *analyzed);
extern char *pgs_query_deparse(struct Query *query, const char *search_path);
extern struct RawStmt *pgs_query_parse_one(const char *text);
extern struct Query *pgs_query_analyze_as_owner(Oid owner, const char *text,
												const char *search_path);
extern char *pgs_owner_search_path(Oid owner, const char *stored);
extern List *pgs_query_view_depends(Oid view_relid);
extern bool pgs_query_view_reads(Oid view_relid, Oid relid);
extern void pgs_query_repair_view(const PgsQuery *q);
extern void pgs_query_follow_procedure_renames(void);
extern void pgs_query_set_status(int64 query_id, const char *status,
								 bool only_if_active);
extern void pgs_query_set_error(int64 query_id, bool fail,
								const char *sqlstate, const char *message,
								const char *detail, const char *hint);
extern char *pgs_query_names_reading(Oid stream_relid);
extern bool pgs_query_target_reaches(Oid target, Oid stream);
extern int	pgs_query_delete_reading(Oid stream_relid);
extern char *pgs_query_delete_using(Oid relid);
extern int	pgs_query_count_owned(Oid roleid);
extern int	pgs_query_delete_owned(Oid roleid, bool cascade);
extern int	pgs_query_reassign_owned(Oid old_roleid, Oid new_roleid);
extern bool pgs_query_shard_def(const char *name, int64 *query_id, Oid *owner,
								char **query_text, char **distributed_query);
extern void pgs_query_set_distributed(int64 query_id, const char *distributed_query);
extern char *pgs_distributed_query_names_reading(Oid stream_relid);

#endif							/* PGS_QUERY_H */
