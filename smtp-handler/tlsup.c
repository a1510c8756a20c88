/* tlsup.c - TLS for smtp-handler: loading the credentials (before the
 * privilege drop), the handshake for implicit TLS and STARTTLS, and the
 * client-certificate rule: a certificate maps to a user only if its
 * chain validated against --client-ca, its EKU allows clientAuth, it is
 * not listed in --client-revoked, and its e-mail SAN (else CN) names a
 * user allowed on SMTP. */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "smtp.h"
#include "tls.h"
#include "util.h"

static struct tls tls;
static struct tls_cred cred;
static struct tls_anchors client_ca;
static int have_client_ca;

int
tlsup_load(struct session *s)
{
	const struct smtp_config *c = s->cfg;
	char cert[1024], key[1024];
	const char *err = NULL, *warn = NULL;

	if (c->tls_mode == TLSM_NONE)
		return 0;
	if (!tls_cred_paths(c->cert, c->key, cert, key, sizeof cert)) {
		log_msg(LOG_ERR, "TLS: no certificate configured (--cert and "
		    "--key, or tls.crt and tls.key in $CREDENTIALS_DIRECTORY)");
		return -1;
	}
	if (tls_cred_load(&cred, cert, key, &err, &warn) < 0) {
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
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 1 revoked, 0 not, -1 the list cannot be read (treated as revoked). */
static int
revoked(const char *path, const struct tls_peer_cert *pc)
{
	struct cdb db;
	char fp[65];
	int fd, rc;

	if (!path)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (cdb_init(&db, fd) < 0) {
		close(fd);
		return -1;
	}
	hex(pc->sha256, sizeof pc->sha256, fp);
	rc = cdb_find(&db, fp, (unsigned)strlen(fp));
	if (rc == 0 && pc->serial_hex[0])
		rc = cdb_find(&db, pc->serial_hex,
		    (unsigned)strlen(pc->serial_hex));
	cdb_free(&db);
	close(fd);
	return rc < 0 ? -1 : rc > 0;
}

static void
client_cert(struct session *s)
{
	const struct tls_peer_cert *pc = &tls.peer;
	struct userdb_entry e;
	char name[USERDB_KEY_MAX];
	int rv;

	if (!pc->presented)
		return;
	copy_str(name, sizeof name, pc->email[0] ? pc->email : pc->cn);
	ascii_lower(name);
	if (!pc->verified || !pc->eku_ok) {
		log_msg(LOG_NOTICE, "client certificate for \"%s\" not used: %s",
		    name, !pc->verified ? "chain not trusted"
		    : "no clientAuth usage");
		return;
	}
	if ((rv = revoked(s->cfg->client_revoked, pc)) != 0) {
		log_msg(LOG_NOTICE, "client certificate for \"%s\" (serial %s) "
		    "not used: %s", name, pc->serial_hex,
		    rv > 0 ? "revoked" : "revocation list unreadable");
		return;
	}
	if (auth_identity(s->cfg->users, AUTH_SMTP, name, &e) != AUTH_OK) {
		log_msg(LOG_NOTICE, "client certificate for \"%s\" maps to no "
		    "SMTP user", name);
		return;
	}
	copy_str(s->cert_user, sizeof s->cert_user, e.key);
	log_msg(LOG_INFO, "client certificate: %s (serial %s)", e.key,
	    pc->serial_hex);
}

int
tlsup_start(struct session *s)
{
	const char *err = NULL;

	if (tls_server_start(&tls, &cred, have_client_ca ? &client_ca : NULL,
	    s->io.rfd, s->io.wfd, io_deadline(&s->io), &err) < 0) {
		log_msg(LOG_NOTICE, "TLS handshake with %s failed: %s",
		    s->peer.addr, err ? err : "error");
		return -1;
	}
	io_use_tls(&s->io, &tls);
	s->tls_on = 1;
	copy_str(s->tls_version, sizeof s->tls_version,
	    tls_version_name(&tls));
	copy_str(s->tls_suite, sizeof s->tls_suite, tls_suite_name(&tls));
	log_msg(LOG_INFO, "TLS established: %s %s", s->tls_version,
	    s->tls_suite);
	client_cert(s);
	return 0;
}

void
tlsup_close(struct session *s)
{
	if (s->tls_on)
		tls_close(&tls, io_deadline(&s->io));
}
