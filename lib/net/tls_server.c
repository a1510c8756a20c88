/* tls_server.c - the server side: engine set-up with postern's policy
 * (TLS 1.2, ECDHE+AEAD, server preference, no renegotiation), the
 * optional client certificate, and the facts about it that BearSSL does
 * not give: SHA-256 fingerprint, serial number, Extended Key Usage.
 * For that, the X.509 engine is wrapped: a small class that forwards
 * every call to br_x509_minimal and hashes/captures the first
 * certificate of the chain on the way. The shared session cache
 * (tls_cache.c) is plugged in as BearSSL's session-cache class. */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "tls.h"
#include "tls_cache.h"

#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#endif
#endif

static struct tls *
wrap_tls(const br_x509_class **ctx)
{
	return (struct tls *)(void *)((char *)ctx -
	    offsetof(struct tls, x509_wrap));
}

static void
wrap_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls *t = wrap_tls(ctx);

	t->cert_index = 0;
	t->ee_seen = 0;
	t->ee_len = 0;
	t->capture_len = 0;
	t->x509_err = 0;
	br_sha256_init(&t->ee_hash);
	t->x509_real->start_chain(&t->xc.vtable, server_name);
}

static void
wrap_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls *t = wrap_tls(ctx);

	if (t->cert_index == 0)
		t->ee_len = length;
	t->x509_real->start_cert(&t->xc.vtable, length);
}

static void
wrap_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls *t = wrap_tls(ctx);
	size_t room, n = len;

	if (t->cert_index == 0) {
		br_sha256_update(&t->ee_hash, buf, len);
		room = sizeof t->capture - t->capture_len;
		if (n > room)
			n = room;   /* too big to capture: parse fails */
		memcpy(t->capture + t->capture_len, buf, n);
		t->capture_len += n;
	}
	t->x509_real->append(&t->xc.vtable, buf, len);
}

static void
wrap_end_cert(const br_x509_class **ctx)
{
	struct tls *t = wrap_tls(ctx);

	if (t->cert_index == 0) {
		br_sha256_out(&t->ee_hash, t->peer.sha256);
		t->ee_seen = 1;
	}
	t->cert_index++;
	t->x509_real->end_cert(&t->xc.vtable);
}

static unsigned
wrap_end_chain(const br_x509_class **ctx)
{
	struct tls *t = wrap_tls(ctx);
	unsigned err;

	err = t->x509_real->end_chain(&t->xc.vtable);
	/* 0 means the chain validated; keep the X.509 code for that */
	t->x509_err = err == 0 ? BR_ERR_X509_OK : (int)err;
	return err;
}

static const br_x509_pkey *
wrap_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct tls *t = wrap_tls((const br_x509_class **)(uintptr_t)ctx);

	return t->x509_real->get_pkey(&t->xc.vtable, usages);
}

static const br_x509_class wrap_vtable = {
	sizeof(const br_x509_class *),
	wrap_start_chain,
	wrap_start_cert,
	wrap_append,
	wrap_end_cert,
	wrap_end_chain,
	wrap_get_pkey,
};

/* Minimal DER walking over the captured end-entity certificate. */

struct der {
	const unsigned char *p, *end;
};

/* Reads one TLV: 0 and tag/value, or -1. */
static int
der_next(struct der *d, int *tag, struct der *val)
{
	size_t len, n;

	if (d->end - d->p < 2)
		return -1;
	*tag = *d->p++;
	if ((*tag & 0x1f) == 0x1f)
		return -1;   /* high tag numbers: not in certificates */
	len = *d->p++;
	if (len & 0x80) {
		n = len & 0x7f;
		if (n == 0 || n > 4 || (size_t)(d->end - d->p) < n)
			return -1;
		for (len = 0; n > 0; n--)
			len = (len << 8) | *d->p++;
	}
	if ((size_t)(d->end - d->p) < len)
		return -1;
	val->p = d->p;
	val->end = d->p + len;
	d->p += len;
	return 0;
}

static int
der_is(const struct der *v, const unsigned char *oid, size_t len)
{
	return (size_t)(v->end - v->p) == len && memcmp(v->p, oid, len) == 0;
}

