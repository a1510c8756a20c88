/* main.c - etrn-client: connect to the relay, (STARTTLS,) (AUTH,) push the
 * local outbound queue, ask with ETRN for the mail the relay holds for
 * our nodes, QUIT, and optionally stay up a while so the relay's return
 * connection can arrive; or, with --atrn, ask with ATRN and receive the
 * mail on this same connection (atrn.c). Exit 0 / 75 / 69 / 64
 * (sysexits). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "addr.h"
#include "atrn.h"
#include "log.h"
#include "push.h"
#include "queue.h"
#include "smtpc.h"
#include "startup.h"
#include "tls.h"
#include "userdb.h"
#include "util.h"

#define EX_OK          0
#define EX_USAGE       64
#define EX_UNAVAILABLE 69
#define EX_TEMPFAIL    75

#define DEFAULT_CA      "/etc/ssl/certs/ca-certificates.crt"
#define DEFAULT_TIMEOUT 120
#define DEFAULT_SESSION 1800    /* the whole session, push included */
#define NODES_MAX       64
#define ATRN_PORT       366     /* RFC 2645 */
#define ATRN_LIST_MAX   480     /* "ATRN " + the list within 512 */
#define PASSWORD_MAX    256

enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };

struct opts {
	unsigned port;
	enum tls_mode tls;
	const char *ca;
	const char *helo;
	const char *auth_user;
	const char *auth_password_file;
	const char *push;
	const char *users;
	unsigned timeout;
	unsigned session;
	unsigned linger;
	const char *host;
	const char *nodes[NODES_MAX];
	size_t nnodes;
	int atrn;                       /* --atrn / --mode=atrn */
	const char *handler;            /* --smtp-handler */
	char *handler_args[ATRN_ARGS_MAX + 1];
	char handler_buf[ATRN_ARGS_SIZE];
	char handler_default[4096];
};

static struct smtpc sc;
static struct tls_anchors anchors;
static int status = EX_OK;

/* Records an outcome: permanent beats temporary beats success. */
static void
outcome(int ex)
{
	if (ex == EX_UNAVAILABLE || (ex == EX_TEMPFAIL && status == EX_OK))
		status = ex;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: etrn-client [options] HOST NODE...\n"
"Connects to the SMTP server HOST, pushes the local outbound queue (with\n"
"--push), then asks with ETRN for the mail HOST holds for each NODE\n"
"(a domain, @domain for a domain and its subdomains, or #queue).\n"
"With --atrn it asks with ATRN (RFC 2645 On-Demand Mail Relay) for the\n"
"NODE domains and receives their mail on the same connection: on 250,\n"
"smtp-handler serves the turned-around session.\n"
"\n"
"  --atrn, --mode=atrn       ATRN instead of ETRN (--mode=etrn or an\n"
"                            empty --mode= is the ETRN default)\n"
"  --port N                  server port (default 25; 465 with implicit;\n"
"                            366 with --atrn)\n"
"  --tls none|starttls|implicit\n"
"                            TLS mode (default none); starttls and implicit\n"
"                            verify the certificate for HOST\n"
"  --ca PATH                 trust anchors (default %s)\n"
"  --helo NAME               our name for EHLO (default: the host name)\n"
"  --auth-user USER          authenticate (AUTH PLAIN, over TLS or loopback)\n"
"  --auth-password-file PATH file whose first line is the password\n"
"  --push SPOOL              push SPOOL/outbound first\n"
"  --users PATH              user database (CDB) for bounces to local\n"
"                            senders (default %s)\n"
"  --timeout SECONDS         per network wait and per server reply\n"
"                            (default %d)\n"
"  --session-timeout SECONDS bound of the whole session, connect to QUIT\n"
"                            (default %d; 0 = none)\n"
"  --linger SECONDS          stay up this long after QUIT (default 0;\n"
"                            not with --atrn)\n"
"  --smtp-handler PATH       with --atrn: the server run on the turned\n"
"                            connection (default: ../libexec/postern/\n"
"                            smtp-handler beside etrn-client's folder)\n"
"  --smtp-handler-args 'ARGS'  with --atrn: more options for it, split at\n"
"                            blanks (it always gets --users PATH and\n"
"                            --session-status)\n"
"  --help, --version\n"
"Exit: 0 all nodes accepted (ATRN: all mail received, or none waiting)\n"
"and nothing left to push; 75 try again later; 69 permanent refusal\n"
"(459, 450 to ATRN, 5xx, no ETRN/ATRN, AUTH refused); 64 usage.\n",
	    DEFAULT_CA, USERDB_DEFAULT, DEFAULT_TIMEOUT, DEFAULT_SESSION);
}

