/* throttle_test.c - unit tests of throttle.c: the delay policy, the
 * check and record in one step (a parallel burst of attempts), taking a
 * pending failure back, ageing, re-initialisation of a damaged file, a
 * fixed file size, 50 concurrent failing processes whose counts add up,
 * prefix aggregates against spraying (IPv6 /48 and /32, IPv4 /24), and
 * eviction that a flood of one-failure addresses cannot use to erase an
 * attacker's record. */
#include "test.h"
#include "throttle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HDR   64
#define SLOT  80
#define SLOTS 1024
#define FULL  ((off_t)HDR + (off_t)SLOTS * SLOT)

static char dir[256], path[300];

static off_t
size_of(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

/* moves addr's last failure back by secs (white-box: the slot layout) */
static int
age(const char *addr, int64_t secs)
{
	FILE *f = fopen(path, "r+b");
	char a[64];
	int64_t last;
	int k, found = 0;

	if (f == NULL)
		return 0;
	for (k = 0; k < SLOTS && !found; k++) {
		if (fseek(f, HDR + (long)k * SLOT, SEEK_SET) != 0 ||
		    fread(a, 1, sizeof a, f) != sizeof a)
			break;
		if (strcmp(a, addr) != 0)
			continue;
		fseek(f, HDR + (long)k * SLOT + 72, SEEK_SET);
		if (fread(&last, sizeof last, 1, f) != 1)
			break;
		last -= secs;
		fseek(f, HDR + (long)k * SLOT + 72, SEEK_SET);
		found = fwrite(&last, sizeof last, 1, f) == 1;
	}
	fclose(f);
	return found;
}

static void
test_policy(void)
{
	unsigned d;
	int i;

	CHECK(throttle_delay(path, "192.0.2.1") == 0);
	CHECK(size_of(path) == FULL);
	CHECK(throttle_failures(path, "192.0.2.1") == 0);
	for (i = 0; i < 3; i++)
		throttle_failed(path, "192.0.2.1");
	CHECK(throttle_failures(path, "192.0.2.1") == 3);
	CHECK(throttle_delay(path, "192.0.2.1") == 0);
	throttle_failed(path, "192.0.2.1");
	d = throttle_delay(path, "192.0.2.1");
	CHECK(d >= 1 && d <= 2);
	throttle_failed(path, "192.0.2.1");
	d = throttle_delay(path, "192.0.2.1");
	CHECK(d >= 3 && d <= 4);
	throttle_failed(path, "192.0.2.1");
	d = throttle_delay(path, "192.0.2.1");
	CHECK(d >= 7 && d <= 8);
	for (i = 0; i < 100; i++)
		throttle_failed(path, "192.0.2.1");
	CHECK(throttle_failures(path, "192.0.2.1") == 106);
	d = throttle_delay(path, "192.0.2.1");
	CHECK(d >= 59 && d <= 60);
	/* others are not affected */
	CHECK(throttle_delay(path, "192.0.2.2") == 0);
	CHECK(throttle_delay(path, "2001:db8::1") == 0);
	/* the wait counts from the last failure */
	CHECK(age("192.0.2.1", 30));
	d = throttle_delay(path, "192.0.2.1");
	CHECK(d >= 29 && d <= 30);
	CHECK(age("192.0.2.1", 31));
	CHECK(throttle_delay(path, "192.0.2.1") == 0);
	CHECK(throttle_failures(path, "192.0.2.1") == 106);
	/* old failures are forgotten */
	CHECK(age("192.0.2.1", 15 * 60));
	CHECK(throttle_failures(path, "192.0.2.1") == 0);
	CHECK(throttle_delay(path, "192.0.2.1") == 0);
	throttle_failed(path, "192.0.2.1");
	CHECK(throttle_failures(path, "192.0.2.1") == 1);
	/* an attempt is recorded at once; a withdrawn one does not count,
	 * but the next attempt waits from it */
	{
		int pending;

		for (i = 0; i < 3; i++)
			throttle_failed(path, "2001:db8::1");
		CHECK(throttle_attempt(path, "2001:db8::1", &pending) == 0);
		CHECK(pending == 1);
		CHECK(throttle_failures(path, "2001:db8::1") == 4);
		d = throttle_attempt(path, "2001:db8::1", &pending);
		CHECK(d >= 1 && d <= 2 && pending == 0);
		CHECK(throttle_failures(path, "2001:db8::1") == 4);
		throttle_withdraw(path, "2001:db8::1");
		CHECK(throttle_failures(path, "2001:db8::1") == 3);
		CHECK(throttle_delay(path, "2001:db8::1") == 0);
		throttle_withdraw(path, "198.51.100.9");   /* unknown: no-op */
		CHECK(throttle_failures(path, "198.51.100.9") == 0);
		/* withdrawing never goes below zero */
		for (i = 0; i < 5; i++)
			throttle_withdraw(path, "2001:db8::1");
		CHECK(throttle_failures(path, "2001:db8::1") == 0);
		CHECK(throttle_attempt(path, "2001:db8::1", &pending) == 0);
		CHECK(pending == 1);
		CHECK(throttle_failures(path, "2001:db8::1") == 1);
		/* no usable file: go ahead, nothing pending */
		CHECK(throttle_attempt("", "2001:db8::1", &pending) == 0);
		CHECK(pending == 0);
	}
	CHECK(throttle_failures(path, "192.0.2.1") == 1);
	CHECK(size_of(path) == FULL);
}

/* IPv6 clients are throttled by their /64; v4-mapped = IPv4 */
static void
test_keys(void)
{
	throttle_failed(path, "2001:db8:1:2:aaaa::1");
	throttle_failed(path, "2001:db8:1:2:bbbb::2");
	CHECK(throttle_failures(path, "2001:db8:1:2::ffff") == 2);
	CHECK(throttle_failures(path, "2001:DB8:1:2:0:0:0:7") == 2);
	CHECK(throttle_failures(path, "2001:db8:1:3::1") == 0);
	CHECK(age("2001:db8:1:2::/64", 0));     /* stored under its /64 */
	throttle_failed(path, "::ffff:198.51.100.44");
	CHECK(throttle_failures(path, "198.51.100.44") == 1);
	CHECK(age("198.51.100.44", 0));
	throttle_failed(path, "local");          /* not an address: as text */
	CHECK(throttle_failures(path, "local") == 1);
	CHECK(throttle_failures(path, "fe80::1%lo") == 0);
}

static void
test_bad_input(void)
{
	char p2[400], longaddr[100];

	/* no usable file: fail open */
	snprintf(p2, sizeof p2, "%s/no/such/dir/throttle", dir);
	CHECK(throttle_delay(p2, "192.0.2.1") == 0);
	throttle_failed(p2, "192.0.2.1");
	CHECK(throttle_failures(p2, "192.0.2.1") == 0);
	CHECK(throttle_delay(NULL, "192.0.2.1") == 0);
	CHECK(throttle_delay("", "192.0.2.1") == 0);
	/* a symlink is not followed */
	snprintf(p2, sizeof p2, "%s/link", dir);
	CHECK(symlink("throttle", p2) == 0);
	throttle_failed(p2, "192.0.2.77");
	CHECK(throttle_failures(path, "192.0.2.77") == 0);
	/* addresses: empty or too long are ignored */
	memset(longaddr, 'a', 64);
	longaddr[64] = 0;
	throttle_failed(path, longaddr);
	CHECK(throttle_failures(path, longaddr) == 0);
	CHECK(throttle_delay(path, "") == 0);
	throttle_failed(path, NULL);
	longaddr[63] = 0;
	throttle_failed(path, longaddr);
	CHECK(throttle_failures(path, longaddr) == 1);
}

static void
test_damage(void)
{
	FILE *f;

	throttle_failed(path, "203.0.113.5");
	CHECK(throttle_failures(path, "203.0.113.5") == 1);
	/* short file */
	CHECK(truncate(path, 100) == 0);
	CHECK(throttle_failures(path, "203.0.113.5") == 0);
	CHECK(size_of(path) == FULL);
	throttle_failed(path, "203.0.113.5");
	CHECK(throttle_failures(path, "203.0.113.5") == 1);
	/* too long */
	CHECK(truncate(path, FULL + 4096) == 0);
	CHECK(throttle_failures(path, "203.0.113.5") == 0);
	CHECK(size_of(path) == FULL);
	/* bad header */
	throttle_failed(path, "203.0.113.5");
	f = fopen(path, "r+b");
	fputs("garbage!", f);
	fclose(f);
	CHECK(throttle_failures(path, "203.0.113.5") == 0);
	CHECK(size_of(path) == FULL);
	/* garbage slots (no NUL in the address) are treated as free */
	f = fopen(path, "r+b");
	fseek(f, HDR, SEEK_SET);
	{
		static char junk[SLOTS * SLOT];
		memset(junk, 'x', sizeof junk);
		fwrite(junk, 1, sizeof junk, f);
	}
	fclose(f);
	throttle_failed(path, "203.0.113.6");
	CHECK(throttle_failures(path, "203.0.113.6") == 1);
	CHECK(size_of(path) == FULL);
}

/* 16 processes attempt at once after the wait has run out: exactly one
 * may go ahead (its attempt is pending before any other checks). */
static void
test_burst(void)
{
	pid_t pids[16];
	int i, st, ahead = 0, refused = 0, pending;
	int fds[2];

	for (i = 0; i < 4; i++)
		throttle_failed(path, "203.0.113.200");
	CHECK(age("203.0.113.200", 3));
	CHECK(throttle_delay(path, "203.0.113.200") == 0);
	CHECK(pipe(fds) == 0);
	for (i = 0; i < 16; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char c;
			unsigned d;

			close(fds[1]);
			if (read(fds[0], &c, 1) < 0)   /* start together */
				_exit(4);
			d = throttle_attempt(path, "203.0.113.200", &pending);
			_exit(d == 0 && pending ? 1 : d > 0 ? 2 : 3);
		}
	}
	close(fds[0]);
	close(fds[1]);      /* EOF releases them all */
	for (i = 0; i < 16; i++)
		if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] &&
		    WIFEXITED(st)) {
			ahead += WEXITSTATUS(st) == 1;
			refused += WEXITSTATUS(st) == 2;
		}
	CHECK(ahead == 1);
	CHECK(refused == 15);
	CHECK(throttle_failures(path, "203.0.113.200") == 5);
}

