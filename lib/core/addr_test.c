/* addr_test.c - unit tests of addr.c (SPEC mailbox-name rules). */
#include "test.h"
#include "addr.h"

#include <string.h>

static int
lv(const char *s)
{
	return addr_local_valid(s, strlen(s));
}

static int
dv(const char *s)
{
	return addr_domain_valid(s, strlen(s));
}

int
main(void)
{
	char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
	char out[ADDR_MAX + 1], big[600];
	const char *err = NULL;

	/* mailbox names */
	CHECK(lv("alice"));
	CHECK(lv("Alice.Smith"));
	CHECK(lv("a-b_c+d.e"));
	CHECK(lv("1"));
	CHECK(lv("+"));
	CHECK(!lv(""));
	CHECK(!lv(".alice"));
	CHECK(!lv("alice."));
	CHECK(!lv("al..ice"));
	CHECK(!lv("."));
	CHECK(!lv("al/ice"));
	CHECK(!lv("al ice"));
	CHECK(!lv("al@ice"));
	CHECK(!lv("\"a\""));
	CHECK(!lv("a\x01"));
	CHECK(!lv("\xc3\xa9t\xc3\xa9"));
	CHECK(addr_local_valid("ab\0cd", 5) == 0);
	CHECK(addr_local_valid("alice.", 5) == 1);   /* length-bounded */
	memset(big, 'a', 64); big[64] = 0;
	CHECK(lv(big));
	big[64] = 'a'; big[65] = 0;
	CHECK(!lv(big));

	/* DNS names */
	CHECK(dv("example.jp"));
	CHECK(dv("localhost"));
	CHECK(dv("Mail-1.Example.ORG"));
	CHECK(dv("127.0.0.1"));
	CHECK(dv("a.b.c.d.e"));
	CHECK(!dv(""));
	CHECK(!dv("example.jp."));
	CHECK(!dv(".example.jp"));
	CHECK(!dv("exa..mple"));
	CHECK(!dv("-example.jp"));
	CHECK(!dv("example-.jp"));
	CHECK(!dv("example.jp-"));
	CHECK(!dv("ex_ample.jp"));
	CHECK(!dv("ex ample.jp"));
	CHECK(!dv("example.jp/x"));
	CHECK(!dv("[127.0.0.1]"));
	memset(big, 'a', 63); big[63] = 0;
	CHECK(dv(big));
	big[63] = 'a'; big[64] = 0;
	CHECK(!dv(big));                  /* 64-octet label */
	/* 253 octets total ok, 254 not */
	{
		size_t i;
		for (i = 0; i < 253; i++)
			big[i] = (i % 50 == 49) ? '.' : 'b';
		big[253] = 0;
		CHECK(dv(big));
		big[253] = 'b'; big[254] = 0;
		CHECK(!dv(big));
	}

	/* split and normalise */
	CHECK(addr_split("Alice@Example.JP", local, domain, &err) == 0);
	CHECK_STR(local, "alice");
	CHECK_STR(domain, "example.jp");
	CHECK(addr_normalise("Carol.X+tag@Mail.Example.jp", out, &err) == 0);
	CHECK_STR(out, "carol.x+tag@mail.example.jp");
	err = NULL; CHECK(addr_split("alice", local, domain, &err) == -1 && err);
	err = NULL; CHECK(addr_split("a@b@c", local, domain, &err) == -1 && err);
	err = NULL; CHECK(addr_split("@example.jp", local, domain, &err) == -1 && err);
	err = NULL; CHECK(addr_split("alice@", local, domain, &err) == -1 && err);
	err = NULL; CHECK(addr_split("../x@example.jp", local, domain, &err) == -1 && err);
	err = NULL; CHECK(addr_split("alice@exa mple", local, domain, &err) == -1 && err);
	err = NULL; CHECK(addr_normalise("alice@example.jp.", out, &err) == -1 && err);
	memset(big, 'x', 65); strcpy(big + 65, "@example.jp");
	err = NULL; CHECK(addr_normalise(big, out, &err) == -1 && err);
	CHECK(strstr(err, "64") != NULL);
	/* longest valid address fits out[] */
	{
		size_t i;
		memset(big, 'x', 64);
		big[64] = '@';
		for (i = 0; i < 253; i++)
			big[65 + i] = (i % 50 == 49) ? '.' : 'D';
		big[65 + 253] = 0;
		CHECK(addr_normalise(big, out, &err) == 0);
		CHECK(strlen(out) == ADDR_MAX && out[65] == 'd');
	}
	return TEST_SUMMARY();
}
