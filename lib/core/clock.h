/* clock.h - one poll() wrapper with absolute deadlines (monotonic ms).
 * Every blocking wait in postern goes through fd_wait(). */
#ifndef POSTERN_CLOCK_H
#define POSTERN_CLOCK_H

#include <stdint.h>

/* The earlier of two deadlines; 0 means "none". */
int64_t deadline_min(int64_t a, int64_t b);

/* Deadline seconds from now (0 seconds = none, returns 0). */
int64_t deadline_in(unsigned seconds);

/* Waits until fd is ready for events (POLLIN/POLLOUT) or the deadline
 * (absolute, clock_ms(); 0 = wait forever) passes.
 * Returns 1 ready (also on POLLHUP/POLLERR: the next read/write tells),
 * 0 deadline passed (errno ETIMEDOUT), -1 error. EINTR is retried. */
int fd_wait(int fd, short events, int64_t deadline);

#endif