static int
num_opt(const char *name, const char *s, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (parse_uint(s, strlen(s), max, &v) < 0) {
		fprintf(stderr, "etrn-client: %s: invalid number '%s'\n", name,
		    s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int
node_valid(const char *n)
{
	if (*n == '@' || *n == '#')
		n++;
	return *n && addr_domain_valid(n, strlen(n));
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "tls", required_argument, NULL, 't' },
		{ "ca", required_argument, NULL, 'c' },
		{ "helo", required_argument, NULL, 'H' },
		{ "auth-user", required_argument, NULL, 'u' },
		{ "auth-password-file", required_argument, NULL, 'P' },
		{ "push", required_argument, NULL, 's' },
		{ "users", required_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "session-timeout", required_argument, NULL, 'S' },
		{ "linger", required_argument, NULL, 'l' },
		{ "atrn", no_argument, NULL, 'a' },
		{ "mode", required_argument, NULL, 'm' },
		{ "smtp-handler", required_argument, NULL, 'x' },
		{ "smtp-handler-args", required_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, i;

	memset(o, 0, sizeof *o);
	o->ca = DEFAULT_CA;
	o->users = USERDB_DEFAULT;
	o->timeout = DEFAULT_TIMEOUT;
	o->session = DEFAULT_SESSION;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (num_opt("--port", optarg, 65535, &o->port) < 0 ||
			    o->port == 0)
				return -1;
			break;
		case 't':
			if (strcmp(optarg, "none") == 0)
				o->tls = TLS_NONE;
			else if (strcmp(optarg, "starttls") == 0)
				o->tls = TLS_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				o->tls = TLS_IMPLICIT;
			else {
				fprintf(stderr, "etrn-client: --tls: none, "
				    "starttls or implicit\n");
				return -1;
			}
			break;
		case 'c': o->ca = optarg; break;
		case 'H':
			if (!addr_domain_valid(optarg, strlen(optarg))) {
				fprintf(stderr, "etrn-client: --helo: not a "
				    "valid host name\n");
				return -1;
			}
			o->helo = optarg;
			break;
		case 'u': o->auth_user = optarg; break;
		case 'P': o->auth_password_file = optarg; break;
		case 's': o->push = optarg; break;
		case 'U': o->users = optarg; break;
		case 'T':
			if (num_opt("--timeout", optarg, 86400, &o->timeout) < 0
			    || o->timeout == 0)
				return -1;
			break;
		case 'S':
			if (num_opt("--session-timeout", optarg, 86400,
			    &o->session) < 0)
				return -1;
			break;
		case 'l':
			if (num_opt("--linger", optarg, 86400, &o->linger) < 0)
				return -1;
			break;
		case 'a': o->atrn = 1; break;
		case 'm':
			if (!*optarg || strcmp(optarg, "etrn") == 0)
				o->atrn = 0;
			else if (strcmp(optarg, "atrn") == 0)
				o->atrn = 1;
			else {
				fprintf(stderr, "etrn-client: --mode: etrn or "
				    "atrn\n");
				return -1;
			}
			break;
		case 'x':
			if (optarg[0] != '/') {
				fprintf(stderr, "etrn-client: --smtp-handler: "
				    "an absolute path\n");
				return -1;
			}
			o->handler = optarg;
			break;
		case 'X':
			if (atrn_split_args(optarg, o->handler_buf,
			    sizeof o->handler_buf, o->handler_args,
			    ATRN_ARGS_MAX) < 0) {
				fprintf(stderr, "etrn-client: --smtp-handler-"
				    "args: at most %d words, %d bytes\n",
				    ATRN_ARGS_MAX, ATRN_ARGS_SIZE);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EX_OK);
		case 'V':
			printf("etrn-client (postern) %s\n", POSTERN_VERSION);
			exit(EX_OK);
		default:
			fprintf(stderr, "etrn-client: unknown or incomplete "
			    "option '%s'\n", argv[optind - 1]);
			return -1;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "etrn-client: HOST and at least one NODE are "
		    "needed\n");
		return -1;
	}
	if (!!o->auth_user != !!o->auth_password_file) {
		fprintf(stderr, "etrn-client: --auth-user and "
		    "--auth-password-file go together\n");
		return -1;
	}
	o->host = argv[optind++];
	if (strlen(o->host) > 253 || strpbrk(o->host, " \t\r\n/")) {
		fprintf(stderr, "etrn-client: invalid HOST\n");
		return -1;
	}
	for (i = optind; i < argc; i++) {
		if (o->atrn && (argv[i][0] == '@' || argv[i][0] == '#')) {
			fprintf(stderr, "etrn-client: --atrn: NODE '%s': a "
			    "domain name only\n", argv[i]);
			return -1;
		}
		if (!node_valid(argv[i])) {
			fprintf(stderr, "etrn-client: invalid NODE '%s'\n",
			    argv[i]);
			return -1;
		}
		if (o->nnodes == NODES_MAX) {
			fprintf(stderr, "etrn-client: at most %d nodes\n",
			    NODES_MAX);
			return -1;
		}
		o->nodes[o->nnodes++] = argv[i];
	}
	if (o->atrn) {
		size_t len = 0;
		for (i = 0; (size_t)i < o->nnodes; i++)
			len += strlen(o->nodes[i]) + 1;
		if (len > ATRN_LIST_MAX) {
			fprintf(stderr, "etrn-client: --atrn: the NODE list "
			    "is longer than %d characters\n", ATRN_LIST_MAX);
			return -1;
		}
		if (o->linger) {
			fprintf(stderr, "etrn-client: --linger is for ETRN "
			    "only\n");
			return -1;
		}
		if (!o->handler) {
			if (atrn_default_handler(o->handler_default,
			    sizeof o->handler_default) < 0) {
				fprintf(stderr, "etrn-client: cannot tell "
				    "where smtp-handler is: give "
				    "--smtp-handler\n");
				return -1;
			}
			o->handler = o->handler_default;
		}
	}
	if (!o->port)
		o->port = o->atrn ? ATRN_PORT : o->tls == TLS_IMPLICIT ? 465 :
		    25;
	return 0;
}

/* Reads the first line of the password file. 0 / -1. */
static int
read_password(const char *path, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		log_msg(LOG_ERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		log_msg(LOG_WARNING, "%s: readable by group or others", path);
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		log_msg(LOG_ERR, "%s: empty password", path);
		return -1;
	}
	return 0;
}

/* Whether the connected peer is a loopback address. */
static int
peer_is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&ss;
		return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&ss;
		return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) &&
		    s->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

