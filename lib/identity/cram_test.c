/* cram_test.c - unit tests of cram.c: RFC 2195's example (digest and
 * response), the challenge's form, and the response decoder's bounds
 * (no space, short or non-hex digest, control octets, long names). */
#include "test.h"
#include "cram.h"
#include "base64.h"

#include <string.h>

static struct cram_response r;
static const char *err;

/* decodes raw text after base64-encoding it */
static int
decode(const char *raw, size_t n)
{
	char b64[1024];
	long m = base64_encode((const unsigned char *)raw, n, b64, sizeof b64);

	if (m < 0)
		return -2;
	err = NULL;
	return cram_response_decode(b64, (size_t)m, &r, &err);
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

int
main(void)
{
	static const char ch[] = "<1896.697170952@postoffice.reston.mci.net>";
	char out[CRAM_DIGEST_HEX + 1], c1[CRAM_CHALLENGE_MAX];
	char c2[CRAM_CHALLENGE_MAX], longname[400];
	const char *b64 = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw";
	long n;

	/* RFC 2195's example: key tanstaaftanstaaf */
	cram_digest("tanstaaftanstaaf", 16, ch, strlen(ch), out);
	CHECK_STR(out, "b913a602c7eda7a495b4e6e7334d3890");
	CHECK(cram_response_decode(b64, strlen(b64), &r, &err) == 0);
	CHECK_STR(r.user, "tim");
	CHECK_STR(r.digest, "b913a602c7eda7a495b4e6e7334d3890");
	/* RFC 2104 test 2 (HMAC-MD5, key "Jefe") */
	cram_digest("Jefe", 4, "what do ya want for nothing?", 28, out);
	CHECK_STR(out, "750c783e6ab0b503eaa86e310a5db738");
	/* a key longer than MD5's block is hashed first (RFC 2104) */
	memset(longname, 0xaa, 80);
	cram_digest(longname, 80, "Test Using Larger Than Block-Size Key - "
	    "Hash Key First", 54, out);
	CHECK_STR(out, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");

	/* upper-case digits are accepted and lowered; the user name is all
	 * before the last space */
	CHECK(decode("tim B913A602C7EDA7A495B4E6E7334D3890", 36) == 0);
	CHECK_STR(r.digest, "b913a602c7eda7a495b4e6e7334d3890");
	CHECK(decode("a b b913a602c7eda7a495b4e6e7334d3890", 36) == 0);
	CHECK_STR(r.user, "a b");

	/* refusals leave nothing behind */
	CHECK(decode("timb913a602c7eda7a495b4e6e7334d3890", 35) == -1 && err);
	CHECK(all_zero(&r, sizeof r));
	CHECK(decode(" b913a602c7eda7a495b4e6e7334d3890", 33) == -1);
	CHECK(decode("tim b913a602c7eda7a495b4e6e7334d389", 35) == -1);
	CHECK(decode("tim b913a602c7eda7a495b4e6e7334d38900", 37) == -1);
	CHECK(decode("tim b913a602c7eda7a495b4e6e7334d389g", 36) == -1);
	CHECK(decode("tim  913a602c7eda7a495b4e6e7334d3890", 36) == -1);
	CHECK(decode("tim\0 b913a602c7eda7a495b4e6e7334d3890", 37) == -1);
	CHECK(decode("ti\tm b913a602c7eda7a495b4e6e7334d3890", 37) == -1);
	CHECK(decode("tim\x7f b913a602c7eda7a495b4e6e7334d3890", 37) == -1);
	CHECK(all_zero(&r, sizeof r));
	CHECK(cram_response_decode("", 0, &r, &err) == -1);
	CHECK(cram_response_decode("=", 1, &r, &err) == -1);
	CHECK(cram_response_decode("dGlt!", 5, &r, &err) == -1);
	/* the longest user name that fits, and one octet more */
	memset(longname, 'u', sizeof longname);
	memcpy(longname + SASL_FIELD_MAX - 1,
	    " b913a602c7eda7a495b4e6e7334d3890", 33);
	CHECK(decode(longname, SASL_FIELD_MAX - 1 + 33) == 0);
	CHECK(strlen(r.user) == SASL_FIELD_MAX - 1);
	memmove(longname + 1, longname, SASL_FIELD_MAX - 1 + 33);
	CHECK(decode(longname, SASL_FIELD_MAX + 33) == -1);
	/* a long base64 line is refused before it is decoded */
	{
		static char big[12000];
		memset(big, 'A', sizeof big);
		CHECK(cram_response_decode(big, sizeof big, &r, &err) == -1);
	}

	/* challenges: "<digits.digits@host>", different each time */
	n = cram_challenge(c1, sizeof c1, "mx.example");
	CHECK(n > 0 && (size_t)n == strlen(c1));
	CHECK(c1[0] == '<' && c1[n - 1] == '>');
	CHECK(strstr(c1, "@mx.example>") != NULL);
	CHECK(strspn(c1 + 1, "0123456789.") == strcspn(c1, "@") - 1);
	CHECK(cram_challenge(c2, sizeof c2, "mx.example") > 0);
	CHECK(strcmp(c1, c2) != 0);
	CHECK(cram_challenge(c1, 10, "mx.example") == -1 && c1[0] == '\0');
	memset(longname, 'h', 255);
	longname[255] = '\0';
	CHECK(cram_challenge(c1, sizeof c1, longname) > 255);
	return TEST_SUMMARY();
}
