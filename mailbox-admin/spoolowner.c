/* spoolowner.c - mailbox-admin's switch to the spool's owner for the
 * queue commands (see spoolowner.h). */
#include "spoolowner.h"
#include "fsutil.h"
#include "startup.h"
#include "util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUPS_CHECK 256

static char msg[1200];

static int refuse(const char **error_r, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
refuse(const char **error_r, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	*error_r = msg;
	errno = e;
	return -1;
}

int
spool_become_owner(const char *spool, const char **error_r)
{
	char name[256], uidtext[32];
	gid_t groups[GROUPS_CHECK];
	struct passwd *pw;
	struct stat st;
	const char *err = NULL;
	size_t fail;
	int fd, n, i;

	if (geteuid() != 0)
		return 0;
	fd = fsutil_open_dir_nofollow(spool, strlen(spool), NULL, &fail);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (e == ELOOP)
			return refuse(error_r, e, "spool %s: a symbolic link in "
			    "the path (not followed when deciding whose spool "
			    "it is; give the real path)", spool);
		return refuse(error_r, e, "spool %s: %s", spool, strerror(e));
	}
	close(fd);
	if (st.st_uid == 0)
		return refuse(error_r, EPERM, "spool %s is owned by root: the "
		    "queue commands act as the spool's owner, which must be "
		    "the service user (chown -R postern:postern %s)", spool,
		    spool);
	snprintf(uidtext, sizeof uidtext, "%lu", (unsigned long)st.st_uid);
	pw = getpwuid(st.st_uid);
	if (pw == NULL)
		return refuse(error_r, EPERM, "spool %s is owned by uid %s, "
		    "which has no passwd entry", spool, uidtext);
	if (pw->pw_gid == 0)
		return refuse(error_r, EPERM, "spool %s: its owner %s has "
		    "group root", spool, pw->pw_name);
	copy_str(name, sizeof name, pw->pw_name);
	if (startup_drop_user(name, &err) < 0)
		return refuse(error_r, EPERM, "cannot become the owner of "
		    "spool %s: %s", spool, err);
	/* the name found in /etc/passwd must be the owner itself, and no
	 * root is left: not the uid, not a group */
	n = getgroups(GROUPS_CHECK, groups);
	if (getuid() != st.st_uid || geteuid() != st.st_uid ||
	    getgid() == 0 || getegid() == 0 || n < 0)
		return refuse(error_r, EPERM, "spool %s: switched to %s, but "
		    "not to the spool's owner", spool, name);
	for (i = 0; i < n; i++)
		if (groups[i] == 0)
			return refuse(error_r, EPERM, "spool %s: its owner %s "
			    "is in group root", spool, name);
	return 0;
}
