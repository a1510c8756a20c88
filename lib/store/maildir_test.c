/* maildir_test.c - unit tests of the maildir_*.c files in real
 * directories under tests/tmp/: delivery with exact S and W sizes, name
 * format, scan order, unknown sizes, new->cur, deletes, the lock across
 * processes, ENOSPC on a tiny tmpfs, and a 100,000-message scan (time
 * and RSS printed). */
#include "test.h"
#include "testutil.h"
#include "maildir.h"
#include "dircache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIRCACHE_SETTLE_TEST (DIRCACHE_SETTLE + 1)

static int skipped;
static char top[512];

static size_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;
	size_t n = 0;

	if (fd < 0)
		return (size_t)-1;
	while (n < size && (r = read(fd, buf + n, size - n)) > 0)
		n += (size_t)r;
	close(fd);
	return n;
}

static int deliver(const char *md, const char *data, size_t len)
{
	static struct maildir_delivery d;

	if (maildir_deliver_open(&d, md) < 0)
		return -1;
	if (maildir_deliver_write(&d, data, len) < 0) {
		maildir_deliver_abort(&d);
		return -1;
	}
	return maildir_deliver_commit(&d);
}

static const char *entry_name(const struct maildir_list *l, size_t i,
    char *buf)
{
	memcpy(buf, l->names + l->msg[i].name_off, l->msg[i].name_len);
	buf[l->msg[i].name_len] = '\0';
	return buf;
}

static int name_format_ok(const char *s)
{
	const char *p = s;

	if (!(*p >= '1' && *p <= '9'))
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, ".M", 2) != 0)
		return 0;
	p += 2;
	for (int i = 0; i < 6; i++, p++)
		if (!(*p >= '0' && *p <= '9'))
			return 0;
	if (*p++ != 'P' || !(*p >= '1' && *p <= '9'))
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != 'Q' || !(*p >= '1' && *p <= '9'))
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != '.' || *p == '\0')
		return 0;
	return strchr(p, '/') == NULL && strchr(p, ':') == NULL;
}

static void test_unique(void)
{
	char a[MAILDIR_NAME_MAX], b[MAILDIR_NAME_MAX];

	maildir_unique(a, sizeof(a));
	maildir_unique(b, sizeof(b));
	CHECK(name_format_ok(a));
	CHECK(name_format_ok(b));
	CHECK(strcmp(a, b) != 0);
}

static void test_deliver_scan(void)
{
	char md[700], path[MAILDIR_PATH_MAX], name[MAILDIR_NAME_MAX];
	char buf[300000];
	struct maildir_list l;
	uint64_t sz, bytes, count;
	static char big[200000];
	size_t i;

	snprintf(md, sizeof(md), "%s/a/b/Maildir", top);

	/* a missing maildir is an empty list, and stays missing */
	CHECK(maildir_scan(md, &l) == 0 && l.n == 0);
	maildir_list_free(&l);
	CHECK(access(md, F_OK) < 0 && errno == ENOENT);
	CHECK(maildir_usage(md, &bytes, &count) == 0 && bytes == 0 &&
	    count == 0);

	/* delivery creates it with its parents, 0700 */
	CHECK(deliver(md, "a\nb\n", 4) == 0);
	{
		struct stat st;
		CHECK(stat(md, &st) == 0 && (st.st_mode & 0777) == 0700);
		snprintf(path, sizeof(path), "%s/a", top);
		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	}
	CHECK(deliver(md, "a\r\nb\n", 5) == 0);       /* CRLF stored */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (i % 100 == 99) ? '\n' : 'x';
	{
		/* several writes across the buffer boundary */
		struct maildir_delivery *d = malloc(sizeof(*d));
		CHECK(d && maildir_deliver_open(d, md) == 0);
		CHECK(maildir_deliver_write(d, big, 10) == 0);
		CHECK(maildir_deliver_write(d, big + 10, 70000) == 0);
		CHECK(maildir_deliver_write(d, big + 70010, 65530) == 0);
		CHECK(maildir_deliver_write(d, big + 135540,
		    sizeof(big) - 135540) == 0);
		CHECK(maildir_deliver_commit(d) == 0);
		free(d);
	}
	CHECK(deliver(md, "", 0) == 0);               /* empty message */
	snprintf(path, sizeof(path), "%s/tmp", md);
	CHECK(count_dir(path) == 0);
	snprintf(path, sizeof(path), "%s/new", md);
	CHECK(count_dir(path) == 4);

	CHECK(maildir_scan(md, &l) == 0);
	CHECK(l.n == 4);
	if (l.n == 4) {
		const char *n0 = entry_name(&l, 0, name);
		size_t bl = strlen(n0);
		CHECK(bl > 8 && strcmp(n0 + bl - 8, ",S=4,W=6") == 0);
		CHECK(name_format_ok(n0));
		CHECK(l.msg[0].size == 6 && l.msg[0].in_new == 1 &&
		    l.msg[0].uidl_len == l.msg[0].name_len);
		CHECK(strstr(entry_name(&l, 1, name), ",S=5,W=7") != NULL);
		CHECK(l.msg[1].size == 7);
		CHECK(l.msg[2].size == sizeof(big) + sizeof(big) / 100);
		snprintf(buf, 64, ",S=%zu,W=%zu", sizeof(big),
		    sizeof(big) + sizeof(big) / 100);
		CHECK(strstr(entry_name(&l, 2, name), buf) != NULL);
		CHECK(l.msg[3].size == 0);
		/* contents exact */
		CHECK(maildir_msg_relpath(&l, 2, name, sizeof(name)) == 0);
		snprintf(path, sizeof(path), "%s/%s", md, name);
		CHECK(read_file(path, buf, sizeof(buf)) == sizeof(big) &&
		    memcmp(buf, big, sizeof(big)) == 0);
		CHECK(maildir_msg_relpath(&l, 1, name, sizeof(name)) == 0);
		snprintf(path, sizeof(path), "%s/%s", md, name);
		CHECK(read_file(path, buf, sizeof(buf)) == 5 &&
		    memcmp(buf, "a\r\nb\n", 5) == 0);
		/* relpath too small */
		CHECK(maildir_msg_relpath(&l, 1, name, 10) == -1);
		CHECK(maildir_msg_size(md, &l, 1, &sz) == 0 && sz == 7);
	}
	CHECK(maildir_usage(md, &bytes, &count) == 0 && count == 4 &&
	    bytes == 6 + 7 + sizeof(big) + sizeof(big) / 100);
	maildir_list_free(&l);
}

