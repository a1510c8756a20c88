/* edit.c - shared steps of mailbox-admin's editing commands. */
#include "edit.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define REPORT_MAX 20

void
edit_open(const struct admin *a, struct tdb *t)
{
	unsigned errors;

	tdb_open(t, a->db, a->cdb, 1, 1);
	errors = tdb_validate(t, REPORT_MAX);
	if (errors > 0)
		die(EX_DATAERR, "%s has %u error%s; fix %s first (see "
		    "'mailbox-admin check'); nothing changed", a->db, errors,
		    errors == 1 ? "" : "s", errors == 1 ? "it" : "them");
}

void
edit_open_ro(const struct admin *a, struct tdb *t)
{
	unsigned errors;

	tdb_open(t, a->db, a->cdb, 0, 0);
	errors = tdb_validate(t, REPORT_MAX);
	if (errors > 0)
		die(EX_DATAERR, "%s has %u error%s (see 'mailbox-admin "
		    "check')", a->db, errors, errors == 1 ? "" : "s");
}

size_t
edit_user(const struct tdb *t, const char *key, struct userdb_entry *e)
{
	long i = tdb_find(t, key);

	if (i < 0)
		die(EX_DATAERR, "no such user: %s", key);
	if (tdb_entry(t, (size_t)i, e) < 0)
		die(EX_DATAERR, "%s: record does not parse", key);
	if (e->kind != USERDB_USER)
		die(EX_DATAERR, "%s is %s, not a user", key,
		    e->kind == USERDB_ALIAS ? "an alias" : "a domain");
	return (size_t)i;
}

void
edit_user_line(const struct userdb_entry *e, char *out, size_t size)
{
	char opts[USERDB_VALUE_MAX], q[32];
	const char *f[4];
	size_t used = 0;

	opts[0] = '\0';
#define ADD_OPT(s) do { \
		int n_ = snprintf(opts + used, sizeof opts - used, "%s%s", \
		    used ? "," : "", (s)); \
		if (n_ < 0 || (size_t)n_ >= sizeof opts - used) \
			die(EX_DATAERR, "%s: options too long", e->key); \
		used += (size_t)n_; \
	} while (0)
	if (e->quota > 0) {
		char qs[40];
		format_size(e->quota, q, sizeof q);
		snprintf(qs, sizeof qs, "quota=%s", q);
		ADD_OPT(qs);
	}
	if (e->flags & USERDB_LOCKED)
		ADD_OPT("locked");
	if (e->flags & USERDB_NOPOP3)
		ADD_OPT("nopop3");
	if (e->flags & USERDB_NOSMTP)
		ADD_OPT("nosmtp");
	if (e->apop[0] != '\0') {
		char ap[sizeof e->apop + 8];
		snprintf(ap, sizeof ap, "apop=%s", e->apop);
		ADD_OPT(ap);
		wipe(ap, sizeof ap);
	}
#undef ADD_OPT
	f[0] = e->key;
	f[1] = e->hash;
	f[2] = e->maildir;
	f[3] = opts;
	if (tdb_format(out, size, f, 4) < 0)
		die(EX_DATAERR, "%s: record too long", e->key);
	wipe(opts, sizeof opts);
}

void
edit_set(struct tdb *t, size_t i, const char *line)
{
	const char *err;

	if (tdb_set(t, i, line, &err) < 0)
		die(EX_DATAERR, "invalid record: %s; nothing changed", err);
}

void
edit_append(struct tdb *t, const char *line)
{
	const char *err;

	if (tdb_append(t, line, &err) < 0)
		die(EX_DATAERR, "invalid record: %s; nothing changed", err);
}

void
edit_commit(struct tdb *t)
{
	if (tdb_commit(t) < 0)
		die(EX_IOERR, "database update failed");
}

int
edit_domain_kind(const struct tdb *t, const char *domain)
{
	static struct userdb_entry e;
	long i = tdb_find(t, domain);

	if (i < 0 || tdb_entry(t, (size_t)i, &e) < 0)
		return 0;
	return e.kind == USERDB_DOMAIN ? 1 : e.kind == USERDB_HOLD ? 2 : 0;
}
