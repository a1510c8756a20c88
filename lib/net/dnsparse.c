/* dnsparse.c - a DNS MX answer parsed from a byte buffer: header,
 * question and answer sections walked with every offset checked against
 * the length, names decompressed with pointers that must go strictly
 * backwards (so no loop), exchanges validated and kept sorted. */
#include <string.h>

#include "addr.h"
#include "dnsparse.h"

#define DNS_HEADER   12
#define DNS_T_MX     15
#define DNS_C_IN     1

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

int
dns_name_read(const unsigned char *msg, size_t len, size_t off,
    char out[DNS_NAME_MAX], size_t *next_r, int *odd_r)
{
	size_t pos = off, seg = off, o = 0, next = 0, i;
	unsigned hops = 0;
	int jumped = 0;

	*odd_r = 0;
	out[0] = '\0';
	for (;;) {
		unsigned c;
		if (pos >= len)
			return -1;
		c = msg[pos];
		if (c == 0) {
			if (!jumped)
				next = pos + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			size_t ptr;
			if (pos + 1 >= len)
				return -1;
			ptr = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (!jumped)
				next = pos + 2;
			jumped = 1;
			/* strictly before the segment being read: every jump
			 * goes further back, so a loop cannot exist */
			if (ptr >= seg || ++hops > DNS_HOPS_MAX)
				return -1;
			pos = seg = ptr;
			continue;
		}
		if (c & 0xc0)
			return -1;              /* 0x40/0x80: no such label type */
		if (c > len - pos - 1)
			return -1;
		if (o + (o > 0) + c > DNS_NAME_MAX - 3)
			return -1;   /* over 255 octets on the wire, 253 as text */
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < c; i++) {
			unsigned char b = msg[pos + 1 + i];
			if (b == '.' || b <= ' ' || b >= 0x7f) {
				*odd_r = 1;
				b = '?';
			} else if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			out[o++] = (char)b;
		}
		pos += 1 + c;
	}
	out[o] = '\0';
	*next_r = next;
	return 0;
}

/* An exchange that is an address, not a name: its last label is all
 * digits (192.0.2.1; no top-level domain is numeric). */
static int
ip_literal(const char *name)
{
	const char *last = strrchr(name, '.');

	last = last ? last + 1 : name;
	if (*last == '\0')
		return 0;
	for (; *last; last++)
		if (*last < '0' || *last > '9')
			return 0;
	return 1;
}

/* Inserts (pref, host) into the sorted mx[0..*n), at most max kept. */
static void
keep(struct dns_mx *mx, size_t *n, size_t max, unsigned pref,
    const char *host)
{
	size_t at = *n;

	while (at > 0 && mx[at - 1].pref > pref)
		at--;
	if (at >= max)
		return;                         /* worse than all we keep */
	if (*n == max)
		(*n)--;                         /* the worst one goes */
	memmove(mx + at + 1, mx + at, (*n - at) * sizeof *mx);
	mx[at].pref = pref;
	memcpy(mx[at].host, host, strlen(host) + 1);
	(*n)++;
}

int
dns_mx_parse(const unsigned char *msg, size_t len, struct dns_mx *mx,
    size_t max, unsigned *skipped_r)
{
	char name[DNS_NAME_MAX];
	size_t pos = DNS_HEADER, n = 0, next;
	unsigned qd, an, i, type, cls, rdlen, pref;
	int odd, null_mx = 0;

	*skipped_r = 0;
	if (len < DNS_HEADER || !(msg[2] & 0x80) || (msg[3] & 0x0f) != 0)
		return DNS_MX_BAD;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	for (i = 0; i < qd; i++) {
		if (dns_name_read(msg, len, pos, name, &next, &odd) < 0 ||
		    next > len || len - next < 4)
			return DNS_MX_BAD;
		pos = next + 4;
	}
	for (i = 0; i < an; i++) {
		if (dns_name_read(msg, len, pos, name, &next, &odd) < 0 ||
		    next > len || len - next < 10)
			return DNS_MX_BAD;
		pos = next;
		type = get16(msg + pos);
		cls = get16(msg + pos + 2);
		rdlen = get16(msg + pos + 8);
		pos += 10;
		if (rdlen > len - pos)
			return DNS_MX_BAD;
		if (type == DNS_T_MX && cls == DNS_C_IN) {
			if (rdlen < 3)
				return DNS_MX_BAD;
			pref = get16(msg + pos);
			if (dns_name_read(msg, pos + rdlen, pos + 2, name, &next,
			    &odd) < 0 || next != pos + rdlen)
				return DNS_MX_BAD;
			if (name[0] == '\0')
				null_mx = 1;
			else if (odd || ip_literal(name) ||
			    !addr_domain_valid(name, strlen(name)))
				(*skipped_r)++;
			else if (max > 0)
				keep(mx, &n, max, pref, name);
		}
		pos += rdlen;
	}
	if (null_mx)
		return DNS_MX_NULL;
	return (int)n;
}
