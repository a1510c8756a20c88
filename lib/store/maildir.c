/* maildir.c - maildir storage: unique names, durable delivery through
 * tmp/ with ,S= and ,W= in the final name, a scan of new/ and cur/ that
 * never stats or opens a message, new->cur moves, deletes, the session
 * lock, usage sums for quotas and the tmp/ sweeper.
 *
 * Concurrency: a POP3 session holds maildir_lock() for its whole life, so
 * the only other writers are deliveries (which only add files to new/)
 * and foreign programs (a MUA, another POP3 server). A message that such a
 * program moved from new/ to cur/ or renamed to change its flags is
 * found again by its unique part (the name up to ':'); one it deleted is
 * reported as such: maildir_msg_delete returns 1, maildir_msg_open and
 * maildir_msg_to_cur ENOENT. */
#include "maildir.h"
#include "dircache.h"
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

_Static_assert(sizeof(struct maildir_msg) == 16, "maildir_msg stays compact");
_Static_assert(256 * 1024 <= DIRCACHE_CHUNK_MAX, "a cached chunk fits");

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
	uint64_t done;

	if (d->fd < 0) {
		errno = EBADF;
		return -1;
	}
	d->size_s += n;
	d->size_w += n + count_lf(s, n);
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

/* ---- scan ---- */

/* Strict ",<tag>=<digits>" in the base name name[0..len) (before any
 * ':'): the last ",<tag>=" counts; its digits must end at ',' or the end.
 * None, a malformed one, or one above MAILDIR_SIZE_W_MAX (no real
 * message; a sum of such could wrap the STAT total) is unknown. */
static uint64_t name_size(const char *name, size_t len, char tag)
{
	size_t i, j;
	uint64_t v = 0;

	for (i = len; i >= 3; i--) {
		if (name[i - 1] == '=' && name[i - 2] == tag &&
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
	if (j == i || v > MAILDIR_SIZE_W_MAX)
		return MAILDIR_SIZE_UNKNOWN;
	return v;
}

/* ",W=": the size POP3 sends; unknown means measured by reading. */
static uint64_t name_size_w(const char *name, size_t len)
{
	return name_size(name, len, 'W');
}

/* Sort key: the delivery time "SECONDS.M<usec>" as one 52-bit number
 * (SECONDS below 2^32, up to 10 digits); names not in that form get
 * KEY_NONE and sort after all others, by name. */
#define KEY_BITS   52
#define KEY_NONE   ((UINT64_C(1) << KEY_BITS) - 1)

static uint64_t name_key(const char *s, size_t len)
{
	uint64_t t = 0, us = 0;
	size_t i = 0, n;

	for (n = 0; i < len && s[i] >= '0' && s[i] <= '9' && n < 11; i++, n++)
		t = t * 10 + (uint64_t)(s[i] - '0');
	if (n == 0 || n == 11 || t > UINT32_MAX || i >= len || s[i] != '.')
		return KEY_NONE;
	if (i + 2 < len && s[i + 1] == 'M') {
		for (i += 2, n = 0; i < len && s[i] >= '0' && s[i] <= '9' &&
		    n < 7; i++, n++)
			us = us * 10 + (uint64_t)(s[i] - '0');
		if (us > 999999)
			us = 999999;
	}
	return t << 20 | us;
}

/* While a scan runs, an entry holds this packed form instead of struct
 * maildir_msg (same 16 bytes): the sort key, where the name is, and its W
 * size when that fits 25 bits (else WPACK_ESC: parsed again from the name
 * after the sort, as is a name without ,W=). One pass after the sort
 * unpacks it, so the sort and that pass never touch the names.
 *   hi: key << 12 | W >> 13
 *   lo: name_off | name_len << 32 | uidl_len << 41 | in_new << 50 |
 *       (W & 0x1fff) << 51 */
struct scan_rec {
	uint64_t hi, lo;
};
_Static_assert(sizeof(struct scan_rec) == sizeof(struct maildir_msg),
    "a scan record fills an entry");

#define WPACK_BITS 25
#define WPACK_ESC  ((UINT64_C(1) << WPACK_BITS) - 1)
#define REC_KEY(r) ((r)->hi >> 12)
#define REC_OFF(r) ((uint32_t)(r)->lo)
#define REC_LEN(r) ((size_t)((r)->lo >> 32) & 0x1ff)
#define REC_UIDL(r) ((size_t)((r)->lo >> 41) & 0x1ff)
#define REC_NEW(r) ((unsigned)((r)->lo >> 50) & 1)
#define REC_W(r)   (((r)->hi & 0xfff) << 13 | (r)->lo >> 51)
#define SORT_SMALL 32                /* insertion sort below this */
#define DENTS_ROOM (256 * 1024)      /* getdents64 room at the arena end */

static int rec_cmp(const char *names, const struct scan_rec *a,
    const struct scan_rec *b)
{
	size_t la = REC_LEN(a), lb = REC_LEN(b);
	int c;

	if (REC_KEY(a) != REC_KEY(b))
		return REC_KEY(a) < REC_KEY(b) ? -1 : 1;
	c = memcmp(names + REC_OFF(a), names + REC_OFF(b), la < lb ? la : lb);
	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static void rec_swap(struct scan_rec *a, struct scan_rec *b)
{
	struct scan_rec t = *a;
	*a = *b;
	*b = t;
}

static void insertion_sort(const char *names, struct scan_rec *r, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && rec_cmp(names, &r[j], &r[j - 1]) < 0; j--)
			rec_swap(&r[j], &r[j - 1]);
}

static void heap_sift(const char *names, struct scan_rec *r, size_t root,
    size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			return;
		if (c + 1 < n && rec_cmp(names, &r[c], &r[c + 1]) < 0)
			c++;
		if (rec_cmp(names, &r[root], &r[c]) >= 0)
			return;
		rec_swap(&r[root], &r[c]);
		root = c;
	}
}

/* For runs of equal keys (names not in the usual form): by name, in
 * place, O(n log n) whatever the input. */
static void heap_sort(const char *names, struct scan_rec *r, size_t n)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		heap_sift(names, r, i, n);
	for (i = n; i-- > 1;) {
		rec_swap(&r[0], &r[i]);
		heap_sift(names, r, 0, i);
	}
}

