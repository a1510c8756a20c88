/* util_test.c - unit tests of util.c. */
#include "test.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static int
pu(const char *s, uint64_t max, uint64_t *v)
{
	return parse_uint(s, strlen(s), max, v);
}

int
main(void)
{
	uint64_t v = 7;
	char buf[32];
	int64_t t0, t1;

	/* parse_uint */
	CHECK(pu("0", 10, &v) == 0 && v == 0);
	CHECK(pu("1", 10, &v) == 0 && v == 1);
	CHECK(pu("10", 10, &v) == 0 && v == 10);
	CHECK(pu("007", 10, &v) == 0 && v == 7);
	errno = 0; CHECK(pu("11", 10, &v) == -1 && errno == ERANGE);
	CHECK(pu("4294967295", UINT32_MAX, &v) == 0 && v == 4294967295u);
	errno = 0; CHECK(pu("4294967296", UINT32_MAX, &v) == -1 && errno == ERANGE);
	errno = 0; CHECK(pu("4294967297", UINT32_MAX, &v) == -1 && errno == ERANGE);
	CHECK(pu("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	errno = 0; CHECK(pu("18446744073709551616", UINT64_MAX, &v) == -1 && errno == ERANGE);
	errno = 0; CHECK(pu("99999999999999999999999", UINT64_MAX, &v) == -1 && errno == ERANGE);
	errno = 0; CHECK(pu("99999999999999999999999x", UINT64_MAX, &v) == -1 && errno == EINVAL);
	errno = 0; CHECK(pu("-1", UINT64_MAX, &v) == -1 && errno == EINVAL);
	errno = 0; CHECK(pu("+1", UINT64_MAX, &v) == -1 && errno == EINVAL);
	errno = 0; CHECK(pu(" 1", UINT64_MAX, &v) == -1 && errno == EINVAL);
	errno = 0; CHECK(pu("1 ", UINT64_MAX, &v) == -1 && errno == EINVAL);
	errno = 0; CHECK(pu("", UINT64_MAX, &v) == -1 && errno == EINVAL);
	errno = 0; CHECK(pu("0x10", UINT64_MAX, &v) == -1 && errno == EINVAL);
	CHECK(parse_uint("12345", 2, 100, &v) == 0 && v == 12);   /* length-bounded */
	CHECK(parse_uint("1\0" "2", 3, 100, &v) == -1);           /* NUL inside */
	CHECK(parse_uint(NULL, 0, 100, &v) == -1);

	/* parse_duration */
	CHECK(parse_duration("0s", &v) == 0 && v == 0);
	CHECK(parse_duration("30m", &v) == 0 && v == 1800);
	CHECK(parse_duration("36h", &v) == 0 && v == 36 * 3600);
	CHECK(parse_duration("10d", &v) == 0 && v == 864000);
	CHECK(parse_duration("2w", &v) == 0 && v == 14 * 86400);
	CHECK(parse_duration("45", &v) == 0 && v == 45);
	CHECK(parse_duration("", &v) == -1);
	CHECK(parse_duration("d", &v) == -1);
	CHECK(parse_duration("1dd", &v) == -1);
	CHECK(parse_duration("1D", &v) == -1);
	CHECK(parse_duration(" 1d", &v) == -1);
	CHECK(parse_duration("99999999w", &v) == -1);
	CHECK(parse_duration("36500d", &v) == 0 && v == UTIL_DURATION_MAX);
	CHECK(parse_duration("36501d", &v) == -1);
	/* parse_size */
	CHECK(parse_size("0", &v) == 0 && v == 0);
	CHECK(parse_size("12345", &v) == 0 && v == 12345);
	CHECK(parse_size("1K", &v) == 0 && v == 1024);
	CHECK(parse_size("1k", &v) == 0 && v == 1024);
	CHECK(parse_size("100M", &v) == 0 && v == 100u * 1024 * 1024);
	CHECK(parse_size("2g", &v) == 0 && v == UINT64_C(2) << 30);
	CHECK(parse_size("", &v) == -1);
	CHECK(parse_size("M", &v) == -1);
	CHECK(parse_size("1KB", &v) == -1);
	CHECK(parse_size("1T", &v) == -1);
	CHECK(parse_size("-1M", &v) == -1);
	CHECK(parse_size(" 1M", &v) == -1);
	CHECK(parse_size("1.5M", &v) == -1);
	CHECK(parse_size("17179869184G", &v) == -1);   /* 2^34 G overflows */
	CHECK(parse_size("17179869183G", &v) == 0);

	/* format_size */
	format_size(0, buf, sizeof buf); CHECK_STR(buf, "0");
	format_size(12345, buf, sizeof buf); CHECK_STR(buf, "12345");
	format_size(1024, buf, sizeof buf); CHECK_STR(buf, "1K");
	format_size(1536 * 1024, buf, sizeof buf); CHECK_STR(buf, "1536K");
	format_size(100u << 20, buf, sizeof buf); CHECK_STR(buf, "100M");
	format_size(UINT64_C(3) << 30, buf, sizeof buf); CHECK_STR(buf, "3G");
	format_size(UINT64_C(3) << 30, buf, 3); CHECK_STR(buf, "3G");
	format_size(12345, buf, 3); CHECK_STR(buf, "12");
	CHECK(parse_size("1536K", &v) == 0 && v == 1536 * 1024);

	/* ct_equal */
	CHECK(ct_equal("abc", "abc", 3) == 1);
	CHECK(ct_equal("abc", "abd", 3) == 0);
	CHECK(ct_equal("\x80", "\x00", 1) == 0);
	CHECK(ct_equal("\xff", "\xff", 1) == 1);
	CHECK(ct_equal("x", "y", 0) == 1);

	/* wipe */
	memcpy(buf, "secret", 7);
	wipe(buf, 7);
	CHECK(buf[0] == 0 && buf[5] == 0 && buf[6] == 0);
	wipe(NULL, 3);

	/* clock_ms */
	t0 = clock_ms();
	t1 = clock_ms();
	CHECK(t0 > 0 && t1 >= t0);

	/* ascii_lower */
	strcpy(buf, "AbC@Example.JP-9_\xc3\x89");
	ascii_lower(buf);
	CHECK_STR(buf, "abc@example.jp-9_\xc3\x89");

	/* copy_str */
	CHECK(copy_str(buf, sizeof buf, "hello") == 5);
	CHECK_STR(buf, "hello");
	CHECK(copy_str(buf, 6, "hello") == 5);
	CHECK(copy_str(buf, 5, "hello") == -1 && buf[0] == 0);
	CHECK(copy_str(buf, 1, "") == 0 && buf[0] == 0);
	CHECK(copy_str(buf, 0, "") == -1);

	/* copy_str_trunc */
	CHECK(copy_str_trunc(buf, sizeof buf, "hello") == 5);
	CHECK_STR(buf, "hello");
	CHECK(copy_str_trunc(buf, 4, "hello") == 3);
	CHECK_STR(buf, "hel");
	CHECK(copy_str_trunc(buf, 1, "hello") == 0 && buf[0] == 0);
	buf[0] = 'x';
	CHECK(copy_str_trunc(buf, 0, "hello") == 0 && buf[0] == 'x');

	/* has_8bit */
	CHECK(has_8bit("plain ascii\x7f", 12) == 0);
	CHECK(has_8bit("caf\xc3\xa9", 5) == 1);
	CHECK(has_8bit("abc\x80", 3) == 0);
	CHECK(has_8bit("\xff", 1) == 1);
	CHECK(has_8bit("", 0) == 0);

	/* rfc5322_date: "Www, DD Mmm YYYY HH:MM:SS +ZZZZ" */
	{
		char d[64];
		size_t dl;

		rfc5322_date(86400 * 365, d, sizeof d);
		dl = strlen(d);
		CHECK(dl == 31 && d[3] == ',' && d[4] == ' ' &&
		    d[16] == ' ' && d[19] == ':' && d[22] == ':' &&
		    (d[26] == '+' || d[26] == '-'));
		CHECK(memcmp(d + 12, "197", 3) == 0);
		rfc5322_date(0, d, 8);	/* too small: cut fallback, terminated */
		CHECK(strlen(d) == 7);
	}

	return TEST_SUMMARY();
}
