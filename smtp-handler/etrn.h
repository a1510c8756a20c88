/* etrn.h - the ETRN seam of smtp-handler (RFC 1985): the SMTP session
 * hands over the argument and writes the reply line; etrn.c decides,
 * counts the held mail and starts the detached flush of a node's hold
 * queue to its host. */
#ifndef POSTERN_SMTP_ETRN_H
#define POSTERN_SMTP_ETRN_H

#include <stddef.h>

struct etrn_ctx {
	const char *users;       /* CDB path */
	const char *spool;       /* spool directory */
	const char *peer_addr;   /* client address text */
	const char *auth_user;   /* authenticated address, NULL if none */
	const char *hostname;    /* our name, for the flush's EHLO */
};

/* Handles "ETRN <arg>" outside a mail transaction. Writes one complete
 * reply line without CRLF (e.g. "253 2.0.0 3 pending messages for node
 * example.org started", "459 4.7.1 ...") into reply[size] and returns
 * its code. May fork a detached flusher. Never blocks on the network. */
int etrn_request(const struct etrn_ctx *c, const char *arg, char *reply,
    size_t size);

/* Whether ETRN is advertised at all: 1 when the database has at least one
 * hold domain, 0 otherwise (or on error). */
int etrn_available(const char *users);

#endif
