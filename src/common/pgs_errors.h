/*-------------------------------------------------------------------------
 *
 * pgs_errors.h
 *	  Which caught errors must never be swallowed (errors.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_ERRORS_H
#define PGS_ERRORS_H

#include "postgres.h"

extern bool pgs_error_is_termination(int sqlerrcode);
extern bool pgs_error_is_interrupt(int sqlerrcode);

#endif							/* PGS_ERRORS_H */
