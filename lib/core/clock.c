/* clock.c - absolute deadlines (monotonic milliseconds) and the one
 * poll() wrapper every blocking wait goes through. */
#include <errno.h>
#include <limits.h>
#include <poll.h>

#include "clock.h"
#include "util.h"

int64_t
deadline_min(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

int64_t
deadline_in(unsigned seconds)
{
	if (seconds == 0)
		return 0;
	return clock_ms() + (int64_t)seconds * 1000;
}

int
fd_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p;
	int64_t left;
	int ms, r;

	for (;;) {
		if (deadline == 0)
			ms = -1;
		else {
			left = deadline - clock_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return 0;
			}
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		r = poll(&p, 1, ms);
		if (r > 0) {
			if (p.revents & POLLNVAL) {
				errno = EBADF;
				return -1;
			}
			return 1;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		/* timeout or EINTR: loop re-checks the deadline */
	}
}
