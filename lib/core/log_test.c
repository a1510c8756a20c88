/* log_test.c - unit tests of log.c: the journal datagram (fields, binary
 * form for values with newlines) against a test listener, the stderr
 * formats, control-character replacement, the debug filter. */
#include "log.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];
static int jfd = -1;

/* Receives one datagram (waits up to 2 s); returns its length or -1. */
static ssize_t recv_entry(char *buf, size_t size)
{
	struct pollfd pfd = { .fd = jfd, .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return recv(jfd, buf, size, 0);
}

static int no_entry(void)
{
	struct pollfd pfd = { .fd = jfd, .events = POLLIN };
	return poll(&pfd, 1, 100) == 0;
}

/* Finds the text field KEY=value (one line) in a datagram; copies the
 * value into out. Returns 1 if found. */
static int field(const char *buf, size_t len, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key), i = 0;

	while (i < len) {
		const char *line = buf + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t ll = nl ? (size_t)(nl - line) : len - i;
		if (ll > klen && memcmp(line, key, klen) == 0 && line[klen] == '=') {
			size_t vl = ll - klen - 1;
			if (vl >= size)
				vl = size - 1;
			memcpy(out, line + klen + 1, vl);
			out[vl] = '\0';
			return 1;
		}
		if (ll == klen && memcmp(line, key, klen) == 0 && nl &&
		    (size_t)(nl - buf) + 9 <= len) {
			/* binary form: KEY\n <le64 length> value \n */
			uint64_t vl = 0;
			const unsigned char *p = (const unsigned char *)nl + 1;
			for (int b = 7; b >= 0; b--)
				vl = (vl << 8) | p[b];
			if ((size_t)(nl - buf) + 9 + vl + 1 > len || vl >= size)
				return 0;
			memcpy(out, nl + 9, (size_t)vl);
			out[vl] = '\0';
			return 1;
		}
		if (!nl)
			break;
		i += ll + 1;
	}
	return 0;
}

/* Reads what was written to the stderr file since offset *off. */
static void read_err(int fd, off_t *off, char *out, size_t size)
{
	ssize_t n = pread(fd, out, size - 1, *off);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	*off += n;
}

