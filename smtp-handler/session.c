/* session.c - one SMTP connection as a function that returns:
 * smtp_session_begin() clears the session state and does what must come
 * before the privilege drop (the peer, the TLS credentials);
 * smtp_session_serve() reads the PROXY header, does implicit TLS, greets,
 * runs the command loop, says close_notify, logs the summary, releases
 * what the session held (an unfinished message's copies, credentials,
 * the TLS cache descriptor) and returns the exit status. Nothing here
 * exits the process: main() is the only caller in the program, the fuzz
 * targets call both functions once per input in one process. */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "proxy.h"
#include "smtp.h"
#include "util.h"

static void
summary(struct session *s, const char *result)
{
	char f[15][400], cert[USERDB_KEY_MAX + 32];
	const char *fields[16];
	int n = 0;

#define FIELD(...) (snprintf(f[n], sizeof f[n], __VA_ARGS__), \
	fields[n] = f[n], n++)
	FIELD("REMOTE_ADDR=%s", s->peer.addr);
	if (s->peer.via[0])
		FIELD("PROXY_VIA=%s", s->peer.via);
	FIELD("HELO=%s", s->helo[0] ? s->helo : "-");
	FIELD("USER=%s", s->auth_user[0] ? s->auth_user : "-");
	FIELD("AUTH_MECH=%s", s->auth_mech ? s->auth_mech : "-");
	FIELD("TLS_VERSION=%s", s->tls_on ? s->tls_version : "-");
	FIELD("TLS_CIPHER=%s", s->tls_on ? s->tls_suite : "-");
	FIELD("CLIENT_CERT=%s", tlsup_cert_summary(cert, sizeof cert));
	FIELD("MESSAGES=%u", s->messages);
	FIELD("RCPTS=%u", s->rcpts_total);
	FIELD("BYTES_ACCEPTED=%llu", (unsigned long long)s->bytes_accepted);
	FIELD("BYTES_IN=%llu", (unsigned long long)s->io.bytes_in);
	FIELD("BYTES_OUT=%llu", (unsigned long long)s->io.bytes_out);
	FIELD("DURATION_MS=%lld", (long long)(clock_ms() - s->started_ms));
	FIELD("RESULT=%s", result);
#undef FIELD
	fields[n] = NULL;
	log_fields(LOG_INFO, "smtp session", fields);
}

static const char *
serve(struct session *s)
{
	int n, flags;

	reply_arg(s, R_GREETING, s->cfg->hostname);
	for (;;) {
		n = io_getline(&s->io, s->line, sizeof s->line, &flags);
		if (n == IO_EOF)
			return s->state == ST_INIT || s->state == ST_READY
			    ? "disconnected" : "disconnected in transaction";
		if (n == IO_TIMEOUT) {
			reply_arg(s, R_TIMEOUT, s->cfg->hostname);
			transaction_reset(s);
			return "timeout";
		}
		if (n == IO_ERROR) {
			transaction_reset(s);
			return "i/o error";
		}
		if (n == IO_TOOLONG) {
			/* maybe an AUTH line with a secret: dropped, and
			 * wiped from the input buffers */
			io_wipe_consumed(&s->io);
			reply(s, R_LINE_TOO_LONG);
		}
		else
			smtp_dispatch(s, s->line, (size_t)n, flags);
		if (s->quit)
			return s->end_result ? s->end_result : "quit";
		if (s->errors >= s->cfg->max_errors) {
			reply_arg(s, R_TOO_MANY_ERRORS, s->cfg->hostname);
			transaction_reset(s);
			log_msg(LOG_NOTICE, "%s: too many errors, disconnecting",
			    s->peer.addr);
			return "too many errors";
		}
	}
}

int
smtp_session_begin(struct session *s, struct smtp_config *cfg)
{
	/* A session that ran before is cleared; a fresh one is zeroed
	 * static storage already, and clearing it would touch all of its
	 * pages (the recipient tables are 2 MiB, mostly never used). */
	if (s->cfg)
		memset(s, 0, sizeof *s);
	smtp_data_reset();
	s->cfg = cfg;
	s->started_ms = clock_ms();
	s->state = ST_INIT;
	log_set_debug(cfg->debug);
	peer_get(&s->peer);
	if (!cfg->hostname[0])
		startup_hostname(cfg->hostname, sizeof cfg->hostname);
	if (tlsup_load(s) < 0 && cfg->tls_mode == TLSM_IMPLICIT) {
		log_msg(LOG_ERR, "implicit TLS without a certificate: closing");
		smtp_session_end(s);
		return -1;
	}
	return 0;
}

int
smtp_session_serve(struct session *s)
{
	struct smtp_config *cfg = s->cfg;
	const char *result, *err = NULL;
	int rc = 0;

	if (proxy_accept(&s->peer, 0, cfg->proxy_from, &err) < 0) {
		log_msg(LOG_NOTICE, "PROXY header from %s: %s: closing",
		    s->peer.via, err ? err : "?");
		summary(s, "proxy header error");
		rc = 1;
		goto end;
	}
	if (cfg->relay_clients) {
		int bad = 0;
		s->relay_client = cidr_match(s->peer.addr, cfg->relay_clients,
		    &bad);
		if (bad)
			log_msg(LOG_WARNING, "--relay-clients has invalid entries: "
			    "%s", cfg->relay_clients);
	}
	if (cfg->odmr)
		s->apop_users = auth_apop_any(cfg->users) == 1;
	io_init(&s->io, 0, 1);
	io_set_timeouts(&s->io, cfg->timeout, cfg->session_timeout);
	log_msg(LOG_DEBUG, "connection from %s", s->peer.addr);
	if (cfg->tls_mode == TLSM_IMPLICIT && tlsup_start(s) < 0) {
		summary(s, "tls handshake failed");
		rc = 1;
		goto end;
	}
	if (!cfg->ways) {
		reply(s, R_NOT_ENABLED);
		result = "not enabled";
	} else
		result = serve(s);
	io_flush(&s->io);
	tlsup_close(s);
	summary(s, result);
	/* etrn-client --atrn learns from this whether the provider's
	 * turned-around session ended cleanly, nothing left behind */
	if (cfg->session_status && (strcmp(result, "quit") != 0 ||
	    s->temp_replies > 0))
		rc = 75;
end:
	smtp_session_end(s);
	return rc;
}

void
smtp_session_end(struct session *s)
{
	/* a message left open (a BDAT sequence the client never ended):
	 * its copies go, as when the connection is lost inside DATA */
	if (deliver_is_open(s))
		deliver_abort(s);
	tlsup_end(s);
}
