/* tls_test.c - unit tests of lib/tls_*.c: credential loading, real
 * handshakes between lib's server and client over socketpairs (ECDSA and
 * RSA, wrong name, STARTTLS upgrade, client certificates, timeouts), and
 * interop with `openssl s_client` on a loopback port (policy checks).
 * Certificates come from tests/mkcerts plus a few made here. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "test.h"
#include "tls.h"
#include "util.h"

#define PKI "tests/tmp/pki"
#define XPKI "tests/tmp/pki-tls"

static struct tls st, ct;
static struct io sio, cio;
static struct tls_cred ec_cred, rsa_cred, client_cred, mallory_cred,
    server_as_client;
static struct tls_anchors ca, other_ca;
static char big[1 << 20];

static const char mkextra[] =
	"set -e; d=" XPKI "; p=$(pwd)/" PKI "; "
	"[ -f $d/done ] && [ $d/done -nt $p/ca.pem ] && exit 0; "
	"rm -rf $d; mkdir -p $d; cd $d; q() { \"$@\" >/dev/null 2>&1; }; "
	"q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	"-nodes -keyout other-ca.key -out other-ca.pem -days 30 "
	"-subj '/CN=other CA' -addext basicConstraints=critical,CA:TRUE "
	"-addext keyUsage=critical,keyCertSign; "
	"q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	"-nodes -keyout mallory.key -out mallory.csr -subj /CN=alice; "
	"q openssl x509 -req -in mallory.csr -CA other-ca.pem "
	"-CAkey other-ca.key -CAcreateserial -out mallory.crt -days 30 "
	"-extfile $p/client.ext; "
	"q openssl rsa -in $p/rsa.key -traditional -out rsa-pkcs1.key; "
	"q openssl pkcs8 -topk8 -nocrypt -in $p/ec.key -out ec-pkcs8.key; "
	"printf %s \"$(cat $p/ec.crt)\" > ec-nonl.crt; "
	"printf %s \"$(cat $p/ec.key)\" > ec-nonl.key; "
	"cat $p/ec.crt $p/ec.key > ec-combined.pem; "
	"cp $p/ec.key ec-open.key; chmod 600 *.key ec-combined.pem; "
	"chmod 644 ec-open.key; "
	"openssl x509 -in $p/client.crt -noout -serial | cut -d= -f2 "
	"| tr A-F a-f > client.serial; "
	"openssl x509 -in $p/client.crt -noout -fingerprint -sha256 "
	"| cut -d= -f2 | tr -d : | tr A-F a-f > client.fp; "
	"touch done";

static void
read_line_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, (int)size, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void
hexify(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
load(struct tls_cred *c, const char *crt, const char *key)
{
	const char *err = NULL, *warn = NULL;
	int r = tls_cred_load(c, crt, key, &err, &warn);

	if (r < 0)
		printf("# load %s: %s\n", crt, err);
	return r;
}

static void
test_cred(void)
{
	struct tls_cred c;
	const char *err, *warn;
	char cert[512], key[512];
	int n;

	CHECK(load(&ec_cred, PKI "/ec.crt", PKI "/ec.key") == 0);
	CHECK(ec_cred.key_type == BR_KEYTYPE_EC);
	CHECK(ec_cred.issuer_key_type == BR_KEYTYPE_RSA);
	CHECK(ec_cred.chain_len == 1);
	CHECK(load(&rsa_cred, PKI "/rsa.crt", PKI "/rsa.key") == 0);
	CHECK(rsa_cred.key_type == BR_KEYTYPE_RSA);
	CHECK(load(&client_cred, PKI "/client.crt", PKI "/client.key") == 0);
	CHECK(load(&mallory_cred, XPKI "/mallory.crt", XPKI "/mallory.key")
	    == 0);
	CHECK(load(&server_as_client, PKI "/ec.crt", PKI "/ec.key") == 0);

	/* a chain file */
	CHECK(load(&c, PKI "/chain-ec.pem", PKI "/ec.key") == 0);
	CHECK(c.chain_len == 2);
	tls_cred_free(&c);
	/* key encodings: PKCS#1, PKCS#8 RSA, SEC1, PKCS#8 EC */
	CHECK(load(&c, PKI "/rsa.crt", XPKI "/rsa-pkcs1.key") == 0);
	tls_cred_free(&c);
	CHECK(load(&c, PKI "/ec.crt", XPKI "/ec-pkcs8.key") == 0);
	CHECK(c.key_type == BR_KEYTYPE_EC);
	tls_cred_free(&c);
	/* files without a trailing newline */
	CHECK(load(&c, XPKI "/ec-nonl.crt", XPKI "/ec-nonl.key") == 0);
	tls_cred_free(&c);
	/* one file with both; also via tls_cred_paths with no --key */
	CHECK(tls_cred_paths(XPKI "/ec-combined.pem", NULL, cert, key,
	    sizeof cert) == 1);
	CHECK_STR(key, XPKI "/ec-combined.pem");
	CHECK(load(&c, cert, key) == 0);
	tls_cred_free(&c);
	/* permission warning */
	warn = NULL;
	CHECK(tls_cred_load(&c, PKI "/ec.crt", XPKI "/ec-open.key", &err,
	    &warn) == 0);
	CHECK(warn != NULL && strstr(warn, "group or others") != NULL);
	tls_cred_free(&c);
	warn = "x";
	CHECK(tls_cred_load(&c, PKI "/ec.crt", PKI "/ec.key", &err,
	    &warn) == 0);
	CHECK(warn == NULL);
	tls_cred_free(&c);
	/* errors */
	err = NULL;
	CHECK(tls_cred_load(&c, PKI "/nonexistent.crt", PKI "/ec.key", &err,
	    NULL) == -1);
	CHECK(err != NULL && strstr(err, "nonexistent.crt") != NULL);
	CHECK(tls_cred_load(&c, PKI "/ec.crt", PKI "/rsa.key", &err, NULL)
	    == -1);
	CHECK(err != NULL && strstr(err, "does not match") != NULL);
	CHECK(tls_cred_load(&c, PKI "/ec.key", PKI "/ec.key", &err, NULL)
	    == -1);
	CHECK(err != NULL && strstr(err, "no CERTIFICATE") != NULL);
	CHECK(tls_cred_load(&c, PKI "/ec.crt", PKI "/ec.crt", &err, NULL)
	    == -1);
	CHECK(err != NULL && strstr(err, "no unencrypted private key") != NULL);
	/* $CREDENTIALS_DIRECTORY */
	unsetenv("CREDENTIALS_DIRECTORY");
	CHECK(tls_cred_paths(NULL, NULL, cert, key, sizeof cert) == 0);
	mkdir(XPKI "/creds", 0700);
	n = system("cp " PKI "/ec.crt " XPKI "/creds/tls.crt && cp "
	    PKI "/ec.key " XPKI "/creds/tls.key");
	CHECK(n == 0);
	setenv("CREDENTIALS_DIRECTORY", getcwd(cert, sizeof cert), 1);
	CHECK(tls_cred_paths(NULL, NULL, cert, key, sizeof cert) == 0);
	snprintf(key, sizeof key, "%s/" XPKI "/creds", getenv(
	    "CREDENTIALS_DIRECTORY"));
	setenv("CREDENTIALS_DIRECTORY", key, 1);
	CHECK(tls_cred_paths(NULL, NULL, cert, key, sizeof cert) == 1);
	CHECK(strstr(cert, "/creds/tls.crt") != NULL);
	CHECK(strstr(key, "/creds/tls.key") != NULL);
	CHECK(load(&c, cert, key) == 0);
	tls_cred_free(&c);
	CHECK(tls_cred_paths("/x.crt", "/x.key", cert, key, sizeof cert)
	    == 1);
	CHECK_STR(cert, "/x.crt");
	unsetenv("CREDENTIALS_DIRECTORY");

	/* anchors */
	CHECK(tls_anchors_load(&ca, PKI "/ca.pem", &err) == 0);
	CHECK(ca.n == 1 && (ca.ta[0].flags & BR_X509_TA_CA));
	CHECK(tls_anchors_load(&other_ca, XPKI "/other-ca.pem", &err) == 0);
	tls_anchors_free(&other_ca);
	CHECK(tls_anchors_load(&other_ca, PKI "/none.pem", &err) == -1);
	CHECK(tls_anchors_load(&other_ca, PKI "/ec.key", &err) == -1);
	CHECK(tls_anchors_load(&other_ca, XPKI "/other-ca.pem", &err) == 0);
	if (access(TLS_SYSTEM_CA, R_OK) == 0) {
		struct tls_anchors sys;
		CHECK(tls_anchors_load(&sys, NULL, &err) == 0);
		CHECK(sys.n > 50);
		tls_anchors_free(&sys);
	}
	CHECK_STR(tls_error_text(BR_ERR_X509_BAD_SERVER_NAME),
	    "certificate does not match the server name");
	CHECK_STR(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 40),
	    "received fatal alert: handshake_failure");
}

