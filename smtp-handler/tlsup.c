/* tlsup.c - TLS for smtp-handler: loading the credentials (before the
 * privilege drop), the handshake for implicit TLS and STARTTLS, and the
 * client certificate's outcome (lib/certauth.h: trusted chain,
 * clientAuth EKU, not in --client-revoked, e-mail SAN else CN names a
 * user allowed on SMTP). */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "certauth.h"
#include "log.h"
#include "smtp.h"
#include "tls.h"
#include "tls_cache.h"
#include "util.h"

/* The TLS state of the session. Static storage: struct tls holds
 * BearSSL's engine and record buffers (tens of KiB), too large for the
 * stack. tlsup_load() starts every session from a clean state and
 * tlsup_end() frees what it loaded, so a second session in the same
 * process (the fuzz targets) inherits nothing. */
static struct tls tls;
static struct tls_cache cache = { .fd = -1 };
static struct tls_cred cred;
static struct tls_anchors client_ca;
static int have_client_ca;
static char cert[1024], key[1024];
/* The certificate-to-user rule lives in lib/certauth.c (both handlers
 * share it); here only its outcome is kept for EXTERNAL and the summary. */
static struct certauth cert_outcome;

void
tlsup_end(struct session *s)
{
	tls_cache_close(&cache);
	tls_cred_free(&cred);
	tls_anchors_free(&client_ca);
	have_client_ca = 0;
	cert[0] = key[0] = '\0';
	memset(&cert_outcome, 0, sizeof cert_outcome);
	s->tls_ready = 0;
}

int
tlsup_load(struct session *s)
{
	const struct smtp_config *c = s->cfg;
	const char *err = NULL, *warn = NULL;

	tlsup_end(s);
	if (c->tls_mode == TLSM_NONE)
		return 0;
	if (!tls_cred_paths(c->cert, c->key, cert, key, sizeof cert)) {
		log_msg(LOG_ERR, "TLS: no certificate configured (--cert and "
		    "--key, or tls.crt and tls.key in $CREDENTIALS_DIRECTORY)");
		return -1;
	}
	/* implicit TLS loads for the one handshake that follows, which
	 * proves an EC key matches: its check waits for a failure (with
	 * STARTTLS it is done now, so that STARTTLS is never offered with
	 * a key that cannot work) */
	if (tls_cred_load_flags(&cred, cert, key, c->tls_mode == TLSM_IMPLICIT ?
	    TLS_CRED_DEFER_CHECK : 0, &err, &warn) < 0) {
		log_msg(LOG_ERR, "TLS: cannot load %s / %s: %s", cert, key,
		    err ? err : "error");
		return -1;
	}
	if (warn)
		log_msg(LOG_WARNING, "TLS: %s", warn);
	if (c->client_ca) {
		if (tls_anchors_load(&client_ca, c->client_ca, &err) < 0)
			log_msg(LOG_ERR, "TLS: --client-ca %s: %s; client "
			    "certificates are not requested", c->client_ca,
			    err ? err : "error");
		else
			have_client_ca = 1;
	}
	s->tls_ready = 1;
	return 0;
}

static void
client_cert(struct session *s)
{
	certauth_map(&cert_outcome, &tls.peer, s->cfg->users,
	    s->cfg->client_revoked, AUTH_SMTP);
	certauth_log(&cert_outcome, &tls.peer, s->peer.addr);
	if (cert_outcome.result == CERTAUTH_USER)
		copy_str(s->cert_user, sizeof s->cert_user, cert_outcome.user);
}

const char *
tlsup_cert_summary(char *buf, size_t size)
{
	return certauth_summary(&cert_outcome, buf, size);
}

/* The shared session cache, opened at the handshake (after the
 * privilege drop: the file must belong to the service user). A cache
 * that cannot be used is logged and the handshake goes on without. */
static struct tls_cache *
open_cache(const struct smtp_config *c)
{
	const char *err = "?";

	if (!c->tls_cache)
		return NULL;
	if (tls_cache_open(&cache, c->tls_cache, c->tls_cache_lifetime,
	    "smtp", &err) < 0) {
		log_msg(LOG_WARNING, "TLS session cache %s: %s; no session "
		    "resumption", c->tls_cache, err);
		return NULL;
	}
	return &cache;
}

int
tlsup_start(struct session *s)
{
	const char *err = NULL;

	if (tls_server_start_cached(&tls, &cred,
	    have_client_ca ? &client_ca : NULL, open_cache(s->cfg),
	    s->io.rfd, s->io.wfd, io_deadline(&s->io), &err) < 0) {
		log_msg(LOG_NOTICE, "TLS handshake with %s failed: %s",
		    s->peer.addr, err ? err : "error");
		if (tls_cred_check(&cred, cert, &err) < 0)
			log_msg(LOG_ERR, "TLS: cannot use %s / %s: %s", cert,
			    key, err);
		return -1;
	}
	io_use_tls(&s->io, &tls);
	s->tls_on = 1;
	copy_str(s->tls_version, sizeof s->tls_version,
	    tls_version_name(&tls));
	copy_str(s->tls_suite, sizeof s->tls_suite, tls_suite_name(&tls));
	log_msg(LOG_INFO, "TLS established: %s %s%s", s->tls_version,
	    s->tls_suite, tls_resumed(&tls) ? " (resumed)" : "");
	if (cache.error)
		log_msg(LOG_WARNING, "TLS session cache %s: %s",
		    s->cfg->tls_cache, cache.error);
	tls_cache_close(&cache);
	client_cert(s);
	return 0;
}

void
tlsup_close(struct session *s)
{
	if (s->tls_on)
		tls_close(&tls, io_deadline(&s->io));
}
