/* cram_fuzz.c - lib/cram: the CRAM-MD5 response decoder on arbitrary
 * client lines, and HMAC-MD5 with arbitrary keys and challenges. A
 * decoded response is exactly "user SP digest" of the decoded input: the
 * user non-empty, within SASL_FIELD_MAX, free of control octets; the
 * digest 32 lowercase hex digits. A refused one leaves the struct all
 * zeros with a reason. The digest is 32 lowercase hex digits, and the
 * same for the same input. */
#include <ctype.h>
#include <string.h>

#include "base64.h"
#include "cram.h"
#include "fuzz.h"

static int
lower_hex(const char *d)
{
	size_t i;

	for (i = 0; i < CRAM_DIGEST_HEX; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return 0;
	return d[CRAM_DIGEST_HEX] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cram_response r;
	static unsigned char raw[4096];
	static const struct cram_response zero;
	char d1[CRAM_DIGEST_HEX + 1], d2[CRAM_DIGEST_HEX + 1];
	const char *err = NULL;
	const char *in = (const char *)data;
	size_t ulen, i, half;
	long n;

	if (size > 4096)
		return 0;
	if (cram_response_decode(in, size, &r, &err) == 0) {
		ulen = strnlen(r.user, sizeof r.user);
		FUZZ_CHECK(ulen > 0 && ulen < sizeof r.user);
		for (i = 0; i < ulen; i++)
			FUZZ_CHECK((unsigned char)r.user[i] >= 0x20 &&
			    (unsigned char)r.user[i] != 0x7f);
		FUZZ_CHECK(lower_hex(r.digest));
		n = base64_decode(in, size, raw, sizeof raw);
		FUZZ_CHECK(n >= 0 && (size_t)n == ulen + 1 + CRAM_DIGEST_HEX);
		FUZZ_CHECK(memcmp(raw, r.user, ulen) == 0 && raw[ulen] == ' ');
		for (i = 0; i < CRAM_DIGEST_HEX; i++)
			FUZZ_CHECK(tolower(raw[ulen + 1 + i]) == r.digest[i]);
	} else {
		FUZZ_CHECK(err != NULL && err[0]);
		FUZZ_CHECK(memcmp(&r, &zero, sizeof r) == 0);
	}
	/* the first half keys the second (the challenge may hold NULs: the
	 * length, not a terminator, bounds it) */
	half = size / 2;
	cram_digest(data, half, in + half, size - half, d1);
	cram_digest(data, half, in + half, size - half, d2);
	FUZZ_CHECK(lower_hex(d1) && strcmp(d1, d2) == 0);
	return 0;
}