/* The client side of a pair test, in a child process. Exit codes: 0 ok,
 * 2 handshake failed, 3 bad name error, 4 data mismatch, 5 STARTTLS. */
static int
client_child(int fd, const char *name, const struct tls_cred *cred,
    int starttls, int silent)
{
	const char *err;
	char line[128];
	static char rb[1 << 20];
	long r;
	size_t got;

	io_init(&cio, fd, fd);
	io_set_timeouts(&cio, 10, 0);
	if (starttls) {
		/* plaintext first, with injected bytes after STARTTLS */
		io_puts(&cio, "EHLO x\r\nSTARTTLS\r\nRSET\r\n");
		if (io_getline(&cio, line, sizeof line, NULL) < 0 ||
		    strcmp(line, "250 hi") != 0)
			return 5;
		if (io_getline(&cio, line, sizeof line, NULL) < 0 ||
		    strcmp(line, "220 go ahead") != 0 || io_pending(&cio) != 0)
			return 5;
	}
	if (tls_client_start(&ct, &ca, name, cred, fd, fd, deadline_in(10),
	    &err) < 0) {
		if (tls_last_error(&ct) == BR_ERR_X509_BAD_SERVER_NAME)
			return 3;
		return 2;
	}
	if (silent) {
		sleep(3);
		return 0;
	}
	io_use_tls(&cio, &ct);
	io_puts(&cio, "hello\r\n");
	if (io_getline(&cio, line, sizeof line, NULL) < 0)
		return 4;
	if (strncmp(line, "world ", 6) != 0 ||
	    strcmp(line + 6, tls_suite_name(&ct)) != 0)
		return 4;
	for (got = 0; got < sizeof rb; got += (size_t)r) {
		r = io_read(&cio, rb + got, sizeof rb - got);
		if (r <= 0)
			return 4;
	}
	if (memcmp(rb, big, sizeof rb) != 0)
		return 4;
	io_puts(&cio, "bye\r\n");
	io_flush(&cio);
	if (io_read(&cio, line, sizeof line) != 0)
		return 4;   /* server's close_notify */
	return 0;
}

