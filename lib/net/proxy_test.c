/* proxy_test.c - unit tests of proxy.c: v1 and v2 headers (valid,
 * truncated, malformed, TLVs, LOCAL/UNKNOWN), the "need" hint that keeps
 * the reader from reading past the header, proxy_read over a pipe with
 * bytes after the header and with a deadline, and proxy_accept naming
 * the peer only for listed addresses. */
#include "clock.h"
#include "proxy.h"
#include "startup.h"
#include "test.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define S(x) (const unsigned char *)(x), sizeof(x) - 1

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Builds a v2 header: cmd byte, fam byte, payload. Returns its length. */
static size_t v2(unsigned char *b, unsigned char cmd, unsigned char fam,
    const unsigned char *pl, size_t plen)
{
	memcpy(b, sig, 12);
	b[12] = cmd;
	b[13] = fam;
	b[14] = (unsigned char)(plen >> 8);
	b[15] = (unsigned char)plen;
	memcpy(b + 16, pl, plen);
	return 16 + plen;
}

static void test_v1(void)
{
	struct proxy_hdr h;
	const char *err = NULL;
	size_t need = 0;
	char line[200];

	CHECK(proxy_parse(S("PROXY TCP4 192.0.2.7 192.0.2.1 4242 110\r\n"), &h,
	    NULL, NULL) == 41);
	CHECK(h.version == 1 && h.has_addr && !h.src_loopback);
	CHECK_STR(h.src, "192.0.2.7");
	CHECK_STR(h.dst, "192.0.2.1");
	CHECK(h.src_port == 4242 && h.dst_port == 110);
	/* bytes after the header are not looked at */
	CHECK(proxy_parse(S("PROXY TCP4 127.0.0.2 127.0.0.1 1 25\r\nEHLO x\r\n"),
	    &h, NULL, NULL) == 37);
	CHECK(h.src_loopback);
	CHECK(proxy_parse(S("PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n"),
	    &h, NULL, NULL) > 0);
	CHECK_STR(h.src, "2001:db8::7");
	CHECK(h.src_port == 65535 && h.dst_port == 0);
	CHECK(proxy_parse(S("PROXY TCP6 ::ffff:127.0.0.3 ::1 5 6\r\n"), &h,
	    NULL, NULL) > 0);
	CHECK_STR(h.src, "127.0.0.3");
	CHECK(h.src_loopback);
	CHECK(proxy_parse(S("PROXY TCP6 ::1 ::1 5 6\r\n"), &h, NULL, NULL) > 0);
	CHECK(h.src_loopback);
	CHECK(proxy_parse(S("PROXY UNKNOWN\r\n"), &h, NULL, NULL) == 15);
	CHECK(h.version == 1 && !h.has_addr);
	CHECK(proxy_parse(S("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), &h, NULL,
	    NULL) > 0 && !h.has_addr);

	/* incomplete: one more byte at a time */
	CHECK(proxy_parse(S(""), &h, &need, NULL) == 0 && need == 1);
	CHECK(proxy_parse(S("PRO"), &h, &need, NULL) == 0 && need == 1);
	CHECK(proxy_parse(S("PROXY TCP4 1.2.3.4"), &h, &need, NULL) == 0 &&
	    need == 1);
	CHECK(proxy_parse(S("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r"), &h, &need,
	    NULL) == 0 && need == 1);

	/* malformed */
#define BAD(x) do { err = NULL; \
	CHECK(proxy_parse(S(x), &h, NULL, &err) == -1 && err != NULL); \
} while (0)
	BAD("USER alice\r\n");
	BAD("PROXY\r\n");
	BAD("PROXY \r\n");
	BAD("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX");
	BAD("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n");
	BAD("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n");
	BAD("PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n");
	BAD("PROXY TCP4 ::1 1.2.3.4 1 2\r\n");
	BAD("PROXY TCP6 1.2.3.4 ::1 1 2\r\n");
	BAD("PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n");
	BAD("PROXY UNKNOWNX\r\n");
	BAD("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\0\r\n");
	/* 107 bytes at most, CRLF included */
	memset(line, 0, sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'x', 105 - 14);
	memcpy(line + 105, "\r\n", 2);
	CHECK(proxy_parse((unsigned char *)line, 107, &h, NULL, NULL) == 107);
	memset(line + 14, 'x', 106 - 14);
	memcpy(line + 106, "\r\n", 2);
	CHECK(proxy_parse((unsigned char *)line, 108, &h, NULL, &err) == -1);
	CHECK(proxy_parse((unsigned char *)line, 107, &h, NULL, &err) == -1);
#undef BAD
}