/* Each address tries up to 3 times (its free guesses), moving on when
 * refused; returns how many attempts went ahead (were "verified"). */
enum spray_kind { SPRAY_64S, SPRAY_48S, SPRAY_3_PER_48, SPRAY_V4 };

static int
spray(enum spray_kind kind, int count)
{
	char a[64];
	int i, t, ahead = 0, pending;

	for (i = 0; i < count; i++) {
		if (kind == SPRAY_64S)
			snprintf(a, sizeof a, "2001:db8:1:%x::1", i);
		else if (kind == SPRAY_48S)
			snprintf(a, sizeof a, "2001:db8:%x:1::1", i);
		else if (kind == SPRAY_3_PER_48)
			snprintf(a, sizeof a, "2001:db8:%x:%x::1", i / 3,
			    i % 3);
		else
			snprintf(a, sizeof a, "203.0.113.%d", i);
		for (t = 0; t < 3; t++) {
			if (throttle_attempt(path, a, &pending) != 0)
				break;
			ahead += pending;
		}
	}
	return ahead;
}

/* a /48 spraying from 65,536 /64s: the /48's record throttles them after
 * 4 failing /64s (3 + 3 + 3 + 1 guesses), not 3 guesses each */
static void
test_spray(void)
{
	int n;

	unlink(path);
	n = spray(SPRAY_64S, 65536);
	printf("a /48 from 65536 /64s: %d guesses verified\n", n);
	CHECK(n == 10);
	CHECK(throttle_failures(path, "2001:db8:1::/48") == 10);
	CHECK(throttle_delay(path, "2001:db8:1:ffff::77") >= 30);
	CHECK(throttle_delay(path, "2001:db8:2::1") == 0);  /* another /48 */
	CHECK(size_of(path) == FULL);
	/* a /32 spraying from one /64 in each of 4096 /48s */
	unlink(path);
	n = spray(SPRAY_48S, 4096);
	printf("a /32 from 4096 /48s: %d guesses verified\n", n);
	CHECK(n == 10);
	CHECK(throttle_delay(path, "2001:db8:abcd::1") >= 30);
	CHECK(throttle_delay(path, "2001:db9::1") == 0);
	/* the most a /32 gets: 3 /64s in each /48, 3 /48s before it counts */
	unlink(path);
	n = spray(SPRAY_3_PER_48, 3 * 4096);
	printf("a /32 from 3 /64s in each of 4096 /48s: %d guesses verified\n",
	    n);
	CHECK(n == 3 * 9 + 1);
	/* an IPv4 /24: 8 failing addresses put it in force */
	unlink(path);
	n = spray(SPRAY_V4, 256);
	printf("a /24 from 256 addresses: %d guesses verified\n", n);
	CHECK(n == 7 * 3 + 1);
	CHECK(throttle_delay(path, "203.0.113.250") >= 30);
	CHECK(throttle_delay(path, "::ffff:203.0.113.251") >= 30);
	CHECK(throttle_delay(path, "203.0.114.1") == 0);
	/* a success takes its pending failure back from the prefixes too */
	unlink(path);
	{
		int pending;

		CHECK(throttle_attempt(path, "2001:db8:5:1::1", &pending) == 0);
		CHECK(pending);
		CHECK(throttle_failures(path, "2001:db8:5::/48") == 1);
		throttle_withdraw(path, "2001:db8:5:1::1");
		CHECK(throttle_failures(path, "2001:db8:5::/48") == 0);
		CHECK(throttle_failures(path, "2001:db8::/32") == 0);
	}
	unlink(path);
}

