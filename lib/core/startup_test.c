/* startup_test.c - unit tests of startup.c: fd normalisation (xinetd-like
 * stderr on the socket, closed fds, fd 3 with LISTEN_FDS), the peer from
 * socketpairs, TCP over 127.0.0.1, [::1] and v4-mapped, the environment
 * for pipes, CIDR matching, host name; and a real run under
 * systemd-socket-activate (fd-3 and --inetd modes), where this binary
 * re-executes itself as the probe ("startup_test probe"). */
#include "startup.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define ACTIVATE "/usr/bin/systemd-socket-activate"

/* The probe: what a handler does, reported on the connection. */
static int probe(void)
{
	struct peer p;
	struct stat st;
	int null2;

	if (startup_fds() < 0)
		return 1;
	peer_get(&p);
	null2 = fstat(2, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
	dprintf(1, "addr=%s tcp=%d sock=%d loop=%d pipe=%d local=%s:%u client2=%d null2=%d fd3=%d env=%s\n",
		p.addr, p.is_tcp, p.is_socket, p.is_loopback, p.is_pipe,
		p.local_addr, p.local_port, startup_stderr_was_client(), null2,
		fcntl(3, F_GETFD) >= 0, getenv("LISTEN_FDS") ? "set" : "unset");
	return 0;
}

/* peer_get() with fd as fd 0 (restored afterwards). */
static void peer_of(int fd, struct peer *p)
{
	int saved = dup(0);

	dup2(fd, 0);
	peer_get(p);
	dup2(saved, 0);
	close(saved);
}

static void test_cidr(void)
{
	int bad = -1;

	CHECK(cidr_match("192.0.2.1", "192.0.2.0/24", &bad) == 1 && bad == 0);
	CHECK(cidr_match("192.0.3.1", "192.0.2.0/24", &bad) == 0 && bad == 0);
	CHECK(cidr_match("10.1.2.3", "0.0.0.0/0", &bad) == 1 && bad == 0);
	CHECK(cidr_match("127.0.0.1", "127.0.0.1", NULL) == 1);
	CHECK(cidr_match("127.0.0.1", "127.0.0.1/32", NULL) == 1);
	CHECK(cidr_match("127.0.0.2", "127.0.0.1/32", NULL) == 0);
	CHECK(cidr_match("192.0.2.200", "192.0.2.128/25", NULL) == 1);
	CHECK(cidr_match("192.0.2.127", "192.0.2.128/25", NULL) == 0);
	CHECK(cidr_match("192.0.2.9", "192.0.2.1/24", NULL) == 1);	/* host bits ignored */
	CHECK(cidr_match("2001:db8::1", "2001:db8::/32", &bad) == 1 && bad == 0);
	CHECK(cidr_match("2001:db9::1", "2001:db8::/32", NULL) == 0);
	CHECK(cidr_match("2001:db8::1", "2001:db8::1/128", NULL) == 1);
	CHECK(cidr_match("2001:db8::2", "2001:db8::1/128", NULL) == 0);
	CHECK(cidr_match("::1", "::/0", NULL) == 1);
	CHECK(cidr_match("::1", "0.0.0.0/0", NULL) == 0);		/* families apart */
	CHECK(cidr_match("10.0.0.1", "::/0", NULL) == 0);
	CHECK(cidr_match("::ffff:192.0.2.5", "192.0.2.0/24", NULL) == 1);	/* v4-mapped */
	CHECK(cidr_match("::ffff:192.0.2.5", "::ffff:192.0.2.0/120", NULL) == 1);
	CHECK(cidr_match("192.0.2.5", "10.0.0.0/8, 192.0.2.5 ,::1", &bad) == 1 && bad == 0);
	/* bad entries never match and are reported; good ones still work */
	CHECK(cidr_match("192.0.2.5", "192.0.2.0/33", &bad) == 0 && bad == 1);
	CHECK(cidr_match("2001:db8::1", "2001:db8::/129", &bad) == 0 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "garbage,192.0.2.5", &bad) == 1 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "192.0.2.0/", &bad) == 0 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "192.0.2.0/+24", &bad) == 0 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "192.0.2.0/024", &bad) == 0 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "192.0.2.0/24x", &bad) == 0 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "192.0.2.5,", &bad) == 1 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "192.0.2", &bad) == 0 && bad == 1);
	CHECK(cidr_match("192.0.2.5", "", &bad) == 0 && bad == 0);
	CHECK(cidr_match("local", "0.0.0.0/0,::/0", &bad) == 0 && bad == 0);
	CHECK(cidr_match("300.1.1.1", "0.0.0.0/0", NULL) == 0);
	CHECK(cidr_match(NULL, "0.0.0.0/0", NULL) == 0);
	CHECK(cidr_match("192.0.2.5", NULL, &bad) == 0 && bad == 0);
}

