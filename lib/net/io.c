/* io.c - buffered connection I/O for one session: line reader, raw
 * reader and reply writer over (rfd, wfd), plain or through TLS, with
 * absolute deadlines and flush-before-read. The TLS layer (tls.h) sits
 * below it, and both write and read the descriptors through fdio.h. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "tls.h"
#include "util.h"

void
io_init(struct io *io, int rfd, int wfd)
{
	int one = 1;

	memset(io, 0, offsetof(struct io, in));
	io->rfd = rfd;
	io->wfd = wfd;
	io->tls = NULL;
	io->inp = io->in;
	io->in_cap = IO_INBUF;
	/* fails harmlessly (ENOTSOCK, EOPNOTSUPP) unless wfd is TCP */
	(void)setsockopt(wfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void
io_set_timeouts(struct io *io, unsigned idle_s, unsigned session_s)
{
	io->idle_s = idle_s;
	io->session_deadline = deadline_in(session_s);
}

int64_t
io_deadline(const struct io *io)
{
	return deadline_min(deadline_in(io->idle_s), io->session_deadline);
}

/* Writes p[0..n) out now, bypassing the buffer. */
static int
io_send(struct io *io, const unsigned char *p, size_t n)
{
	long r;

	if (io->failed)
		return -1;
	if (io->tls != NULL) {
		if (tls_write(io->tls, p, n, io_deadline(io)) < 0) {
			io->failed = 1;
			return -1;
		}
		io->bytes_out += n;
		return 0;
	}
	while (n > 0) {
		r = io_fd_write(io->wfd, p, n, io_deadline(io));
		if (r < 0) {
			io->failed = 1;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		io->bytes_out += (uint64_t)r;
	}
	return 0;
}

int
io_flush(struct io *io)
{
	size_t n = io->out_len;

	io->out_len = 0;
	if (io->failed)
		return -1;
	if (n == 0)
		return 0;
	return io_send(io, io->out, n);
}

int
io_write(struct io *io, const void *p, size_t n)
{
	if (io->failed)
		return -1;
	if (n <= IO_OUTBUF - io->out_len) {
		memcpy(io->out + io->out_len, p, n);
		io->out_len += n;
		return 0;
	}
	if (io_flush(io) < 0)
		return -1;
	if (n >= IO_OUTBUF)
		return io_send(io, p, n);
	memcpy(io->out, p, n);
	io->out_len = n;
	return 0;
}

int
io_puts(struct io *io, const char *s)
{
	return io_write(io, s, strlen(s));
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (io->failed)
		return -1;
	room = IO_OUTBUF - io->out_len;
	va_start(ap, fmt);
	n = vsnprintf((char *)io->out + io->out_len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < room) {
		io->out_len += (size_t)n;
		return 0;
	}
	/* did not fit: flush and format again into the empty buffer
	 * (output longer than the whole buffer is cut) */
	if (io_flush(io) < 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf((char *)io->out, IO_OUTBUF, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	io->out_len = (size_t)n < IO_OUTBUF ? (size_t)n : IO_OUTBUF - 1;
	return 0;
}

/* Reads more input into inp[in_len..), flushing replies first when the
 * read has to wait. Returns >0, 0 at EOF, IO_TIMEOUT or IO_ERROR. */
static long
io_fill(struct io *io, int64_t deadline)
{
	size_t room = io->in_cap - io->in_len;
	long r;

	if (io->tls == NULL || tls_pending(io->tls) == 0) {
		if (io->out_len > 0 && io_flush(io) < 0)
			return errno == ETIMEDOUT ? IO_TIMEOUT : IO_ERROR;
	}
	if (io->tls != NULL)
		r = tls_read(io->tls, io->inp + io->in_len, room, deadline);
	else
		r = io_fd_read(io->rfd, io->inp + io->in_len, room, deadline);
	if (r < 0)
		return errno == ETIMEDOUT ? IO_TIMEOUT : IO_ERROR;
	io->in_len += (size_t)r;
	io->bytes_in += (uint64_t)r;
	return r;
}

int
io_getline(struct io *io, char *buf, size_t size, int *flags_r)
{
	int64_t deadline = io_deadline(io);
	size_t scan = io->in_off, len, end;
	unsigned char *lf;
	int toolong = 0, flags = 0;
	long r;

	if (flags_r != NULL)
		*flags_r = 0;
	if (size == 0)
		return IO_TOOLONG;
	for (;;) {
		lf = memchr(io->inp + scan, '\n', io->in_len - scan);
		if (lf != NULL) {
			end = (size_t)(lf - io->inp);
			len = end - io->in_off;
			if (len > 0 && io->inp[end - 1] == '\r')
				len--;
			else
				flags |= IO_LINE_BARELF;
			if (toolong || len > size - 1) {
				io->in_off = end + 1;
				return IO_TOOLONG;
			}
			memcpy(buf, io->inp + io->in_off, len);
			buf[len] = '\0';
			io->in_off = end + 1;
			if (io->in_off == io->in_len)
				io->in_off = io->in_len = 0;
			if (memchr(buf, '\0', len) != NULL)
				flags |= IO_LINE_NUL;
			if (flags_r != NULL)
				*flags_r = flags;
			return (int)len;
		}
		/* no line end yet */
		if (!toolong && io->in_len - io->in_off > size)
			toolong = 1;   /* more than size-1 bytes plus a CR */
		if (toolong) {
			io->in_off = io->in_len = 0;
		} else if (io->in_len == io->in_cap) {
			if (io->in_off == 0) {
				toolong = 1;
				io->in_len = 0;
			} else {
				memmove(io->inp, io->inp + io->in_off,
				    io->in_len - io->in_off);
				io->in_len -= io->in_off;
				io->in_off = 0;
			}
		}
		scan = io->in_len;
		r = io_fill(io, deadline);
		if (r == 0) {
			io->in_off = io->in_len = 0;
			return IO_EOF;
		}
		if (r < 0)
			return (int)r;
	}
}

long
io_read(struct io *io, void *buf, size_t n)
{
	size_t have = io->in_len - io->in_off;
	long r;

	if (n == 0)
		return 0;
	if (have == 0) {
		io->in_off = io->in_len = 0;
		r = io_fill(io, io_deadline(io));
		if (r <= 0)
			return r;
		have = io->in_len;
	}
	if (n > have)
		n = have;
	memcpy(buf, io->inp + io->in_off, n);
	io->in_off += n;
	if (io->in_off == io->in_len)
		io->in_off = io->in_len = 0;
	return (long)n;
}

long
io_peek(struct io *io, const unsigned char **p_r)
{
	long r;

	if (io->in_off == io->in_len) {
		io->in_off = io->in_len = 0;
		r = io_fill(io, io_deadline(io));
		if (r <= 0)
			return r;
	}
	*p_r = io->inp + io->in_off;
	return (long)(io->in_len - io->in_off);
}

void
io_consume(struct io *io, size_t n)
{
	size_t have = io->in_len - io->in_off;

	io->in_off += n < have ? n : have;
	if (io->in_off == io->in_len)
		io->in_off = io->in_len = 0;
}

void
io_set_inbuf(struct io *io, unsigned char *buf, size_t size)
{
	size_t have = io->in_len - io->in_off;

	if (buf == io->inp || size <= io->in_cap)
		return;
	memcpy(buf, io->inp + io->in_off, have);
	io->in_off = 0;
	io->in_len = have;
	io->inp = buf;
	io->in_cap = size;
}

size_t
io_pending(const struct io *io)
{
	size_t n = io->in_len - io->in_off;

	if (io->tls != NULL)
		n += tls_pending(io->tls);
	return n;
}

size_t
io_discard_pending(struct io *io)
{
	size_t n = io->in_len - io->in_off;

	io->in_off = io->in_len = 0;
	return n;
}

int
io_move_pending(struct io *from, struct io *to)
{
	size_t n = from->in_len - from->in_off;

	if (n > to->in_cap - to->in_len) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(to->inp + to->in_len, from->inp + from->in_off, n);
	to->in_len += n;
	from->in_off = from->in_len = 0;
	return 0;
}

void
io_wipe_consumed(struct io *io)
{
	/* consumed: before in_off, and anything past in_len (old bytes,
	 * or copies left behind by the compaction in io_getline) */
	explicit_bzero(io->inp, io->in_off);
	explicit_bzero(io->inp + io->in_len, io->in_cap - io->in_len);
	if (io->inp != io->in)
		explicit_bzero(io->in, sizeof io->in);
	if (io->tls != NULL)
		tls_wipe_consumed(io->tls);
}

void
io_use_tls(struct io *io, struct tls *t)
{
	io->in_off = io->in_len = 0;
	io->tls = t;
}
