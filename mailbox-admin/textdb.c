/* textdb.c - load, validate, edit and write back the user database's
 * text source, and compile it to the CDB the handlers read. The line
 * rules are those of `cdb -c -m` (tinycdb), so the stock tool builds the
 * same database from the same text. */
#include "textdb.h"
#include "admin.h"
#include "util.h"
#include "fsutil.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TDB_MODE_NEW  0640
#define TDB_LOCK_SUFFIX ".lock"

static void dir_of(const char *path, char *buf, size_t size);

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits one line as `cdb -m` does: leading blanks skipped; a line that
 * is then empty or starts with '#' holds no record; the key runs to the
 * next blank; the value is the rest after the blanks that follow. */
static void
split_line(struct tdb_line *l)
{
	size_t i = 0;

	l->key_off = l->key_len = l->val_off = 0;
	while (i < l->len && is_blank(l->text[i]))
		i++;
	if (i >= l->len || l->text[i] == '#')
		return;
	l->key_off = i;
	while (i < l->len && !is_blank(l->text[i]))
		i++;
	l->key_len = i - l->key_off;
	while (i < l->len && is_blank(l->text[i]))
		i++;
	l->val_off = i;
}

static void
grow(struct tdb *t)
{
	size_t cap;
	struct tdb_line *p;

	if (t->n < t->cap)
		return;
	cap = t->cap ? t->cap * 2 : 256;
	p = realloc(t->line, cap * sizeof *p);
	if (p == NULL)
		die(EX_OSERR, "out of memory");
	t->line = p;
	t->cap = cap;
}

static void
lock_db(struct tdb *t)
{
	char lpath[ADMIN_PATH_MAX];
	int fd;

	if ((size_t)snprintf(lpath, sizeof lpath, "%s%s", t->path,
	    TDB_LOCK_SUFFIX) >= sizeof lpath)
		die(EX_USAGE, "%s: path too long", t->path);
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (fd < 0)
		die(EX_CANTCREAT, "%s: %s", lpath, strerror(errno));
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			die(EX_IOERR, "%s: lock: %s", lpath, strerror(errno));
	t->lock_fd = fd;
}

