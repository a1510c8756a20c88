/* bench/loadgen.c - postern's own load generator and ceiling probes.
 *
 * One blocking connection per thread, closed loop: each of --conc threads
 * runs one scripted session after another until --duration seconds have
 * passed or --count sessions were started in total. Prints one JSON object
 * on stdout: sessions, errors, rate, latency p50/p99 (connect to close),
 * workload figures, and the generator's own CPU use (getrusage).
 *
 * Network workloads (127.0.0.1 only):
 *   greet    greeting, QUIT, read to EOF (works with the one-line floors)
 *   login    USER, PASS, STAT, QUIT
 *   retr     login, STAT, RETR 1 streamed and counted (--expect-bytes)
 *   bigbox   login, STAT, UIDL; reports login/STAT/UIDL times
 *   smtp     EHLO, MAIL, RCPT, DATA (--msg file, LF or CRLF), QUIT;
 *            --wait-dir DIR --wait-files N then waits until N files are in
 *            DIR/new + DIR/cur and reports the end-to-end delivery rate;
 *            --per-conn K sends up to K messages in one session (as a relay
 *            would, MAIL/RCPT/DATA pipelined); --count then counts messages,
 *            and the latency samples are per message
 *   --tls    implicit TLS (--ca PEM, --suite ecdsa|rsa|any), TLS 1.2, no
 *            session resumption unless --resume: then each thread keeps
 *            the session of its last full handshake and offers it on its
 *            next connection (session ID, no tickets); "resumed" counts
 *            the handshakes that resumed. The client is OpenSSL when built with
 *            -DLOADGEN_OPENSSL (its P-256 and AES-GCM code is several times
 *            cheaper than BearSSL's, so the generator steals less CPU from the
 *            servers), else BearSSL.
 * Ceilings (no server):
 *   fsync    create tmp/F, write 4 KiB, fsync, rename to new/F, fsync(new/)
 *            in --dir, --conc threads
 *   tcp|pipe loopback TCP / pipe throughput, --bytes
 *   crypt    crypt_r(--pass, --hash) verifications per second, --conc threads
 *   aesgcm   BearSSL AES-128-GCM (x86ni + pclmul) encryption throughput
 */
#define _GNU_SOURCE
#include <bearssl.h>
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "brpem.h"
#ifdef LOADGEN_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>
static SSL_CTX *CTX;
#endif

#define RBUF (256 * 1024)
#define LINE 1024

struct opts {
	const char *workload;
	int port, conc, tls, resume;
	double duration;
	long count;
	const char *ca, *suite, *user_fmt, *pass, *msg, *from, *rcpt;
	const char *wait_dir, *dir, *hash;
	long nusers, wait_files, hold_ms, per_conn;
	long long expect_bytes, bytes;
};
static struct opts O = {
	.workload = "greet", .port = 0, .conc = 1, .duration = 0, .count = 0,
	.suite = "any", .user_fmt = "u%d@bench.test", .pass = "benchpass",
	.from = "sender@client.example", .rcpt = "u1@bench.test", .nusers = 8,
	.per_conn = 1,
	.bytes = 2LL << 30,
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_long issued;
static double deadline;
static br_x509_trust_anchor *TAS;
static size_t NTAS;
static unsigned char *PAYLOAD; /* SMTP DATA payload incl. final ".\r\n" */
static size_t PAYLOAD_LEN, MSG_OCTETS;
static char first_err[256];
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

static void note_err(const char *fmt, ...)
{
	pthread_mutex_lock(&err_mu);
	if (!first_err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(first_err, sizeof first_err, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&err_mu);
}

/* A growable array of doubles (per-thread samples). */
struct vec {
	double *v;
	size_t n, cap;
};
static void vpush(struct vec *a, double x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
		if (!a->v) {
			fputs("loadgen: out of memory\n", stderr);
			exit(2);
		}
	}
	a->v[a->n++] = x;
}
static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
static double pct(struct vec *a, double p)
{
	if (a->n == 0)
		return -1;
	qsort(a->v, a->n, sizeof *a->v, dcmp);
	size_t i = (size_t)(p * (double)(a->n - 1) + 0.5);
	return a->v[i];
}
static void vmerge(struct vec *dst, struct vec *src)
{
	for (size_t i = 0; i < src->n; i++)
		vpush(dst, src->v[i]);
}

enum { M_LAT, M_RETR_S, M_RETR_B, M_LOGIN, M_STAT, M_UIDL, M_UIDL_B, M_DATA_S, M_OPS, NM };
static const char *mname[NM] = { "lat", "retr_s", "retr_bytes", "login_ms", "stat_ms",
				 "uidl_ms", "uidl_bytes", "data_s", "ops" };

struct worker {
	pthread_t th;
	int id;
	long ok, errors, msgs;   /* msgs: SMTP messages with --per-conn > 1 */
	long resumed;            /* --resume: handshakes that resumed */
	int have_sess;           /* sp holds a session to offer */
	int ssl_ok;              /* BearSSL: this session went well */
	br_ssl_session_parameters sp;
	struct vec m[NM];
	/* connection state */
	int fd;
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	br_sslio_context io;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	unsigned char rbuf[RBUF];
	size_t rs, re;
	char user[128];
#ifdef LOADGEN_OPENSSL
	SSL *ssl;
	SSL_SESSION *sess;
#endif
};

static int claim(void)
{
	if (O.count > 0)
		return atomic_fetch_add(&issued, 1) < O.count;
	return now() < deadline;
}

/* ---- transport: plain fd or BearSSL on the fd ---- */

static int fd_read(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n > 0)
			return (int)n;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}
