/* cmd_cert.c - the list of revoked client certificates: a text file of
 * "KEY revoked DATE" lines (KEY = certificate serial number or SHA-256
 * fingerprint, lowercase hex) compiled to the CDB that the handlers'
 * --client-revoked names; edited and built like the user database. */
#include "admin.h"
#include "textdb.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CERT_KEY_MAX   128
#define CERT_FPR_HEX   64    /* SHA-256 */
#define CERT_SERIAL_HEX_MAX 79

static struct tdb db;
static char line[TDB_LINE_MAX];

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Record check for the revocation list. */
static int
revoked_check(const char *key, size_t klen, const char *val, size_t vlen,
    const char **error_r)
{
	size_t i;

	if (klen == 0 || klen > CERT_KEY_MAX) {
		*error_r = "key must be 1 to 128 hex digits";
		return -1;
	}
	for (i = 0; i < klen; i++)
		if (!is_hex(key[i])) {
			*error_r = "key must be lowercase hex (a serial number "
			    "or a SHA-256 fingerprint)";
			return -1;
		}
	for (i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)val[i];
		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			*error_r = "control or non-ASCII character in value";
			return -1;
		}
	}
	return 0;
}

/* Normalises a serial number or fingerprint as openssl prints them
 * ("serial=0A1B", "sha256 Fingerprint=AB:CD:..", or bare hex, colons
 * allowed) into out[CERT_KEY_MAX + 1]: lowercase hex; 64 digits are a
 * fingerprint, kept whole; a serial loses leading 00 bytes. Exits 65. */
static void
cert_key(const char *arg, char *out)
{
	const char *p = arg, *eq = strchr(arg, '=');
	size_t n = 0, i;

	if (eq != NULL)
		p = eq + 1;
	for (; *p != '\0'; p++) {
		char c = *p;
		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!is_hex(c) || n >= CERT_KEY_MAX)
			die(EX_DATAERR, "invalid certificate serial or "
			    "fingerprint '%.80s' (hex digits, colons allowed)",
			    arg);
		out[n++] = c;
	}
	out[n] = '\0';
	if (n == CERT_FPR_HEX)
		return;
	if (n == 0 || n > CERT_SERIAL_HEX_MAX)
		die(EX_DATAERR, "invalid certificate serial or fingerprint "
		    "'%.80s' (a serial of 1 to %d hex digits, or a SHA-256 "
		    "fingerprint of 64)", arg, CERT_SERIAL_HEX_MAX);
	if (n % 2) {
		memmove(out + 1, out, n + 1);
		out[0] = '0';
		n++;
	}
	for (i = 0; n - i > 2 && out[i] == '0' && out[i + 1] == '0'; i += 2)
		;
	memmove(out, out + i, n - i + 1);
}

static void
open_list(const struct admin *a, int lock, int missing_ok)
{
	unsigned errors;

	tdb_open(&db, a->revoked, a->revoked_cdb, lock, missing_ok);
	db.check = revoked_check;
	errors = tdb_validate(&db, 20);
	if (errors > 0)
		die(EX_DATAERR, "%s has %u error%s; fix %s first; nothing "
		    "changed", a->revoked, errors, errors == 1 ? "" : "s",
		    errors == 1 ? "it" : "them");
}

static int
cert_revoke(struct admin *a, const struct admin_args *g)
{
	char key[CERT_KEY_MAX + 1], date[32], value[64];
	const char *f[2], *err;
	time_t now = time(NULL);
	struct tm tm;
	int i, added = 0;

	for (i = 1; i < g->npos; i++)
		cert_key(g->pos[i], key);      /* all valid before any change */
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%Y-%m-%d", &tm);
	snprintf(value, sizeof value, "revoked %s", date);
	open_list(a, 1, 1);
	for (i = 1; i < g->npos; i++) {
		cert_key(g->pos[i], key);
		if (tdb_find(&db, key) >= 0) {
			printf("%s was already revoked\n", key);
			continue;
		}
		f[0] = key;
		f[1] = value;
		if (tdb_format(line, sizeof line, f, 2) < 0 ||
		    tdb_append(&db, line, &err) < 0)
			die(EX_DATAERR, "%s: invalid record", key);
		printf("revoked %s\n", key);
		added++;
	}
	if ((added || !db.exists) && tdb_commit(&db) < 0)
		die(EX_IOERR, "revocation list update failed");
	return 0;
}

static int
cert_unrevoke(struct admin *a, const struct admin_args *g)
{
	char key[CERT_KEY_MAX + 1];
	long i;

	cert_key(g->pos[1], key);
	open_list(a, 1, 0);
	i = tdb_find(&db, key);
	if (i < 0)
		die(EX_DATAERR, "%s is not in %s", key, a->revoked);
	tdb_delete(&db, (size_t)i);
	if (tdb_commit(&db) < 0)
		die(EX_IOERR, "revocation list update failed");
	printf("%s no longer revoked\n", key);
	return 0;
}

static int
cert_list(struct admin *a)
{
	const struct tdb_line *l;
	unsigned n = 0;
	size_t i;

	open_list(a, 0, 1);
	for (i = 0; i < db.n; i++) {
		l = &db.line[i];
		if (l->key_len == 0)
			continue;
		printf("%.*s  %.*s\n", (int)l->key_len, l->text + l->key_off,
		    (int)(l->len - l->val_off), l->text + l->val_off);
		n++;
	}
	printf("%u revoked certificate%s\n", n, n == 1 ? "" : "s");
	return 0;
}

int
cmd_cert(struct admin *a, const struct admin_args *g)
{
	const char *sub = g->pos[0];

	if (strcmp(sub, "revoke") == 0) {
		if (g->npos < 2)
			die(EX_USAGE, "usage: mailbox-admin cert revoke "
			    "SERIAL|FINGERPRINT...");
		return cert_revoke(a, g);
	}
	if (strcmp(sub, "unrevoke") == 0) {
		if (g->npos != 2)
			die(EX_USAGE, "usage: mailbox-admin cert unrevoke "
			    "SERIAL|FINGERPRINT");
		return cert_unrevoke(a, g);
	}
	if (strcmp(sub, "list") == 0) {
		if (g->npos != 1)
			die(EX_USAGE, "usage: mailbox-admin cert list");
		return cert_list(a);
	}
	if (strcmp(sub, "build") == 0) {
		if (g->npos != 1)
			die(EX_USAGE, "usage: mailbox-admin cert build");
		open_list(a, 1, 0);
		if (tdb_build(&db) < 0)
			die(EX_IOERR, "%s not built", a->revoked_cdb);
		printf("built %s\n", a->revoked_cdb);
		return 0;
	}
	die(EX_USAGE, "unknown cert command '%.40s' (revoke, unrevoke, list "
	    "or build)", sub);
}
