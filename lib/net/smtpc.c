/* smtpc.c - the SMTP client of etrn-client and the hold-queue flusher:
 * connection set-up with deadlines, reply reading, capabilities,
 * STARTTLS/implicit TLS, AUTH PLAIN and one pipelined mail transaction
 * streamed from an LF-stored file. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "base64.h"
#include "clock.h"
#include "log.h"
#include "smtpc.h"
#include "util.h"

static void
set_reply(struct smtpc *c, int code, const char *text)
{
	c->code = code;
	copy_str_trunc(c->reply, sizeof c->reply, text);
}

void
smtpc_attach(struct smtpc *c, int rfd, int wfd, unsigned timeout)
{
	c->fd = rfd;
	c->tls_on = 0;
	c->esmtp = 0;
	c->caps = 0;
	c->size_max = 0;
	c->timeout = timeout;
	c->code = 0;
	c->reply[0] = '\0';
	io_init(&c->io, rfd, wfd);
	io_set_timeouts(&c->io, timeout, 0);
	c->io.session_deadline = c->session_deadline;
}

void
smtpc_set_session(struct smtpc *c, unsigned seconds)
{
	c->session_deadline = deadline_in(seconds);
	c->io.session_deadline = c->session_deadline;
}

/* The deadline of one wait of t seconds within the session. */
static int64_t
wait_deadline(const struct smtpc *c, unsigned t)
{
	return deadline_min(deadline_in(t), c->session_deadline);
}

/* Non-blocking connect bounded by deadline; the socket is left blocking. */
static int
connect_one(const struct addrinfo *ai, int64_t deadline)
{
	int fd, fl, err = 0;
	socklen_t len = sizeof err;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		if (fd_wait(fd, POLLOUT, deadline) != 1)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			goto fail;
		if (err) {
			errno = err;
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fl) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* The IPv4 address in a (AF_INET, or an IPv4-mapped AF_INET6), host
 * order, into *v4; 1 when there is one. */
static int
ipv4_of(const struct sockaddr *a, uint32_t *v4)
{
	if (a->sa_family == AF_INET) {
		*v4 = ntohl(((const struct sockaddr_in *)(const void *)a)->
		    sin_addr.s_addr);
		return 1;
	}
	if (a->sa_family == AF_INET6) {
		const struct in6_addr *x =
		    &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(x)) {
			*v4 = (uint32_t)x->s6_addr[12] << 24 |
			    (uint32_t)x->s6_addr[13] << 16 |
			    (uint32_t)x->s6_addr[14] << 8 | x->s6_addr[15];
			return 1;
		}
	}
	return 0;
}

static int
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	uint32_t x, y;

	if (ipv4_of(a, &x) && ipv4_of(b, &y))
		return x == y;
	if (a->sa_family == AF_INET6 && b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}

int
smtpc_addr_is_self(const struct sockaddr *a)
{
	struct ifaddrs *ifs, *i;
	uint32_t v4;
	int self = 0;

	if (ipv4_of(a, &v4)) {
		if ((v4 >> 24) == 127 || (v4 >> 24) == 0)
			return 1;
	} else if (a->sa_family == AF_INET6) {
		const struct in6_addr *x =
		    &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(x) || IN6_IS_ADDR_UNSPECIFIED(x))
			return 1;
	} else
		return 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !self; i = i->ifa_next)
		if (i->ifa_addr && same_addr(a, i->ifa_addr))
			self = 1;
	freeifaddrs(ifs);
	return self;
}

int
smtpc_connect(struct smtpc *c, const char *host, unsigned port,
    unsigned timeout, const char **error_r)
{
	return smtpc_connect_flags(c, host, port, timeout, 0, error_r);
}

