/* startup.c - connection normalisation before a handler speaks: fds 0-2
 * valid, systemd's fd 3 moved to 0/1 (LISTEN_FDS/LISTEN_PID checked here,
 * no libsystemd), a stderr that is the client's socket silenced, the peer
 * learned, privileges dropped; plus CIDR matching and the host name. */
#include "startup.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define CIDR_ENTRY_MAX 64	/* longest "addr/len" we accept */
#define PWBUF_SIZE     4096

static int stderr_client;

int startup_stderr_was_client(void)
{
	return stderr_client;
}

/* Strict decimal, digits only, value <= max. Returns 0 or -1. */
static int parse_num(const char *s, size_t len, unsigned long max,
		     unsigned long *out_r)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out_r = v;
	return 0;
}

static int open_null_on(int fd)
{
	int n = open("/dev/null", O_RDWR);

	if (n < 0)
		return -1;
	if (n != fd) {
		if (dup2(n, fd) < 0) {
			close(n);
			return -1;
		}
		close(n);
	}
	return 0;
}

static int is_connected_stream(int fd)
{
	int type = 0, acc = 1;
	socklen_t l = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM)
		return 0;
	l = sizeof acc;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || acc)
		return 0;
	return 1;
}

static int same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Two distinct TCP socket objects connected to the same peer address and
 * port (a launcher that opened the connection twice). */
static int same_peer(int a, int b)
{
	struct sockaddr_storage pa, pb;
	socklen_t la = sizeof pa, lb = sizeof pb;

	if (getpeername(a, (struct sockaddr *)&pa, &la) < 0 ||
	    getpeername(b, (struct sockaddr *)&pb, &lb) < 0)
		return 0;
	if (pa.ss_family != AF_INET && pa.ss_family != AF_INET6)
		return 0;
	return la == lb && memcmp(&pa, &pb, la) == 0;
}

/* 1 if fd 2 is the client's connection (same socket as fd 0 or 1). */
static int stderr_is_client(void)
{
	struct stat st;

	if (fstat(2, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return same_file(2, 0) || same_file(2, 1) || same_peer(2, 0);
}

int startup_fds(void)
{
	const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	const char *problem = NULL, *warning = NULL;
	unsigned long n, p;

	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open_null_on(fd) < 0)
			return -1;

	if (fds) {
		int ours = pid && parse_num(pid, strlen(pid), 0xffffffffUL, &p) == 0 &&
			   (pid_t)p == getpid();
		if (!ours)
			warning = "LISTEN_FDS is set for another process (started via a shell?); ignoring fd 3";
		else if (parse_num(fds, strlen(fds), 1024, &n) < 0 || n != 1)
			problem = "LISTEN_FDS must be 1 (Accept=yes passes one connection)";
		else if (!is_connected_stream(3))
			problem = "fd 3 is not a connected stream socket (the socket unit needs Accept=yes)";
		else if (dup2(3, 0) < 0 || dup2(3, 1) < 0)
			problem = "cannot move fd 3 to fd 0/1";
		else
			close(3);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
	}

	if (stderr_is_client()) {
		stderr_client = 1;
		log_set_stderr_is_client(1);
		if (open_null_on(2) < 0)
			return -1;
	}

	if (problem || warning) {
		log_open(program_invocation_short_name);
		log_msg(problem ? LOG_ERR : LOG_WARNING, "%s", problem ? problem : warning);
	}
	return problem ? -1 : 0;
}

/* Text form of an address; v4-mapped IPv6 printed as IPv4. Sets *loop. */
static void addr_text(const struct sockaddr *sa, char *buf, size_t size,
		      unsigned *port, int *loop)
{
	*port = 0;
	*loop = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		if (!inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)size))
			goto unknown;
		*port = ntohs(s4->sin_port);
		*loop = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		*port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			struct in_addr a4;
			memcpy(&a4, &s6->sin6_addr.s6_addr[12], 4);
			if (!inet_ntop(AF_INET, &a4, buf, (socklen_t)size))
				goto unknown;
			*loop = s6->sin6_addr.s6_addr[12] == 127;
		} else {
			if (!inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)size))
				goto unknown;
			*loop = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		}
	} else if (sa->sa_family == AF_UNIX) {
		strcpy(buf, "local");
		*loop = 1;
	} else {
		goto unknown;
	}
	return;
