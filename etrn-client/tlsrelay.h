/* tlsrelay.h - etrn-client --atrn over TLS: the bytes of the turned-around
 * session move between the TLS connection to the provider and the two
 * pipes of the smtp-handler that serves it. */
#ifndef POSTERN_ETRN_TLSRELAY_H
#define POSTERN_ETRN_TLSRELAY_H

#include <stdint.h>
#include "tls.h"

/* Drives the established client session t (on net_fd) without blocking:
 * decrypted bytes go to to_child, bytes read from from_child go out
 * encrypted. Only BearSSL's own buffers hold data in transit (the
 * engine stops taking input while its output waits), so memory is
 * bounded. Each wait lasts at most idle_s seconds (no progress in that
 * time is an error) and never past session_deadline (absolute
 * clock_ms(), 0 = none).
 *
 * Ends when the handler closes its output (its session is over: the
 * rest is sent, then close_notify), or when the provider closes or the
 * connection breaks (to_child is then closed so that the handler sees
 * the end, and its further output is read and dropped until it closes).
 * Closes to_child and from_child. Returns 0 when the handler ended
 * first, 1 when the provider's side ended first, -1 on an error or a
 * deadline (*error_r). */
int relay_tls(struct tls *t, int net_fd, int to_child, int from_child,
    unsigned idle_s, int64_t session_deadline, const char **error_r);

#endif
