/* holdflush.h - delivery of a hold node's queue to the node's host over
 * SMTP (after a permitted ETRN, or `mailbox-admin queue flush`): one flush
 * per node at a time (queue lock), TLS as the node's tls= says (may,
 * require, verify), next hops from DNS that would loop refused, a message
 * leaves the queue only when accepted for every recipient, 4xx retried
 * later with backoff, 5xx -> DSN (RFC 3464) to the envelope sender. */
#ifndef POSTERN_HOLDFLUSH_H
#define POSTERN_HOLDFLUSH_H

struct holdflush_opts {
	const char *users;       /* CDB path (node's host=, DSN delivery) */
	const char *spool;       /* spool directory */
	const char *node;        /* hold domain */
	const char *helo;        /* our name for EHLO */
	unsigned timeout;        /* seconds per network wait */
};

/* Runs the flush in this process. Returns 0 when the queue is empty
 * afterwards, 1 when messages remain (temporary failures, or another
 * flush held the lock), -1 on error (logged). */
int holdflush_run(const struct holdflush_opts *o);

/* Starts holdflush_run() in a detached child (double fork, new session,
 * stdio on /dev/null) that survives the caller. 0 started / -1. */
int holdflush_spawn(const struct holdflush_opts *o);

#endif