/* Parses the EKU extension value; 1 when clientAuth (or any) is in it. */
static int
eku_has_client_auth(struct der v)
{
	static const unsigned char client_auth[] = {
		0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02 };
	static const unsigned char any_eku[] = { 0x55, 0x1d, 0x25, 0x00 };
	struct der seq, oid;
	int tag;

	if (der_next(&v, &tag, &seq) < 0 || tag != 0x30)
		return 0;
	while (seq.p < seq.end) {
		if (der_next(&seq, &tag, &oid) < 0 || tag != 0x06)
			return 0;
		if (der_is(&oid, client_auth, sizeof client_auth) ||
		    der_is(&oid, any_eku, sizeof any_eku))
			return 1;
	}
	return 0;
}

/* Fills serial_hex and eku_ok from the captured certificate. */
static void
parse_ee(struct tls *t)
{
	static const unsigned char eku_oid[] = { 0x55, 0x1d, 0x25 };
	static const char hex[] = "0123456789abcdef";
	struct der d, cert, tbs, v, exts, ext, f;
	int tag, i;
	size_t n, o;

	t->peer.eku_ok = 0;
	t->peer.serial_hex[0] = '\0';
	if (t->capture_len != t->ee_len)
		return;   /* not captured whole */
	d.p = t->capture;
	d.end = t->capture + t->capture_len;
	if (der_next(&d, &tag, &cert) < 0 || tag != 0x30)
		return;
	if (der_next(&cert, &tag, &tbs) < 0 || tag != 0x30)
		return;
	if (der_next(&tbs, &tag, &v) < 0)
		return;
	if (tag == 0xa0 && der_next(&tbs, &tag, &v) < 0)
		return;   /* skipped the version */
	if (tag != 0x02)
		return;
	/* serial: lowercase hex, leading zero (sign) bytes dropped */
	while (v.end - v.p > 1 && *v.p == 0)
		v.p++;
	n = (size_t)(v.end - v.p);
	if (n * 2 + 1 > sizeof t->peer.serial_hex)
		return;
	for (o = 0; v.p < v.end; v.p++) {
		t->peer.serial_hex[o++] = hex[*v.p >> 4];
		t->peer.serial_hex[o++] = hex[*v.p & 15];
	}
	t->peer.serial_hex[o] = '\0';
	/* signature, issuer, validity, subject, subjectPublicKeyInfo */
	for (i = 0; i < 5; i++)
		if (der_next(&tbs, &tag, &v) < 0 || tag != 0x30)
			return;
	t->peer.eku_ok = 1;   /* no EKU extension: no restriction */
	while (tbs.p < tbs.end) {
		if (der_next(&tbs, &tag, &v) < 0) {
			t->peer.eku_ok = 0;
			return;
		}
		if (tag != 0xa3)
			continue;   /* issuer/subject unique IDs */
		if (der_next(&v, &tag, &exts) < 0 || tag != 0x30) {
			t->peer.eku_ok = 0;
			return;
		}
		while (exts.p < exts.end) {
			if (der_next(&exts, &tag, &ext) < 0 || tag != 0x30 ||
			    der_next(&ext, &tag, &f) < 0 || tag != 0x06) {
				t->peer.eku_ok = 0;
				return;
			}
			if (!der_is(&f, eku_oid, sizeof eku_oid))
				continue;
			if (der_next(&ext, &tag, &v) < 0) {
				t->peer.eku_ok = 0;
				return;
			}
			if (tag == 0x01 && der_next(&ext, &tag, &v) < 0) {
				t->peer.eku_ok = 0;
				return;   /* skipped "critical" */
			}
			if (tag != 0x04 || !eku_has_client_auth(v)) {
				t->peer.eku_ok = 0;
				return;
			}
		}
	}
}

static void
fill_peer(struct tls *t)
{
	struct tls_peer_cert *pc = &t->peer;

	pc->presented = t->ee_seen;
	if (!pc->presented) {
		memset(pc, 0, sizeof *pc);
		return;
	}
	pc->verified = t->x509_err == BR_ERR_X509_OK;
	pc->email_bad = t->names[0].status < 0;
	if (t->names[0].status != 1)
		pc->email[0] = '\0';
	if (t->names[1].status != 1)
		pc->cn[0] = '\0';
	parse_ee(t);
}