/* a flood of 20,000 one-failure addresses does not evict the records of
 * an address and a /64 with many failures, even older ones */
static void
test_flood(void)
{
	char a[64];
	int i;

	unlink(path);
	for (i = 0; i < 20; i++) {
		throttle_failed(path, "192.0.2.50");
		throttle_failed(path, "2001:db8:7:7::7");
	}
	CHECK(age("192.0.2.50", 60));
	CHECK(age("2001:db8:7:7::/64", 60));
	for (i = 0; i < 20000; i++) {
		snprintf(a, sizeof a, "%d.%d.%d.9", 11 + (i >> 8), i & 255,
		    (i * 7) & 255);
		throttle_failed(path, a);
	}
	CHECK(throttle_failures(path, "192.0.2.50") == 20);
	CHECK(throttle_failures(path, "2001:db8:7:7::1") == 20);
	CHECK(size_of(path) == FULL);
	/* the flood itself is still recorded where it can be: recent ones */
	snprintf(a, sizeof a, "%d.%d.%d.9", 11 + (19999 >> 8), 19999 & 255,
	    (19999 * 7) & 255);
	CHECK(throttle_failures(path, a) == 1);
	unlink(path);
}

static void
test_many(void)
{
	char a[64];
	int i, kept = 0;

	/* more addresses than slots: the size stays, recent ones count */
	for (i = 0; i < 3000; i++) {
		snprintf(a, sizeof a, "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
		    i & 255);
		throttle_failed(path, a);
	}
	CHECK(size_of(path) == FULL);
	for (i = 2990; i < 3000; i++) {
		snprintf(a, sizeof a, "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
		    i & 255);
		kept += throttle_failures(path, a) == 1;
	}
	CHECK(kept == 10);
}

