/* base64_test.c - unit tests of base64.c: RFC 4648 vectors, strictness
 * (padding, bad characters, leftover bits), output buffer bounds. */
#include "test.h"
#include "base64.h"

#include <string.h>

static long
dec(const char *s, unsigned char *out, size_t size)
{
	return base64_decode(s, strlen(s), out, size);
}

static int
round_trip(const char *plain, const char *b64)
{
	unsigned char out[64];
	char enc[64];
	long n = dec(b64, out, sizeof out);

	if (n != (long)strlen(plain) || memcmp(out, plain, (size_t)n) != 0)
		return 0;
	n = base64_encode((const unsigned char *)plain, strlen(plain), enc,
	    sizeof enc);
	return n == (long)strlen(b64) && strcmp(enc, b64) == 0;
}

int
main(void)
{
	unsigned char out[64];
	char enc[64];
	unsigned char all[256];
	char big[400];
	int i;

	/* RFC 4648 section 10 */
	CHECK(round_trip("", ""));
	CHECK(round_trip("f", "Zg=="));
	CHECK(round_trip("fo", "Zm8="));
	CHECK(round_trip("foo", "Zm9v"));
	CHECK(round_trip("foob", "Zm9vYg=="));
	CHECK(round_trip("fooba", "Zm9vYmE="));
	CHECK(round_trip("foobar", "Zm9vYmFy"));
	/* PLAIN example of RFC 4616 */
	CHECK(dec("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", out, sizeof out) == 21);
	CHECK(memcmp(out, "\0tim\0tanstaaftanstaaf", 21) == 0);
	CHECK(dec("+/+/", out, sizeof out) == 3 && out[0] == 0xfb &&
	    out[1] == 0xff && out[2] == 0xbf);

	/* every byte value survives a round trip */
	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	CHECK(base64_encode(all, 256, big, sizeof big) == 344);
	{
		unsigned char back[256];
		CHECK(base64_decode(big, 344, back, sizeof back) == 256);
		CHECK(memcmp(back, all, 256) == 0);
		CHECK(base64_decode(big, 344, back, 255) == -1);
	}

	/* strictness */
	CHECK(dec("Zg=", out, sizeof out) == -1);       /* length not x4 */
	CHECK(dec("Zg", out, sizeof out) == -1);        /* no padding */
	CHECK(dec("Zm9", out, sizeof out) == -1);
	CHECK(dec("Z===", out, sizeof out) == -1);      /* 3 pads */
	CHECK(dec("====", out, sizeof out) == -1);
	CHECK(dec("Zg==Zg==", out, sizeof out) == -1);  /* pad in the middle */
	CHECK(dec("Zm=v", out, sizeof out) == -1);
	CHECK(dec("Z=9v", out, sizeof out) == -1);
	CHECK(dec("Zh==", out, sizeof out) == -1);      /* leftover bits */
	CHECK(dec("Zm9=", out, sizeof out) == -1);
	CHECK(dec("Zm8=", out, sizeof out) == 2);
	CHECK(dec("Zm9v ", out, sizeof out) == -1);
	CHECK(dec("Zm 9v", out, sizeof out) == -1);
	CHECK(dec("Zm9v\r\n", out, sizeof out) == -1);
	CHECK(dec("Zm9-", out, sizeof out) == -1);      /* base64url */
	CHECK(dec("Zm9_", out, sizeof out) == -1);
	CHECK(dec("Zm9\xc3", out, sizeof out) == -1);
	CHECK(dec("*", out, sizeof out) == -1);
	CHECK(dec("=", out, sizeof out) == -1);
	CHECK(base64_decode("Zm9v\0\0\0\0", 8, out, sizeof out) == -1);
	CHECK(base64_decode("Zm9vXXXX", 4, out, sizeof out) == 3);

	/* output bounds */
	memset(out, 0xaa, sizeof out);
	CHECK(dec("Zm9vYmFy", out, 6) == 6);
	CHECK(dec("Zm9vYmFy", out, 5) == -1);
	CHECK(dec("Zm9vYmE=", out, 5) == 5);
	CHECK(dec("Zm9vYmE=", out, 4) == -1);
	memset(out, 0xaa, sizeof out);
	CHECK(dec("Zm9vYg==", out, 3) == -1 && out[0] == 0xaa);
	CHECK(dec("", out, 0) == 0);
	CHECK(base64_encode((const unsigned char *)"foo", 3, enc, 5) == 4);
	CHECK(base64_encode((const unsigned char *)"foo", 3, enc, 4) == -1);
	CHECK(base64_encode((const unsigned char *)"f", 1, enc, 5) == 4);
	CHECK_STR(enc, "Zg==");
	CHECK(base64_encode((const unsigned char *)"", 0, enc, 1) == 0 &&
	    enc[0] == 0);
	CHECK(base64_encode((const unsigned char *)"", 0, enc, 0) == -1);
	return TEST_SUMMARY();
}
