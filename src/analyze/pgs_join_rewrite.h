/*-------------------------------------------------------------------------
 *
 * pgs_join_rewrite.h
 *	  The two reads of a join between streams, substituted while a batch
 *	  statement of the join is analyzed (join_rewrite.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_JOIN_REWRITE_H
#define PGS_JOIN_REWRITE_H

#include "postgres.h"

#include "analyze/pgs_analyze.h"
#include "analyze/pgs_join.h"
#include "source/pgs_offsets.h"

/* which rows of its stream a side stands for in one statement */
typedef enum PgsSideRole
{
	PGS_SIDE_NEW,				/* the batch's new rows, late ones left out */
	PGS_SIDE_LIVE_HI,			/* arrived by the batch's end snapshot */
	PGS_SIDE_LIVE_LO,			/* arrived by its start snapshot */
	PGS_SIDE_TIDS,				/* the rows at the tids of a parameter */
	PGS_SIDE_EMPTY				/* none */
} PgsSideRole;

/*
 * The parameters of a join statement: PGS_BATCH_NPARAMS for side 1's
 * batch rows, as many for side 2's (their snapshots are the same), then:
 */
#define PGS_JOIN_P_LO_SNAPSHOT		(2 * PGS_BATCH_NPARAMS + 1)	/* pg_snapshot */
#define PGS_JOIN_P_START_SNAPSHOT	(2 * PGS_BATCH_NPARAMS + 2)	/* rows visible in it
																 * are before the query */
#define PGS_JOIN_P_LATE				(2 * PGS_BATCH_NPARAMS + 3)	/* rows at or before it
																 * are late */
#define PGS_JOIN_P_BOUND			(2 * PGS_BATCH_NPARAMS + 4)	/* per side: live rows
																 * are at or after it */
#define PGS_JOIN_P_TIDS				(2 * PGS_BATCH_NPARAMS + 6)	/* per side: tid[] */
#define PGS_JOIN_P_LATE_TIDS		(2 * PGS_BATCH_NPARAMS + 8)	/* per side: tid[] of
																 * late rows */
#define PGS_JOIN_NPARAMS			(2 * PGS_BATCH_NPARAMS + 9)

/*
 * The location of the stream._join_mark() call the substitution writes
 * into a delta statement: a call the user wrote has its offset in a text
 * (>= 0) or none (-1, read back from a stored tree), so the mark tells its
 * own call from any other, which records nothing.
 */
#define PGS_JOIN_MARK_LOCATION		(-7301)

typedef struct PgsJoinRewrite
{
	Oid			relid[PGS_MAX_SIDES];
	PgsSideRole role[PGS_MAX_SIDES];
	PgsJoinKind kind;
	bool		delta;			/* write the matched pairs of a new side only,
								 * recording each match */
	int			new_side;		/* 0 or 1, with delta */
	const char *late_column[PGS_MAX_SIDES];	/* the side's watermark column */
	const char *bound_column[PGS_MAX_SIDES];	/* the column its bound reads */
	bool		bound_strict[PGS_MAX_SIDES];
} PgsJoinRewrite;

extern Oid *pgs_join_params_types(void);
extern char *pgs_join_time_sql(Oid relid, const char *alias, const char *column);
extern int	pgs_join_substitute(struct Query *query, const PgsJoinRewrite *rw);
extern char *pgs_join_side_filter_sql(struct Query *query, Oid relid1, Oid relid2,
									  int side, bool where);
extern void pgs_rewrite_arm_join(const char *token, const PgsJoinRewrite *rw,
								 Oid view_relid);
extern void pgs_rewrite_arm_join_then(const char *token, const PgsJoinRewrite *rw,
									  Oid view_relid, PgsRewriteFinish finish,
									  const void *finish_arg);

#endif							/* PGS_JOIN_REWRITE_H */
