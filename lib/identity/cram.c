/* cram.c - CRAM-MD5 (RFC 2195) pieces for the servers: the challenge
 * (random from the kernel), the decoding of the client's response into
 * bounded fields, and HMAC-MD5 through BearSSL (no crypto of our own).
 * Every temporary copy of a response or a key is wiped. */
#include "cram.h"
#include "base64.h"
#include "util.h"

#include <bearssl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* user (< SASL_FIELD_MAX), SP, 32 digits */
#define RESPONSE_MAX (SASL_FIELD_MAX + 1 + CRAM_DIGEST_HEX)

static const char hexdig[] = "0123456789abcdef";

long
cram_challenge(char *out, size_t size, const char *hostname)
{
	uint64_t rnd;
	ssize_t got;
	int n;

	do
		got = getrandom(&rnd, sizeof rnd, 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof rnd) {
		if (got >= 0)
			errno = EIO;
		return -1;
	}
	n = snprintf(out, size, "<%llu.%lld@%s>", (unsigned long long)rnd,
	    (long long)time(NULL), hostname);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	return n;
}

static int
hex_lower(unsigned char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 'a';
	if ((c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'))
		return c;
	return -1;
}

static int
fail(struct cram_response *r, unsigned char *buf, size_t size,
    const char **error_r, const char *why)
{
	wipe(buf, size);
	wipe(r, sizeof *r);
	*error_r = why;
	return -1;
}

int
cram_response_decode(const char *b64, size_t len, struct cram_response *r,
    const char **error_r)
{
	unsigned char buf[RESPONSE_MAX];
	size_t n, user_len, i;
	long m;

	memset(r, 0, sizeof *r);
	if (len == 0 || (len == 1 && b64[0] == '='))
		return fail(r, buf, 0, error_r, "empty CRAM-MD5 response");
	/* longer base64 cannot decode into buf: refused before decoding */
	if (len / 4 * 3 > sizeof buf + 2)
		return fail(r, buf, 0, error_r, "CRAM-MD5 response too long");
	m = base64_decode(b64, len, buf, sizeof buf);
	if (m < 0)
		return fail(r, buf, sizeof buf, error_r, "invalid base64");
	n = (size_t)m;
	if (n < CRAM_DIGEST_HEX + 2 || buf[n - CRAM_DIGEST_HEX - 1] != ' ')
		return fail(r, buf, sizeof buf, error_r,
		    "CRAM-MD5 response needs user SP digest");
	user_len = n - CRAM_DIGEST_HEX - 1;
	if (user_len >= sizeof r->user)
		return fail(r, buf, sizeof buf, error_r,
		    "CRAM-MD5 user name too long");
	for (i = 0; i < user_len; i++)
		if (buf[i] < 0x20 || buf[i] == 0x7f)
			return fail(r, buf, sizeof buf, error_r,
			    "control octet in the CRAM-MD5 user name");
	for (i = 0; i < CRAM_DIGEST_HEX; i++) {
		int c = hex_lower(buf[user_len + 1 + i]);
		if (c < 0)
			return fail(r, buf, sizeof buf, error_r,
			    "CRAM-MD5 digest is not 32 hex digits");
		r->digest[i] = (char)c;
	}
	memcpy(r->user, buf, user_len);
	r->user[user_len] = '\0';
	wipe(buf, sizeof buf);
	return 0;
}

void
cram_digest(const void *secret, size_t secret_len, const char *challenge,
    size_t challenge_len, char out[CRAM_DIGEST_HEX + 1])
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char sum[br_md5_SIZE];
	size_t i;

	br_hmac_key_init(&kc, &br_md5_vtable, secret, secret_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, challenge, challenge_len);
	br_hmac_out(&hc, sum);
	for (i = 0; i < sizeof sum; i++) {
		out[2 * i] = hexdig[sum[i] >> 4];
		out[2 * i + 1] = hexdig[sum[i] & 15];
	}
	out[CRAM_DIGEST_HEX] = '\0';
	wipe(&kc, sizeof kc);
	wipe(&hc, sizeof hc);
	wipe(sum, sizeof sum);
}