/* Maps a failed reply code to an exit status. */
static int
code_status(int code)
{
	return (code >= 500 && code < 600) ? EX_UNAVAILABLE : EX_TEMPFAIL;
}

/* Prints "NODE_OR_PREFIX: text" with the server's text made safe for a
 * terminal (control characters -> '?', as in the log). */
static void
print_safe(FILE *f, const char *prefix, const char *text)
{
	char line[SMTPC_REPLY_MAX + 600];
	int n = snprintf(line, sizeof line, "%s: %s", prefix, text);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	log_sanitize(line, (size_t)n);
	fprintf(f, "%s\n", line);
}

static int
fail(int ex, const char *what, const char *detail)
{
	char text[SMTPC_REPLY_MAX + 200], prefix[sizeof sc.peer + 16];

	snprintf(prefix, sizeof prefix, "etrn-client: %s", sc.peer[0] ?
	    sc.peer : "?");
	snprintf(text, sizeof text, "%s%s%s", what, detail ? ": " : "",
	    detail ? detail : "");
	print_safe(stderr, prefix, text);
	log_msg(LOG_ERR, "%s: %s%s%s", sc.peer[0] ? sc.peer : "?", what,
	    detail ? ": " : "", detail ? detail : "");
	outcome(ex);
	return -1;
}

