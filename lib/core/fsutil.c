/* fsutil.c - file-system helpers shared by maildir_*.c, queue.c and
 * mailbox-admin: bounded paths, whole writes and reads, the write-behind
 * buffer of deliveries and queue files, directory fsync, mkdir -p, the
 * walk that never follows a symbolic link, lock files and getdents64. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define FSUTIL_PATH_MAX 4096

int fsutil_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Writes all n bytes with write(2) when off < 0, else with pwrite(2)
 * from off on. */
static int write_whole(int fd, const void *p, size_t n, off_t off)
{
	const unsigned char *s = p;

	while (n > 0) {
		ssize_t r = off < 0 ? write(fd, s, n) : pwrite(fd, s, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		s += r;
		n -= (size_t)r;
		if (off >= 0)
			off += r;
	}
	return 0;
}

int fsutil_write_all(int fd, const void *p, size_t n)
{
	return write_whole(fd, p, n, -1);
}

int fsutil_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return write_whole(fd, p, n, off);
}

ssize_t fsutil_read_full(int fd, void *buf, size_t size)
{
	unsigned char *p = buf;
	size_t n = 0;

	while (n < size) {
		ssize_t r = read(fd, p + n, size - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

int fsutil_wbuf_put(int fd, unsigned char *buf, size_t cap, size_t *len,
    const void *p, size_t n)
{
	if (*len + n <= cap) {
		memcpy(buf + *len, p, n);
		*len += n;
		return 0;
	}
	if (fsutil_wbuf_flush(fd, buf, len) < 0)
		return -1;
	if (n >= cap)
		return fsutil_write_all(fd, p, n);
	memcpy(buf, p, n);
	*len = n;
	return 0;
}

int fsutil_wbuf_flush(int fd, const unsigned char *buf, size_t *len)
{
	if (*len > 0 && fsutil_write_all(fd, buf, *len) < 0)
		return -1;
	*len = 0;
	return 0;
}

int fsutil_fsync_dir(const char *path)
{
	int fd, r, e;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int fsutil_mkdir_p(const char *path)
{
	char buf[FSUTIL_PATH_MAX];
	size_t i, len = strlen(path);

	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (len == 0 || len >= sizeof(buf)) {
		errno = len ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if ((buf[i] != '/' && buf[i] != '\0') || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* Opens (or with mk->mode creates and opens) the directory name in dfd
 * without following a symbolic link; flags: O_PATH or O_RDONLY. */
static int open_component(int dfd, const char *name, int flags,
    struct fsutil_mkdirs *mk)
{
	struct stat st;
	int fd, made = 0, e;

	flags |= O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	fd = openat(dfd, name, flags);
	if (fd < 0 && errno == ENOENT && mk && mk->mode) {
		if (mkdirat(dfd, name, mk->mode) == 0)
			made = 1;
		else if (errno != EEXIST)
			return -1;
		fd = openat(dfd, name, flags);
	}
	if (fd < 0) {
		/* O_PATH reports a link as ENOTDIR: say what it is (a
		 * directory now: it was swapped meanwhile) */
		e = errno;
		if ((e == ENOTDIR || e == ELOOP) &&
		    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			e = S_ISLNK(st.st_mode) ? ELOOP :
			    S_ISDIR(st.st_mode) ? EAGAIN : ENOTDIR;
		errno = e;
		return -1;
	}
	if (!made)
		return fd;
	mk->created++;
	if (!mk->chown)
		return fd;
	/* the directory opened must be the one just made: a directory
	 * swapped in by its parent's owner is not ours to give away */
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (st.st_uid != geteuid())
		e = EAGAIN;
	else if (fchownat(fd, "", mk->uid, mk->gid, AT_EMPTY_PATH) < 0)
		e = errno;
	else
		return fd;
	close(fd);
	errno = e;
	return -1;
}

int fsutil_openat_dir(int dfd, const char *name, struct fsutil_mkdirs *mk)
{
	return open_component(dfd, name, O_RDONLY, mk);
}

int fsutil_open_dir_nofollow(const char *path, size_t len,
    struct fsutil_mkdirs *mk, size_t *fail_r)
{
	char name[256];
	size_t i = 1, n;
	int dfd, fd, e;

	if (fail_r)
		*fail_r = 0;
	if (len == 0 || path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	while (len > 1 && path[len - 1] == '/')
		len--;
	while (i < len) {
		for (n = 0; i + n < len && path[i + n] != '/'; n++)
			;
		if (fail_r)
			*fail_r = i + n;
		if (n == 0 || n >= sizeof(name) || (path[i] == '.' &&
		    (n == 1 || (n == 2 && path[i + 1] == '.')))) {
			close(dfd);
			errno = n >= sizeof(name) ? ENAMETOOLONG : EINVAL;
			return -1;
		}
		memcpy(name, path + i, n);
		name[n] = '\0';
		i += n + 1;
		fd = open_component(dfd, name, i >= len ? O_RDONLY : O_PATH, mk);
		e = errno;
		close(dfd);
		if (fd < 0) {
			errno = e;
			return -1;
		}
		dfd = fd;
	}
	if (fail_r)
		*fail_r = 0;
	return dfd;
}

int fsutil_lock(const char *path, int block)
{
	int fd, e;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | (block ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		errno = e == EAGAIN ? EWOULDBLOCK : e;
		return -1;
	}
	return fd;
}

/* The kernel's record (linux_dirent64): the name starts at byte 19. */
#define DENT_RECLEN 16
#define DENT_TYPE   18
#define DENT_NAME   19

int fsutil_dir_open(struct fsutil_dir *d, const char *path, void *buf,
    size_t size)
{
	d->buf = buf;
	d->size = size;
	d->pos = d->len = 0;
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return d->fd < 0 ? -1 : 0;
}

int fsutil_dent_take(const unsigned char *buf, size_t len, size_t *pos,
    const char **name_r, size_t *nlen_r, unsigned char *type_r)
{
	const unsigned char *e = buf + *pos;
	uint16_t reclen;

	/* bounds first: the header (and one name octet) must fit before
	 * reclen or type is read, then the whole record */
	if (*pos >= len || len - *pos <= DENT_NAME) {
		errno = EIO;
		return -1;
	}
	memcpy(&reclen, e + DENT_RECLEN, sizeof(reclen));
	if (reclen <= DENT_NAME || reclen > len - *pos) {
		errno = EIO;
		return -1;
	}
	*pos += reclen;
	*name_r = (const char *)e + DENT_NAME;
	*nlen_r = strnlen(*name_r, reclen - DENT_NAME);
	*type_r = e[DENT_TYPE];
	return 0;
}

int fsutil_dir_next(struct fsutil_dir *d, const char **name_r,
    size_t *len_r, unsigned char *type_r)
{
	for (;;) {
		const char *name;

		if (d->pos >= d->len) {
			ssize_t r = getdents64(d->fd, d->buf, d->size);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			if (r == 0)
				return 0;
			d->len = (size_t)r;
			d->pos = 0;
		}
		if (fsutil_dent_take(d->buf, d->len, &d->pos, &name, len_r,
		    type_r) < 0)
			return -1;
		if (name[0] == '.' && (name[1] == '\0' ||
		    (name[1] == '.' && name[2] == '\0')))
			continue;
		*name_r = name;
		return 1;
	}
}

void fsutil_dir_close(struct fsutil_dir *d)
{
	int e = errno;

	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	errno = e;
}
