/* io_test.c - unit tests of io.c, fdio.c and clock.c over real pipes,
 * socketpairs and a loopback TCP connection. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "test.h"
#include "util.h"

static struct io io;   /* 32 KiB: not on the stack */

static void
put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, s, n);
		if (r <= 0)
			_exit(3);
		s += r;
		n -= (size_t)r;
	}
}

static void
puts_fd(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

static void
test_lines(void)
{
	int sv[2], flags, n;
	char buf[64];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 5, 0);

	/* CRLF, bare LF, a line split across reads */
	puts_fd(sv[1], "abc\r\ndef\nghi");
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 3);
	CHECK_STR(buf, "abc");
	CHECK(flags == 0);
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 3);
	CHECK_STR(buf, "def");
	CHECK(flags == IO_LINE_BARELF);
	CHECK(io_pending(&io) == 3);
	puts_fd(sv[1], "jkl\r\n");
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 6);
	CHECK_STR(buf, "ghijkl");

	/* a lone CR is data; CR only stripped right before LF */
	puts_fd(sv[1], "a\rb\r\n\r\n");
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 3);
	CHECK(memcmp(buf, "a\rb", 4) == 0);
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 0);
	CHECK(flags == 0);

	/* NUL byte */
	put(sv[1], "a\0b\r\n", 5);
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 3);
	CHECK(flags & IO_LINE_NUL);

	/* exact fit: size-1 bytes of content */
	puts_fd(sv[1], "1234567\r\n12345678\r\nok\n");
	n = io_getline(&io, buf, 8, &flags);
	CHECK(n == 7);
	CHECK_STR(buf, "1234567");
	n = io_getline(&io, buf, 8, &flags);
	CHECK(n == IO_TOOLONG);
	n = io_getline(&io, buf, 8, &flags);
	CHECK(n == 2);
	CHECK_STR(buf, "ok");

	/* a pipelined session in one write, then the STARTTLS rule */
	puts_fd(sv[1], "USER a\r\nPASS b\r\nSTLS\r\nINJECT\r\nX");
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 6);
	CHECK_STR(buf, "USER a");
	CHECK(io_pending(&io) == 8 + 6 + 8 + 1);
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 6);
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 4);
	CHECK_STR(buf, "STLS");
	CHECK(io_pending(&io) == 9);
	CHECK(io_discard_pending(&io) == 9);
	CHECK(io_pending(&io) == 0);

	/* raw reads take buffered bytes first */
	puts_fd(sv[1], "line\r\nRAWDATA");
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 4);
	CHECK(io_read(&io, buf, 3) == 3);
	CHECK(memcmp(buf, "RAW", 3) == 0);
	CHECK(io_read(&io, buf, sizeof buf) == 4);
	CHECK(memcmp(buf, "DATA", 4) == 0);

	/* EOF with a partial line */
	puts_fd(sv[1], "partial");
	close(sv[1]);
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == IO_EOF);
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == IO_EOF);
	CHECK(io_read(&io, buf, sizeof buf) == 0);
	CHECK(io.bytes_in > 0);
	close(sv[0]);
}

/* Lines longer than the whole input buffer, written by a child in
 * pieces, on two pipes (rfd != wfd). */
static void
test_long_lines_pipes(void)
{
	int in[2], out[2], n, flags;
	char buf[512];
	static char big[100000];
	pid_t pid;

	CHECK(pipe(in) == 0 && pipe(out) == 0);
	memset(big, 'x', sizeof big);
	pid = fork();
	if (pid == 0) {
		close(in[0]);
		close(out[1]);
		put(in[1], big, 40000);
		put(in[1], "\r\nnext\r\n", 8);
		put(in[1], big, 600);    /* longer than 511, less than buffer */
		put(in[1], "\nlast", 5);
		usleep(100000);
		put(in[1], "\r", 1);
		usleep(100000);
		put(in[1], "\n", 1);
		/* wait for the reply before closing */
		n = (int)read(out[0], buf, sizeof buf);
		_exit(n == 5 && memcmp(buf, "+OK\r\n", 5) == 0 ? 0 : 1);
	}
	close(in[1]);
	close(out[0]);
	io_init(&io, in[0], out[1]);
	io_set_timeouts(&io, 5, 0);
	CHECK(io_getline(&io, buf, sizeof buf, &flags) == IO_TOOLONG);
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 4);
	CHECK_STR(buf, "next");
	CHECK(io_getline(&io, buf, sizeof buf, &flags) == IO_TOOLONG);
	n = io_getline(&io, buf, sizeof buf, &flags);
	CHECK(n == 4);
	CHECK_STR(buf, "last");
	CHECK(flags == 0);
	io_puts(&io, "+OK\r\n");
	CHECK(io_flush(&io) == 0);
	waitpid(pid, &n, 0);
	CHECK(WIFEXITED(n) && WEXITSTATUS(n) == 0);
	close(in[0]);
	close(out[1]);
}

