/* tls.h - TLS 1.2 over two plain fds with BearSSL's engine: credentials
 * (PEM chain + RSA/EC key), trust anchors (CA file), a server side
 * (implicit TLS or STARTTLS upgrade, optional client certificate) and a
 * client side (server name check). Policy: TLS 1.2 only, ECDHE with
 * AEAD suites only, server preference, no renegotiation.
 *
 * Credentials and anchors are loaded once at start-up (they allocate);
 * struct tls itself holds the engine and its buffer, no allocation. */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

#include "tls_suites.h"

struct tls_cred {
	br_x509_certificate *chain;  /* end-entity first */
	size_t chain_len;
	int key_type;                /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	int issuer_key_type;         /* key type of the CA that signed it */
	br_skey_decoder_context skey;/* keeps the decoded key alive */
	int unchecked;               /* key/certificate match not checked
	                                yet (TLS_CRED_DEFER_CHECK) */
};

struct tls_anchors {
	br_x509_trust_anchor *ta;
	size_t n;
};

/* Loads a PEM chain and a PEM key (PKCS#1, SEC1 or PKCS#8, unencrypted).
 * Warns through *warn_r (may be NULL) when the key file is readable by
 * group or others. Returns 0, or -1 with *error_r set to a message. */
int tls_cred_load(struct tls_cred *c, const char *cert_path,
    const char *key_path, const char **error_r, const char **warn_r);

/* The same; with TLS_CRED_DEFER_CHECK, an EC key is not checked against
 * the certificate (that is a scalar multiplication, ~0.35 ms here, a
 * sixth of a one-handshake process): a server that loads its
 * credentials for one handshake calls tls_cred_check() only when the
 * handshake failed, since a completed one proves the pair (the client
 * verified our signature with the certificate's key). RSA keys, whose
 * check is cheap, are always checked. */
#define TLS_CRED_DEFER_CHECK 1u
int tls_cred_load_flags(struct tls_cred *c, const char *cert_path,
    const char *key_path, unsigned flags, const char **error_r,
    const char **warn_r);

/* The deferred check: 0 when the pair matches (or was checked), -1 with
 * *error_r ("certificate PATH: does not match the private key"). */
int tls_cred_check(struct tls_cred *c, const char *cert_path,
    const char **error_r);

/* Finds cert/key: explicit paths win (a cert without a key: the key is
 * in the same file); else, when $CREDENTIALS_DIRECTORY is set and holds
 * tls.crt and tls.key, those. Returns 1 and fills the paths, 0 when
 * nothing is configured. tls_cred_load also checks that the key belongs
 * to the first certificate. */
int tls_cred_paths(const char *cert_opt, const char *key_opt,
    char *cert_r, char *key_r, size_t size);

/* Loads every CA certificate of a PEM file as a trust anchor. 0 / -1.
 * path NULL = the system bundle TLS_SYSTEM_CA. */
#define TLS_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
int tls_anchors_load(struct tls_anchors *a, const char *path,
    const char **error_r);

/* Free what the loaders allocated (exit does it too; for tests). */
void tls_cred_free(struct tls_cred *c);
void tls_anchors_free(struct tls_anchors *a);

/* Client-certificate outcome, filled after a server handshake. */
struct tls_peer_cert {
	int presented;               /* the client sent a chain */
	int verified;                /* chain validated against the CA */
	int eku_ok;                  /* no EKU, or EKU includes clientAuth */
	char email[256];             /* e-mail SAN, "" if none */
	int email_bad;               /* an e-mail SAN is there but could
	                                not be decoded (bad encoding, or
	                                too long for email[]) */
	char cn[256];                /* subject CN, "" if none */
	unsigned char sha256[32];    /* fingerprint of the end-entity cert */
	char serial_hex[80];         /* serial number, lowercase hex
	                                without leading 00 bytes (as
	                                `openssl x509 -serial`, lowercased);
	                                "" if unparsable */
};
/* Map a certificate to a user only when presented && verified &&
 * eku_ok; email/cn are filled even for untrusted chains. */

#define TLS_STAGE_SIZE 1024
#define TLS_RBUF_SIZE 4096

