/* maildir_name.c - what a maildir file name says without opening the
 * file: its ,S= / ,W= sizes and its delivery-time sort key; and W
 * counting (every LF sent as CRLF) for names that carry no ,W=. Pure
 * functions over bytes, shared by delivery, listing and usage. */
#include <string.h>

#include "maildir.h"
#include "maildir_int.h"

/* Strict ",<tag>=<digits>" in the base name name[0..len) (before any
 * ':'): the last ",<tag>=" counts; its digits must end at ',' or the end.
 * None, a malformed one, or one above MAILDIR_SIZE_W_MAX (no real
 * message; a sum of such could wrap the STAT total) is unknown. */
uint64_t maildir_name_size(const char *name, size_t len, char tag)
{
	size_t i, j;
	uint64_t v = 0;

	for (i = len; i >= 3; i--) {
		if (name[i - 1] == '=' && name[i - 2] == tag &&
		    name[i - 3] == ',')
			break;
	}
	if (i < 3 || i == len)
		return MAILDIR_SIZE_UNKNOWN;
	for (j = i; j < len && name[j] != ','; j++) {
		unsigned d = (unsigned)(name[j] - '0');
		if (d > 9 || v > (UINT64_MAX - 1 - d) / 10)
			return MAILDIR_SIZE_UNKNOWN;
		v = v * 10 + d;
	}
	if (j == i || v > MAILDIR_SIZE_W_MAX)
		return MAILDIR_SIZE_UNKNOWN;
	return v;
}

/* Sort key: the delivery time "SECONDS.M<usec>" as one 52-bit number
 * (SECONDS below 2^32, up to 10 digits); names not in that form get
 * KEY_NONE and sort after all others, by name. */
#define KEY_BITS   52
#define KEY_NONE   ((UINT64_C(1) << KEY_BITS) - 1)

uint64_t maildir_name_key(const char *s, size_t len)
{
	uint64_t t = 0, us = 0;
	size_t i = 0, n;

	for (n = 0; i < len && s[i] >= '0' && s[i] <= '9' && n < 11; i++, n++)
		t = t * 10 + (uint64_t)(s[i] - '0');
	if (n == 0 || n == 11 || t > UINT32_MAX || i >= len || s[i] != '.')
		return KEY_NONE;
	if (i + 2 < len && s[i + 1] == 'M') {
		for (i += 2, n = 0; i < len && s[i] >= '0' && s[i] <= '9' &&
		    n < 7; i++, n++)
			us = us * 10 + (uint64_t)(s[i] - '0');
		if (us > 999999)
			us = 999999;
	}
	return t << 20 | us;
}

size_t maildir_count_lf(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	size_t lf = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lf++;
		p++;
	}
	return lf;
}
