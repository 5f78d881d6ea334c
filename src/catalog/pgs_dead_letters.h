/*-------------------------------------------------------------------------
 *
 * pgs_dead_letters.h
 *	  Rows set aside instead of failing a batch: stream.dead_letter_log.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_DEAD_LETTERS_H
#define PGS_DEAD_LETTERS_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * One row set aside.  Exactly one of query_id (> 0) and source (not NULL)
 * names who set it aside; row_data (a jsonb datum, or 0) or raw_line says
 * what it was, position where it was.
 */
typedef struct PgsDeadLetter
{
	int64		query_id;		/* 0: a file source's */
	const char *source;			/* NULL: a query's */
	Oid			owner;
	int64		batch_id;		/* < 0: none */
	Datum		row_data;		/* jsonb, or (Datum) 0 */
	const char *raw_line;
	const char *position;
	const char *sqlstate;		/* five characters */
	const char *message;
	const char *detail;
} PgsDeadLetter;

/* write it, in the caller's transaction; false before catalog 0.8 */
extern bool pgs_dead_letter_add(const PgsDeadLetter *dl);

/* dead_letter_delivery.c: a query's dead letters delivered again */
typedef struct PgsWaitingLetter
{
	int64		id;
	char	   *row_data;		/* the row as jsonb text */
} PgsWaitingLetter;

extern List *pgs_dead_letters_waiting(int64 query_id);
extern void pgs_dead_letter_delivered(int64 id);
extern void pgs_dead_letter_failed_again(int64 id, const char *sqlstate,
										 const char *message, const char *detail);

#endif							/* PGS_DEAD_LETTERS_H */