unknown:
	strcpy(buf, "unknown");
	*port = 0;
	*loop = 0;
}

/* Parses untrusted text as an IPv4/IPv6 address into canonical text.
 * Returns 0 or -1. */
static int env_addr(const char *s, char *buf, size_t size, int *loop)
{
	struct sockaddr_storage ss;
	unsigned port;

	if (!s || !*s || strlen(s) >= 64)
		return -1;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return -1;
	addr_text((struct sockaddr *)&ss, buf, size, &port, loop);
	return 0;
}

static unsigned env_port(const char *name)
{
	const char *s = getenv(name);
	unsigned long v;

	if (!s || parse_num(s, strlen(s), 65535, &v) < 0)
		return 0;
	return (unsigned)v;
}

void peer_get(struct peer *p)
{
	static const char *const remote[][2] = {
		{ "TCPREMOTEIP", "TCPREMOTEPORT" },
		{ "REMOTE_ADDR", "REMOTE_PORT" },
		{ "REMOTE_HOST", NULL },
	};
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct stat st;
	unsigned port;
	int loop, type = 0;
	socklen_t tl = sizeof type;

	memset(p, 0, sizeof *p);
	if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode)) {
		p->is_socket = 1;
		if (getsockname(0, (struct sockaddr *)&ss, &len) == 0) {
			if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
			    getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
			    type == SOCK_STREAM)
				p->is_tcp = 1;
			if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
				addr_text((struct sockaddr *)&ss, p->local_addr,
					  sizeof p->local_addr, &port, &loop);
				p->local_port = port;
			}
		}
		len = sizeof ss;
		if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
			addr_text((struct sockaddr *)&ss, p->addr, sizeof p->addr,
				  &port, &loop);
			p->port = port;
			p->is_loopback = loop;
		} else {
			strcpy(p->addr, "unknown");
		}
		return;
	}

	p->is_pipe = 1;
	for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
		if (env_addr(getenv(remote[i][0]), p->addr, sizeof p->addr, &loop) == 0) {
			p->is_loopback = loop;
			if (remote[i][1])
				p->port = env_port(remote[i][1]);
			if (env_addr(getenv("TCPLOCALIP"), p->local_addr,
				     sizeof p->local_addr, &loop) == 0)
				p->local_port = env_port("TCPLOCALPORT");
			return;
		}
	}
	strcpy(p->addr, "local");
	p->is_loopback = 1;
}

/* The service user comes from /etc/passwd (fgetpwent_r) and its groups
 * from /etc/group (a character-at-a-time scan, so that no line is too
 * long and none ends the scan early), read directly: the handlers are
 * linked statically, and glibc's NSS (getpwnam, initgroups) would load
 * shared modules at run time. Service users are local (sysusers.d). */
#define PASSWD_FILE "/etc/passwd"
#define GROUP_FILE  "/etc/group"
#define GROUPS_MAX  64

static int passwd_find(const char *name, struct passwd *pw, char *buf,
    size_t size)
{
	struct passwd *res;
	FILE *f = fopen(PASSWD_FILE, "re");
	int found = 0;

	if (!f)
		return -1;
	while (fgetpwent_r(f, pw, buf, size, &res) == 0)
		if (strcmp(res->pw_name, name) == 0) {
			found = 1;
			break;
		}
	fclose(f);
	return found ? 0 : -1;
}

/* One /etc/group line, read a character at a time so that no line is
 * too long: name:password:gid:member,member,... Only the gid and
 * whether user is among the members are kept. */
struct group_line {
	int field;          /* 0 name, 1 password, 2 gid, 3 members */
	int bad;            /* malformed: ignore the line */
	int gid_digits;
	unsigned long gid;
	size_t pos;         /* characters of the member so far */
	int same;           /* the member so far equals user's start */
	int member;         /* user is listed */
};