static int fd_write(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t n = write(fd, buf, len);
		if (n > 0)
			return (int)n;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static const uint16_t SUITES_EC[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 };
static const uint16_t SUITES_RSA[] = {
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 };

static int c_open(struct worker *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)O.port) };
	int one = 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	w->rs = w->re = 0;
	w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->fd < 0)
		return note_err("socket: %s", strerror(errno)), -1;
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	while (connect(w->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno == EINTR)
			continue;
		note_err("connect: %s", strerror(errno));
		close(w->fd);
		return -1;
	}
#ifdef LOADGEN_OPENSSL
	if (O.tls) {
		w->ssl = SSL_new(CTX);
		if (!w->ssl || !SSL_set_fd(w->ssl, w->fd) || !SSL_set_tlsext_host_name(w->ssl, "localhost") ||
		    !SSL_set1_host(w->ssl, "localhost") ||
		    (O.resume && w->sess && !SSL_set_session(w->ssl, w->sess)) || SSL_connect(w->ssl) != 1) {
			char e[160];
			ERR_error_string_n(ERR_get_error(), e, sizeof e);
			note_err("TLS handshake: %s", e);
			if (w->ssl)
				SSL_free(w->ssl);
			w->ssl = NULL;
			close(w->fd);
			return -1;
		}
		if (O.resume) {
			if (w->sess && SSL_session_reused(w->ssl)) {
				w->resumed++;
			} else {
				if (w->sess)
					SSL_SESSION_free(w->sess);
				w->sess = SSL_get1_session(w->ssl);
			}
		}
	}
	return 0;
#endif
	if (O.tls) {
		br_ssl_client_init_full(&w->cc, &w->xc, TAS, NTAS);
		if (strcmp(O.suite, "ecdsa") == 0)
			br_ssl_engine_set_suites(&w->cc.eng, SUITES_EC, 3);
		else if (strcmp(O.suite, "rsa") == 0)
			br_ssl_engine_set_suites(&w->cc.eng, SUITES_RSA, 3);
		br_ssl_engine_set_buffer(&w->cc.eng, w->iobuf, sizeof w->iobuf, 1);
		if (O.resume && w->have_sess)
			br_ssl_engine_set_session_parameters(&w->cc.eng, &w->sp);
		br_ssl_client_reset(&w->cc, "localhost", O.resume && w->have_sess);
		br_sslio_init(&w->io, &w->cc.eng, fd_read, &w->fd, fd_write, &w->fd);
	}
	return 0;
}

