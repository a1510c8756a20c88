/* cdbfile_test.c - unit tests of the SIGBUS-guarded CDB access. */
#include "cdbfile.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[256];

static void make_db(void)
{
	struct cdb_make cm;
	char key[32], val[64];
	int fd, i;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cdb_make_start(&cm, fd);
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "key%d", i);
		snprintf(val, sizeof val, "value number %d", i);
		cdb_make_add(&cm, key, (unsigned)strlen(key), val,
		    (unsigned)strlen(val));
	}
	cdb_make_finish(&cm);
	close(fd);
}

static int find_key(struct cdb *c, void *arg)
{
	char buf[64];
	unsigned n;

	if (cdb_find(c, arg, (unsigned)strlen(arg)) <= 0)
		return 0;
	n = cdb_datalen(c);
	if (n >= sizeof buf || cdb_read(c, buf, n, cdb_datapos(c)) != 0)
		return -1;
	buf[n] = '\0';
	return strcmp(buf, "value number 1999") == 0 ? 1 : 2;
}

/* Truncates the file under the mapping, then touches the mapping. */
static int shrink_then_read(struct cdb *c, void *arg)
{
	const volatile unsigned char *m;
	unsigned size, i, sum = 0;

	(void)arg;
	m = cdbfile_map(c, &size);
	if (truncate(path, 0) != 0)
		return -3;
	for (i = 0; i < size; i += 512)
		sum += m[i];
	return (int)(sum & 0);	/* not reached: the read faults */
}

int main(void)
{
	struct sigaction sa, before;

	mkdir("tests/tmp", 0755);
	snprintf(path, sizeof path, "tests/tmp/cdbfile_test.%d.cdb",
	    (int)getpid());
	make_db();
	sigaction(SIGBUS, NULL, &before);
	CHECK(cdbfile_run(path, find_key, "key1999") == 1);
	CHECK(cdbfile_run(path, find_key, "nokey") == 0);

	/* a fault on the mapping is an error, not a crash */
	errno = 0;
	CHECK(cdbfile_run(path, shrink_then_read, NULL) == -1 && errno == EIO);
	/* and the handler is restored afterwards */
	sigaction(SIGBUS, NULL, &sa);
	CHECK(sa.sa_handler == before.sa_handler);

	/* the (now empty) file: not a CDB */
	errno = 0;
	CHECK(cdbfile_run(path, find_key, "key1") == -1 && errno == EPROTO);
	make_db();
	CHECK(cdbfile_run(path, find_key, "key1999") == 1);
	unlink(path);
	errno = 0;
	CHECK(cdbfile_run(path, find_key, "key1") == -1 && errno == ENOENT);
	return TEST_SUMMARY();
}
