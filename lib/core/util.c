/* util.c - strict number and size parsing, constant-time comparison,
 * secret wiping, the monotonic clock, small string helpers and RFC 5322
 * dates. */
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int
parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out_r)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9') {
			errno = EINVAL;
			return -1;
		}
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			/* keep scanning: a later non-digit is EINVAL */
			for (i++; i < len; i++)
				if (s[i] < '0' || s[i] > '9') {
					errno = EINVAL;
					return -1;
				}
			errno = ERANGE;
			return -1;
		}
		v = v * 10 + d;
	}
	if (v > max) {
		errno = ERANGE;
		return -1;
	}
	*out_r = v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out_r)
{
	size_t len, digits;
	uint64_t v, mult = 1;

	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	len = strlen(s);
	digits = len;
	if (len > 0) {
		switch (s[len - 1]) {
		case 'k': case 'K': mult = UINT64_C(1) << 10; digits--; break;
		case 'm': case 'M': mult = UINT64_C(1) << 20; digits--; break;
		case 'g': case 'G': mult = UINT64_C(1) << 30; digits--; break;
		default: break;
		}
	}
	if (parse_uint(s, digits, UINT64_MAX, &v) < 0)
		return -1;
	if (v > UINT64_MAX / mult) {
		errno = ERANGE;
		return -1;
	}
	*out_r = v * mult;
	return 0;
}

int
parse_duration(const char *s, uint64_t *secs_r)
{
	size_t len;
	uint64_t v, mult = 1;

	if (s == NULL || (len = strlen(s)) == 0) {
		errno = EINVAL;
		return -1;
	}
	switch (s[len - 1]) {
	case 's': mult = 1; len--; break;
	case 'm': mult = 60; len--; break;
	case 'h': mult = 3600; len--; break;
	case 'd': mult = 86400; len--; break;
	case 'w': mult = 7 * 86400; len--; break;
	default: break;
	}
	if (parse_uint(s, len, UTIL_DURATION_MAX, &v) < 0)
		return -1;
	if (v > UTIL_DURATION_MAX / mult) {
		errno = ERANGE;
		return -1;
	}
	*secs_r = v * mult;
	return 0;
}

void
format_size(uint64_t n, char *buf, size_t size)
{
	static const char suffix[] = "GMK";
	unsigned shift[] = { 30, 20, 10 };
	size_t i;

	if (size == 0)
		return;
	for (i = 0; i < 3; i++) {
		uint64_t unit = UINT64_C(1) << shift[i];
		if (n != 0 && n % unit == 0) {
			snprintf(buf, size, "%" PRIu64 "%c", n / unit, suffix[i]);
			return;
		}
	}
	snprintf(buf, size, "%" PRIu64, n);
}

int
ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= (unsigned char)(x[i] ^ y[i]);
	/* 1 when acc == 0, without a data-dependent branch */
	return (int)(1 & (((unsigned)acc - 1) >> 8));
}

void
wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

int64_t
clock_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ascii_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int
copy_str(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (size == 0)
		return -1;
	if (len >= size || len > INT32_MAX) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, len + 1);
	return (int)len;
}

size_t
copy_str_trunc(char *dst, size_t size, const char *src)
{
	size_t n;

	if (size == 0)
		return 0;
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

int
has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

void
rfc5322_date(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) ||
	    strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 +0000");
}
