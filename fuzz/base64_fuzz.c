/* base64_fuzz.c - lib/base64: decoding arbitrary text into buffers of
 * every size never writes past them, and the strict decoder accepts
 * exactly one encoding per byte string (decode then encode gives the
 * input back; encode then decode gives the bytes back). */
#include <string.h>

#include "base64.h"
#include "fuzz.h"

#define MAXOUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[MAXOUT];
	static char text[MAXOUT * 2];
	size_t room;
	long n, e;

	if (size > MAXOUT)
		return 0;
	/* an exact-size heap-like limit: the decoder gets "room" bytes */
	for (room = 0; room <= 4; room++) {
		n = base64_decode((const char *)data, size, out, room);
		FUZZ_CHECK(n < 0 || (size_t)n <= room);
	}
	n = base64_decode((const char *)data, size, out, sizeof out);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n <= size / 4 * 3);
		e = base64_encode(out, (size_t)n, text, sizeof text);
		FUZZ_CHECK(e >= 0 && (size_t)e == size &&
		    memcmp(text, data, size) == 0);
		/* one octet less room than needed must fail */
		if (n > 0)
			FUZZ_CHECK(base64_decode((const char *)data, size, out,
			    (size_t)n - 1) < 0);
	}
	/* the other direction, with the exact output size and one less */
	e = base64_encode(data, size, text, sizeof text);
	FUZZ_CHECK(e >= 0 && (size_t)e == (size + 2) / 3 * 4);
	FUZZ_CHECK(base64_encode(data, size, text, (size_t)e) < 0);
	n = base64_decode(text, (size_t)e, out, size);
	FUZZ_CHECK(n >= 0 && (size_t)n == size && memcmp(out, data, size) == 0);
	return 0;
}