int
smtpc_connect_flags(struct smtpc *c, const char *host, unsigned port,
    unsigned timeout, unsigned flags, const char **error_r)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portbuf[16], addr[INET6_ADDRSTRLEN];
	int fd = -1, rc;
	static char err[200];

	c->fd = -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portbuf, sizeof portbuf, "%u", port ? port : 25);
	rc = getaddrinfo(host, portbuf, &hints, &res);
	if (rc != 0) {
		/* AI_ADDRCONFIG hides loopback-only set-ups: retry without */
		hints.ai_flags = 0;
		rc = getaddrinfo(host, portbuf, &hints, &res);
	}
	if (rc != 0) {
		snprintf(err, sizeof err, "cannot resolve %s: %s", host,
		    gai_strerror(rc));
		*error_r = err;
		return -1;
	}
	snprintf(err, sizeof err, "no address for %s", host);
	for (ai = res; ai; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		if (!inet_ntop(ai->ai_family, a, addr, sizeof addr))
			snprintf(addr, sizeof addr, "?");
		if ((flags & SMTPC_NOT_SELF) && smtpc_addr_is_self(ai->ai_addr)) {
			snprintf(err, sizeof err, "%s resolves to %s, loopback "
			    "or an address of this host: refused (a mail loop; "
			    "check the DNS or set host=)", host, addr);
			continue;
		}
		fd = connect_one(ai, wait_deadline(c, timeout));
		if (fd >= 0)
			break;
		snprintf(err, sizeof err, "connect to %s[%s]:%s: %s", host,
		    addr, portbuf, errno == ETIMEDOUT ? "timed out" :
		    strerror(errno));
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*error_r = err;
		return -1;
	}
	smtpc_attach(c, fd, fd, timeout);
	snprintf(c->peer, sizeof c->peer, "%s[%s]:%s", host, addr, portbuf);
	return 0;
}

void
smtpc_parse_cap(const char *line, unsigned *caps, uint64_t *size_max)
{
	char kw[32];
	size_t n = 0;
	const char *p = line;

	while (*p && *p != ' ' && *p != '=' && n < sizeof kw - 1)
		kw[n++] = *p++;
	kw[n] = '\0';
	if (strcasecmp(kw, "PIPELINING") == 0)
		*caps |= SMTPC_CAP_PIPELINING;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		*caps |= SMTPC_CAP_STARTTLS;
	else if (strcasecmp(kw, "ETRN") == 0)
		*caps |= SMTPC_CAP_ETRN;
	else if (strcasecmp(kw, "ATRN") == 0)
		*caps |= SMTPC_CAP_ATRN;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		*caps |= SMTPC_CAP_8BITMIME;
	else if (strcasecmp(kw, "ENHANCEDSTATUSCODES") == 0)
		*caps |= SMTPC_CAP_ENHANCED;
	else if (strcasecmp(kw, "SMTPUTF8") == 0)
		*caps |= SMTPC_CAP_SMTPUTF8;
	else if (strcasecmp(kw, "DSN") == 0)
		*caps |= SMTPC_CAP_DSN;
	else if (strcasecmp(kw, "SIZE") == 0) {
		uint64_t v;
		*caps |= SMTPC_CAP_SIZE;
		while (*p == ' ')
			p++;
		if (*p && parse_uint(p, strlen(p), UINT64_MAX / 2, &v) == 0)
			*size_max = v;
	} else if (strcasecmp(kw, "AUTH") == 0) {
		/* "AUTH PLAIN LOGIN" or the old "AUTH=PLAIN LOGIN" */
		*caps |= SMTPC_CAP_AUTH;
		while (*p) {
			char mech[32];
			size_t m = 0;
			while (*p == ' ' || *p == '=')
				p++;
			while (*p && *p != ' ' && m < sizeof mech - 1)
				mech[m++] = *p++;
			mech[m] = '\0';
			while (*p && *p != ' ')
				p++;
			if (strcasecmp(mech, "PLAIN") == 0)
				*caps |= SMTPC_CAP_AUTH_PLAIN;
			else if (strcasecmp(mech, "LOGIN") == 0)
				*caps |= SMTPC_CAP_AUTH_LOGIN;
		}
	}
}

static int read_lines(struct smtpc *c, int ehlo);

/* One reply within c->timeout in total (not per line: a server that
 * trickles continuation lines is cut off too) and the session deadline;
 * io's session deadline is narrowed for the reply, then restored. */
static int
read_reply(struct smtpc *c, int ehlo)
{
	int64_t keep = c->io.session_deadline;
	int code;

	if (c->session_deadline && clock_ms() >= c->session_deadline) {
		/* over even when the reply is already there */
		set_reply(c, SMTPC_ERR, "session time limit reached");
		return SMTPC_ERR;
	}
	c->io.session_deadline = wait_deadline(c, c->timeout);
	code = read_lines(c, ehlo);
	c->io.session_deadline = keep;
	return code;
}

