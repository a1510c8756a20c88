/* fuzz_util.c - helpers shared by the fuzz targets (see fuzz.h). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "FUZZ CHECK FAILED: %s:%d: %s\n", file, line, what);
	abort();
}

static char scratch[512];

/* Removes everything inside the directory open at dfd (closed here),
 * depth first; getdents64 into a buffer on the stack, no allocation
 * (the session targets empty their mailboxes before every input, and a
 * DIR's buffer per directory would cost a fresh allocation each time). */
static void empty_at(int dfd, int depth)
{
	char buf[8192];
	long n;

	if (dfd < 0)
		return;
	while ((n = getdents64(dfd, buf, sizeof buf)) > 0) {
		long off = 0;

		while (off < n) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);

			off += d->d_reclen;
			if (d->d_name[0] == '.' && (!d->d_name[1] ||
			    (d->d_name[1] == '.' && !d->d_name[2])))
				continue;
			if (d->d_type == DT_DIR && depth < 16) {
				empty_at(openat(dfd, d->d_name, O_RDONLY |
				    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
				    depth + 1);
				unlinkat(dfd, d->d_name, AT_REMOVEDIR);
			} else if (unlinkat(dfd, d->d_name, 0) < 0 &&
			    errno == EISDIR) {
				empty_at(openat(dfd, d->d_name, O_RDONLY |
				    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
				    depth + 1);
				unlinkat(dfd, d->d_name, AT_REMOVEDIR);
			}
		}
	}
	close(dfd);
}

void fuzz_empty_dir(const char *dir)
{
	empty_at(open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
	    0);
}

static pid_t scratch_owner;

static void scratch_remove(void)
{
	if (scratch[0] && getpid() == scratch_owner) {
		fuzz_empty_dir(scratch);
		rmdir(scratch);
	}
}

const char *fuzz_scratch(const char *name)
{
	const char *base = getenv("FUZZ_TMPDIR");
	struct stat st;

	if (scratch[0])
		return scratch;
	if (!base || !base[0])
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(scratch, sizeof scratch, "%s/postern-fuzz-%s.XXXXXX", base,
	    name);
	if (!mkdtemp(scratch)) {
		perror(scratch);
		abort();
	}
	scratch_owner = getpid();
	atexit(scratch_remove);
	return scratch;
}

void fuzz_write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	if (fd < 0) {
		perror(path);
		abort();
	}
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror(path);
			abort();
		}
		p += w;
		n -= (size_t)w;
	}
	close(fd);
}

int fuzz_memfd(const void *data, size_t n)
{
	const char *p = data;
	int fd = memfd_create("fuzz-input", 0);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			perror("memfd write");
			abort();
		}
		p += w;
		n -= (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

void fuzz_split(const uint8_t *data, size_t size, uint8_t sep,
    const uint8_t **a, size_t *alen, const uint8_t **b, size_t *blen)
{
	const uint8_t *s = memchr(data, sep, size);

	*a = data;
	if (!s) {
		*alen = size;
		*b = data + size;
		*blen = 0;
		return;
	}
	*alen = (size_t)(s - data);
	*b = s + 1;
	*blen = size - *alen - 1;
}
