/* sasl.c - decoding of SASL client messages: PLAIN (RFC 4616), the
 * LOGIN mechanism's fields, and EXTERNAL's optional authorization
 * identity (RFC 4422). Base64 in, bounded NUL-free fields out; every
 * temporary copy of a secret is wiped. */
#include "sasl.h"
#include "base64.h"
#include "util.h"

#include <string.h>

#define PLAIN_MAX (3 * SASL_FIELD_MAX)

/* the largest decoded size base64 text of len octets can have */
static size_t
decoded_max(size_t len)
{
	return len / 4 * 3;
}

static int
field(char *dst, const unsigned char *src, size_t n)
{
	if (n >= SASL_FIELD_MAX)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

int
sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *p,
    const char **error_r)
{
	unsigned char buf[PLAIN_MAX];
	const unsigned char *nul1, *nul2;
	size_t n1, n2, n3;
	long n;

	memset(p, 0, sizeof *p);
	if (len == 0 || (len == 1 && b64[0] == '=')) {
		*error_r = "empty PLAIN message";
		return -1;
	}
	if (decoded_max(len) > sizeof buf + 2) {
		*error_r = "PLAIN message too long";
		return -1;
	}
	n = base64_decode(b64, len, buf, sizeof buf);
	if (n < 0) {
		wipe(buf, sizeof buf);
		*error_r = decoded_max(len) > sizeof buf ?
		    "PLAIN message too long" : "invalid base64";
		return -1;
	}
	nul1 = memchr(buf, '\0', (size_t)n);
	nul2 = nul1 != NULL ?
	    memchr(nul1 + 1, '\0', (size_t)n - (size_t)(nul1 + 1 - buf)) : NULL;
	if (nul2 == NULL) {
		wipe(buf, sizeof buf);
		*error_r = "PLAIN message needs authzid NUL authcid NUL passwd";
		return -1;
	}
	if (memchr(nul2 + 1, '\0', (size_t)n - (size_t)(nul2 + 1 - buf))) {
		wipe(buf, sizeof buf);
		*error_r = "NUL inside a PLAIN field";
		return -1;
	}
	n1 = (size_t)(nul1 - buf);
	n2 = (size_t)(nul2 - nul1 - 1);
	n3 = (size_t)n - (size_t)(nul2 + 1 - buf);
	if (n2 == 0 || n3 == 0) {
		wipe(buf, sizeof buf);
		*error_r = n2 == 0 ? "empty user name" : "empty password";
		return -1;
	}
	if (field(p->authzid, buf, n1) < 0 ||
	    field(p->authcid, nul1 + 1, n2) < 0 ||
	    field(p->passwd, nul2 + 1, n3) < 0) {
		wipe(buf, sizeof buf);
		wipe(p, sizeof *p);
		*error_r = "PLAIN field too long";
		return -1;
	}
	wipe(buf, sizeof buf);
	return 0;
}

/* base64 (or "=" / nothing for empty) into out[size] with NUL; no NUL
 * inside. Returns the length or -1. */
static long
decode_text(const char *b64, size_t len, char *out, size_t size)
{
	long n;

	if (size == 0)
		return -1;
	if (len == 0 || (len == 1 && b64[0] == '=')) {
		out[0] = '\0';
		return 0;
	}
	n = base64_decode(b64, len, (unsigned char *)out, size - 1);
	if (n < 0 || memchr(out, '\0', (size_t)n) != NULL) {
		wipe(out, size);
		return -1;
	}
	out[n] = '\0';
	return n;
}

long
sasl_login_field(const char *b64, size_t len, char *out, size_t size)
{
	return decode_text(b64, len, out, size);
}

int
sasl_external_decode(const char *b64, size_t len, char *out, size_t size)
{
	return decode_text(b64, len, out, size) < 0 ? -1 : 0;
}
