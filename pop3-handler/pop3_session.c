/* pop3_session.c - one POP3 connection as a function that returns:
 * pop3_session_begin() clears the session state and does what must come
 * before the privilege drop (the peer, the TLS credentials);
 * pop3_session_serve() reads the PROXY header, does implicit TLS, greets,
 * runs the command loop, says close_notify, logs the one-line summary,
 * releases what the session held (mailbox lock, listing, credentials,
 * TLS cache descriptor) and returns the exit status. Nothing here exits
 * the process: main() is the only caller in the program, the fuzz
 * targets call both functions once per input in one process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pop3.h"
#include "proxy.h"
#include "tls.h"
#include "util.h"

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

int pop3_session_begin(struct pop3 *s, const struct pop3_opts *o)
{
	memset(s, 0, sizeof *s);
	s->opt = o;
	s->start_ms = clock_ms();
	s->mb.lock_fd = -1;
	log_set_debug(o->debug);
	peer_get(&s->peer);
	if (o->hostname)
		copy_str(s->hostname, sizeof s->hostname, o->hostname);
	else
		startup_hostname(s->hostname, sizeof s->hostname);

	/* Credentials are read before the privilege drop (a key readable
	 * only by root stays so). */
	if (pop3_tls_setup(s) < 0) {
		s->result = "tls-config-error";
		summary(s);
		pop3_session_end(s);
		return -1;
	}
	return 0;
}

int pop3_session_serve(struct pop3 *s)
{
	const struct pop3_opts *o = s->opt;
	const char *error = NULL;

	if (proxy_accept(&s->peer, 0, o->proxy_from, &error) < 0) {
		log_msg(LOG_NOTICE, "PROXY header from %s: %s: closing",
		    s->peer.via, error ? error : "?");
		s->result = "proxy-header-error";
		s->exit_code = 1;
		summary(s);
		goto end;
	}
	io_init(&s->io, 0, 1);
	io_set_timeouts(&s->io, o->timeout, o->session_timeout);
	if (o->tls_mode == POP3_TLS_IMPLICIT && pop3_tls_implicit(s) < 0) {
		s->exit_code = 1;
		summary(s);
		goto end;
	}
	s->apop = pop3_apop_possible(o->users);
	if (s->apop)
		pop3_make_timestamp(s);

	pop3_run(s);

	if (s->tls)
		tls_close(s->tls, io_deadline(&s->io));
	summary(s);
end:
	pop3_session_end(s);
	return s->exit_code;
}

void pop3_session_end(struct pop3 *s)
{
	mbox_close(s);
	pop3_tls_end(s);
}
