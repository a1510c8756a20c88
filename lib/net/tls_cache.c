/* tls_cache.c - the shared TLS session cache file (see tls_cache.h for
 * the rules): opening and checking it, slot lookup and store under a
 * short flock(), wiping expired slots, and the server name from the
 * tail of a ClientHello.
 *
 * Slot layout (little-endian numbers):
 *   0 session ID[32]   32 created u64   40 expires u64 (0 = empty)
 *  48 version u16      50 suite u16     52 zero[4]
 *  56 master secret[48], ChaCha20-encrypted
 * 104 SHA-256 of the server name        136 HMAC-SHA256 of bytes 0..135
 * 168 zero[24] */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tls_suites.h"
#include "tls_cache.h"

#define NBUCKETS (TLS_CACHE_SLOTS / TLS_CACHE_BUCKET)
#define BUCKET_BYTES (TLS_CACHE_BUCKET * TLS_CACHE_SLOT_SIZE)
#define OFF_CREATED 32
#define OFF_EXPIRES 40
#define OFF_VERSION 48
#define OFF_SUITE 50
#define OFF_MS 56
#define OFF_SNI 104
#define OFF_MAC 136
#define CLOCK_SKEW 60          /* seconds a slot may be "from the future" */
#define LOCK_TRIES 200         /* x 100 us: give up after ~20 ms */

static const char magic[16] = "postern-tlscache";

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
header(unsigned char h[TLS_CACHE_HEADER_SIZE])
{
	memset(h, 0, TLS_CACHE_HEADER_SIZE);
	memcpy(h, magic, sizeof magic);
	put32(h + 16, 1);                       /* format version */
	put32(h + 20, TLS_CACHE_SLOTS);
	put32(h + 24, TLS_CACHE_SLOT_SIZE);
	put32(h + 28, TLS_CACHE_BUCKET);
}

int
tls_cache_open_fd(struct tls_cache *c, int fd, unsigned lifetime,
    const char *label, const char **error_r)
{
	unsigned char want[TLS_CACHE_HEADER_SIZE], got[TLS_CACHE_HEADER_SIZE];
	struct stat st;
	ssize_t r;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->lifetime = lifetime;
	snprintf(c->label, sizeof c->label, "%s", label);
	if (fstat(fd, &st) < 0) {
		*error_r = "cannot stat";
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		*error_r = "not owned by the service user";
		goto fail;
	}
	if ((st.st_mode & 07777) != 0600) {
		*error_r = "mode is not 0600";
		goto fail;
	}
	if (st.st_nlink != 1) {
		*error_r = "has other hard links";
		goto fail;
	}
	if (st.st_size != TLS_CACHE_FILE_SIZE) {
		*error_r = "wrong size (not a postern TLS session cache, or "
		    "truncated)";
		goto fail;
	}
	header(want);
	r = pread(fd, got, sizeof got, 0);
	if (r != (ssize_t)sizeof got) {
		*error_r = "cannot read the header";
		goto fail;
	}
	if (memcmp(want, got, sizeof want) != 0) {
		*error_r = "bad header (not a postern TLS session cache, or "
		    "another format version)";
		goto fail;
	}
	c->fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Makes a new cache file next to path and links it into place, so that
 * no process ever sees a half-made one. 0, or -1 with *error_r; a file
 * made meanwhile by another process is fine. */
static int
create(const char *path, const char **error_r)
{
	unsigned char h[TLS_CACHE_HEADER_SIZE];
	char tmp[4096];
	int fd, ok;

	if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) {
		*error_r = "path too long";
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*error_r = "cannot create";
		return -1;
	}
	header(h);
	ok = fchmod(fd, 0600) == 0 &&
	    ftruncate(fd, TLS_CACHE_FILE_SIZE) == 0 &&
	    pwrite(fd, h, sizeof h, 0) == (ssize_t)sizeof h;
	close(fd);
	/* into place only if nobody was first: a rename that does not
	 * replace (no moment with two links, which readers refuse), else
	 * link + unlink where the file system cannot */
	if (ok && renameat2(AT_FDCWD, tmp, AT_FDCWD, path,
	    RENAME_NOREPLACE) == 0)
		return 0;
	if (ok && errno != EEXIST) {
		if (errno != EINVAL && errno != ENOSYS)
			ok = 0;
		else if (link(tmp, path) < 0 && errno != EEXIST)
			ok = 0;
	}
	unlink(tmp);
	if (!ok)
		*error_r = "cannot create";
	return ok ? 0 : -1;
}

int
tls_cache_open(struct tls_cache *c, const char *path, unsigned lifetime,
    const char *label, const char **error_r)
{
	int fd, flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	fd = open(path, flags);
	if (fd < 0 && errno == ENOENT) {
		if (create(path, error_r) < 0)
			return -1;
		fd = open(path, flags);
	}
	if (fd < 0) {
		*error_r = errno == ELOOP ? "is a symbolic link" :
		    errno == EISDIR ? "not a regular file" :
		    errno == EACCES ? "permission denied" : "cannot open";
		return -1;
	}
	return tls_cache_open_fd(c, fd, lifetime, label, error_r);
}