/* In-place MSD radix sort (American flag) on the key, 8 bits a round
 * from bit shift up; no temporary array and no name touched while keys
 * differ. */
static void rec_sort(const char *names, struct scan_rec *r, size_t n,
    int shift)
{
	size_t count[256], next[256], b, i, start;

	if (n <= SORT_SMALL) {
		insertion_sort(names, r, n);
		return;
	}
	if (shift < 0) {
		heap_sort(names, r, n);
		return;
	}
	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
		count[(REC_KEY(&r[i]) >> shift) & 0xff]++;
	for (b = 0, start = 0; b < 256; b++) {
		next[b] = start;
		start += count[b];
	}
	for (b = 0, start = 0; b < 256; start += count[b], b++) {
		size_t end = start + count[b];
		while (next[b] < end) {
			struct scan_rec x = r[next[b]];
			size_t d = (REC_KEY(&x) >> shift) & 0xff;
			while (d != b) {       /* carry x to its bucket */
				struct scan_rec y = r[next[d]];
				r[next[d]++] = x;
				x = y;
				d = (REC_KEY(&x) >> shift) & 0xff;
			}
			r[next[b]++] = x;
		}
	}
	for (b = 0, start = 0; b < 256; start += count[b], b++)
		if (count[b] > 1)
			rec_sort(names, r + start, count[b],
			    shift == 0 ? -1 : shift < 8 ? 0 : shift - 8);
}

static void recs_sort(const char *names, struct scan_rec *r, size_t n)
{
	uint64_t diff = 0;
	int top;
	size_t i;

	for (i = 1; i < n; i++)
		diff |= REC_KEY(&r[i]) ^ REC_KEY(&r[0]);
	if (diff == 0) {
		rec_sort(names, r, n, -1);
		return;
	}
	top = 63 - __builtin_clzll(diff);
	rec_sort(names, r, n, top < 8 ? 0 : top - 7);
}

static int list_grow(struct maildir_list *l)
{
	size_t cap = l->cap ? l->cap * 2 : 1024;
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
	return 0;
}

/* Room for DENTS_ROOM more bytes at the end of the names arena; the
 * first time sized from the directory's own size (on ext4 and most file
 * systems an upper bound of its names' total). */
static int arena_room(struct maildir_list *l, uint64_t hint)
{
	size_t cap = l->names_cap;
	char *p;

	if (cap - l->names_len >= DENTS_ROOM)
		return 0;
	if (cap == 0)
		cap = hint < (64u << 20) ? (size_t)hint : (64u << 20);
	while (cap - l->names_len < DENTS_ROOM)
		cap = cap < DENTS_ROOM ? 2 * DENTS_ROOM : cap * 2;
	if (cap > UINT32_MAX) {         /* name_off is 32 bits */
		errno = EFBIG;
		return -1;
	}
	p = realloc(l->names, cap);
	if (!p)
		return -1;
	l->names = p;
	l->names_cap = cap;
	return 0;
}

/* Takes the records of one getdents64 call at l->names + pos (len bytes)
 * and moves each accepted name down to the arena's end, parsed while it
 * is in the cache. Records read back from a dircache file are checked as
 * the kernel's never need to be: a name with '/' is refused (EIO). 0 / -1. */
