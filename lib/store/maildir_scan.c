/* maildir_scan.c - listing a maildir: new/ and cur/ read with getdents64
 * straight into one names arena (or from their dircache copies), each
 * record checked (fsutil_dent_take) and packed while its name is in the
 * cache, then sorted (maildir_sort.c) and unpacked into struct
 * maildir_msg. Never a stat or open per message. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dircache.h"
#include "fsutil.h"
#include "maildir.h"
#include "maildir_int.h"

_Static_assert(sizeof(struct maildir_msg) == 16, "maildir_msg stays compact");
_Static_assert(256 * 1024 <= DIRCACHE_CHUNK_MAX, "a cached chunk fits");

#define DENTS_ROOM (256 * 1024)      /* getdents64 room at the arena end */

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

int maildir_names_resize(struct maildir_list *l, size_t cap)
{
	char *p;

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

/* Room for DENTS_ROOM more bytes at the end of the names arena; the
 * first time sized from the directory's own size (on ext4 and most file
 * systems an upper bound of its names' total). */
static int arena_room(struct maildir_list *l, uint64_t hint)
{
	size_t cap = l->names_cap;

	if (cap - l->names_len >= DENTS_ROOM)
		return 0;
	if (cap == 0)
		cap = hint < (64u << 20) ? (size_t)hint : (64u << 20);
	while (cap - l->names_len < DENTS_ROOM)
		cap = cap < DENTS_ROOM ? 2 * DENTS_ROOM : cap * 2;
	return maildir_names_resize(l, cap);
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
		key = maildir_name_key(name, nlen);
		w = maildir_name_size_w(name, uidl);
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
		maildir_recs_sort(l->names, (struct scan_rec *)(void *)l->msg, l->n);
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
		    maildir_name_size_w(l->names + m->name_off, m->uidl_len);
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
