/* certauth_sigbus_test.c - the --client-revoked list is read with the
 * same SIGBUS guard as the user database (issue 16): the revocation CDB
 * is truncated while it is mapped, in the middle of a look-up, and the
 * next read of the mapping faults. The answer must be "cannot be read"
 * (-1: the certificate counts as revoked), not a crash.
 * The fault is injected by this binary's own cdb_find(), which the
 * linker takes instead of the library's (it lives in its own member of
 * libcdb.a); unarmed it does the library's look-up through
 * cdb_findinit/cdb_findnext. Kept apart from certauth_test so that no
 * other test runs with it. */
#include "test.h"
#include "certauth.h"
#include "util.h"

#include <cdb.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[300];
static int armed;

/* cdb.h's cdb_find, with an optional fault: truncate, then read. */
int
cdb_find(struct cdb *cdbp, const void *key, unsigned klen)
{
	struct cdb_find cf;
	int r;

	if (armed) {
		const volatile unsigned char *m = cdbp->cdb_mem;
		unsigned i, sum = 0;

		armed = 0;
		if (truncate(path, 0) != 0)
			return -1;
		for (i = 0; i < cdbp->cdb_fsize; i += 512)
			sum += m[i];   /* faults on the first page */
		return (int)(sum & 0) + 1;   /* not reached */
	}
	if ((r = cdb_findinit(&cf, cdbp, key, klen)) <= 0)
		return r;
	return cdb_findnext(&cf);
}

static void
make_list(void)
{
	struct cdb_make cm;
	char k[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), i;

	CHECK(fd >= 0 && cdb_make_start(&cm, fd) == 0);
	for (i = 0; i < 3000; i++) {   /* several pages */
		snprintf(k, sizeof k, "%x", 0x100000 + i);
		cdb_make_add(&cm, k, (unsigned)strlen(k), "revoked 2025-01-01",
		    18);
	}
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
}

int
main(void)
{
	struct tls_peer_cert pc;
	struct certauth ca;

	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	snprintf(path, sizeof path, "tests/tmp/certauth_sigbus.%ld.cdb",
	    (long)getpid());
	memset(&pc, 0, sizeof pc);
	pc.presented = pc.verified = pc.eku_ok = 1;
	copy_str(pc.email, sizeof pc.email, "alice@example.org");
	memset(pc.sha256, 0x44, sizeof pc.sha256);
	copy_str(pc.serial_hex, sizeof pc.serial_hex, "100005");

	make_list();
	CHECK(certauth_revoked(path, &pc) == 1);      /* listed by serial */
	copy_str(pc.serial_hex, sizeof pc.serial_hex, "99");
	CHECK(certauth_revoked(path, &pc) == 0);      /* not listed */

	/* truncated under the mapping: unreadable, not a crash */
	armed = 1;
	CHECK(certauth_revoked(path, &pc) == -1);
	CHECK(armed == 0);                            /* the fault happened */
	/* the whole rule: fail closed */
	make_list();
	armed = 1;
	CHECK(certauth_map(&ca, &pc, "/nonexistent/users.cdb", path,
	    AUTH_POP3) == CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "revocation-unreadable");
	/* the guard is gone afterwards: a rebuilt list reads again */
	make_list();
	CHECK(certauth_revoked(path, &pc) == 0);
	unlink(path);
	return TEST_SUMMARY();
}