struct pair {
	const struct tls_cred *server;
	const struct tls_anchors *client_ca;
	const char *name;
	const struct tls_cred *client;
	int starttls, silent;
	/* results */
	int server_ok;
	int child_rc;
	char suite[64];
};

static void
run_pair(struct pair *p)
{
	int sv[2], stv;
	char line[128];
	const char *err = NULL;
	pid_t pid;
	int n;

	p->server_ok = 0;
	p->suite[0] = '\0';
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		CHECK(0);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(client_child(sv[1], p->name, p->client, p->starttls,
		    p->silent));
	}
	close(sv[1]);
	io_init(&sio, sv[0], sv[0]);
	io_set_timeouts(&sio, 10, 0);
	if (p->starttls) {
		CHECK(io_getline(&sio, line, sizeof line, NULL) == 6);
		io_puts(&sio, "250 hi\r\n");
		CHECK(io_getline(&sio, line, sizeof line, NULL) == 8);
		CHECK_STR(line, "STARTTLS");
		CHECK(io_pending(&sio) == 6);
		CHECK(io_discard_pending(&sio) == 6);
		io_puts(&sio, "220 go ahead\r\n");
		CHECK(io_flush(&sio) == 0);
	}
	if (tls_server_start(&st, p->server, p->client_ca, sv[0], sv[0],
	    deadline_in(10), &err) < 0) {
		printf("# server: %s\n", err);
		goto done;
	}
	snprintf(p->suite, sizeof p->suite, "%s", tls_suite_name(&st));
	CHECK_STR(tls_version_name(&st), "TLSv1.2");
	io_use_tls(&sio, &st);
	if (p->silent) {
		io_set_timeouts(&sio, 1, 0);
		CHECK(io_getline(&sio, line, sizeof line, NULL) == IO_TIMEOUT);
		p->server_ok = 1;
		goto done;
	}
	n = io_getline(&sio, line, sizeof line, NULL);
	CHECK(n == 5);
	CHECK_STR(line, "hello");
	io_printf(&sio, "world %s\r\n", tls_suite_name(&st));
	CHECK(io_write(&sio, big, sizeof big) == 0);
	n = io_getline(&sio, line, sizeof line, NULL);
	CHECK(n == 3);
	tls_close(&st, deadline_in(5));
	p->server_ok = 1;