static void test_hostname(void)
{
	char h[256], small[4];

	startup_hostname(h, sizeof h);
	CHECK(h[0] != '\0' && strchr(h, ' ') == NULL);
	startup_hostname(small, sizeof small);
	CHECK(strlen(small) < sizeof small);
}

static void test_env_peer(void)
{
	int pfd[2];
	struct peer p;

	CHECK(pipe(pfd) == 0);
	unsetenv("TCPREMOTEIP");
	unsetenv("REMOTE_ADDR");
	unsetenv("REMOTE_HOST");
	peer_of(pfd[0], &p);
	CHECK_STR(p.addr, "local");
	CHECK(p.is_pipe && !p.is_socket && !p.is_tcp && p.is_loopback);

	setenv("TCPREMOTEIP", "192.0.2.7", 1);
	setenv("TCPREMOTEPORT", "4242", 1);
	setenv("TCPLOCALIP", "192.0.2.1", 1);
	setenv("TCPLOCALPORT", "110", 1);
	setenv("REMOTE_ADDR", "198.51.100.1", 1);
	peer_of(pfd[0], &p);
	CHECK_STR(p.addr, "192.0.2.7");
	CHECK(p.port == 4242 && !p.is_loopback && p.is_pipe);
	CHECK_STR(p.local_addr, "192.0.2.1");
	CHECK(p.local_port == 110);

	setenv("TCPREMOTEIP", "not an address; rm -rf /", 1);	/* falls through */
	setenv("REMOTE_PORT", "99999", 1);			/* out of range */
	peer_of(pfd[0], &p);
	CHECK_STR(p.addr, "198.51.100.1");
	CHECK(p.port == 0);
	unsetenv("TCPREMOTEIP");
	unsetenv("REMOTE_ADDR");

	setenv("REMOTE_HOST", "::ffff:127.0.0.1", 1);
	peer_of(pfd[0], &p);
	CHECK_STR(p.addr, "127.0.0.1");
	CHECK(p.is_loopback);
	setenv("REMOTE_HOST", "2001:DB8::0:1", 1);
	peer_of(pfd[0], &p);
	CHECK_STR(p.addr, "2001:db8::1");
	CHECK(!p.is_loopback);
	setenv("REMOTE_HOST", "mail.example.org", 1);	/* names are not used */
	peer_of(pfd[0], &p);
	CHECK_STR(p.addr, "local");
	unsetenv("REMOTE_HOST");
	unsetenv("TCPREMOTEPORT");
	unsetenv("REMOTE_PORT");
	unsetenv("TCPLOCALIP");
	unsetenv("TCPLOCALPORT");
	close(pfd[0]);
	close(pfd[1]);
}

static void test_socketpair_peer(void)
{
	int sv[2];
	struct peer p;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setenv("TCPREMOTEIP", "192.0.2.7", 1);	/* ignored: fd 0 is a socket */
	peer_of(sv[0], &p);
	CHECK_STR(p.addr, "local");
	CHECK(p.is_socket && !p.is_tcp && !p.is_pipe && p.is_loopback);
	unsetenv("TCPREMOTEIP");
	close(sv[0]);
	close(sv[1]);
}

/* A TCP connection from client_family/client_addr to a listener of
 * family/addr; peer_get() on the accepted end. Returns -1 if it could
 * not be set up (no IPv6). */
