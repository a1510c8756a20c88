/* addr.c - mailbox-name and DNS-name rules (SPEC "The user database"):
 * the gate every address passes before it becomes a database key or,
 * through one, part of a path. */
#include "addr.h"

#include <string.h>

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

int
addr_local_valid(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > ADDR_LOCAL_MAX)
		return 0;
	if (s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (is_alnum(c) || c == '-' || c == '_' || c == '+')
			continue;
		if (c == '.' && s[i + 1] != '.')   /* i + 1 < len: no trailing dot */
			continue;
		return 0;
	}
	return 1;
}

int
addr_domain_valid(const char *s, size_t len)
{
	size_t i, label = 0;

	if (s == NULL || len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return 0;
		} else if (!is_alnum(c)) {
			return 0;
		}
		if (++label > 63)
			return 0;
	}
	/* last label: non-empty (no trailing dot), not ending in '-' */
	return label > 0 && s[len - 1] != '-';
}

static void
lower_copy(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = src[i];
		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	dst[len] = '\0';
}

int
addr_split(const char *addr, char *local_r, char *domain_r,
    const char **error_r)
{
	const char *at;
	size_t llen, dlen;

	if (addr == NULL || (at = strchr(addr, '@')) == NULL) {
		*error_r = "address has no '@'";
		return -1;
	}
	if (strchr(at + 1, '@') != NULL) {
		*error_r = "address has more than one '@'";
		return -1;
	}
	llen = (size_t)(at - addr);
	dlen = strlen(at + 1);
	if (llen == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (llen > ADDR_LOCAL_MAX) {
		*error_r = "local part longer than 64 octets";
		return -1;
	}
	if (!addr_local_valid(addr, llen)) {
		*error_r = "invalid mailbox name (letters, digits, - . _ + only; "
		    "no leading, trailing or doubled '.')";
		return -1;
	}
	if (dlen == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (!addr_domain_valid(at + 1, dlen)) {
		*error_r = "invalid domain name";
		return -1;
	}
	lower_copy(local_r, addr, llen);
	lower_copy(domain_r, at + 1, dlen);
	return 0;
}

int
addr_normalise(const char *addr, char *out, const char **error_r)
{
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	size_t llen, dlen;

	if (addr_split(addr, local, domain, error_r) < 0)
		return -1;
	llen = strlen(local);
	dlen = strlen(domain);
	memcpy(out, local, llen);
	out[llen] = '@';
	memcpy(out + llen + 1, domain, dlen + 1);
	return 0;
}
