/* userdb_fuzz.c - lib/userdb record parsing (the same parser serves the
 * text source and the CDB values). Input: KEY LF VALUE. An accepted
 * record has a valid lowercase key, a user's maildir is absolute with
 * no ".." component, alias targets are normalised addresses (iterated
 * with userdb_alias_next into buffers of several sizes), a hold host is
 * a bounded string. */
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "userdb.h"

static void check_str(const char *s, size_t size)
{
	FUZZ_CHECK(strnlen(s, size) < size);
}

static void check_maildir(const char *p)
{
	size_t n = strlen(p), i;

	FUZZ_CHECK(p[0] == '/');
	for (i = 0; i + 3 <= n; i++)
		FUZZ_CHECK(!(memcmp(p + i, "/..", 3) == 0 &&
		    (p[i + 3] == '/' || p[i + 3] == '\0')));
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)p[i] > ' ' &&
		    (unsigned char)p[i] < 0x7f);
}

/* odmr=: "" or comma-separated non-empty printable names with an '@',
 * no upper case (ATRN compares it with the authenticated user). */
static void check_odmr(const char *s, size_t size)
{
	size_t i, n, item = 0;
	int at = 0;

	check_str(s, size);
	n = strlen(s);
	if (n == 0)
		return;
	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == ',') {
			FUZZ_CHECK(item > 0 && at);
			item = 0;
			at = 0;
			continue;
		}
		FUZZ_CHECK((unsigned char)s[i] > ' ' &&
		    (unsigned char)s[i] < 0x7f && !(s[i] >= 'A' && s[i] <= 'Z'));
		at |= s[i] == '@';
		item++;
	}
}

static void check_targets(const char *targets)
{
	char one[ADDR_MAX + 1], norm[ADDR_MAX + 1], tiny[8];
	const char *err;
	size_t pos = 0, pos2 = 0, count = 0;
	int r;

	while ((r = userdb_alias_next(targets, &pos, one, sizeof one)) == 1) {
		FUZZ_CHECK(addr_normalise(one, norm, &err) == 0 &&
		    strcmp(one, norm) == 0);
		count++;
		FUZZ_CHECK(count <= USERDB_VALUE_MAX);
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(count >= 1);
	/* a too-small buffer is an error, never an overflow */
	while ((r = userdb_alias_next(targets, &pos2, tiny, sizeof tiny)) == 1)
		FUZZ_CHECK(strlen(tiny) < sizeof tiny);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct userdb_entry e;
	static char key[USERDB_KEY_MAX + 64];
	const uint8_t *k, *v;
	size_t klen, vlen;
	const char *err = NULL;

	if (size > USERDB_VALUE_MAX + USERDB_KEY_MAX + 64)
		return 0;
	fuzz_split(data, size, '\n', &k, &klen, &v, &vlen);
	if (klen >= sizeof key || memchr(k, 0, klen))
		return 0;
	memcpy(key, k, klen);
	key[klen] = '\0';
	if (userdb_parse(key, (const char *)v, vlen, &e, &err) < 0) {
		FUZZ_CHECK(err != NULL && err[0]);
		return 0;
	}
	check_str(e.key, sizeof e.key);
	FUZZ_CHECK(strcmp(e.key, key) == 0);
	check_str(e.hash, sizeof e.hash);
	check_str(e.maildir, sizeof e.maildir);
	check_str(e.apop, sizeof e.apop);
	check_str(e.targets, sizeof e.targets);
	check_str(e.host, sizeof e.host);
	check_str(e.etrn_from, sizeof e.etrn_from);
	check_odmr(e.odmr, sizeof e.odmr);
	FUZZ_CHECK(e.port <= 65535);
	switch (e.kind) {
	case USERDB_DOMAIN:
	case USERDB_HOLD:
		FUZZ_CHECK(!strchr(key, '@'));
		break;
	case USERDB_USER:
		FUZZ_CHECK(strchr(key, '@'));
		check_maildir(e.maildir);
		break;
	case USERDB_ALIAS:
		FUZZ_CHECK(strchr(key, '@'));
		check_targets(e.targets);
		break;
	default:
		FUZZ_CHECK(!"unknown kind");
	}
	return 0;
}