static void group_line_start(struct group_line *g)
{
	memset(g, 0, sizeof *g);
	g->same = 1;
}

/* The end of one member (at ',' or the end of the line). */
static void group_member_end(struct group_line *g, size_t ulen)
{
	if (g->field == 3 && g->same && g->pos == ulen && ulen > 0)
		g->member = 1;
	g->pos = 0;
	g->same = 1;
}

static void group_char(struct group_line *g, int c, const char *user,
    size_t ulen)
{
	if (g->bad)
		return;
	if (c == ':') {
		if (g->field == 0 && g->pos == 0)
			g->bad = 1;     /* no name */
		if (g->field == 2 && !g->gid_digits)
			g->bad = 1;
		if (++g->field > 3)
			g->bad = 1;
		g->pos = 0;
		return;
	}
	switch (g->field) {
	case 0:
		if (g->pos == 0 && (c == '+' || c == '-'))
			g->bad = 1;     /* NIS compat entries */
		g->pos++;
		break;
	case 2:
		if (c < '0' || c > '9' || g->gid_digits >= 10) {
			g->bad = 1;
			break;
		}
		g->gid = g->gid * 10 + (unsigned long)(c - '0');
		g->gid_digits++;
		break;
	case 3:
		if (c == ',') {
			group_member_end(g, ulen);
			break;
		}
		if (g->pos >= ulen || user[g->pos] != c)
			g->same = 0;
		if (g->pos < ulen + 1)
			g->pos++;
		break;
	default:
		break;
	}
}

int startup_group_list(const char *group_file, const char *user, gid_t gid,
    gid_t *list, size_t max, const char **error_r)
{
	struct group_line g;
	size_t n = 0, i, ulen = strlen(user);
	FILE *f;
	int c, err;

	if (max == 0) {
		*error_r = "no room for groups";
		return -1;
	}
	list[n++] = gid;
	f = fopen(group_file, "re");
	if (!f)
		return (int)n;
	group_line_start(&g);
	for (;;) {
		c = getc_unlocked(f);
		if (c != '\n' && c != EOF) {
			group_char(&g, c, user, ulen);
			continue;
		}
		if (g.field == 3 && !g.bad) {
			group_member_end(&g, ulen);
			if (g.member && g.gid <= 0xfffffffeUL) {
				gid_t x = (gid_t)g.gid;

				for (i = 0; i < n && list[i] != x; i++)
					;
				if (i == n) {
					if (n == max) {
						fclose(f);
						*error_r = "the user is in too many "
						    "groups";
						return -1;
					}
					list[n++] = x;
				}
			}
		}
		if (c == EOF)
			break;
		group_line_start(&g);
	}
	err = ferror(f);
	fclose(f);
	if (err) {
		*error_r = "cannot read " GROUP_FILE;
		return -1;
	}
	return (int)n;
}