static int
read_lines(struct smtpc *c, int ehlo)
{
	char line[SMTPC_LINE_MAX];
	int code = -1, n, lines = 0;
	size_t off = 0;

	for (;;) {
		int this;
		n = io_getline(&c->io, line, sizeof line, NULL);
		if (n < 0) {
			set_reply(c, SMTPC_ERR, n == IO_EOF ? "connection closed" :
			    n == IO_TIMEOUT ? (c->session_deadline &&
			    clock_ms() >= c->session_deadline ?
			    "session time limit reached" :
			    "timed out waiting for a reply") :
			    n == IO_TOOLONG ? "reply line too long" :
			    "read error");
			return SMTPC_ERR;
		}
		if (n < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (n > 3 && line[3] != ' ' &&
		    line[3] != '-') || memchr(line, '\0', (size_t)n)) {
			set_reply(c, SMTPC_ERR, "malformed reply");
			return SMTPC_ERR;
		}
		this = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (code < 0)
			code = this;
		else if (this != code) {
			set_reply(c, SMTPC_ERR, "inconsistent multi-line reply");
			return SMTPC_ERR;
		}
		if (lines == 0) {
			off = copy_str_trunc(c->reply, sizeof c->reply, line);
		} else {
			if (ehlo && n > 4)
				smtpc_parse_cap(line + 4, &c->caps, &c->size_max);
			if (!ehlo && n > 4 && off < sizeof c->reply - 2) {
				c->reply[off++] = ' ';
				off += copy_str_trunc(c->reply + off,
				    sizeof c->reply - off, line + 4);
			}
		}
		if (++lines > SMTPC_REPLY_LINES) {
			set_reply(c, SMTPC_ERR, "reply has too many lines");
			return SMTPC_ERR;
		}
		if (n == 3 || line[3] == ' ')
			break;
	}
	/* a one-line "250-..." reply is never final, so the first line of
	 * the reply text is "ddd text" for the log; normalise the dash */
	if (c->reply[3] == '-')
		c->reply[3] = ' ';
	c->code = code;
	return code;
}

int
smtpc_reply(struct smtpc *c)
{
	return read_reply(c, 0);
}

static int
send_line(struct smtpc *c, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static int
send_line(struct smtpc *c, const char *fmt, va_list ap)
{
	char line[SMTPC_LINE_MAX];
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);

	if (n < 0 || (size_t)n >= sizeof line - 2 || strpbrk(line, "\r\n")) {
		set_reply(c, SMTPC_ERR, "command line too long or invalid");
		return -1;
	}
	memcpy(line + n, "\r\n", 2);
	if (io_write(&c->io, line, (size_t)n + 2) < 0) {
		set_reply(c, SMTPC_ERR, "write error");
		return -1;
	}
	return 0;
}

static int
queue_cmd(struct smtpc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
queue_cmd(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = send_line(c, fmt, ap);
	va_end(ap);
	return r;
}

int
smtpc_cmd(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = send_line(c, fmt, ap);
	va_end(ap);
	if (r < 0)
		return SMTPC_ERR;
	return read_reply(c, 0);
}

int
smtpc_ehlo(struct smtpc *c, const char *helo)
{
	int code;

	c->caps = 0;
	c->size_max = 0;
	c->esmtp = 0;
	if (queue_cmd(c, "EHLO %s", helo) < 0)
		return SMTPC_ERR;
	code = read_reply(c, 1);
	if (code >= 200 && code < 300) {
		c->esmtp = 1;
		return code;
	}
	if (code >= 500 && code < 600) {
		c->caps = 0;
		return smtpc_cmd(c, "HELO %s", helo);
	}
	return code;
}

/* -- TLS ------------------------------------------------------------ */

/* Opportunistic hop-to-hop TLS: accept any server chain, use the key of
 * its first certificate. Encrypts against passive listeners only. */
struct any_x509 {
	const br_x509_class *vtable;
	br_x509_decoder_context dc;
	int first;
	int err;
};

static struct any_x509 any_x509;

static void
ax_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct any_x509 *a = (struct any_x509 *)(void *)ctx;
	(void)server_name;
	a->first = 1;
	a->err = 0;
}

static void
ax_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct any_x509 *a = (struct any_x509 *)(void *)ctx;
	(void)length;
	if (a->first)
		br_x509_decoder_init(&a->dc, NULL, NULL);
}

static void
ax_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct any_x509 *a = (struct any_x509 *)(void *)ctx;
	if (a->first)
		br_x509_decoder_push(&a->dc, buf, len);
}

static void
ax_end_cert(const br_x509_class **ctx)
{
	struct any_x509 *a = (struct any_x509 *)(void *)ctx;
	if (a->first) {
		a->err = br_x509_decoder_last_error(&a->dc);
		a->first = 0;
	}
}

