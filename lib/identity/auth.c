/* auth.c - the authentication seam: password (crypt_r), APOP (MD5 over
 * the banner timestamp and the user's apop= secret), CRAM-MD5 (HMAC-MD5
 * keyed with the same secret, lib/cram) and verified
 * identities (client certificates), on top of userdb. Unknown and
 * disabled users cost one dummy verification, so response time does not
 * tell which users exist. */
#include "auth.h"
#include "cdbfile.h"
#include "cram.h"
#include "log.h"
#include "util.h"

#include <bearssl.h>
#include <crypt.h>
#include <errno.h>
#include <string.h>

/* 32 KiB: never on the stack. One process serves one connection, so one
 * static work area is enough; it is wiped after every use. */
static struct crypt_data crypt_work;

/* A yescrypt hash at libxcrypt's default cost (the one mailbox-admin
 * uses by default) of a password nobody knows; verified against for
 * unknown or disabled users. */
static const char dummy_hash[] =
    "$y$j9T$TVRuNlMUbEYuW7mvOBAP41$"
    "3XxLsJdrHRdpV1VgpufuPeUEXwlQq64OLEkWlWkJCS/";

/* Verifies password against a hash whose answer is thrown away: the
 * hash of the first user of the database db (so the time spent is that
 * of the database's own scheme and cost, whatever mailbox-admin or the
 * administrator chose), else dummy_hash. */
static void
dummy_verify(const char *db, const char *password)
{
	static char sample[USERDB_HASH_MAX], sampled[USERDB_PATH_MAX];
	const char *h = dummy_hash;
	int cs;

	if (db != NULL && strlen(db) < sizeof sampled &&
	    strcmp(db, sampled) != 0) {
		memcpy(sampled, db, strlen(db) + 1);
		if (userdb_sample_hash(db, sample, sizeof sample) != 1)
			sample[0] = '\0';
	}
	if (db != NULL && strcmp(db, sampled) == 0 && sample[0] != '\0') {
		cs = crypt_checksalt(sample);
		if (cs != CRYPT_SALT_INVALID && cs != CRYPT_SALT_METHOD_DISABLED)
			h = sample;
	}
	(void)crypt_r(password != NULL ? password : "", h, &crypt_work);
	wipe(&crypt_work, sizeof crypt_work);
}

/* 1 the password matches hash, 0 it does not, -1 temporary failure. */
static int
verify(const char *password, const char *hash, const char *user)
{
	const char *out;
	size_t n = strlen(hash);
	int cs, ok, saved;

	cs = crypt_checksalt(hash);
	if (cs == CRYPT_SALT_INVALID || cs == CRYPT_SALT_METHOD_DISABLED) {
		log_msg(LOG_WARNING, "auth: %s: password hash of an unknown "
		    "or disabled scheme", user);
		dummy_verify(NULL, password);
		return 0;
	}
	errno = 0;
	out = crypt_r(password, hash, &crypt_work);
	if (out == NULL || out[0] == '*') {
		saved = errno;
		wipe(&crypt_work, sizeof crypt_work);
		if (saved == ENOMEM) {
			log_msg(LOG_ERR, "auth: %s: crypt: out of memory", user);
			return -1;
		}
		log_msg(LOG_WARNING, "auth: %s: crypt refused the stored hash",
		    user);
		return 0;
	}
	/* out lives in crypt_work.output (CRYPT_OUTPUT_SIZE > hash size) */
	ok = ct_equal(out, hash, n) & (strlen(out) == n);
	wipe(&crypt_work, sizeof crypt_work);
	if (ok && cs == CRYPT_SALT_METHOD_LEGACY)
		log_msg(LOG_NOTICE, "auth: %s: legacy password hash, rehash "
		    "needed", user);
	return ok;
}

static enum auth_result
account_state(enum auth_service svc, const struct userdb_entry *e)
{
	if (e->flags & USERDB_LOCKED)
		return AUTH_LOCKED;
	if ((svc == AUTH_POP3 && (e->flags & USERDB_NOPOP3)) ||
	    (svc == AUTH_SMTP && (e->flags & USERDB_NOSMTP)))
		return AUTH_BARRED;
	return AUTH_OK;
}

/* 1 user found as an enabled USERDB_USER entry, 0 not, -1 trouble. */
static int
find_user(const char *db, const char *user, struct userdb_entry *e)
{
	int dk, r;

	if (user == NULL)
		return 0;
	r = userdb_resolve(db, user, e, &dk);
	if (r <= 0)
		return r;
	return e->kind == USERDB_USER && !(e->flags & USERDB_DISABLED);
}