done:
	close(sv[0]);
	waitpid(pid, &stv, 0);
	p->child_rc = WIFEXITED(stv) ? WEXITSTATUS(stv) : 99;
}

static void
test_pairs(void)
{
	struct pair p;
	char want[128];

	memset(&p, 0, sizeof p);
	p.server = &ec_cred;
	p.name = "localhost";
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK_STR(p.suite, "ECDHE-ECDSA-AES128-GCM-SHA256");
	CHECK(sio.bytes_out > sizeof big && sio.bytes_in == 12);

	p.server = &rsa_cred;
	p.name = "LOCALHOST";
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK_STR(p.suite, "ECDHE-RSA-AES128-GCM-SHA256");

	/* wrong server name */
	p.server = &ec_cred;
	p.name = "mail.example.com";
	run_pair(&p);
	CHECK(!p.server_ok);
	CHECK(p.child_rc == 3);

	/* STARTTLS upgrade after plaintext lines, injected bytes dropped */
	p.name = "localhost";
	p.starttls = 1;
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	p.starttls = 0;

	/* silent client after the handshake: idle timeout through TLS */
	p.silent = 1;
	run_pair(&p);
	CHECK(p.server_ok);
	p.silent = 0;

	/* client certificates */
	p.client_ca = &ca;
	p.client = NULL;
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK(st.peer.presented == 0 && st.peer.verified == 0);

	p.client = &client_cred;
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK(st.peer.presented == 1);
	CHECK(st.peer.verified == 1);
	if (!st.peer.verified)
		printf("# x509: %d %s\n", st.x509_err,
		    tls_error_text(st.x509_err));
	CHECK(st.peer.eku_ok == 1);
	CHECK_STR(st.peer.email, "alice@example.org");
	CHECK_STR(st.peer.cn, "alice");
	read_line_file(XPKI "/client.serial", want, sizeof want);
	CHECK_STR(st.peer.serial_hex, want);
	read_line_file(XPKI "/client.fp", want, sizeof want);
	{
		char fp[65];
		hexify(st.peer.sha256, 32, fp);
		CHECK_STR(fp, want);
	}

	p.server = &rsa_cred;
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK(st.peer.verified == 1);
	p.server = &ec_cred;

	p.client = &mallory_cred;   /* same names, unknown CA */
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK(st.peer.presented == 1);
	CHECK(st.peer.verified == 0);
	CHECK_STR(st.peer.email, "alice@example.org");

	p.client = &server_as_client;   /* EKU serverAuth only */
	run_pair(&p);
	CHECK(p.server_ok && p.child_rc == 0);
	CHECK(st.peer.presented == 1);
	CHECK(st.peer.verified == 1);
	CHECK(st.peer.eku_ok == 0);
	CHECK_STR(st.peer.email, "");
	CHECK_STR(st.peer.cn, "localhost");
}

