/* group_fuzz.c - lib/core/startup.c's /etc/group scan (startup_group_list),
 * which reads lines of any length a character at a time. Input: USER LF
 * FILE. Properties: the primary gid comes first; the count is within
 * the room given, or the call fails with a reason; no gid is listed
 * twice; every listed gid beyond the first belongs to a line that names
 * the user as a member (checked against a simple reference split of the
 * same text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "startup.h"

#define ROOM 8

/* Reference: is there a well-formed line with this gid listing user? */
static int listed(const char *text, size_t n, const char *user, gid_t gid)
{
	size_t i = 0, ulen = strlen(user);

	while (i < n) {
		const char *line = text + i, *nl = memchr(line, '\n', n - i);
		size_t len = nl ? (size_t)(nl - line) : n - i;
		const char *c1 = memchr(line, ':', len), *c2, *c3, *m;
		char num[16];

		i += len + 1;
		if (!c1 || c1 == line || line[0] == '+' || line[0] == '-')
			continue;
		c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
		if (!c2)
			continue;
		c3 = memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - line));
		if (!c3 || memchr(c3 + 1, ':', len - (size_t)(c3 + 1 - line)) ||
		    c3 - c2 - 1 < 1 || c3 - c2 - 1 > 10)
			continue;
		memcpy(num, c2 + 1, (size_t)(c3 - c2 - 1));
		num[c3 - c2 - 1] = '\0';
		if (strspn(num, "0123456789") != strlen(num) ||
		    strtoul(num, NULL, 10) != (unsigned long)gid)
			continue;
		for (m = c3 + 1; m <= line + len; ) {
			const char *end = memchr(m, ',', (size_t)(line + len - m));
			size_t mlen = end ? (size_t)(end - m) : (size_t)(line + len - m);

			if (ulen && mlen == ulen && memcmp(m, user, ulen) == 0)
				return 1;
			if (!end)
				break;
			m = end + 1;
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[512], user[64], text[1 << 16];
	const uint8_t *u, *f;
	size_t ulen, flen;
	const char *err = NULL;
	gid_t list[ROOM];
	int n, i, j;

	if (size >= sizeof text)
		return 0;
	fuzz_split(data, size, '\n', &u, &ulen, &f, &flen);
	if (ulen == 0 || ulen >= sizeof user || memchr(u, '\0', ulen) ||
	    memchr(f, '\0', flen))
		return 0;
	memcpy(user, u, ulen);
	user[ulen] = '\0';
	memcpy(text, f, flen);
	text[flen] = '\0';
	snprintf(path, sizeof path, "%s/group", fuzz_scratch("group"));
	fuzz_write_file(path, f, flen);
	n = startup_group_list(path, user, 4242, list, ROOM, &err);
	if (n < 0) {
		FUZZ_CHECK(err != NULL);
		return 0;
	}
	FUZZ_CHECK(n >= 1 && n <= ROOM && list[0] == 4242);
	for (i = 1; i < n; i++) {
		for (j = 0; j < i; j++)
			FUZZ_CHECK(list[i] != list[j]);
		FUZZ_CHECK(listed(text, flen, user, list[i]));
	}
	return 0;
}