static void test_v2(void)
{
	unsigned char b[PROXY_MAX + 16], pl[PROXY_V2_LEN_MAX + 8];
	struct proxy_hdr h;
	const char *err = NULL;
	size_t n, need = 0;

	/* PROXY TCP4 192.0.2.9:1234 -> 192.0.2.1:995 */
	memcpy(pl, "\xc0\x00\x02\x09\xc0\x00\x02\x01\x04\xd2\x03\xe3", 12);
	n = v2(b, 0x21, 0x11, pl, 12);
	CHECK(proxy_parse(b, n, &h, NULL, NULL) == 28);
	CHECK(h.version == 2 && h.has_addr && !h.src_loopback);
	CHECK_STR(h.src, "192.0.2.9");
	CHECK_STR(h.dst, "192.0.2.1");
	CHECK(h.src_port == 1234 && h.dst_port == 995);
	/* a prefix asks for exactly what is missing, never more */
	CHECK(proxy_parse(b, 1, &h, &need, NULL) == 0 && need == 1);
	CHECK(proxy_parse(b, 12, &h, &need, NULL) == 0 && need == 4);
	CHECK(proxy_parse(b, 16, &h, &need, NULL) == 0 && need == 12);
	CHECK(proxy_parse(b, 20, &h, &need, NULL) == 0 && need == 8);

	/* TCP6 ::1 with TLVs (ALPN, NOOP padding, an unknown type) */
	memset(pl, 0, 36);
	pl[15] = 1;
	pl[31] = 1;
	pl[32] = 0x30; pl[33] = 0x39;     /* 12345 */
	pl[34] = 0; pl[35] = 110;
	memcpy(pl + 36, "\x01\x00\x02h2" "\x04\x00\x03\0\0\0" "\xee\x00\x00", 14);
	n = v2(b, 0x21, 0x21, pl, 50);
	CHECK(proxy_parse(b, n, &h, NULL, &err) == 66);
	CHECK_STR(h.src, "::1");
	CHECK(h.src_loopback && h.src_port == 12345 && h.dst_port == 110);
	/* a TLV running past the header; a truncated TLV */
	pl[38] = 3;
	n = v2(b, 0x21, 0x21, pl, 41);
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	n = v2(b, 0x21, 0x21, pl, 38);
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	/* v4-mapped in a v6 block */
	memset(pl, 0, 36);
	pl[10] = pl[11] = 0xff;
	pl[12] = 127; pl[15] = 3;
	n = v2(b, 0x21, 0x21, pl, 36);
	CHECK(proxy_parse(b, n, &h, NULL, NULL) == 52);
	CHECK_STR(h.src, "127.0.0.3");
	CHECK(h.src_loopback);

	/* LOCAL (a health check): no addresses, any family, ignored */
	n = v2(b, 0x20, 0x00, pl, 0);
	CHECK(proxy_parse(b, n, &h, NULL, NULL) == 16 && !h.has_addr);
	n = v2(b, 0x20, 0x11, pl, 12);
	CHECK(proxy_parse(b, n, &h, NULL, NULL) == 28 && !h.has_addr);
	n = v2(b, 0x20, 0x31, pl, 0);
	CHECK(proxy_parse(b, n, &h, NULL, NULL) == 16 && !h.has_addr);
	/* PROXY with AF_UNSPEC: the connection's own address is used */
	n = v2(b, 0x21, 0x00, pl, 0);
	CHECK(proxy_parse(b, n, &h, NULL, NULL) == 16 && !h.has_addr);

	/* malformed */
	n = v2(b, 0x21, 0x11, pl, 11);          /* short address block */
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	n = v2(b, 0x21, 0x12, pl, 12);          /* UDP */
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	n = v2(b, 0x21, 0x31, pl, 216);         /* AF_UNIX */
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	n = v2(b, 0x22, 0x11, pl, 12);          /* command 2 */
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	n = v2(b, 0x11, 0x11, pl, 12);          /* version 1 */
	CHECK(proxy_parse(b, n, &h, NULL, &err) == -1);
	b[14] = 0xff; b[15] = 0xff;             /* length over the bound */
	CHECK(proxy_parse(b, 16, &h, NULL, &err) == -1);
	memset(pl, 0, sizeof pl);
	pl[12] = 0x04;
	pl[13] = (unsigned char)((PROXY_V2_LEN_MAX - 15) >> 8);
	pl[14] = (unsigned char)(PROXY_V2_LEN_MAX - 15);
	n = v2(b, 0x21, 0x11, pl, PROXY_V2_LEN_MAX);   /* the largest */
	CHECK(proxy_parse(b, n, &h, NULL, &err) == (long)n);
	memcpy(b, "\r\n\r\nX", 5);
	CHECK(proxy_parse(b, 5, &h, NULL, &err) == -1);
	CHECK(proxy_parse((const unsigned char *)"\r\n", 2, &h, &need, &err) == 0);
}

