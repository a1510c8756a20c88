/* maildir.c - maildir storage: unique names, durable delivery through
 * tmp/ with ,S= and ,W= in the final name, a scan of new/ and cur/ that
 * never stats or opens a message, new->cur moves, deletes, the session
 * lock, usage sums for quotas and the tmp/ sweeper.
 *
 * Concurrency: a POP3 session holds maildir_lock() for its whole life, so
 * the only other writers are deliveries (which only add files to new/)
 * and foreign programs (a MUA, another POP3 server). A message that such a
 * program moved from new/ to cur/ behind our back is followed there; one
 * it deleted counts as deleted (maildir_msg_delete) or reports ENOENT
 * (maildir_msg_open, maildir_msg_to_cur). */
#include "maildir.h"
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct maildir_msg) == 24, "maildir_msg stays compact");

#define INFO_NEW     ":2,"          /* appended on the move to cur/ */
#define INFO_NEW_LEN 3
#define HOST_MAX     64             /* sanitised host part, bytes */
#define MEASURE_BUF  16384
#define DIRBUF_SMALL 32768          /* getdents64 buffer of rare scans */

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

/* ---- delivery ---- */

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
	d->size_s = d->size_w = 0;
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

static size_t count_lf(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	size_t lf = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lf++;
		p++;
	}
	return lf;
}

int maildir_deliver_write(struct maildir_delivery *d, const void *p, size_t n)
{
	const unsigned char *s = p;

	if (d->fd < 0) {
		errno = EBADF;
		return -1;
	}
	d->size_s += n;
	d->size_w += n + count_lf(s, n);
	return fsutil_wbuf_put(d->fd, d->wbuf, sizeof(d->wbuf), &d->wlen, s, n);
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

/* ---- scan ---- */

/* Strict ",W=<digits>" in the base name name[0..len) (before any ':'):
 * the last ",W=" counts; its digits must end at ',' or the end. No W=,
 * or a malformed one, is unknown. */
static uint64_t name_size_w(const char *name, size_t len)
{
	size_t i, j;
	uint64_t v = 0;

	for (i = len; i >= 3; i--) {
		if (name[i - 1] == '=' && name[i - 2] == 'W' &&
		    name[i - 3] == ',')
			break;
	}
	if (i < 3 || i == len)
		return MAILDIR_SIZE_UNKNOWN;
	for (j = i; j < len && name[j] != ','; j++) {
		unsigned d = (unsigned)(name[j] - '0');
		if (d > 9 || v > (UINT64_MAX - 1 - d) / 10)
			return MAILDIR_SIZE_UNKNOWN;
		v = v * 10 + d;
	}
	if (j == i)
		return MAILDIR_SIZE_UNKNOWN;
	return v;
}

/* Sort key: the delivery time "SECONDS.M<usec>" as one number; names not
 * in that form sort after all others. Kept in msg.size during the sort. */
static uint64_t name_key(const char *s, size_t len)
{
	uint64_t t = 0, us = 0;
	size_t i = 0, n;

	for (n = 0; i < len && s[i] >= '0' && s[i] <= '9' && n < 12; i++, n++)
		t = t * 10 + (uint64_t)(s[i] - '0');
	if (n == 0 || n == 12 || i >= len || s[i] != '.')
		return UINT64_MAX;
	if (i + 2 < len && s[i + 1] == 'M') {
		for (i += 2, n = 0; i < len && s[i] >= '0' && s[i] <= '9' &&
		    n < 7; i++, n++)
			us = us * 10 + (uint64_t)(s[i] - '0');
		if (us > 999999)
			us = 999999;
	}
	return (t << 20) | us;
}

/* The W size parked in the entry's scan_ bytes while msg.size holds the
 * sort key (so the pass after the sort does not touch the names). */
#define W48_UNKNOWN ((UINT64_C(1) << 48) - 1)

static void w48_put(struct maildir_msg *m, uint64_t w)
{
	int k;

	if (w >= W48_UNKNOWN)
		w = W48_UNKNOWN;
	for (k = 0; k < 6; k++, w >>= 8)
		m->scan_[k] = (uint8_t)w;
}

static uint64_t w48_get(const struct maildir_msg *m)
{
	uint64_t w = 0;
	int k;

	for (k = 6; k-- > 0;)
		w = w << 8 | m->scan_[k];
	return w == W48_UNKNOWN ? MAILDIR_SIZE_UNKNOWN : w;
}

static int msg_cmp(const struct maildir_list *l, const struct maildir_msg *a,
    const struct maildir_msg *b)
{
	size_t n;
	int c;

	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	n = a->name_len < b->name_len ? a->name_len : b->name_len;
	c = memcmp(l->names + a->name_off, l->names + b->name_off, n);
	if (c)
		return c;
	return (int)a->name_len - (int)b->name_len;
}

static void msg_swap(struct maildir_msg *a, struct maildir_msg *b)
{
	struct maildir_msg t = *a;
	*a = *b;
	*b = t;
}

static void heap_sift(const struct maildir_list *l, struct maildir_msg *m,
    size_t root, size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			return;
		if (c + 1 < n && msg_cmp(l, &m[c], &m[c + 1]) < 0)
			c++;
		if (msg_cmp(l, &m[root], &m[c]) >= 0)
			return;
		msg_swap(&m[root], &m[c]);
		root = c;
	}
}

