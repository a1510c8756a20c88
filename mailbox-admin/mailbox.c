/* mailbox.c - maildir creation with ownership, careful removal (no
 * symlink is ever followed), and usage counts for mailbox-admin. */
#include "mailbox.h"
#include "admin.h"
#include "fsutil.h"
#include "maildir.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMOVE_DEPTH_MAX 8

void
mailbox_owner(const char *name, struct mailbox_owner *o)
{
	struct passwd *pw;

	memset(o, 0, sizeof *o);
	if (name == NULL) {
		if (geteuid() != 0)
			return;
		pw = getpwnam(ADMIN_OWNER_DEFAULT);
		if (pw == NULL)
			return;
	} else {
		pw = getpwnam(name);
		if (pw == NULL)
			die(EX_NOUSER, "--owner: no such user '%.64s'", name);
		if (geteuid() != 0 && pw->pw_uid != geteuid())
			die(EX_NOPERM, "--owner %s needs root", name);
	}
	o->set = 1;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
}

/* Why a walk failed, for messages: the offending prefix of path and
 * what is wrong with it (errno from fsutil_open_dir_nofollow). */
static const char *
walk_error(const char *path, size_t fail, int e)
{
	static char buf[MAILDIR_PATH_MAX + 160];
	const char *what;

	switch (e) {
	case ELOOP:
		what = "is a symbolic link (never followed in a maildir path: "
		    "give the real path)";
		break;
	case ENOTDIR:
		what = "is not a directory";
		break;
	case EAGAIN:
		what = "changed while it was being walked or created (a link "
		    "or another directory swapped in); nothing done there";
		break;
	case EINVAL:
		what = "is not a clean absolute path";
		break;
	default:
		what = strerror(e);
		break;
	}
	if (fail == 0 || fail > strlen(path))
		fail = strlen(path);
	snprintf(buf, sizeof buf, "%.*s: %s", (int)fail, path, what);
	return buf;
}

/* Splits path (absolute, trailing slashes ignored) into the length of
 * its parent and its last component copied to name[MAILDIR_PATH_MAX].
 * -1 for "/", a relative path or one too long. */
static int
split_path(const char *path, size_t *plen_r, char *name)
{
	size_t len = strlen(path), i;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (path[0] != '/' || len <= 1 || len + 5 >= MAILDIR_PATH_MAX)
		return -1;
	for (i = len; path[i - 1] != '/'; i--)
		;
	memcpy(name, path + i, len - i);
	name[len - i] = '\0';
	*plen_r = i > 1 ? i - 1 : 1;
	return 0;
}

int
mailbox_create(const char *path, const struct mailbox_owner *o)
{
	/* tmp/ last: whoever finds tmp/ may rely on new/ and cur/ */
	static const char *const sub[] = { "new", "cur", "tmp" };
	char name[MAILDIR_PATH_MAX];
	struct fsutil_mkdirs mk;
	struct stat st;
	size_t plen, fail, i;
	int pfd, mfd, fd, existed;

	if (split_path(path, &plen, name) < 0) {
		warnx_("%s: not an absolute path of at most %d octets", path,
		    MAILDIR_PATH_MAX - 6);
		return -1;
	}
	memset(&mk, 0, sizeof mk);
	mk.mode = 0700;
	mk.chown = o->set;
	mk.uid = o->uid;
	mk.gid = o->gid;
	/* parents, one component at a time, never through a link */
	pfd = fsutil_open_dir_nofollow(path, plen, &mk, &fail);
	if (pfd < 0) {
		warnx_("%s", walk_error(path, fail, errno));
		return -1;
	}
	existed = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (existed && !S_ISDIR(st.st_mode)) {
		close(pfd);
		warnx_("%s: %s", path, S_ISLNK(st.st_mode) ? "is a symbolic "
		    "link; left alone" : "exists and is not a directory");
		return -1;
	}
	mk.created = 0;
	mfd = fsutil_openat_dir(pfd, name, &mk);
	if (mfd < 0) {
		warnx_("%s", walk_error(path, 0, errno));
		close(pfd);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		fd = fsutil_openat_dir(mfd, sub[i], &mk);
		if (fd < 0) {
			char full[MAILDIR_PATH_MAX];
			int e = errno;

			snprintf(full, sizeof full, "%s/%s", path, sub[i]);
			warnx_("%s", walk_error(full, 0, e));
			close(mfd);
			close(pfd);
			return -1;
		}
		close(fd);
	}
	if (mk.created > 0 && (fsync(mfd) < 0 || fsync(pfd) < 0)) {
		warnx_("%s: fsync: %s", path, strerror(errno));
		close(mfd);
		close(pfd);
		return -1;
	}
	close(mfd);
	close(pfd);
	return 0;
}