/* Names made by hand: order, unknown and malformed W=, dot files. */
static void test_names(void)
{
	char md[700], path[MAILDIR_PATH_MAX], name[MAILDIR_NAME_MAX];
	struct maildir_list l;
	uint64_t sz;
	static const char *const files[] = {
		"cur/1700000300.M000001P1Q1.h,S=3,W=5:2,S",   /* 3rd */
		"new/1700000100.M000002P1Q1.h,S=2,W=4",       /* 2nd */
		"new/1700000100.M000001P1Q1.h",               /* 1st, no W= */
		"cur/1700000400.M1P1Q1.h,W=12a:2,",           /* malformed */
		"cur/1700000500.M1P1Q1.h,W=:2,",              /* empty */
		"cur/1700000600.M1P1Q1.h,W=99999999999999999999999:2,",
		"new/999999999.M5P1Q1.h,W=7",                 /* 9-digit time */
		"cur/zzz-foreign-name",                       /* last */
		"new/.hidden",
		"cur/.postern-lock",
	};
	size_t i;

	snprintf(md, sizeof(md), "%s/names", top);
	CHECK(maildir_make(md) == 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", md, files[i]);
		CHECK(write_file(path, "x\ny\n", 4) == 0);
	}
	snprintf(path, sizeof(path), "%s/cur/1700000700.dir", md);
	CHECK(mkdir(path, 0700) == 0);

	CHECK(maildir_scan(md, &l) == 0);
	CHECK(l.n == 8);
	if (l.n != 8) {
		maildir_list_free(&l);
		return;
	}
	CHECK_STR(entry_name(&l, 0, name), "999999999.M5P1Q1.h,W=7");
	CHECK(l.msg[0].size == 7);
	CHECK_STR(entry_name(&l, 1, name), "1700000100.M000001P1Q1.h");
	CHECK(l.msg[1].size == MAILDIR_SIZE_UNKNOWN);
	CHECK_STR(entry_name(&l, 2, name), "1700000100.M000002P1Q1.h,S=2,W=4");
	CHECK(l.msg[2].size == 4);
	CHECK_STR(entry_name(&l, 3, name),
	    "1700000300.M000001P1Q1.h,S=3,W=5:2,S");
	CHECK(l.msg[3].size == 5 && l.msg[3].in_new == 0);
	CHECK(l.msg[3].uidl_len == strlen("1700000300.M000001P1Q1.h,S=3,W=5"));
	CHECK(l.msg[4].size == MAILDIR_SIZE_UNKNOWN);
	CHECK(l.msg[5].size == MAILDIR_SIZE_UNKNOWN);
	CHECK(l.msg[6].size == MAILDIR_SIZE_UNKNOWN);
	CHECK_STR(entry_name(&l, 7, name), "zzz-foreign-name");

	/* unknown sizes are measured (LF counted twice) and cached */
	CHECK(maildir_msg_size(md, &l, 1, &sz) == 0 && sz == 6);
	CHECK(l.msg[1].size == 6);
	CHECK(maildir_msg_size(md, &l, 4, &sz) == 0 && sz == 6);
	CHECK(maildir_msg_size(md, &l, 0, &sz) == 0 && sz == 7);  /* name */
	CHECK(maildir_msg_size(md, &l, 99, &sz) == -1);

	/* to_cur keeps the UIDL; a name with ':' keeps its info */
	{
		char uidl[MAILDIR_NAME_MAX];
		memcpy(uidl, l.names + l.msg[1].name_off, l.msg[1].uidl_len);
		uidl[l.msg[1].uidl_len] = '\0';
		CHECK(maildir_msg_to_cur(md, &l, 1) == 0);
		CHECK(l.msg[1].in_new == 0);
		CHECK_STR(entry_name(&l, 1, name),
		    "1700000100.M000001P1Q1.h:2,");
		CHECK(l.msg[1].uidl_len == strlen(uidl) &&
		    memcmp(l.names + l.msg[1].name_off, uidl,
		    strlen(uidl)) == 0);
		snprintf(path, sizeof(path),
		    "%s/cur/1700000100.M000001P1Q1.h:2,", md);
		CHECK(access(path, F_OK) == 0);
		CHECK(maildir_msg_to_cur(md, &l, 1) == 0);   /* no-op */
		CHECK(maildir_msg_to_cur(md, &l, 3) == 0);   /* in cur */
		/* the neighbour in the arena is intact */
		CHECK_STR(entry_name(&l, 2, name),
		    "1700000100.M000002P1Q1.h,S=2,W=4");
		int fd = maildir_msg_open(md, &l, 1);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}

	/* moved by another program meanwhile: followed */
	{
		char from[MAILDIR_PATH_MAX], to[MAILDIR_PATH_MAX];
		snprintf(from, sizeof(from),
		    "%s/new/1700000100.M000002P1Q1.h,S=2,W=4", md);
		snprintf(to, sizeof(to),
		    "%s/cur/1700000100.M000002P1Q1.h,S=2,W=4:2,", md);
		CHECK(rename(from, to) == 0);
		int fd = maildir_msg_open(md, &l, 2);       /* still in_new */
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		CHECK(maildir_msg_to_cur(md, &l, 2) == 0);
		CHECK(l.msg[2].in_new == 0);
		CHECK(access(to, F_OK) == 0);
	}
	/* deleted by another program: to_cur and open report ENOENT */
	{
		snprintf(path, sizeof(path), "%s/new/999999999.M5P1Q1.h,W=7",
		    md);
		CHECK(unlink(path) == 0);
		errno = 0;
		CHECK(maildir_msg_open(md, &l, 0) == -1 && errno == ENOENT);
		errno = 0;
		CHECK(maildir_msg_to_cur(md, &l, 0) == -1 && errno == ENOENT);
		CHECK(l.msg[0].in_new == 1);
		CHECK(maildir_msg_delete(md, &l, 0) == 1);   /* already gone */
	}
	/* delete */
	CHECK(maildir_msg_delete(md, &l, 3) == 0);
	snprintf(path, sizeof(path), "%s/cur/1700000300.M000001P1Q1.h,S=3,W=5:2,S",
	    md);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	CHECK(maildir_msg_delete(md, &l, 3) == 1);
	CHECK(maildir_sync(md) == 0);
	maildir_list_free(&l);

	CHECK(maildir_scan(md, &l) == 0 && l.n == 6);
	maildir_list_free(&l);
}