static int take_dents(struct maildir_list *l, size_t pos, size_t len,
    int in_new)
{
	size_t end = pos + len;

	while (pos < end) {
		const char *name;
		unsigned char type;
		struct scan_rec *r;
		const char *colon;
		size_t nlen, uidl, room;
		uint64_t w, key;

		/* each record checked as the kernel's never need to be */
		if (fsutil_dent_take((const unsigned char *)l->names, end, &pos,
		    &name, &nlen, &type) < 0)
			return -1;
		if (name[0] == '.' || (type != DT_REG && type != DT_UNKNOWN))
			continue;
		if (nlen == 0 || nlen >= MAILDIR_NAME_MAX)
			continue;
		if (memchr(name, '/', nlen) != NULL) {
			errno = EIO;
			return -1;
		}
		colon = memchr(name, ':', nlen);
		uidl = colon ? (size_t)(colon - name) : nlen;
		key = name_key(name, nlen);
		w = name_size_w(name, uidl);
		if (w >= WPACK_ESC)
			w = WPACK_ESC;
		if (l->n == l->cap && list_grow(l) < 0)
			return -1;
		r = (struct scan_rec *)(void *)&l->msg[l->n++];
		r->hi = key << 12 | w >> 13;
		r->lo = (uint64_t)l->names_len | (uint64_t)nlen << 32 |
		    (uint64_t)uidl << 41 | (uint64_t)in_new << 50 |
		    (w & 0x1fff) << 51;
		/* the record is longer than name + ":2,": never overlaps
		 * what is still to be read */
		memmove(l->names + l->names_len, name, nlen);
		/* room for ":2," so the move to cur/ needs no allocation */
		room = in_new && !colon ? nlen + INFO_NEW_LEN : nlen;
		l->names_len += room;
	}
	return 0;
}

/* The records of a directory from its dircache copy at cpath, taken as
 * scan_dir would take them: 0, or -1 (no valid copy; l may hold part of
 * it, which the caller drops). */
static int from_cache(const char *cpath, const struct dircache_stamp *s,
    uint64_t hint, int in_new, struct maildir_list *l)
{
	uint64_t total, done = 0;
	ssize_t r;
	int cfd = dircache_open(cpath, s, &total);

	if (cfd < 0)
		return -1;
	for (;;) {
		if (arena_room(l, hint) < 0)
			break;
		r = dircache_next(cfd, l->names + l->names_len, DENTS_ROOM,
		    total, &done);
		if (r <= 0) {
			close(cfd);
			return r == 0 ? 0 : -1;
		}
		if (take_dents(l, l->names_len, (size_t)r, in_new) < 0)
			break;
	}
	close(cfd);
	return -1;
}

/* Lists maildir/sub into l. With cache: from the dircache copy
 * maildir/.postern-SUB.cache when it is current, else by getdents64 while
 * saving a new copy (when the directory has settled). */
static int scan_dir(const char *maildir, const char *sub, int in_new,
    struct maildir_list *l, int cache)
{
	char path[MAILDIR_PATH_MAX], cpath[DIRCACHE_PATH_MAX];
	struct dircache_stamp stamp;
	struct dircache_writer w;
	struct timespec before;
	struct stat st;
	size_t n0 = l->n, len0 = l->names_len;
	int fd, e;

	w.fd = -1;
	if (fsutil_path(path, sizeof(path), "%s/%s", maildir, sub) < 0)
		return -1;
	if (cache && (clock_gettime(CLOCK_REALTIME, &before) < 0 ||
	    fsutil_path(cpath, sizeof(cpath), "%s/.postern-%s.cache", maildir,
	    sub) < 0))
		cache = 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (cache && dircache_untrusted_fs(fd))
		cache = 0;      /* shared storage: list live */
	if (cache) {
		dircache_stamp(&st, &stamp);
		if (from_cache(cpath, &stamp, (uint64_t)st.st_size + DENTS_ROOM,
		    in_new, l) == 0) {
			close(fd);
			return 0;
		}
		l->n = n0;
		l->names_len = len0;
		dircache_begin(&w, cpath, &stamp, &before);
	}
	for (;;) {
		ssize_t r;
		if (arena_room(l, (uint64_t)st.st_size + DENTS_ROOM) < 0)
			goto fail;
		r = getdents64(fd, l->names + l->names_len, DENTS_ROOM);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		dircache_chunk(&w, l->names + l->names_len, (size_t)r);
		if (take_dents(l, l->names_len, (size_t)r, in_new) < 0)
			goto fail;
	}
	close(fd);
	dircache_commit(&w);
	return 0;
fail:
	e = errno;
	dircache_abort(&w);
	close(fd);
	errno = e;
	return -1;
}