/* The number of certificates to send: the whole chain, less a final
 * self-issued one (a root: RFC 5246 7.4.2 lets it be omitted, since a
 * client that trusts it has it already; sending it costs every
 * handshake its bytes and the client its parsing). */
static size_t
chain_to_send(const br_x509_certificate *chain, size_t n)
{
	struct der d, cert, tbs, v, issuer, subject;
	int tag;

	if (n < 2)
		return n;
	d.p = chain[n - 1].data;
	d.end = d.p + chain[n - 1].data_len;
	if (der_next(&d, &tag, &cert) < 0 || tag != 0x30 ||
	    der_next(&cert, &tag, &tbs) < 0 || tag != 0x30 ||
	    der_next(&tbs, &tag, &v) < 0)
		return n;
	if (tag == 0xa0 && der_next(&tbs, &tag, &v) < 0)
		return n;   /* skipped the version; v is the serial */
	if (tag != 0x02 ||
	    der_next(&tbs, &tag, &v) < 0 || tag != 0x30)   /* algorithm */
		return n;
	issuer.p = tbs.p;
	if (der_next(&tbs, &tag, &v) < 0 || tag != 0x30)
		return n;
	issuer.end = tbs.p;
	if (der_next(&tbs, &tag, &v) < 0 || tag != 0x30)   /* validity */
		return n;
	subject.p = tbs.p;
	if (der_next(&tbs, &tag, &v) < 0 || tag != 0x30)
		return n;
	subject.end = tbs.p;
	if (issuer.end - issuer.p == subject.end - subject.p &&
	    memcmp(issuer.p, subject.p, (size_t)(issuer.end - issuer.p)) == 0)
		return n - 1;
	return n;
}

/* AES-CTR and GHASH, the fast implementations when the CPU has them:
 * glibc's record of CPUID is read instead of BearSSL's own probes (a
 * CPUID instruction traps to the hypervisor in a virtual machine,
 * some microseconds each, on every connection). */
static void
set_gcm(br_ssl_engine_context *eng)
{
#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#define TLS_HAVE_X86_FEATURES 1
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable,
	    &br_sslrec_out_gcm_vtable);
	if (CPU_FEATURE_ACTIVE(AES) && CPU_FEATURE_ACTIVE(SSE4_1))
		br_ssl_engine_set_aes_ctr(eng, &br_aes_x86ni_ctr_vtable);
	else
		br_ssl_engine_set_aes_ctr(eng, &br_aes_ct64_ctr_vtable);
	br_ssl_engine_set_ghash(eng, CPU_FEATURE_ACTIVE(PCLMULQDQ) ?
	    &br_ghash_pclmul : &br_ghash_ctmul64);
#endif
#endif
#ifndef TLS_HAVE_X86_FEATURES
	br_ssl_engine_set_default_aes_gcm(eng);
#endif
}

/* The engine for postern's policy only: TLS 1.2, the ECDHE AEAD suites
 * of tls_suites, the hashes TLS 1.2 signatures and PRFs use (no MD5),
 * X25519/P-256/P-384/P-521 for ECDHE, and the key as a signing key.
 * BearSSL's "full" profiles also set up CBC, CCM, 3DES, TLS 1.0 and
 * static ECDH/RSA key exchange, which are never used here. */