static int tcp_peer(int family, const char *addr, int v6only_off,
		    int cfamily, const char *caddr, struct peer *p,
		    unsigned *cport_r, unsigned *lport_r)
{
	struct sockaddr_storage ss, cs;
	socklen_t len;
	int l = -1, c = -1, a = -1, rc = -1, one = 1, zero = 0;

	memset(&ss, 0, sizeof ss);
	memset(&cs, 0, sizeof cs);
	l = socket(family, SOCK_STREAM, 0);
	if (l < 0)
		goto out;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		if (v6only_off)
			setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			goto out;
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof *s4;
	}
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 1) < 0)
		goto out;
	len = sizeof ss;
	getsockname(l, (struct sockaddr *)&ss, &len);
	*lport_r = ntohs(((struct sockaddr_in *)&ss)->sin_port);	/* same offset in v6 */
	c = socket(cfamily, SOCK_STREAM, 0);
	if (c < 0)
		goto out;
	if (cfamily == AF_INET6) {
		struct sockaddr_in6 *c6 = (struct sockaddr_in6 *)&cs;
		c6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, caddr, &c6->sin6_addr);
		c6->sin6_port = htons((unsigned short)*lport_r);
		len = sizeof *c6;
	} else {
		struct sockaddr_in *c4 = (struct sockaddr_in *)&cs;
		c4->sin_family = AF_INET;
		inet_pton(AF_INET, caddr, &c4->sin_addr);
		c4->sin_port = htons((unsigned short)*lport_r);
		len = sizeof *c4;
	}
	if (connect(c, (struct sockaddr *)&cs, len) < 0)
		goto out;
	len = sizeof cs;
	getsockname(c, (struct sockaddr *)&cs, &len);
	*cport_r = ntohs(((struct sockaddr_in *)&cs)->sin_port);
	a = accept(l, NULL, NULL);
	if (a < 0)
		goto out;
	peer_of(a, p);
	rc = 0;
out:
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return rc;
}

static void test_tcp_peers(void)
{
	struct peer p;
	unsigned cport = 0, lport = 0;

	CHECK(tcp_peer(AF_INET, "127.0.0.1", 0, AF_INET, "127.0.0.1", &p, &cport, &lport) == 0);
	CHECK_STR(p.addr, "127.0.0.1");
	CHECK(p.port == cport && p.is_tcp && p.is_socket && p.is_loopback && !p.is_pipe);
	CHECK_STR(p.local_addr, "127.0.0.1");
	CHECK(p.local_port == lport);

	if (tcp_peer(AF_INET6, "::1", 0, AF_INET6, "::1", &p, &cport, &lport) == 0) {
		CHECK_STR(p.addr, "::1");
		CHECK(p.port == cport && p.is_tcp && p.is_loopback);
		CHECK_STR(p.local_addr, "::1");
	} else {
		printf("SKIP: [::1]: no IPv6 loopback here\n");
	}

	/* v4 client to a dual-stack listener on ::ffff:127.0.0.1 */
	if (tcp_peer(AF_INET6, "::ffff:127.0.0.1", 1, AF_INET, "127.0.0.1", &p, &cport, &lport) == 0) {
		CHECK_STR(p.addr, "127.0.0.1");
		CHECK(p.port == cport && p.is_tcp && p.is_loopback);
		CHECK_STR(p.local_addr, "127.0.0.1");
		CHECK(p.local_port == lport);
	} else {
		printf("SKIP: [::ffff:127.0.0.1]: no dual-stack sockets here\n");
	}
}