static void
test_concurrent(void)
{
	pid_t pids[50];
	int i, st, ok = 1, each = 1;
	char a[64];

	for (i = 0; i < 50; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			int k;
			for (k = 0; k < 10; k++)
				throttle_failed(path, "198.51.100.1");
			snprintf(a, sizeof a, "198.51.100.%d", 100 + i);
			throttle_failed(path, a);
			(void)throttle_delay(path, "198.51.100.1");
			_exit(0);
		}
		if (pids[i] < 0)
			ok = 0;
	}
	for (i = 0; i < 50; i++)
		if (pids[i] > 0 && (waitpid(pids[i], &st, 0) != pids[i] ||
		    !WIFEXITED(st) || WEXITSTATUS(st) != 0))
			ok = 0;
	CHECK(ok);
	CHECK(throttle_failures(path, "198.51.100.1") == 500);
	for (i = 0; i < 50; i++) {
		snprintf(a, sizeof a, "198.51.100.%d", 100 + i);
		if (throttle_failures(path, a) != 1)
			each = 0;
	}
	CHECK(each);
	CHECK(size_of(path) == FULL);
}

int
main(void)
{
	char cmd[600];

	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	snprintf(dir, sizeof dir, "tests/tmp/throttle_test.%ld", (long)getpid());
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof path, "%s/throttle", dir);
	test_policy();
	test_keys();
	test_bad_input();
	test_damage();
	unlink(path);
	test_concurrent();
	test_burst();
	test_many();
	test_spray();
	test_flood();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (test_failed == 0 && system(cmd) != 0)
		printf("note: could not remove %s\n", dir);
	return TEST_SUMMARY();
}
