/* dircache.c - a saved copy of one directory's getdents64 records, keyed
 * on the directory's stamp (dircache.h). Every failure to save is
 * silent (a cache); every doubt when reading means "no cache". */
#include "dircache.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

static const char magic[16] = "postern-dcache1";

struct header {
	char magic[16];
	int64_t stamp[6];
	uint64_t total;
};

int dircache_untrusted_fs(int fd)
{
	static const unsigned long shared[] = {
		0x65735546UL,   /* FUSE (GlusterFS, sshfs, ...) */
		0x6969UL,       /* NFS */
		0x517bUL,       /* SMB */
		0xff534d42UL,   /* CIFS */
		0xfe534d42UL,   /* SMB2 */
		0x00c36400UL,   /* Ceph */
		0x01021997UL,   /* 9P */
		0x5346414fUL,   /* AFS */
		0x6b414653UL,   /* kAFS */
		0x01161970UL,   /* GFS2 */
		0x7461636fUL,   /* OCFS2 */
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
		if ((unsigned long)sf.f_type == shared[i])
			return 1;
	return 0;
}

void dircache_stamp(const struct stat *st, struct dircache_stamp *s)
{
	s->v[0] = (int64_t)st->st_dev;
	s->v[1] = (int64_t)st->st_ino;
	s->v[2] = (int64_t)st->st_mtim.tv_sec;
	s->v[3] = (int64_t)st->st_mtim.tv_nsec;
	s->v[4] = (int64_t)st->st_ctim.tv_sec;
	s->v[5] = (int64_t)st->st_ctim.tv_nsec;
}

/* read() of exactly n octets: 1, 0 at EOF before any octet, -1 short or
 * failed. */
static int read_exact(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

int dircache_open(const char *path, const struct dircache_stamp *s,
    uint64_t *total_r)
{
	struct header h;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read_exact(fd, &h, sizeof h) != 1 ||
	    memcmp(h.magic, magic, sizeof magic) != 0 ||
	    memcmp(h.stamp, s->v, sizeof h.stamp) != 0 ||
	    h.total > (uint64_t)1 << 32) {
		close(fd);
		return -1;
	}
	*total_r = h.total;
	return fd;
}

ssize_t dircache_next(int fd, void *buf, size_t room, uint64_t total,
    uint64_t *done)
{
	uint32_t len;
	int r = read_exact(fd, &len, sizeof len);

	if (r == 0)
		return *done == total ? 0 : -1;
	if (r < 0 || len == 0 || len > room || len > DIRCACHE_CHUNK_MAX ||
	    len > total - *done || read_exact(fd, buf, len) != 1)
		return -1;
	*done += len;
	return (ssize_t)len;
}

void dircache_begin(struct dircache_writer *w, const char *path,
    const struct dircache_stamp *s, const struct timespec *before)
{
	struct header h;
	int64_t last = s->v[2] > s->v[4] ? s->v[2] : s->v[4];

	w->fd = -1;
	w->total = 0;
	w->st = *s;
	/* A change after our fstat is stamped with a time >= before. If the
	 * stamp we hold is DIRCACHE_SETTLE s older than that, the change
	 * cannot share its tick, and the copy goes stale as it must. */
	if ((int64_t)before->tv_sec - last < DIRCACHE_SETTLE)
		return;
	if (fsutil_path(w->path, sizeof w->path, "%s", path) < 0 ||
	    fsutil_path(w->tmp, sizeof w->tmp, "%s.tmp", path) < 0)
		return;
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (w->fd < 0)
		return;
	memset(&h, 0, sizeof h);           /* the real header comes last */
	if (fsutil_write_all(w->fd, &h, sizeof h) < 0)
		dircache_abort(w);
}

void dircache_chunk(struct dircache_writer *w, const void *p, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (w->fd < 0 || len == 0)
		return;
	if (len > DIRCACHE_CHUNK_MAX ||
	    fsutil_write_all(w->fd, &n, sizeof n) < 0 ||
	    fsutil_write_all(w->fd, p, len) < 0) {
		dircache_abort(w);
		return;
	}
	w->total += len;
}

void dircache_commit(struct dircache_writer *w)
{
	struct header h;
	int fd = w->fd;

	if (fd < 0)
		return;
	memcpy(h.magic, magic, sizeof magic);
	memcpy(h.stamp, w->st.v, sizeof h.stamp);
	h.total = w->total;
	if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		dircache_abort(w);
		return;
	}
	w->fd = -1;
	if (close(fd) < 0 || rename(w->tmp, w->path) < 0)
		unlink(w->tmp);
}

void dircache_abort(struct dircache_writer *w)
{
	if (w->fd < 0)
		return;
	close(w->fd);
	w->fd = -1;
	unlink(w->tmp);
}
