/* main.c - pop3-handler start-up: options, the connection fds (pipes,
 * inetd socket, systemd fd 3), the peer, TLS credentials, the privilege
 * drop, then one POP3 session and its one-line summary in the log. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3.h"
#include "proxy.h"
#include "startup.h"
#include "throttle.h"
#include "tls.h"
#include "tls_cache.h"
#include "util.h"

#define EX_USAGE_CODE 64

static struct pop3 session;
static struct pop3_opts opts;

static const char usage_text[] =
"usage: pop3-handler [options]\n"
"Serves one POP3 connection on stdin/stdout (or on fd 3 from systemd).\n"
"  --users PATH            user database (CDB), default " USERDB_DEFAULT "\n"
"  --tls none|starttls|implicit   TLS mode, default none\n"
"  --cert PATH --key PATH  PEM certificate chain and key (default\n"
"                          $CREDENTIALS_DIRECTORY/tls.crt and tls.key)\n"
"  --client-ca PATH        request client certificates from this CA\n"
"                          (AUTH EXTERNAL)\n"
"  --client-revoked PATH   CDB of revoked serials / SHA-256 fingerprints\n"
"  --tls-session-cache PATH  share TLS sessions for resumption through\n"
"                          this file (holds master secrets; default off)\n"
"  --tls-session-lifetime SECONDS  how long a session may be resumed,\n"
"                          default 3600, at most 86400\n"
"  --allow-plaintext-auth  allow USER/PASS and AUTH PLAIN without TLS\n"
"                          from any address\n"
"  --hostname NAME         name in the greeting's APOP timestamp\n"
"  --timeout SECONDS       wait for each command line, default 600\n"
"  --session-timeout SECONDS  whole session limit, default 7200, 0 none\n"
"  --user NAME             when started as root, run as NAME\n"
"  --allow-root            serve as root when started as root without\n"
"                          --user (refused otherwise)\n"
"  --proxy-from CIDRS      connections from these addresses begin with a\n"
"                          PROXY v1/v2 header naming the client\n"
"  --throttle-file PATH    per-address failure state, default\n"
"                          " THROTTLE_DEFAULT "\n"
"  --max-errors N          errors in a row before closing, default 10\n"
"  --fail-delay SECONDS    delay after the n-th failed login is n times\n"
"                          this, default 1\n"
"  --debug                 log commands and state changes\n"
"  --help                  this text\n"
"  --version               the version\n";

enum {
	O_USERS = 256, O_TLS, O_CERT, O_KEY, O_CLIENT_CA, O_CLIENT_REVOKED,
	O_TLS_CACHE, O_TLS_LIFETIME,
	O_PLAIN, O_HOSTNAME,
	O_TIMEOUT, O_SESSION_TIMEOUT, O_USER, O_ALLOW_ROOT, O_THROTTLE,
	O_MAX_ERRORS, O_FAIL_DELAY, O_DEBUG, O_HELP, O_VERSION, O_PROXY_FROM
};

static const struct option longopts[] = {
	{ "users", required_argument, NULL, O_USERS },
	{ "tls", required_argument, NULL, O_TLS },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "client-ca", required_argument, NULL, O_CLIENT_CA },
	{ "client-revoked", required_argument, NULL, O_CLIENT_REVOKED },
	{ "tls-session-cache", required_argument, NULL, O_TLS_CACHE },
	{ "tls-session-lifetime", required_argument, NULL, O_TLS_LIFETIME },
	{ "allow-plaintext-auth", no_argument, NULL, O_PLAIN },
	{ "hostname", required_argument, NULL, O_HOSTNAME },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "session-timeout", required_argument, NULL, O_SESSION_TIMEOUT },
	{ "user", required_argument, NULL, O_USER },
	{ "allow-root", no_argument, NULL, O_ALLOW_ROOT },
	{ "throttle-file", required_argument, NULL, O_THROTTLE },
	{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
	{ "fail-delay", required_argument, NULL, O_FAIL_DELAY },
	{ "debug", no_argument, NULL, O_DEBUG },
	{ "proxy-from", required_argument, NULL, O_PROXY_FROM },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void usage_error(const char *what, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof msg, "%s%s%s", what, arg ? ": " : "",
	    arg ? arg : "");
	if (startup_stderr_was_client())
		log_msg(LOG_ERR, "configuration error: %s", msg);
	else
		fprintf(stderr, "pop3-handler: %s\n%s", msg, usage_text);
	exit(EX_USAGE_CODE);
}

static unsigned num_opt(const char *name, const char *arg, uint64_t max)
{
	uint64_t v;

	if (parse_uint(arg, strlen(arg), max, &v) < 0)
		usage_error("bad number", name);
	return (unsigned)v;
}

static void parse_opts(int argc, char **argv, struct pop3_opts *o)
{
	int c;

	o->users = USERDB_DEFAULT;
	o->throttle = THROTTLE_DEFAULT;
	o->tls_mode = POP3_TLS_NONE;
	o->timeout = 600;
	o->session_timeout = 7200;
	o->max_errors = 10;
	o->fail_delay = 1;
	o->tls_cache_lifetime = TLS_CACHE_LIFETIME_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case O_USERS: o->users = optarg; break;
		case O_TLS:
			if (strcmp(optarg, "none") == 0)
				o->tls_mode = POP3_TLS_NONE;
			else if (strcmp(optarg, "starttls") == 0)
				o->tls_mode = POP3_TLS_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				o->tls_mode = POP3_TLS_IMPLICIT;
			else
				usage_error("--tls must be none, starttls or "
				    "implicit", optarg);
			break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CLIENT_CA: o->client_ca = optarg; break;
		case O_CLIENT_REVOKED: o->client_revoked = optarg; break;
		case O_TLS_CACHE:
			if (!optarg[0])
				usage_error("--tls-session-cache needs a path",
				    NULL);
			o->tls_cache = optarg;
			break;
		case O_TLS_LIFETIME:
			o->tls_cache_lifetime = num_opt("--tls-session-lifetime",
			    optarg, TLS_CACHE_LIFETIME_MAX);
			if (!o->tls_cache_lifetime)
				usage_error("--tls-session-lifetime must be at "
				    "least 1", NULL);
			break;
		case O_PLAIN: o->allow_plaintext = 1; break;
		case O_HOSTNAME:
			if (!optarg[0] || strlen(optarg) > 253 ||
			    strpbrk(optarg, " \t\r\n<>@"))
				usage_error("bad --hostname", optarg);
			o->hostname = optarg;
			break;
		case O_TIMEOUT:
			o->timeout = num_opt("--timeout", optarg, 86400);
			if (!o->timeout)
				usage_error("--timeout must be at least 1",
				    NULL);
			break;
		case O_SESSION_TIMEOUT:
			o->session_timeout = num_opt("--session-timeout",
			    optarg, 7 * 86400);
			break;
		case O_USER: o->run_as = optarg; break;
		case O_ALLOW_ROOT: o->allow_root = 1; break;
		case O_THROTTLE: o->throttle = optarg; break;
		case O_MAX_ERRORS:
			o->max_errors = num_opt("--max-errors", optarg, 100000);
			break;
		case O_FAIL_DELAY:
			o->fail_delay = num_opt("--fail-delay", optarg, 60);
			break;
		case O_DEBUG: log_set_debug(1); break;
		case O_PROXY_FROM:
			if (proxy_from_valid(optarg) < 0)
				usage_error("bad --proxy-from", optarg);
			o->proxy_from = optarg;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			exit(0);
		case O_VERSION:
			printf("pop3-handler (postern) %s\n", POSTERN_VERSION);
			exit(0);
		case ':':
			usage_error("option needs an argument",
			    argv[optind - 1]);
			break;
		default:
			usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument", argv[optind]);
	if ((o->cert == NULL) != (o->key == NULL))
		usage_error("--cert and --key go together", NULL);
	if (o->tls_mode == POP3_TLS_NONE && o->client_ca)
		usage_error("--client-ca needs --tls starttls or implicit",
		    NULL);
}

static void summary(struct pop3 *s)
{
	char f[16][400];
	const char *fields[17];
	const char *tv, *ts, *cert;
	int n = 0;

	pop3_tls_summary(s, &tv, &ts, &cert);
#define FIELD(...) do { \
	snprintf(f[n], sizeof f[n], __VA_ARGS__); fields[n] = f[n]; n++; \
} while (0)
	FIELD("REMOTE_ADDR=%s", s->peer.addr);
	if (s->peer.via[0])
		FIELD("PROXY_VIA=%s", s->peer.via);
	FIELD("USER=%s", s->login[0] ? s->login : "-");
	FIELD("AUTH_MECH=%s", s->mech ? s->mech : "-");
	FIELD("TLS_VERSION=%s", tv[0] ? tv : "-");
	FIELD("TLS_CIPHER=%s", ts[0] ? ts : "-");
	FIELD("CLIENT_CERT=%s", cert[0] ? cert : "-");
	FIELD("MESSAGES=%llu", (unsigned long long)s->retrieved);
	FIELD("RETRIEVED=%llu", (unsigned long long)s->retrieved);
	FIELD("DELETED=%llu", (unsigned long long)s->deleted);
	if (s->gone)
		FIELD("GONE=%llu", (unsigned long long)s->gone);
	FIELD("BYTES_IN=%llu", (unsigned long long)s->io.bytes_in);
	FIELD("BYTES_OUT=%llu", (unsigned long long)s->io.bytes_out);
	FIELD("DURATION_MS=%lld", (long long)(clock_ms() - s->start_ms));
	FIELD("RESULT=%s", s->result ? s->result : "unknown");
#undef FIELD
	fields[n] = NULL;
	log_fields(LOG_INFO, "pop3 session", fields);
}

int main(int argc, char **argv)
{
	struct pop3 *s = &session;
	const char *error = NULL;

	signal(SIGPIPE, SIG_IGN);
	if (startup_fds() < 0)
		return 1;
	log_open("pop3-handler");
	parse_opts(argc, argv, &opts);

	s->opt = &opts;
	s->start_ms = clock_ms();
	s->mb.lock_fd = -1;
	peer_get(&s->peer);
	if (opts.hostname)
		copy_str(s->hostname, sizeof s->hostname, opts.hostname);
	else
		startup_hostname(s->hostname, sizeof s->hostname);

	/* Credentials are read before the privilege drop (a key readable
	 * only by root stays so). */
	if (pop3_tls_setup(s) < 0) {
		s->result = "tls-config-error";
		summary(s);
		return 1;
	}
	if (opts.run_as && startup_drop_user(opts.run_as, &error) < 0) {
		log_msg(LOG_ERR, "cannot switch to user %s: %s", opts.run_as,
		    error ? error : strerror(errno));
		return 1;
	}
	if (startup_refuse_root(opts.allow_root, &error) < 0) {
		log_msg(LOG_ERR, "%s", error);
		return 1;
	}
	if (proxy_accept(&s->peer, 0, opts.proxy_from, &error) < 0) {
		log_msg(LOG_NOTICE, "PROXY header from %s: %s: closing",
		    s->peer.via, error ? error : "?");
		s->result = "proxy-header-error";
		summary(s);
		return 1;
	}

	io_init(&s->io, 0, 1);
	io_set_timeouts(&s->io, opts.timeout, opts.session_timeout);
	if (opts.tls_mode == POP3_TLS_IMPLICIT && pop3_tls_implicit(s) < 0) {
		summary(s);
		return 1;
	}
	s->apop = pop3_apop_possible(opts.users);
	if (s->apop)
		pop3_make_timestamp(s);

	pop3_run(s);

	if (s->tls)
		tls_close(s->tls, io_deadline(&s->io));
	summary(s);
	return s->exit_code;
}