static void heap_sort(const struct maildir_list *l, struct maildir_msg *m,
    size_t n)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		heap_sift(l, m, i, n);
	for (i = n; i-- > 1;) {
		msg_swap(&m[0], &m[i]);
		heap_sift(l, m, 0, i);
	}
}

/* In-place introsort: no temporary array (glibc's qsort would allocate
 * one as large as the list). */
static void msg_sort(const struct maildir_list *l, struct maildir_msg *m,
    size_t n, unsigned depth)
{
	while (n > 16) {
		size_t i, j, mid = n / 2;
		if (depth-- == 0) {
			heap_sort(l, m, n);
			return;
		}
		if (msg_cmp(l, &m[mid], &m[0]) < 0)
			msg_swap(&m[mid], &m[0]);
		if (msg_cmp(l, &m[n - 1], &m[0]) < 0)
			msg_swap(&m[n - 1], &m[0]);
		if (msg_cmp(l, &m[n - 1], &m[mid]) < 0)
			msg_swap(&m[n - 1], &m[mid]);
		msg_swap(&m[mid], &m[n - 2]);   /* pivot at n-2 */
		i = 0;
		j = n - 2;
		for (;;) {
			while (msg_cmp(l, &m[++i], &m[n - 2]) < 0)
				;
			while (msg_cmp(l, &m[n - 2], &m[--j]) < 0)
				;
			if (i >= j)
				break;
			msg_swap(&m[i], &m[j]);
		}
		msg_swap(&m[i], &m[n - 2]);
		/* recurse on the smaller part, loop on the larger */
		if (i < n - i - 1) {
			msg_sort(l, m, i, depth);
			m += i + 1;
			n -= i + 1;
		} else {
			msg_sort(l, m + i + 1, n - i - 1, depth);
			n = i;
		}
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && msg_cmp(l, &m[j], &m[j - 1]) < 0;
		    j--)
			msg_swap(&m[j], &m[j - 1]);
}

static int list_grow(struct maildir_list *l, size_t name_need)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct maildir_msg *p;
		if (cap > SIZE_MAX / sizeof(*p)) {
			errno = ENOMEM;
			return -1;
		}
		p = realloc(l->msg, cap * sizeof(*p));
		if (!p)
			return -1;
		l->msg = p;
		l->cap = cap;
	}
	if (l->names_len + name_need > l->names_cap) {
		size_t cap = l->names_cap ? l->names_cap * 2 : 16384;
		char *p;
		while (cap < l->names_len + name_need)
			cap *= 2;
		if (cap > UINT32_MAX) {     /* name_off is 32 bits */
			errno = EFBIG;
			return -1;
		}
		p = realloc(l->names, cap);
		if (!p)
			return -1;
		l->names = p;
		l->names_cap = cap;
	}
	return 0;
}