static int
load_anchors(const struct opts *o)
{
	const char *err = NULL;

	if (tls_anchors_load(&anchors, o->ca, &err) < 0 || anchors.n == 0) {
		fprintf(stderr, "etrn-client: %s: %s\n", o->ca,
		    err ? err : "no CA certificates");
		return -1;
	}
	return 0;
}

/* Greeting, EHLO, TLS, AUTH. 0 / -1 (status set). */
static int
open_session(const struct opts *o, const char *helo)
{
	const char *err = NULL;
	int code, r;

	smtpc_set_session(&sc, o->session);
	if (smtpc_connect(&sc, o->host, o->port, o->timeout, &err) < 0) {
		snprintf(sc.peer, sizeof sc.peer, "%s:%u", o->host, o->port);
		return fail(EX_TEMPFAIL, "connection failed", err);
	}
	if (o->tls == TLS_IMPLICIT &&
	    smtpc_tls_start(&sc, &anchors, o->host, &err) < 0)
		return fail(EX_TEMPFAIL, "TLS handshake failed", err);
	code = smtpc_reply(&sc);
	if (code != 220)
		return fail(code == SMTPC_ERR ? EX_TEMPFAIL : code_status(code),
		    "greeting", sc.reply);
	code = smtpc_ehlo(&sc, helo);
	if (code < 200 || code >= 300)
		return fail(code == SMTPC_ERR ? EX_TEMPFAIL : code_status(code),
		    "EHLO refused", sc.reply);
	if (o->tls == TLS_STARTTLS) {
		if (!(sc.caps & SMTPC_CAP_STARTTLS))
			return fail(EX_UNAVAILABLE, "the server does not offer "
			    "STARTTLS", NULL);
		r = smtpc_starttls(&sc, &anchors, o->host, &err);
		if (r == 1)
			return fail(code_status(sc.code), "STARTTLS refused",
			    sc.reply);
		if (r < 0)
			return fail(EX_TEMPFAIL, "TLS handshake failed", err);
		code = smtpc_ehlo(&sc, helo);
		if (code < 200 || code >= 300)
			return fail(code == SMTPC_ERR ? EX_TEMPFAIL :
			    code_status(code), "EHLO after STARTTLS refused",
			    sc.reply);
	}
	if (sc.tls_on)
		log_msg(LOG_INFO, "%s: %s %s, certificate verified for %s",
		    sc.peer, tls_version_name(&sc.tls),
		    tls_suite_name(&sc.tls), o->host);
	if (o->auth_user) {
		char pw[PASSWORD_MAX];
		if (!(sc.caps & SMTPC_CAP_AUTH_PLAIN))
			return fail(EX_UNAVAILABLE, "the server does not offer "
			    "AUTH PLAIN", NULL);
		if (read_password(o->auth_password_file, pw, sizeof pw) < 0) {
			outcome(EX_UNAVAILABLE);
			return -1;
		}
		code = smtpc_auth_plain(&sc, o->auth_user, pw,
		    peer_is_loopback(sc.fd), &err);
		wipe(pw, sizeof pw);
		if (code == -1)
			return fail(EX_UNAVAILABLE, "AUTH not sent", err);
		if (code != 235)
			return fail(code == SMTPC_ERR ? EX_TEMPFAIL :
			    code_status(code), "AUTH refused", sc.reply);
		log_msg(LOG_INFO, "%s: authenticated as %s", sc.peer,
		    o->auth_user);
	}
	return 0;
}

static void
do_push(const struct opts *o, const char *helo)
{
	struct push_opts po;
	struct push_result pr;

	po.spool = o->push;
	po.users = o->users;
	po.helo = helo;
	po.relay = o->host;
	po.lock_wait = o->timeout;
	if (push_outbound(&sc, &po, &pr) < 0) {
		outcome(EX_TEMPFAIL);
		return;
	}
	if (pr.messages || pr.left || pr.busy)
		log_msg(LOG_INFO, "push: %u message(s): %u recipient(s) sent, "
		    "%u deferred, %u bounced; %u message(s) left%s",
		    pr.messages, pr.sent, pr.deferred, pr.bounced, pr.left,
		    pr.busy ? " (another run was pushing)" : "");
	if (pr.left || pr.busy || pr.broke)
		outcome(EX_TEMPFAIL);
}

