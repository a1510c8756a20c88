/* tls_cred.c - loading TLS material at start-up: a PEM certificate
 * chain and its private key (RSA or EC, checked to match), the
 * $CREDENTIALS_DIRECTORY fallback, and trust anchors from a CA file.
 * This is the one part of the TLS code that allocates (once). */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.h"
#include "base64.h"
#include "util.h"

#define TLS_FILE_MAX (8u << 20)   /* no PEM file of ours is bigger */

static char cred_err[512];
static char cred_warn[512];

struct growbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void
grow_append(void *ctx, const void *data, size_t n)
{
	struct growbuf *b = ctx;
	unsigned char *np;
	size_t ncap;

	if (b->oom)
		return;
	if (n > b->cap - b->len) {
		ncap = b->cap ? b->cap : 1024;
		while (ncap - b->len < n) {
			if (ncap > TLS_FILE_MAX) {
				b->oom = 1;
				return;
			}
			ncap *= 2;
		}
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
grow_free(struct growbuf *b, int secret)
{
	if (b->p != NULL && secret)
		wipe(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Reads a whole file into a growbuf (one allocation when fstat knows
 * its size) and gives its mode. 0 or -1 (errno). */
static int
read_all(const char *path, struct growbuf *b, mode_t *mode_r)
{
	unsigned char chunk[4096];
	struct stat st;
	ssize_t r = 0;
	size_t want;
	int fd;

	memset(b, 0, sizeof *b);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	if (mode_r != NULL)
		*mode_r = st.st_mode;
	if (S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= TLS_FILE_MAX) {
		/* the usual case: read it straight into its buffer */
		want = (size_t)st.st_size;
		b->p = malloc(want);
		if (b->p == NULL) {
			close(fd);
			errno = ENOMEM;
			return -1;
		}
		b->cap = want;
		while (b->len < want) {
			r = read(fd, b->p + b->len, want - b->len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			b->len += (size_t)r;
		}
		if (r >= 0 && b->len == want) {
			close(fd);
			return 0;   /* a file that grows is read at its size */
		}
	}
	for (;;) {
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		grow_append(b, chunk, (size_t)r);
		if (b->oom)
			break;
	}
	wipe(chunk, sizeof chunk);
	close(fd);
	if (r < 0 || b->oom) {
		if (b->oom)
			errno = EFBIG;
		grow_free(b, 1);
		return -1;
	}
	return 0;
}

typedef int (*pem_cb)(void *ctx, const char *name,
    const unsigned char *der, size_t len);

/* Base64 state of one PEM object, decoding in place. */
struct b64 {
	unsigned char *out;   /* next output byte (trails the input) */
	uint32_t acc;         /* the sextets of the current quantum */
	int n;                /* sextets (and pads) in it, 0..3 */
	int pad;              /* '=' seen in it */
	int done;             /* a padded quantum ended the data */
};

/* Decodes p[0..len) (one line, blanks skipped). 0 or -1. */
static int
b64_line(struct b64 *b, const unsigned char *p, size_t len)
{
	size_t i;
	int v;

	for (i = 0; i < len; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')
			continue;
		if (b->done)
			return -1;
		if (p[i] == '=') {
			if (b->n < 2)
				return -1;
			b->pad++;
			v = 0;
		} else {
			v = base64_value(p[i]);
			if (v < 0 || b->pad)
				return -1;
		}
		b->acc = (b->acc << 6) | (uint32_t)v;
		if (++b->n < 4)
			continue;
		*b->out++ = (unsigned char)(b->acc >> 16);
		if (b->pad < 2)
			*b->out++ = (unsigned char)(b->acc >> 8);
		if (b->pad < 1)
			*b->out++ = (unsigned char)b->acc;
		b->done = b->pad > 0;
		b->acc = 0;
		b->n = 0;
		b->pad = 0;
	}
	return 0;
}

/* Calls cb for every PEM object of data[0..len): a line
 * "-----BEGIN LABEL-----", base64 lines (blanks ignored), a line
 * "-----END LABEL-----"; text outside objects is ignored, as OpenSSL
 * writes it ("Bag Attributes", comments). The DER is decoded in place,
 * over the base64 text (data is the caller's scratch copy of the file).
 * Returns 0, -1 on a PEM error, or what cb returned when it was not 0. */
static int
pem_each(unsigned char *data, size_t len, pem_cb cb, void *ctx)
{
	static const char begin[] = "-----BEGIN ", endl[] = "-----END ",
	    dashes[] = "-----";
	unsigned char *p, *end, *line, *e, *obj = NULL;
	struct b64 b;
	char name[128];
	size_t n;
	int inobj = 0, rc;

	if (data == NULL || len == 0)      /* an empty file: no object */
		return 0;
	p = data;
	end = data + len;
	memset(&b, 0, sizeof b);
	while (p < end) {
		line = p;
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		p = e < end ? e + 1 : end;
		while (e > line && (e[-1] == '\r' || e[-1] == ' ' ||
		    e[-1] == '\t'))
			e--;
		n = (size_t)(e - line);
		if (!inobj) {
			if (n < sizeof begin - 1 + 1 + sizeof dashes - 1 ||
			    memcmp(line, begin, sizeof begin - 1) != 0 ||
			    memcmp(e - (sizeof dashes - 1), dashes,
			    sizeof dashes - 1) != 0)
				continue;
			n -= sizeof begin - 1 + sizeof dashes - 1;
			if (n >= sizeof name)
				return -1;
			memcpy(name, line + sizeof begin - 1, n);
			name[n] = '\0';
			inobj = 1;
			obj = p;
			memset(&b, 0, sizeof b);
			b.out = p;
			continue;
		}
		if (n >= sizeof endl - 1 &&
		    memcmp(line, endl, sizeof endl - 1) == 0) {
			if (b.n != 0)
				return -1;   /* a truncated quantum */
			rc = cb(ctx, name, obj, (size_t)(b.out - obj));
			if (rc != 0)
				return rc;
			inobj = 0;
			continue;
		}
		if (b64_line(&b, line, n) < 0)
			return -1;   /* headers (encrypted PEM) too */
	}
	return inobj ? -1 : 0;
}

static int
is_cert_label(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 ||
	    strcmp(name, "X509 CERTIFICATE") == 0;
}

static int
is_key_label(const char *name)
{
	return strcmp(name, "RSA PRIVATE KEY") == 0 ||
	    strcmp(name, "EC PRIVATE KEY") == 0 ||
	    strcmp(name, "PRIVATE KEY") == 0;
}

static int
chain_add(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct tls_cred *c = ctx;
	br_x509_certificate *nc;
	unsigned char *copy;

	if (!is_cert_label(name))
		return 0;   /* a key in a combined file, parameters, ... */
	if (len == 0)
		return 0;
	nc = realloc(c->chain, (c->chain_len + 1) * sizeof *nc);
	if (nc == NULL)
		return -2;
	c->chain = nc;
	copy = malloc(len);
	if (copy == NULL)
		return -2;
	memcpy(copy, der, len);
	c->chain[c->chain_len].data = copy;
	c->chain[c->chain_len].data_len = len;
	c->chain_len++;
	return 0;
}

struct keyload {
	struct tls_cred *c;
	int found;
	int encrypted;
};

static int
key_add(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct keyload *k = ctx;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
		k->encrypted = 1;
		return 0;
	}
	if (!is_key_label(name) || k->found)
		return 0;
	br_skey_decoder_init(&k->c->skey);
	br_skey_decoder_push(&k->c->skey, der, len);
	if (br_skey_decoder_last_error(&k->c->skey) != 0)
		return -3;
	k->found = 1;
	return 0;
}

static int
strip_eq(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	while (alen > 0 && *a == 0) {
		a++;
		alen--;
	}
	while (blen > 0 && *b == 0) {
		b++;
		blen--;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* 1 when the certificate's public key belongs to the private key. */
static int
key_matches(const br_x509_pkey *pk, const br_skey_decoder_context *skey)
{
	unsigned char buf[BR_EC_KBUF_PUB_MAX_SIZE > 1024 ?
	    BR_EC_KBUF_PUB_MAX_SIZE : 1024];
	const br_rsa_private_key *rk;
	const br_ec_private_key *ek;
	br_ec_public_key pub;
	size_t n;

	switch (br_skey_decoder_key_type(skey)) {
	case BR_KEYTYPE_RSA:
		rk = br_skey_decoder_get_rsa(skey);
		if (pk->key_type != BR_KEYTYPE_RSA || (rk->n_bitlen + 7) / 8 >
		    sizeof buf)
			return 0;
		n = br_rsa_compute_modulus_get_default()(NULL, rk);
		if (n == 0 || n > sizeof buf)
			return 0;
		n = br_rsa_compute_modulus_get_default()(buf, rk);
		return strip_eq(buf, n, pk->key.rsa.n, pk->key.rsa.nlen);
	case BR_KEYTYPE_EC:
		ek = br_skey_decoder_get_ec(skey);
		if (pk->key_type != BR_KEYTYPE_EC ||
		    pk->key.ec.curve != ek->curve)
			return 0;
		n = br_ec_compute_pub(br_ec_get_default(), &pub, buf, ek);
		return n > 0 && pub.qlen == pk->key.ec.qlen &&
		    memcmp(pub.q, pk->key.ec.q, pub.qlen) == 0;
	default:
		return 0;
	}
}

void
tls_cred_free(struct tls_cred *c)
{
	size_t i;

	for (i = 0; i < c->chain_len; i++)
		free(c->chain[i].data);
	free(c->chain);
	wipe(&c->skey, sizeof c->skey);
	memset(c, 0, sizeof *c);
}

static int
cred_fail(struct tls_cred *c, const char **error_r, const char *what,
    const char *path, const char *detail)
{
	snprintf(cred_err, sizeof cred_err, "%s %s: %s", what, path, detail);
	if (error_r != NULL)
		*error_r = cred_err;
	tls_cred_free(c);
	return -1;
}

/* Decodes the first certificate and checks that the key belongs to
 * it. 0, or -1 with cred_err set (nothing freed). */
static int
check_pair(struct tls_cred *c, const char *cert_path)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	const char *detail = NULL;

	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (br_x509_decoder_last_error(&dc) != 0 || pk == NULL)
		detail = "cannot decode the first certificate";
	else if (!key_matches(pk, &c->skey))
		detail = "does not match the private key";
	if (detail != NULL) {
		snprintf(cred_err, sizeof cred_err, "certificate %s: %s",
		    cert_path, detail);
		return -1;
	}
	c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
	c->unchecked = 0;
	return 0;
}

int
tls_cred_load(struct tls_cred *c, const char *cert_path,
    const char *key_path, const char **error_r, const char **warn_r)
{
	return tls_cred_load_flags(c, cert_path, key_path, 0, error_r,
	    warn_r);
}

int
tls_cred_load_flags(struct tls_cred *c, const char *cert_path,
    const char *key_path, unsigned flags, const char **error_r,
    const char **warn_r)
{
	struct growbuf file;
	struct keyload kl = { c, 0, 0 };
	mode_t mode = 0;
	int rc;

	memset(c, 0, sizeof *c);
	if (warn_r != NULL)
		*warn_r = NULL;

	if (read_all(cert_path, &file, NULL) < 0)
		return cred_fail(c, error_r, "cannot read certificate",
		    cert_path, strerror(errno));
	rc = pem_each(file.p, file.len, chain_add, c);
	grow_free(&file, 0);
	if (rc == -2)
		return cred_fail(c, error_r, "certificate", cert_path,
		    "out of memory");
	if (rc < 0)
		return cred_fail(c, error_r, "certificate", cert_path,
		    "bad PEM data");
	if (c->chain_len == 0)
		return cred_fail(c, error_r, "certificate", cert_path,
		    "no CERTIFICATE in the file");

	if (read_all(key_path, &file, &mode) < 0)
		return cred_fail(c, error_r, "cannot read key",
		    key_path, strerror(errno));
	if ((mode & 077) != 0 && warn_r != NULL) {
		snprintf(cred_warn, sizeof cred_warn, "key file %s is "
		    "accessible by group or others (mode %04o); chmod 600 it",
		    key_path, (unsigned)(mode & 07777));
		*warn_r = cred_warn;
	}
	rc = pem_each(file.p, file.len, key_add, &kl);
	grow_free(&file, 1);
	if (rc == -3)
		return cred_fail(c, error_r, "key", key_path,
		    "cannot decode the private key");
	if (rc < 0)
		return cred_fail(c, error_r, "key", key_path,
		    "bad PEM data");
	if (!kl.found)
		return cred_fail(c, error_r, "key", key_path,
		    kl.encrypted ? "encrypted keys are not supported" :
		    "no unencrypted private key in the file");
	c->key_type = br_skey_decoder_key_type(&c->skey);
	/* only the static-ECDH suites, which postern never offers, use
	 * the issuer's key type; the check below fills the real one */
	c->issuer_key_type = c->key_type;
	c->unchecked = 1;
	if ((flags & TLS_CRED_DEFER_CHECK) && c->key_type == BR_KEYTYPE_EC)
		return 0;
	if (check_pair(c, cert_path) < 0) {
		if (error_r != NULL)
			*error_r = cred_err;
		tls_cred_free(c);
		return -1;
	}
	return 0;
}

int
tls_cred_check(struct tls_cred *c, const char *cert_path,
    const char **error_r)
{
	if (!c->unchecked || c->chain_len == 0)
		return 0;
	if (check_pair(c, cert_path) < 0) {
		if (error_r != NULL)
			*error_r = cred_err;
		return -1;
	}
	return 0;
}

int
tls_cred_paths(const char *cert_opt, const char *key_opt,
    char *cert_r, char *key_r, size_t size)
{
	const char *dir;
	int n;

	if (cert_opt != NULL && cert_opt[0] != '\0') {
		if (key_opt == NULL || key_opt[0] == '\0')
			key_opt = cert_opt;   /* one PEM file with both */
		if (copy_str(cert_r, size, cert_opt) < 0 ||
		    copy_str(key_r, size, key_opt) < 0)
			return 0;
		return 1;
	}
	dir = getenv("CREDENTIALS_DIRECTORY");
	if (dir == NULL || dir[0] != '/')
		return 0;
	n = snprintf(cert_r, size, "%s/tls.crt", dir);
	if (n < 0 || (size_t)n >= size || access(cert_r, F_OK) != 0)
		return 0;
	n = snprintf(key_r, size, "%s/tls.key", dir);
	if (n < 0 || (size_t)n >= size || access(key_r, F_OK) != 0)
		return 0;
	return 1;
}

/* Trust anchors. */

struct taload {
	struct tls_anchors *a;
	size_t cap;
	int oom;
};

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (q != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}

static int
ta_add(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct taload *l = ctx;
	br_x509_decoder_context dc;
	struct growbuf dn = { 0 };
	const br_x509_pkey *pk;
	br_x509_trust_anchor *ta, *nt;
	int rc = 0;

	if (!is_cert_label(name))
		return 0;
	br_x509_decoder_init(&dc, grow_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 || dn.oom)
		goto out;   /* unsupported key type or bad certificate */
	if (l->a->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		nt = realloc(l->a->ta, l->cap * sizeof *nt);
		if (nt == NULL) {
			rc = -2;
			goto out;
		}
		l->a->ta = nt;
	}
	ta = &l->a->ta[l->a->n];
	memset(ta, 0, sizeof *ta);
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->dn.data = dup_bytes(dn.p, dn.len);
	ta->dn.len = dn.len;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (ta->pkey.key.rsa.n == NULL || ta->pkey.key.rsa.e == NULL)
			rc = -2;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (ta->pkey.key.ec.q == NULL)
			rc = -2;
	}
	l->a->n++;   /* counted even when partial, so free sees it */
	if (ta->dn.data == NULL)
		rc = -2;
out:
	grow_free(&dn, 0);
	return rc;
}

void
tls_anchors_free(struct tls_anchors *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		free(a->ta[i].dn.data);
		if (a->ta[i].pkey.key_type == BR_KEYTYPE_RSA) {
			free(a->ta[i].pkey.key.rsa.n);
			free(a->ta[i].pkey.key.rsa.e);
		} else
			free(a->ta[i].pkey.key.ec.q);
	}
	free(a->ta);
	a->ta = NULL;
	a->n = 0;
}

int
tls_anchors_load(struct tls_anchors *a, const char *path,
    const char **error_r)
{
	struct taload l = { a, 0, 0 };
	struct growbuf file;
	int rc;

	a->ta = NULL;
	a->n = 0;
	if (path == NULL)
		path = TLS_SYSTEM_CA;
	if (read_all(path, &file, NULL) < 0) {
		snprintf(cred_err, sizeof cred_err,
		    "cannot read CA file %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = pem_each(file.p, file.len, ta_add, &l);
	grow_free(&file, 0);
	if (rc < 0) {
		snprintf(cred_err, sizeof cred_err, "CA file %s: %s", path,
		    rc == -2 ? "out of memory" : "bad PEM data");
		goto fail;
	}
	if (a->n == 0) {
		snprintf(cred_err, sizeof cred_err,
		    "CA file %s: no usable certificate", path);
		goto fail;
	}
	return 0;
fail:
	tls_anchors_free(a);
	if (error_r != NULL)
		*error_r = cred_err;
	return -1;
}