static int scan_dir(const char *maildir, const char *sub, int in_new,
    struct maildir_list *l)
{
	char path[MAILDIR_PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int e;

	if (fsutil_path(path, sizeof(path), "%s/%s", maildir, sub) < 0)
		return -1;
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		struct maildir_msg *m;
		const char *colon;
		size_t len, room;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				goto fail;
			break;
		}
		if (de->d_name[0] == '.' || (de->d_type != DT_REG &&
		    de->d_type != DT_UNKNOWN))
			continue;
		len = strlen(de->d_name);
		if (len >= MAILDIR_NAME_MAX)
			continue;
		colon = memchr(de->d_name, ':', len);
		/* room for ":2," so the move to cur/ needs no allocation */
		room = in_new && !colon ? len + INFO_NEW_LEN : len;
		if (list_grow(l, room) < 0)
			goto fail;
		m = &l->msg[l->n++];
		m->name_off = (uint32_t)l->names_len;
		m->name_len = (uint16_t)len;
		m->uidl_len = (uint16_t)(colon ? (size_t)(colon - de->d_name) :
		    len);
		m->in_new = (uint8_t)in_new;
		m->deleted = 0;
		m->size = name_key(de->d_name, len);
		w48_put(m, name_size_w(de->d_name, m->uidl_len));
		memcpy(l->names + l->names_len, de->d_name, len);
		l->names_len += room;
	}
	closedir(dir);
	return 0;
fail:
	e = errno;
	closedir(dir);
	errno = e;
	return -1;
}

int maildir_scan(const char *maildir, struct maildir_list *l)
{
	size_t i;
	unsigned depth = 0;

	memset(l, 0, sizeof(*l));
	if (scan_dir(maildir, "new", 1, l) < 0 ||
	    scan_dir(maildir, "cur", 0, l) < 0) {
		int e = errno;
		maildir_list_free(l);
		errno = e;
		return -1;
	}
	for (i = l->n; i > 0; i >>= 1)
		depth += 2;
	msg_sort(l, l->msg, l->n, depth);
	for (i = 0; i < l->n; i++)
		l->msg[i].size = w48_get(&l->msg[i]);
	return 0;
}

void maildir_list_free(struct maildir_list *l)
{
	free(l->msg);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

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

int maildir_msg_open(const char *maildir, const struct maildir_list *l,
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
		w += (uint64_t)r + count_lf(buf, (size_t)r);
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
	if (rename(from, to) < 0) {
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

int maildir_msg_delete(const char *maildir, const struct maildir_list *l,
    size_t i)
{
	char path[MAILDIR_PATH_MAX];

	if (msg_path(maildir, l, i, path, sizeof(path)) < 0)
		return -1;
	if (unlink(path) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (l->msg[i].in_new) {
		if (cur_path(maildir, l, i, path, sizeof(path)) < 0)
			return -1;
		if (unlink(path) < 0 && errno != ENOENT)
			return -1;
	}
	return 0;
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

/* W size of dir/name: from the name, else measured. */
static int usage_one(int dfd, const char *name, size_t len, uint64_t *w_r)
{
	const char *colon = memchr(name, ':', len);
	int fd;

	*w_r = name_size_w(name, colon ? (size_t)(colon - name) : len);
	if (*w_r != MAILDIR_SIZE_UNKNOWN)
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	return measure_fd(fd, w_r);
}

int maildir_usage(const char *maildir, uint64_t *bytes_r, uint64_t *count_r)
{
	static const char *const sub[] = { "new", "cur" };
	unsigned char buf[DIRBUF_SMALL];
	char path[MAILDIR_PATH_MAX];
	uint64_t bytes = 0, count = 0;
	size_t k;

	for (k = 0; k < 2; k++) {
		struct fsutil_dir dir;
		const char *name;
		unsigned char type;
		size_t len;
		uint64_t w;
		int r;

		if (fsutil_path(path, sizeof(path), "%s/%s", maildir, sub[k]) < 0)
			return -1;
		if (fsutil_dir_open(&dir, path, buf, sizeof(buf)) < 0) {
			if (errno == ENOENT)
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
