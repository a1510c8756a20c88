/* sasl_test.c - unit tests of sasl.c: PLAIN with and without authzid,
 * bounds, missing or extra NULs; LOGIN fields; EXTERNAL. */
#include "test.h"
#include "sasl.h"
#include "base64.h"

#include <string.h>

static struct sasl_plain p;
static const char *err;

/* PLAIN from raw bytes */
static int
plain(const void *raw, size_t n)
{
	char b64[2048];
	long m = base64_encode(raw, n, b64, sizeof b64);

	if (m < 0)
		return -2;
	err = NULL;
	return sasl_plain_decode(b64, (size_t)m, &p, &err);
}

int
main(void)
{
	char out[SASL_FIELD_MAX], raw[1200];

	/* RFC 4616 examples */
	CHECK(plain("\0tim\0tanstaaftanstaaf", 21) == 0);
	CHECK_STR(p.authzid, "");
	CHECK_STR(p.authcid, "tim");
	CHECK_STR(p.passwd, "tanstaaftanstaaf");
	CHECK(plain("Ursel\0Kurt\0xipj3plmq", 20) == 0);
	CHECK_STR(p.authzid, "Ursel");
	CHECK_STR(p.authcid, "Kurt");
	CHECK_STR(p.passwd, "xipj3plmq");
	CHECK(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", 28, &p, &err) == 0);
	CHECK_STR(p.authcid, "tim");
	/* password with blanks and UTF-8 */
	CHECK(plain("\0alice@example.jp\0p w \xc3\xa9", 24) == 0);
	CHECK_STR(p.passwd, "p w \xc3\xa9");

	/* structure errors */
	CHECK(sasl_plain_decode("=", 1, &p, &err) == -1 && err);
	CHECK(sasl_plain_decode("", 0, &p, &err) == -1 && err);
	CHECK(plain("tim\0pw", 6) == -1 && strstr(err, "NUL"));
	CHECK(plain("timpw", 5) == -1 && err);
	CHECK(plain("\0tim\0pw\0", 8) == -1 && strstr(err, "NUL"));
	CHECK(plain("\0tim\0p\0w", 8) == -1 && err);
	CHECK(plain("\0\0pw", 4) == -1 && strstr(err, "user"));
	CHECK(plain("\0tim\0", 5) == -1 && strstr(err, "password"));
	CHECK(plain("\0\0", 2) == -1 && err);
	CHECK(p.authcid[0] == 0 && p.passwd[0] == 0);
	CHECK(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWF", 27, &p, &err) == -1 && err);
	CHECK(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YW@m", 28, &p, &err) == -1 && err);
	CHECK(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm ", 29, &p, &err) == -1 && err);

	/* field bounds: 255 octets fit, 256 do not */
	memset(raw, 'a', sizeof raw);
	raw[0] = 0;
	raw[256] = 0;              /* authcid 255 */
	CHECK(plain(raw, 256 + 256) == 0);   /* passwd 255 */
	CHECK(strlen(p.authcid) == 255 && strlen(p.passwd) == 255);
	CHECK(plain(raw, 256 + 257) == -1 && strstr(err, "too long"));
	CHECK(p.passwd[0] == 0);   /* wiped */
	memset(raw, 'a', sizeof raw);
	raw[256] = 0;              /* authzid 256 */
	raw[260] = 0;
	CHECK(plain(raw, 270) == -1 && strstr(err, "too long"));
	memset(raw, 'a', sizeof raw);
	raw[255] = 0;
	raw[511] = 0;              /* all three 255: 767 octets */
	CHECK(plain(raw, 767) == 0);
	CHECK(strlen(p.authzid) == 255 && strlen(p.authcid) == 255 &&
	    strlen(p.passwd) == 255);
	CHECK(plain(raw, 768) == -1 && strstr(err, "too long"));
	CHECK(plain(raw, 1100) == -1 && strstr(err, "too long"));

	/* LOGIN fields */
	CHECK(sasl_login_field("YWxpY2VAZXhhbXBsZS5qcA==", 24, out, sizeof out) == 16);
	CHECK_STR(out, "alice@example.jp");
	CHECK(sasl_login_field("", 0, out, sizeof out) == 0 && out[0] == 0);
	CHECK(sasl_login_field("=", 1, out, sizeof out) == 0 && out[0] == 0);
	CHECK(sasl_login_field("YQBi", 4, out, sizeof out) == -1);   /* a NUL b */
	CHECK(sasl_login_field("YWJj", 4, out, 4) == 3);
	CHECK_STR(out, "abc");
	CHECK(sasl_login_field("YWJj", 4, out, 3) == -1);
	CHECK(sasl_login_field("YWJj", 4, out, 0) == -1);
	CHECK(sasl_login_field("YWJ", 3, out, sizeof out) == -1);
	CHECK(sasl_login_field("*", 1, out, sizeof out) == -1);

	/* EXTERNAL */
	strcpy(out, "junk");
	CHECK(sasl_external_decode("=", 1, out, sizeof out) == 0 && out[0] == 0);
	strcpy(out, "junk");
	CHECK(sasl_external_decode("", 0, out, sizeof out) == 0 && out[0] == 0);
	CHECK(sasl_external_decode("YWxpY2VAZXhhbXBsZS5vcmc=", 24, out, sizeof out) == 0);
	CHECK_STR(out, "alice@example.org");
	CHECK(sasl_external_decode("YQBi", 4, out, sizeof out) == -1);
	CHECK(sasl_external_decode("YWxpY2VAZXhhbXBsZS5vcmc", 23, out, sizeof out) == -1);
	CHECK(sasl_external_decode("YWJj", 4, out, 3) == -1);
	return TEST_SUMMARY();
}