static unsigned
ax_end_chain(const br_x509_class **ctx)
{
	struct any_x509 *a = (struct any_x509 *)(void *)ctx;
	if (a->first)
		return BR_ERR_X509_EMPTY_CHAIN;
	if (a->err)
		return (unsigned)a->err;
	if (!br_x509_decoder_get_pkey(&a->dc))
		return BR_ERR_X509_UNSUPPORTED;
	return 0;
}

static const br_x509_pkey *
ax_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct any_x509 *a = (struct any_x509 *)(void *)ctx;
	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&a->dc);
}

static const br_x509_class any_x509_vtable = {
	sizeof(struct any_x509),
	ax_start_chain, ax_start_cert, ax_append, ax_end_cert, ax_end_chain,
	ax_get_pkey
};

/* Runs a client handshake on t without verification. 0 / -1. */
static int
opportunistic_handshake(struct tls *t, int rfd, int wfd, int64_t deadline,
    const char **error_r)
{
	br_ssl_engine_context *eng;
	unsigned char seed[32];

	/* everything but the record buffer starts from zero (tls_io.c keeps
	 * its transport state in the struct too) */
	memset(t, 0, offsetof(struct tls, iobuf));
	t->rfd = rfd;
	t->wfd = wfd;
	t->is_server = 0;
	br_ssl_client_init_full(&t->ctx.c, &t->xc, NULL, 0);
	eng = &t->ctx.c.eng;
	t->eng = eng;
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, tls_suites, tls_suites_n);
	any_x509.vtable = &any_x509_vtable;
	br_ssl_engine_set_x509(eng, &any_x509.vtable);
	br_ssl_engine_set_buffer(eng, t->iobuf, sizeof t->iobuf, 1);
	if (getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed)
		br_ssl_engine_inject_entropy(eng, seed, sizeof seed);
	wipe(seed, sizeof seed);
	if (!br_ssl_client_reset(&t->ctx.c, NULL, 0)) {
		*error_r = tls_error_text(br_ssl_engine_last_error(eng));
		return -1;
	}
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		size_t len;
		unsigned char *buf;
		ssize_t n;

		if (st & BR_SSL_CLOSED) {
			int e = br_ssl_engine_last_error(eng);
			*error_r = e ? tls_error_text(e) : "TLS closed";
			return -1;
		}
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			if (fd_wait(wfd, POLLOUT, deadline) != 1) {
				*error_r = "TLS handshake timed out";
				return -1;
			}
			n = write(wfd, buf, len);
			if (n <= 0) {
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				*error_r = "TLS handshake write failed";
				return -1;
			}
			br_ssl_engine_sendrec_ack(eng, (size_t)n);
			continue;
		}
		if (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))
			return 0;
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			if (fd_wait(rfd, POLLIN, deadline) != 1) {
				*error_r = "TLS handshake timed out";
				return -1;
			}
			n = read(rfd, buf, len);
			if (n <= 0) {
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				*error_r = "connection closed during TLS handshake";
				return -1;
			}
			br_ssl_engine_recvrec_ack(eng, (size_t)n);
			continue;
		}
		*error_r = "TLS engine stalled";
		return -1;
	}
}

int
smtpc_tls_start(struct smtpc *c, const struct tls_anchors *anchors,
    const char *server_name, const char **error_r)
{
	int64_t deadline = wait_deadline(c, c->timeout);
	int r;

	if (io_pending(&c->io)) {
		size_t n = io_discard_pending(&c->io);
		log_msg(LOG_WARNING, "%s: discarded %zu bytes the server sent "
		    "before the TLS handshake", c->peer, n);
	}
	if (io_flush(&c->io) < 0) {
		*error_r = "write error";
		return -1;
	}
	if (anchors && server_name)
		r = tls_client_start(&c->tls, anchors, server_name, NULL,
		    c->io.rfd, c->io.wfd, deadline, error_r);
	else if (!anchors && !server_name)
		r = opportunistic_handshake(&c->tls, c->io.rfd, c->io.wfd,
		    deadline, error_r);
	else {
		*error_r = "TLS: certificate check needs anchors and a name";
		r = -1;
	}
	if (r < 0)
		return -1;
	io_use_tls(&c->io, &c->tls);
	c->tls_on = 1;
	c->caps = 0;
	c->size_max = 0;
	c->esmtp = 0;
	return 0;
}

