/* maildir_msg.c - operations on one message of a scanned list: its path,
 * open (following a rename by another program through its unique part),
 * size (measured once when the name has no ,W=), the move new/ -> cur/
 * without replacing, and delete.
 *
 * Concurrency: a POP3 session holds maildir_lock() for its whole life, so
 * the only other writers are deliveries (which only add files to new/)
 * and foreign programs (a MUA, another POP3 server). A message that such a
 * program moved from new/ to cur/ or renamed to change its flags is
 * found again by its unique part (the name up to ':'); one it deleted is
 * reported as such: maildir_msg_delete returns 1, maildir_msg_open and
 * maildir_msg_to_cur ENOENT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildir.h"
#include "maildir_int.h"

#define MEASURE_BUF  16384

int maildir_msg_relpath(const struct maildir_list *l, size_t i, char *buf,
    size_t size)
{
	const struct maildir_msg *m;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	m = &l->msg[i];
	if (size < (size_t)m->name_len + 5) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, m->in_new ? "new/" : "cur/", 4);
	memcpy(buf + 4, l->names + m->name_off, m->name_len);
	buf[4 + m->name_len] = '\0';
	return 0;
}

static int msg_path(const char *maildir, const struct maildir_list *l,
    size_t i, char *buf, size_t size)
{
	char rel[MAILDIR_NAME_MAX + 8];

	if (maildir_msg_relpath(l, i, rel, sizeof(rel)) < 0)
		return -1;
	return fsutil_path(buf, size, "%s/%s", maildir, rel);
}

/* Path of entry i in cur/ after the move ("NAME:2," unless it has ':'). */
static int cur_path(const char *maildir, const struct maildir_list *l,
    size_t i, char *buf, size_t size)
{
	const struct maildir_msg *m = &l->msg[i];
	const char *name = l->names + m->name_off;

	return fsutil_path(buf, size, "%s/cur/%.*s%s", maildir, (int)m->name_len,
	    name, m->uidl_len == m->name_len ? INFO_NEW : "");
}

/* Entry i takes the name name[0..len) in new/ or cur/: copied to the
 * arena's end (with room for ":2," after a new/ name without info, as the
 * scan leaves). 0 / -1. */
