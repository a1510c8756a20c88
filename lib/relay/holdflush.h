/* holdflush.h - delivery of a hold node's queue to the node's host over
 * SMTP (after a permitted ETRN, or `mailbox-admin queue flush`): one flush
 * per node at a time (queue lock), TLS as the node's tls= says (may,
 * require, verify), next hops from DNS that would loop refused, a message
 * leaves the queue only when accepted for every recipient, 4xx retried
 * later with backoff, 5xx -> DSN (RFC 3464) to the envelope sender. */
#ifndef POSTERN_HOLDFLUSH_H
#define POSTERN_HOLDFLUSH_H

#include <stdint.h>

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

/* Starts the node's flusher, holdflush_serve(), in a detached child
 * (double fork, new session, stdio on /dev/null) that survives the
 * caller. 0 started / -1. */
int holdflush_spawn(const struct holdflush_opts *o);

/* One pass over the node's queue under its lock. all: ignore next_try.
 * 0 queue empty, 1 messages remain, 2 another flush holds the lock, -1
 * error. *next_due_r: earliest next_try of what remains (0 none). */
int holdflush_pass(const struct holdflush_opts *o, int all,
    int64_t *next_due_r);

/* ODMR (RFC 2645 ATRN, smtp-handler --odmr): passes over the session
 * the customer opened, turned around, instead of connecting out.
 * holdflush_turn_begin: the SMTP client on the session's fds and TLS
 * (linked), taking over the input it already received (a client that
 * sent its greeting early loses nothing), reads the customer's greeting
 * and sends EHLO helo. 0, or -1 with *error_r (the session is
 * unusable). */
struct io;
int holdflush_turn_begin(struct io *session, const char *helo,
    unsigned timeout, const char **error_r);
/* One pass over node's whole queue on that session; lk is the queue lock
 * (queue_lock) the caller holds and keeps. As holdflush_pass; -1 also
 * when the session broke (what was not accepted stays held). */
int holdflush_turn_pass(const struct holdflush_opts *o, int lk);
/* QUIT (reply awaited briefly); the fds and the TLS are the caller's.
 * 1 when the session was still usable, else 0. */
int holdflush_turn_end(void);

/* ETRN requests and the node's one flusher (holdserve.c). A request is
 * served by a pass that starts after it, at most HOLDFLUSH_MIN_INTERVAL
 * seconds after the previous asked pass started (or when a pass running
 * longer ends): every message held when it was made is attempted. */
#define HOLDFLUSH_MIN_INTERVAL 30
/* Records a request for node (SPOOL/hold/NODE/.etrn-request). 0 / -1. */
int holdflush_request(const char *spool, const char *node);
/* 1 when node's flusher is running (it will see a request), else 0. */
int holdflush_running(const char *spool, const char *node);
/* The flusher: if no other runs for node, serves its requests and
 * retries its deferred mail (for 30 min), then ends. Exit status. */
int holdflush_serve(const struct holdflush_opts *o);

#endif