/* Replies are flushed before the reader blocks: the child answers only
 * after it saw our reply. */
static void
test_flush_before_read(void)
{
	int sv[2], st;
	char buf[64];
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	if (pid == 0) {
		ssize_t r;
		size_t got = 0;
		close(sv[0]);
		while (got < 10) {
			r = read(sv[1], buf + got, sizeof buf - got);
			if (r <= 0)
				_exit(1);
			got += (size_t)r;
		}
		if (memcmp(buf, "+OK a\r\n+OK", 10) != 0)
			_exit(2);
		puts_fd(sv[1], "QUIT\r\n");
		_exit(0);
	}
	close(sv[1]);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 5, 0);
	io_puts(&io, "+OK a\r\n");
	io_printf(&io, "+OK %d\r\n", 42);
	CHECK(io.out_len == 15);
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 4);
	CHECK_STR(buf, "QUIT");
	CHECK(io.bytes_out == 15);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[0]);
}

/* io_peek/io_consume: bytes are shown, not consumed; what is left
 * after io_consume is still there for io_getline; the peek flushes
 * replies before it waits; EOF and a timeout. */
static void
test_peek_consume(void)
{
	int sv[2], st;
	const unsigned char *p = NULL;
	char buf[64];
	long n;
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	if (pid == 0) {
		ssize_t r;
		size_t got = 0;
		close(sv[0]);
		while (got < 5) {
			r = read(sv[1], buf + got, sizeof buf - got);
			if (r <= 0)
				_exit(1);
			got += (size_t)r;
		}
		if (memcmp(buf, "354\r\n", 5) != 0)
			_exit(2);
		puts_fd(sv[1], "body\r\n.\r\nQUIT\r\n");
		_exit(0);
	}
	close(sv[1]);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 5, 0);
	io_puts(&io, "354\r\n");
	n = io_peek(&io, &p);               /* flushes the 354, then waits */
	CHECK(io.bytes_out == 5);
	/* one small write on a unix socket arrives as one read */
	CHECK(n == 15 && memcmp(p, "body\r\n.\r\nQUIT\r\n", 15) == 0);
	CHECK(io_peek(&io, &p) == 15);     /* peeking again consumes nothing */
	io_consume(&io, 9);                /* the data, up to the dot line */
	CHECK(io_pending(&io) == 6);
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 4);
	CHECK_STR(buf, "QUIT");
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(io_peek(&io, &p) == 0);       /* EOF: the child is gone */
	close(sv[0]);

	/* consume in pieces, peek again in between; over-consume is capped */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 1, 0);
	puts_fd(sv[1], "abcdef");
	CHECK(io_peek(&io, &p) == 6);
	CHECK(memcmp(p, "abcdef", 6) == 0);
	CHECK(io_peek(&io, &p) == 6);
	io_consume(&io, 2);
	CHECK(io_peek(&io, &p) == 4);
	CHECK(memcmp(p, "cdef", 4) == 0);
	io_consume(&io, 100);
	CHECK(io_pending(&io) == 0);
	CHECK(io.in_off == 0 && io.in_len == 0);
	CHECK(io_peek(&io, &p) == IO_TIMEOUT);   /* silent peer, 1 s */
	close(sv[1]);
	close(sv[0]);
}

/* io_set_inbuf: buffered bytes move to the larger buffer, reads then go
 * there in one piece larger than IO_INBUF; a smaller buffer is ignored. */
static void
test_set_inbuf(void)
{
	static unsigned char big[4 * IO_INBUF];
	static char data[3 * IO_INBUF];
	unsigned char small[16];
	const unsigned char *p = NULL;
	char buf[64];
	int sv[2];
	long n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 1, 0);
	puts_fd(sv[1], "LINE\r\nrest");
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == 4);
	io_set_inbuf(&io, small, sizeof small);     /* not larger: ignored */
	CHECK(io.inp == io.in);
	io_set_inbuf(&io, big, sizeof big);
	CHECK(io.inp == big && io.in_cap == sizeof big);
	CHECK(io_pending(&io) == 4);
	CHECK(io_peek(&io, &p) == 4 && p == big && memcmp(p, "rest", 4) == 0);
	io_consume(&io, 4);
	memset(data, 'x', sizeof data);
	put(sv[1], data, sizeof data);
	n = io_peek(&io, &p);
	/* one unix-socket read larger than the built-in buffer */
	CHECK(n > (long)IO_INBUF && p == big);
	io_init(&io, sv[0], sv[0]);                 /* undoes it */
	CHECK(io.inp == io.in && io.in_cap == IO_INBUF);
	close(sv[1]);
	close(sv[0]);
}