void
tdb_open(struct tdb *t, const char *path, const char *cdb, int lock,
    int missing_ok)
{
	struct stat st;
	size_t got = 0, start, i;
	int fd;

	memset(t, 0, sizeof *t);
	t->path = path;
	t->cdb = cdb;
	t->lock_fd = -1;
	t->mode = TDB_MODE_NEW;
	t->uid = geteuid();
	t->gid = getegid();
	if (lock)
		lock_db(t);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok) {
			/* a new database takes the group of its directory
			 * (root:postern 0750 /etc/postern), so the service
			 * user can read the CDB */
			char dir[ADMIN_PATH_MAX];
			dir_of(path, dir, sizeof dir);
			if (stat(dir, &st) == 0)
				t->gid = st.st_gid;
			return;
		}
		die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		die(EX_IOERR, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die(EX_DATAERR, "%s: not a regular file", path);
	if (st.st_size > (off_t)1 << 30)
		die(EX_DATAERR, "%s: too large", path);
	t->exists = 1;
	t->mode = st.st_mode & 07777;
	t->uid = st.st_uid;
	t->gid = st.st_gid;
	t->buf = malloc((size_t)st.st_size + 1);
	if (t->buf == NULL)
		die(EX_OSERR, "out of memory");
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, t->buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(EX_IOERR, "%s: %s", path, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	t->buflen = got;
	if (memchr(t->buf, '\0', got) != NULL)
		die(EX_DATAERR, "%s: contains a NUL byte", path);
	for (start = 0, i = 0; start < got; i++) {
		const char *nl = memchr(t->buf + start, '\n', got - start);
		size_t end = nl ? (size_t)(nl - t->buf) : got;
		struct tdb_line *l;

		if (end - start >= TDB_LINE_MAX)
			die(EX_DATAERR, "%s:%zu: line too long", path, i + 1);
		grow(t);
		l = &t->line[t->n++];
		memset(l, 0, sizeof *l);
		l->text = t->buf + start;
		l->len = end - start;
		l->lineno = (unsigned)(i + 1);
		split_line(l);
		start = end + 1;
	}
}

void
tdb_key(const struct tdb *t, size_t i, char *buf)
{
	const struct tdb_line *l = &t->line[i];
	size_t n = l->key_len < USERDB_KEY_MAX - 1 ? l->key_len :
	    USERDB_KEY_MAX - 1;

	memcpy(buf, l->text + l->key_off, n);
	buf[n] = '\0';
}

/* Parses a split line; -1 with *error_r. */
static int
parse_line(const struct tdb *t, const struct tdb_line *l,
    struct userdb_entry *e, const char **error_r)
{
	char key[USERDB_KEY_MAX];
	char value[USERDB_VALUE_MAX];
	size_t vlen = l->len - l->val_off;
	int r;

	if (l->key_len >= USERDB_KEY_MAX) {
		*error_r = "key too long";
		return -1;
	}
	if (vlen >= USERDB_VALUE_MAX) {
		*error_r = "value too long";
		return -1;
	}
	if (t->check != NULL)
		return t->check(l->text + l->key_off, l->key_len,
		    l->text + l->val_off, vlen, error_r);
	memcpy(key, l->text + l->key_off, l->key_len);
	key[l->key_len] = '\0';
	memcpy(value, l->text + l->val_off, vlen);
	value[vlen] = '\0';
	r = userdb_parse(key, value, vlen, e, error_r);
	wipe(value, vlen);
	return r;
}

int
tdb_entry(const struct tdb *t, size_t i, struct userdb_entry *e)
{
	const char *err;

	return parse_line(t, &t->line[i], e, &err);
}

static const struct tdb *sort_tdb;

static int
cmp_keys(const void *pa, const void *pb)
{
	const struct tdb_line *a = &sort_tdb->line[*(const size_t *)pa];
	const struct tdb_line *b = &sort_tdb->line[*(const size_t *)pb];
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->text + a->key_off, b->text + b->key_off, n);

	if (c != 0)
		return c;
	if (a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	return a->lineno < b->lineno ? -1 : a->lineno > b->lineno;
}

unsigned
tdb_validate(struct tdb *t, unsigned max_report)
{
	static struct userdb_entry e;
	size_t *idx, ni = 0, i;
	unsigned errors = 0;
	const char *err;
	char key[USERDB_KEY_MAX];

	idx = malloc((t->n ? t->n : 1) * sizeof *idx);
	if (idx == NULL)
		die(EX_OSERR, "out of memory");
	for (i = 0; i < t->n; i++) {
		const struct tdb_line *l = &t->line[i];
		if (l->deleted || l->key_len == 0)
			continue;
		idx[ni++] = i;
		if (parse_line(t, l, &e, &err) < 0) {
			if (errors++ < max_report) {
				tdb_key(t, i, key);
				fprintf(stderr, "%s:%u: %s: %s\n", t->path,
				    l->lineno, key, err);
			}
		}
	}
	sort_tdb = t;
	qsort(idx, ni, sizeof *idx, cmp_keys);
	for (i = 1; i < ni; i++) {
		const struct tdb_line *a = &t->line[idx[i - 1]];
		const struct tdb_line *b = &t->line[idx[i]];
		if (a->key_len == b->key_len && memcmp(a->text + a->key_off,
		    b->text + b->key_off, a->key_len) == 0) {
			if (errors++ < max_report) {
				tdb_key(t, idx[i], key);
				fprintf(stderr, "%s:%u: %s: duplicate key (first "
				    "on line %u)\n", t->path, b->lineno, key,
				    a->lineno);
			}
		}
	}
	free(idx);
	memset(&e, 0, sizeof e);
	return errors;
}

long
tdb_find(const struct tdb *t, const char *key)
{
	size_t klen = strlen(key), i;

	for (i = 0; i < t->n; i++) {
		const struct tdb_line *l = &t->line[i];
		if (!l->deleted && l->key_len == klen &&
		    memcmp(l->text + l->key_off, key, klen) == 0)
			return (long)i;
	}
	return -1;
}

int
tdb_format(char *out, size_t size, const char *const *fields,
    size_t nfields)
{
	/* columns where the 2nd, 3rd and 4th fields start (SPEC example) */
	static const size_t stop[] = { 23, 43, 73 };
	size_t used = 0, i, n, pad;
	int first = 1;

	for (i = 0; i < nfields; i++) {
		if (fields[i] == NULL || fields[i][0] == '\0')
			continue;
		if (!first) {
			size_t k = i - 1 < sizeof stop / sizeof stop[0] ? i - 1 :
			    sizeof stop / sizeof stop[0];
			pad = 2;
			if (k < sizeof stop / sizeof stop[0] &&
			    used + 2 <= stop[k])
				pad = stop[k] - used;
			if (used + pad >= size)
				return -1;
			memset(out + used, ' ', pad);
			used += pad;
		}
		first = 0;
		n = strlen(fields[i]);
		if (used + n >= size)
			return -1;
		memcpy(out + used, fields[i], n);
		used += n;
	}
	out[used] = '\0';
	return 0;
}

/* A new line object for text (copied); validated. */
static int
make_line(const struct tdb *t, struct tdb_line *l, const char *text,
    const char **error_r)
{
	static struct userdb_entry e;
	size_t len = strlen(text);
	char *copy;
	int r;

	if (len >= TDB_LINE_MAX || strchr(text, '\n') != NULL) {
		*error_r = "line too long";
		return -1;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		die(EX_OSERR, "out of memory");
	memcpy(copy, text, len + 1);
	memset(l, 0, sizeof *l);
	l->text = copy;
	l->len = len;
	l->owned = 1;
	split_line(l);
	if (l->key_len == 0) {
		*error_r = "empty record";
		r = -1;
	} else {
		r = parse_line(t, l, &e, error_r);
	}
	memset(&e, 0, sizeof e);
	if (r < 0) {
		wipe(copy, len);
		free(copy);
	}
	return r;
}

int
tdb_append(struct tdb *t, const char *line, const char **error_r)
{
	struct tdb_line l;

	if (make_line(t, &l, line, error_r) < 0)
		return -1;
	grow(t);
	t->line[t->n++] = l;
	t->changed = 1;
	return 0;
}

int
tdb_set(struct tdb *t, size_t i, const char *line, const char **error_r)
{
	struct tdb_line l;

	if (make_line(t, &l, line, error_r) < 0)
		return -1;
	l.lineno = t->line[i].lineno;
	if (t->line[i].owned)
		free((void *)t->line[i].text);
	t->line[i] = l;
	t->changed = 1;
	return 0;
}

void
tdb_delete(struct tdb *t, size_t i)
{
	t->line[i].deleted = 1;
	t->changed = 1;
}

/* "dir" of path into buf. */
static void
dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		copy_str(buf, size, ".");
	else if (slash == path)
		copy_str(buf, size, "/");
	else
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* Creates tmp (O_EXCL, no symlink) with mode and the owner of the
 * database (when we are root). fd / -1. */
static int
create_tmp(const struct tdb *t, const char *tmp, mode_t mode)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY, 0600);

	if (fd < 0)
		return -1;
	if ((geteuid() == 0 && fchown(fd, t->uid, t->gid) < 0) ||
	    fchmod(fd, mode) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	return fd;
}

static int
write_text(const struct tdb *t, const char *tmp)
{
	char buf[65536];
	size_t used = 0, i;
	int fd = create_tmp(t, tmp, t->mode);

	if (fd < 0)
		return -1;
	for (i = 0; i < t->n; i++) {
		const struct tdb_line *l = &t->line[i];
		if (l->deleted)
			continue;
		if (used + l->len + 1 > sizeof buf) {
			if (fsutil_write_all(fd, buf, used) < 0)
				goto fail;
			used = 0;
		}
		if (l->len + 1 > sizeof buf) {
			if (fsutil_write_all(fd, l->text, l->len) < 0 ||
			    fsutil_write_all(fd, "\n", 1) < 0)
				goto fail;
			continue;
		}
		memcpy(buf + used, l->text, l->len);
		used += l->len;
		buf[used++] = '\n';
	}
	if (fsutil_write_all(fd, buf, used) < 0 || fsync(fd) < 0)
		goto fail;
	wipe(buf, sizeof buf);
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	{
		int e = errno;
		wipe(buf, sizeof buf);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = e ? e : EIO;
	}
	return -1;
}

static int
write_cdb(const struct tdb *t, const char *tmp)
{
	struct cdb_make cm;
	size_t i;
	int fd = create_tmp(t, tmp, TDB_MODE_NEW);

	if (fd < 0)
		return -1;
	if (cdb_make_start(&cm, fd) < 0)
		goto fail;
	for (i = 0; i < t->n; i++) {
		const struct tdb_line *l = &t->line[i];
		if (l->deleted || l->key_len == 0)
			continue;
		if (cdb_make_add(&cm, l->text + l->key_off,
		    (unsigned)l->key_len, l->text + l->val_off,
		    (unsigned)(l->len - l->val_off)) < 0) {
			cdb_make_finish(&cm);
			goto fail;
		}
	}
	if (cdb_make_finish(&cm) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	{
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = e ? e : EIO;
	}
	return -1;
}

static int
sync_dir(const char *path)
{
	char dir[ADMIN_PATH_MAX];
	int fd, r;

	dir_of(path, dir, sizeof dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static int
commit(struct tdb *t, int text)
{
	char ttmp[ADMIN_PATH_MAX], ctmp[ADMIN_PATH_MAX];
	long pid = (long)getpid();

	if ((size_t)snprintf(ttmp, sizeof ttmp, "%s.tmp.%ld", t->path, pid) >=
	    sizeof ttmp ||
	    (size_t)snprintf(ctmp, sizeof ctmp, "%s.%ld", t->cdb, pid) >=
	    sizeof ctmp) {
		warnx_("%s: path too long", t->path);
		return -1;
	}
	if (text && write_text(t, ttmp) < 0) {
		warnx_("%s: %s", ttmp, strerror(errno));
		return -1;
	}
	if (write_cdb(t, ctmp) < 0) {
		warnx_("%s: %s", ctmp, strerror(errno));
		if (text)
			unlink(ttmp);
		return -1;
	}
	if (text && rename(ttmp, t->path) < 0) {
		warnx_("%s: rename: %s", t->path, strerror(errno));
		unlink(ttmp);
		unlink(ctmp);
		return -1;
	}
	if (rename(ctmp, t->cdb) < 0) {
		warnx_("%s: rename: %s%s", t->cdb, strerror(errno), text ?
		    " (the text was changed: run 'mailbox-admin build')" : "");
		unlink(ctmp);
		return -1;
	}
	if (sync_dir(t->cdb) < 0 || (text && sync_dir(t->path) < 0)) {
		warnx_("%s: fsync of the directory: %s", t->cdb,
		    strerror(errno));
		return -1;
	}
	t->changed = 0;
	return 0;
}

int
tdb_commit(struct tdb *t)
{
	return commit(t, 1);
}

int
tdb_build(struct tdb *t)
{
	return commit(t, 0);
}

void
tdb_close(struct tdb *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->line[i].owned) {
			wipe((void *)t->line[i].text, t->line[i].len);
			free((void *)t->line[i].text);
		}
	free(t->line);
	if (t->buf != NULL) {
		wipe(t->buf, t->buflen);
		free(t->buf);
	}
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	memset(t, 0, sizeof *t);
	t->lock_fd = -1;
}