/* ATRN NODE,NODE...: 250 turns the connection around (atrn_turn), 453
 * nothing waiting, 450 a node we may not collect, 451 not now. 1 when
 * the connection was handed over (not to be QUIT), else 0. */
static int
do_atrn(const struct opts *o)
{
	char list[ATRN_LIST_MAX + 1];
	struct atrn_opts ao;
	size_t i, len = 0;
	int code;

	if (!(sc.caps & SMTPC_CAP_ATRN)) {
		fail(EX_UNAVAILABLE, "the server does not advertise ATRN",
		    NULL);
		for (i = 0; i < o->nnodes; i++)
			printf("%s: not sent (the server does not offer ATRN)\n",
			    o->nodes[i]);
		return 0;
	}
	if (sc.code == SMTPC_ERR) {
		fail(EX_TEMPFAIL, "ATRN not sent", "connection lost");
		return 0;
	}
	for (i = 0; i < o->nnodes; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
		    i ? "," : "", o->nodes[i]);
	code = smtpc_cmd(&sc, "ATRN %s", list);
	print_safe(stdout, list, sc.reply);
	log_msg(LOG_INFO, "%s: ATRN %s: %s", sc.peer, list, sc.reply);
	if (code == SMTPC_ERR)
		outcome(EX_TEMPFAIL);
	else if (code == 453)
		;                       /* nothing waiting */
	else if (code == 450)
		outcome(EX_UNAVAILABLE);   /* a node we may not collect */
	else if (code == 250) {
		ao.handler = o->handler;
		ao.users = o->users;
		ao.args = o->handler_args;
		ao.timeout = o->timeout;
		fflush(stdout);
		outcome(atrn_turn(&sc, &ao));
		return 1;
	} else
		outcome(code_status(code));
	return 0;
}

int
main(int argc, char **argv)
{
	static struct opts o;
	char helo[256];
	size_t i;
	int code;

	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "Try 'etrn-client --help'.\n");
		return EX_USAGE;
	}
	if (startup_fds() < 0)
		return EX_TEMPFAIL;
	log_open("etrn-client");
	signal(SIGPIPE, SIG_IGN);
	if (o.helo)
		copy_str(helo, sizeof helo, o.helo);
	else
		startup_hostname(helo, sizeof helo);
	if (o.tls != TLS_NONE && load_anchors(&o) < 0)
		return EX_UNAVAILABLE;

	if (open_session(&o, helo) < 0) {
		smtpc_quit(&sc);
		return status;
	}
	if (o.push)
		do_push(&o, helo);
	if (o.atrn) {
		if (do_atrn(&o)) {
			sc.tls_on = 0;  /* close_notify went through the relay */
			smtpc_close(&sc);
			return status;
		}
	} else if (!(sc.caps & SMTPC_CAP_ETRN)) {
		fail(EX_UNAVAILABLE, "the server does not advertise ETRN",
		    NULL);
		for (i = 0; i < o.nnodes; i++)
			printf("%s: not sent (the server does not offer ETRN)\n",
			    o.nodes[i]);
	} else {
		for (i = 0; i < o.nnodes && sc.code != SMTPC_ERR; i++) {
			code = smtpc_cmd(&sc, "ETRN %s", o.nodes[i]);
			print_safe(stdout, o.nodes[i], sc.reply);
			log_msg(LOG_INFO, "%s: ETRN %s: %s", sc.peer, o.nodes[i],
			    sc.reply);
			if (code == SMTPC_ERR)
				outcome(EX_TEMPFAIL);
			else if (code == 459)
				outcome(EX_UNAVAILABLE);   /* RFC 1985: node not allowed */
			else if (code < 250 || code > 253)
				outcome(code_status(code));
		}
		for (; i < o.nnodes; i++) {
			printf("%s: not sent (connection lost)\n", o.nodes[i]);
			outcome(EX_TEMPFAIL);
		}
	}
	fflush(stdout);
	smtpc_quit(&sc);
	if (o.linger)
		sleep(o.linger);
	return status;
}
