/* proxy.c - the PROXY protocol header (v1 text, v2 binary): parsing,
 * reading exactly its bytes within a deadline, and naming the peer from
 * it for connections from a trusted balancer. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "startup.h"
#include "util.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1_sig[6] = "PROXY ";

static int fail(const char **error_r, const char *why)
{
	if (error_r)
		*error_r = why;
	errno = EINVAL;
	return -1;
}

/* Binary address (4 or 16 bytes) to canonical text; v4-mapped as v4. */
static void addr_bin_text(int af, const unsigned char *a, char *buf,
    size_t size, int *loop_r)
{
	if (af == AF_INET6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		af = AF_INET;
		a += 12;
	}
	if (af == AF_INET) {
		inet_ntop(AF_INET, a, buf, (socklen_t)size);
		*loop_r = a[0] == 127;
	} else {
		static const unsigned char one[16] = { [15] = 1 };
		inet_ntop(AF_INET6, a, buf, (socklen_t)size);
		*loop_r = memcmp(a, one, 16) == 0;
	}
}

/* A v1 port: 1-5 digits, no leading zero (except "0"), <= 65535. */
static int v1_port(const char *s, size_t n, unsigned *port_r)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

/* A v1 address of family af (text, n bytes) into binary. */
static int v1_addr(int af, const char *s, size_t n, unsigned char *bin)
{
	char tmp[64];

	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	/* inet_pton takes dotted quads only for AF_INET; for AF_INET6 it
	 * also takes a v4 tail, which the specification allows */
	return inet_pton(af, tmp, bin) == 1 ? 0 : -1;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n" of n bytes (CRLF included). */
static long v1_parse(const char *line, size_t n, struct proxy_hdr *h,
    const char **error_r)
{
	const char *f[6], *p = line + sizeof v1_sig, *end = line + n - 2;
	size_t fl[6];
	int nf = 0, af, loop;
	unsigned char sb[16], db[16];

	for (const char *q = line; q < end; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			return fail(error_r, "control or non-ASCII byte in v1 header");
	/* the protocol word */
	if ((size_t)(end - p) >= 7 && memcmp(p, "UNKNOWN", 7) == 0 &&
	    (p + 7 == end || p[7] == ' ')) {
		/* the rest of the line is to be ignored */
		h->version = 1;
		h->has_addr = 0;
		return (long)n;
	}
	while (p < end && nf < 6) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		f[nf] = p;
		fl[nf] = sp ? (size_t)(sp - p) : (size_t)(end - p);
		nf++;
		p = sp ? sp + 1 : end;
		if (sp && p == end)
			return fail(error_r, "v1 header ends in a space");
	}
	if (nf != 5 || p != end)
		return fail(error_r, "v1 header needs protocol, two addresses "
		    "and two ports");
	if (fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		af = AF_INET;
	else if (fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		af = AF_INET6;
	else
		return fail(error_r, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
	if (v1_addr(af, f[1], fl[1], sb) < 0 || v1_addr(af, f[2], fl[2], db) < 0)
		return fail(error_r, "bad address in v1 header");
	if (v1_port(f[3], fl[3], &h->src_port) < 0 ||
	    v1_port(f[4], fl[4], &h->dst_port) < 0)
		return fail(error_r, "bad port in v1 header");
	h->version = 1;
	h->has_addr = 1;
	addr_bin_text(af, sb, h->src, sizeof h->src, &h->src_loopback);
	addr_bin_text(af, db, h->dst, sizeof h->dst, &loop);
	return (long)n;
}

/* The v2 payload (addresses and TLVs), len bytes, after the 16-byte
 * head whose command and family bytes are given. */
static int v2_payload(unsigned cmd, unsigned fam, const unsigned char *b,
    size_t len, struct proxy_hdr *h, const char **error_r)
{
	size_t alen, off;
	int af, loop;

	h->version = 2;
	h->has_addr = 0;
	switch (fam) {
	case 0x11: af = AF_INET; alen = 12; break;
	case 0x21: af = AF_INET6; alen = 36; break;
	case 0x00: af = AF_UNSPEC; alen = 0; break;
	default:
		if (cmd == 0x0) {
			af = AF_UNSPEC;
			alen = len;    /* LOCAL: whatever it carries is ignored */
			break;
		}
		return fail(error_r, "v2 family is not TCP over IPv4 or IPv6");
	}
	if (len < alen)
		return fail(error_r, "v2 length too short for its addresses");
	/* TLVs: type, 16-bit length, value; skipped, but they must fill
	 * the rest exactly */
	for (off = alen; off < len; ) {
		size_t tl;

		if (len - off < 3)
			return fail(error_r, "truncated v2 TLV");
		tl = (size_t)b[off + 1] << 8 | b[off + 2];
		if (tl > len - off - 3)
			return fail(error_r, "v2 TLV longer than the header");
		off += 3 + tl;
	}
	if (cmd == 0x0 || af == AF_UNSPEC)
		return 0;
	if (af == AF_INET) {
		addr_bin_text(AF_INET, b, h->src, sizeof h->src, &h->src_loopback);
		addr_bin_text(AF_INET, b + 4, h->dst, sizeof h->dst, &loop);
		h->src_port = (unsigned)b[8] << 8 | b[9];
		h->dst_port = (unsigned)b[10] << 8 | b[11];
	} else {
		addr_bin_text(AF_INET6, b, h->src, sizeof h->src, &h->src_loopback);
		addr_bin_text(AF_INET6, b + 16, h->dst, sizeof h->dst, &loop);
		h->src_port = (unsigned)b[32] << 8 | b[33];
		h->dst_port = (unsigned)b[34] << 8 | b[35];
	}
	h->has_addr = 1;
	return 0;
}

long proxy_parse(const unsigned char *buf, size_t n, struct proxy_hdr *h,
    size_t *need_r, const char **error_r)
{
	size_t need = 1, len;

	memset(h, 0, sizeof *h);
	if (n == 0)
		goto more;
	if (buf[0] == v1_sig[0]) {
		const unsigned char *cr;

		if (memcmp(buf, v1_sig, n < 6 ? n : 6) != 0)
			return fail(error_r, "not a PROXY header");
		cr = memchr(buf, '\r', n);
		if (cr) {
			size_t at = (size_t)(cr - buf);
			if (at + 2 > PROXY_V1_MAX)
				return fail(error_r, "v1 header longer than 107 bytes");
			if (at + 1 == n)
				goto more;
			if (buf[at + 1] != '\n')
				return fail(error_r, "v1 header: CR without LF");
			if (at + 2 < 6 + 1)
				return fail(error_r, "v1 header too short");
			return v1_parse((const char *)buf, at + 2, h, error_r);
		}
		if (memchr(buf, '\n', n))
			return fail(error_r, "v1 header: LF without CR");
		if (n + 2 > PROXY_V1_MAX)   /* no room left for CRLF */
			return fail(error_r, "v1 header longer than 107 bytes");
		goto more;
	}
	if (buf[0] != v2_sig[0])
		return fail(error_r, "not a PROXY header");
	if (memcmp(buf, v2_sig, n < 12 ? n : 12) != 0)
		return fail(error_r, "not a PROXY header");
	if (n < PROXY_V2_HEAD) {
		/* byte by byte through the signature, so that a stray
		 * "\r\n" fails at once rather than at the deadline */
		need = n < sizeof v2_sig ? 1 : PROXY_V2_HEAD - n;
		goto more;
	}
	if ((buf[12] & 0xf0) != 0x20)
		return fail(error_r, "v2 header of an unknown version");
	if ((buf[12] & 0x0f) > 1)
		return fail(error_r, "v2 command is neither LOCAL nor PROXY");
	len = (size_t)buf[14] << 8 | buf[15];
	if (len > PROXY_V2_LEN_MAX)
		return fail(error_r, "v2 header too long");
	if (n < PROXY_V2_HEAD + len) {
		need = PROXY_V2_HEAD + len - n;
		goto more;
	}
	if (v2_payload(buf[12] & 0x0f, buf[13], buf + PROXY_V2_HEAD, len, h,
	    error_r) < 0)
		return -1;
	return (long)(PROXY_V2_HEAD + len);
more:
	if (need_r)
		*need_r = need;
	return 0;
}

int proxy_read(int fd, int64_t deadline, struct proxy_hdr *h,
    const char **error_r)
{
	unsigned char buf[PROXY_MAX];
	size_t n = 0, need = 1;
	long r;

	for (;;) {
		r = proxy_parse(buf, n, h, &need, error_r);
		if (r > 0)
			return 0;
		if (r < 0)
			return -1;
		if (need > sizeof buf - n)
			return fail(error_r, "header too long");
		while (need > 0) {
			ssize_t got;
			int w = fd_wait(fd, POLLIN, deadline);

			if (w == 0)
				return fail(error_r, "no complete header in time");
			if (w < 0)
				return fail(error_r, "poll failed");
			got = read(fd, buf + n, need);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got < 0)
				return fail(error_r, "read error");
			if (got == 0)
				return fail(error_r, n ? "connection closed in the "
				    "header" : "connection closed before a header");
			n += (size_t)got;
			need -= (size_t)got;
		}
	}
}

int proxy_from_valid(const char *from)
{
	int bad = 0;

	if (!from || !*from)
		return -1;
	(void)cidr_match("0.0.0.0", from, &bad);
	return bad ? -1 : 0;
}

int proxy_accept(struct peer *p, int fd, const char *from,
    const char **error_r)
{
	struct proxy_hdr h;

	if (!from || !*from || !cidr_match(p->addr, from, NULL))
		return 0;
	copy_str(p->via, sizeof p->via, p->addr);
	if (proxy_read(fd, deadline_in(PROXY_TIMEOUT_S), &h, error_r) < 0)
		return -1;
	p->is_pipe = 0;
	if (!h.has_addr) {
		/* the balancer speaking for itself (a health check) or a
		 * client it cannot name: its own address stays the peer,
		 * with no loopback privilege */
		p->is_loopback = 0;
		return 0;
	}
	copy_str(p->addr, sizeof p->addr, h.src);
	p->port = h.src_port;
	p->is_loopback = h.src_loopback;
	copy_str(p->local_addr, sizeof p->local_addr, h.dst);
	p->local_port = h.dst_port;
	return 0;
}