/* One s_client run against our server on a loopback port. out gets
 * s_client's output; returns 1 when our handshake succeeded. */
static int
with_openssl(const struct tls_cred *cred, const struct tls_anchors *cca,
    const char *args, char *out, size_t outsize)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	char cmd[1024], line[128];
	const char *err = NULL;
	int l, s, ok = 0, stv;
	pid_t pid;
	FILE *f;
	size_t n;

	out[0] = '\0';
	l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0
	    || getsockname(l, (struct sockaddr *)&a, &len) != 0) {
		CHECK(0);
		close(l);
		return 0;
	}
	snprintf(cmd, sizeof cmd, "printf 'PING\\r\\n' | timeout 10 openssl "
	    "s_client -connect 127.0.0.1:%u -servername localhost -ign_eof "
	    "%s > " XPKI "/s_client.out 2>&1", ntohs(a.sin_port), args);
	pid = fork();
	if (pid == 0) {
		close(l);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (fd_wait(l, POLLIN, deadline_in(10)) == 1 &&
	    (s = accept(l, NULL, NULL)) >= 0) {
		if (tls_server_start(&st, cred, cca, s, s, deadline_in(10),
		    &err) == 0) {
			io_init(&sio, s, s);
			io_set_timeouts(&sio, 10, 0);
			io_use_tls(&sio, &st);
			if (io_getline(&sio, line, sizeof line, NULL) == 4) {
				io_printf(&sio, "PONG %s %s %d\r\n",
				    tls_suite_name(&st), st.peer.email,
				    st.peer.verified);
				io_flush(&sio);
				ok = 1;
			}
			tls_close(&st, deadline_in(5));
		} else
			printf("# server refused: %s\n", err);
		close(s);
	}
	close(l);
	waitpid(pid, &stv, 0);
	f = fopen(XPKI "/s_client.out", "r");
	if (f != NULL) {
		n = fread(out, 1, outsize - 1, f);
		out[n] = '\0';
		fclose(f);
	}
	return ok;
}

