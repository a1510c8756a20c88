/* proxy.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends before the client's
 * bytes: a pure parser over bytes, a reader that takes exactly the
 * header's bytes off a descriptor within a deadline, and the step that
 * makes the header's source address the session's peer when the
 * connection comes from a trusted balancer (--proxy-from). */
#ifndef POSTERN_PROXY_H
#define POSTERN_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct peer;

#define PROXY_V1_MAX     107    /* whole v1 line, CRLF included */
#define PROXY_V2_HEAD    16     /* signature, command, family, length */
#define PROXY_V2_LEN_MAX 2048   /* largest v2 payload accepted (addresses
                                   and TLVs); HAProxy sends far less */
#define PROXY_MAX        (PROXY_V2_HEAD + PROXY_V2_LEN_MAX)
#define PROXY_TIMEOUT_S  5      /* the whole header must come within */

struct proxy_hdr {
	int version;            /* 1 or 2 */
	int has_addr;           /* 0: v2 LOCAL, v2 AF_UNSPEC or v1 UNKNOWN:
	                           the header names no client */
	char src[64], dst[64];  /* canonical text ("192.0.2.1", "2001:db8::1";
	                           v4-mapped IPv6 as IPv4) when has_addr */
	unsigned src_port, dst_port;
	int src_loopback;       /* src is 127/8, ::1 or v4-mapped 127/8 */
};

/* Parses the header at the start of buf[n].
 * Returns the header's length (> 0) when buf begins with a complete
 * valid header (bytes after it are not looked at); 0 when buf[n] is a
 * valid beginning that needs more bytes: *need_r (may be NULL) is how
 * many more may be read without reading past the header (1 while a v1
 * line is open, the rest of the v2 header once its length is known);
 * -1 when it is not a valid header, with *error_r (may be NULL) the
 * reason (static text). */
long proxy_parse(const unsigned char *buf, size_t n, struct proxy_hdr *h,
    size_t *need_r, const char **error_r);

/* Reads one header from fd, never a byte past its end (v1 byte by
 * byte, v2 its 16 bytes then the announced length), all of it before
 * the absolute deadline (clock_ms(); 0 = none). Returns 0, or -1 with
 * *error_r: a malformed header, EOF, a timeout or a read error. */
int proxy_read(int fd, int64_t deadline, struct proxy_hdr *h,
    const char **error_r);

/* What a handler calls right after learning the peer, before any other
 * byte of input: when p's address is inside the comma-separated CIDR
 * list `from` (NULL or "" = none), a header is read from fd within
 * PROXY_TIMEOUT_S; with addresses, its source becomes p->addr/port
 * (is_loopback after it, is_pipe cleared) and its destination
 * p->local_addr/port; without (LOCAL, UNKNOWN), the connection's own
 * address stays the peer but never counts as loopback. p->via gets the
 * balancer's address either way. From any other address nothing is
 * read. Returns 0, or -1 with *error_r (the connection must close). */
int proxy_accept(struct peer *p, int fd, const char *from,
    const char **error_r);

/* 0 if `from` is a valid --proxy-from list (non-empty, every entry a
 * CIDR or address), else -1. */
int proxy_from_valid(const char *from);

#endif
