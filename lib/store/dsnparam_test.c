/* dsnparam_test.c - unit tests of dsnparam.c: tables of good and bad
 * RFC 3461 parameter values. */
#include "test.h"
#include "dsnparam.h"

#include <string.h>

static int
notify(const char *s, unsigned *bits)
{
	return dsnparam_notify(s, strlen(s), bits);
}

int
main(void)
{
	static const struct { const char *in; unsigned bits; } notify_good[] = {
		{ "NEVER", QUEUE_NOTIFY_NEVER },
		{ "never", QUEUE_NOTIFY_NEVER },
		{ "SUCCESS", QUEUE_NOTIFY_SUCCESS },
		{ "FAILURE", QUEUE_NOTIFY_FAILURE },
		{ "DELAY", QUEUE_NOTIFY_DELAY },
		{ "SUCCESS,FAILURE", QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE },
		{ "delay,Success", QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY },
		{ "FAILURE,DELAY,SUCCESS", 7 },
	};
	static const char *const notify_bad[] = {
		"", ",", "NEVER,SUCCESS", "SUCCESS,NEVER", "SUCCESS,SUCCESS",
		"SUCCESS,", ",SUCCESS", "SUCCESS,,DELAY", "SUCCES", "SUCCESSX",
		"FAILURE DELAY", "-", "NEVERS", "DELAY,FAILURE,DELAY",
	};
	static const char *const orcpt_good[] = {
		"rfc822;a@b", "RFC822;a+2Bb@example.org", "utf-8;\\x{E9}@b",
		"rfc822;+41", "x-local;a",
	};
	static const char *const orcpt_bad[] = {
		"", "rfc822", "rfc822;", ";a@b", "rfc 822;a@b", "rfc822;a b",
		"rfc822;a=b", "rfc822;a+2b", "rfc822;a+2", "rfc822;+0D+0A",
		"rfc822;+00", "rfc822;+7F", "rfc_822;a", "rfc822;\xc3\xa9",
	};
	static const char *const envid_bad[] = {
		"", "a+20b", "a+0Db", "a=b", "a b", "a+2", "+7F", "\xc3\xa9",
	};
	char buf[QUEUE_ORCPT_MAX + 2], out[64], envid[QUEUE_ENVID_MAX + 1];
	enum queue_ret ret = QUEUE_RET_NONE;
	unsigned bits = 99;
	size_t i, t = 0;
	long n;

	for (i = 0; i < sizeof notify_good / sizeof notify_good[0]; i++) {
		bits = 99;
		CHECK(notify(notify_good[i].in, &bits) == 0 &&
		    bits == notify_good[i].bits);
	}
	for (i = 0; i < sizeof notify_bad / sizeof notify_bad[0]; i++) {
		bits = 99;
		if (notify(notify_bad[i], &bits) != -1 || bits != 0)
			printf("FAIL: NOTIFY=%s taken\n", notify_bad[i]);
		CHECK(notify(notify_bad[i], &bits) == -1 && bits == 0);
	}
	CHECK(dsnparam_notify_format(7, out, sizeof out) == 21);
	CHECK_STR(out, "SUCCESS,FAILURE,DELAY");
	CHECK(dsnparam_notify_format(QUEUE_NOTIFY_DELAY, out, sizeof out) == 5);
	CHECK_STR(out, "DELAY");
	CHECK(dsnparam_notify_format(QUEUE_NOTIFY_NEVER, out, sizeof out) == 5);
	CHECK_STR(out, "NEVER");
	CHECK(dsnparam_notify_format(0, out, sizeof out) == -1);
	CHECK(dsnparam_notify_format(9, out, sizeof out) == -1);
	CHECK(dsnparam_notify_format(16, out, sizeof out) == -1);
	CHECK(dsnparam_notify_format(1, out, 8) == -1);

	CHECK(dsnparam_ret("FULL", 4, &ret) == 0 && ret == QUEUE_RET_FULL);
	CHECK(dsnparam_ret("hdrs", 4, &ret) == 0 && ret == QUEUE_RET_HDRS);
	CHECK(dsnparam_ret("HDR", 3, &ret) == -1);
	CHECK(dsnparam_ret("FULLY", 5, &ret) == -1);
	CHECK(dsnparam_ret("", 0, &ret) == -1);

	CHECK(dsnparam_envid("QQ+2B314", 8, envid) == 0);
	CHECK_STR(envid, "QQ+314");
	CHECK(dsnparam_envid("a+41", 4, envid) == 0);      /* not canonical */
	CHECK_STR(envid, "aA");
	for (i = 0; i < sizeof envid_bad / sizeof envid_bad[0]; i++)
		CHECK(dsnparam_envid(envid_bad[i], strlen(envid_bad[i]),
		    envid) == -1 && envid[0] == '\0');
	memset(buf, 'e', QUEUE_ENVID_MAX + 1);
	CHECK(dsnparam_envid(buf, QUEUE_ENVID_MAX, envid) == 0);
	CHECK(dsnparam_envid(buf, QUEUE_ENVID_MAX + 1, envid) == -1);
	/* 100 octets decoded may take 300 on the wire */
	for (i = 0; i < QUEUE_ENVID_MAX; i++)
		memcpy(buf + 3 * i, "+2B", 3);
	CHECK(dsnparam_envid(buf, 3 * QUEUE_ENVID_MAX, envid) == 0 &&
	    strlen(envid) == QUEUE_ENVID_MAX);

	for (i = 0; i < sizeof orcpt_good / sizeof orcpt_good[0]; i++)
		CHECK(dsnparam_orcpt_ok(orcpt_good[i], strlen(orcpt_good[i])));
	for (i = 0; i < sizeof orcpt_bad / sizeof orcpt_bad[0]; i++) {
		if (dsnparam_orcpt_ok(orcpt_bad[i], strlen(orcpt_bad[i])))
			printf("FAIL: ORCPT=%s taken\n", orcpt_bad[i]);
		CHECK(!dsnparam_orcpt_ok(orcpt_bad[i], strlen(orcpt_bad[i])));
	}
	memset(buf, 'o', sizeof buf);
	memcpy(buf, "rfc822;", 7);
	CHECK(dsnparam_orcpt_ok(buf, QUEUE_ORCPT_MAX));
	CHECK(!dsnparam_orcpt_ok(buf, QUEUE_ORCPT_MAX + 1));
	CHECK(dsnparam_orcpt_decode("rfc822;a+2Bb@x", out, sizeof out, &t) == 0
	    && t == 6);
	CHECK_STR(out, "a+b@x");
	CHECK(dsnparam_orcpt_decode("rfc822;a+2b@x", out, sizeof out, &t) == -1);

	/* xtext both ways; canonical refuses "+HH" of an xchar */
	n = dsnparam_xtext_encode("a b+c=\xc3\xa9", 8, out, sizeof out);
	CHECK(n == 18);
	CHECK_STR(out, "a+20b+2Bc+3D+C3+A9");
	CHECK(dsnparam_xtext_decode(out, (size_t)n, 1, buf, sizeof buf) == 8 &&
	    memcmp(buf, "a b+c=\xc3\xa9", 9) == 0);
	CHECK(dsnparam_xtext_decode("+41", 3, 1, buf, sizeof buf) == -1);
	CHECK(dsnparam_xtext_decode("+41", 3, 0, buf, sizeof buf) == 1);
	CHECK(dsnparam_xtext_decode("+00", 3, 0, buf, sizeof buf) == -1);
	CHECK(dsnparam_xtext_decode("abc", 3, 0, buf, 3) == -1);
	CHECK(dsnparam_xtext_decode("abc", 3, 0, buf, 4) == 3);
	CHECK(dsnparam_xtext_encode("abc", 3, out, 3) == -1);
	CHECK(dsnparam_xtext_encode(" ", 1, out, 4) == 3);
	return TEST_SUMMARY();
}