static void
test_openssl(void)
{
	static char out[65536];
	int ok;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		printf("SKIP: openssl not installed\n");
		return;
	}
	ok = with_openssl(&ec_cred, NULL, "", out, sizeof out);
	CHECK(ok);
	CHECK(strstr(out, "PONG ECDHE-ECDSA-AES128-GCM-SHA256") != NULL);
	CHECK(strstr(out, "Protocol  : TLSv1.2") != NULL);
	/* a chain ending in its root is sent without the root; one that
	 * does not end in a self-issued certificate is sent whole */
	{
		struct tls_cred chain;

		CHECK(load(&chain, PKI "/chain-ec.pem", PKI "/ec.key") == 0);
		ok = with_openssl(&chain, NULL, "-showcerts -CAfile " PKI
		    "/ca.pem", out, sizeof out);
		CHECK(ok);
		CHECK(strstr(out, " 0 s:") != NULL);
		CHECK(strstr(out, " 1 s:") == NULL);
		CHECK(strstr(out, "Verify return code: 0 (ok)") != NULL);
		tls_cred_free(&chain);
		CHECK(system("cat " PKI "/ec.crt " PKI "/client.crt > " XPKI
		    "/odd-chain.pem") == 0);
		CHECK(load(&chain, XPKI "/odd-chain.pem", PKI "/ec.key") == 0);
		ok = with_openssl(&chain, NULL, "-showcerts", out,
		    sizeof out);
		CHECK(ok);
		CHECK(strstr(out, " 1 s:") != NULL);
		tls_cred_free(&chain);
	}

	ok = with_openssl(&rsa_cred, NULL, "-tls1_2", out, sizeof out);
	CHECK(ok);
	CHECK(strstr(out, "PONG ECDHE-RSA-AES128-GCM-SHA256") != NULL);

	/* server preference: the client prefers ChaCha20, we pick GCM */
	ok = with_openssl(&ec_cred, NULL, "-tls1_2 -cipher "
	    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384",
	    out, sizeof out);
	CHECK(ok);
	CHECK(strstr(out, "PONG ECDHE-ECDSA-AES256-GCM-SHA384") != NULL);
	ok = with_openssl(&ec_cred, NULL, "-tls1_2 -cipher "
	    "ECDHE-ECDSA-CHACHA20-POLY1305", out, sizeof out);
	CHECK(ok);
	CHECK(strstr(out, "PONG ECDHE-ECDSA-CHACHA20-POLY1305") != NULL);

	/* refused: TLS 1.1, TLS 1.0, CBC suites, RSA key exchange */
	ok = with_openssl(&ec_cred, NULL,
	    "-tls1_1 -cipher DEFAULT:@SECLEVEL=0", out, sizeof out);
	CHECK(!ok && strstr(out, "PONG") == NULL);
	ok = with_openssl(&rsa_cred, NULL,
	    "-tls1 -cipher DEFAULT:@SECLEVEL=0", out, sizeof out);
	CHECK(!ok && strstr(out, "PONG") == NULL);
	ok = with_openssl(&rsa_cred, NULL, "-tls1_2 -cipher AES128-SHA256",
	    out, sizeof out);
	CHECK(!ok && strstr(out, "PONG") == NULL);
	ok = with_openssl(&rsa_cred, NULL, "-tls1_2 -cipher AES128-GCM-SHA256",
	    out, sizeof out);
	CHECK(!ok && strstr(out, "PONG") == NULL);
	ok = with_openssl(&ec_cred, NULL,
	    "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256", out, sizeof out);
	CHECK(!ok && strstr(out, "PONG") == NULL);

	/* client certificates */
	ok = with_openssl(&ec_cred, &ca, "-cert " PKI "/client.crt -key "
	    PKI "/client.key", out, sizeof out);
	CHECK(ok);
	CHECK(strstr(out, "PONG ECDHE-ECDSA-AES128-GCM-SHA256 "
	    "alice@example.org 1") != NULL);
	CHECK(st.peer.presented && st.peer.verified && st.peer.eku_ok);
	ok = with_openssl(&rsa_cred, &ca, "-cert " XPKI "/mallory.crt -key "
	    XPKI "/mallory.key", out, sizeof out);
	CHECK(ok);
	CHECK(strstr(out, "alice@example.org 0") != NULL);
	CHECK(st.peer.presented && !st.peer.verified);
	ok = with_openssl(&ec_cred, &ca, "", out, sizeof out);
	CHECK(ok);
	CHECK(!st.peer.presented && !st.peer.verified);
}

/* Writes text to XPKI/name; returns the path (static buffer). */
static const char *
put_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, XPKI "/%s", name);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

/* Reads XPKI/name whole into buf. */
static size_t
get_file(const char *name, char *buf, size_t size)
{
	char path[256];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof path, XPKI "/%s", name);
	f = fopen(path, "r");
	if (f != NULL) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

/* The PEM reader (blanks, CRLF, text around objects, bad base64), and
 * the deferred key check of TLS_CRED_DEFER_CHECK. */
