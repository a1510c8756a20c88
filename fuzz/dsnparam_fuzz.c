/* dsnparam_fuzz.c - lib/dsnparam, the RFC 3461 parameter values as a
 * client may send them: NOTIFY, RET, ENVID and ORCPT on arbitrary bytes.
 * Properties: an accepted NOTIFY is valid and its canonical form parses
 * back to the same bits; an accepted ENVID is 1..100 printable octets
 * and survives encode + canonical decode; an accepted ORCPT decodes to
 * no control character; xtext decode(encode(x)) == x; nothing writes
 * past a buffer. */
#include <string.h>

#include "dsnparam.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char in[2048], out[2048], enc[3 * 2048 + 1], enc2[3 * 2048 + 1],
	    back[2048];
	char canon[32], envid[QUEUE_ENVID_MAX + 1];
	enum queue_ret ret;
	unsigned bits, bits2;
	size_t i, tlen;
	long n, m;

	if (size >= sizeof in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (dsnparam_notify(in, size, &bits) == 0) {
		FUZZ_CHECK(dsnparam_notify_valid(bits));
		n = dsnparam_notify_format(bits, canon, sizeof canon);
		FUZZ_CHECK(n > 0 && (size_t)n == size);
		FUZZ_CHECK(dsnparam_notify(canon, (size_t)n, &bits2) == 0 &&
		    bits2 == bits);
	} else
		FUZZ_CHECK(bits == 0);
	if (dsnparam_ret(in, size, &ret) == 0)
		FUZZ_CHECK(size == 4);
	if (dsnparam_envid(in, size, envid) == 0) {
		n = (long)strlen(envid);
		FUZZ_CHECK(dsnparam_envid_ok(envid, (size_t)n));
		m = dsnparam_xtext_encode(envid, (size_t)n, enc, sizeof enc);
		FUZZ_CHECK(m > 0 && m <= (long)size);
		FUZZ_CHECK(dsnparam_xtext_decode(enc, (size_t)m, 1, back,
		    sizeof back) == n && memcmp(back, envid, (size_t)n) == 0);
	}
	if (dsnparam_orcpt_ok(in, size)) {
		FUZZ_CHECK(size <= QUEUE_ORCPT_MAX && !memchr(in, 0, size));
		FUZZ_CHECK(dsnparam_orcpt_decode(in, out, sizeof out, &tlen)
		    == 0 && tlen > 0 && in[tlen] == ';');
		for (i = 0; out[i]; i++)
			FUZZ_CHECK((unsigned char)out[i] >= ' ' && out[i] != 0x7f);
	}
	n = dsnparam_xtext_decode(in, size, 0, out, sizeof out);
	if (n >= 0)
		FUZZ_CHECK((size_t)n <= size && !memchr(out, 0, (size_t)n));
	if (!memchr(in, 0, size)) {
		m = dsnparam_xtext_encode(in, size, enc, sizeof enc);
		FUZZ_CHECK(m >= (long)size);
		FUZZ_CHECK(dsnparam_xtext_decode(enc, (size_t)m, 1, back,
		    sizeof back) == (long)size && memcmp(back, in, size) == 0);
		/* too small: -1, never an overflow */
		FUZZ_CHECK(dsnparam_xtext_encode(in, size, enc2,
		    (size_t)m) == -1);
	}
	return 0;
}