struct tls {
	int rfd, wfd;
	int is_server;
	br_ssl_engine_context *eng;  /* points into the union below */
	union {
		br_ssl_server_context s;
		br_ssl_client_context c;
	} ctx;
	br_x509_minimal_context xc;
	struct tls_peer_cert peer;
	/* X.509 capture for the client-certificate checks (EKU, serial,
	 * fingerprint); internals of tls_server.c. */
	unsigned char capture[4096];
	size_t capture_len;
	br_sha256_context ee_hash;
	int ee_seen;
	br_name_element names[2];
	/* internals of tls_*.c */
	const br_x509_class *x509_wrap;  /* forwards to xc, captures */
	const br_x509_class *x509_real;  /* the wrapped engine (&xc) */
	size_t ee_len;                   /* length of the end-entity cert */
	int cert_index;                  /* certificates seen in the chain */
	int x509_err;                    /* what end_chain returned */
	int io_eof, io_err;              /* transport EOF / error / timeout */
	char errbuf[160];                /* for *error_r */
	/* small records waiting to go out together (tls_run): the
	 * handshake's last flight with the first reply, a reply's
	 * records; written before any read and at the end of tls_write */
	size_t stage_len;
	/* the shared session cache (tls_server.c): BearSSL calls through
	 * cache_vtable; resumed: this handshake resumed a cached session;
	 * not_cached: a new session was kept out of the cache (client
	 * certificate); hello_sni: the server name the ClientHello sent */
	const br_ssl_session_cache_class *cache_vtable;
	struct tls_cache *cache;
	int resumed, not_cached;
	char hello_sni[256];
	/* bytes read ahead from rfd (BearSSL asks for a record's header,
	 * then its body: one read serves a whole flight) */
	size_t rbuf_off, rbuf_len;
	/* the span of the engine's input buffer whose decrypted
	 * application data tls_read handed out since the last
	 * tls_wipe_consumed (NULL: none) */
	unsigned char *app_lo, *app_hi;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	/* (the start functions clear everything above iobuf) */
	unsigned char stage[TLS_STAGE_SIZE];
	unsigned char rbuf[TLS_RBUF_SIZE];
};

/* Server handshake on (rfd, wfd): implicit TLS at byte 0, or right after
 * a STARTTLS/STLS reply was flushed. client_ca may be NULL (no client
 * certificate requested). Returns 0 when established, -1 with *error_r.
 * The handshake's last flight may still be held back (t->stage), to go
 * out with the first tls_write, or before the first read waits. */
int tls_server_start(struct tls *t, const struct tls_cred *cred,
    const struct tls_anchors *client_ca, int rfd, int wfd,
    int64_t deadline, const char **error_r);

/* The same with a shared session cache (tls_cache.h; NULL or one
 * that failed to open: none). Sessions whose client presented a
 * certificate are never stored, so a resumed session never carries a
 * client certificate (AUTH EXTERNAL needs a full handshake). A session
 * is resumed only for the server name (SNI) it was made with. The first
 * call binds the cache to cred, client_ca and the cache's label. */
struct tls_cache;
int tls_server_start_cached(struct tls *t, const struct tls_cred *cred,
    const struct tls_anchors *client_ca, struct tls_cache *cache,
    int rfd, int wfd, int64_t deadline, const char **error_r);

/* 1 when the handshake resumed a cached session. */
int tls_resumed(const struct tls *t);

/* Client handshake; server_name must be a DNS name (checked against the
 * certificate; never NULL). cred may be NULL (no client certificate). */
int tls_client_start(struct tls *t, const struct tls_anchors *anchors,
    const char *server_name, const struct tls_cred *cred,
    int rfd, int wfd, int64_t deadline, const char **error_r);

/* Application data. read: >0 bytes, 0 on close_notify/EOF, -1 error or
 * deadline (errno ETIMEDOUT). write: writes all and flushes, 0 or -1. */
long tls_read(struct tls *t, void *buf, size_t n, int64_t deadline);
int tls_write(struct tls *t, const void *buf, size_t n, int64_t deadline);

/* Bytes already decrypted and waiting (no syscall needed). */
size_t tls_pending(struct tls *t);

/* Zeroes the decrypted application data that tls_read already handed
 * out and that is still in the engine's input buffer (BearSSL decrypts
 * records in place and leaves them there until overwritten): after a
 * line that carried a secret. Data not yet handed out (the rest of the
 * current record) and a record being received are kept. Call it right
 * after reading (no tls_write in between); no system call. */
void tls_wipe_consumed(struct tls *t);

/* Sends close_notify and waits briefly for the peer's. */
void tls_close(struct tls *t, int64_t deadline);

/* "TLSv1.2", and the suite as an IANA-style name
 * ("ECDHE-ECDSA-AES128-GCM-SHA256"). */
const char *tls_version_name(struct tls *t);
const char *tls_suite_name(struct tls *t);

/* Text for a BearSSL error code (engine, X.509, alerts). */
const char *tls_error_text(int err);

/* The BearSSL error code of the session (0 = none; BR_ERR_IO for a
 * transport error/timeout/EOF). */
int tls_last_error(struct tls *t);

/* Internal to tls_*.c: entropy from getrandom(), and the engine loop:
 * runs I/O until one of the "want" state bits (BR_SSL_SENDAPP,
 * BR_SSL_RECVAPP) is set; 0, or -1 (closed, EOF, error, deadline: see
 * t->io_eof, t->io_err, errno). The suite list is in tls_suites.h. */
int tls_entropy(br_ssl_engine_context *eng);
int tls_run(struct tls *t, unsigned want, int64_t deadline);
/* Fills t->errbuf with what ended a failed handshake; returns it. */
const char *tls_handshake_error(struct tls *t, const char *what);

#endif
