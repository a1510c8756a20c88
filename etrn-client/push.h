/* push.h - etrn-client's push of the local outbound queue (written by
 * smtp-handler for authenticated users and relay clients) to the relay
 * over an open SMTP session. */
#ifndef POSTERN_ETRN_PUSH_H
#define POSTERN_ETRN_PUSH_H

#include "smtpc.h"

struct push_result {
	unsigned messages;   /* messages tried */
	unsigned sent;       /* recipients accepted */
	unsigned deferred;   /* recipients left queued (4xx, broken session) */
	unsigned bounced;    /* recipients refused (5xx, DSN sent) */
	unsigned left;       /* messages still in the queue afterwards */
	int busy;            /* another run held the queue lock: skipped */
	int broke;           /* the session broke: it is unusable */
};

struct push_opts {
	const char *spool;
	const char *users;       /* for DSNs to local senders */
	const char *helo;        /* our name (DSN Reporting-MTA) */
	const char *relay;       /* the relay's name (DSN Remote-MTA) */
	unsigned lock_wait;      /* seconds to wait for another run's lock */
};

/* Sends every message of SPOOL/outbound with pending recipients. A
 * message leaves the queue when no recipient is pending; 4xx keeps the
 * recipient (attempts, next_try updated); 5xx marks it failed and sends a
 * DSN to the sender. The queue lock makes concurrent runs exclusive.
 * Returns 0, or -1 when the queue could not be read (logged). */
int push_outbound(struct smtpc *c, const struct push_opts *o,
    struct push_result *r);

#endif
