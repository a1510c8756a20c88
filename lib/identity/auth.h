/* auth.h - the authentication seam: (user, secret) -> ok + mailbox |
 * rejected | temporary failure. Protocol code calls only this; it could
 * move to a separate process without touching the protocols.
 * Unknown users cost the same time as known ones (a dummy verification);
 * secrets are compared in constant time and wiped by the caller. */
#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include "userdb.h"

enum auth_result {
	AUTH_OK = 0,
	AUTH_REJECTED,      /* wrong user or secret, or disabled */
	AUTH_LOCKED,        /* right secret, account locked (POP3 says so) */
	AUTH_BARRED,        /* right secret, nopop3/nosmtp for this service */
	AUTH_TEMPFAIL       /* database unreadable, crypt failure */
};

enum auth_service { AUTH_POP3, AUTH_SMTP };

/* Verifies a password with crypt_r against the user's hash. user is the
 * full address (case-insensitive). On AUTH_OK (and AUTH_LOCKED /
 * AUTH_BARRED) *e is the user's entry.
 * Details (additive): only a USERDB_USER entry can log in (not an alias,
 * not a hold domain's address). AUTH_LOCKED and AUTH_BARRED are returned
 * only after the secret proved right; `locked` refuses both POP3 and
 * authenticated SMTP (an administrator's lock), nopop3/nosmtp only their
 * service. A hash crypt_checksalt() calls invalid, a disabled (! or *)
 * hash and an unknown user all cost one dummy verification and give
 * AUTH_REJECTED; for an unknown user it is against the hash of the
 * database's first user (userdb_sample_hash), so that it costs what a
 * known user costs whatever scheme the database uses (else a built-in
 * yescrypt hash at default cost). AUTH_TEMPFAIL: database missing
 * or corrupt, or crypt out of memory. Uses a static 32 KiB crypt work
 * area (not thread-safe; one connection = one process). */
enum auth_result auth_password(const char *db, enum auth_service svc,
    const char *user, const char *password, struct userdb_entry *e);

/* APOP (RFC 1939): digest_hex = hex MD5(banner_timestamp + secret), the
 * secret being the user's apop= option. Users without apop= are rejected.
 * timestamp is the whole "<...>" of the banner; digest_hex must be 32 hex
 * digits (either case), compared in constant time. Service: POP3. */
enum auth_result auth_apop(const char *db, const char *user,
    const char *timestamp, const char *digest_hex, struct userdb_entry *e);

/* CRAM-MD5 (RFC 2195): digest_hex = hex HMAC-MD5 keyed with the user's
 * apop= secret (the one APOP uses) over the whole challenge "<...>".
 * Users without apop= are rejected after the same computation with a
 * dummy key, so the time does not tell them apart. digest_hex must be 32
 * hex digits (either case), compared in constant time. e->apop is wiped
 * whatever the result. Service: SMTP (nosmtp bars). */
enum auth_result auth_cram(const char *db, const char *user,
    const char *challenge, const char *digest_hex, struct userdb_entry *e);

/* 1 if some user of the database db may have an apop= secret (the
 * mapped file contains the text "apop="; a false positive only offers
 * APOP or CRAM-MD5 to no avail), 0 if none, -1 if unreadable. */
int auth_apop_any(const char *db);

/* A verified identity without a secret (client certificate): checks the
 * user exists, is not disabled, and is allowed on svc (AUTH_LOCKED,
 * AUTH_BARRED as for passwords). */
enum auth_result auth_identity(const char *db, enum auth_service svc,
    const char *user, struct userdb_entry *e);

#endif
