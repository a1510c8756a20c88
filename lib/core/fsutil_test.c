/* fsutil_test.c - unit tests of fsutil.c's walk that never follows a
 * symbolic link (fsutil_open_dir_nofollow), in a real tree under
 * tests/tmp/: real paths, links as a middle or last component, files,
 * "." and "..", creation of missing components and their owner; and
 * the whole writes (fsutil_write_all, fsutil_pwrite_all). */
#include "test.h"
#include "testutil.h"
#include "fsutil.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[700];

static const char *at(const char *rel)
{
	static char buf[4][1000];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", top, rel);
	return buf[k];
}

/* 1 if fd is the directory path (same device and inode). */
static int same(int fd, const char *path)
{
	struct stat a, b;

	return fd >= 0 && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The walk of path; -1 with the errno in *e_r and the failing prefix. */
static int walk(const char *path, struct fsutil_mkdirs *mk, int *e_r,
    size_t *fail_r)
{
	int fd = fsutil_open_dir_nofollow(path, strlen(path), mk, fail_r);

	*e_r = fd < 0 ? errno : 0;
	return fd;
}

static void test_plain(void)
{
	size_t fail;
	int fd, e;
	const char *p = at("a/b");

	CHECK(mkdir(at("a"), 0755) == 0 && mkdir(p, 0755) == 0);
	fd = walk(p, NULL, &e, &fail);
	CHECK(same(fd, p));
	CHECK(fail == 0);
	/* readable: the last component is opened O_RDONLY */
	CHECK(fd >= 0 && fsync(fd) == 0);
	if (fd >= 0)
		close(fd);
	/* a prefix: the parent */
	fd = fsutil_open_dir_nofollow(p, strlen(p) - 2, NULL, NULL);
	CHECK(same(fd, at("a")));
	if (fd >= 0)
		close(fd);
	/* trailing slashes are fine */
	fd = walk(at("a/b//"), NULL, &e, &fail);
	CHECK(same(fd, p));
	if (fd >= 0)
		close(fd);
	fd = walk("/", NULL, &e, &fail);
	CHECK(same(fd, "/"));
	if (fd >= 0)
		close(fd);
}

static void test_refused(void)
{
	size_t fail;
	int fd, e;

	/* a link in the middle, to a real directory */
	CHECK(symlink(at("a"), at("la")) == 0);
	fd = walk(at("la/b"), NULL, &e, &fail);
	CHECK(fd == -1 && e == ELOOP);
	CHECK(fail == strlen(at("la")));
	/* a link as the last component */
	CHECK(symlink("b", at("a/lb")) == 0);
	fd = walk(at("a/lb"), NULL, &e, &fail);
	CHECK(fd == -1 && e == ELOOP);
	CHECK(fail == strlen(at("a/lb")));
	/* a link to "/" (the case of a swapped maildir parent) */
	CHECK(symlink("/", at("root")) == 0);
	fd = walk(at("root/tmp"), NULL, &e, &fail);
	CHECK(fd == -1 && e == ELOOP);
	/* a file */
	CHECK(close(open(at("a/f"), O_CREAT | O_WRONLY, 0600)) == 0);
	fd = walk(at("a/f/x"), NULL, &e, &fail);
	CHECK(fd == -1 && e == ENOTDIR);
	fd = walk(at("a/f"), NULL, &e, &fail);
	CHECK(fd == -1 && e == ENOTDIR);
	/* missing, without creation */
	fd = walk(at("a/none/x"), NULL, &e, &fail);
	CHECK(fd == -1 && e == ENOENT && fail == strlen(at("a/none")));
	/* ".", ".." and empty components; relative paths */
	fd = walk(at("a/../a/b"), NULL, &e, &fail);
	CHECK(fd == -1 && e == EINVAL);
	fd = walk(at("a/./b"), NULL, &e, &fail);
	CHECK(fd == -1 && e == EINVAL);
	fd = walk(at("a//b"), NULL, &e, &fail);
	CHECK(fd == -1 && e == EINVAL);
	fd = walk("tests/tmp", NULL, &e, &fail);
	CHECK(fd == -1 && e == EINVAL);
}

static void test_create(void)
{
	struct fsutil_mkdirs mk;
	struct stat st;
	size_t fail;
	int fd, e;
	uid_t uid = geteuid() == 0 ? 65534 : geteuid();
	gid_t gid = geteuid() == 0 ? 65534 : getegid();

	memset(&mk, 0, sizeof(mk));
	mk.mode = 0700;
	mk.chown = 1;
	mk.uid = uid;
	mk.gid = gid;
	fd = walk(at("c/d/e"), &mk, &e, &fail);
	CHECK(same(fd, at("c/d/e")));
	if (fd >= 0)
		close(fd);
	CHECK(mk.created == 3);
	CHECK(stat(at("c/d"), &st) == 0 && st.st_uid == uid &&
	    st.st_gid == gid && (st.st_mode & 07777) == 0700);
	CHECK(stat(at("c/d/e"), &st) == 0 && st.st_uid == uid);
	/* existing directories are kept as they are */
	CHECK(stat(at("a"), &st) == 0);
	mk.created = 0;
	fd = walk(at("a/b/new"), &mk, &e, &fail);
	CHECK(fd >= 0 && mk.created == 1);
	if (fd >= 0)
		close(fd);
	if (geteuid() == 0)
		CHECK(stat(at("a/b"), &st) == 0 && st.st_uid == 0);
	/* nothing is created through a link */
	mk.created = 0;
	fd = walk(at("la/made"), &mk, &e, &fail);
	CHECK(fd == -1 && e == ELOOP && mk.created == 0);
	CHECK(access(at("a/made"), F_OK) == -1 && errno == ENOENT);
	fd = walk(at("root/postern-fsutil-test"), &mk, &e, &fail);
	CHECK(fd == -1 && e == ELOOP);
	CHECK(access("/postern-fsutil-test", F_OK) == -1);
}

/* Whole writes: at the end, and at an offset without moving the file
 * offset; a bad descriptor fails with its errno. */
static void test_write_all(void)
{
	char buf[16];
	int fd = open(at("w"), O_RDWR | O_CREAT | O_EXCL, 0600);

	CHECK(fd >= 0);
	CHECK(fsutil_write_all(fd, "0123456789", 10) == 0);
	CHECK(fsutil_pwrite_all(fd, "ab", 2, 3) == 0);
	CHECK(fsutil_pwrite_all(fd, "XY", 2, 12) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == 10);
	CHECK(pread(fd, buf, sizeof buf, 0) == 14);
	CHECK(memcmp(buf, "012ab56789\0\0XY", 14) == 0);
	if (fd >= 0)
		close(fd);
	errno = 0;
	CHECK(fsutil_write_all(-1, "x", 1) == -1 && errno == EBADF);
	errno = 0;
	CHECK(fsutil_pwrite_all(-1, "x", 1, 0) == -1 && errno == EBADF);
	errno = 0;
	CHECK(fsutil_pwrite_all(2, "x", 1, -1) == -1 && errno == EINVAL);
}

/* fsutil_dent_take: a well-formed record, then a header that does not
 * fit, a reclen past the end, a reclen shorter than the header. */
static void test_dent_take(void)
{
	unsigned char buf[64];
	const char *name = NULL;
	size_t pos = 0, nlen = 0;
	unsigned char type = 0;
	uint16_t reclen = 24;

	memset(buf, 0, sizeof buf);
	memcpy(buf + 16, &reclen, sizeof reclen);
	buf[18] = 8;                               /* DT_REG */
	memcpy(buf + 19, "abc", 4);
	CHECK(fsutil_dent_take(buf, 24, &pos, &name, &nlen, &type) == 0);
	CHECK(pos == 24 && nlen == 3 && type == 8 && strcmp(name, "abc") == 0);
	CHECK(fsutil_dent_take(buf, 24, &pos, &name, &nlen, &type) < 0);
	pos = 0;                                   /* 5 octets: no header */
	errno = 0;
	CHECK(fsutil_dent_take(buf, 5, &pos, &name, &nlen, &type) < 0 &&
	    errno == EIO && pos == 0);
	CHECK(fsutil_dent_take(buf, 23, &pos, &name, &nlen, &type) < 0);
	reclen = 19;                               /* no room for a name */
	memcpy(buf + 16, &reclen, sizeof reclen);
	CHECK(fsutil_dent_take(buf, 24, &pos, &name, &nlen, &type) < 0);
}

int main(void)
{
	char cwd[256];

	if (!getcwd(cwd, sizeof(cwd)))
		return 1;
	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	snprintf(top, sizeof(top), "%s/tests/tmp/fsutil_test.%ld", cwd,
	    (long)getpid());
	if (mkdir(top, 0755) < 0)
		return 1;
	test_plain();
	test_refused();
	test_create();
	test_write_all();
	rm_rf(top);
	test_dent_take();
	return TEST_SUMMARY();
}