static void
test_pem_defer(void)
{
	static char pem[16384], text[20000];
	struct tls_cred c;
	const char *err, *path;
	char *p;
	size_t i, o;

	CHECK(system("cd " XPKI " && openssl ecparam -name prime256v1 "
	    "-genkey -noout -out other-ec.key 2>/dev/null") == 0);
	CHECK(get_file("../pki/ec.crt", pem, sizeof pem) > 0);
	/* CRLF, trailing blanks, text before and after */
	o = (size_t)snprintf(text, sizeof text, "Bag Attributes\r\n"
	    "    localKeyID: 01\r\n");
	for (i = 0; pem[i] && o + 4 < sizeof text; i++) {
		if (pem[i] == '\n') {
			text[o++] = ' ';
			text[o++] = '\r';
		}
		text[o++] = pem[i];
	}
	snprintf(text + o, sizeof text - o, "trailing words\r\n");
	path = put_file("crlf.crt", text);
	CHECK(load(&c, path, PKI "/ec.key") == 0);
	CHECK(c.chain_len == 1);
	tls_cred_free(&c);
	/* a character that is not base64 in the body */
	snprintf(text, sizeof text, "%s", pem);
	p = strchr(text, '\n');
	CHECK(p != NULL);
	if (p != NULL)
		p[5] = '*';
	path = put_file("badchar.crt", text);
	err = NULL;
	CHECK(tls_cred_load(&c, path, PKI "/ec.key", &err, NULL) == -1);
	CHECK(err != NULL && strstr(err, "bad PEM data") != NULL);
	/* no END line */
	snprintf(text, sizeof text, "%s", pem);
	p = strstr(text, "-----END");
	if (p != NULL)
		*p = '\0';
	path = put_file("noend.crt", text);
	CHECK(tls_cred_load(&c, path, PKI "/ec.key", &err, NULL) == -1);
	/* a truncated quantum */
	path = put_file("trunc.key", "-----BEGIN EC PRIVATE KEY-----\n"
	    "not a key\n-----END EC PRIVATE KEY-----\n");
	CHECK(tls_cred_load(&c, PKI "/ec.crt", path, &err, NULL) == -1);
	CHECK(err != NULL && strstr(err, "bad PEM data") != NULL);
	/* data after padding */
	path = put_file("pad.key", "-----BEGIN EC PRIVATE KEY-----\n"
	    "AA==AAAA\n-----END EC PRIVATE KEY-----\n");
	CHECK(tls_cred_load(&c, PKI "/ec.crt", path, &err, NULL) == -1);

	/* deferred check: a matching pair */
	CHECK(tls_cred_load_flags(&c, PKI "/chain-ec.pem", PKI "/ec.key",
	    TLS_CRED_DEFER_CHECK, &err, NULL) == 0);
	CHECK(c.unchecked == 1 && c.chain_len == 2);
	CHECK(tls_cred_check(&c, PKI "/chain-ec.pem", &err) == 0);
	CHECK(c.unchecked == 0 && c.issuer_key_type == BR_KEYTYPE_RSA);
	CHECK(tls_cred_check(&c, PKI "/chain-ec.pem", &err) == 0);
	tls_cred_free(&c);
	/* another EC key: loads, the check says so */
	CHECK(tls_cred_load_flags(&c, PKI "/ec.crt", XPKI "/other-ec.key",
	    TLS_CRED_DEFER_CHECK, &err, NULL) == 0);
	err = NULL;
	CHECK(tls_cred_check(&c, PKI "/ec.crt", &err) == -1);
	CHECK(err != NULL && strstr(err, "does not match") != NULL);
	tls_cred_free(&c);
	/* without the flag, at once */
	CHECK(tls_cred_load(&c, PKI "/ec.crt", XPKI "/other-ec.key", &err,
	    NULL) == -1);
	/* RSA keys are always checked */
	CHECK(tls_cred_load_flags(&c, PKI "/ec.crt", PKI "/rsa.key",
	    TLS_CRED_DEFER_CHECK, &err, NULL) == -1);
	CHECK(err != NULL && strstr(err, "does not match") != NULL);
}

/* 1 when needle occurs anywhere in p[0..n) */
static int
has(const void *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle)) != NULL;
}

/* Client of test_wipe: a secret line split over two records, a third
 * record read by the server in small pieces. */
static int
wipe_child(int fd)
{
	const char *err;
	char line[64], rec3[160];

	io_init(&cio, fd, fd);
	io_set_timeouts(&cio, 10, 0);
	if (tls_client_start(&ct, &ca, "localhost", NULL, fd, fd,
	    deadline_in(10), &err) < 0)
		return 2;
	io_use_tls(&cio, &ct);
	io_puts(&cio, "PASS s3cr");
	io_flush(&cio);
	io_puts(&cio, "et-XYZZY\r\nNEXT\r\n");
	io_flush(&cio);
	memset(rec3, 'z', sizeof rec3);
	memcpy(rec3, "AUTH-SECRET-QQ", 14);
	memcpy(rec3 + sizeof rec3 - 2, "\r\n", 2);
	io_write(&cio, rec3, sizeof rec3);
	io_flush(&cio);
	if (io_getline(&cio, line, sizeof line, NULL) < 0 ||
	    strcmp(line, "ok") != 0)
		return 4;
	return 0;
}