enum auth_result
auth_password(const char *db, enum auth_service svc, const char *user,
    const char *password, struct userdb_entry *e)
{
	int r;

	r = find_user(db, user, e);
	if (r < 0)
		return AUTH_TEMPFAIL;
	if (r == 0 || password == NULL) {
		dummy_verify(db, password);
		wipe(e->apop, sizeof e->apop);
		return AUTH_REJECTED;
	}
	r = verify(password, e->hash, e->key);
	if (r < 0)
		return AUTH_TEMPFAIL;
	if (r == 0) {
		wipe(e->apop, sizeof e->apop);
		return AUTH_REJECTED;
	}
	return account_state(svc, e);
}

static int
hex_lower(char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 'a';
	if ((c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'))
		return c;
	return -1;
}

/* A client's MD5 digest: exactly 32 hex digits, either case, into
 * got[32] in lowercase (zeros where it is not one). 1 / 0. */
static int
digest_take(const char *digest_hex, char got[32])
{
	size_t i;

	memset(got, 0, 32);
	if (digest_hex == NULL)
		return 0;
	for (i = 0; i < 32; i++) {
		int c = hex_lower(digest_hex[i]);
		if (c < 0)
			return 0;
		got[i] = (char)c;
	}
	return digest_hex[32] == '\0';
}

/* The user's opt-in shared secret (apop=, for APOP and CRAM-MD5), or a
 * dummy one when the user is unknown or has none, so the digest is
 * always computed (the time does not tell which). find_user's result. */
static int
shared_secret(const char *db, const char *user, struct userdb_entry *e,
    const char **secret_r, int *usable_r)
{
	int r = find_user(db, user, e);

	*usable_r = r == 1 && e->apop[0] != '\0';
	*secret_r = *usable_r ? e->apop : "postern-dummy-shared-secret";
	return r;
}

enum auth_result
auth_apop(const char *db, const char *user, const char *timestamp,
    const char *digest_hex, struct userdb_entry *e)
{
	static const char hexdig[] = "0123456789abcdef";
	br_md5_context md5;
	unsigned char sum[br_md5_SIZE];
	char want[2 * br_md5_SIZE], got[2 * br_md5_SIZE];
	const char *secret;
	int r, usable, wellformed, eq;
	size_t i;

	r = shared_secret(db, user, e, &secret, &usable);
	if (r < 0)
		return AUTH_TEMPFAIL;

	/* the client's digest: exactly 32 hex digits, either case */
	wellformed = digest_take(digest_hex, got);

	/* always compute, so the time does not depend on the user */
	br_md5_init(&md5);
	if (timestamp != NULL)
		br_md5_update(&md5, timestamp, strlen(timestamp));
	br_md5_update(&md5, secret, strlen(secret));
	br_md5_out(&md5, sum);
	for (i = 0; i < sizeof sum; i++) {
		want[2 * i] = hexdig[sum[i] >> 4];
		want[2 * i + 1] = hexdig[sum[i] & 15];
	}
	eq = ct_equal(want, got, sizeof want);
	wipe(&md5, sizeof md5);
	wipe(sum, sizeof sum);
	wipe(want, sizeof want);
	wipe(got, sizeof got);
	if (!(usable && wellformed && eq && timestamp != NULL)) {
		if (r == 1)
			wipe(e->apop, sizeof e->apop);
		return AUTH_REJECTED;
	}
	return account_state(AUTH_POP3, e);
}

enum auth_result
auth_cram(const char *db, const char *user, const char *challenge,
    const char *digest_hex, struct userdb_entry *e)
{
	char want[CRAM_DIGEST_HEX + 1], got[CRAM_DIGEST_HEX];
	const char *secret;
	int r, usable, wellformed, eq;

	r = shared_secret(db, user, e, &secret, &usable);
	if (r < 0)
		return AUTH_TEMPFAIL;

	wellformed = digest_take(digest_hex, got);

	/* always computed, so the time does not depend on the user */
	cram_digest(secret, strlen(secret), challenge != NULL ? challenge : "",
	    challenge != NULL ? strlen(challenge) : 0, want);
	eq = ct_equal(want, got, sizeof got);
	wipe(want, sizeof want);
	wipe(got, sizeof got);
	if (r == 1)
		wipe(e->apop, sizeof e->apop);
	if (!(usable && wellformed && eq && challenge != NULL))
		return AUTH_REJECTED;
	return account_state(AUTH_SMTP, e);
}

static int
apop_search(struct cdb *c, void *arg)
{
	const unsigned char *map;
	unsigned size;

	(void)arg;
	map = cdbfile_map(c, &size);
	return memmem(map, size, "apop=", 5) != NULL;
}

int
auth_apop_any(const char *db)
{
	return cdbfile_run(db, apop_search, NULL);
}

enum auth_result
auth_identity(const char *db, enum auth_service svc, const char *user,
    struct userdb_entry *e)
{
	int r = find_user(db, user, e);

	if (r < 0)
		return AUTH_TEMPFAIL;
	if (r == 0)
		return AUTH_REJECTED;
	return account_state(svc, e);
}
