/* tls_cred.c - loading TLS material at start-up: a PEM certificate
 * chain and its private key (RSA or EC, checked to match), the
 * $CREDENTIALS_DIRECTORY fallback, and trust anchors from a CA file.
 * This is the one part of the TLS code that allocates (once). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.h"
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

/* Reads a whole file into a growbuf. 0 or -1 (errno). */
static int
read_all(const char *path, struct growbuf *b)
{
	unsigned char chunk[4096];
	ssize_t r;
	int fd;

	memset(b, 0, sizeof *b);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
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

/* Calls cb for every PEM object of data[0..len). A final newline is
 * pushed at the end: BearSSL's decoder only completes an object once it
 * has seen the newline after its END line. Returns 0, -1 on a PEM
 * error, or what cb returned when it was not 0. */
static int
pem_each(const unsigned char *data, size_t len, pem_cb cb, void *ctx,
    int secret)
{
	br_pem_decoder_context pc;
	struct growbuf obj = { 0 };
	char name[128];
	int inobj = 0, rc = 0, pass;
	const unsigned char *p;
	size_t left, n;

	br_pem_decoder_init(&pc);
	name[0] = '\0';
	for (pass = 0; pass < 2 && rc == 0; pass++) {
		p = pass == 0 ? data : (const unsigned char *)"\n";
		left = pass == 0 ? len : 1;
		while (left > 0 && rc == 0) {
			n = br_pem_decoder_push(&pc, p, left);
			p += n;
			left -= n;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ:
				snprintf(name, sizeof name, "%s",
				    br_pem_decoder_name(&pc));
				obj.len = 0;
				br_pem_decoder_setdest(&pc, grow_append, &obj);
				inobj = 1;
				break;
			case BR_PEM_END_OBJ:
				if (inobj) {
					rc = obj.oom ? -1 :
					    cb(ctx, name, obj.p, obj.len);
					if (secret && obj.p != NULL)
						wipe(obj.p, obj.len);
				}
				inobj = 0;
				break;
			case BR_PEM_ERROR:
				rc = -1;
				break;
			default:
				break;
			}
		}
	}
	grow_free(&obj, secret);
	return rc;
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

int
tls_cred_load(struct tls_cred *c, const char *cert_path,
    const char *key_path, const char **error_r, const char **warn_r)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	struct growbuf file;
	struct keyload kl = { c, 0, 0 };
	struct stat st;
	int rc;

	memset(c, 0, sizeof *c);
	if (warn_r != NULL)
		*warn_r = NULL;

	if (read_all(cert_path, &file) < 0)
		return cred_fail(c, error_r, "cannot read certificate",
		    cert_path, strerror(errno));
	rc = pem_each(file.p, file.len, chain_add, c, 0);
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

	if (read_all(key_path, &file) < 0)
		return cred_fail(c, error_r, "cannot read key",
		    key_path, strerror(errno));
	if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0 &&
	    warn_r != NULL) {
		snprintf(cred_warn, sizeof cred_warn, "key file %s is "
		    "accessible by group or others (mode %04o); chmod 600 it",
		    key_path, (unsigned)(st.st_mode & 07777));
		*warn_r = cred_warn;
	}
	rc = pem_each(file.p, file.len, key_add, &kl, 1);
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

	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (br_x509_decoder_last_error(&dc) != 0 || pk == NULL)
		return cred_fail(c, error_r, "certificate", cert_path,
		    "cannot decode the first certificate");
	c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
	if (!key_matches(pk, &c->skey))
		return cred_fail(c, error_r, "certificate", cert_path,
		    "does not match the private key");
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
	if (read_all(path, &file) < 0) {
		snprintf(cred_err, sizeof cred_err,
		    "cannot read CA file %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = pem_each(file.p, file.len, ta_add, &l, 0);
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