static void
server_init(br_ssl_server_context *sc, const struct tls_cred *cred)
{
	static const br_hash_class *const hashes[] = {
		&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
		&br_sha384_vtable, &br_sha512_vtable,
	};
	br_ssl_engine_context *eng = &sc->eng;
	size_t i, n = chain_to_send(cred->chain, cred->chain_len);

	br_ssl_server_zero(sc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, tls_suites, tls_suites_n);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_ssl_engine_set_hash(eng, hashes[i]->desc >>
		    BR_HASHDESC_ID_OFF & BR_HASHDESC_ID_MASK, hashes[i]);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	set_gcm(eng);
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable,
	    &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, br_chacha20_sse2_get() ?
	    br_chacha20_sse2_get() : &br_chacha20_ct_run);
	br_ssl_engine_set_poly1305(eng, br_poly1305_ctmulq_get() ?
	    br_poly1305_ctmulq_get() : &br_poly1305_ctmul_run);
	br_ssl_engine_set_ec(eng, &br_ec_all_m31);
	if (cred->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(sc, cred->chain, n,
		    br_skey_decoder_get_rsa(&cred->skey), BR_KEYTYPE_SIGN,
		    br_rsa_private_get_default(),
		    br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(sc, cred->chain, n,
		    br_skey_decoder_get_ec(&cred->skey), BR_KEYTYPE_SIGN,
		    (unsigned)cred->issuer_key_type, &br_ec_all_m31,
		    &br_ecdsa_i31_sign_asn1);
}

/* The session cache, as BearSSL's cache class. */

static struct tls *
cache_tls(const br_ssl_session_cache_class **ctx)
{
	return (struct tls *)(void *)((char *)ctx -
	    offsetof(struct tls, cache_vtable));
}

static void
cache_save(const br_ssl_session_cache_class **ctx,
    br_ssl_server_context *sc, const br_ssl_session_parameters *params)
{
	struct tls *t = cache_tls(ctx);
	unsigned char sni[32];

	t->resumed = 0;   /* a full handshake made this session */
	if (t->ee_seen) {
		/* the client presented a certificate: a resumption would
		 * not carry it, so the session is not offered for one */
		t->not_cached = 1;
		return;
	}
	tls_cache_sni_hash(br_ssl_engine_get_server_name(&sc->eng), sni);
	tls_cache_store(t->cache, params, sni, (int64_t)time(NULL));
}

static int
cache_load(const br_ssl_session_cache_class **ctx,
    br_ssl_server_context *sc, br_ssl_session_parameters *params)
{
	struct tls *t = cache_tls(ctx);
	unsigned char sni[32];

	/* BearSSL looks the session up before it reads the extensions:
	 * the server name is read here from the rest of the ClientHello
	 * (unread bytes of the current record); when that is not whole,
	 * no resumption */
	if (tls_cache_hello_sni(sc->eng.hbuf_in, sc->eng.hlen_in,
	    t->hello_sni, sizeof t->hello_sni) < 0)
		return 0;
	tls_cache_sni_hash(t->hello_sni, sni);
	t->resumed = tls_cache_lookup(t->cache, params, sni,
	    (int64_t)time(NULL));
	return t->resumed;
}

static const br_ssl_session_cache_class cache_class = {
	sizeof(const br_ssl_session_cache_class *),
	cache_save,
	cache_load,
};

/* Binds the cache to this server: the chain and the client CAs (public)
 * and the private key (secret) go into the slot keys. */
static void
cache_bind(struct tls_cache *c, const struct tls_cred *cred,
    const struct tls_anchors *client_ca)
{
	br_sha256_context h;
	unsigned char bind[32], secret[32], n[4];
	size_t i;

#define H_LEN(v) do { n[0] = (unsigned char)((v) >> 24); \
	n[1] = (unsigned char)((v) >> 16); n[2] = (unsigned char)((v) >> 8); \
	n[3] = (unsigned char)(v); br_sha256_update(&h, n, 4); } while (0)
#define H_BLOB(p, l) do { H_LEN(l); br_sha256_update(&h, p, l); } while (0)
	br_sha256_init(&h);
	H_LEN(cred->chain_len);
	for (i = 0; i < cred->chain_len; i++)
		H_BLOB(cred->chain[i].data, cred->chain[i].data_len);
	H_LEN(client_ca ? client_ca->n : 0);
	for (i = 0; client_ca && i < client_ca->n; i++)
		H_BLOB(client_ca->ta[i].dn.data, client_ca->ta[i].dn.len);
	br_sha256_out(&h, bind);
	br_sha256_init(&h);
	if (cred->key_type == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *k = br_skey_decoder_get_rsa(
		    &cred->skey);

		H_BLOB(k->p, k->plen);
		H_BLOB(k->q, k->qlen);
	} else {
		const br_ec_private_key *k = br_skey_decoder_get_ec(
		    &cred->skey);

		H_BLOB(k->x, k->xlen);
	}
#undef H_BLOB
#undef H_LEN
	br_sha256_out(&h, secret);
	explicit_bzero(&h, sizeof h);
	tls_cache_bind(c, secret, sizeof secret, bind);
	explicit_bzero(secret, sizeof secret);
}