/* W= placement: before S=, inside the info part, in new/ with info. */
static void test_names2(void)
{
	char md[700], path[MAILDIR_PATH_MAX], name[MAILDIR_NAME_MAX];
	struct maildir_list l;
	static const char *const files[] = {
		"new/1700000001.M1P1Q1.h,W=5,S=3",
		"cur/1700000002.M1P1Q1.h:2,W=5",
		"new/1700000003.M1P1Q1.h,S=3,W=9:2,F",
	};
	size_t i;

	snprintf(md, sizeof(md), "%s/names2", top);
	CHECK(maildir_make(md) == 0);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", md, files[i]);
		CHECK(write_file(path, "abc", 3) == 0);
	}
	CHECK(maildir_scan(md, &l) == 0 && l.n == 3);
	if (l.n == 3) {
		CHECK(l.msg[0].size == 5);
		CHECK(l.msg[1].size == MAILDIR_SIZE_UNKNOWN);
		CHECK(l.msg[2].size == 9 && l.msg[2].in_new);
		CHECK(maildir_msg_to_cur(md, &l, 2) == 0);
		CHECK_STR(entry_name(&l, 2, name),
		    "1700000003.M1P1Q1.h,S=3,W=9:2,F");
		snprintf(path, sizeof(path), "%s/cur/%s", md, name);
		CHECK(access(path, F_OK) == 0);
	}
	maildir_list_free(&l);
}

static void test_abort_and_tmp(void)
{
	char md[700], path[MAILDIR_PATH_MAX];
	static struct maildir_delivery d;
	struct timeval tv[2];

	snprintf(md, sizeof(md), "%s/abort", top);
	CHECK(maildir_deliver_open(&d, md) == 0);
	CHECK(maildir_deliver_write(&d, "hello\n", 6) == 0);
	snprintf(path, sizeof(path), "%s/tmp", md);
	CHECK(count_dir(path) == 1);
	maildir_deliver_abort(&d);
	CHECK(count_dir(path) == 0);
	snprintf(path, sizeof(path), "%s/new", md);
	CHECK(count_dir(path) == 0);
	errno = 0;
	CHECK(maildir_deliver_write(&d, "x", 1) == -1 && errno == EBADF);

	/* tmp sweeper: old files go, fresh ones stay */
	snprintf(path, sizeof(path), "%s/tmp/old", md);
	CHECK(write_file(path, "x", 1) == 0);
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 200000;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	CHECK(utimes(path, tv) == 0);
	snprintf(path, sizeof(path), "%s/tmp/fresh", md);
	CHECK(write_file(path, "x", 1) == 0);
	maildir_clean_tmp(md, 36 * 3600);
	snprintf(path, sizeof(path), "%s/tmp/old", md);
	CHECK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/tmp/fresh", md);
	CHECK(access(path, F_OK) == 0);
}