/* Runs fn in a child; the child's result comes back as its exit code. */
static int in_child(int (*fn)(int), int arg)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int is_devnull(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

/* xinetd: the socket on fds 0, 1 and 2. Exit code: bit flags of failures. */
static int child_xinetd(int fd)
{
	int r = 0;
	struct peer p;

	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	if (startup_fds() != 0) r |= 1;
	if (!startup_stderr_was_client()) r |= 2;
	if (!is_devnull(2)) r |= 4;
	peer_get(&p);
	if (!p.is_socket || strcmp(p.addr, "local") != 0) r |= 8;
	if (write(1, "ok", 2) != 2) r |= 16;	/* fd 1 still the socket */
	return r;
}

/* stderr a different socket (the journal stream): kept. */
static int child_stderr_other(int fd)
{
	int sv[2], r = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 100;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(sv[0], 2);
	if (startup_fds() != 0) r |= 1;
	if (startup_stderr_was_client()) r |= 2;
	if (is_devnull(2)) r |= 4;
	return r;
}

/* fds 0-2 closed: made valid. */
static int child_closed(int fd)
{
	int r = 0;

	(void)fd;
	close(0);
	close(1);
	close(2);
	if (startup_fds() != 0) r |= 1;
	for (int i = 0; i <= 2; i++)
		if (!is_devnull(i)) r |= 2;
	return r;
}

/* LISTEN_FDS/LISTEN_PID for us: fd 3 moved to 0/1, env cleared. */
static int child_listen(int fd)
{
	char pid[32];
	int r = 0, null = open("/dev/null", O_RDWR);
	struct stat s0, s3;

	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	dup2(fd, 3);
	fstat(3, &s3);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "pop3", 1);
	if (startup_fds() != 0) r |= 1;
	if (fstat(0, &s0) < 0 || s0.st_ino != s3.st_ino) r |= 2;
	if (fstat(1, &s0) < 0 || s0.st_ino != s3.st_ino) r |= 4;
	if (fcntl(3, F_GETFD) >= 0) r |= 8;
	if (getenv("LISTEN_FDS") || getenv("LISTEN_PID") || getenv("LISTEN_FDNAMES")) r |= 16;
	if (startup_stderr_was_client()) r |= 32;
	return r;
}

/* LISTEN_PID of another process: fd 3 left alone, env cleared. */
static int child_listen_other(int fd)
{
	int r = 0, null = open("/dev/null", O_RDWR);

	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	dup2(fd, 3);
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	if (startup_fds() != 0) r |= 1;
	if (!is_devnull(0)) r |= 2;
	if (fcntl(3, F_GETFD) < 0) r |= 4;
	if (getenv("LISTEN_FDS")) r |= 8;
	return r;
}

/* LISTEN_FDS=1 but fd 3 is a listening socket (Accept=no): refused. */
static int child_listen_listening(int fd)
{
	char pid[32];
	int null = open("/dev/null", O_RDWR), l;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	(void)fd;
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1) < 0)
		return 100;
	dup2(l, 3);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	return startup_fds() == -1 ? 0 : 1;
}

/* As root: switch to nobody and verify there is no way back. */
static int child_drop(int fd)
{
	const char *err = NULL;

	(void)fd;
	if (startup_drop_user("nobody", &err) != 0)
		return 1;
	if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0)
		return 2;
	{	/* root's supplementary groups are gone: only nobody's own */
		gid_t g[64];
		int i, n = getgroups(64, g);

		if (n < 1)
			return 3;
		for (i = 0; i < n; i++)
			if (g[i] == 0)
				return 4;
	}
	return 0;
}

static void test_drop(void)
{
	const char *err = NULL;

	CHECK(startup_drop_user(NULL, &err) == 0);
	CHECK(startup_drop_user("no-such-user-postern", &err) == -1 && err);
	if (geteuid() == 0)
		CHECK(in_child(child_drop, -1) == 0);
	else
		printf("SKIP: startup_drop_user: not root\n");
}

/* /etc/group lines of any length: a >4 KiB line before the wanted
 * group does not end the scan (issue 16) */