int
tls_resumed(const struct tls *t)
{
	return t->resumed;
}

int
tls_server_start(struct tls *t, const struct tls_cred *cred,
    const struct tls_anchors *client_ca, int rfd, int wfd,
    int64_t deadline, const char **error_r)
{
	return tls_server_start_cached(t, cred, client_ca, NULL, rfd, wfd,
	    deadline, error_r);
}

int
tls_server_start_cached(struct tls *t, const struct tls_cred *cred,
    const struct tls_anchors *client_ca, struct tls_cache *cache,
    int rfd, int wfd, int64_t deadline, const char **error_r)
{
	static const unsigned char oid_email[] = { 0x00, 0x01 };
	static const unsigned char oid_cn[] = { 0x03, 0x55, 0x04, 0x03 };
	br_ssl_server_context *sc = &t->ctx.s;
	br_ssl_engine_context *eng = &sc->eng;

	memset(t, 0, offsetof(struct tls, iobuf));
	t->rfd = rfd;
	t->wfd = wfd;
	t->is_server = 1;
	server_init(sc, cred);
	t->eng = eng;
	br_ssl_engine_add_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES |
	    BR_OPT_NO_RENEGOTIATION);
	if (client_ca != NULL && client_ca->n > 0) {
		br_x509_minimal_init_full(&t->xc, client_ca->ta, client_ca->n);
		t->names[0].oid = oid_email;
		t->names[0].buf = t->peer.email;
		t->names[0].len = sizeof t->peer.email;
		t->names[1].oid = oid_cn;
		t->names[1].buf = t->peer.cn;
		t->names[1].len = sizeof t->peer.cn;
		br_x509_minimal_set_name_elements(&t->xc, t->names, 2);
		t->x509_real = t->xc.vtable;
		t->x509_wrap = &wrap_vtable;
		br_ssl_engine_set_x509(eng, &t->x509_wrap);
		br_ssl_server_set_trust_anchor_names_alt(sc, client_ca->ta,
		    client_ca->n);
		/* the full profiles install no signature verifiers: without
		 * them clients send no certificate at all */
		br_ssl_engine_set_default_rsavrfy(eng);
		br_ssl_engine_set_default_ecdsa(eng);
		br_ssl_engine_add_flags(eng, BR_OPT_TOLERATE_NO_CLIENT_AUTH);
	}
	if (cache != NULL && cache->fd >= 0) {
		if (!cache->bound)
			cache_bind(cache, cred, client_ca);
		t->cache = cache;
		t->cache_vtable = &cache_class;
		br_ssl_server_set_cache(sc, &t->cache_vtable);
	}
	br_ssl_engine_set_buffer(eng, t->iobuf, sizeof t->iobuf, 1);
	if (tls_entropy(eng) < 0) {
		*error_r = "TLS: getrandom() failed";
		return -1;
	}
	/* seeded from getrandom(): BearSSL need not probe and run RDRAND
	 * too (see br_ssl_engine_init_rand) */
	eng->rng_os_rand_done = 1;
	if (!br_ssl_server_reset(sc)) {
		*error_r = tls_handshake_error(t, "TLS set-up failed");
		return -1;
	}
	if (tls_run(t, BR_SSL_SENDAPP, deadline) < 0) {
		*error_r = tls_handshake_error(t, "TLS handshake failed");
		return -1;
	}
	if (t->resumed && strcmp(br_ssl_engine_get_server_name(eng),
	    t->hello_sni) != 0) {
		/* cannot happen unless our reading of the ClientHello and
		 * BearSSL's differ: then the session is not used */
		*error_r = "TLS: resumed session for another server name";
		return -1;
	}
	if (client_ca != NULL && client_ca->n > 0)
		fill_peer(t);
	return 0;
}