static int rename_entry(struct maildir_list *l, size_t i, const char *name,
    size_t len, int in_new)
{
	size_t need = len + INFO_NEW_LEN, cap = l->names_cap;

	if (len == 0 || len >= MAILDIR_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (cap - l->names_len < need &&
	    maildir_names_resize(l, cap + need > cap * 2 ? cap + need :
	    cap * 2) < 0)
		return -1;
	memcpy(l->names + l->names_len, name, len);
	l->msg[i].name_off = (uint32_t)l->names_len;
	l->msg[i].name_len = (uint16_t)len;
	l->msg[i].in_new = (uint16_t)(in_new ? 1 : 0);
	l->names_len += in_new && memchr(name, ':', len) == NULL ? need : len;
	return 0;
}

struct refind {
	struct maildir_list *l;
	size_t i;
	char uidl[MAILDIR_NAME_MAX];    /* a copy: rename_entry may move
	                                   the arena */
	size_t ulen;
	int in_new;
};

/* maildir_walk callback: 1 when name is the entry's message (the entry
 * took the name), 0 to go on, -1. */
static int refind_one(void *ctx, int dfd, const char *name, size_t len)
{
	struct refind *f = ctx;

	(void)dfd;                      /* names only */
	if (len < f->ulen || memcmp(name, f->uidl, f->ulen) != 0 ||
	    (len > f->ulen && name[f->ulen] != ':'))
		return 0;
	return rename_entry(f->l, f->i, name, len, f->in_new) < 0 ? -1 : 1;
}

int maildir_msg_refind(const char *maildir, struct maildir_list *l, size_t i)
{
	static const char *const sub[] = { "cur", "new" };
	struct refind f;
	size_t k;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	f.l = l;
	f.i = i;
	f.ulen = l->msg[i].uidl_len;
	if (f.ulen == 0 || f.ulen >= sizeof(f.uidl)) {
		errno = ENOENT;
		return -1;
	}
	memcpy(f.uidl, l->names + l->msg[i].name_off, f.ulen);
	for (k = 0; k < 2; k++) {
		int r;

		f.in_new = k == 1;
		r = maildir_walk(maildir, sub[k], 0, refind_one, &f);
		if (r != 0)
			return r > 0 ? 0 : -1;
	}
	errno = ENOENT;
	return -1;
}

static int open_msg(const char *maildir, const struct maildir_list *l,
    size_t i)
{
	char path[MAILDIR_PATH_MAX];
	int fd;

	if (msg_path(maildir, l, i, path, sizeof(path)) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && l->msg[i].in_new) {
		/* moved to cur/ by another program? */
		if (cur_path(maildir, l, i, path, sizeof(path)) < 0)
			return -1;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd;
}

int maildir_msg_open(const char *maildir, struct maildir_list *l, size_t i)
{
	int fd, tries;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	fd = open_msg(maildir, l, i);
	/* renamed (new flags) by another program: by its unique part; a
	 * few tries, as it may be renamed again meanwhile */
	for (tries = 0; fd < 0 && errno == ENOENT && tries < 3; tries++) {
		if (maildir_msg_refind(maildir, l, i) < 0)
			return -1;
		fd = open_msg(maildir, l, i);
	}
	return fd;
}

/* W size of the open file fd by reading it; closes fd. 0 / -1. */
static int measure_fd(int fd, uint64_t *w_r)
{
	unsigned char buf[MEASURE_BUF];
	uint64_t w = 0;
	int e;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		w += (uint64_t)r + maildir_count_lf(buf, (size_t)r);
	}
	close(fd);
	*w_r = w;
	return 0;
}

int maildir_msg_size(const char *maildir, struct maildir_list *l, size_t i,
    uint64_t *size_r)
{
	uint64_t w = 0;
	int fd;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	if (l->msg[i].size != MAILDIR_SIZE_UNKNOWN) {
		*size_r = l->msg[i].size;
		return 0;
	}
	fd = maildir_msg_open(maildir, l, i);
	if (fd < 0 || measure_fd(fd, &w) < 0)
		return -1;
	if (w == MAILDIR_SIZE_UNKNOWN)
		w--;
	l->msg[i].size = w;
	*size_r = w;
	return 0;
}

/* rename() that never replaces an existing file (a new/ name that
 * already carries ":2,..." may equal a cur/ name): EEXIST then, and the
 * message stays where it is. link+unlink where the file system has no
 * RENAME_NOREPLACE. */
static int move_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) < 0)
		return -1;
	if (unlink(from) < 0) {
		int e = errno;
		unlink(to);
		errno = e;
		return -1;
	}
	return 0;
}

int maildir_msg_to_cur(const char *maildir, struct maildir_list *l, size_t i)
{
	char from[MAILDIR_PATH_MAX], to[MAILDIR_PATH_MAX];
	struct maildir_msg *m;
	struct stat st;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	m = &l->msg[i];
	if (!m->in_new)
		return 0;
	if (msg_path(maildir, l, i, from, sizeof(from)) < 0 ||
	    cur_path(maildir, l, i, to, sizeof(to)) < 0)
		return -1;
	if (move_noreplace(from, to) < 0) {
		/* another program may have moved it already: follow it */
		if (errno != ENOENT || lstat(to, &st) < 0)
			return -1;
	}
	if (m->uidl_len == m->name_len) {
		/* scan left room for the info after every new/ name */
		memcpy(l->names + m->name_off + m->name_len, INFO_NEW,
		    INFO_NEW_LEN);
		m->name_len += INFO_NEW_LEN;
	}
	m->in_new = 0;
	return 0;
}

/* Unlinks entry i where it is: new/ or cur/ under its name, or (moved
 * by another program) cur/ with ":2,". 0, or -1 (errno; ENOENT: none of
 * these names exists). */
static int unlink_msg(const char *maildir, const struct maildir_list *l,
    size_t i)
{
	char path[MAILDIR_PATH_MAX];

	if (msg_path(maildir, l, i, path, sizeof(path)) < 0)
		return -1;
	if (unlink(path) == 0)
		return 0;
	if (errno != ENOENT || !l->msg[i].in_new)
		return -1;
	if (cur_path(maildir, l, i, path, sizeof(path)) < 0)
		return -1;
	return unlink(path);
}

int maildir_msg_delete(const char *maildir, struct maildir_list *l, size_t i)
{
	int tries;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	for (tries = 0; tries < 4; tries++) {
		if (unlink_msg(maildir, l, i) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		/* renamed (new flags) by another program? */
		if (maildir_msg_refind(maildir, l, i) < 0)
			return errno == ENOENT ? 1 : -1;
	}
	errno = EBUSY;                  /* renamed again at every try */
	return -1;
}
