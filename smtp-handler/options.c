/* options.c - smtp-handler's command line (smtp-handler(8) documents
 * every option). Numbers are parsed strictly. An invalid --auth list is
 * not a usage error: the port is "not enabled" and says so (421). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proxy.h"
#include "smtp.h"
#include "throttle.h"
#include "tls_cache.h"
#include "util.h"

enum {
	O_USERS = 256, O_SPOOL, O_AUTH, O_TLS, O_REQUIRE_TLS, O_CERT, O_KEY,
	O_CLIENT_CA, O_CLIENT_REVOKED, O_TLS_CACHE, O_TLS_LIFETIME, O_RELAY,
	O_MAX_SIZE, O_MAX_RCPTS, O_MAX_ERRORS, O_MAX_MAILS, O_MAX_RSETS,
	O_MAX_SESSION_RCPTS, O_HOSTNAME, O_TIMEOUT, O_SESSION_TIMEOUT,
	O_AUTH_DELAY, O_THROTTLE, O_QUOTA_TEMP, O_ODMR, O_SESSION_STATUS, O_USER, O_ALLOW_ROOT,
	O_DEBUG, O_HELP, O_VERSION, O_PROXY_FROM
};

static const struct option longopts[] = {
	{ "users", required_argument, NULL, O_USERS },
	{ "spool", required_argument, NULL, O_SPOOL },
	{ "auth", required_argument, NULL, O_AUTH },
	{ "tls", required_argument, NULL, O_TLS },
	{ "require-tls", no_argument, NULL, O_REQUIRE_TLS },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "client-ca", required_argument, NULL, O_CLIENT_CA },
	{ "client-revoked", required_argument, NULL, O_CLIENT_REVOKED },
	{ "tls-session-cache", required_argument, NULL, O_TLS_CACHE },
	{ "tls-session-lifetime", required_argument, NULL, O_TLS_LIFETIME },
	{ "relay-clients", required_argument, NULL, O_RELAY },
	{ "max-size", required_argument, NULL, O_MAX_SIZE },
	{ "max-recipients", required_argument, NULL, O_MAX_RCPTS },
	{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
	{ "max-transactions", required_argument, NULL, O_MAX_MAILS },
	{ "max-resets", required_argument, NULL, O_MAX_RSETS },
	{ "max-session-recipients", required_argument, NULL,
	  O_MAX_SESSION_RCPTS },
	{ "hostname", required_argument, NULL, O_HOSTNAME },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "session-timeout", required_argument, NULL, O_SESSION_TIMEOUT },
	{ "auth-delay", required_argument, NULL, O_AUTH_DELAY },
	{ "throttle-file", required_argument, NULL, O_THROTTLE },
	{ "quota-tempfail", no_argument, NULL, O_QUOTA_TEMP },
	{ "odmr", no_argument, NULL, O_ODMR },
	{ "session-status", no_argument, NULL, O_SESSION_STATUS },
	{ "user", required_argument, NULL, O_USER },
	{ "allow-root", no_argument, NULL, O_ALLOW_ROOT },
	{ "debug", no_argument, NULL, O_DEBUG },
	{ "proxy-from", required_argument, NULL, O_PROXY_FROM },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: smtp-handler [options]   (serves one SMTP connection on stdin/stdout)\n"
"  --users PATH            user database CDB (default " USERDB_DEFAULT ")\n"
"  --spool DIR             queue spool (default " QUEUE_DEFAULT_SPOOL ")\n"
"  --auth LIST             ways in: anonymous,password,certificate\n"
"                          (default anonymous)\n"
"  --tls MODE              none, starttls or implicit (default none)\n"
"  --require-tls           refuse MAIL and AUTH before TLS\n"
"  --cert PATH --key PATH  PEM certificate chain and key (default:\n"
"                          $CREDENTIALS_DIRECTORY/tls.crt and tls.key)\n"
"  --client-ca PATH        request client certificates signed by this CA\n"
"  --client-revoked PATH   CDB of revoked serials / SHA-256 fingerprints\n"
"  --tls-session-cache PATH  share TLS sessions for resumption through\n"
"                          this file (holds master secrets; default off)\n"
"  --tls-session-lifetime SECONDS  how long a session may be resumed\n"
"                          (default 3600, at most 86400)\n"
"  --relay-clients CIDRS   clients allowed to relay without AUTH\n"
"  --max-size BYTES        largest message, K/M/G allowed (default 50M)\n"
"  --max-recipients N      recipients per message (default 100, max %d)\n"
"  --max-errors N          errors before disconnect (default %d)\n"
"  --max-transactions N    MAIL commands per session (default %d)\n"
"  --max-resets N          RSET commands per session (default %d)\n"
"  --max-session-recipients N  RCPT commands per session (default %d)\n"
"  --hostname NAME         our name in greetings and Received:\n"
"  --timeout SECONDS       wait for each command or data read (default 300)\n"
"  --session-timeout SECS  whole session limit (default 3600, 0 = none)\n"
"  --auth-delay MS         delay after a failed AUTH (default 1000)\n"
"  --throttle-file PATH    per-address login failures, shared with POP3\n"
"                          (default /var/lib/postern/throttle)\n"
"  --quota-tempfail        refuse over-quota mail with 452 4.2.2, not 552\n"
"  --odmr                  On-Demand Mail Relay (port 366): ATRN after\n"
"                          AUTH turns the connection around (RFC 2645)\n"
"  --session-status        exit 0 only when the client ended the session\n"
"                          with QUIT and got no 4xx reply, else 75\n"
"                          (etrn-client --atrn)\n"
"  --user NAME             switch to this user when started as root\n"
"  --allow-root            serve as root when started as root without\n"
"                          --user (refused otherwise)\n"
"  --proxy-from CIDRS      connections from these addresses begin with a\n"
"                          PROXY v1/v2 header naming the client\n"
"  --debug                 log state changes\n"
"  --help, --version\n", SMTP_RCPT_HARD, SMTP_DEFAULT_ERRORS,
	    SMTP_DEFAULT_MAILS, SMTP_DEFAULT_RSETS, SMTP_DEFAULT_SESSION_RCPTS);
}

static int
number(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
	if (parse_uint(arg, strlen(arg), max, out) < 0) {
		fprintf(stderr, "smtp-handler: %s: not a number up to %llu: %s\n",
		    opt, (unsigned long long)max, arg);
		return -1;
	}
	return 0;
}

/* "anonymous,password,certificate" -> WAY_* bits; 0 if empty/invalid. */
static unsigned
parse_ways(const char *list)
{
	char buf[256], *w, *save = NULL;
	unsigned ways = 0;

	if (copy_str(buf, sizeof buf, list) < 0)
		return 0;
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "anonymous"))
			ways |= WAY_ANONYMOUS;
		else if (!strcmp(w, "password"))
			ways |= WAY_PASSWORD;
		else if (!strcmp(w, "certificate"))
			ways |= WAY_CERT;
		else
			return 0;
	}
	return ways;
}

