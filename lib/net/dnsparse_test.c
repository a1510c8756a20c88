/* dnsparse_test.c - unit tests of the DNS MX answer parser: ordinary
 * answers (sorted, compressed, more than fit), null MX, IP-literal and
 * invalid exchanges, and the hostile cases: truncation, rdlen past the
 * end, pointer loops and forward pointers, overlong names, bad RCODE. */
#include <string.h>

#include "dnsparse.h"
#include "test.h"

static unsigned char m[4096];
static size_t mlen;

/* Header (response, RCODE 0), question "dialup.example MX IN". */
static void
start(unsigned an)
{
	static const unsigned char q[] = "\6dialup\7example\0\0\x0f\0\1";

	memset(m, 0, sizeof m);
	m[2] = 0x81;
	m[3] = 0x80;
	m[5] = 1;
	m[6] = (unsigned char)(an >> 8);
	m[7] = (unsigned char)an;
	memcpy(m + 12, q, sizeof q - 1);
	mlen = 12 + sizeof q - 1;
}

static void
put(const void *p, size_t n)
{
	memcpy(m + mlen, p, n);
	mlen += n;
}

/* One MX record owned by the question name (pointer 0xc00c); exch is a
 * wire-format name of n octets. */
static void
mx(unsigned pref, const void *exch, size_t n)
{
	unsigned char rr[12] = { 0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0, 60 };

	rr[10] = (unsigned char)((n + 2) >> 8);
	rr[11] = (unsigned char)(n + 2);
	put(rr, sizeof rr);
	m[mlen++] = (unsigned char)(pref >> 8);
	m[mlen++] = (unsigned char)pref;
	put(exch, n);
}

#define MX(pref, lit) mx(pref, lit, sizeof lit - 1)

int
main(void)
{
	struct dns_mx r[8];
	char name[DNS_NAME_MAX];
	unsigned sk;
	size_t next;
	int odd, n, i;

	/* two exchanges, out of order; one compressed against the question */
	start(2);
	MX(20, "\3mx2\6dialup\7example\0");
	MX(10, "\3MX1\xc0\x0c");
	n = dns_mx_parse(m, mlen, r, 8, &sk);
	CHECK(n == 2 && sk == 0);
	CHECK(r[0].pref == 10 && r[1].pref == 20);
	CHECK_STR(r[0].host, "mx1.dialup.example");
	CHECK_STR(r[1].host, "mx2.dialup.example");

	/* no MX in the answer (a CNAME only) */
	start(1);
	put("\xc0\x0c\0\5\0\1\0\0\0\x3c\0\2\xc0\x0c", 14);
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == 0 && sk == 0);

	/* more than fit: the best 8 are kept, in order */
	start(12);
	for (i = 12; i > 0; i--)
		MX((unsigned)i, "\2mx\xc0\x0c");
	n = dns_mx_parse(m, mlen, r, 8, &sk);
	CHECK(n == 8 && r[0].pref == 1 && r[7].pref == 8);

	/* null MX (RFC 7505) */
	start(1);
	MX(0, "\0");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_NULL);

	/* an IP literal as exchange is skipped; with nothing else, 0 + 1 */
	start(1);
	MX(10, "\003192\0010\0012\0011\0");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == 0 && sk == 1);
	start(2);
	MX(5, "\003192\0010\0012\0011\0");
	MX(10, "\2mx\xc0\x0c");
	n = dns_mx_parse(m, mlen, r, 8, &sk);
	CHECK(n == 1 && sk == 1 && r[0].pref == 10);
	/* a label with a dot, a blank or a control byte: skipped */
	start(2);
	MX(5, "\3a.b\0");
	MX(6, "\3a\033c\0");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == 0 && sk == 2);
	/* an invalid host name (underscore) is skipped */
	start(1);
	MX(5, "\4_bad\7example\0");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == 0 && sk == 1);

	/* truncated: header only with counts, cut in the question, cut in
	 * an answer's fixed part, rdlen past the end */
	start(1);
	MX(10, "\2mx\xc0\x0c");
	CHECK(dns_mx_parse(m, 11, r, 8, &sk) == DNS_MX_BAD);
	CHECK(dns_mx_parse(m, 20, r, 8, &sk) == DNS_MX_BAD);
	CHECK(dns_mx_parse(m, mlen - 8, r, 8, &sk) == DNS_MX_BAD);
	CHECK(dns_mx_parse(m, mlen - 1, r, 8, &sk) == DNS_MX_BAD);
	/* rdlen larger than the MX name it holds, or smaller */
	start(1);
	mx(10, "\2mx\xc0\x0c\0\0", 7);
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	start(1);
	put("\xc0\x0c\0\x0f\0\1\0\0\0\x3c\0\2\0\1", 14);
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	/* claims more answers than it has */
	start(3);
	MX(10, "\2mx\xc0\x0c");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);

	/* compression pointer loops: to itself, and a forward pointer */
	start(1);
	MX(10, "\2mx\xc0\x00");       /* fixed below to point at itself */
	m[mlen - 1] = (unsigned char)(mlen - 2);
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	start(1);
	MX(10, "\xc0\xff");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	/* a pointer back into the same name's earlier label (a loop) */
	start(1);
	MX(10, "\2mx\xc0\x00");
	m[mlen - 1] = (unsigned char)(mlen - 5);
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	/* reserved label types 0x40 and 0x80 */
	start(1);
	MX(10, "\x41x\0");
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);

	/* names over 255 octets */
	{
		unsigned char big[300];
		size_t b = 0;
		for (i = 0; i < 5; i++) {
			big[b++] = 50;
			memset(big + b, 'a', 50);
			b += 50;
		}
		big[b++] = 0;
		start(1);
		mx(10, big, b);
		CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
		/* a label over 63 octets is a reserved type (0x40) */
		start(1);
		big[0] = 64;
		mx(10, big, 66);
		CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	}

	/* RCODE set, not a response */
	start(1);
	MX(10, "\2mx\xc0\x0c");
	m[3] = 0x82;
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);
	m[3] = 0x80;
	m[2] = 0x01;
	CHECK(dns_mx_parse(m, mlen, r, 8, &sk) == DNS_MX_BAD);

	/* dns_name_read on its own: the end offset is after the pointer */
	start(0);
	put("\3www\xc0\x0c", 6);
	CHECK(dns_name_read(m, mlen, mlen - 6, name, &next, &odd) == 0);
	CHECK_STR(name, "www.dialup.example");
	CHECK(next == mlen && odd == 0);
	CHECK(dns_name_read(m, mlen, mlen, name, &next, &odd) < 0);
	return TEST_SUMMARY();
}