/* 1 when name in pfd is a real directory holding real tmp/, new/ and
 * cur/ directories (*st_r filled in), 0 when it does not exist, -1 when
 * it is something else (*why says what). */
static int
maildir_at(int pfd, const char *name, struct stat *st_r, const char **why)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct stat st;
	size_t i;
	int fd;

	if (fstatat(pfd, name, st_r, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		*why = strerror(errno);
		return -1;
	}
	if (S_ISLNK(st_r->st_mode)) {
		*why = "is a symbolic link";
		return -1;
	}
	if (!S_ISDIR(st_r->st_mode)) {
		*why = "is not a directory";
		return -1;
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		if (fstatat(fd, sub[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			close(fd);
			*why = "does not look like a maildir (no tmp/, new/ "
			    "and cur/ directories)";
			return -1;
		}
	}
	close(fd);
	return 1;
}

/* Opens the parent of the maildir path without following links: fd, or
 * -1 with *why (and errno ENOENT when a component is missing). */
static int
open_parent(const char *path, char *name, const char **why)
{
	size_t plen, fail;
	int pfd, e;

	if (split_path(path, &plen, name) < 0) {
		*why = "not an absolute path below /";
		errno = EINVAL;
		return -1;
	}
	pfd = fsutil_open_dir_nofollow(path, plen, NULL, &fail);
	if (pfd < 0) {
		e = errno;
		*why = walk_error(path, fail, e);
		errno = e;
	}
	return pfd;
}

int
mailbox_is_maildir(const char *path, const char **why)
{
	char name[MAILDIR_PATH_MAX];
	struct stat st;
	int pfd, r;

	pfd = open_parent(path, name, why);
	if (pfd < 0)
		return errno == ENOENT ? 0 : -1;
	r = maildir_at(pfd, name, &st, why);
	close(pfd);
	return r;
}

/* Removes the entry name in dfd, recursing into directories (opened
 * O_NOFOLLOW, same device). 0 / -1. */
static int
remove_at(int dfd, const char *name, dev_t dev, int depth,
    const char *top)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	if (depth >= REMOVE_DEPTH_MAX) {
		warnx_("%s: nested too deeply; left alone", top);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* the device of what was opened, not of what was looked at */
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		close(fd);
		warnx_("%s: '%s' is on another file system; left alone", top,
		    name);
		return -1;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_at(fd, de->d_name, dev, depth + 1, top) < 0)
			r = -1;
	}
	if (errno != 0)
		r = -1;
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int
mailbox_remove(const char *path)
{
	char name[MAILDIR_PATH_MAX];
	const char *why = NULL;
	struct stat st;
	int pfd, r;

	/* walked and checked again: the path may have changed since the
	 * caller's mailbox_is_maildir() */
	pfd = open_parent(path, name, &why);
	if (pfd < 0) {
		warnx_("%s; left alone", why);
		return -1;
	}
	r = maildir_at(pfd, name, &st, &why);
	if (r <= 0) {
		close(pfd);
		if (r == 0)
			warnx_("%s: no longer exists", path);
		else
			warnx_("%s: %s; left alone", path, why);
		return r == 0 ? 0 : -1;
	}
	errno = 0;
	r = remove_at(pfd, name, st.st_dev, 0, path);
	if (r == 0)
		fsync(pfd);
	else
		warnx_("%s: could not remove everything: %s", path,
		    errno ? strerror(errno) : "see above");
	close(pfd);
	return r;
}

int
mailbox_usage(const char *path, uint64_t *new_n, uint64_t *new_bytes,
    uint64_t *cur_n, uint64_t *cur_bytes)
{
	struct maildir_list l;
	uint64_t size;
	size_t i;

	memset(&l, 0, sizeof l);
	*new_n = *new_bytes = *cur_n = *cur_bytes = 0;
	if (maildir_scan(path, &l) < 0)
		return -1;
	for (i = 0; i < l.n; i++) {
		if (maildir_msg_size(path, &l, i, &size) < 0) {
			if (errno == ENOENT)
				continue;
			maildir_list_free(&l);
			return -1;
		}
		if (l.msg[i].in_new) {
			(*new_n)++;
			*new_bytes += size;
		} else {
			(*cur_n)++;
			*cur_bytes += size;
		}
	}
	maildir_list_free(&l);
	return 0;
}
