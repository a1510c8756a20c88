/* tls_cache.h - a TLS session cache that the per-connection processes of
 * one service share through one small file, so that a returning client
 * resumes its session (no ECDHE, no signature) although every connection
 * is a new process.
 *
 * The file has a fixed size and never grows: a 64-byte header, then
 * TLS_CACHE_SLOTS slots of TLS_CACHE_SLOT_SIZE bytes in buckets of
 * TLS_CACHE_BUCKET; a session ID picks its bucket. It is read and written
 * with pread/pwrite (no mmap: a file truncated under us is a short read,
 * not a SIGBUS), one bucket at a time, under flock() held only for that
 * read or write. It is never trusted: opened with O_NOFOLLOW, it must be
 * a regular file owned by the effective user, mode 0600, of the exact
 * size, with the exact header; anything else means no cache (the caller
 * logs *error_r once). Each slot carries an HMAC-SHA256 under a key
 * derived from the server's private key and a binding (certificate
 * chain, client-CA set, service label): a slot written for another
 * certificate, key or service, a corrupt slot, a version or suite
 * outside postern's policy, or a server name (SNI) other than the one
 * the session was made with is never used. The master secret is stored
 * encrypted (ChaCha20 under a second derived key). Expired slots are
 * zeroed when a lookup or store meets them. */
#ifndef POSTERN_TLS_CACHE_H
#define POSTERN_TLS_CACHE_H

#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_CACHE_HEADER_SIZE 64
#define TLS_CACHE_SLOT_SIZE 192
#define TLS_CACHE_BUCKET 4
#define TLS_CACHE_SLOTS 4096
#define TLS_CACHE_FILE_SIZE (TLS_CACHE_HEADER_SIZE + \
	TLS_CACHE_SLOTS * TLS_CACHE_SLOT_SIZE)
#define TLS_CACHE_LIFETIME_DEFAULT 3600
#define TLS_CACHE_LIFETIME_MAX 86400

struct tls_cache {
	int fd;                      /* -1: no cache */
	unsigned lifetime;           /* seconds a session may be resumed */
	char label[16];              /* service ("pop3", "smtp") */
	int bound;                   /* keys derived (tls_cache_bind) */
	unsigned char mac_key[32];
	unsigned char enc_key[32];
	const char *error;           /* what went wrong in a lookup/store */
};

/* Opens (creating it, 0600, when missing) and checks the cache file.
 * lifetime 1..TLS_CACHE_LIFETIME_MAX; label names the service (entries
 * of another label never match). 0, or -1 with *error_r and c->fd -1:
 * then lookups miss and stores do nothing. Call after the privilege
 * drop: the file must belong to the effective user. */
int tls_cache_open(struct tls_cache *c, const char *path, unsigned lifetime,
    const char *label, const char **error_r);

/* The same checks on an open fd (taken over: closed on failure and by
 * tls_cache_close). */
int tls_cache_open_fd(struct tls_cache *c, int fd, unsigned lifetime,
    const char *label, const char **error_r);

/* Derives the slot keys from a secret (the server's private key bytes)
 * and a public binding (a hash of the chain, client CAs). */
void tls_cache_bind(struct tls_cache *c, const void *secret, size_t len,
    const unsigned char binding[32]);

/* Finds the session p->session_id (32 bytes) made for the server name
 * whose SHA-256 is sni_hash, at wall-clock time now (seconds): 1 and
 * the parameters in *p, or 0 (not found, expired, foreign, corrupt,
 * locked too long, I/O error: c->error says which of the last two). */
int tls_cache_lookup(struct tls_cache *c, br_ssl_session_parameters *p,
    const unsigned char sni_hash[32], int64_t now);

/* Records a new session (TLS 1.2, 32-byte ID). 0, or -1 (c->error). */
int tls_cache_store(struct tls_cache *c, const br_ssl_session_parameters *p,
    const unsigned char sni_hash[32], int64_t now);

void tls_cache_close(struct tls_cache *c);

/* SHA-256 of a server name (the empty name when none was sent). */
void tls_cache_sni_hash(const char *name, unsigned char out[32]);

/* Reads what follows the session ID in a ClientHello (cipher suites,
 * compression methods, extensions) and copies the server name (SNI
 * host_name, the last one of at most 255 bytes, as BearSSL keeps it) to
 * name, "" when none. 0, or -1 when the bytes are not a whole,
 * well-formed rest of a ClientHello. */
int tls_cache_hello_sni(const unsigned char *p, size_t len, char *name,
    size_t size);

#endif
