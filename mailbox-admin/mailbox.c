/* mailbox.c - maildir creation with ownership, careful removal (no
 * symlink is ever followed), and usage counts for mailbox-admin. */
#include "mailbox.h"
#include "admin.h"
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

static int
own(const char *path, const struct mailbox_owner *o)
{
	if (!o->set)
		return 0;
	if (lchown(path, o->uid, o->gid) < 0) {
		warnx_("%s: chown: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
mailbox_create(const char *path, const struct mailbox_owner *o)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char buf[MAILDIR_PATH_MAX];
	size_t len = strlen(path), i;
	struct stat st;
	int existed;

	if (path[0] != '/' || len + 5 >= sizeof buf) {
		warnx_("%s: not an absolute path of at most %zu octets", path,
		    sizeof buf - 6);
		return -1;
	}
	/* parents, one component at a time */
	memcpy(buf, path, len + 1);
	for (i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) == 0) {
			if (own(buf, o) < 0)
				return -1;
		} else if (errno != EEXIST) {
			warnx_("%s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = '/';
	}
	existed = lstat(path, &st) == 0;
	if (existed && !S_ISDIR(st.st_mode)) {
		warnx_("%s: exists and is not a directory", path);
		return -1;
	}
	if (maildir_make(path) < 0) {
		warnx_("%s: %s", path, strerror(errno));
		return -1;
	}
	if (existed)
		return 0;
	if (own(path, o) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		snprintf(buf, sizeof buf, "%s/%s", path, sub[i]);
		if (own(buf, o) < 0)
			return -1;
	}
	return 0;
}

int
mailbox_is_maildir(const char *path, const char **why)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct stat st;
	size_t i;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		*why = strerror(errno);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		*why = "is a symbolic link";
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why = "is not a directory";
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
	if (st.st_dev != dev) {
		warnx_("%s: '%s' is on another file system; left alone", top,
		    name);
		return -1;
	}
	if (depth >= REMOVE_DEPTH_MAX) {
		warnx_("%s: nested too deeply; left alone", top);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
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
	char parent[MAILDIR_PATH_MAX], name[MAILDIR_PATH_MAX];
	const char *slash;
	size_t len = strlen(path);
	struct stat st;
	int dfd, r;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (path[0] != '/' || len <= 1 || len >= sizeof parent) {
		warnx_("%s: refusing to remove", path);
		return -1;
	}
	memcpy(parent, path, len);
	parent[len] = '\0';
	slash = strrchr(parent, '/');
	copy_str(name, sizeof name, slash + 1);
	if (slash == parent)
		parent[1] = '\0';
	else
		parent[slash - parent] = '\0';
	dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		warnx_("%s: %s", parent, strerror(errno));
		return -1;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		close(dfd);
		warnx_("%s: not a directory; left alone", path);
		return -1;
	}
	r = remove_at(dfd, name, st.st_dev, 0, path);
	if (r == 0)
		fsync(dfd);
	else
		warnx_("%s: could not remove everything: %s", path,
		    errno ? strerror(errno) : "see above");
	close(dfd);
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
