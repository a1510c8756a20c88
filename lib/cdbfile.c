/* cdbfile.c - CDB look-ups guarded against SIGBUS on the mapping. */
#include "cdbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
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
	struct cdb c;
	volatile int r = -1;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (cdb_init(&c, fd) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = cdbfile_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(cdbfile_jmp, 1) == 0) {
		cdbfile_armed = 1;
		r = fn(&c, arg);
		cdbfile_armed = 0;
		e = errno;
	} else {
		cdbfile_armed = 0;
		r = -1;
		e = EIO;
	}
	sigaction(SIGBUS, &old, NULL);
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
