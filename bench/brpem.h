/* bench/brpem.h - PEM helpers for the benchmark programs (loadgen, floor):
 * read a file, split PEM objects, decode a certificate chain, a private key
 * and a CA certificate into a BearSSL trust anchor. Header-only on purpose:
 * each bench program is one compile command. Errors print and exit(2); these
 * are test tools, not the product. */
#ifndef BENCH_BRPEM_H
#define BENCH_BRPEM_H

#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BP_MAX_OBJ 8

struct bp_obj {
	char name[128];
	unsigned char *der;
	size_t len;
};

static __attribute__((unused)) void bp_die(const char *what, const char *arg)
{
	fprintf(stderr, "bench: %s %s\n", what, arg ? arg : "");
	exit(2);
}

static __attribute__((unused)) unsigned char *bp_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		bp_die("cannot open", path);
	unsigned char *b = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (b && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
		if (n <= 0)
			bp_die("cannot read", path);
		got += (size_t)n;
	}
	close(fd);
	if (!b)
		bp_die("out of memory", NULL);
	*len = got;
	return b;
}

struct bp_acc {
	unsigned char *buf;
	size_t len, cap;
};

static __attribute__((unused)) void bp_acc_push(void *ctx, const void *src, size_t len)
{
	struct bp_acc *a = ctx;
	if (a->len + len > a->cap) {
		size_t ncap = (a->cap + len) * 2 + 256;
		unsigned char *nb = realloc(a->buf, ncap);
		if (!nb)
			bp_die("out of memory", NULL);
		a->buf = nb;
		a->cap = ncap;
	}
	memcpy(a->buf + a->len, src, len);
	a->len += len;
}

/* Splits a PEM file into up to BP_MAX_OBJ objects; returns their count. */
static __attribute__((unused)) int bp_pem_objects(const char *path, struct bp_obj *out)
{
	size_t len;
	unsigned char *data = bp_read(path, &len);
	br_pem_decoder_context pc;
	struct bp_acc acc = { 0 };
	int n = 0, inobj = 0;
	br_pem_decoder_init(&pc);
	/* the extra newline guarantees that a final END line is seen */
	for (int pass = 0; pass < 2; pass++) {
		const unsigned char *p = pass == 0 ? data : (const unsigned char *)"\n";
		size_t rem = pass == 0 ? len : 1;
		while (rem > 0) {
			size_t k = br_pem_decoder_push(&pc, p, rem);
			p += k;
			rem -= k;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ:
				if (n >= BP_MAX_OBJ)
					bp_die("too many PEM objects in", path);
				snprintf(out[n].name, sizeof out[n].name, "%s", br_pem_decoder_name(&pc));
				acc.buf = NULL;
				acc.len = acc.cap = 0;
				br_pem_decoder_setdest(&pc, bp_acc_push, &acc);
				inobj = 1;
				break;
			case BR_PEM_END_OBJ:
				if (inobj) {
					out[n].der = acc.buf;
					out[n].len = acc.len;
					n++;
					inobj = 0;
				}
				break;
			case BR_PEM_ERROR:
				bp_die("bad PEM in", path);
				break;
			default:
				break;
			}
		}
	}
	free(data);
	return n;
}

/* The certificate chain of a PEM file (leaf first). */
static __attribute__((unused)) br_x509_certificate *bp_chain(const char *path, size_t *count)
{
	struct bp_obj o[BP_MAX_OBJ];
	int n = bp_pem_objects(path, o), k = 0;
	br_x509_certificate *c = calloc(BP_MAX_OBJ, sizeof *c);
	if (!c)
		bp_die("out of memory", NULL);
	for (int i = 0; i < n; i++) {
		if (strcmp(o[i].name, "CERTIFICATE") == 0 || strcmp(o[i].name, "X509 CERTIFICATE") == 0) {
			c[k].data = o[i].der;
			c[k].data_len = o[i].len;
			k++;
		} else {
			free(o[i].der);
		}
	}
	if (k == 0)
		bp_die("no certificate in", path);
	*count = (size_t)k;
	return c;
}

struct bp_key {
	int type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_skey_decoder_context dc; /* owns the decoded key */
};

static __attribute__((unused)) void bp_key(const char *path, struct bp_key *key)
{
	struct bp_obj o[BP_MAX_OBJ];
	int n = bp_pem_objects(path, o);
	for (int i = 0; i < n; i++) {
		if (strstr(o[i].name, "PRIVATE KEY") == NULL)
			continue;
		br_skey_decoder_init(&key->dc);
		br_skey_decoder_push(&key->dc, o[i].der, o[i].len);
		if (br_skey_decoder_last_error(&key->dc) != 0)
			bp_die("cannot decode key", path);
		key->type = br_skey_decoder_key_type(&key->dc);
		return; /* the decoder context holds copies of the key bytes */
	}
	bp_die("no private key in", path);
}

static __attribute__((unused)) void bp_dn_push(void *ctx, const void *src, size_t len)
{
	bp_acc_push(ctx, src, len);
}

/* Turns each certificate of a PEM file into a trust anchor (CA flag set). */
static __attribute__((unused)) br_x509_trust_anchor *bp_anchors(const char *path, size_t *count)
{
	size_t n;
	br_x509_certificate *c = bp_chain(path, &n);
	br_x509_trust_anchor *ta = calloc(n, sizeof *ta);
	if (!ta)
		bp_die("out of memory", NULL);
	for (size_t i = 0; i < n; i++) {
		br_x509_decoder_context dc;
		struct bp_acc dn = { 0 };
		br_x509_decoder_init(&dc, bp_dn_push, &dn);
		br_x509_decoder_push(&dc, c[i].data, c[i].data_len);
		br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
		if (!pk)
			bp_die("cannot decode CA certificate in", path);
		ta[i].dn.data = dn.buf;
		ta[i].dn.len = dn.len;
		ta[i].flags = BR_X509_TA_CA;
		ta[i].pkey.key_type = pk->key_type;
		if (pk->key_type == BR_KEYTYPE_RSA) {
			unsigned char *m = malloc(pk->key.rsa.nlen), *e = malloc(pk->key.rsa.elen);
			if (!m || !e)
				bp_die("out of memory", NULL);
			memcpy(m, pk->key.rsa.n, pk->key.rsa.nlen);
			memcpy(e, pk->key.rsa.e, pk->key.rsa.elen);
			ta[i].pkey.key.rsa.n = m;
			ta[i].pkey.key.rsa.nlen = pk->key.rsa.nlen;
			ta[i].pkey.key.rsa.e = e;
			ta[i].pkey.key.rsa.elen = pk->key.rsa.elen;
		} else {
			unsigned char *q = malloc(pk->key.ec.qlen);
			if (!q)
				bp_die("out of memory", NULL);
			memcpy(q, pk->key.ec.q, pk->key.ec.qlen);
			ta[i].pkey.key.ec.curve = pk->key.ec.curve;
			ta[i].pkey.key.ec.q = q;
			ta[i].pkey.key.ec.qlen = pk->key.ec.qlen;
		}
	}
	*count = n;
	return ta;
}

#endif
