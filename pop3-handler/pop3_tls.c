/* pop3_tls.c - TLS for pop3-handler: credentials (a mode whose
 * certificate or key cannot be loaded is a logged configuration error:
 * implicit TLS closes at once, STLS is not offered, or refused with
 * [SYS/TEMP] before any "+OK" when loading fails at its first use),
 * implicit TLS (RFC 8314) at byte 0, and STLS (RFC 2595): only in the
 * AUTHORIZATION state before USER, pipelined bytes after the command are
 * discarded and logged, nothing learned in plaintext survives. The
 * client certificate is judged once, after the handshake (certauth). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "certauth.h"
#include "log.h"
#include "pop3.h"
#include "tls.h"
#include "tls_cache.h"
#include "util.h"

/* The TLS state of the session. Static storage: struct tls holds
 * BearSSL's engine and record buffers (tens of KiB), too large for the
 * stack. pop3_tls_setup() starts every session from a clean state and
 * pop3_tls_end() frees what it loaded, so a second session in the same
 * process (the fuzz targets) inherits nothing. */
static struct tls_cred cred;
static struct tls_anchors anchors;
static struct tls tls;
static struct tls_cache cache = { .fd = -1 };
static struct certauth ca;

static char cert_path[1024], key_path[1024];

static const char *mode_name(const struct pop3_opts *o)
{
	return o->tls_mode == POP3_TLS_IMPLICIT ? "implicit" : "starttls";
}

/* Loads the chain, the key and the client CA. 0 / -1 (logged). */
static int load_cred(struct pop3 *s)
{
	const struct pop3_opts *o = s->opt;
	const char *error = NULL, *warn = NULL;

	/* implicit TLS loads for the one handshake that follows, which
	 * proves an EC key matches: its check waits for a failure */
	if (tls_cred_load_flags(&cred, cert_path, key_path,
	    o->tls_mode == POP3_TLS_IMPLICIT ? TLS_CRED_DEFER_CHECK : 0,
	    &error, &warn) < 0) {
		log_msg(LOG_ERR, "configuration error: TLS credentials "
		    "%s, %s: %s%s", cert_path, key_path,
		    error ? error : "cannot load",
		    o->tls_mode == POP3_TLS_IMPLICIT ? "" :
		    "; STLS not offered");
		return -1;
	}
	if (warn)
		log_msg(LOG_WARNING, "%s: %s", key_path, warn);
	s->cred = &cred;
	if (o->client_ca) {
		if (tls_anchors_load(&anchors, o->client_ca, &error) < 0)
			log_msg(LOG_ERR, "configuration error: --client-ca "
			    "%s: %s; client certificates not requested",
			    o->client_ca, error ? error : "cannot load");
		else
			s->client_ca = &anchors;
	}
	return 0;
}

void pop3_tls_end(struct pop3 *s)
{
	tls_cache_close(&cache);
	tls_cred_free(&cred);
	tls_anchors_free(&anchors);
	memset(&ca, 0, sizeof ca);
	cert_path[0] = key_path[0] = '\0';
	s->tls = NULL;
	s->cred = NULL;
	s->client_ca = NULL;
}

int pop3_tls_setup(struct pop3 *s)
{
	const struct pop3_opts *o = s->opt;
	int implicit = o->tls_mode == POP3_TLS_IMPLICIT;

	pop3_tls_end(s);
	if (o->tls_mode == POP3_TLS_NONE)
		return 0;
	if (!tls_cred_paths(o->cert, o->key, cert_path, key_path,
	    sizeof cert_path)) {
		log_msg(LOG_ERR, "configuration error: --tls %s needs --cert "
		    "and --key (or tls.crt and tls.key in "
		    "$CREDENTIALS_DIRECTORY)%s", mode_name(o),
		    implicit ? "" : "; STLS not offered");
		return implicit ? -1 : 0;
	}
	if (implicit || o->run_as)
		return load_cred(s) < 0 && implicit ? -1 : 0;
	if (access(cert_path, R_OK) < 0 || access(key_path, R_OK) < 0) {
		log_msg(LOG_ERR, "configuration error: TLS credentials %s, "
		    "%s: %s; STLS not offered", cert_path, key_path,
		    strerror(errno));
		return 0;
	}
	s->tls_lazy = 1;
	return 0;
}

/* The client certificate's outcome, decided once right after the
 * handshake by the shared rule (lib/certauth.h): AUTH EXTERNAL is offered
 * only when it names a user allowed on POP3; anything else is treated as
 * no certificate (and logged), so password login stays available. */
