/* smtpc_test.c - unit tests of the SMTP client: capability parsing,
 * multi-line replies, a pipelined transaction with dot-stuffing and CRLF
 * conversion, the non-pipelined path, malformed replies, and the reply
 * and session deadlines. The server side is a socketpair preloaded with
 * replies (or a child trickling them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "smtpc.h"
#include "test.h"
#include "util.h"

static struct smtpc c;
static int srv;

static void
setup(const char *replies)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	smtpc_attach(&c, sv[0], sv[0], 5);
	srv = sv[1];
	if (write(srv, replies, strlen(replies)) != (ssize_t)strlen(replies))
		exit(1);
}

static const char *
client_sent(void)
{
	static char buf[8192];
	size_t len = 0;
	ssize_t n;

	io_flush(&c.io);
	shutdown(c.fd, SHUT_WR);
	while (len < sizeof buf - 1 &&
	    (n = read(srv, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static void
teardown(void)
{
	close(c.fd);
	close(srv);
}

static int
msgfile(const char *text)
{
	char path[] = "/tmp/smtpc_test.XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int
main(void)
{
	unsigned caps = 0;
	uint64_t size = 0;
	const char *rcpt[2] = { "a@x.test", "b@x.test" };
	int code[2];
	char reply[2][200];
	struct smtpc_txn t;

	smtpc_parse_cap("PIPELINING", &caps, &size);
	smtpc_parse_cap("SIZE 1000", &caps, &size);
	smtpc_parse_cap("AUTH=LOGIN PLAIN", &caps, &size);
	smtpc_parse_cap("etrn", &caps, &size);
	CHECK(caps & SMTPC_CAP_PIPELINING);
	CHECK(caps & SMTPC_CAP_SIZE);
	CHECK(size == 1000);
	CHECK(caps & SMTPC_CAP_AUTH_PLAIN);
	CHECK(caps & SMTPC_CAP_AUTH_LOGIN);
	CHECK(caps & SMTPC_CAP_ETRN);
	CHECK(!(caps & SMTPC_CAP_ATRN));
	CHECK(!(caps & SMTPC_CAP_STARTTLS));
	smtpc_parse_cap("Atrn", &caps, &size);
	CHECK(caps & SMTPC_CAP_ATRN);

	/* multi-line greeting + EHLO */
	setup("220-hello\r\n220 there\r\n250-x.test\r\n250-PIPELINING\r\n"
	    "250-STARTTLS\r\n250 ETRN\r\n");
	CHECK(smtpc_reply(&c) == 220);
	CHECK_STR(c.reply, "220 hello there");
	CHECK(smtpc_ehlo(&c, "me.test") == 250);
	CHECK(c.caps == (SMTPC_CAP_PIPELINING | SMTPC_CAP_STARTTLS |
	    SMTPC_CAP_ETRN));
	CHECK_STR(client_sent(), "EHLO me.test\r\n");
	teardown();

	/* EHLO refused -> HELO */
	setup("502 no\r\n250 ok\r\n");
	CHECK(smtpc_ehlo(&c, "me.test") == 250);
	CHECK(c.caps == 0);
	CHECK_STR(client_sent(), "EHLO me.test\r\nHELO me.test\r\n");
	teardown();

	/* pipelined transaction, one recipient refused */
	setup("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n"
	    "250 2.0.0 done\r\n");
	c.caps = SMTPC_CAP_PIPELINING | SMTPC_CAP_SIZE;
	memset(&t, 0, sizeof t);
	t.sender = "s@y.test";
	t.rcpt = rcpt;
	t.nrcpt = 2;
	t.msgfd = msgfile("a\n.b\nc");
	t.size = 7;
	t.rcpt_code = code;
	t.rcpt_reply = reply;
	CHECK(smtpc_send(&c, &t) == 0);
	CHECK(code[0] == 250);
	CHECK(code[1] == 550);
	CHECK_STR(reply[1], "550 5.1.1 no such user");
	CHECK_STR(client_sent(), "MAIL FROM:<s@y.test> SIZE=7\r\n"
	    "RCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"
	    "a\r\n..b\r\nc\r\n.\r\n");
	close(t.msgfd);
	teardown();

	/* without pipelining, every recipient refused: no DATA, RSET */
	setup("250 ok\r\n450 4.2.0 later\r\n550 5.1.1 no\r\n250 reset\r\n");
	c.caps = 0;
	t.msgfd = msgfile("x\n");
	t.sender = "";
	CHECK(smtpc_send(&c, &t) == 0);
	CHECK(code[0] == 450);
	CHECK(code[1] == 550);
	CHECK_STR(client_sent(), "MAIL FROM:<>\r\nRCPT TO:<a@x.test>\r\n"
	    "RCPT TO:<b@x.test>\r\nRSET\r\n");
	close(t.msgfd);
	teardown();

	/* MAIL refused while pipelining: every recipient gets its code */
	setup("451 4.3.0 busy\r\n503 no\r\n503 no\r\n503 no\r\n250 ok\r\n");
	c.caps = SMTPC_CAP_PIPELINING;
	t.msgfd = msgfile("x\n");
	CHECK(smtpc_send(&c, &t) == 0);
	CHECK(code[0] == 451 && code[1] == 451);
	close(t.msgfd);
	teardown();

	/* DATA refused after the body */
	setup("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n554 5.6.0 rejected\r\n");
	t.msgfd = msgfile("line\r\nwith crlf\r\n");
	CHECK(smtpc_send(&c, &t) == 0);
	CHECK(code[0] == 554 && code[1] == 554);
	CHECK(strstr(client_sent(), "DATA\r\nline\r\nwith crlf\r\n.\r\n") != NULL);
	close(t.msgfd);
	teardown();

	/* RFC 3461 parameters: sent only when DSN was offered */
	{
		const char *notify[2] = { "SUCCESS,FAILURE", NULL };
		const char *orcpt[2] = { "rfc822;A+2Bb@x.test", NULL };
		unsigned caps2 = 0;
		uint64_t size2 = 0;
		smtpc_parse_cap("DSN", &caps2, &size2);
		CHECK(caps2 == SMTPC_CAP_DSN);
		t.sender = "s@y.test";
		t.size = 0;
		t.ret = "HDRS";
		t.envid = "QQ+2B1";
		t.notify = notify;
		t.orcpt = orcpt;
		setup("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n");
		c.caps = SMTPC_CAP_PIPELINING | SMTPC_CAP_DSN;
		t.msgfd = msgfile("x\n");
		CHECK(smtpc_send(&c, &t) == 0);
		CHECK_STR(client_sent(), "MAIL FROM:<s@y.test> RET=HDRS "
		    "ENVID=QQ+2B1\r\nRCPT TO:<a@x.test> NOTIFY=SUCCESS,FAILURE "
		    "ORCPT=rfc822;A+2Bb@x.test\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"
		    "x\r\n.\r\n");
		close(t.msgfd);
		teardown();
		setup("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n");
		c.caps = SMTPC_CAP_PIPELINING;
		t.msgfd = msgfile("x\n");
		CHECK(smtpc_send(&c, &t) == 0);
		CHECK_STR(client_sent(), "MAIL FROM:<s@y.test>\r\n"
		    "RCPT TO:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n"
		    "x\r\n.\r\n");
		close(t.msgfd);
		teardown();
		t.ret = t.envid = NULL;
		t.notify = t.orcpt = NULL;
	}

	/* connection lost mid-reply */
	setup("250 ok\r\n");
	c.caps = 0;
	t.msgfd = msgfile("x\n");
	shutdown(srv, SHUT_WR);
	CHECK(smtpc_send(&c, &t) == SMTPC_ERR);
	CHECK(code[0] == 0 && code[1] == 0);
	close(t.msgfd);
	teardown();

	/* malformed replies */
	setup("hello\r\n");
	CHECK(smtpc_reply(&c) == SMTPC_ERR);
	teardown();
	setup("250-a\r\n251 b\r\n");
	CHECK(smtpc_reply(&c) == SMTPC_ERR);
	teardown();
	setup("199 x\r\n");
	CHECK(smtpc_reply(&c) == SMTPC_ERR);
	teardown();

	/* commands with CR/LF are refused */
	setup("");
	CHECK(smtpc_cmd(&c, "ETRN %s", "a\r\nRSET") == SMTPC_ERR);
	teardown();

	/* AUTH refused without TLS unless allowed */
	setup("235 ok\r\n");
	{
		const char *err = NULL;
		CHECK(smtpc_auth_plain(&c, "u", "p", 0, &err) == -1);
		CHECK(err != NULL);
		CHECK(smtpc_auth_plain(&c, "u", "p", 1, &err) == 235);
		CHECK_STR(client_sent(), "AUTH PLAIN AHUAcA==\r\n");
	}
	teardown();

	/* deadlines: a reply trickled one continuation line at a time is
	 * bounded as a whole by the timeout (1 s here), not per line */
	{
		int sv[2];
		pid_t pid;
		int64_t t0;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			exit(1);
		pid = fork();
		if (pid == 0) {
			int i;
			close(sv[0]);
			for (i = 0; i < 30; i++) {
				if (write(sv[1], "220-more\r\n", 10) != 10)
					_exit(0);
				usleep(200000);
			}
			_exit(0);
		}
		close(sv[1]);
		memset(&c, 0, sizeof c);
		smtpc_attach(&c, sv[0], sv[0], 1);
		t0 = clock_ms();
		CHECK(smtpc_reply(&c) == SMTPC_ERR);
		CHECK(clock_ms() - t0 < 2500);
		CHECK(strstr(c.reply, "timed out") != NULL);
		smtpc_close(&c);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	/* the session deadline: prompt replies, but the session is over */
	{
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			exit(1);
		memset(&c, 0, sizeof c);
		smtpc_set_session(&c, 1);
		smtpc_attach(&c, sv[0], sv[0], 30);
		sleep(2);
		if (write(sv[1], "220 hi\r\n", 8) != 8)
			exit(1);
		CHECK(smtpc_reply(&c) == SMTPC_ERR);
		CHECK(strstr(c.reply, "session time limit") != NULL);
		smtpc_set_session(&c, 0);
		CHECK(smtpc_reply(&c) == 220);
		smtpc_close(&c);
		close(sv[1]);
	}
	return TEST_SUMMARY();
}
