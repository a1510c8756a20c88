/* dsn_test.c - unit tests of the DSN text: status extraction, the
 * multipart/report structure, the attached original header, and
 * sanitised diagnostics. */
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
	close(fd);

	/* without the original */
	outlen = 0;
	CHECK(dsn_format(&env, failed, "mx.example.jp", "", -1, 1700000100,
	    put, NULL) == 0);
	CHECK(strstr(out, "Remote-MTA") == NULL);
	return TEST_SUMMARY();
}
