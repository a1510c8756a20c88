/* fdio.c - raw I/O on a connection descriptor with an absolute
 * deadline: one read or one write that never blocks past it. The line
 * reader (io.c) and the TLS record layer (tls_io.c) both sit on it, so
 * neither needs the other for bytes on the wire. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "fdio.h"

/* The loop of io_fd_read (out 0: into rbuf) and io_fd_write (out 1:
 * from wbuf): a non-blocking socket call, else (ENOTSOCK: a pipe or tty) a
 * wait, then one read or write that cannot block because data or room
 * is there (POLLOUT on a pipe promises room for PIPE_BUF bytes). */
static long
fd_transfer(int fd, int out, void *rbuf, const void *wbuf, size_t n,
    int64_t deadline)
{
	short ev = out ? POLLOUT : POLLIN;
	ssize_t r;
	int w;

	for (;;) {
		if (!out)
			r = recv(fd, rbuf, n, MSG_DONTWAIT);
		else
			r = send(fd, wbuf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return (long)r;
		if (errno == EINTR)
			continue;
		if (errno == ENOTSOCK) {
			w = fd_wait(fd, ev, deadline);
			if (w <= 0)
				return -1;
			if (!out)
				r = read(fd, rbuf, n);
			else
				r = write(fd, wbuf, n > PIPE_BUF ? PIPE_BUF : n);
			if (r >= 0)
				return (long)r;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		w = fd_wait(fd, ev, deadline);
		if (w <= 0)
			return -1;
	}
}

long
io_fd_read(int fd, void *buf, size_t n, int64_t deadline)
{
	return fd_transfer(fd, 0, buf, NULL, n, deadline);
}

long
io_fd_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	return fd_transfer(fd, 1, NULL, buf, n, deadline);
}