void
tls_cache_close(struct tls_cache *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	explicit_bzero(c->mac_key, sizeof c->mac_key);
	explicit_bzero(c->enc_key, sizeof c->enc_key);
	c->bound = 0;
}

static void
derive(const void *secret, size_t len, const char *what,
    const char *label, const unsigned char binding[32], unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, secret, len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, "postern tls session cache 1 ", 28);
	br_hmac_update(&hc, what, strlen(what) + 1);
	br_hmac_update(&hc, label, strlen(label) + 1);
	br_hmac_update(&hc, binding, 32);
	br_hmac_out(&hc, out);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
}

void
tls_cache_bind(struct tls_cache *c, const void *secret, size_t len,
    const unsigned char binding[32])
{
	derive(secret, len, "mac", c->label, binding, c->mac_key);
	derive(secret, len, "enc", c->label, binding, c->enc_key);
	c->bound = 1;
}

void
tls_cache_sni_hash(const char *name, unsigned char out[32])
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, "sni:", 4);
	br_sha256_update(&h, name, strlen(name));
	br_sha256_out(&h, out);
}

static void
slot_mac(const struct tls_cache *c, const unsigned char *slot,
    unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, c->mac_key, sizeof c->mac_key);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, slot, OFF_MAC);
	br_hmac_out(&hc, out);
}

/* ChaCha20 over the master secret in place (both directions); the
 * nonce is the session ID's start mixed with the creation time. */
static void
slot_crypt(const struct tls_cache *c, unsigned char *slot)
{
	unsigned char iv[12];
	size_t i;

	memcpy(iv, slot, sizeof iv);
	for (i = 0; i < 8; i++)
		iv[i] ^= slot[OFF_CREATED + i];
	br_chacha20_ct_run(c->enc_key, iv, 0, slot + OFF_MS, 48);
}

static int
ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static int
suite_ok(unsigned suite)
{
	size_t i;

	for (i = 0; i < tls_suites_n; i++)
		if (tls_suites[i] == suite)
			return 1;
	return 0;
}