/* sync then commit: durable in tmp/ first, published by the commit */
static void test_sync_commit(void)
{
	char md[700], path[MAILDIR_PATH_MAX];
	static struct maildir_delivery d;
	static struct maildir_list l;

	snprintf(md, sizeof(md), "%s/sync", top);
	CHECK(maildir_deliver_open(&d, md) == 0);
	CHECK(maildir_deliver_write(&d, "a\nb\n", 4) == 0);
	CHECK(maildir_deliver_sync(&d) == 0);
	snprintf(path, sizeof(path), "%s/tmp", md);
	CHECK(count_dir(path) == 1);
	snprintf(path, sizeof(path), "%s/new", md);
	CHECK(count_dir(path) == 0);
	CHECK(maildir_deliver_commit(&d) == 0);
	CHECK(count_dir(path) == 1);
	snprintf(path, sizeof(path), "%s/tmp", md);
	CHECK(count_dir(path) == 0);
	CHECK(maildir_scan(md, &l) == 0 && l.n == 1 && l.msg[0].size == 6);
	maildir_list_free(&l);
	/* abort after a commit removes nothing */
	maildir_deliver_abort(&d);
	snprintf(path, sizeof(path), "%s/new", md);
	CHECK(count_dir(path) == 1);
}

static void test_lock(void)
{
	char md[700];
	int fd, st, p[2];
	pid_t pid;

	snprintf(md, sizeof(md), "%s/lock/Maildir", top);
	fd = maildir_lock(md);                 /* creates the maildir */
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	{
		char path[MAILDIR_PATH_MAX];
		snprintf(path, sizeof(path), "%s/new", md);
		CHECK(access(path, F_OK) == 0);
	}
	pid = fork();
	if (pid == 0) {
		int f = maildir_lock(md);
		_exit(f < 0 && errno == EWOULDBLOCK ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0);
	close(fd);

	/* a holder that dies (SIGKILL) releases the lock */
	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		int f = maildir_lock(md);
		char c = f >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	{
		char c = 0;
		CHECK(read(p[0], &c, 1) == 1 && c == 'y');
		errno = 0;
		CHECK(maildir_lock(md) == -1 && errno == EWOULDBLOCK);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fd = maildir_lock(md);
		CHECK(fd >= 0);
		close(fd);
	}
	close(p[0]);
	close(p[1]);
}

static void test_enospc(void)
{
	char mnt[700], md[800], path[MAILDIR_PATH_MAX];
	static char big[256 * 1024];
	static struct maildir_delivery d;
	int r, e;

	snprintf(mnt, sizeof(mnt), "%s/tiny", top);
	mkdir(mnt, 0700);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0) {
		printf("SKIP: ENOSPC test: cannot mount a tmpfs (%s)\n",
		    strerror(errno));
		skipped++;
		return;
	}
	snprintf(md, sizeof(md), "%s/Maildir", mnt);
	memset(big, 'y', sizeof(big));
	r = maildir_deliver_open(&d, md);
	CHECK(r == 0);
	if (r == 0) {
		r = maildir_deliver_write(&d, big, sizeof(big));
		e = errno;
		if (r == 0) {
			r = maildir_deliver_commit(&d);
			e = errno;
		} else
			maildir_deliver_abort(&d);
		CHECK(r == -1 && e == ENOSPC);
	}
	snprintf(path, sizeof(path), "%s/tmp", md);
	CHECK(count_dir(path) == 0);
	snprintf(path, sizeof(path), "%s/new", md);
	CHECK(count_dir(path) == 0);
	/* a small message still goes through afterwards */
	CHECK(deliver(md, "ok\n", 3) == 0);
	CHECK(count_dir(path) == 1);
	/* a failure only at commit (data in the buffer): also ENOSPC */
	r = maildir_deliver_open(&d, md);
	CHECK(r == 0);
	if (r == 0) {
		CHECK(maildir_deliver_write(&d, big, 60000) == 0);
		CHECK(maildir_deliver_write(&d, big, 5000) == 0);
		errno = 0;
		r = maildir_deliver_commit(&d);
		CHECK(r == -1 && errno == ENOSPC);
	}
	snprintf(path, sizeof(path), "%s/tmp", md);
	CHECK(count_dir(path) == 0);
	snprintf(path, sizeof(path), "%s/new", md);
	CHECK(count_dir(path) == 1);
	if (umount(mnt) < 0)
		printf("note: umount %s: %s\n", mnt, strerror(errno));
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reference order for test_order: delivery time "SECONDS.M<usec>"
 * (SECONDS < 2^32, at most 10 digits), then the name; others last. */
static unsigned long long ref_key(const char *s)
{
	unsigned long long t = 0, us = 0;
	size_t i = 0, n;

	for (n = 0; s[i] >= '0' && s[i] <= '9' && n < 11; i++, n++)
		t = t * 10 + (unsigned long long)(s[i] - '0');
	if (n == 0 || n == 11 || t > 0xffffffffULL || s[i] != '.')
		return ~0ULL;
	if (s[i + 1] == 'M' && s[i + 2] != '\0') {
		for (i += 2, n = 0; s[i] >= '0' && s[i] <= '9' && n < 7; i++, n++)
			us = us * 10 + (unsigned long long)(s[i] - '0');
		if (us > 999999)
			us = 999999;
	}
	return t << 20 | us;
}

/* The radix sort against the reference order: many equal keys, names
 * outside the usual form, large and tiny times, new/ and cur/ mixed. */
static void test_order(void)
{
	char md[700], path[1400], a[300], b[300];
	struct maildir_list l;
	unsigned seed = 12345;
	size_t i;
	int k, bad = 0;

	snprintf(md, sizeof(md), "%s/order", top);
	CHECK(maildir_make(md) == 0);
	for (k = 0; k < 3000; k++) {
		unsigned r;
		seed = seed * 1103515245u + 12345u;
		r = seed >> 8;
		switch (k % 6) {
		case 0: snprintf(a, sizeof(a), "%u.M%uP1Q%d.h,S=1,W=%u",
		    1700000000u + r % 50, r % 1000000, k, r % 100000000); break;
		case 1: snprintf(a, sizeof(a), "1700000007.M5P%uQ%d.h", r % 999, k);
		    break;
		case 2: snprintf(a, sizeof(a), "junk%u-%d", r % 77, k); break;
		case 3: snprintf(a, sizeof(a), "4294967296.M1P%dQ1.h", k); break;
		case 4: snprintf(a, sizeof(a), "%u.%d.h,W=%u", r % 10, k, r); break;
		default: snprintf(a, sizeof(a), "%u.M%uP1Q%d.h", 0xffffffffu - r % 3,
		    r % 3, k); break;
		}
		snprintf(path, sizeof(path), "%s/%s/%s%s", md, k % 2 ? "cur" : "new",
		    a, k % 2 ? ":2," : "");
		if (write_file(path, "", 0) < 0)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(maildir_scan(md, &l) == 0 && l.n == 3000);
	for (i = 1; i < l.n; i++) {
		const struct maildir_msg *p = &l.msg[i - 1], *q = &l.msg[i];
		unsigned long long ka, kb;
		snprintf(a, sizeof(a), "%.*s", (int)p->name_len,
		    l.names + p->name_off);
		snprintf(b, sizeof(b), "%.*s", (int)q->name_len,
		    l.names + q->name_off);
		ka = ref_key(a);
		kb = ref_key(b);
		if (ka > kb || (ka == kb && strcmp(a, b) > 0)) {
			if (!bad++)
				printf("order: %s before %s\n", a, b);
		}
	}
	CHECK(bad == 0);
	maildir_list_free(&l);
}

static void test_big(void)
{
	enum { N = 100000 };
	char md[700], path[MAILDIR_PATH_MAX], name[MAILDIR_NAME_MAX];
	struct maildir_list l;
	struct rusage ru;
	double t0, t1;
	uint64_t total = 0;
	long rss0;
	int ok = 1;
	size_t i;

	snprintf(md, sizeof(md), "%s/big", top);
	CHECK(maildir_make(md) == 0);
	t0 = now_ms();
	for (i = 0; i < N; i++) {
		/* interleave new/ and cur/, created in scrambled order */
		size_t k = (i * 7919) % N;
		int fd;
		snprintf(path, sizeof(path),
		    "%s/%s/%llu.M%06luP4242Q%zu.bench.example,S=1024,W=1056%s",
		    md, k % 3 ? "cur" : "new",
		    (unsigned long long)(1700000000 + k / 1000),
		    (unsigned long)(k % 1000) * 997, k + 1,
		    k % 3 ? ":2," : "");
		fd = open(path, O_CREAT | O_WRONLY, 0600);
		if (fd < 0) {
			ok = 0;
			break;
		}
		close(fd);
	}
	CHECK(ok);
	t1 = now_ms();
	printf("info: created %d files in %.0f ms\n", N, t1 - t0);

	getrusage(RUSAGE_SELF, &ru);
	rss0 = ru.ru_maxrss;
	t0 = now_ms();
	CHECK(maildir_scan(md, &l) == 0);
	t1 = now_ms();
	getrusage(RUSAGE_SELF, &ru);
	CHECK(l.n == N);
	for (i = 0; i < l.n; i++)
		total += l.msg[i].size;
	CHECK(total == (uint64_t)N * 1056);
	for (i = 0; i < l.n; i++) {
		size_t k = i;
		char want[MAILDIR_NAME_MAX];
		snprintf(want, sizeof(want),
		    "%llu.M%06luP4242Q%zu.bench.example,S=1024,W=1056%s",
		    (unsigned long long)(1700000000 + k / 1000),
		    (unsigned long)(k % 1000) * 997, k + 1,
		    k % 3 ? ":2," : "");
		if (strcmp(entry_name(&l, i, name), want) != 0 ||
		    l.msg[i].in_new != (k % 3 == 0)) {
			ok = 0;
			printf("FAIL: entry %zu: %s != %s\n", i, name, want);
			break;
		}
	}
	CHECK(ok);
	printf("info: scan of %d messages: %.1f ms, entries %zu KiB, names "
	    "%zu KiB, max RSS %ld KiB (before scan %ld KiB)\n", N, t1 - t0,
	    l.cap * sizeof(*l.msg) / 1024, l.names_len / 1024, ru.ru_maxrss,
	    rss0);
	maildir_list_free(&l);
	{
		uint64_t bytes, count;
		t0 = now_ms();
		CHECK(maildir_usage(md, &bytes, &count) == 0 &&
		    count == N && bytes == (uint64_t)N * 1056);
		printf("info: usage of %d messages: %.1f ms\n", N,
		    now_ms() - t0);
	}
}

/* 1 when a and b list the same messages in the same order */
static int lists_equal(const struct maildir_list *a,
    const struct maildir_list *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		const struct maildir_msg *x = &a->msg[i], *y = &b->msg[i];
		if (x->name_len != y->name_len || x->in_new != y->in_new ||
		    x->uidl_len != y->uidl_len || x->size != y->size ||
		    memcmp(a->names + x->name_off, b->names + y->name_off,
		    x->name_len) != 0)
			return 0;
	}
	return 1;
}

/* scan_cached == scan (live), both succeeding */
static int cached_is_live(const char *md)
{
	struct maildir_list a, b;
	int ok;

	if (maildir_scan_cached(md, &a) < 0)
		return 0;
	if (maildir_scan(md, &b) < 0) {
		maildir_list_free(&a);
		return 0;
	}
	ok = lists_equal(&a, &b);
	maildir_list_free(&a);
	maildir_list_free(&b);
	return ok;
}

/* Replaces the first occurrence of from by to (same length) in a file. */
static int patch_file(const char *path, const char *from, const char *to)
{
	static char buf[1 << 20];
	size_t n = read_file(path, buf, sizeof(buf)), k = strlen(from);
	char *p;
	FILE *f;

	if (n == (size_t)-1 || (p = memmem(buf, n, from, k)) == NULL)
		return -1;
	memcpy(p, to, k);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	fwrite(buf, 1, n, f);
	return fclose(f);
}

/* The saved listings (dircache): used only while new/ and cur/ are as
 * they were; a change, a damaged or forged copy means a live listing. */
/* a ,W= beyond MAILDIR_SIZE_W_MAX is not believed: the file is measured */
static void test_huge_w(void)
{
	char md[700], p[900];
	struct maildir_list l;
	uint64_t w = 0;

	snprintf(md, sizeof(md), "%s/hugew", top);
	CHECK(maildir_make(md) == 0);
	snprintf(p, sizeof(p), "%s/new/1700000000.M1P1Q1.t,S=4,W=1099511627777", md);
	CHECK(write_file(p, "a\nb\n", 4) == 0);
	snprintf(p, sizeof(p), "%s/new/1700000001.M1P1Q1.t,S=4,W=1099511627776", md);
	CHECK(write_file(p, "a\nb\n", 4) == 0);
	CHECK(maildir_scan(md, &l) == 0 && l.n == 2);
	if (l.n == 2) {
		CHECK(l.msg[0].size == MAILDIR_SIZE_UNKNOWN);
		CHECK(maildir_msg_size(md, &l, 0, &w) == 0 && w == 6);
		CHECK(l.msg[1].size == MAILDIR_SIZE_W_MAX);
	}
	maildir_list_free(&l);
}

static void test_cache(void)
{
	char md[700], p[900], q[900], c_new[900], c_cur[900], nm[300];
	struct maildir_list l;
	struct stat st;
	int i, forged = 0;

	snprintf(md, sizeof(md), "%s/cache", top);
	CHECK(maildir_make(md) == 0);
	for (i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "%s/%s/17000%05d.M%06dP1Q1.test,S=10,W=%d%s",
		    md, i % 3 ? "cur" : "new", i, i, 11 + i % 7, i % 3 ? ":2,S" : "");
		CHECK(write_file(p, "0123456789", 10) == 0);
	}
	snprintf(c_new, sizeof(c_new), "%s/.postern-new.cache", md);
	snprintf(c_cur, sizeof(c_cur), "%s/.postern-cur.cache", md);
	/* just changed: listed, nothing saved */
	CHECK(cached_is_live(md));
	CHECK(stat(c_new, &st) < 0 && stat(c_cur, &st) < 0);
	sleep(DIRCACHE_SETTLE_TEST);
	CHECK(cached_is_live(md));          /* settled: saved */
	CHECK(stat(c_new, &st) == 0 && stat(c_cur, &st) == 0);
	CHECK(cached_is_live(md));          /* and read back */

	/* the copy is what is read while the stamp holds (a forged name
	 * shows through: proof it is used) ... */
	CHECK(patch_file(c_cur, "1700000001.M000001", "1700000001.M000009") == 0);
	CHECK(maildir_scan_cached(md, &l) == 0);
	for (size_t k = 0; k < l.n; k++)
		forged |= strncmp(entry_name(&l, k, nm), "1700000001.M000009", 18) == 0;
	CHECK(forged);
	maildir_list_free(&l);
	/* ... but a name with '/' in it is refused: a live listing */
	CHECK(patch_file(c_cur, "1700000002.M000002", "1700000002/../../x") == 0);
	CHECK(cached_is_live(md));
	/* a truncated copy: live */
	CHECK(truncate(c_new, 200) == 0);
	CHECK(cached_is_live(md));
	/* a delivery into new/, a flag change and a delete in cur/ */
	CHECK(deliver(md, "x\n", 2) == 0);
	CHECK(cached_is_live(md));
	snprintf(p, sizeof(p), "%s/cur/1700000004.M000004P1Q1.test,S=10,W=15:2,S", md);
	snprintf(q, sizeof(q), "%s/cur/1700000004.M000004P1Q1.test,S=10,W=15:2,RS", md);
	CHECK(rename(p, q) == 0);
	CHECK(cached_is_live(md));
	snprintf(p, sizeof(p), "%s/cur/1700000005.M000005P1Q1.test,S=10,W=16:2,S", md);
	CHECK(unlink(p) == 0);
	CHECK(cached_is_live(md));
	/* a copy of another directory (cur/'s for new/): another inode */
	sleep(DIRCACHE_SETTLE_TEST);
	CHECK(cached_is_live(md));
	CHECK(cached_is_live(md));
	CHECK(rename(c_cur, c_new) == 0);
	CHECK(cached_is_live(md));
	/* a symlink in place of the copy is not followed */
	{
		char target[900], buf[64];
		snprintf(target, sizeof(target), "%s/victim", top);
		CHECK(write_file(target, "victim", 6) == 0);
		CHECK(unlink(c_new) == 0 || errno == ENOENT);
		CHECK(symlink(target, c_new) == 0);
		CHECK(cached_is_live(md));
		CHECK(cached_is_live(md));
		CHECK(read_file(target, buf, sizeof(buf)) == 6 &&
		    memcmp(buf, "victim", 6) == 0);
	}
}

