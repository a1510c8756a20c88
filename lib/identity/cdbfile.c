/* cdbfile.c - CDB look-ups guarded against SIGBUS on the mapping. */
#include "cdbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sigjmp_buf cdbfile_jmp;
static volatile sig_atomic_t cdbfile_armed;

static void cdbfile_sigbus(int sig)
{
	if (!cdbfile_armed) {
		/* not ours: die of the signal as we would have */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(cdbfile_jmp, 1);
}

int cdbfile_run(const char *path, int (*fn)(struct cdb *c, void *arg),
    void *arg)
{
	struct sigaction sa, old;
	struct stat before, after;
	static struct cdb c;
	static volatile int mapped;
	volatile int r = -1, e = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &before) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cdbfile_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	mapped = 0;
	/* cdb_init() itself reads the mapping: guard it too */
	if (sigsetjmp(cdbfile_jmp, 1) == 0) {
		cdbfile_armed = 1;
		if (cdb_init(&c, fd) != 0) {
			e = errno;
		} else {
			mapped = 1;
			r = fn(&c, arg);
			e = errno;
		}
		cdbfile_armed = 0;
	} else {
		cdbfile_armed = 0;
		r = -1;
		e = EIO;
	}
	sigaction(SIGBUS, &old, NULL);
	/* Rewritten in place while we read (a partial last page reads as
	 * zeros, not SIGBUS): the answer may be wrong, so it is an error. */
	if (r >= 0 && (fstat(fd, &after) < 0 ||
	    after.st_size != before.st_size ||
	    after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
	    after.st_ctim.tv_nsec != before.st_ctim.tv_nsec)) {
		r = -1;
		e = ESTALE;
	}
	if (mapped)
		cdb_free(&c);
	close(fd);
	errno = e;
	return r;
}

const unsigned char *cdbfile_map(const struct cdb *c, unsigned *size_r)
{
	*size_r = c->cdb_fsize;
	return c->cdb_mem;
}
