/*-------------------------------------------------------------------------
 *
 * pgs_join.h
 *	  The shape of a join between two stream reads: which reads are its
 *	  sides, its kind, its keys, its time constraint, and how long each
 *	  side's rows can still match (docs/joins/surface.md 2.2-2.8).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_JOIN_H
#define PGS_JOIN_H

#include "postgres.h"

#include "catalog/pgs_query.h"

#ifndef PGS_MAX_SIDES
/*
 * The catalog's description of a side, for a catalog header that does not
 * declare it yet; pgs_query.h's own declaration takes its place.
 */
#define PGS_MAX_SIDES 2
typedef struct PgsQuerySide
{
	Oid			relid;			/* the side's stream */
	char	   *name;			/* its range name in the query text */
	char	   *event_time;		/* its watermark's column, or NULL */
	int64		watermark_usecs;	/* its delay; -1 without */
} PgsQuerySide;
#endif

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
 * whose state grows without bound, and about a side whose join key has no
 * btree index led by it (every batch would read that stream whole).
 */
extern void pgs_join_analyze(struct Query *query, const char *output_mode,
							 const PgsQuerySide *sides, PgsJoinShape *shape,
							 bool warn);

#endif							/* PGS_JOIN_H */
