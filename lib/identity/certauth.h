/* certauth.h - the certificate-to-user rule, in one place for both
 * handlers. After a TLS handshake with --client-ca, a client certificate
 * names a user only when all of these hold:
 *   - the client presented a chain and it validated against --client-ca
 *     (BearSSL fills the subject names even for an untrusted chain, so
 *     the names alone prove nothing);
 *   - the end-entity certificate has no Extended Key Usage, or one that
 *     includes clientAuth (or anyExtendedKeyUsage); BearSSL does not check;
 *   - neither its serial number (lowercase hex, no leading 00 bytes) nor
 *     its SHA-256 fingerprint (64 lowercase hex digits, also looked up in
 *     the colon-separated form) is a key of the --client-revoked CDB, the
 *     keys `mailbox-admin cert revoke` writes; an unreadable list counts
 *     as "revoked" (fail closed);
 *   - its e-mail SAN, else (no e-mail SAN at all) its CN, lowercased, is
 *     a user of the database (not an alias, not disabled) allowed on the
 *     service: auth_identity() says AUTH_OK (locked and nopop3/nosmtp
 *     users get no EXTERNAL). An e-mail SAN that is there but cannot be
 *     decoded (or is too long) names nobody: no fall-back to the CN.
 * Anything else is treated exactly as "no certificate" (password login
 * stays available) and logged with the reason. */
#ifndef POSTERN_CERTAUTH_H
#define POSTERN_CERTAUTH_H

#include <stddef.h>

#include "auth.h"
#include "tls.h"
#include "userdb.h"

enum certauth_result {
	CERTAUTH_NONE = 0,  /* no certificate presented */
	CERTAUTH_USER,      /* maps to user[] */
	CERTAUTH_REFUSED,   /* presented but not usable: see code/reason */
	CERTAUTH_TEMPFAIL   /* the user database could not be read */
};

struct certauth {
	enum certauth_result result;
	char user[USERDB_KEY_MAX];   /* CERTAUTH_USER: the database key */
	char name[USERDB_KEY_MAX];   /* e-mail SAN else CN, lowercased; ""
	                                when none, too long or undecodable */
	const char *code;            /* one word for the summary: "none",
	                                "ok", "untrusted", "no-clientauth",
	                                "bad-email", "no-name", "revoked",
	                                "revocation-unreadable", "no-user",
	                                "locked", "barred", "tempfail" */
	const char *reason;          /* a phrase for the log line */
};

/* Applies the rule above. revoked_cdb may be NULL (no list). Never
 * fails: the outcome is in *ca (result, code, reason). Returns
 * ca->result. */
enum certauth_result certauth_map(struct certauth *ca,
    const struct tls_peer_cert *pc, const char *users_db,
    const char *revoked_cdb, enum auth_service svc);

/* Is the certificate listed in the revoked CDB? 1 yes, 0 no, -1 the
 * list cannot be opened or read. path NULL: 0. */
int certauth_revoked(const char *revoked_cdb,
    const struct tls_peer_cert *pc);

/* One log line for the outcome (nothing for CERTAUTH_NONE): the name,
 * serial and fingerprint, and the reason; INFO for a user, NOTICE for
 * a refused one, WARNING for a revoked one, ERR for a temporary
 * failure. peer may be NULL. */
void certauth_log(const struct certauth *ca, const struct tls_peer_cert *pc,
    const char *peer);

/* The CLIENT_CERT summary value into buf: "-" (none), the user
 * ("alice@example.org"), or "CODE:NAME" for a refused certificate
 * ("revoked:alice@example.org", "untrusted:alice@example.org"). */
const char *certauth_summary(const struct certauth *ca, char *buf,
    size_t size);

#endif
