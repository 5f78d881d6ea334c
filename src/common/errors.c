/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  Which caught errors must never be swallowed.
 *
 * Code that catches an error to go on (a WARNING instead, a count made
 * unknown) must not catch a cancel or a termination along with it: the
 * statement or the session was asked to stop, and going on would ignore
 * that.  Such code rolls back what it started, then raises the error again
 * when one of these says so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pgs_errors.h"

/*
 * Is the error a session's or the server's end (an administrator's
 * termination, a shutdown, a dropped database)?  PostgreSQL raises most of
 * these as FATAL, which no PG_CATCH sees; code may still raise them as
 * errors, and the caller must then stop too.
 */
bool
pgs_error_is_termination(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		sqlerrcode == ERRCODE_CRASH_SHUTDOWN ||
		sqlerrcode == ERRCODE_CANNOT_CONNECT_NOW ||
		sqlerrcode == ERRCODE_DATABASE_DROPPED ||
		sqlerrcode == ERRCODE_IDLE_SESSION_TIMEOUT ||
		sqlerrcode == ERRCODE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT;
}

/*
 * Is the error a cancel (statement_timeout, pg_cancel_backend, a
 * client's cancel request) or a termination: one that code catching errors
 * to go on must raise again?
 */
bool
pgs_error_is_interrupt(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_QUERY_CANCELED ||
		pgs_error_is_termination(sqlerrcode);
}
