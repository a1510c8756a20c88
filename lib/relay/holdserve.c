/* holdserve.c - the detached flusher of a hold node and the ETRN request
 * it serves, so that a permitted ETRN is never dropped and repeated
 * ETRNs never start a storm:
 *
 *   SPOOL/hold/NODE/.etrn-request  exists = a flush was asked for
 *   SPOOL/hold/NODE/.flusher       flock'ed by the node's one flusher
 *   SPOOL/hold/NODE/.etrn-stamp    mtime = start of the last asked pass
 *
 * ETRN records the request first, then starts a flusher only when none
 * holds .flusher. The flusher removes the request before each pass (so
 * every message held when the request was made is in that pass), starts
 * asked passes at least HOLDFLUSH_MIN_INTERVAL seconds apart, retries
 * deferred mail meanwhile, and after letting .flusher go looks at the
 * request once more (taking .flusher again if it is there): a request
 * made at any moment is served by the running flusher or a new one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "holdflush.h"
#include "log.h"
#include "queue.h"

#define HOLDFLUSH_RETRY_WINDOW  1800    /* deferred mail is retried this
                                           long after the flusher began */
#define HOLDFLUSH_BUSY_MAX      600     /* waits this long for another
                                           flush (mailbox-admin) to end */

/* SPOOL/hold/NODE/NAME into path[size]. 0 / -1. */
static int
node_file(const char *spool, const char *node, const char *name,
    char *path, size_t size)
{
	char q[ADDR_DOMAIN_MAX + 16];
	int n;

	if (queue_hold_name(node, q, sizeof q) < 0)
		return -1;
	n = snprintf(path, size, "%s/%s/%s", spool, q, name);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (futimens(fd, NULL) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int
holdflush_request(const char *spool, const char *node)
{
	char path[MAILDIR_PATH_MAX];

	if (node_file(spool, node, ".etrn-request", path, sizeof path) < 0)
		return -1;
	return touch(path);
}

/* Opens .flusher and tries to lock it: the fd (kept = we are the node's
 * flusher), or -1 (EWOULDBLOCK: another one is). */
static int
flusher_lock(const char *spool, const char *node)
{
	char path[MAILDIR_PATH_MAX];
	int fd, e;

	if (node_file(spool, node, ".flusher", path, sizeof path) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
holdflush_running(const char *spool, const char *node)
{
	int fd = flusher_lock(spool, node);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EWOULDBLOCK || errno == EAGAIN;
}

static int
requested(const char *spool, const char *node)
{
	char path[MAILDIR_PATH_MAX];
	struct stat st;

	return node_file(spool, node, ".etrn-request", path, sizeof path) == 0
	    && lstat(path, &st) == 0;
}

/* Takes the request (before the pass reads the queue), waits for the
 * end of the interval since the last asked pass and stamps this one.
 * -1 when the request cannot be removed (it would be served forever). */
static int
take_request(const struct holdflush_opts *o)
{
	char path[MAILDIR_PATH_MAX];
	struct stat st;
	time_t now = time(NULL);

	if (node_file(o->spool, o->node, ".etrn-stamp", path,
	    sizeof path) == 0 && lstat(path, &st) == 0 &&
	    S_ISREG(st.st_mode) &&
	    st.st_mtime <= now && now - st.st_mtime < HOLDFLUSH_MIN_INTERVAL) {
		unsigned wait = (unsigned)(HOLDFLUSH_MIN_INTERVAL -
		    (now - st.st_mtime));
		log_msg(LOG_INFO, "holdflush: node %s: next asked pass in %u s "
		    "(at most one every %d s)", o->node, wait,
		    HOLDFLUSH_MIN_INTERVAL);
		sleep(wait);
	}
	if (node_file(o->spool, o->node, ".etrn-stamp", path, sizeof path) < 0
	    || touch(path) < 0)
		log_msg(LOG_WARNING, "holdflush: node %s: cannot stamp the pass: "
		    "%s", o->node, strerror(errno));
	if (node_file(o->spool, o->node, ".etrn-request", path,
	    sizeof path) < 0 || (unlink(path) < 0 && errno != ENOENT)) {
		log_msg(LOG_ERR, "holdflush: node %s: cannot take the "
		    "request: %s", o->node, strerror(errno));
		return -1;
	}
	return 0;
}

/* One pass; another flush holding the queue (mailbox-admin queue flush)
 * is waited for, so the request is not lost. */
static int
pass(const struct holdflush_opts *o, int all, int64_t *due_r)
{
	unsigned waited = 0;
	int r;

	while ((r = holdflush_pass(o, all, due_r)) == 2 &&
	    waited < HOLDFLUSH_BUSY_MAX) {
		sleep(1);
		waited++;
	}
	return r == 2 ? 1 : r;
}

/* Serves requests and retries deferred mail while holding .flusher. */
static int
serve_locked(const struct holdflush_opts *o, int64_t start)
{
	int64_t due = 0;
	int r = 0;

	for (;;) {
		if (requested(o->spool, o->node)) {
			if (take_request(o) < 0)
				return -1;
			r = pass(o, 1, &due);
			if (r < 0)
				return r;
			continue;
		}
		if (r != 1 || due <= 0 || due - start > HOLDFLUSH_RETRY_WINDOW)
			return r;
		/* wait for the next retry; a request cuts the wait short */
		while ((int64_t)time(NULL) < due &&
		    !requested(o->spool, o->node))
			sleep(1);
		if (requested(o->spool, o->node))
			continue;
		r = pass(o, 0, &due);
		if (r < 0)
			return r;
	}
}

int
holdflush_serve(const struct holdflush_opts *o)
{
	int64_t start = (int64_t)time(NULL);
	int fd, r = 0;

	while ((fd = flusher_lock(o->spool, o->node)) >= 0) {
		r = serve_locked(o, start);
		close(fd);
		/* a request made after the last look and before the unlock
		 * found .flusher taken: it is ours to serve (not after an
		 * error: the next ETRN starts a new flusher) */
		if (r < 0 || !requested(o->spool, o->node))
			break;
	}
	return r < 0 ? 1 : 0;
}
