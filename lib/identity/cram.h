/* cram.h - CRAM-MD5 (RFC 2195): the server's challenge, the client's
 * response ("user SP 32 hex digits", base64) decoded into bounded
 * fields, and the HMAC-MD5 digest (BearSSL's br_hmac over br_md5). The
 * comparison with the user's secret is lib/auth's (auth_cram). */
#ifndef POSTERN_CRAM_H
#define POSTERN_CRAM_H

#include <stddef.h>

#include "sasl.h"

#define CRAM_DIGEST_HEX    32       /* hex digits of an HMAC-MD5 */
/* "<" 20 digits "." 20 digits "@" hostname (< 256) ">" NUL */
#define CRAM_CHALLENGE_MAX 320

struct cram_response {
	char user[SASL_FIELD_MAX];
	char digest[CRAM_DIGEST_HEX + 1];   /* lowercase hex, NUL */
};

/* Writes the challenge "<RANDOM.TIME@hostname>" into out[size]: RANDOM
 * is 64 bits from getrandom(2) in decimal, TIME the seconds since the
 * epoch. Returns its length, or -1 with errno (getrandom failed, or
 * ENAMETOOLONG: it does not fit). */
long cram_challenge(char *out, size_t size, const char *hostname);

/* Decodes the client's base64 response. The decoded text is the user
 * name, one space and exactly 32 hex digits (either case; stored in
 * lowercase); the user name is split at the last space, non-empty,
 * shorter than SASL_FIELD_MAX and free of control octets. Returns 0, or
 * -1 with *error_r (r is then all zeros). */
int cram_response_decode(const char *b64, size_t len,
    struct cram_response *r, const char **error_r);

/* out = lowercase hex of HMAC-MD5(key = secret[0..secret_len),
 * text = challenge[0..challenge_len)), NUL-terminated. Every
 * intermediate state is wiped. */
void cram_digest(const void *secret, size_t secret_len,
    const char *challenge, size_t challenge_len,
    char out[CRAM_DIGEST_HEX + 1]);

#endif
