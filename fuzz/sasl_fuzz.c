/* sasl_fuzz.c - lib/sasl: PLAIN, LOGIN and EXTERNAL decoding of
 * arbitrary client lines. Fields are always NUL-terminated, within
 * SASL_FIELD_MAX, NUL-free; PLAIN's user and password are non-empty;
 * output buffers of any size are respected. */
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "sasl.h"

static void check_field(const char *f)
{
	size_t n = strnlen(f, SASL_FIELD_MAX);

	FUZZ_CHECK(n < SASL_FIELD_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sasl_plain p;
	static char out[SASL_FIELD_MAX];
	static unsigned char raw[4096];
	const char *err = NULL;
	const char *in = (const char *)data;
	size_t room;
	long n;

	if (size > 4096)
		return 0;
	if (sasl_plain_decode(in, size, &p, &err) == 0) {
		check_field(p.authzid);
		check_field(p.authcid);
		check_field(p.passwd);
		FUZZ_CHECK(p.authcid[0] && p.passwd[0]);
		/* the decoded message is exactly authzid NUL authcid NUL
		 * passwd */
		n = base64_decode(in, size, raw, sizeof raw);
		FUZZ_CHECK(n >= 0 && (size_t)n == strlen(p.authzid) + 1 +
		    strlen(p.authcid) + 1 + strlen(p.passwd));
	} else {
		FUZZ_CHECK(err != NULL && err[0]);
		FUZZ_CHECK(!p.passwd[0]);
	}
	for (room = 1; room <= 5; room++) {
		n = sasl_login_field(in, size, out, room);
		FUZZ_CHECK(n < 0 || ((size_t)n < room &&
		    strlen(out) == (size_t)n));
	}
	n = sasl_login_field(in, size, out, sizeof out);
	FUZZ_CHECK(n < 0 || strlen(out) == (size_t)n);
	if (sasl_external_decode(in, size, out, sizeof out) == 0)
		check_field(out);
	return 0;
}
