/* maildir_box.c - the maildir as a whole: creating it, opening new/ or
 * cur/ for a small listing, fsyncing new/ and cur/, the per-session
 * lock, usage sums for quotas (from names, never reading a message) and
 * the tmp/ sweeper. */
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

/* Opens maildir/sub for listing into buf[size]: 1, 0 when it does not
 * exist, -1 (errno). */
int maildir_open_sub(struct fsutil_dir *dir, const char *maildir,
    const char *sub, void *buf, size_t size)
{
	char path[MAILDIR_PATH_MAX];

	if (fsutil_path(path, sizeof(path), "%s/%s", maildir, sub) < 0)
		return -1;
	if (fsutil_dir_open(dir, path, buf, size) < 0)
		return errno == ENOENT ? 0 : -1;
	return 1;
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

int maildir_usage(const char *maildir, uint64_t *bytes_r, uint64_t *count_r)
{
	static const char *const sub[] = { "new", "cur" };
	unsigned char buf[DIRBUF_SMALL];
	uint64_t bytes = 0, count = 0;
	size_t k;

	for (k = 0; k < 2; k++) {
		struct fsutil_dir dir;
		const char *name;
		unsigned char type;
		size_t len;
		uint64_t w;
		int r;

		if ((r = maildir_open_sub(&dir, maildir, sub[k], buf, sizeof(buf))) <= 0) {
			if (r == 0)
				continue;
			return -1;
		}
		while ((r = fsutil_dir_next(&dir, &name, &len, &type)) > 0) {
			if (name[0] == '.' || (type != DT_REG &&
			    type != DT_UNKNOWN))
				continue;
			r = usage_one(dir.fd, name, len, &w);
			if (r < 0)
				break;
			if (r > 0)
				continue;        /* gone meanwhile */
			bytes += w;
			count++;
		}
		fsutil_dir_close(&dir);
		if (r < 0)
			return -1;
	}
	*bytes_r = bytes;
	*count_r = count;
	return 0;
}

void maildir_clean_tmp(const char *maildir, unsigned max_age)
{
	unsigned char buf[DIRBUF_SMALL];
	char path[MAILDIR_PATH_MAX];
	struct fsutil_dir dir;
	const char *name;
	unsigned char type;
	size_t len;
	time_t now = time(NULL);

	if (fsutil_path(path, sizeof(path), "%s/tmp", maildir) < 0 ||
	    fsutil_dir_open(&dir, path, buf, sizeof(buf)) < 0)
		return;
	while (fsutil_dir_next(&dir, &name, &len, &type) > 0) {
		struct stat st;
		if (fstatat(dir.fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (st.st_mtime + (time_t)max_age < now)
			unlinkat(dir.fd, name, 0);
	}
	fsutil_dir_close(&dir);
}