int startup_drop_user(const char *name, const char **error_r)
{
	struct passwd pw;
	char buf[PWBUF_SIZE];
	gid_t groups[GROUPS_MAX];
	size_t ngroups;
	int n;
	uid_t uid;
	gid_t gid;

	if (!name)
		return 0;
	if (passwd_find(name, &pw, buf, sizeof buf) < 0) {
		*error_r = "no such user in " PASSWD_FILE;
		return -1;
	}
	uid = pw.pw_uid;
	gid = pw.pw_gid;
	if (geteuid() != 0) {
		if (getuid() == uid && geteuid() == uid)
			return 0;	/* already that user */
		*error_r = "switching user needs root";
		return -1;
	}
	if (uid == 0) {
		*error_r = "refusing to run as a user with uid 0";
		return -1;
	}
	n = startup_group_list(GROUP_FILE, pw.pw_name, gid, groups,
	    GROUPS_MAX, error_r);
	if (n < 0)
		return -1;
	ngroups = (size_t)n;
	if (setgroups(ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		*error_r = "cannot switch user";
		return -1;
	}
	if (setuid(0) == 0 || getuid() != uid || geteuid() != uid ||
	    getgid() != gid || getegid() != gid) {
		*error_r = "user switch did not stick";
		return -1;
	}
	return 0;
}

int startup_refuse_root(int allow_root, const char **error_r)
{
	const char *env = getenv("POSTERN_ALLOW_ROOT");

	if (getuid() != 0 && geteuid() != 0)
		return 0;
	if (allow_root || (env && strcmp(env, "1") == 0)) {
		log_msg(LOG_DEBUG, "running as root (allowed explicitly)");
		return 0;
	}
	*error_r = "refusing to serve as root: give --user NAME (the "
	    "service user), or --allow-root if root is really wanted";
	return -1;
}

/* An address in both forms it can match: v4 (plain or v4-mapped) and v6. */
struct cidr_addr {
	unsigned char v4[4], v6[16];
	int has4, has6;
};

static int cidr_addr_parse(const char *s, struct cidr_addr *a)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, s, a->v4) == 1) {
		a->has4 = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->v6) == 1) {
		static const unsigned char mapped[12] =
			{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		a->has6 = 1;
		if (memcmp(a->v6, mapped, 12) == 0) {
			memcpy(a->v4, a->v6 + 12, 4);
			a->has4 = 1;
		}
		return 0;
	}
	return -1;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b,
			unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest) {
		unsigned char mask = (unsigned char)(0xff << (8 - rest));
		if ((a[full] & mask) != (b[full] & mask))
			return 0;
	}
	return 1;
}

/* One entry "addr" or "addr/len" (blanks around it allowed).
 * Returns 1 match, 0 no match, -1 invalid entry. */
static int cidr_entry(const char *s, size_t n, const struct cidr_addr *a,
		      int addr_ok)
{
	char buf[CIDR_ENTRY_MAX];
	unsigned char net[16];
	unsigned long bits;
	char *slash;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, net) == 1) {
		if (slash) {
			if (parse_num(slash + 1, strlen(slash + 1), 32, &bits) < 0 ||
			    (slash[1] == '0' && slash[2]))
				return -1;
		} else {
			bits = 32;
		}
		return addr_ok && a->has4 && prefix_equal(net, a->v4, (unsigned)bits);
	}
	if (inet_pton(AF_INET6, buf, net) == 1) {
		if (slash) {
			if (parse_num(slash + 1, strlen(slash + 1), 128, &bits) < 0 ||
			    (slash[1] == '0' && slash[2]))
				return -1;
		} else {
			bits = 128;
		}
		return addr_ok && a->has6 && prefix_equal(net, a->v6, (unsigned)bits);
	}
	return -1;
}

int cidr_match(const char *addr, const char *cidrs, int *bad_r)
{
	struct cidr_addr a;
	int addr_ok, matched = 0, bad = 0;
	const char *s = cidrs;

	addr_ok = addr && cidr_addr_parse(addr, &a) == 0;
	if (!cidrs || !*cidrs) {
		if (bad_r)
			*bad_r = 0;
		return 0;
	}
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		int r = cidr_entry(s, n, &a, addr_ok);
		if (r < 0)
			bad = 1;
		else if (r > 0)
			matched = 1;
		if (!comma)
			break;
		s = comma + 1;
	}
	if (bad_r)
		*bad_r = bad;
	return matched;
}

void startup_hostname(char *buf, size_t size)
{
	char name[256];
	size_t n;

	if (size == 0)
		return;
	memset(name, 0, sizeof name);
	if (gethostname(name, sizeof name - 1) < 0)
		name[0] = '\0';
	n = strlen(name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.')) {
			n = 0;
			break;
		}
	}
	if (n == 0 || n >= size || name[0] == '.' || name[0] == '-') {
		const char *fb = "localhost";
		n = strlen(fb);
		if (n >= size)
			n = size - 1;
		memcpy(buf, fb, n);
		buf[n] = '\0';
		return;
	}
	memcpy(buf, name, n + 1);
}