int main(void)
{
	char buf[8192], v[2048], pidtxt[32], line[4096];
	struct sockaddr_un sa;
	ssize_t n;
	int saved_err, errfd;
	off_t off = 0;
	struct stat st;

	snprintf(dir, sizeof dir, "/tmp/log_test.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/journal.sock", dir);
	jfd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(jfd >= 0);
	CHECK(bind(jfd, (struct sockaddr *)&sa, sizeof sa) == 0);
	setenv("POSTERN_JOURNAL_SOCKET", sa.sun_path, 1);
	snprintf(pidtxt, sizeof pidtxt, "%ld", (long)getpid());

	/* stderr goes to a file so the tests can read it back */
	snprintf(line, sizeof line, "%s/stderr", dir);
	errfd = open(line, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved_err = dup(2);
	CHECK(errfd >= 0 && saved_err >= 0);
	dup2(errfd, 2);
	unsetenv("JOURNAL_STREAM");

	/* 1. forced journal: one datagram with the standard fields */
	setenv("POSTERN_LOG", "journal", 1);
	log_open("tester");
	log_msg(LOG_WARNING, "hello %s", "world");
	n = recv_entry(buf, sizeof buf);
	CHECK(n > 0);
	if (n > 0) {
		CHECK(field(buf, (size_t)n, "MESSAGE", v, sizeof v) && strcmp(v, "hello world") == 0);
		CHECK(field(buf, (size_t)n, "PRIORITY", v, sizeof v) && strcmp(v, "4") == 0);
		CHECK(field(buf, (size_t)n, "SYSLOG_IDENTIFIER", v, sizeof v) && strcmp(v, "tester") == 0);
		CHECK(field(buf, (size_t)n, "SYSLOG_FACILITY", v, sizeof v) && strcmp(v, "2") == 0);
		CHECK(field(buf, (size_t)n, "SYSLOG_PID", v, sizeof v) && strcmp(v, pidtxt) == 0);
		CHECK(buf[n - 1] == '\n');
	}

	/* 2. control characters in the message become '?' */
	log_msg(LOG_ERR, "evil\r\nINJECTED=1\x1b[0m\x7f end");
	n = recv_entry(buf, sizeof buf);
	CHECK(n > 0);
	if (n > 0) {
		CHECK(field(buf, (size_t)n, "MESSAGE", v, sizeof v));
		CHECK_STR(v, "evil??INJECTED=1?[0m? end");
		CHECK(!field(buf, (size_t)n, "INJECTED", v, sizeof v));
		CHECK(field(buf, (size_t)n, "PRIORITY", v, sizeof v) && strcmp(v, "3") == 0);
	}

	/* 3. debug lines dropped unless enabled */
	log_msg(LOG_DEBUG, "quiet");
	CHECK(no_entry());
	log_set_debug(1);
	log_msg(LOG_DEBUG, "loud");
	n = recv_entry(buf, sizeof buf);
	CHECK(n > 0 && field(buf, (size_t)n, "MESSAGE", v, sizeof v) && strcmp(v, "loud") == 0);
	log_set_debug(0);

	/* 4. structured summary: own fields, binary form for a newline,
	 * invalid and reserved keys skipped, MESSAGE is the summary line */
	{
		const char *f[] = { "REMOTE_ADDR=192.0.2.7", "USER=alice@example.jp",
			"RESULT=ok", "NOTE=two\nlines", "bad key=x", "_TRUSTED=x",
			"PRIORITY=0", "lower=x", "NOEQUALS", NULL };
		log_fields(LOG_INFO, "session end", f);
		n = recv_entry(buf, sizeof buf);
		CHECK(n > 0);
		if (n > 0) {
			CHECK(field(buf, (size_t)n, "REMOTE_ADDR", v, sizeof v) && strcmp(v, "192.0.2.7") == 0);
			CHECK(field(buf, (size_t)n, "USER", v, sizeof v) && strcmp(v, "alice@example.jp") == 0);
			CHECK(field(buf, (size_t)n, "RESULT", v, sizeof v) && strcmp(v, "ok") == 0);
			CHECK(field(buf, (size_t)n, "NOTE", v, sizeof v) && strcmp(v, "two\nlines") == 0);
			CHECK(field(buf, (size_t)n, "PRIORITY", v, sizeof v) && strcmp(v, "6") == 0);
			CHECK(!field(buf, (size_t)n, "_TRUSTED", v, sizeof v));
			CHECK(!field(buf, (size_t)n, "lower", v, sizeof v));
			CHECK(field(buf, (size_t)n, "MESSAGE", v, sizeof v));
			CHECK(strncmp(v, "session end REMOTE_ADDR=192.0.2.7 USER=alice@example.jp RESULT=ok NOTE=two?lines", 80) == 0);
			/* PRIORITY appears once: ours */
			CHECK(memmem(buf, (size_t)n, "\nPRIORITY=0\n", 12) == NULL);
		}
	}

	/* 5. journal unreachable while forced: falls back to the stderr line */
	setenv("POSTERN_JOURNAL_SOCKET", "/nonexistent/journal.sock", 1);
	log_open("tester");
	log_msg(LOG_NOTICE, "fallback");
	read_err(errfd, &off, line, sizeof line);
	snprintf(v, sizeof v, "<5>tester[%s]: fallback\n", pidtxt);
	CHECK_STR(line, v);
	setenv("POSTERN_JOURNAL_SOCKET", sa.sun_path, 1);

	/* 6. default (no override), plain stderr: "<N>ident[pid]: msg" */
	unsetenv("POSTERN_LOG");
	log_open("pop3-handler");
	log_msg(LOG_INFO, "line with\ttab and \x01 ctl");
	read_err(errfd, &off, line, sizeof line);
	snprintf(v, sizeof v, "<6>pop3-handler[%s]: line with?tab and ? ctl\n", pidtxt);
	CHECK_STR(line, v);
	CHECK(no_entry());
	{
		const char *f[] = { "USER=bob", "RESULT=login failed", NULL };
		log_fields(LOG_WARNING, "pop3 session", f);
		read_err(errfd, &off, line, sizeof line);
		snprintf(v, sizeof v, "<4>pop3-handler[%s]: pop3 session USER=bob RESULT=\"login failed\"\n", pidtxt);
		CHECK_STR(line, v);
	}

	/* 7. stderr is a journal stream and the journal socket exists:
	 * structured entries go to the journal */
	CHECK(fstat(2, &st) == 0);
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	log_open("smtp-handler");
	log_msg(LOG_INFO, "to journal");
	n = recv_entry(buf, sizeof buf);
	CHECK(n > 0 && field(buf, (size_t)n, "MESSAGE", v, sizeof v) && strcmp(v, "to journal") == 0);
	read_err(errfd, &off, line, sizeof line);
	CHECK_STR(line, "");

	/* 8. journal stream but no journal socket: "<N>msg" on stderr */
	setenv("POSTERN_JOURNAL_SOCKET", "/nonexistent/journal.sock", 1);
	log_open("smtp-handler");
	log_msg(LOG_ERR, "prefixed");
	read_err(errfd, &off, line, sizeof line);
	CHECK_STR(line, "<3>prefixed\n");
	unsetenv("JOURNAL_STREAM");
	setenv("POSTERN_JOURNAL_SOCKET", sa.sun_path, 1);

	/* 9. a JOURNAL_STREAM naming another file is not trusted */
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_open("x");
	log_msg(LOG_INFO, "plain");
	read_err(errfd, &off, line, sizeof line);
	snprintf(v, sizeof v, "<6>x[%s]: plain\n", pidtxt);
	CHECK_STR(line, v);
	CHECK(no_entry());
	unsetenv("JOURNAL_STREAM");

	/* 10. stderr is /dev/null (unusable): the journal when it exists */
	{
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		close(null);
		log_open("y");
		log_msg(LOG_INFO, "via journal");
		n = recv_entry(buf, sizeof buf);
		CHECK(n > 0 && field(buf, (size_t)n, "MESSAGE", v, sizeof v) && strcmp(v, "via journal") == 0);
		dup2(errfd, 2);
	}

	/* 11. overlong message is truncated, not lost */
	{
		static char big[5000];
		memset(big, 'a', sizeof big - 1);
		log_open("z");
		log_msg(LOG_INFO, "%s", big);
		read_err(errfd, &off, line, sizeof line);
		CHECK(strlen(line) > 2000 && strlen(line) < 2100);
		CHECK(line[strlen(line) - 1] == '\n');
	}

	/* 12. errno is preserved across log calls */
	/* log_sanitize: what etrn-client prints of a server's reply */
	{
		char esc[] = "ok \x1b]0;t\x07\x1b[2J\r\n\x7f end \xc3\xa9";
		log_sanitize(esc, strlen(esc));
		CHECK_STR(esc, "ok ?]0;t??[2J??? end \xc3\xa9");
	}
	errno = ENOSPC;
	log_msg(LOG_INFO, "keep errno");
	CHECK(errno == ENOSPC);
	read_err(errfd, &off, line, sizeof line);

	/* 13. told that fd 2 was the client's connection (startup_fds does
	 * so): never a line on stderr, even when POSTERN_LOG asks for it;
	 * told otherwise, the same call writes there again */
	setenv("POSTERN_LOG", "stderr", 1);
	log_set_stderr_is_client(1);
	log_open("c");
	log_msg(LOG_WARNING, "not for the client");
	read_err(errfd, &off, line, sizeof line);
	CHECK_STR(line, "");
	while (!no_entry())             /* it may have gone to the journal */
		(void)recv(jfd, buf, sizeof buf, 0);
	log_set_stderr_is_client(0);
	log_open("c");
	log_msg(LOG_WARNING, "on stderr");
	read_err(errfd, &off, line, sizeof line);
	snprintf(v, sizeof v, "<4>c[%s]: on stderr\n", pidtxt);
	CHECK_STR(line, v);
	unsetenv("POSTERN_LOG");

	dup2(saved_err, 2);
	close(jfd);
	snprintf(line, sizeof line, "%s/journal.sock", dir);
	unlink(line);
	snprintf(line, sizeof line, "%s/stderr", dir);
	unlink(line);
	rmdir(dir);
	return TEST_SUMMARY();
}
