/* atrn.h - etrn-client --atrn (RFC 2645, the ODMR customer side): after
 * the provider's 250 to ATRN, the connection is turned around and
 * smtp-handler, run on it, receives the held mail for our domains. */
#ifndef POSTERN_ETRN_ATRN_H
#define POSTERN_ETRN_ATRN_H

#include <stddef.h>
#include "smtpc.h"

#define ATRN_ARGS_MAX   32      /* words in --smtp-handler-args */
#define ATRN_ARGS_SIZE  1024    /* their total length */

struct atrn_opts {
	const char *handler;        /* the smtp-handler program */
	const char *users;          /* passed as --users */
	char *const *args;          /* more options for it (NULL-ended) */
	unsigned timeout;           /* per wait, as --timeout */
};

/* Splits s at blanks (spaces and tabs; no quoting) into words copied to
 * buf[size], at most max of them pointed to by argv[max + 1] (then
 * NULL).
 * Returns the count, or -1 (too many or too long). */
int atrn_split_args(const char *s, char *buf, size_t size, char **argv,
    size_t max);

/* The default smtp-handler: ../libexec/postern/smtp-handler beside the
 * folder of the running program (PREFIX/sbin -> PREFIX/libexec/postern,
 * as `make install` lays them out), into buf[size]. 0 / -1. */
int atrn_default_handler(char *buf, size_t size);

/* Turns the session around: runs o->handler on c's connection (plain:
 * the socket is its stdin/stdout; TLS: two pipes that relay_tls() joins
 * to the TLS session) and waits for it, bounded by c's session deadline.
 * Leaves c unusable (the caller closes it without QUIT). Returns the
 * exit status: 0 the provider ended with QUIT, 75 otherwise. */
int atrn_turn(struct smtpc *c, const struct atrn_opts *o);

#endif
