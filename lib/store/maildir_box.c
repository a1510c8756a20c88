/* maildir_box.c - the maildir as a whole: creating it, walking new/,
 * cur/ or tmp/ (a small listing, no arena), fsyncing new/ and cur/, the
 * per-session lock, usage sums for quotas (from names, never reading a
 * message) and the tmp/ sweeper. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildir.h"
#include "maildir_int.h"

int maildir_make(const char *path)
{
	/* tmp/ last: whoever finds tmp/ may rely on new/ and cur/ */
	static const char *const sub[] = { "new", "cur", "tmp" };
	char buf[MAILDIR_PATH_MAX];
	size_t i;

	if (fsutil_mkdir_p(path) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		if (fsutil_path(buf, sizeof(buf), "%s/%s", path, sub[i]) < 0 ||
		    (mkdir(buf, 0700) < 0 && errno != EEXIST))
			return -1;
	}
	return 0;
}

int maildir_walk(const char *maildir, const char *sub, int every,
    int (*fn)(void *ctx, int dfd, const char *name, size_t len), void *ctx)
{
	unsigned char buf[DIRBUF_SMALL];
	char path[MAILDIR_PATH_MAX];
	struct fsutil_dir dir;
	const char *name;
	unsigned char type;
	size_t len;
	int r;

	if (fsutil_path(path, sizeof(path), "%s/%s", maildir, sub) < 0)
		return -1;
	if (fsutil_dir_open(&dir, path, buf, sizeof(buf)) < 0)
		return errno == ENOENT ? 0 : -1;
	while ((r = fsutil_dir_next(&dir, &name, &len, &type)) > 0) {
		if (!every && (name[0] == '.' ||
		    (type != DT_REG && type != DT_UNKNOWN)))
			continue;
		if ((r = fn(ctx, dir.fd, name, len)) != 0)
			break;
	}
	fsutil_dir_close(&dir);          /* errno kept */
	return r;
}

int maildir_sync(const char *maildir)
{
	char path[MAILDIR_PATH_MAX];
	int r = 0;

	if (fsutil_path(path, sizeof(path), "%s/new", maildir) < 0)
		return -1;
	if (fsutil_fsync_dir(path) < 0 && errno != ENOENT)
		r = -1;
	if (fsutil_path(path, sizeof(path), "%s/cur", maildir) < 0)
		return -1;
	if (fsutil_fsync_dir(path) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int maildir_lock(const char *maildir)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	if (fsutil_path(path, sizeof(path), "%s/.postern-lock", maildir) < 0)
		return -1;
	fd = fsutil_lock(path, 0);
	if (fd < 0 && errno == ENOENT) {
		if (maildir_make(maildir) < 0)
			return -1;
		fd = fsutil_lock(path, 0);
	}
	return fd;
}

/* Quota size of dir/name without reading it: W from the name, else S
 * from the name, else its size on disk (one fstatat). 0, 1 when it is
 * gone or not a regular file, -1. */
static int usage_one(int dfd, const char *name, size_t len, uint64_t *w_r)
{
	const char *colon = memchr(name, ':', len);
	size_t base = colon ? (size_t)(colon - name) : len;
	struct stat st;

	*w_r = maildir_name_size_w(name, base);
	if (*w_r == MAILDIR_SIZE_UNKNOWN)
		*w_r = maildir_name_size(name, base, 'S');
	if (*w_r != MAILDIR_SIZE_UNKNOWN)
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : -1;
	if (!S_ISREG(st.st_mode))
		return 1;
	*w_r = (uint64_t)st.st_size;
	return 0;
}

struct usage {
	uint64_t bytes, count;
};

static int usage_add(void *ctx, int dfd, const char *name, size_t len)
{
	struct usage *u = ctx;
	uint64_t w;
	int r = usage_one(dfd, name, len, &w);

	if (r < 0)
		return -1;
	if (r == 0) {                   /* r > 0: gone meanwhile */
		u->bytes += w;
		u->count++;
	}
	return 0;
}

int maildir_usage(const char *maildir, uint64_t *bytes_r, uint64_t *count_r)
{
	struct usage u = { 0, 0 };

	if (maildir_walk(maildir, "new", 0, usage_add, &u) < 0 ||
	    maildir_walk(maildir, "cur", 0, usage_add, &u) < 0)
		return -1;
	*bytes_r = u.bytes;
	*count_r = u.count;
	return 0;
}

/* maildir_walk callback of the tmp/ sweep: removes name when it is not
 * a directory and older than the cut-off; never stops the walk. */
static int clean_one(void *ctx, int dfd, const char *name, size_t len)
{
	const time_t *cutoff = ctx;
	struct stat st;

	(void)len;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    S_ISDIR(st.st_mode))
		return 0;
	if (st.st_mtime < *cutoff)
		unlinkat(dfd, name, 0);
	return 0;
}

void maildir_clean_tmp(const char *maildir, unsigned max_age)
{
	time_t cutoff = time(NULL) - (time_t)max_age;

	(void)maildir_walk(maildir, "tmp", 1, clean_one, &cutoff);
}
