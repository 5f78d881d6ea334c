/*-------------------------------------------------------------------------
 *
 * pgs_guard.h
 *	  Guards that keep commands outside the extension from leaving streams
 *	  or queries in a state the batches cannot live with.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGS_GUARD_H
#define PGS_GUARD_H

extern void pgs_install_guards(void);

#endif							/* PGS_GUARD_H */
