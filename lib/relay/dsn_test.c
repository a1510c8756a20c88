/* dsn_test.c - unit tests of the DSN text: status extraction, the
 * multipart/report structure, the attached original header, and
 * sanitised diagnostics; the RFC 3461 fields honoured (NOTIFY selects
 * recipients per kind, RET=FULL/HDRS, ENVID, ORCPT) and the success
 * notices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "test.h"

static char out[65536];
static size_t outlen;

static int
put(void *arg, const void *p, size_t n)
{
	(void)arg;
	if (outlen + n >= sizeof out)
		return -1;
	memcpy(out + outlen, p, n);
	outlen += n;
	out[outlen] = '\0';
	return 0;
}

int
main(void)
{
	static struct queue_env env;
	unsigned char failed[QUEUE_RCPT_MAX] = { 0 };
	char st[16], path[] = "/tmp/dsn_test.XXXXXX";
	const char *msg = "From: a@b.test\nSubject: hi\nX-Long: 1\n\nbody text\n";
	int fd;

	/* reverse-paths a DSN goes to: any mailbox accepted at MAIL */
	CHECK(dsn_return_path_ok("SRS0=HHH=TT=example.com=bob@fwd.example"));
	CHECK(dsn_return_path_ok("list-bounces+bob=example.com@lists.example"));
	CHECK(dsn_return_path_ok("prvs=1234abcd56=Bob@Batv.example"));
	CHECK(dsn_return_path_ok("\"a@b\"@quoted.example"));
	CHECK(dsn_return_path_ok("\xc3\xa9t\xc3\xa9@utf8.example"));
	CHECK(!dsn_return_path_ok(""));
	CHECK(!dsn_return_path_ok("no-at-sign"));
	CHECK(!dsn_return_path_ok("@example.org"));
	CHECK(!dsn_return_path_ok("bob@"));
	CHECK(dsn_return_path_ok("\"a b\"@blank.example"));
	CHECK(!dsn_return_path_ok("a b@blank.example"));
	CHECK(!dsn_return_path_ok("\"ab\"@blank .example"));
	CHECK(!dsn_return_path_ok("\"a\tb\"@blank.example"));
	CHECK(!dsn_return_path_ok("a\nb@ctl.example"));
	dsn_status("550 5.1.1 no such user", st, sizeof st);
	CHECK_STR(st, "5.1.1");
	dsn_status("554 no enhanced code", st, sizeof st);
	CHECK_STR(st, "5.0.0");
	dsn_status("552 4.2.2 mailbox full", st, sizeof st);
	CHECK_STR(st, "5.2.2");
	dsn_status("550 5.1.1234 bad", st, sizeof st);
	CHECK_STR(st, "5.0.0");
	dsn_status("", st, sizeof st);
	CHECK_STR(st, "5.0.0");
	dsn_status("451 4.3.0 later", st, sizeof st);
	CHECK_STR(st, "4.3.0");

	fd = mkstemp(path);
	unlink(path);
	CHECK(write(fd, msg, strlen(msg)) == (ssize_t)strlen(msg));
	strcpy(env.id, "1234.M1P2Q3.host");
	strcpy(env.sender, "alice@example.jp");
	env.arrival = 1700000000;
	env.nrcpt = 2;
	strcpy(env.rcpt[0].addr, "bob@dialup.example");
	strcpy(env.rcpt[0].last_reply, "550 5.1.1 <bob>: unknown\x01user");
	env.rcpt[0].state = QUEUE_FAILED;
	strcpy(env.rcpt[1].addr, "carol@dialup.example");
	env.rcpt[1].state = QUEUE_DONE;
	failed[0] = 1;
	CHECK(dsn_format(&env, failed, "mx.example.jp", "node.dialup.example",
	    fd, 1700000100, put, NULL) == 0);
	CHECK(strstr(out, "To: <alice@example.jp>\n") != NULL);
	CHECK(strstr(out, "From: Mail Delivery System <MAILER-DAEMON@mx.example.jp>\n") != NULL);
	CHECK(strstr(out, "Content-Type: multipart/report; report-type=delivery-status;") != NULL);
	CHECK(strstr(out, "Content-Type: message/delivery-status\n") != NULL);
	CHECK(strstr(out, "Reporting-MTA: dns; mx.example.jp\n") != NULL);
	CHECK(strstr(out, "Final-Recipient: rfc822; bob@dialup.example\n") != NULL);
	CHECK(strstr(out, "Action: failed\nStatus: 5.1.1\n") != NULL);
	CHECK(strstr(out, "Remote-MTA: dns; node.dialup.example\n") != NULL);
	CHECK(strstr(out, "Diagnostic-Code: smtp; 550 5.1.1 <bob>: unknown?user\n") != NULL);
	CHECK(strstr(out, "carol@dialup.example") == NULL);
	CHECK(strstr(out, "Content-Type: text/rfc822-headers\n") != NULL);
	CHECK(strstr(out, "Subject: hi\nX-Long: 1\n") != NULL);
	CHECK(strstr(out, "body text") == NULL);
	CHECK(strstr(out, "Auto-Submitted: auto-replied\n") != NULL);
	/* the closing boundary ends the message */
	CHECK(outlen > 4 && strcmp(out + outlen - 3, "--\n") == 0);

	/* RFC 3461: NOTIFY selects, RET=FULL returns the body, ENVID/ORCPT */
	{
		static const struct { unsigned notify; int f, d, s; } w[] = {
			{ 0, 1, 1, 0 },
			{ QUEUE_NOTIFY_NEVER, 0, 0, 0 },
			{ QUEUE_NOTIFY_SUCCESS, 0, 0, 1 },
			{ QUEUE_NOTIFY_FAILURE, 1, 0, 0 },
			{ QUEUE_NOTIFY_DELAY | QUEUE_NOTIFY_SUCCESS, 0, 1, 1 },
			{ 7, 1, 1, 1 },
		};
		struct queue_rcpt q;
		size_t i;
		memset(&q, 0, sizeof q);
		for (i = 0; i < sizeof w / sizeof w[0]; i++) {
			q.notify = w[i].notify;
			CHECK(dsn_wanted(DSN_REFUSED, &q) == w[i].f);
			CHECK(dsn_wanted(DSN_EXPIRED, &q) == w[i].f);
			CHECK(dsn_wanted(DSN_DELAYED, &q) == w[i].d);
			CHECK(dsn_wanted(DSN_DELIVERED, &q) == w[i].s);
			CHECK(dsn_wanted(DSN_RELAYED, &q) == w[i].s);
		}
	}
	env.rcpt[0].notify = QUEUE_NOTIFY_NEVER;
	CHECK(dsn_count(DSN_REFUSED, &env, failed) == 0);
	outlen = 0;
	CHECK(dsn_format(&env, failed, "mx.example.jp", "", fd, 1700000100,
	    put, NULL) == 0);
	CHECK(strstr(out, "Final-Recipient") == NULL);
	env.rcpt[0].notify = QUEUE_NOTIFY_FAILURE;
	CHECK(dsn_count(DSN_REFUSED, &env, failed) == 1);
	CHECK(dsn_count(DSN_DELAYED, &env, failed) == 0);
	strcpy(env.rcpt[0].orcpt, "rfc822;Bob+2Bx@dialup.example");
	strcpy(env.envid, "QQ314");
	env.ret = QUEUE_RET_FULL;
	outlen = 0;
	CHECK(dsn_format(&env, failed, "mx.example.jp", "", fd, 1700000100,
	    put, NULL) == 0);
	CHECK(strstr(out, "Original-Envelope-Id: QQ314\nReporting-MTA:") != NULL);
	CHECK(strstr(out, "\nOriginal-Recipient: rfc822;Bob+x@dialup.example\n"
	    "Final-Recipient: rfc822; bob@dialup.example\n") != NULL);
	CHECK(strstr(out, "Content-Type: message/rfc822\n") != NULL);
	CHECK(strstr(out, "\n\nbody text\n\n--") != NULL);
	CHECK(strstr(out, "text/rfc822-headers") == NULL);
	env.ret = QUEUE_RET_HDRS;
	outlen = 0;
	CHECK(dsn_format(&env, failed, "mx.example.jp", "", fd, 1700000100,
	    put, NULL) == 0);
	CHECK(strstr(out, "Content-Type: text/rfc822-headers\n") != NULL);
	CHECK(strstr(out, "body text") == NULL);
	/* a success notice: headers only, even with RET=FULL */
	env.ret = QUEUE_RET_FULL;
	env.rcpt[0].notify = QUEUE_NOTIFY_SUCCESS;
	strcpy(env.rcpt[0].last_reply, "250 2.0.0 ok");
	outlen = 0;
	CHECK(dsn_format_notice(DSN_RELAYED, 0, &env, failed, "mx.example.jp",
	    "next.example", fd, 1700000100, put, NULL) == 0);
	CHECK(strstr(out, "Action: relayed\nStatus: 2.0.0\n") != NULL);
	CHECK(strstr(out, "Subject: Successful Mail Delivery Report\n") != NULL);
	CHECK(strstr(out, "Content-Type: text/rfc822-headers\n") != NULL);
	CHECK(strstr(out, "body text") == NULL);
	outlen = 0;
	CHECK(dsn_format_notice(DSN_DELIVERED, 0, &env, failed,
	    "mx.example.jp", "", fd, 1700000100, put, NULL) == 0);
	CHECK(strstr(out, "Action: delivered\nStatus: 2.0.0\n") != NULL);
	env.ret = QUEUE_RET_NONE;
	env.envid[0] = env.rcpt[0].orcpt[0] = '\0';
	env.rcpt[0].notify = 0;
	strcpy(env.rcpt[0].last_reply, "550 5.1.1 <bob>: unknown\x01user");
	close(fd);

	/* without the original */
	outlen = 0;
	CHECK(dsn_format(&env, failed, "mx.example.jp", "", -1, 1700000100,
	    put, NULL) == 0);
	CHECK(strstr(out, "Remote-MTA") == NULL);
	return TEST_SUMMARY();
}