static int scan(const char *maildir, struct maildir_list *l, int cache)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	if (scan_dir(maildir, "new", 1, l, cache) < 0 ||
	    scan_dir(maildir, "cur", 0, l, cache) < 0) {
		int e = errno;
		maildir_list_free(l);
		errno = e;
		return -1;
	}
	if (l->n > 1)
		recs_sort(l->names, (struct scan_rec *)(void *)l->msg, l->n);
	for (i = 0; i < l->n; i++) {
		struct scan_rec r = *(struct scan_rec *)(void *)&l->msg[i];
		struct maildir_msg *m = &l->msg[i];
		uint64_t w = REC_W(&r);

		m->name_off = REC_OFF(&r);
		m->name_len = (uint16_t)REC_LEN(&r);
		m->uidl_len = (uint16_t)REC_UIDL(&r);
		m->in_new = (uint16_t)REC_NEW(&r);
		m->deleted = 0;
		m->scan_ = 0;
		m->size = w != WPACK_ESC ? w :
		    name_size_w(l->names + m->name_off, m->uidl_len);
	}
	return 0;
}

int maildir_scan(const char *maildir, struct maildir_list *l)
{
	return scan(maildir, l, 0);
}

int maildir_scan_cached(const char *maildir, struct maildir_list *l)
{
	return scan(maildir, l, 1);
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

/* Entry i takes the name name[0..len) in new/ or cur/: copied to the
 * arena's end (with room for ":2," after a new/ name without info, as the
 * scan leaves). 0 / -1. */
static int rename_entry(struct maildir_list *l, size_t i, const char *name,
    size_t len, int in_new)
{
	size_t need = len + INFO_NEW_LEN, cap = l->names_cap;
	char *p;

	if (len == 0 || len >= MAILDIR_NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (cap - l->names_len < need) {
		cap = cap + need > cap * 2 ? cap + need : cap * 2;
		if (cap > UINT32_MAX) {
			errno = EFBIG;
			return -1;
		}
		p = realloc(l->names, cap);
		if (!p)
			return -1;
		l->names = p;
		l->names_cap = cap;
	}
	memcpy(l->names + l->names_len, name, len);
	l->msg[i].name_off = (uint32_t)l->names_len;
	l->msg[i].name_len = (uint16_t)len;
	l->msg[i].in_new = (uint16_t)(in_new ? 1 : 0);
	l->names_len += in_new && memchr(name, ':', len) == NULL ? need : len;
	return 0;
}

/* Opens maildir/sub for listing into buf[size]: 1, 0 when it does not
 * exist, -1 (errno). */
static int open_sub(struct fsutil_dir *dir, const char *maildir,
    const char *sub, void *buf, size_t size)
{
	char path[MAILDIR_PATH_MAX];

	if (fsutil_path(path, sizeof(path), "%s/%s", maildir, sub) < 0)
		return -1;
	if (fsutil_dir_open(dir, path, buf, size) < 0)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

int maildir_msg_refind(const char *maildir, struct maildir_list *l, size_t i)
{
	static const char *const sub[] = { "cur", "new" };
	unsigned char buf[DIRBUF_SMALL];
	char uidl[MAILDIR_NAME_MAX];
	size_t k, ulen;

	if (i >= l->n) {
		errno = EINVAL;
		return -1;
	}
	ulen = l->msg[i].uidl_len;
	if (ulen == 0 || ulen >= sizeof(uidl)) {
		errno = ENOENT;
		return -1;
	}
	/* a copy: rename_entry may move the arena */
	memcpy(uidl, l->names + l->msg[i].name_off, ulen);
	for (k = 0; k < 2; k++) {
		struct fsutil_dir dir;
		const char *name;
		unsigned char type;
		size_t len;
		int r;

		if ((r = open_sub(&dir, maildir, sub[k], buf, sizeof(buf))) <= 0) {
			if (r == 0)
				continue;
			return -1;
		}
		while ((r = fsutil_dir_next(&dir, &name, &len, &type)) > 0) {
			if (len < ulen || memcmp(name, uidl, ulen) != 0 ||
			    (len > ulen && name[ulen] != ':') ||
			    (type != DT_REG && type != DT_UNKNOWN))
				continue;
			r = rename_entry(l, i, name, len, k == 1);
			fsutil_dir_close(&dir);
			return r;
		}
		fsutil_dir_close(&dir);
		if (r < 0)
			return -1;
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

	*w_r = name_size_w(name, base);
	if (*w_r == MAILDIR_SIZE_UNKNOWN)
		*w_r = name_size(name, base, 'S');
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

		if ((r = open_sub(&dir, maildir, sub[k], buf, sizeof(buf))) <= 0) {
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