int
smtpc_starttls(struct smtpc *c, const struct tls_anchors *anchors,
    const char *server_name, const char **error_r)
{
	int code = smtpc_cmd(c, "STARTTLS");

	if (code == SMTPC_ERR) {
		*error_r = c->reply;
		return -1;
	}
	if (code != 220)
		return 1;
	return smtpc_tls_start(c, anchors, server_name, error_r) < 0 ? -1 : 0;
}

int
smtpc_auth_plain(struct smtpc *c, const char *user, const char *pass,
    int allow_plain, const char **error_r)
{
	unsigned char raw[600];
	char b64[820];
	size_t ul = strlen(user), pl = strlen(pass);
	long n;
	int code;

	if (!c->tls_on && !allow_plain) {
		*error_r = "refusing to send a password over an unencrypted "
		    "connection";
		return -1;
	}
	if (ul + pl + 2 > sizeof raw) {
		*error_r = "user name or password too long";
		return -1;
	}
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	n = base64_encode(raw, ul + pl + 2, b64, sizeof b64);
	wipe(raw, sizeof raw);
	if (n < 0) {
		*error_r = "base64 failed";
		return -1;
	}
	code = smtpc_cmd(c, "AUTH PLAIN %s", b64);
	wipe(b64, sizeof b64);
	if (code == SMTPC_ERR)
		*error_r = c->reply;
	return code;
}

/* -- the mail transaction ------------------------------------------- */

/* Streams msgfd as CRLF lines with dot-stuffing, then ".". 0 / -1. */
static int
send_body(struct smtpc *c, int fd)
{
	unsigned char in[16384], out[16384 * 2 + 8];
	int bol = 1, prev_cr = 0;
	ssize_t n;

	for (;;) {
		size_t o = 0, i;
		n = read(fd, in, sizeof in);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_reply(c, SMTPC_ERR, "cannot read the message file");
			return -1;
		}
		if (n == 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			unsigned char ch = in[i];
			if (bol && ch == '.')
				out[o++] = '.';
			if (ch == '\n') {
				if (!prev_cr)
					out[o++] = '\r';
				out[o++] = '\n';
				bol = 1;
				prev_cr = 0;
				continue;
			}
			out[o++] = ch;
			bol = 0;
			prev_cr = ch == '\r';
		}
		if (io_write(&c->io, out, o) < 0) {
			set_reply(c, SMTPC_ERR, "write error");
			return -1;
		}
	}
	if (!bol && io_write(&c->io, "\r\n", 2) < 0)
		return -1;
	if (io_write(&c->io, ".\r\n", 3) < 0) {
		set_reply(c, SMTPC_ERR, "write error");
		return -1;
	}
	return 0;
}

static void
record(const struct smtpc_txn *t, size_t i, int code, const char *reply)
{
	t->rcpt_code[i] = code;
	if (t->rcpt_reply)
		copy_str_trunc(t->rcpt_reply[i], sizeof t->rcpt_reply[i],
		    reply);
}

static int
mail_cmd(struct smtpc *c, const struct smtpc_txn *t)
{
	char size[40] = "", body[40] = "";
	int dsn = (c->caps & SMTPC_CAP_DSN) != 0;

	if ((c->caps & SMTPC_CAP_SIZE) && t->size)
		snprintf(size, sizeof size, " SIZE=%llu",
		    (unsigned long long)t->size);
	if ((c->caps & SMTPC_CAP_8BITMIME) && t->body)
		snprintf(body, sizeof body, " BODY=%s", t->body);
	return queue_cmd(c, "MAIL FROM:<%s>%s%s%s%s%s%s%s", t->sender, size,
	    body, t->smtputf8 && (c->caps & SMTPC_CAP_SMTPUTF8) ?
	    " SMTPUTF8" : "", dsn && t->ret ? " RET=" : "",
	    dsn && t->ret ? t->ret : "", dsn && t->envid ? " ENVID=" : "",
	    dsn && t->envid ? t->envid : "");
}

/* RCPT TO for recipient i, with its NOTIFY=/ORCPT= when offered. */
static int
rcpt_cmd(struct smtpc *c, const struct smtpc_txn *t, size_t i)
{
	int dsn = (c->caps & SMTPC_CAP_DSN) != 0;
	const char *n = dsn && t->notify && t->notify[i] ? t->notify[i] : "";
	const char *o = dsn && t->orcpt && t->orcpt[i] ? t->orcpt[i] : "";

	return queue_cmd(c, "RCPT TO:<%s>%s%s%s%s", t->rcpt[i],
	    n[0] ? " NOTIFY=" : "", n, o[0] ? " ORCPT=" : "", o);
}

