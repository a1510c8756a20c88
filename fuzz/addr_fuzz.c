/* addr_fuzz.c - lib/addr (mailbox names, domains, addresses: what may
 * become a database key and a path) and cidr_match from lib/startup.
 * Whatever addr_normalise accepts is lowercase, has exactly one '@',
 * no '/', no "..", no control or blank octet, valid halves, and
 * normalising it again changes nothing. */
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "startup.h"

static void check_safe(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		FUZZ_CHECK(c > ' ' && c < 0x7f && c != '/' && c != '\\');
		FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
	}
	FUZZ_CHECK(!memmem(s, n, "..", 2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1024], out[ADDR_MAX + 1], again[ADDR_MAX + 1];
	static char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	const uint8_t *a, *b;
	size_t alen, blen, ln;
	const char *err = NULL, *at;

	if (size >= sizeof buf)
		return 0;
	if (addr_local_valid((const char *)data, size)) {
		FUZZ_CHECK(size >= 1 && size <= ADDR_LOCAL_MAX);
		FUZZ_CHECK(data[0] != '.' && data[size - 1] != '.');
		FUZZ_CHECK(!memchr(data, '/', size) && !memchr(data, 0, size));
		FUZZ_CHECK(!memmem(data, size, "..", 2));
	}
	if (addr_domain_valid((const char *)data, size)) {
		FUZZ_CHECK(size >= 1 && size <= ADDR_DOMAIN_MAX);
		FUZZ_CHECK(!memchr(data, '/', size) && !memchr(data, 0, size));
		FUZZ_CHECK(data[size - 1] != '.' && data[0] != '.');
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (addr_split(buf, local, domain, &err) == 0) {
		FUZZ_CHECK(addr_local_valid(local, strlen(local)));
		FUZZ_CHECK(addr_domain_valid(domain, strlen(domain)));
		check_safe(local, strlen(local));
		check_safe(domain, strlen(domain));
	} else
		FUZZ_CHECK(err != NULL);
	err = NULL;
	if (addr_normalise(buf, out, &err) == 0) {
		ln = strlen(out);
		FUZZ_CHECK(ln <= ADDR_MAX);
		check_safe(out, ln);
		at = strchr(out, '@');
		FUZZ_CHECK(at && !strchr(at + 1, '@'));
		FUZZ_CHECK(addr_normalise(out, again, &err) == 0 &&
		    strcmp(out, again) == 0);
	}
	/* cidr_match: "ADDRESS\nCIDRS" */
	fuzz_split(data, size, '\n', &a, &alen, &b, &blen);
	if (alen < 100) {
		static char addr[128], cidrs[1024];
		int bad = 0;

		memcpy(addr, a, alen);
		addr[alen] = '\0';
		memcpy(cidrs, b, blen);
		cidrs[blen] = '\0';
		(void)cidr_match(addr, cidrs, &bad);
		(void)cidr_match(addr, cidrs, NULL);
	}
	return 0;
}
