/*-------------------------------------------------------------------------
 *
 * pgs_join.h
 *	  The shape of a join between two streams (join_shape.c), and the
 *	  substitution of its two sides in a batch's statements
 *	  (join_rewrite.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_JOIN_H
#define PGS_JOIN_H

#include "postgres.h"

#include "catalog/pgs_query.h"

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

/* how long a side's rows can still match */
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
	char	   *keys;			/* canonical text of the equi-keys */
	char	   *range;			/* canonical text of the time constraint, or NULL */
} PgsJoinShape;

struct Query;

extern int	pgs_join_find_sides(struct Query *query, PgsJoinSideRef *sides);
extern void pgs_join_analyze(struct Query *query, const char *output_mode,
							 const PgsQuerySide *sides, PgsJoinShape *shape,
							 bool warn);

#endif							/* PGS_JOIN_H */