/* issue 16 item 4: the plaintext of a secret line is wiped from the io
 * buffer and from BearSSL's input buffer (where records are decrypted
 * in place), and data not handed out yet survives the wipe. */
static void
test_wipe(void)
{
	int sv[2], stv;
	char line[128], piece[32], rest[200];
	const char *err = NULL;
	size_t got;
	long r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		CHECK(0);
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(wipe_child(sv[1]));
	}
	close(sv[1]);
	io_init(&sio, sv[0], sv[0]);
	io_set_timeouts(&sio, 10, 0);
	if (tls_server_start(&st, &ec_cred, NULL, sv[0], sv[0],
	    deadline_in(10), &err) < 0) {
		printf("# server: %s\n", err);
		CHECK(0);
		goto done;
	}
	io_use_tls(&sio, &st);
	CHECK(io_getline(&sio, line, sizeof line, NULL) == 17);
	CHECK_STR(line, "PASS s3cret-XYZZY");
	explicit_bzero(line, sizeof line);
	/* there before (the test can fail) ... */
	CHECK(has(&sio, sizeof sio, "et-XYZZY"));
	CHECK(has(&st, sizeof st, "et-XYZZY"));
	io_wipe_consumed(&sio);
	/* ... and nowhere after */
	CHECK(!has(&sio, sizeof sio, "et-XYZZY"));
	CHECK(!has(&sio, sizeof sio, "PASS s3cr"));
	CHECK(!has(&st, sizeof st, "et-XYZZY"));
	CHECK(!has(&st, sizeof st, "PASS s3cr"));
	CHECK(io_getline(&sio, line, sizeof line, NULL) == 4);
	CHECK_STR(line, "NEXT");
	/* a record handed out in part: the rest stays in the engine */
	r = tls_read(&st, piece, 20, deadline_in(10));
	CHECK(r == 20 && memcmp(piece, "AUTH-SECRET-QQzzzzzz", 20) == 0);
	CHECK(tls_pending(&st) == 140);
	CHECK(has(&st, sizeof st, "AUTH-SECRET-QQ"));
	tls_wipe_consumed(&st);
	CHECK(!has(&st, sizeof st, "AUTH-SECRET-QQ"));
	CHECK(tls_pending(&st) == 140);
	for (got = 0; got < 140; got += (size_t)r) {
		r = tls_read(&st, rest + got, 140 - got, deadline_in(10));
		if (r <= 0)
			break;
	}
	CHECK(got == 140 && rest[137] == 'z' && memcmp(rest + 138, "\r\n", 2) == 0);
	for (got = 0; got < 138; got++)
		if (rest[got] != 'z')
			break;
	CHECK(got == 138);
	io_puts(&sio, "ok\r\n");
	CHECK(io_flush(&sio) == 0);
	tls_close(&st, deadline_in(5));
done:
	close(sv[0]);
	waitpid(pid, &stv, 0);
	CHECK(WIFEXITED(stv) && WEXITSTATUS(stv) == 0);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (system("tests/mkcerts " PKI) != 0 || system(mkextra) != 0) {
		printf("SKIP: cannot make test certificates\n");
		printf("0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + (i >> 11));
	test_cred();
	test_pem_defer();
	test_pairs();
	test_wipe();
	test_openssl();
	tls_cred_free(&ec_cred);
	tls_cred_free(&rsa_cred);
	tls_cred_free(&client_cred);
	tls_cred_free(&mallory_cred);
	tls_cred_free(&server_as_client);
	tls_anchors_free(&ca);
	tls_anchors_free(&other_ca);
	return TEST_SUMMARY();
}