int
options_parse(struct smtp_config *c, int argc, char **argv)
{
	int ch;
	uint64_t v;

	memset(c, 0, sizeof *c);
	c->users = USERDB_DEFAULT;
	c->spool = QUEUE_DEFAULT_SPOOL;
	c->ways = WAY_ANONYMOUS;
	c->tls_mode = TLSM_NONE;
	c->max_size = SMTP_DEFAULT_SIZE;
	c->max_rcpts = SMTP_DEFAULT_RCPTS;
	c->max_errors = SMTP_DEFAULT_ERRORS;
	c->max_mails = SMTP_DEFAULT_MAILS;
	c->max_rsets = SMTP_DEFAULT_RSETS;
	c->max_session_rcpts = SMTP_DEFAULT_SESSION_RCPTS;
	c->timeout = 300;
	c->session_timeout = 3600;
	c->auth_delay_ms = 1000;
	c->throttle = THROTTLE_DEFAULT;
	c->tls_cache_lifetime = TLS_CACHE_LIFETIME_DEFAULT;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_USERS: c->users = optarg; break;
		case O_SPOOL: c->spool = optarg; break;
		case O_AUTH:
			if (!(c->ways = parse_ways(optarg)))
				log_msg(LOG_ERR, "--auth \"%s\": empty or invalid "
				    "list (anonymous,password,certificate): this "
				    "port is not enabled", optarg);
			break;
		case O_TLS:
			if (!strcmp(optarg, "none"))
				c->tls_mode = TLSM_NONE;
			else if (!strcmp(optarg, "starttls"))
				c->tls_mode = TLSM_STARTTLS;
			else if (!strcmp(optarg, "implicit"))
				c->tls_mode = TLSM_IMPLICIT;
			else {
				fprintf(stderr, "smtp-handler: --tls: none, "
				    "starttls or implicit\n");
				return -1;
			}
			break;
		case O_REQUIRE_TLS: c->require_tls = 1; break;
		case O_CERT: c->cert = optarg; break;
		case O_KEY: c->key = optarg; break;
		case O_CLIENT_CA: c->client_ca = optarg; break;
		case O_CLIENT_REVOKED: c->client_revoked = optarg; break;
		case O_TLS_CACHE:
			if (!optarg[0]) {
				fprintf(stderr, "smtp-handler: "
				    "--tls-session-cache needs a path\n");
				return -1;
			}
			c->tls_cache = optarg;
			break;
		case O_TLS_LIFETIME:
			if (number("--tls-session-lifetime", optarg,
			    TLS_CACHE_LIFETIME_MAX, &v) < 0 || v == 0)
				return -1;
			c->tls_cache_lifetime = (unsigned)v;
			break;
		case O_RELAY: c->relay_clients = optarg; break;
		case O_MAX_SIZE:
			if (parse_size(optarg, &v) < 0 || v == 0 ||
			    v > UINT64_MAX / 4) {
				fprintf(stderr, "smtp-handler: --max-size: a size "
				    "above 0 (K/M/G allowed): %s\n", optarg);
				return -1;
			}
			c->max_size = v;
			break;
		case O_MAX_RCPTS:
			if (number("--max-recipients", optarg, SMTP_RCPT_HARD, &v)
			    < 0 || v == 0)
				return -1;
			c->max_rcpts = (unsigned)v;
			break;
		case O_MAX_ERRORS:
			if (number("--max-errors", optarg, 1000, &v) < 0 || v == 0)
				return -1;
			c->max_errors = (unsigned)v;
			break;
		case O_MAX_MAILS:
			if (number("--max-transactions", optarg,
			    SMTP_SESSION_MAX, &v) < 0 || v == 0)
				return -1;
			c->max_mails = (unsigned)v;
			break;
		case O_MAX_RSETS:
			if (number("--max-resets", optarg, SMTP_SESSION_MAX,
			    &v) < 0 || v == 0)
				return -1;
			c->max_rsets = (unsigned)v;
			break;
		case O_MAX_SESSION_RCPTS:
			if (number("--max-session-recipients", optarg,
			    SMTP_SESSION_MAX, &v) < 0 || v == 0)
				return -1;
			c->max_session_rcpts = (unsigned)v;
			break;
		case O_HOSTNAME:
			if (copy_str(c->hostname, sizeof c->hostname, optarg) < 0 ||
			    strpbrk(optarg, " \t\r\n()")) {
				fprintf(stderr, "smtp-handler: --hostname: bad "
				    "name\n");
				return -1;
			}
			break;
		case O_TIMEOUT:
			if (number("--timeout", optarg, 86400, &v) < 0 || v == 0)
				return -1;
			c->timeout = (unsigned)v;
			break;
		case O_SESSION_TIMEOUT:
			if (number("--session-timeout", optarg, 86400 * 7, &v) < 0)
				return -1;
			c->session_timeout = (unsigned)v;
			break;
		case O_THROTTLE:
			c->throttle = optarg;
			break;
		case O_AUTH_DELAY:
			if (number("--auth-delay", optarg, 60000, &v) < 0)
				return -1;
			c->auth_delay_ms = (unsigned)v;
			break;
		case O_QUOTA_TEMP: c->quota_temp = 1; break;
		case O_ODMR: c->odmr = 1; break;
		case O_SESSION_STATUS: c->session_status = 1; break;
		case O_USER: c->run_user = optarg; break;
		case O_ALLOW_ROOT: c->allow_root = 1; break;
		case O_DEBUG: c->debug = 1; break;
		case O_PROXY_FROM:
			if (proxy_from_valid(optarg) < 0) {
				fprintf(stderr, "smtp-handler: bad --proxy-from: "
				    "%s\n", optarg);
				return -1;
			}
			c->proxy_from = optarg;
			break;
		case O_HELP:
			usage(stdout);
			return 1;
		case O_VERSION:
			printf("smtp-handler (postern) %s\n", POSTERN_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "smtp-handler: unexpected argument: %s\n",
		    argv[optind]);
		return -1;
	}
	if (c->key && !c->cert) {
		fprintf(stderr, "smtp-handler: --key needs --cert\n");
		return -1;
	}
	return 0;
}
