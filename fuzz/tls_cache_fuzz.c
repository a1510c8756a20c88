/* tls_cache_fuzz.c - lib/tls_cache: the shared TLS session cache file
 * that any process of the service user can write, and the server name
 * read from a ClientHello. The first input byte picks a mode:
 *   0 raw:    the rest is the whole file; open it, then lookups of the
 *             IDs found in its slots and stores;
 *   1 fitted: a valid header, the rest repeated over the slots (exact
 *             size): the slot reader, expiry wipes and eviction run on
 *             arbitrary slots;
 *   2 tamper: a fresh cache gets 8 sessions, then the rest is XORed
 *             into the file at an offset it names; each lookup must
 *             miss or give back exactly what was stored (never a wrong
 *             session), and a new store must then be found;
 *   3 hello:  the rest is the tail of a ClientHello (tls_cache_hello_sni).
 * Properties: no crash, no leak, a session stored is found with the
 * same parameters, a found session is one that was stored, the file
 * never changes size. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "tls.h"
#include "tls_cache.h"

#define NOW 1800000000
static char path[600];
static unsigned char file[TLS_CACHE_FILE_SIZE];
static const unsigned char binding[32] = { 42 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof path, "%s/cache", fuzz_scratch("tls_cache"));
	return 0;
}

static int open_cache(struct tls_cache *c, unsigned lifetime)
{
	const char *err = NULL;

	if (tls_cache_open(c, path, lifetime, "pop3", &err) < 0) {
		FUZZ_CHECK(err != NULL && c->fd == -1);
		return -1;
	}
	tls_cache_bind(c, "fuzz secret", 11, binding);
	return 0;
}

static void params(br_ssl_session_parameters *p, unsigned i)
{
	memset(p, 0, sizeof *p);
	memset(p->session_id, (int)(i * 37 + 1), 32);
	p->session_id[4] = (unsigned char)i;
	p->session_id_len = 32;
	p->version = BR_TLS12;
	p->cipher_suite = tls_suites[i % tls_suites_n];
	memset(p->master_secret, (int)(i * 11 + 5), 48);
}

/* 1 found with the same parameters, 0 missing; a different session
 * under this ID fails the run. */
static int lookup(struct tls_cache *c, const br_ssl_session_parameters *w,
    int64_t now)
{
	br_ssl_session_parameters q;
	unsigned char h[32];

	memset(&q, 0, sizeof q);
	memcpy(q.session_id, w->session_id, 32);
	q.session_id_len = 32;
	tls_cache_sni_hash("", h);
	if (!tls_cache_lookup(c, &q, h, now))
		return 0;
	FUZZ_CHECK(q.version == w->version &&
	    q.cipher_suite == w->cipher_suite &&
	    memcmp(q.master_secret, w->master_secret, 48) == 0);
	return 1;
}

static void store_and_find(struct tls_cache *c, unsigned i, int64_t now)
{
	br_ssl_session_parameters p;
	unsigned char h[32];

	params(&p, i);
	tls_cache_sni_hash("", h);
	if (tls_cache_store(c, &p, h, now) == 0)
		FUZZ_CHECK(lookup(c, &p, now) == 1);
}

static void check_size(void)
{
	struct stat st;

	FUZZ_CHECK(lstat(path, &st) == 0 && st.st_size == TLS_CACHE_FILE_SIZE);
}

/* modes 0 and 1: whatever the file holds */
static void arbitrary(const uint8_t *d, size_t n, int fitted)
{
	struct tls_cache c;
	br_ssl_session_parameters q;
	unsigned char h[32];
	size_t i, o;
	struct stat st;

	if (fitted) {
		memset(file, 0, sizeof file);
		for (o = TLS_CACHE_HEADER_SIZE; n > 0 && o < sizeof file; o += n)
			memcpy(file + o, d, sizeof file - o < n ?
			    sizeof file - o : n);
		/* a valid header: made by the code itself */
		unlink(path);
		if (open_cache(&c, 3600) < 0)
			return;
		tls_cache_close(&c);
		{
			int fd = open(path, O_RDWR | O_CLOEXEC);

			FUZZ_CHECK(fd >= 0);
			FUZZ_CHECK(pwrite(fd, file + TLS_CACHE_HEADER_SIZE,
			    sizeof file - TLS_CACHE_HEADER_SIZE,
			    TLS_CACHE_HEADER_SIZE) == (ssize_t)(sizeof file -
			    TLS_CACHE_HEADER_SIZE));
			close(fd);
		}
	} else {
		unlink(path);
		fuzz_write_file(path, d, n);
	}
	if (open_cache(&c, 1 + (n % 7200)) < 0)
		return;
	/* look up the IDs that are in the file: every MAC must fail */
	tls_cache_sni_hash("", h);
	for (i = 0; i < 64; i++) {
		o = TLS_CACHE_HEADER_SIZE + ((i * 977 + n) % TLS_CACHE_SLOTS) *
		    TLS_CACHE_SLOT_SIZE;
		memset(&q, 0, sizeof q);
		if (pread(c.fd, q.session_id, 32, (off_t)o) != 32)
			break;
		q.session_id_len = 32;
		FUZZ_CHECK(tls_cache_lookup(&c, &q, h, NOW + (int64_t)i * 600)
		    == 0);
	}
	for (i = 0; i < 6; i++)
		store_and_find(&c, (unsigned)(i + n), NOW + (int64_t)i * 300);
	FUZZ_CHECK(fstat(c.fd, &st) == 0 && st.st_size == TLS_CACHE_FILE_SIZE);
	tls_cache_close(&c);
}

/* mode 2: stored sessions, then damage */
static void tamper(const uint8_t *d, size_t n)
{
	struct tls_cache c;
	br_ssl_session_parameters p[8];
	unsigned char h[32], buf[4096];
	size_t off, i, len;
	int fd;

	unlink(path);
	if (n < 4 || open_cache(&c, 3600) < 0)
		return;
	tls_cache_sni_hash("", h);
	for (i = 0; i < 8; i++) {
		params(&p[i], (unsigned)(d[0] + i));
		FUZZ_CHECK(tls_cache_store(&c, &p[i], h, NOW + (int64_t)i) == 0);
	}
	tls_cache_close(&c);
	off = ((size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3]) %
	    TLS_CACHE_FILE_SIZE;
	d += 4;
	n -= 4;
	len = n < sizeof buf ? n : sizeof buf;
	if (len > TLS_CACHE_FILE_SIZE - off)
		len = TLS_CACHE_FILE_SIZE - off;
	fd = open(path, O_RDWR | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(pread(fd, buf, len, (off_t)off) == (ssize_t)len);
	for (i = 0; i < len; i++)
		buf[i] ^= d[i];
	FUZZ_CHECK(pwrite(fd, buf, len, (off_t)off) == (ssize_t)len);
	close(fd);
	if (open_cache(&c, 3600) < 0)
		return;   /* header damaged: refused */
	for (i = 0; i < 8; i++)
		lookup(&c, &p[i], NOW + 100);   /* miss or exact */
	store_and_find(&c, 999, NOW + 200);
	tls_cache_close(&c);
	check_size();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[256];

	if (!path[0])
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		arbitrary(data + 1, size - 1, 0);
		break;
	case 1:
		arbitrary(data + 1, size - 1, 1);
		break;
	case 2:
		tamper(data + 1, size - 1);
		break;
	default:
		if (tls_cache_hello_sni(data + 1, size - 1, name,
		    sizeof name) == 0)
			FUZZ_CHECK(strlen(name) <= 255);
	}
	return 0;
}
