/* options.c - pop3-handler's command line (pop3-handler(8) documents
 * every option): parsed into struct pop3_opts, numbers strictly, before
 * any session starts. A usage error is reported here (on stderr, or in
 * the log when stderr is the client's connection); main() turns the
 * result into the exit status. */
#include <stdio.h>
#include <string.h>
#include <getopt.h>

#include "log.h"
#include "pop3.h"
#include "proxy.h"
#include "startup.h"
#include "throttle.h"
#include "tls_cache.h"
#include "util.h"

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

/* Reports a usage error; returns -1. */
static int usage_error(const char *what, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof msg, "%s%s%s", what, arg ? ": " : "",
	    arg ? arg : "");
	if (startup_stderr_was_client())
		log_msg(LOG_ERR, "configuration error: %s", msg);
	else
		fprintf(stderr, "pop3-handler: %s\n%s", msg, usage_text);
	return -1;
}

/* A number option into *v_r, at most max. 0 / -1 (reported). */
static int num_opt(const char *name, const char *arg, uint64_t max,
    unsigned *v_r)
{
	uint64_t v;

	if (parse_uint(arg, strlen(arg), max, &v) < 0)
		return usage_error("bad number", name);
	*v_r = (unsigned)v;
	return 0;
}

int pop3_options(struct pop3_opts *o, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof *o);
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
				return usage_error("--tls must be none, "
				    "starttls or implicit", optarg);
			break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CLIENT_CA: o->client_ca = optarg; break;
		case O_CLIENT_REVOKED: o->client_revoked = optarg; break;
		case O_TLS_CACHE:
			if (!optarg[0])
				return usage_error("--tls-session-cache needs "
				    "a path", NULL);
			o->tls_cache = optarg;
			break;
		case O_TLS_LIFETIME:
			if (num_opt("--tls-session-lifetime", optarg,
			    TLS_CACHE_LIFETIME_MAX, &o->tls_cache_lifetime) < 0)
				return -1;
			if (!o->tls_cache_lifetime)
				return usage_error("--tls-session-lifetime "
				    "must be at least 1", NULL);
			break;
		case O_PLAIN: o->allow_plaintext = 1; break;
		case O_HOSTNAME:
			if (!optarg[0] || strlen(optarg) > 253 ||
			    strpbrk(optarg, " \t\r\n<>@"))
				return usage_error("bad --hostname", optarg);
			o->hostname = optarg;
			break;
		case O_TIMEOUT:
			if (num_opt("--timeout", optarg, 86400,
			    &o->timeout) < 0)
				return -1;
			if (!o->timeout)
				return usage_error("--timeout must be at "
				    "least 1", NULL);
			break;
		case O_SESSION_TIMEOUT:
			if (num_opt("--session-timeout", optarg, 7 * 86400,
			    &o->session_timeout) < 0)
				return -1;
			break;
		case O_USER: o->run_as = optarg; break;
		case O_ALLOW_ROOT: o->allow_root = 1; break;
		case O_THROTTLE: o->throttle = optarg; break;
		case O_MAX_ERRORS:
			if (num_opt("--max-errors", optarg, 100000,
			    &o->max_errors) < 0)
				return -1;
			break;
		case O_FAIL_DELAY:
			if (num_opt("--fail-delay", optarg, 60,
			    &o->fail_delay) < 0)
				return -1;
			break;
		case O_DEBUG: o->debug = 1; break;
		case O_PROXY_FROM:
			if (proxy_from_valid(optarg) < 0)
				return usage_error("bad --proxy-from", optarg);
			o->proxy_from = optarg;
			break;
		case O_HELP:
			fputs(usage_text, stdout);
			return 1;
		case O_VERSION:
			printf("pop3-handler (postern) %s\n", POSTERN_VERSION);
			return 1;
		case ':':
			return usage_error("option needs an argument",
			    argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if ((o->cert == NULL) != (o->key == NULL))
		return usage_error("--cert and --key go together", NULL);
	if (o->tls_mode == POP3_TLS_NONE && o->client_ca)
		return usage_error("--client-ca needs --tls starttls or "
		    "implicit", NULL);
	return 0;
}