/* Appends one getdents64 record (reclen at 16, type at 18, name at 19)
 * of reclen octets naming name to buf at *pos. */
static void put_dent(unsigned char *buf, size_t *pos, size_t reclen,
    unsigned char type, const char *name)
{
	uint16_t rl = (uint16_t)reclen;

	memset(buf + *pos, 0, reclen);
	memcpy(buf + *pos + 16, &rl, 2);
	buf[*pos + 18] = type;
	memcpy(buf + *pos + 19, name, strlen(name));
	*pos += reclen;
}

/* issue 16 item 2: a forged copy with the right stamp whose 256 KiB
 * chunk exactly fills the scan's buffer and ends in a 5-octet record.
 * The record header does not fit: a live listing, no read past the
 * buffer (an ASan build reported 13 octets past it before the fix). */
static void test_cache_boundary(void)
{
	static unsigned char chunk[DIRCACHE_CHUNK_MAX];
	static const char magic[16] = "postern-dcache1";
	char md[700], p[900], c_cur[900], nm[256];
	struct dircache_stamp stamp;
	struct maildir_list l;
	struct stat st_new, st_cur;
	size_t slack, pos, fill;
	uint64_t total;
	uint32_t len1 = 0, len2 = DIRCACHE_CHUNK_MAX;
	FILE *f;

	snprintf(md, sizeof(md), "%s/cacheedge", top);
	CHECK(maildir_make(md) == 0);
	snprintf(p, sizeof(p), "%s/cur/1700000000.M1P1Q1.t,S=4,W=6:2,S", md);
	CHECK(write_file(p, "a\nb\n", 4) == 0);
	snprintf(p, sizeof(p), "%s/new", md);
	CHECK(stat(p, &st_new) == 0);
	snprintf(p, sizeof(p), "%s/cur", md);
	CHECK(stat(p, &st_cur) == 0);
	dircache_stamp(&st_cur, &stamp);
	/* the scan's buffer is new/'s size plus 256 KiB (new/ is empty):
	 * a first chunk of names taking exactly new/'s size leaves 256 KiB */
	slack = (size_t)st_new.st_size;
	CHECK(slack < DIRCACHE_CHUNK_MAX / 2);
	snprintf(c_cur, sizeof(c_cur), "%s/.postern-cur.cache", md);
	f = fopen(c_cur, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	pos = 0;
	while (slack > 0) {
		size_t n = slack > 200 ? 200 : slack;
		if (slack - n > 0 && slack - n < 20)
			n = slack - 20;
		memset(nm, 'x', n);
		nm[0] = 'p';
		nm[n] = '\0';
		put_dent(chunk, &pos, 19 + n + 1, DT_REG, nm);
		slack -= n;
	}
	len1 = (uint32_t)pos;
	total = (uint64_t)len1 + len2;
	fwrite(magic, 1, 16, f);
	fwrite(stamp.v, 1, sizeof(stamp.v), f);
	fwrite(&total, 1, 8, f);
	if (len1) {
		fwrite(&len1, 1, 4, f);
		fwrite(chunk, 1, len1, f);
	}
	/* 256 KiB: skipped "." records, then a 5-octet record */
	pos = 0;
	for (fill = DIRCACHE_CHUNK_MAX - 5; fill > 0;) {
		size_t n = fill > 60000 ? 60000 : fill;
		if (fill - n > 0 && fill - n < 20)
			n -= 20;
		put_dent(chunk, &pos, n, DT_DIR, ".");
		fill -= n;
	}
	memset(chunk + pos, 0x7f, 5);
	fwrite(&len2, 1, 4, f);
	fwrite(chunk, 1, DIRCACHE_CHUNK_MAX, f);
	CHECK(fclose(f) == 0);
	CHECK(cached_is_live(md));
	CHECK(maildir_scan_cached(md, &l) == 0 && l.n == 1);
	maildir_list_free(&l);
}

/* issue 16 item 3: a message another program renamed to change its flags
 * (cur/NAME:2,S -> cur/NAME:2,RS, or new/NAME -> cur/NAME:2,S) is found by
 * its unique part: opened, and deleted for real; one truly gone is
 * reported as such (1), not as our delete. */
static void test_renamed(void)
{
	char md[700], a[900], b[900], decoy[900], nm[300];
	struct maildir_list l;
	int fd;

	snprintf(md, sizeof(md), "%s/renamed", top);
	CHECK(maildir_make(md) == 0);
	snprintf(a, sizeof(a), "%s/cur/1700000001.M1P1Q1.r,S=2,W=4:2,S", md);
	CHECK(write_file(a, "a\n", 2) == 0);
	snprintf(a, sizeof(a), "%s/new/1700000002.M1P1Q1.r,S=2,W=4", md);
	CHECK(write_file(a, "b\n", 2) == 0);
	snprintf(a, sizeof(a), "%s/cur/1700000003.M1P1Q1.r,S=2,W=4:2,", md);
	CHECK(write_file(a, "c\n", 2) == 0);
	/* same prefix, another message: never taken for 1700000001 */
	snprintf(decoy, sizeof(decoy), "%s/cur/1700000001.M1P1Q1.r,S=2,W=4x:2,RS", md);
	CHECK(write_file(decoy, "d\n", 2) == 0);
	/* sorted: 1700000001, the decoy (':' < 'x'), 1700000002, 1700000003 */
	CHECK(maildir_scan(md, &l) == 0 && l.n == 4);
	if (l.n != 4) {
		maildir_list_free(&l);
		return;
	}
	/* flags changed behind our back: open finds it, the entry follows */
	snprintf(a, sizeof(a), "%s/cur/1700000001.M1P1Q1.r,S=2,W=4:2,S", md);
	snprintf(b, sizeof(b), "%s/cur/1700000001.M1P1Q1.r,S=2,W=4:2,RS", md);
	CHECK(rename(a, b) == 0);
	fd = maildir_msg_open(md, &l, 0);
	CHECK(fd >= 0);
	if (fd >= 0) {
		char c = 0;
		CHECK(read(fd, &c, 1) == 1 && c == 'a');
		close(fd);
	}
	CHECK_STR(entry_name(&l, 0, nm), "1700000001.M1P1Q1.r,S=2,W=4:2,RS");
	CHECK(l.msg[0].uidl_len == strlen("1700000001.M1P1Q1.r,S=2,W=4"));
	/* renamed again, then deleted: really deleted */
	snprintf(a, sizeof(a), "%s/cur/1700000001.M1P1Q1.r,S=2,W=4:2,RST", md);
	CHECK(rename(b, a) == 0);
	CHECK(maildir_msg_delete(md, &l, 0) == 0);
	CHECK(access(a, F_OK) < 0 && errno == ENOENT);
	CHECK(access(decoy, F_OK) == 0);
	/* new/ -> cur/ with flags by a MUA: deleted where it is now */
	snprintf(a, sizeof(a), "%s/new/1700000002.M1P1Q1.r,S=2,W=4", md);
	snprintf(b, sizeof(b), "%s/cur/1700000002.M1P1Q1.r,S=2,W=4:2,S", md);
	CHECK(rename(a, b) == 0);
	CHECK(maildir_msg_delete(md, &l, 2) == 0);
	CHECK(access(b, F_OK) < 0 && errno == ENOENT);
	/* deleted by someone else: 1, and open says ENOENT */
	snprintf(a, sizeof(a), "%s/cur/1700000003.M1P1Q1.r,S=2,W=4:2,", md);
	CHECK(unlink(a) == 0);
	errno = 0;
	CHECK(maildir_msg_open(md, &l, 3) == -1 && errno == ENOENT);
	CHECK(maildir_msg_delete(md, &l, 3) == 1);
	CHECK(access(decoy, F_OK) == 0);
	CHECK(count_dir(b) < 0);
	maildir_list_free(&l);
	CHECK(maildir_scan(md, &l) == 0 && l.n == 1);
	maildir_list_free(&l);
}

/* issue 16 item 1: the quota sum never reads a message. A name without
 * ,W= counts ,S= (the file is not measured) or its size on disk, one
 * fstatat (its LFs not doubled: the file is not read). */
static void test_usage_noread(void)
{
	char md[700], p[900];
	static char body[10000];
	uint64_t bytes = 0, count = 0;

	memset(body, 'x', sizeof(body));
	for (size_t k = 99; k < sizeof(body); k += 100)
		body[k] = '\n';                 /* 100 LFs: W would be 10100 */
	snprintf(md, sizeof(md), "%s/usage", top);
	CHECK(maildir_make(md) == 0);
	snprintf(p, sizeof(p), "%s/cur/1700000001.M1P1Q1.courier:2,S", md);
	CHECK(write_file(p, body, sizeof(body)) == 0);
	snprintf(p, sizeof(p), "%s/new/1700000002.M1P1Q1.dovecot,S=500", md);
	CHECK(write_file(p, body, 10) == 0);
	snprintf(p, sizeof(p), "%s/new/1700000003.M1P1Q1.ours,S=4,W=6", md);
	CHECK(write_file(p, "a\nb\n", 4) == 0);
	CHECK(maildir_usage(md, &bytes, &count) == 0 && count == 3 &&
	    bytes == sizeof(body) + 500 + 6);
}

int main(void)
{
	char cwd[256];

	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	snprintf(top, sizeof(top), "%s/tests/tmp/maildir_test.%ld", cwd,
	    (long)getpid());
	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	rm_rf(top);
	if (mkdir(top, 0700) < 0) {
		printf("cannot create %s: %s\n", top, strerror(errno));
		return 1;
	}
	test_unique();
	test_deliver_scan();
	test_names();
	test_names2();
	test_abort_and_tmp();
	test_sync_commit();
	test_lock();
	test_enospc();
	test_order();
	test_big();
	test_huge_w();
	test_cache();
	test_cache_boundary();
	test_renamed();
	test_usage_noread();
	rm_rf(top);
	if (skipped) {
		printf("%d passed, %d failed, %d skipped\n", test_passed,
		    test_failed, skipped);
		return test_failed ? 1 : 0;
	}
	return TEST_SUMMARY();
}