static void test_groups(void)
{
	char path[256], members[9000];
	const char *err = NULL;
	gid_t g[8];
	FILE *f;
	int n, i, has[5] = { 0 };

	snprintf(path, sizeof path, "tests/tmp/startup_groups.%ld",
	    (long)getpid());
	for (i = 0; i < 8990; i++)
		members[i] = i % 10 == 9 ? ',' : 'a' + i % 10;
	members[8990] = '\0';
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fprintf(f, "root:x:0:\n");
	fprintf(f, "big:x:100:%s\n", members);          /* 9 KiB */
	fprintf(f, "mail:x:8:svc\n");
	fprintf(f, "bad:x:notanumber:svc\n");           /* skipped */
	fprintf(f, "short:x\n");                         /* skipped */
	fprintf(f, "+svc::::\n");                        /* NIS: skipped */
	fprintf(f, "near:x:101:svcx,xsvc,sv\n");         /* not members */
	fprintf(f, "bigafter:x:102:%s,svc\n", members);  /* member, long */
	fprintf(f, "own:x:500:svc\n");                   /* the primary */
	fprintf(f, "dup:x:8:svc\n");                     /* gid 8 again */
	fprintf(f, "last:x:103:a,svc");                  /* no newline */
	fclose(f);
	n = startup_group_list(path, "svc", 500, g, 8, &err);
	CHECK(n == 4);
	for (i = 0; i < n && i < 8; i++) {
		has[0] += g[i] == 500;
		has[1] += g[i] == 8;
		has[2] += g[i] == 102;
		has[3] += g[i] == 103;
		has[4] += g[i] == 100 || g[i] == 101 || g[i] == 0;
	}
	CHECK(n > 0 && g[0] == 500);
	CHECK(has[0] == 1 && has[1] == 1 && has[2] == 1 && has[3] == 1);
	CHECK(has[4] == 0);
	/* more groups than room: an error, not a silent cut */
	err = NULL;
	CHECK(startup_group_list(path, "svc", 500, g, 3, &err) == -1 && err);
	/* no file: the primary group alone */
	CHECK(startup_group_list("/nonexistent/group", "svc", 7, g, 8, &err)
	    == 1 && g[0] == 7);
	unlink(path);
}

static void test_fds(void)
{
	int sv[2];
	char buf[8];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(in_child(child_xinetd, sv[1]) == 0);
	CHECK(read(sv[0], buf, 2) == 2 && memcmp(buf, "ok", 2) == 0);
	CHECK(in_child(child_stderr_other, sv[1]) == 0);
	CHECK(in_child(child_closed, -1) == 0);
	CHECK(in_child(child_listen, sv[1]) == 0);
	CHECK(in_child(child_listen_other, sv[1]) == 0);
	CHECK(in_child(child_listen_listening, -1) == 0);
	close(sv[0]);
	close(sv[1]);
}

static unsigned free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(s, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

/* Connects to 127.0.0.1:port (retrying up to ~5 s while the activator
 * starts) and reads the probe's line. Returns its length or -1. */
static int probe_line(unsigned port, char *buf, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	size_t got = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	for (int i = 0; i < 100; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			return -1;
		if (connect(c, (struct sockaddr *)&sa, sizeof sa) == 0) {
			struct pollfd pfd = { .fd = c, .events = POLLIN };
			while (got < size - 1 && poll(&pfd, 1, 5000) == 1) {
				ssize_t n = read(c, buf + got, size - 1 - got);
				if (n <= 0)
					break;
				got += (size_t)n;
			}
			close(c);
			buf[got] = '\0';
			return (int)got;
		}
		close(c);
		usleep(50000);
	}
	return -1;
}

static void test_activate(const char *self, int inetd)
{
	char portarg[64], line[512];
	unsigned port = free_port();
	pid_t pid;
	int st;

	snprintf(portarg, sizeof portarg, "127.0.0.1:%u", port);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		if (inetd)
			execl(ACTIVATE, ACTIVATE, "-l", portarg, "-a", "--inetd",
			      self, "probe", (char *)NULL);
		else
			execl(ACTIVATE, ACTIVATE, "-l", portarg, "-a",
			      self, "probe", (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	CHECK(probe_line(port, line, sizeof line) > 0);
	printf("probe (%s): %s", inetd ? "--inetd" : "fd 3", line);
	CHECK(strncmp(line, "addr=127.0.0.1 tcp=1 sock=1 loop=1 pipe=0 local=127.0.0.1:", 58) == 0);
	CHECK(strstr(line, " client2=0 ") != NULL);
	CHECK(strstr(line, " fd3=0 env=unset\n") != NULL);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

int main(int argc, char **argv)
{
	char self[4096];
	ssize_t n;

	if (argc == 2 && strcmp(argv[1], "probe") == 0)
		return probe();

	test_cidr();
	test_hostname();
	test_env_peer();
	test_socketpair_peer();
	test_tcp_peers();
	test_fds();
	test_groups();
	test_drop();

	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0 && access(ACTIVATE, X_OK) == 0) {
		self[n] = '\0';
		test_activate(self, 0);
		test_activate(self, 1);
	} else {
		printf("SKIP: systemd-socket-activate: not installed\n");
	}
	return TEST_SUMMARY();
}
