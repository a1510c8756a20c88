/* dnsparse_fuzz.c - lib/dnsparse against a hostile DNS server: the input
 * is the whole answer message. The result is DNS_MX_BAD, DNS_MX_NULL or
 * a count within the bound; every kept exchange is a NUL-terminated,
 * valid host name that is not an IP literal, sorted by preference; the
 * same answer parsed with a smaller bound keeps the same best entries.
 * Also dns_name_read() at every offset of short inputs. ASan catches
 * any read past the buffer (the input is copied to an exact-size heap
 * block by libFuzzer). */
#include <string.h>

#include "addr.h"
#include "dnsparse.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_mx a[8], b[3];
	char name[DNS_NAME_MAX];
	unsigned sa, sb;
	size_t i, next;
	int na, nb, odd;

	na = dns_mx_parse(data, size, a, 8, &sa);
	FUZZ_CHECK(na == DNS_MX_BAD || na == DNS_MX_NULL ||
	    (na >= 0 && na <= 8));
	for (i = 0; na > 0 && i < (size_t)na; i++) {
		size_t n = strnlen(a[i].host, sizeof a[i].host);
		FUZZ_CHECK(n > 0 && n < sizeof a[i].host);
		FUZZ_CHECK(addr_domain_valid(a[i].host, n));
		FUZZ_CHECK(i == 0 || a[i - 1].pref <= a[i].pref);
	}
	nb = dns_mx_parse(data, size, b, 3, &sb);
	FUZZ_CHECK(sb == sa);
	if (na < 0)
		FUZZ_CHECK(nb == na);
	else {
		FUZZ_CHECK(nb == (na < 3 ? na : 3));
		for (i = 0; i < (size_t)nb; i++)
			FUZZ_CHECK(b[i].pref == a[i].pref);
	}
	FUZZ_CHECK(dns_mx_parse(data, size, NULL, 0, &sb) <= 0);
	for (i = 0; size <= 512 && i <= size; i++)
		if (dns_name_read(data, size, i, name, &next, &odd) == 0) {
			FUZZ_CHECK(strnlen(name, sizeof name) <= 253);
			FUZZ_CHECK(next > i && next <= size);
		}
	return 0;
}