/* Idle timeout with a silent peer, and a peer trickling bytes. */
static void
test_timeouts(void)
{
	int sv[2], st;
	char buf[64];
	int64_t t0, dt;
	pid_t pid;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 1, 0);
	t0 = clock_ms();
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == IO_TIMEOUT);
	dt = clock_ms() - t0;
	CHECK(dt >= 950 && dt < 2000);

	/* trickle: one byte every 200 ms, never a line end */
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (int i = 0; i < 20; i++) {
			if (write(sv[1], "x", 1) != 1)
				_exit(0);
			usleep(200000);
		}
		_exit(0);
	}
	close(sv[1]);
	t0 = clock_ms();
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == IO_TIMEOUT);
	dt = clock_ms() - t0;
	CHECK(dt >= 950 && dt < 2000);
	close(sv[0]);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);

	/* session deadline beats the idle limit */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 10, 1);
	t0 = clock_ms();
	CHECK(io_getline(&io, buf, sizeof buf, NULL) == IO_TIMEOUT);
	dt = clock_ms() - t0;
	CHECK(dt >= 950 && dt < 2000);
	close(sv[0]);
	close(sv[1]);

	/* clock helpers */
	CHECK(deadline_min(0, 5) == 5);
	CHECK(deadline_min(7, 0) == 7);
	CHECK(deadline_min(7, 5) == 5);
	CHECK(deadline_in(0) == 0);
	CHECK(deadline_in(1) >= clock_ms() + 990);
}

/* A peer that never reads cannot block a writer past the idle limit:
 * over a socketpair and over a pipe. */
static void
test_write_deadline(void)
{
	static char big[1 << 20];
	int sv[2], p[2], rc = 0, i;
	int64_t t0, dt;

	memset(big, 'y', sizeof big);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 1, 0);
	t0 = clock_ms();
	for (i = 0; i < 64 && rc == 0; i++)
		rc = io_write(&io, big, sizeof big);
	dt = clock_ms() - t0;
	CHECK(rc == -1);
	CHECK(io.failed);
	CHECK(dt >= 950 && dt < 2500);
	CHECK(io_puts(&io, "more") == -1);
	CHECK(io_flush(&io) == -1);
	close(sv[0]);
	close(sv[1]);

	CHECK(pipe(p) == 0);
	io_init(&io, p[0], p[1]);
	io_set_timeouts(&io, 1, 0);
	t0 = clock_ms();
	rc = 0;
	for (i = 0; i < 64 && rc == 0; i++)
		rc = io_write(&io, big, sizeof big);
	dt = clock_ms() - t0;
	CHECK(rc == -1);
	CHECK(dt >= 950 && dt < 2500);
	close(p[0]);
	close(p[1]);
}

/* 10 MiB through io_write straight to the socket; the child counts. */
static void
test_big_write(void)
{
	static char big[10 << 20];
	int sv[2], st;
	int64_t t0, dt;
	pid_t pid;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	if (pid == 0) {
		static char rb[1 << 18];
		size_t total = 0, pos = 0;
		ssize_t r;
		int ok = 1;
		close(sv[0]);
		while ((r = read(sv[1], rb, sizeof rb)) > 0) {
			for (ssize_t j = 0; j < r; j += 4093) {
				pos = total + (size_t)j;
				if (pos < sizeof big &&
				    rb[j] != (char)('a' + pos % 26))
					ok = 0;
			}
			total += (size_t)r;
		}
		_exit(ok && total == sizeof big + 6 ? 0 : 1);
	}
	close(sv[1]);
	io_init(&io, sv[0], sv[0]);
	io_set_timeouts(&io, 5, 0);
	t0 = clock_ms();
	CHECK(io_write(&io, big, 3) == 0);
	CHECK(io_write(&io, big + 3, sizeof big - 3) == 0);
	CHECK(io.out_len == 0);
	CHECK(io_puts(&io, "\r\n.\r\n\n") == 0);
	CHECK(io_flush(&io) == 0);
	dt = clock_ms() - t0;
	close(sv[0]);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(io.bytes_out == sizeof big + 6);
	printf("# 10 MiB over a socketpair in %lld ms\n", (long long)dt);
}