static void client_cert(struct pop3 *s)
{
	s->ext_state = 0;
	s->ext_user[0] = '\0';
	certauth_map(&ca, &tls.peer, s->opt->users, s->opt->client_revoked,
	    AUTH_POP3);
	certauth_log(&ca, &tls.peer, s->peer.addr);
	certauth_summary(&ca, s->cert_summary, sizeof s->cert_summary);
	if (ca.result == CERTAUTH_USER &&
	    copy_str(s->ext_user, sizeof s->ext_user, ca.user) >= 0)
		s->ext_state = 1;
}

/* The shared session cache, opened at the handshake (after the
 * privilege drop: the file must belong to the service user). A cache
 * that cannot be used is logged and the handshake goes on without. */
static struct tls_cache *open_cache(const struct pop3_opts *o)
{
	const char *error = "?";

	if (!o->tls_cache)
		return NULL;
	if (tls_cache_open(&cache, o->tls_cache, o->tls_cache_lifetime,
	    "pop3", &error) < 0) {
		log_msg(LOG_WARNING, "TLS session cache %s: %s; no session "
		    "resumption", o->tls_cache, error);
		return NULL;
	}
	return &cache;
}

static int handshake(struct pop3 *s)
{
	const char *error = NULL;

	if (tls_server_start_cached(&tls, s->cred, s->client_ca,
	    open_cache(s->opt), s->io.rfd, s->io.wfd, io_deadline(&s->io),
	    &error) < 0) {
		log_msg(LOG_NOTICE, "TLS handshake with %s failed: %s",
		    s->peer.addr, error ? error : "?");
		s->result = "tls-failed";
		if (tls_cred_check(&cred, cert_path, &error) < 0) {
			log_msg(LOG_ERR, "configuration error: TLS "
			    "credentials %s, %s: %s", cert_path, key_path,
			    error);
			s->result = "tls-config-error";
		}
		return -1;
	}
	io_use_tls(&s->io, &tls);
	s->tls = &tls;
	log_msg(LOG_DEBUG, "TLS established: %s %s%s", tls_version_name(&tls),
	    tls_suite_name(&tls), tls_resumed(&tls) ? " (resumed)" : "");
	if (cache.error)
		log_msg(LOG_WARNING, "TLS session cache %s: %s",
		    s->opt->tls_cache, cache.error);
	tls_cache_close(&cache);
	client_cert(s);
	return 0;
}

int pop3_tls_implicit(struct pop3 *s)
{
	if (!s->cred)
		return -1;
	return handshake(s);
}

int pop3_stls_available(const struct pop3 *s)
{
	return s->opt->tls_mode == POP3_TLS_STARTTLS &&
	    (s->cred || s->tls_lazy) && !s->tls;
}

enum pop3_ev cmd_stls(struct pop3 *s, char *args)
{
	size_t junk;

	if (args)
		return pop3_err(s, R_SYNTAX);
	if (s->tls)
		return pop3_err(s, R_STLS_ACTIVE);
	if (!pop3_stls_available(s))
		return pop3_err(s, R_STLS_NONE);
	if (s->have_user)
		return pop3_err(s, R_STLS_AFTER_USER);
	if (!s->cred) {
		s->tls_lazy = 0;
		if (load_cred(s) < 0)
			return pop3_err(s, R_STLS_TEMP);
	}
	reply_status(s, 1, R_STLS_GO, NULL);
	/* Anything pipelined after STLS came in plaintext: it must never
	 * be taken as if it came through TLS. */
	junk = io_discard_pending(&s->io);
	if (junk)
		log_msg(LOG_WARNING, "discarded %zu bytes sent by %s after "
		    "STLS before the TLS handshake", junk, s->peer.addr);
	if (io_flush(&s->io) < 0)
		return EV_DROP;
	if (handshake(s) < 0)
		return EV_DROP;
	/* Forget the plaintext state (there is none worth keeping: STLS is
	 * refused after USER). */
	s->have_user = 0;
	s->user[0] = '\0';
	return EV_QUIET;
}

void pop3_tls_summary(struct pop3 *s, const char **version,
    const char **suite, const char **cert)
{
	*version = *suite = *cert = "";
	if (!s->tls)
		return;
	*version = tls_version_name(s->tls);
	*suite = tls_suite_name(s->tls);
	*cert = s->cert_summary;
}