/* The transaction; a recipient accepted by RCPT holds -code until DATA
 * decides it. */
static int
txn_run(struct smtpc *c, const struct smtpc_txn *t)
{
	int pipe_ok = (c->caps & SMTPC_CAP_PIPELINING) != 0;
	int mail, code, data;
	size_t i, accepted = 0;

	for (i = 0; i < t->nrcpt; i++)
		record(t, i, 0, "");
	if (mail_cmd(c, t) < 0)
		return SMTPC_ERR;
	if (pipe_ok) {
		for (i = 0; i < t->nrcpt; i++)
			if (rcpt_cmd(c, t, i) < 0)
				return SMTPC_ERR;
		if (queue_cmd(c, "DATA") < 0)
			return SMTPC_ERR;
	}
	mail = read_reply(c, 0);
	if (mail == SMTPC_ERR)
		return SMTPC_ERR;
	if (mail < 200 || mail >= 300) {
		for (i = 0; i < t->nrcpt; i++)
			record(t, i, mail, c->reply);
		if (pipe_ok) {
			/* the server still answers each pipelined command */
			for (i = 0; i <= t->nrcpt; i++)
				if (read_reply(c, 0) == SMTPC_ERR)
					return SMTPC_ERR;
			if (c->code == 354)
				goto empty_data;
		}
		return smtpc_cmd(c, "RSET") == SMTPC_ERR ? SMTPC_ERR : 0;
	}
	for (i = 0; i < t->nrcpt; i++) {
		if (!pipe_ok && rcpt_cmd(c, t, i) < 0)
			return SMTPC_ERR;
		code = read_reply(c, 0);
		if (code == SMTPC_ERR)
			return SMTPC_ERR;
		if (code >= 200 && code < 300) {
			accepted++;
			t->rcpt_code[i] = -code;   /* decided by DATA */
		} else
			record(t, i, code, c->reply);
	}
	if (!pipe_ok) {
		if (accepted == 0)
			return smtpc_cmd(c, "RSET") == SMTPC_ERR ? SMTPC_ERR : 0;
		if (queue_cmd(c, "DATA") < 0)
			return SMTPC_ERR;
	}
	data = read_reply(c, 0);
	if (data == SMTPC_ERR)
		return SMTPC_ERR;
	if (data == 354 && accepted == 0)
		goto empty_data;
	if (data != 354) {
		for (i = 0; i < t->nrcpt; i++)
			if (t->rcpt_code[i] < 0)
				record(t, i, data, c->reply);
		return smtpc_cmd(c, "RSET") == SMTPC_ERR ? SMTPC_ERR : 0;
	}
	if (send_body(c, t->msgfd) < 0)
		return SMTPC_ERR;
	code = read_reply(c, 0);
	if (code == SMTPC_ERR)
		return SMTPC_ERR;
	for (i = 0; i < t->nrcpt; i++)
		if (t->rcpt_code[i] < 0)
			record(t, i, code, c->reply);
	return 0;

empty_data:
	/* DATA accepted although no recipient was: end it at once; with no
	 * recipients nothing can be delivered (RFC 2920 section 3.1) */
	if (io_write(&c->io, ".\r\n", 3) < 0 || read_reply(c, 0) == SMTPC_ERR)
		return SMTPC_ERR;
	return 0;
}

int
smtpc_send(struct smtpc *c, const struct smtpc_txn *t)
{
	size_t i;
	int r = txn_run(c, t);

	/* a break leaves the undecided recipients at 0, never -code */
	if (r == SMTPC_ERR)
		for (i = 0; i < t->nrcpt; i++)
			if (t->rcpt_code[i] < 0)
				t->rcpt_code[i] = 0;
	return r;
}

void
smtpc_close(struct smtpc *c)
{
	if (c->fd >= 0) {
		if (c->tls_on)
			tls_close(&c->tls, deadline_in(2));
		close(c->fd);
		if (c->io.wfd != c->fd && c->io.wfd >= 0)
			close(c->io.wfd);
	}
	c->fd = -1;
	c->tls_on = 0;
}

void
smtpc_quit(struct smtpc *c)
{
	if (c->fd < 0)
		return;
	if (!c->io.failed && c->code != SMTPC_ERR) {
		io_set_timeouts(&c->io, c->timeout < 10 ? c->timeout : 10, 0);
		c->io.session_deadline = c->session_deadline;
		(void)smtpc_cmd(c, "QUIT");
	}
	smtpc_close(c);
}
