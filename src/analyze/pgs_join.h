/*-------------------------------------------------------------------------
 *
 * pgs_join.h
 *	  Joins between two streams: which stream reads are the sides, and the
 *	  shape of the join between them (join_shape.c).
 *
 * Side 1 is the first stream read met in the top-level range table (FROM
 * order), side 2 the second; for a semi join, side 1 is the outer query's
 * stream and side 2 the stream read in the sublink.  Every other part asks
 * pgs_join_find_sides for that order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_JOIN_H
#define PGS_JOIN_H

#include "postgres.h"

#include "catalog/pgs_query.h"

struct Query;

typedef enum PgsJoinKind
{
	PGS_JOIN_NONE,				/* one stream read */
	PGS_JOIN_INNER,
	PGS_JOIN_LEFT,				/* side 1 preserved */
	PGS_JOIN_RIGHT,				/* side 2 preserved */
	PGS_JOIN_FULL,
	PGS_JOIN_SEMI				/* side 1 written once on its first match */
} PgsJoinKind;

typedef struct PgsJoinSideRef
{
	Oid			relid;
	char	   *name;			/* the range's name (alias, else the table's) */
	int			rtindex;		/* in its query level's range table */
	bool		in_sublink;		/* side 2 of a semi join */
} PgsJoinSideRef;

/* how long a side's rows can still match (surface.md 2.6) */
typedef struct PgsJoinBound
{
	bool		bounded;		/* false: kept for ever */
	AttrNumber	time_attno;		/* the side's time column the bound reads */
	Oid			time_type;		/* TIMESTAMPTZOID or TIMESTAMPOID */
	int64		offset_usecs;	/* evicted once t < W + offset ... */
	bool		strict;			/* ... or t <= W + offset */
	int64		window_usecs;	/* > 0: a key of windows of this size; the
								 * bound is then the start of the window
								 * holding W + offset (its rows' windows
								 * ended at or before W) */
	int64		window_origin;	/* those windows' origin, as t counts */
} PgsJoinBound;

typedef struct PgsJoinShape
{
	PgsJoinKind kind;
	bool		preserved[PGS_MAX_SIDES];
	PgsJoinBound bound[PGS_MAX_SIDES];
	int64		output_offset_usecs;	/* the join's output watermark is
										 * W + this (<= 0), for a chain */
	char	   *keys;			/* canonical text of the equi-keys, for alter_query */
	char	   *range;			/* canonical text of the time constraint, or NULL */
} PgsJoinShape;

/* the stream reads of an analyzed query in side order; returns 0..2, errors past 2 */
extern int	pgs_join_find_sides(struct Query *query, PgsJoinSideRef *sides);

/*
 * Check a query over two stream reads (every refusal of surface.md 2.8 that is
 * about the shape: E1..E10, E8) and describe it.  "sides" carry the watermarks
 * (event_time NULL for a side without).  Warns (surface.md 2.7) about a side
 * whose state grows without bound, naming the query when query_name is not
 * NULL, and about a side whose join key has no btree index led by it (every
 * batch would read that stream whole).
 */
extern void pgs_join_analyze(struct Query *query, const char *output_mode,
							 const PgsQuerySide *sides, PgsJoinShape *shape,
							 bool warn, const char *query_name);

#endif							/* PGS_JOIN_H */