static void test_read(void)
{
	int pfd[2];
	struct proxy_hdr h;
	const char *err = NULL;
	char rest[64];
	ssize_t r;
	int64_t t0;

	/* the bytes after the header stay unread */
	CHECK(pipe(pfd) == 0);
	CHECK(write(pfd[1], "PROXY TCP4 192.0.2.5 192.0.2.1 9 25\r\nEHLO a\r\n",
	    45) == 45);
	CHECK(proxy_read(pfd[0], deadline_in(2), &h, &err) == 0);
	CHECK_STR(h.src, "192.0.2.5");
	r = read(pfd[0], rest, sizeof rest);
	CHECK(r == 8 && memcmp(rest, "EHLO a\r\n", 8) == 0);
	/* v2 then a TLS ClientHello's first bytes */
	{
		unsigned char b[64], pl[12] = { 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2 };
		size_t n = v2(b, 0x21, 0x11, pl, 12);
		memcpy(b + n, "\x16\x03\x01", 3);
		CHECK(write(pfd[1], b, n + 3) == (ssize_t)n + 3);
		CHECK(proxy_read(pfd[0], deadline_in(2), &h, &err) == 0);
		CHECK_STR(h.src, "10.0.0.1");
		r = read(pfd[0], rest, sizeof rest);
		CHECK(r == 3 && rest[0] == 0x16);
	}
	/* a malformed header */
	CHECK(write(pfd[1], "EHLO a\r\n", 8) == 8);
	err = NULL;
	CHECK(proxy_read(pfd[0], deadline_in(2), &h, &err) == -1 && err);
	while (read(pfd[0], rest, 1) == 1 && rest[0] != '\n')
		;
	/* nothing complete before the deadline */
	CHECK(write(pfd[1], "PROXY TCP4", 10) == 10);
	t0 = clock_ms();
	err = NULL;
	CHECK(proxy_read(pfd[0], clock_ms() + 300, &h, &err) == -1 && err);
	CHECK(clock_ms() - t0 >= 250 && clock_ms() - t0 < 2000);
	/* EOF */
	close(pfd[1]);
	CHECK(proxy_read(pfd[0], deadline_in(2), &h, &err) == -1);
	close(pfd[0]);
}

static void test_accept(void)
{
	int pfd[2];
	struct peer p;
	const char *err = NULL;

	CHECK(proxy_from_valid("127.0.0.1,::1/128") == 0);
	CHECK(proxy_from_valid("127.0.0.1,nonsense") == -1);
	CHECK(proxy_from_valid("") == -1);
	CHECK(proxy_from_valid(NULL) == -1);

	CHECK(pipe(pfd) == 0);
	/* not listed: nothing is read */
	memset(&p, 0, sizeof p);
	strcpy(p.addr, "127.0.0.5");
	p.is_loopback = 1;
	CHECK(write(pfd[1], "PROXY TCP4 192.0.2.5 192.0.2.1 9 25\r\n", 37) == 37);
	CHECK(proxy_accept(&p, pfd[0], "127.0.0.1", &err) == 0);
	CHECK_STR(p.addr, "127.0.0.5");
	CHECK(p.via[0] == '\0' && p.is_loopback);
	/* listed: the header names the peer */
	strcpy(p.addr, "127.0.0.1");
	p.is_pipe = 1;
	CHECK(proxy_accept(&p, pfd[0], "10.0.0.0/8,127.0.0.1", &err) == 0);
	CHECK_STR(p.addr, "192.0.2.5");
	CHECK_STR(p.via, "127.0.0.1");
	CHECK_STR(p.local_addr, "192.0.2.1");
	CHECK(p.port == 9 && p.local_port == 25 && !p.is_loopback && !p.is_pipe);
	/* LOCAL keeps the balancer's address, without loopback privilege */
	memset(&p, 0, sizeof p);
	strcpy(p.addr, "127.0.0.1");
	p.is_loopback = 1;
	CHECK(write(pfd[1], "PROXY UNKNOWN\r\n", 15) == 15);
	CHECK(proxy_accept(&p, pfd[0], "127.0.0.0/8", &err) == 0);
	CHECK_STR(p.addr, "127.0.0.1");
	CHECK(!p.is_loopback);
	/* listed and no header */
	CHECK(write(pfd[1], "QUIT\r\n", 6) == 6);
	err = NULL;
	CHECK(proxy_accept(&p, pfd[0], "127.0.0.1", &err) == -1 && err);
	close(pfd[0]);
	close(pfd[1]);
}

int main(void)
{
	test_v1();
	test_v2();
	test_read();
	test_accept();
	return TEST_SUMMARY();
}
