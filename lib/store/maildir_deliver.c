/* maildir_deliver.c - maildir delivery: unique names, an exclusive file
 * in tmp/ written through a buffer (counting S and W as it goes),
 * fsynced, then renamed to new/<unique>,S=<s>,W=<w> and new/ fsynced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildir.h"
#include "maildir_int.h"

#define HOST_MAX     64             /* sanitised host part, bytes */

/* The host part of unique names, sanitised once per process. */
static const char *unique_host(void)
{
	static char host[HOST_MAX * 4 + 1];
	char raw[256];
	size_t i, o = 0;

	if (host[0])
		return host;
	if (gethostname(raw, sizeof(raw) - 1) < 0 || raw[0] == '\0')
		strcpy(raw, "localhost");
	raw[sizeof(raw) - 1] = '\0';
	for (i = 0; raw[i] && i < HOST_MAX; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '/' || c == ':' || c == ',' || c == '\\' || c <= ' ' ||
		    c >= 0x7f) {
			/* maildir's rule: octal escape (\057 for '/') */
			host[o++] = '\\';
			host[o++] = (char)('0' + ((c >> 6) & 7));
			host[o++] = (char)('0' + ((c >> 3) & 7));
			host[o++] = (char)('0' + (c & 7));
		} else
			host[o++] = (char)c;
	}
	host[o] = '\0';
	return host;
}

void maildir_unique(char *buf, size_t size)
{
	static unsigned long counter;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	counter++;
	snprintf(buf, size, "%lld.M%06ldP%ldQ%lu.%s", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), counter, unique_host());
}

static int tmp_path(const struct maildir_delivery *d, char *buf, size_t size)
{
	return fsutil_path(buf, size, "%s/tmp/%s", d->dir, d->base);
}

int maildir_tmp_create(const char *dir, char *name, size_t size)
{
	char path[MAILDIR_PATH_MAX];
	int tries, fd;

	for (tries = 0; tries < 8; tries++) {
		maildir_unique(name, size);
		if (fsutil_path(path, sizeof(path), "%s/tmp/%s", dir, name) < 0)
			break;
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	name[0] = '\0';
	return -1;
}

int maildir_deliver_open(struct maildir_delivery *d, const char *maildir)
{
	d->fd = -1;
	d->size_s = d->size_w = d->kicked = 0;
	d->wlen = 0;
	d->synced = 0;
	d->base[0] = '\0';
	if (fsutil_path(d->dir, sizeof(d->dir), "%s", maildir) < 0)
		return -1;
	d->fd = maildir_tmp_create(maildir, d->base, sizeof(d->base));
	if (d->fd < 0 && errno == ENOENT) {
		if (maildir_make(maildir) < 0)
			return -1;
		d->fd = maildir_tmp_create(maildir, d->base, sizeof(d->base));
	}
	return d->fd < 0 ? -1 : 0;
}

int maildir_deliver_write(struct maildir_delivery *d, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t done;

	if (d->fd < 0) {
		errno = EBADF;
		return -1;
	}
	d->size_s += n;
	d->size_w += n + maildir_count_lf(s, n);
	if (fsutil_wbuf_put(d->fd, d->wbuf, sizeof(d->wbuf), &d->wlen, s,
	    n) < 0)
		return -1;
	done = d->size_s - d->wlen;          /* octets in the file */
	if (done - d->kicked >= MAILDIR_KICK) {
		/* Only a hint: the fsync at the end is what makes it durable. */
		(void)sync_file_range(d->fd, (off_t)d->kicked,
		    (off_t)(done - d->kicked), SYNC_FILE_RANGE_WRITE);
		d->kicked = done;
	}
	return 0;
}

void maildir_deliver_abort(struct maildir_delivery *d)
{
	char path[MAILDIR_PATH_MAX];
	int e = errno;

	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	if (d->base[0] && tmp_path(d, path, sizeof(path)) == 0)
		unlink(path);
	d->base[0] = '\0';
	errno = e;
}

int maildir_deliver_sync(struct maildir_delivery *d)
{
	if (d->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (fsutil_wbuf_flush(d->fd, d->wbuf, &d->wlen) < 0 ||
	    fsync(d->fd) < 0)
		return -1;
	d->synced = 1;
	return 0;
}

int maildir_deliver_commit(struct maildir_delivery *d)
{
	char tmp[MAILDIR_PATH_MAX], dst[MAILDIR_PATH_MAX];
	char dir[MAILDIR_PATH_MAX];
	int fd, e;

	if (d->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (!d->synced && maildir_deliver_sync(d) < 0)
		goto fail;
	fd = d->fd;
	d->fd = -1;
	if (close(fd) < 0)
		goto fail;
	if (tmp_path(d, tmp, sizeof(tmp)) < 0 ||
	    fsutil_path(dst, sizeof(dst), "%s/new/%s,S=%llu,W=%llu", d->dir,
	    d->base, (unsigned long long)d->size_s,
	    (unsigned long long)d->size_w) < 0 ||
	    fsutil_path(dir, sizeof(dir), "%s/new", d->dir) < 0 ||
	    rename(tmp, dst) < 0)
		goto fail;
	if (fsutil_fsync_dir(dir) < 0) {
		e = errno;
		unlink(dst);
		d->base[0] = '\0';
		errno = e;
		return -1;
	}
	d->base[0] = '\0';
	return 0;
fail:
	maildir_deliver_abort(d);
	return -1;
}
