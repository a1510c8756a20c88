/* certauth.c - the certificate-to-user rule (certauth.h): trust, EKU,
 * revocation list, user database, in that order, with one reason for
 * the log. */
#include "certauth.h"
#include "cdbfile.h"
#include "log.h"
#include "util.h"

#include <cdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FPR_HEX     (2 * 32)          /* SHA-256 as hex */
#define FPR_COLON   (3 * 32 - 1)      /* "ab:cd:..." */

static void
to_hex(const unsigned char *p, size_t n, char *out, int colons)
{
	static const char digits[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (colons && i > 0)
			out[o++] = ':';
		out[o++] = digits[p[i] >> 4];
		out[o++] = digits[p[i] & 15];
	}
	out[o] = '\0';
}

/* 1 key present, 0 absent, -1 read error. */
static int
has_key(struct cdb *db, const char *key)
{
	int r = cdb_find(db, key, (unsigned)strlen(key));

	return r < 0 ? -1 : r > 0;
}

/* cdbfile_run callback: 1 listed, 0 not, -1 read error. */
static int
revoked_lookup(struct cdb *db, void *arg)
{
	const struct tls_peer_cert *pc = arg;
	char fp[FPR_COLON + 1];
	int r;

	to_hex(pc->sha256, sizeof pc->sha256, fp, 0);
	r = has_key(db, fp);
	if (r == 0) {
		to_hex(pc->sha256, sizeof pc->sha256, fp, 1);
		r = has_key(db, fp);
	}
	if (r == 0 && pc->serial_hex[0])
		r = has_key(db, pc->serial_hex);
	return r;
}

/* The list is read through cdbfile_run, as the user database is: a file
 * truncated or rewritten in place while mapped (SIGBUS, or a changed
 * size or time) is an error, so the certificate counts as revoked. */
int
certauth_revoked(const char *revoked_cdb, const struct tls_peer_cert *pc)
{
	int r;

	if (revoked_cdb == NULL)
		return 0;
	r = cdbfile_run(revoked_cdb, revoked_lookup, (void *)(uintptr_t)pc);
	return r < 0 ? -1 : r;
}

static enum certauth_result
outcome(struct certauth *ca, enum certauth_result res, const char *code,
    const char *reason)
{
	ca->result = res;
	ca->code = code;
	ca->reason = reason;
	return res;
}

enum certauth_result
certauth_map(struct certauth *ca, const struct tls_peer_cert *pc,
    const char *users_db, const char *revoked_cdb, enum auth_service svc)
{
	static struct userdb_entry e;   /* 6 KiB: not on the stack */
	const char *id;
	enum auth_result ar;
	int rv;

	ca->user[0] = ca->name[0] = '\0';
	if (pc == NULL || !pc->presented)
		return outcome(ca, CERTAUTH_NONE, "none", "no certificate");
	/* an e-mail SAN that cannot be decoded names nobody: never fall
	 * back to the CN then (fail closed) */
	id = pc->email_bad ? "" : pc->email[0] ? pc->email : pc->cn;
	if (copy_str(ca->name, sizeof ca->name, id) < 0)
		ca->name[0] = '\0';
	ascii_lower(ca->name);
	if (!pc->verified)
		return outcome(ca, CERTAUTH_REFUSED, "untrusted",
		    "chain not trusted by --client-ca (or expired)");
	if (!pc->eku_ok)
		return outcome(ca, CERTAUTH_REFUSED, "no-clientauth",
		    "extended key usage does not allow client authentication");
	if (pc->email_bad)
		return outcome(ca, CERTAUTH_REFUSED, "bad-email",
		    "its e-mail address (SAN) cannot be decoded or is too "
		    "long; the common name is not used instead");
	if (!ca->name[0])
		return outcome(ca, CERTAUTH_REFUSED, "no-name",
		    "no e-mail address or common name (or too long)");
	rv = certauth_revoked(revoked_cdb, pc);
	if (rv > 0)
		return outcome(ca, CERTAUTH_REFUSED, "revoked",
		    "revoked (listed in --client-revoked)");
	if (rv < 0)
		return outcome(ca, CERTAUTH_REFUSED, "revocation-unreadable",
		    "the revocation list cannot be read, so the certificate "
		    "is not trusted");
	ar = auth_identity(users_db, svc, ca->name, &e);
	if (ar == AUTH_OK)
		copy_str(ca->user, sizeof ca->user, e.key);
	wipe(&e, sizeof e);
	switch (ar) {
	case AUTH_OK:
		return outcome(ca, CERTAUTH_USER, "ok", "accepted");
	case AUTH_LOCKED:
		return outcome(ca, CERTAUTH_REFUSED, "locked",
		    "the account is locked");
	case AUTH_BARRED:
		return outcome(ca, CERTAUTH_REFUSED, "barred",
		    svc == AUTH_POP3 ? "the account may not use POP3"
		    : "the account may not use SMTP");
	case AUTH_TEMPFAIL:
		return outcome(ca, CERTAUTH_TEMPFAIL, "tempfail",
		    "the user database cannot be read");
	case AUTH_REJECTED:
	default:
		return outcome(ca, CERTAUTH_REFUSED, "no-user",
		    "names no user of the database (unknown, alias or "
		    "disabled)");
	}
}

void
certauth_log(const struct certauth *ca, const struct tls_peer_cert *pc,
    const char *peer)
{
	char fp[FPR_HEX + 1];
	int prio;

	if (ca->result == CERTAUTH_NONE)
		return;
	to_hex(pc->sha256, sizeof pc->sha256, fp, 0);
	if (ca->result == CERTAUTH_USER) {
		log_msg(LOG_INFO, "client certificate from %s: user %s (serial "
		    "%s, sha256 %s)", peer ? peer : "?", ca->user,
		    pc->serial_hex[0] ? pc->serial_hex : "?", fp);
		return;
	}
	prio = ca->result == CERTAUTH_TEMPFAIL ? LOG_ERR :
	    !strcmp(ca->code, "revoked") ? LOG_WARNING :
	    !strcmp(ca->code, "revocation-unreadable") ? LOG_ERR : LOG_NOTICE;
	log_msg(prio, "client certificate from %s for \"%.255s\" (serial %s, "
	    "sha256 %s) not used: %s; treated as no certificate",
	    peer ? peer : "?", ca->name[0] ? ca->name : "-",
	    pc->serial_hex[0] ? pc->serial_hex : "?", fp, ca->reason);
}

const char *
certauth_summary(const struct certauth *ca, char *buf, size_t size)
{
	if (size == 0)
		return "";
	if (ca->result == CERTAUTH_NONE)
		snprintf(buf, size, "-");
	else if (ca->result == CERTAUTH_USER)
		snprintf(buf, size, "%s", ca->user);
	else
		snprintf(buf, size, "%s:%s", ca->code,
		    ca->name[0] ? ca->name : "-");
	return buf;
}
