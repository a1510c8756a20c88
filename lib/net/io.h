/* io.h - buffered connection I/O for one session: a line reader and a
 * reply writer over a read fd and a write fd (one socket, or two pipes),
 * plain or TLS, with absolute deadlines.
 *
 * Replies are buffered and flushed exactly when the session is about to
 * wait for input (io_getline/io_read flush first) or when asked
 * (io_flush); a batch of pipelined replies leaves as one write.
 * No allocation: everything lives in struct io. */
#ifndef POSTERN_IO_H
#define POSTERN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "fdio.h"   /* io_fd_read, io_fd_write: the raw fd layer below */

#define IO_INBUF   16384
#define IO_OUTBUF  16384

struct tls;

/* io_getline() results (negative). */
#define IO_EOF      (-1)   /* peer closed (or TLS close_notify) */
#define IO_TIMEOUT  (-2)   /* idle or session deadline passed */
#define IO_ERROR    (-3)   /* read/write/TLS error; errno set */
#define IO_TOOLONG  (-4)   /* line longer than the caller's buffer: the
                              whole line was consumed and dropped */

/* io_getline() flags. */
#define IO_LINE_NUL    0x1 /* the line contained a NUL byte */
#define IO_LINE_BARELF 0x2 /* the line ended in LF without CR */

struct io {
	int rfd, wfd;
	struct tls *tls;            /* NULL: plain; linked, not copied */
	unsigned idle_s;            /* per-read idle limit, 0 = none */
	int64_t session_deadline;   /* absolute clock_ms(), 0 = none */
	uint64_t bytes_in, bytes_out;
	int failed;                 /* a write failed: further output dropped */
	size_t in_off, in_len;
	unsigned char *inp;         /* the input buffer: in[], or the one
	                               given to io_set_inbuf() */
	size_t in_cap;              /* its size */
	size_t out_len;
	unsigned char in[IO_INBUF];
	unsigned char out[IO_OUTBUF];
};

/* Sets up io on the two fds (they may be equal). Sets TCP_NODELAY when
 * wfd is a TCP socket. */
void io_init(struct io *io, int rfd, int wfd);

/* idle_s bounds each wait for input (and each blocked write);
 * session_s bounds the whole session from now. 0 = no limit. */
void io_set_timeouts(struct io *io, unsigned idle_s, unsigned session_s);

/* Reads one line into buf[size] without its line end (LF or CRLF; a lone
 * CR is data), NUL-terminated. The line must fit in size-1 bytes, else
 * IO_TOOLONG after the rest of the line was read and dropped. Flushes
 * pending output before it blocks. Returns the length, or IO_EOF,
 * IO_TIMEOUT, IO_ERROR, IO_TOOLONG. *flags_r (may be NULL) gets
 * IO_LINE_* bits. */
int io_getline(struct io *io, char *buf, size_t size, int *flags_r);

/* Reads up to n raw bytes (buffered bytes first). Flushes output first
 * when it has to block. Returns >0, 0 at EOF, IO_TIMEOUT or IO_ERROR. */
long io_read(struct io *io, void *buf, size_t n);

/* Zero-copy reading, for bulk data (SMTP DATA/BDAT): io_peek() sets *p_r
 * to the bytes already buffered, first waiting for input (flushing
 * output first, as io_read) when none are. It returns how many (>0),
 * 0 at EOF, IO_TIMEOUT or IO_ERROR, and consumes nothing: the caller
 * then consumes n of them (n <= that count) with io_consume(), so that
 * what follows the data (pipelined commands) stays buffered. *p_r stays
 * valid until the next io_* call other than io_consume. */
long io_peek(struct io *io, const unsigned char **p_r);
void io_consume(struct io *io, size_t n);

/* Bulk input: from now on input is read into buf[size] (linked, not
 * copied; size > IO_INBUF, else nothing changes) instead of in[], so
 * that bulk data comes in larger reads; the bytes already buffered move
 * there. It stays so for the rest of the session (io_init undoes it). */
void io_set_inbuf(struct io *io, unsigned char *buf, size_t size);

/* Bytes received but not yet consumed (for the STARTTLS rule); with
 * TLS on, decrypted bytes still in the engine count too. */
size_t io_pending(const struct io *io);

/* Drops the received-but-unconsumed bytes of the line buffer; returns
 * how many. STARTTLS, server side: after reading the command line,
 * n = io_discard_pending() (log n if > 0), reply, io_flush(), then
 * tls_server_start(&t, cred, ca, io.rfd, io.wfd, io_deadline(&io), &e)
 * and io_use_tls(&io, &t). Client side the same after the 220. */
size_t io_discard_pending(struct io *io);

/* Hands the received-but-unconsumed bytes of from over to to (another
 * io on the same connection, e.g. ODMR's turned-around client), after
 * what to already holds. 0, or -1 (ENOBUFS) when they do not fit. */
int io_move_pending(struct io *from, struct io *to);

/* After a line that carried a secret (PASS, APOP, AUTH and its
 * continuation lines): zeroes every consumed byte still in the input
 * buffer (the one in use, and in[] when io_set_inbuf replaced it) and,
 * with TLS, the decrypted application data the engine already handed
 * out (tls_wipe_consumed). Unconsumed input is kept. Call it right after
 * io_getline returned the line (before output is flushed). */
void io_wipe_consumed(struct io *io);

/* Queues output; flushes when the buffer fills; a write of IO_OUTBUF
 * bytes or more goes straight to the fd (or TLS) after what was queued.
 * Each blocked write waits at most the idle limit (and the session
 * deadline). Returns 0, or -1 once the connection failed (the session
 * should end). io_printf output is cut at IO_OUTBUF-1 bytes per call. */
int io_write(struct io *io, const void *p, size_t n);
int io_puts(struct io *io, const char *s);
int io_printf(struct io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes out everything queued (through TLS when active). 0 or -1. */
int io_flush(struct io *io);

/* From now on all traffic goes through t (an established TLS session on
 * the same fds). The input buffer must be empty: call
 * io_discard_pending() first. */
void io_use_tls(struct io *io, struct tls *t);

/* Deadline for the next wait: min(now + idle, session deadline). */
int64_t io_deadline(const struct io *io);

#endif
