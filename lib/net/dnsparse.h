/* dnsparse.h - the answer to a DNS MX query (RFC 1035 message format,
 * RFC 7505 null MX) parsed from a byte buffer: a pure function, no
 * resolver, no allocation, every read bounded by the buffer, so that a
 * hostile DNS server's answer (oversized, truncated, compression-pointer
 * loops, lengths past the end) costs at most a temporary failure.
 * holdflush.c hands it what res_query() returned; fuzz/dnsparse_fuzz.c
 * feeds it anything. */
#ifndef POSTERN_DNSPARSE_H
#define POSTERN_DNSPARSE_H

#include <stddef.h>

#define DNS_NAME_MAX   256    /* a name as text, 255 octets + NUL */
#define DNS_HOPS_MAX   32     /* compression pointers followed per name */

/* dns_mx_parse() results other than a count. */
#define DNS_MX_BAD     (-1)   /* malformed answer, or an error RCODE */
#define DNS_MX_NULL    (-2)   /* null MX: the domain accepts no mail */

struct dns_mx {
	unsigned pref;
	char host[DNS_NAME_MAX];  /* lowercase, no trailing dot */
};

/* Parses msg[0..len) as a DNS response to an MX query. Keeps the usable
 * exchanges, at most max, sorted by preference (the lowest-preference
 * ones when there are more; equal preferences in answer order), in
 * mx[]. Usable: a valid host name (addr_domain_valid) that is not an IP
 * literal - an MX must name a host (RFC 5321 5.1, RFC 2181 10.3), so an
 * exchange spelled like an IPv4 address (four numeric labels) is skipped
 * and counted in *skipped_r, as are names that are not valid host names.
 * Records of other types (CNAME, RRSIG) are ignored. Returns the count
 * (0: no usable MX record; with *skipped_r 0 the domain has none),
 * DNS_MX_NULL when an exchange is the root "." (RFC 7505), DNS_MX_BAD
 * when the message is malformed: shorter than its header or counts
 * claim, a name longer than 255 octets, a label over 63, a compression
 * pointer loop or more than DNS_HOPS_MAX pointers, an RDLENGTH past the
 * end or inconsistent with its MX name, or a non-zero RCODE. */
int dns_mx_parse(const unsigned char *msg, size_t len, struct dns_mx *mx,
    size_t max, unsigned *skipped_r);

/* Reads the (possibly compressed) name at msg[off] into out[DNS_NAME_MAX]
 * as lowercase dotted text ("" for the root). *next_r: the offset after
 * the name where it started (not after a pointer's target). Labels with
 * a '.' or a byte outside printable ASCII make *odd_r 1 (the name is
 * still read). 0 / -1 malformed. Exposed for the tests. */
int dns_name_read(const unsigned char *msg, size_t len, size_t off,
    char out[DNS_NAME_MAX], size_t *next_r, int *odd_r);

#endif