static void
test_nodelay(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int l, c, s, v = 0;

	l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	len = sizeof v;
	getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	CHECK(v == 0);
	io_init(&io, s, s);
	len = sizeof v;
	getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	CHECK(v == 1);
	close(c);
	close(s);
	close(l);
}

static void
test_printf_long(void)
{
	int sv[2];
	char big[3000], rb[64];
	ssize_t r;
	size_t total = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	io_init(&io, sv[0], sv[0]);
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (int i = 0; i < 6; i++)
		CHECK(io_printf(&io, "%s\r\n", big) == 0);
	CHECK(io_flush(&io) == 0);
	close(sv[0]);
	while ((r = read(sv[1], rb, sizeof rb)) > 0)
		total += (size_t)r;
	CHECK(total == 6 * (sizeof big + 1));
	close(sv[1]);
}

/* 1 when needle occurs anywhere in p[0..n) */
static int
has(const void *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle)) != NULL;
}

/* issue 16 item 4: after io_wipe_consumed no byte of a consumed secret
 * line is left in the io struct (nor in a buffer given to io_set_inbuf),
 * while input not yet consumed is kept. */
static void
test_wipe_consumed(void)
{
	static unsigned char bulk[4 * IO_INBUF];
	int p[2];
	char line[256];

	CHECK(pipe(p) == 0);
	io_init(&io, p[0], p[1]);
	io_set_timeouts(&io, 5, 0);
	puts_fd(p[1], "USER alice\r\nPASS hunter2-first\r\nSTAT\r\nLIST 1");
	CHECK(io_getline(&io, line, sizeof line, NULL) == 10);
	CHECK(io_getline(&io, line, sizeof line, NULL) == 18);
	CHECK_STR(line, "PASS hunter2-first");
	explicit_bzero(line, sizeof line);
	CHECK(has(&io, sizeof io, "hunter2-first"));    /* the test can fail */
	io_wipe_consumed(&io);
	CHECK(!has(&io, sizeof io, "hunter2-first"));
	CHECK(!has(&io, sizeof io, "USER alice"));
	CHECK(io_getline(&io, line, sizeof line, NULL) == 4);
	CHECK_STR(line, "STAT");
	/* a line completed by a second read (compaction leaves copies) */
	puts_fd(p[1], "\r\nPASS hunter2-");
	CHECK(io_getline(&io, line, sizeof line, NULL) == 6);
	CHECK_STR(line, "LIST 1");
	puts_fd(p[1], "second\r\nNOOP\r\n");
	CHECK(io_getline(&io, line, sizeof line, NULL) == 19);
	CHECK(has(&io, sizeof io, "hunter2-second"));
	io_wipe_consumed(&io);
	CHECK(!has(&io, sizeof io, "hunter2-"));
	CHECK(io_getline(&io, line, sizeof line, NULL) == 4);
	CHECK_STR(line, "NOOP");
	/* with a bulk buffer: the secret is there, old bytes in in[] */
	puts_fd(p[1], "PASS hunter2-third\r\nQUIT\r\n");
	CHECK(io_getline(&io, line, sizeof line, NULL) == 18);
	io_set_inbuf(&io, bulk, sizeof bulk);
	puts_fd(p[1], "PASS hunter2-fourth\r\nRSET\r\n");
	CHECK(io_getline(&io, line, sizeof line, NULL) == 4);   /* QUIT */
	CHECK(io_getline(&io, line, sizeof line, NULL) == 19);
	CHECK(has(bulk, sizeof bulk, "hunter2-fourth"));
	CHECK(has(&io, sizeof io, "hunter2-third"));
	io_wipe_consumed(&io);
	CHECK(!has(bulk, sizeof bulk, "hunter2-"));
	CHECK(!has(&io, sizeof io, "hunter2-"));
	CHECK(io_getline(&io, line, sizeof line, NULL) == 4);
	CHECK_STR(line, "RSET");
	explicit_bzero(line, sizeof line);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_lines();
	test_long_lines_pipes();
	test_flush_before_read();
	test_peek_consume();
	test_set_inbuf();
	test_timeouts();
	test_write_deadline();
	test_big_write();
	test_nodelay();
	test_printf_long();
	test_wipe_consumed();
	return TEST_SUMMARY();
}
