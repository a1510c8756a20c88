/* fdio.h - raw connection-descriptor I/O with absolute deadlines, the
 * layer below both the line reader (io.h) and TLS (tls.h). */
#ifndef POSTERN_FDIO_H
#define POSTERN_FDIO_H

#include <stddef.h>
#include <stdint.h>

/* Raw connection-fd helpers (io.c and tls_io.c). Sockets are driven
 * with MSG_DONTWAIT (no O_NONBLOCK is set on shared descriptions, no
 * SIGPIPE); pipes are polled first and written at most PIPE_BUF bytes
 * per wake-up, so no call blocks past the deadline (0 = none).
 * io_fd_read: one read, >0 bytes, 0 at EOF, -1 error or deadline
 * (errno ETIMEDOUT). io_fd_write: one write, >0 bytes written, -1. */
long io_fd_read(int fd, void *buf, size_t n, int64_t deadline);
long io_fd_write(int fd, const void *buf, size_t n, int64_t deadline);

#endif