static void c_close(struct worker *w)
{
#ifndef LOADGEN_OPENSSL
	if (O.resume && O.tls && w->ssl_ok) {
		/* BearSSL client: same ID as offered = resumed */
		br_ssl_session_parameters p;
		br_ssl_engine_get_session_parameters(&w->cc.eng, &p);
		if (w->have_sess && p.session_id_len == 32 &&
		    memcmp(p.session_id, w->sp.session_id, 32) == 0)
			w->resumed++;
		else if (p.session_id_len == 32) {
			w->sp = p;
			w->have_sess = 1;
		}
	}
#endif
#ifdef LOADGEN_OPENSSL
	/* a session not shut down is dropped as "bad" by SSL_free: mark a
	 * good one shut down (no I/O) so that --resume can offer it */
	if (w->ssl && O.resume && w->ssl_ok)
		SSL_set_shutdown(w->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (w->ssl)
		SSL_free(w->ssl);
	w->ssl = NULL;
#endif
	close(w->fd);
	w->fd = -1;
	w->ssl_ok = 0;
}

static int c_read(struct worker *w, unsigned char *buf, size_t len)
{
#ifdef LOADGEN_OPENSSL
	if (O.tls) {
		int n = SSL_read(w->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		return n > 0 ? n : -1;
	}
#endif
	if (O.tls) {
		int n = br_sslio_read(&w->io, buf, len);
		if (n < 0) {
			int e = br_ssl_engine_last_error(&w->cc.eng);
			if (e != 0)
				note_err("TLS error %d", e);
		}
		return n;
	}
	return fd_read(&w->fd, buf, len);
}

static int c_write(struct worker *w, const void *buf, size_t len)
{
#ifdef LOADGEN_OPENSSL
	if (O.tls) {
		if (SSL_write(w->ssl, buf, (int)len) != (int)len) {
			note_err("TLS write failed");
			return -1;
		}
		return 0;
	}
#endif
	if (O.tls) {
		if (br_sslio_write_all(&w->io, buf, len) != 0 || br_sslio_flush(&w->io) != 0) {
			note_err("TLS write failed (error %d)", br_ssl_engine_last_error(&w->cc.eng));
			return -1;
		}
		return 0;
	}
	const char *p = buf;
	while (len > 0) {
		int n = fd_write(&w->fd, (const unsigned char *)p, len);
		if (n < 0)
			return note_err("write: %s", strerror(errno)), -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int c_printf(struct worker *w, const char *fmt, ...)
{
	char b[LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof b)
		return -1;
	return c_write(w, b, (size_t)n);
}

static int fill(struct worker *w)
{
	if (w->rs == w->re)
		w->rs = w->re = 0;
	if (w->re == RBUF) {
		memmove(w->rbuf, w->rbuf + w->rs, w->re - w->rs);
		w->re -= w->rs;
		w->rs = 0;
	}
	int n = c_read(w, w->rbuf + w->re, RBUF - w->re);
	if (n <= 0)
		return -1;
	w->re += (size_t)n;
	return 0;
}

/* One line without its CRLF into line (truncated); -1 on EOF/error. */
static int read_line(struct worker *w, char *line, size_t max)
{
	for (;;) {
		unsigned char *nl = memchr(w->rbuf + w->rs, '\n', w->re - w->rs);
		if (nl) {
			size_t len = (size_t)(nl - (w->rbuf + w->rs));
			size_t k = len;
			if (k > 0 && w->rbuf[w->rs + k - 1] == '\r')
				k--;
			if (k >= max)
				k = max - 1;
			memcpy(line, w->rbuf + w->rs, k);
			line[k] = 0;
			w->rs += len + 1;
			return 0;
		}
		if (fill(w) != 0)
			return -1;
	}
}

static int expect_ok(struct worker *w, const char *what)
{
	char line[LINE];
	if (read_line(w, line, sizeof line) != 0)
		return note_err("%s: connection closed", what), -1;
	if (strncmp(line, "+OK", 3) != 0)
		return note_err("%s: %s", what, line), -1;
	return 0;
}

/* SMTP reply (multi-line aware); returns the code or -1. */
static int smtp_reply(struct worker *w, const char *what)
{
	char line[LINE];
	for (;;) {
		if (read_line(w, line, sizeof line) != 0)
			return note_err("%s: connection closed", what), -1;
		if (strlen(line) < 3)
			return note_err("%s: short reply", what), -1;
		if (line[3] != '-')
			return atoi(line);
	}
}

static void drain_eof(struct worker *w)
{
	w->rs = w->re = 0;
	while (c_read(w, w->rbuf, RBUF) > 0)
		;
}

/* Reads a POP3 multi-line body after its status line; returns the octets
 * before the terminating ".\r\n" line (the CRLF before it included). */
static long long read_multi(struct worker *w)
{
	static const char T[] = "\r\n.\r\n";
	unsigned char tail[4] = { '\r', '\n' };
	size_t ntail = 2;
	long long before = 0; /* body octets in earlier chunks */
	for (;;) {
		if (w->rs == w->re && fill(w) != 0)
			return note_err("multi-line: connection closed"), -1;
		unsigned char *d = w->rbuf + w->rs;
		size_t n = w->re - w->rs;
		/* a terminator straddling the previous chunk and this one */
		unsigned char j[8];
		size_t hn = n < 4 ? n : 4;
		memcpy(j, tail, ntail);
		memcpy(j + ntail, d, hn);
		unsigned char *p = memmem(j, ntail + hn, T, 5);
		size_t end;
		if (p && (size_t)(p - j) < ntail) {
			end = (size_t)(p - j) + 5 - ntail;
		} else {
			p = memmem(d, n, T, 5);
			if (!p) {
				before += (long long)n;
				if (n >= 4) {
					memcpy(tail, d + n - 4, 4);
					ntail = 4;
				} else {
					size_t keep = ntail + n > 4 ? 4 - n : ntail;
					memmove(tail, tail + ntail - keep, keep);
					memcpy(tail + keep, d, n);
					ntail = keep + n;
				}
				w->rs = w->re = 0;
				continue;
			}
			end = (size_t)(p - d) + 5;
		}
		w->rs += end;
		return before + (long long)end - 3;
	}
}

static int pop3_login(struct worker *w)
{
	if (c_printf(w, "USER %s\r\n", w->user) || expect_ok(w, "USER"))
		return -1;
	if (c_printf(w, "PASS %s\r\n", O.pass) || expect_ok(w, "PASS"))
		return -1;
	return 0;
}

static void hold(void)
{
	if (O.hold_ms > 0) {
		struct timespec ts = { O.hold_ms / 1000, (O.hold_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static int quit_pop3(struct worker *w)
{
	hold();
	if (c_printf(w, "QUIT\r\n"))
		return -1;
	drain_eof(w);
	return 0;
}

static int session(struct worker *w)
{
	const char *wl = O.workload;
	if (strcmp(wl, "smtp") == 0) {
		if (smtp_reply(w, "greeting") != 220)
			return note_err("greeting not 220"), -1;
		if (c_printf(w, "EHLO client.example\r\n") || smtp_reply(w, "EHLO") != 250)
			return note_err("EHLO refused"), -1;
		for (long k = 0;; k++) {
			double tm = now();
			if (O.per_conn > 1) {
				/* A relay's way: MAIL, RCPT and DATA pipelined (RFC 2920). */
				if (c_printf(w, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", O.from, O.rcpt))
					return -1;
				if (smtp_reply(w, "MAIL") != 250 || smtp_reply(w, "RCPT") != 250 ||
				    smtp_reply(w, "DATA") != 354)
					return note_err("pipelined MAIL/RCPT/DATA refused"), -1;
			} else {
				if (c_printf(w, "MAIL FROM:<%s>\r\n", O.from) || smtp_reply(w, "MAIL") != 250)
					return note_err("MAIL refused"), -1;
				if (c_printf(w, "RCPT TO:<%s>\r\n", O.rcpt) || smtp_reply(w, "RCPT") != 250)
					return note_err("RCPT refused"), -1;
				if (c_printf(w, "DATA\r\n") || smtp_reply(w, "DATA") != 354)
					return note_err("DATA refused"), -1;
			}
			double t0 = now();
			if (c_write(w, PAYLOAD, PAYLOAD_LEN) != 0)
				return -1;
			int code = smtp_reply(w, "end of data");
			if (code != 250)
				return note_err("end of DATA: %d", code), -1;
			vpush(&w->m[M_DATA_S], now() - t0);
			if (O.per_conn == 1)
				break;
			vpush(&w->m[M_LAT], (now() - tm) * 1e3);
			w->msgs++;
			if (k + 1 >= O.per_conn || !claim())
				break;
		}
		hold();
		if (c_printf(w, "QUIT\r\n"))
			return -1;
		drain_eof(w);
		return 0;
	}
	if (expect_ok(w, "greeting"))
		return -1;
	if (strcmp(wl, "greet") == 0)
		return quit_pop3(w);
	double t0 = now();
	if (pop3_login(w))
		return -1;
	double t1 = now();
	if (c_printf(w, "STAT\r\n") || expect_ok(w, "STAT"))
		return -1;
	double t2 = now();
	if (strcmp(wl, "login") == 0)
		return quit_pop3(w);
	if (strcmp(wl, "retr") == 0) {
		if (c_printf(w, "RETR 1\r\n") || expect_ok(w, "RETR"))
			return -1;
		long long b = read_multi(w);
		double t3 = now();
		if (b < 0)
			return -1;
		if (O.expect_bytes > 0 && b != O.expect_bytes)
			return note_err("RETR gave %lld octets, expected %lld", b, O.expect_bytes), -1;
		vpush(&w->m[M_RETR_S], t3 - t2);
		vpush(&w->m[M_RETR_B], (double)b);
		return quit_pop3(w);
	}
	if (strcmp(wl, "bigbox") == 0) {
		if (c_printf(w, "UIDL\r\n") || expect_ok(w, "UIDL"))
			return -1;
		long long b = read_multi(w);
		double t3 = now();
		if (b < 0)
			return -1;
		vpush(&w->m[M_LOGIN], (t1 - t0) * 1e3);
		vpush(&w->m[M_STAT], (t2 - t1) * 1e3);
		vpush(&w->m[M_UIDL], (t3 - t2) * 1e3);
		vpush(&w->m[M_UIDL_B], (double)b);
		return quit_pop3(w);
	}
	note_err("unknown workload %s", wl);
	return -1;
}

static void *net_worker(void *arg)
{
	struct worker *w = arg;
	if (strchr(O.user_fmt, '%'))
		snprintf(w->user, sizeof w->user, O.user_fmt, (int)(w->id % O.nusers) + 1);
	else
		snprintf(w->user, sizeof w->user, "%s", O.user_fmt);
	while (claim()) {
		double t0 = now();
		if (c_open(w) != 0) {
			w->errors++;
			continue;
		}
		int r = session(w);
		w->ssl_ok = r == 0;
		c_close(w);
		if (r == 0) {
			w->ok++;
			if (O.per_conn == 1)
				vpush(&w->m[M_LAT], (now() - t0) * 1e3);
		} else {
			w->errors++;
		}
	}
	return NULL;
}

/* ---- ceilings ---- */

static void *fsync_worker(void *arg)
{
	struct worker *w = arg;
	char tdir[4096], ndir[4096];
	snprintf(tdir, sizeof tdir, "%s/tmp", O.dir);
	snprintf(ndir, sizeof ndir, "%s/new", O.dir);
	int tfd = open(tdir, O_RDONLY | O_DIRECTORY), nfd = open(ndir, O_RDONLY | O_DIRECTORY);
	char data[4096];
	memset(data, 'x', sizeof data);
	if (tfd < 0 || nfd < 0) {
		note_err("fsync: cannot open %s/{tmp,new}", O.dir);
		w->errors++;
		return NULL;
	}
	for (long i = 0; claim(); i++) {
		char name[64];
		double t0 = now();
		snprintf(name, sizeof name, "%d.%d.%ld", (int)getpid(), w->id, i);
		int fd = openat(tfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, data, sizeof data) != (ssize_t)sizeof data || fsync(fd) != 0 ||
		    close(fd) != 0 || renameat(tfd, name, nfd, name) != 0 || fsync(nfd) != 0) {
			note_err("fsync probe: %s", strerror(errno));
			w->errors++;
			break;
		}
		w->ok++;
		vpush(&w->m[M_LAT], (now() - t0) * 1e3);
	}
	close(tfd);
	close(nfd);
	return NULL;
}

static void *crypt_worker(void *arg)
{
	struct worker *w = arg;
	struct crypt_data *cd = calloc(1, sizeof *cd);
	while (cd && claim()) {
		double t0 = now();
		const char *h = crypt_r(O.pass, O.hash, cd);
		if (!h || strcmp(h, O.hash) != 0) {
			note_err("crypt_r mismatch");
			w->errors++;
			break;
		}
		w->ok++;
		vpush(&w->m[M_LAT], (now() - t0) * 1e3);
	}
	free(cd);
	return NULL;
}

struct sink {
	int fd;
	long long got;
};
static void *sink_thread(void *arg)
{
	struct sink *s = arg;
	static unsigned char b[RBUF];
	ssize_t n;
	while ((n = read(s->fd, b, sizeof b)) > 0)
		s->got += n;
	return NULL;
}

/* Pushes O.bytes through a loopback TCP connection or a pipe. */
static double stream_probe(int tcp)
{
	int wfd, rfd;
	if (tcp) {
		int ls = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof sa;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1) ||
		    getsockname(ls, (struct sockaddr *)&sa, &sl))
			return note_err("tcp probe: %s", strerror(errno)), -1;
		wfd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(wfd, (struct sockaddr *)&sa, sizeof sa) != 0)
			return note_err("tcp probe connect: %s", strerror(errno)), -1;
		rfd = accept(ls, NULL, NULL);
		close(ls);
	} else {
		int p[2];
		if (pipe(p) != 0)
			return -1;
		rfd = p[0];
		wfd = p[1];
	}
	struct sink s = { rfd, 0 };
	pthread_t th;
	static unsigned char b[RBUF];
	memset(b, 'y', sizeof b);
	double t0 = now();
	pthread_create(&th, NULL, sink_thread, &s);
	long long left = O.bytes;
	while (left > 0) {
		ssize_t n = write(wfd, b, left < RBUF ? (size_t)left : RBUF);
		if (n <= 0)
			break;
		left -= n;
	}
	close(wfd);
	pthread_join(th, NULL);
	double dt = now() - t0;
	close(rfd);
	return (double)s.got / (1024.0 * 1024.0) / dt;
}

static double aesgcm_probe(void)
{
	const br_block_ctr_class *vt = br_aes_x86ni_ctr_get_vtable();
	br_ghash gh = br_ghash_pclmul_get();
	if (!vt || !gh)
		return note_err("no AES-NI/PCLMUL in BearSSL"), -1;
	br_aes_x86ni_ctr_keys k;
	br_gcm_context g;
	unsigned char key[16] = { 1 }, iv[12] = { 2 }, tag[16];
	static unsigned char buf[16384];
	vt->init(&k.vtable, key, sizeof key);
	br_gcm_init(&g, &k.vtable, gh);
	double t0 = now(), dt;
	long long done = 0;
	do {
		for (int i = 0; i < 64; i++) {
			iv[0]++;
			br_gcm_reset(&g, iv, sizeof iv);
			br_gcm_flip(&g);
			br_gcm_run(&g, 1, buf, sizeof buf);
			br_gcm_get_tag(&g, tag);
			done += (long long)sizeof buf;
		}
		dt = now() - t0;
	} while (dt < (O.duration > 0 ? O.duration : 1.0));
	return (double)done / (1024.0 * 1024.0) / dt;
}

/* ---- SMTP payload ---- */

static void load_payload(void)
{
	size_t len;
	unsigned char *m = bp_read(O.msg, &len);
	PAYLOAD = malloc(len * 2 + 8);
	if (!PAYLOAD)
		bp_die("out of memory", NULL);
	size_t o = 0;
	int bol = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = m[i];
		if (bol && c == '.')
			PAYLOAD[o++] = '.';
		if (c == '\n' && (i == 0 || m[i - 1] != '\r'))
			PAYLOAD[o++] = '\r';
		PAYLOAD[o++] = c;
		bol = c == '\n';
	}
	if (!bol) {
		PAYLOAD[o++] = '\r';
		PAYLOAD[o++] = '\n';
	}
	MSG_OCTETS = o;
	memcpy(PAYLOAD + o, ".\r\n", 3);
	PAYLOAD_LEN = o + 3;
	free(m);
}

static long count_dir(const char *path)
{
	DIR *d = opendir(path);
	long n = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static long count_maildir(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/new", dir);
	long n = count_dir(p);
	snprintf(p, sizeof p, "%s/cur", dir);
	return n + count_dir(p);
}

/* ---- main ---- */

static void usage(void)
{
	fputs("usage: loadgen --workload W [--port P] [--conc N] [--duration S | --count N]\n"
	      "  [--tls --ca PEM --suite ecdsa|rsa|any [--resume]] [--user-fmt FMT --nusers N --pass P]\n"
	      "  [--expect-bytes N] [--hold-ms MS] [--msg FILE --from A --rcpt A]\n"
	      "  [--wait-dir MAILDIR --wait-files N] [--per-conn K] [--dir D] [--hash H] [--bytes N]\n"
	      "workloads: greet login retr bigbox smtp fsync tcp pipe crypt aesgcm\n",
	      stderr);
	exit(64);
}

static void jnum(const char *k, double v)
{
	printf(", \"%s\": %.6g", k, v);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "workload", 1, 0, 'w' }, { "port", 1, 0, 'p' }, { "conc", 1, 0, 'c' },
		{ "duration", 1, 0, 'd' }, { "count", 1, 0, 'n' }, { "tls", 0, 0, 't' },
		{ "ca", 1, 0, 'A' }, { "suite", 1, 0, 'S' }, { "user-fmt", 1, 0, 'u' },
		{ "nusers", 1, 0, 'U' }, { "pass", 1, 0, 'P' }, { "expect-bytes", 1, 0, 'e' },
		{ "hold-ms", 1, 0, 'H' }, { "msg", 1, 0, 'm' }, { "from", 1, 0, 'f' },
		{ "rcpt", 1, 0, 'r' }, { "wait-dir", 1, 0, 'W' }, { "wait-files", 1, 0, 'N' },
		{ "dir", 1, 0, 'D' }, { "hash", 1, 0, 'h' }, { "bytes", 1, 0, 'b' },
		{ "per-conn", 1, 0, 'K' }, { "resume", 0, 0, 'R' }, { 0, 0, 0, 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'w': O.workload = optarg; break;
		case 'p': O.port = atoi(optarg); break;
		case 'c': O.conc = atoi(optarg); break;
		case 'd': O.duration = atof(optarg); break;
		case 'n': O.count = atol(optarg); break;
		case 't': O.tls = 1; break;
		case 'R': O.resume = 1; break;
		case 'A': O.ca = optarg; break;
		case 'S': O.suite = optarg; break;
		case 'u': O.user_fmt = optarg; break;
		case 'U': O.nusers = atol(optarg); break;
		case 'P': O.pass = optarg; break;
		case 'e': O.expect_bytes = atoll(optarg); break;
		case 'H': O.hold_ms = atol(optarg); break;
		case 'm': O.msg = optarg; break;
		case 'f': O.from = optarg; break;
		case 'r': O.rcpt = optarg; break;
		case 'W': O.wait_dir = optarg; break;
		case 'N': O.wait_files = atol(optarg); break;
		case 'D': O.dir = optarg; break;
		case 'h': O.hash = optarg; break;
		case 'b': O.bytes = atoll(optarg); break;
		case 'K': O.per_conn = atol(optarg); break;
		default: usage();
		}
	}
	if (O.conc < 1 || O.conc > 1024 || O.nusers < 1 || O.per_conn < 1)
		usage();
	if (O.duration <= 0 && O.count <= 0)
		O.duration = 2;

	const char *wl = O.workload;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now();

	if (!strcmp(wl, "tcp") || !strcmp(wl, "pipe") || !strcmp(wl, "aesgcm")) {
		double mibps = !strcmp(wl, "aesgcm") ? aesgcm_probe() : stream_probe(!strcmp(wl, "tcp"));
		printf("{\"workload\": \"%s\"", wl);
		jnum("mibps", mibps);
		jnum("elapsed_s", now() - t0);
		printf("}\n");
		return mibps > 0 ? 0 : 1;
	}

	void *(*fn)(void *) = net_worker;
	if (!strcmp(wl, "fsync")) {
		if (!O.dir)
			usage();
		fn = fsync_worker;
	} else if (!strcmp(wl, "crypt")) {
		if (!O.hash)
			usage();
		fn = crypt_worker;
	} else {
		if (O.port <= 0)
			usage();
		if (O.tls) {
			if (!O.ca)
				usage();
#ifdef LOADGEN_OPENSSL
			CTX = SSL_CTX_new(TLS_client_method());
			if (!CTX || !SSL_CTX_set_max_proto_version(CTX, TLS1_2_VERSION) ||
			    SSL_CTX_load_verify_locations(CTX, O.ca, NULL) != 1)
				bp_die("cannot set up the OpenSSL client with", O.ca);
			SSL_CTX_set_verify(CTX, SSL_VERIFY_PEER, NULL);
			/* with the cache off, OpenSSL marks new sessions not
			 * resumable: --resume keeps them, outside its cache */
			SSL_CTX_set_session_cache_mode(CTX, O.resume ? SSL_SESS_CACHE_CLIENT |
						       SSL_SESS_CACHE_NO_INTERNAL : SSL_SESS_CACHE_OFF);
			SSL_CTX_set_options(CTX, SSL_OP_NO_TICKET);
			if (!strcmp(O.suite, "ecdsa") &&
			    (!SSL_CTX_set_cipher_list(CTX, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
							   "ECDHE-ECDSA-CHACHA20-POLY1305") ||
			     !SSL_CTX_set1_sigalgs_list(CTX, "ECDSA+SHA256:ECDSA+SHA384")))
				bp_die("cipher list", O.suite);
			if (!strcmp(O.suite, "rsa") &&
			    (!SSL_CTX_set_cipher_list(CTX, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
							   "ECDHE-RSA-CHACHA20-POLY1305") ||
			     !SSL_CTX_set1_sigalgs_list(CTX, "RSA+SHA256:RSA-PSS+SHA256:RSA+SHA384")))
				bp_die("cipher list", O.suite);
#else
			TAS = bp_anchors(O.ca, &NTAS);
#endif
		}
		if (!strcmp(wl, "smtp")) {
			if (!O.msg)
				usage();
			load_payload();
		}
	}

	struct worker *ws = calloc((size_t)O.conc, sizeof *ws);
	if (!ws)
		return 2;
	/* The clock (and our own CPU account) starts with the first worker:
	 * loading and CRLF-converting a 25 MiB payload or building a TLS
	 * context is not part of any session. */
	getrusage(RUSAGE_SELF, &r0);
	t0 = now();
	deadline = t0 + O.duration;
	for (int i = 0; i < O.conc; i++) {
		ws[i].id = i;
		ws[i].fd = -1;
		pthread_create(&ws[i].th, NULL, fn, &ws[i]);
	}
	struct vec all[NM] = { { 0 } };
	long ok = 0, errors = 0, msgs = 0, resumed = 0;
	for (int i = 0; i < O.conc; i++) {
		pthread_join(ws[i].th, NULL);
		ok += ws[i].ok;
		errors += ws[i].errors;
		msgs += ws[i].msgs;
		resumed += ws[i].resumed;
		for (int k = 0; k < NM; k++)
			vmerge(&all[k], &ws[i].m[k]);
	}
	double elapsed = now() - t0;
	getrusage(RUSAGE_SELF, &r1);
	double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
		     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
		     (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
		     (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;

	long arrived = -1;
	double e2e = -1;
	if (O.wait_dir && O.wait_files > 0) {
		double limit = now() + 300;
		while ((arrived = count_maildir(O.wait_dir)) < O.wait_files && now() < limit) {
			struct timespec ts = { 0, 2000000 };
			nanosleep(&ts, NULL);
		}
		e2e = now() - t0;
	}

	printf("{\"workload\": \"%s\", \"tls\": %d, \"conc\": %d", wl, O.tls, O.conc);
#ifdef LOADGEN_OPENSSL
	printf(", \"tls_client\": \"openssl\"");
#else
	printf(", \"tls_client\": \"bearssl\"");
#endif
	printf(", \"sessions\": %ld, \"errors\": %ld", ok, errors);
	if (O.per_conn > 1)
		printf(", \"per_conn\": %ld, \"messages\": %ld", O.per_conn, msgs);
	if (O.resume)
		printf(", \"resumed\": %ld", resumed);
	jnum("elapsed_s", elapsed);
	jnum("rate", (double)ok / elapsed);
	jnum("p50_ms", pct(&all[M_LAT], 0.50));
	jnum("p99_ms", pct(&all[M_LAT], 0.99));
	jnum("cpu_s", cpu);
	jnum("cpu_pct", 100.0 * cpu / elapsed);
	if (all[M_RETR_S].n) {
		double mb = all[M_RETR_B].v[0] / (1024.0 * 1024.0);
		struct vec rate = { 0 };
		for (size_t i = 0; i < all[M_RETR_S].n; i++)
			vpush(&rate, all[M_RETR_B].v[i] / (1024.0 * 1024.0) / all[M_RETR_S].v[i]);
		jnum("retr_mib", mb);
		jnum("retr_mibps", pct(&rate, 0.5));
		jnum("retr_bytes", all[M_RETR_B].v[0]);
	}
	if (all[M_LOGIN].n) {
		jnum("login_ms", pct(&all[M_LOGIN], 0.5));
		jnum("stat_ms", pct(&all[M_STAT], 0.5));
		jnum("uidl_ms", pct(&all[M_UIDL], 0.5));
		jnum("uidl_bytes", all[M_UIDL_B].v[0]);
	}
	if (all[M_DATA_S].n) {
		struct vec rate = { 0 };
		for (size_t i = 0; i < all[M_DATA_S].n; i++)
			vpush(&rate, (double)MSG_OCTETS / (1024.0 * 1024.0) / all[M_DATA_S].v[i]);
		jnum("data_mibps", pct(&rate, 0.5));
		jnum("msg_octets", (double)MSG_OCTETS);
	}
	if (arrived >= 0) {
		jnum("arrived", (double)arrived);
		jnum("e2e_s", e2e);
		jnum("e2e_rate", (double)arrived / e2e);
		jnum("e2e_mibps", (double)arrived * (double)MSG_OCTETS / (1024.0 * 1024.0) / e2e);
	}
	(void)mname;
	printf(", \"first_error\": \"");
	for (const char *p = first_err; *p; p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 32)
			putchar(*p);
	printf("\"}\n");
	return 0;
}