static int
lock(struct tls_cache *c)
{
	struct timespec ts = { 0, 100000 };
	int i;

	for (i = 0; i < LOCK_TRIES; i++) {
		if (flock(c->fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		nanosleep(&ts, NULL);
	}
	c->error = i == LOCK_TRIES ? "locked for too long" : "cannot lock";
	return -1;
}

static void
unlock(struct tls_cache *c)
{
	flock(c->fd, LOCK_UN);
}

static off_t
bucket_off(const unsigned char *id)
{
	return (off_t)TLS_CACHE_HEADER_SIZE +
	    (off_t)(get32(id) % NBUCKETS) * BUCKET_BYTES;
}

/* Reads the bucket of id (locked). 0, or -1 (c->error, unlocked). */
static int
bucket_read(struct tls_cache *c, const unsigned char *id, unsigned char *b)
{
	if (c->fd < 0 || !c->bound) {
		c->error = "not open";
		return -1;
	}
	if (lock(c) < 0)
		return -1;
	if (pread(c->fd, b, BUCKET_BYTES, bucket_off(id)) != BUCKET_BYTES) {
		unlock(c);
		c->error = "short read (file truncated?)";
		return -1;
	}
	return 0;
}

/* Zeroes the slots whose time is over; 1 when one was. */
static int
wipe_expired(unsigned char *b, int64_t now)
{
	unsigned char *s;
	uint64_t exp;
	int i, any = 0;

	for (i = 0; i < TLS_CACHE_BUCKET; i++) {
		s = b + i * TLS_CACHE_SLOT_SIZE;
		exp = get64(s + OFF_EXPIRES);
		if (exp != 0 && (int64_t)exp <= now) {
			explicit_bzero(s, TLS_CACHE_SLOT_SIZE);
			any = 1;
		}
	}
	return any;
}

static int
bucket_write(struct tls_cache *c, const unsigned char *id,
    const unsigned char *b)
{
	if (pwrite(c->fd, b, BUCKET_BYTES, bucket_off(id)) != BUCKET_BYTES) {
		c->error = "cannot write";
		return -1;
	}
	return 0;
}

int
tls_cache_lookup(struct tls_cache *c, br_ssl_session_parameters *p,
    const unsigned char sni_hash[32], int64_t now)
{
	unsigned char b[BUCKET_BYTES], one[TLS_CACHE_SLOT_SIZE], mac[32], *s;
	int64_t created;
	int i, found = 0, dirty;

	if (p->session_id_len != 32 || bucket_read(c, p->session_id, b) < 0)
		return 0;
	dirty = wipe_expired(b, now);
	for (i = 0; i < TLS_CACHE_BUCKET && !found; i++) {
		s = b + i * TLS_CACHE_SLOT_SIZE;
		if (get64(s + OFF_EXPIRES) == 0 ||
		    memcmp(s, p->session_id, 32) != 0)
			continue;
		slot_mac(c, s, mac);
		if (!ct_equal(mac, s + OFF_MAC, 32))
			continue;   /* corrupt, or another key's */
		if (now <= 0 ||
		    get64(s + OFF_CREATED) > (uint64_t)now + CLOCK_SKEW)
			created = INT64_MIN;   /* from the future */
		else
			created = (int64_t)get64(s + OFF_CREATED);
		if (created == INT64_MIN ||
		    now - created >= (int64_t)c->lifetime) {
			/* beyond this process's lifetime: over for it */
			explicit_bzero(s, TLS_CACHE_SLOT_SIZE);
			dirty = 1;
			continue;
		}
		if (get16(s + OFF_VERSION) != BR_TLS12 ||
		    !suite_ok(get16(s + OFF_SUITE)) ||
		    !ct_equal(s + OFF_SNI, sni_hash, 32))
			continue;
		memcpy(one, s, sizeof one);
		slot_crypt(c, one);
		p->version = BR_TLS12;
		p->cipher_suite = (uint16_t)get16(one + OFF_SUITE);
		memcpy(p->master_secret, one + OFF_MS, 48);
		explicit_bzero(one, sizeof one);
		found = 1;
	}
	if (dirty)
		bucket_write(c, p->session_id, b);
	unlock(c);
	explicit_bzero(b, sizeof b);
	return found;
}

int
tls_cache_store(struct tls_cache *c, const br_ssl_session_parameters *p,
    const unsigned char sni_hash[32], int64_t now)
{
	unsigned char b[BUCKET_BYTES], *s, *t = b;
	uint64_t oldest = UINT64_MAX;
	int i, r;

	if (p->session_id_len != 32 || p->version != BR_TLS12 || now <= 0) {
		c->error = "not a TLS 1.2 session";
		return -1;
	}
	if (bucket_read(c, p->session_id, b) < 0)
		return -1;
	wipe_expired(b, now);
	for (i = 0; i < TLS_CACHE_BUCKET; i++) {
		s = b + i * TLS_CACHE_SLOT_SIZE;
		if (memcmp(s, p->session_id, 32) == 0 ||
		    get64(s + OFF_EXPIRES) == 0) {
			t = s;
			break;
		}
		if (get64(s + OFF_CREATED) < oldest) {
			oldest = get64(s + OFF_CREATED);
			t = s;
		}
	}
	memset(t, 0, TLS_CACHE_SLOT_SIZE);
	memcpy(t, p->session_id, 32);
	put64(t + OFF_CREATED, (uint64_t)now);
	put64(t + OFF_EXPIRES, (uint64_t)now + c->lifetime);
	put16(t + OFF_VERSION, p->version);
	put16(t + OFF_SUITE, p->cipher_suite);
	memcpy(t + OFF_MS, p->master_secret, 48);
	slot_crypt(c, t);
	memcpy(t + OFF_SNI, sni_hash, 32);
	slot_mac(c, t, t + OFF_MAC);
	r = bucket_write(c, p->session_id, b);
	unlock(c);
	explicit_bzero(b, sizeof b);
	return r;
}

/* A bounded reader over the ClientHello's tail. */
struct rd {
	const unsigned char *p;
	size_t n;
	int bad;
};

static unsigned
rd8(struct rd *r)
{
	if (r->n < 1) {
		r->bad = 1;
		return 0;
	}
	r->n--;
	return *r->p++;
}

static unsigned
rd16(struct rd *r)
{
	unsigned v = rd8(r) << 8;

	return v | rd8(r);
}

/* A sub-reader over the next len bytes. */
static struct rd
rd_sub(struct rd *r, size_t len)
{
	struct rd s = { r->p, len, 0 };

	if (r->bad || len > r->n) {
		r->bad = 1;
		s.n = 0;
		s.bad = 1;
		return s;
	}
	r->p += len;
	r->n -= len;
	return s;
}

int
tls_cache_hello_sni(const unsigned char *p, size_t len, char *name,
    size_t size)
{
	struct rd r = { p, len, 0 }, exts, ext, list;
	unsigned type, nt, nl;

	if (size < 256)
		return -1;
	name[0] = '\0';
	rd_sub(&r, rd16(&r));                 /* cipher suites */
	rd_sub(&r, rd8(&r));                  /* compression methods */
	if (r.bad)
		return -1;
	if (r.n == 0)
		return 0;                         /* no extensions */
	exts = rd_sub(&r, rd16(&r));
	if (r.bad || r.n != 0)
		return -1;
	while (exts.n > 0) {
		type = rd16(&exts);
		ext = rd_sub(&exts, rd16(&exts));
		if (exts.bad)
			return -1;
		if (type != 0)
			continue;
		list = rd_sub(&ext, rd16(&ext));
		if (ext.bad || ext.n != 0)
			return -1;
		while (list.n > 0) {
			nt = rd8(&list);
			nl = rd16(&list);
			if (list.bad || nl > list.n)
				return -1;
			if (nt == 0 && nl <= 255) {
				memcpy(name, list.p, nl);
				name[nl] = '\0';
			}
			rd_sub(&list, nl);
		}
	}
	return exts.bad ? -1 : 0;
}
