/* cmd_domain.c - domain and alias commands, and the whole-database
 * commands check and build. */
#include "admin.h"
#include "addr.h"
#include "edit.h"
#include "util.h"

#include <cdb.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct tdb db;
static struct userdb_entry ent, other;
static char line[TDB_LINE_MAX];

/* The domain part of a record key ("a@b" -> "b", "b" -> "b"). */
static const char *
key_domain(const char *key)
{
	const char *at = strchr(key, '@');

	return at ? at + 1 : key;
}

/* An option value that goes into the file as one field. */
static void
check_field(const char *opt, const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
			die(EX_DATAERR, "%s: blanks, control and non-ASCII "
			    "characters are not allowed", opt);
}

/* Counts the users and aliases of domain; 0 when none. */
static void
count_domain(const struct tdb *t, const char *domain, unsigned *users,
    unsigned *aliases)
{
	char key[USERDB_KEY_MAX];
	size_t i;

	*users = *aliases = 0;
	for (i = 0; i < t->n; i++) {
		if (t->line[i].deleted || t->line[i].key_len == 0)
			continue;
		tdb_key(t, i, key);
		if (strchr(key, '@') == NULL ||
		    strcmp(key_domain(key), domain) != 0)
			continue;
		if (tdb_entry(t, i, &other) == 0 && other.kind == USERDB_ALIAS)
			(*aliases)++;
		else
			(*users)++;
	}
}

static int
domain_add(struct admin *a, const char *name)
{
	char domain[ADDR_DOMAIN_MAX + 1], host[300], ef[1100], lt[64], mh[64];
	char od[600];
	const char *f[7];

	admin_domain(name, domain);
	f[0] = domain;
	f[1] = a->hold ? "hold" : "domain";
	f[2] = f[3] = f[4] = f[5] = f[6] = NULL;
	if (a->lifetime != NULL) {
		check_field("--lifetime", a->lifetime);
		if ((size_t)snprintf(lt, sizeof lt, "lifetime=%s", a->lifetime)
		    >= sizeof lt)
			die(EX_DATAERR, "--lifetime too long");
		f[4] = lt;
	}
	if (a->max_held != NULL) {
		check_field("--max-held", a->max_held);
		if ((size_t)snprintf(mh, sizeof mh, "max-held=%s", a->max_held)
		    >= sizeof mh)
			die(EX_DATAERR, "--max-held too long");
		f[5] = mh;
	}
	if (a->host != NULL) {
		check_field("--host", a->host);
		if ((size_t)snprintf(host, sizeof host, "host=%s", a->host) >=
		    sizeof host)
			die(EX_DATAERR, "--host too long");
		f[2] = host;
	}
	if (a->etrn_from != NULL) {
		check_field("--etrn-from", a->etrn_from);
		if ((size_t)snprintf(ef, sizeof ef, "etrn-from=%s",
		    a->etrn_from) >= sizeof ef)
			die(EX_DATAERR, "--etrn-from too long");
		f[3] = ef;
	}
	if (a->odmr != NULL) {
		check_field("--odmr", a->odmr);
		if ((size_t)snprintf(od, sizeof od, "odmr=%s", a->odmr) >=
		    sizeof od)
			die(EX_DATAERR, "--odmr too long");
		f[6] = od;
	}
	edit_open(a, &db);
	if (tdb_find(&db, domain) >= 0)
		die(EX_DATAERR, "domain %s already exists", domain);
	if (tdb_format(line, sizeof line, f, 7) < 0)
		die(EX_DATAERR, "record too long");
	edit_append(&db, line);
	edit_commit(&db);
	printf("added %s domain %s\n", a->hold ? "hold" : "local", domain);
	return 0;
}

static int
domain_del(struct admin *a, const char *name)
{
	char domain[ADDR_DOMAIN_MAX + 1], key[USERDB_KEY_MAX];
	unsigned users, aliases;
	long d;
	size_t i;

	admin_domain(name, domain);
	edit_open(a, &db);
	d = tdb_find(&db, domain);
	if (d < 0)
		die(EX_DATAERR, "no such domain: %s", domain);
	count_domain(&db, domain, &users, &aliases);
	if ((users || aliases) && !a->force)
		die(EX_DATAERR, "domain %s still has %u user%s and %u alias%s; "
		    "delete them first or use --force; nothing changed", domain,
		    users, users == 1 ? "" : "s", aliases,
		    aliases == 1 ? "" : "es");
	tdb_delete(&db, (size_t)d);
	for (i = 0; i < db.n; i++) {
		if (db.line[i].deleted || db.line[i].key_len == 0)
			continue;
		tdb_key(&db, i, key);
		if (strchr(key, '@') != NULL &&
		    strcmp(key_domain(key), domain) == 0)
			tdb_delete(&db, i);
	}
	edit_commit(&db);
	if (users || aliases)
		printf("deleted domain %s with %u user%s and %u alias%s "
		    "(maildirs kept)\n", domain, users, users == 1 ? "" : "s",
		    aliases, aliases == 1 ? "" : "es");
	else
		printf("deleted domain %s\n", domain);
	return 0;
}

static int
domain_list(struct admin *a)
{
	char counts[64], host[300], ef[1100];
	unsigned users, aliases;
	const char *f[5];
	size_t i;

	edit_open_ro(a, &db);
	for (i = 0; i < db.n; i++) {
		if (db.line[i].key_len == 0 || tdb_entry(&db, i, &ent) < 0)
			continue;
		if (ent.kind == USERDB_DOMAIN) {
			count_domain(&db, ent.key, &users, &aliases);
			snprintf(counts, sizeof counts, "%u user%s, %u alias%s",
			    users, users == 1 ? "" : "s", aliases,
			    aliases == 1 ? "" : "es");
			f[0] = ent.key;
			f[1] = "domain";
			f[2] = counts;
			f[3] = f[4] = NULL;
		} else if (ent.kind == USERDB_HOLD) {
			if (ent.port)
				snprintf(host, sizeof host, "host=%s%s%s:%u",
				    strchr(ent.host, ':') ? "[" : "", ent.host,
				    strchr(ent.host, ':') ? "]" : "", ent.port);
			else
				snprintf(host, sizeof host, "host=%s",
				    ent.host[0] ? ent.host : "(MX)");
			snprintf(ef, sizeof ef, "etrn-from=%s",
			    ent.etrn_from[0] ? ent.etrn_from :
			    "(authenticated only)");
			f[0] = ent.key;
			f[1] = "hold";
			f[2] = host;
			f[3] = ef;
			f[4] = ent.tls == USERDB_TLS_VERIFY ? "tls=verify" :
			    ent.tls == USERDB_TLS_REQUIRE ? "tls=require" :
			    "tls=may";
		} else {
			continue;
		}
		if (tdb_format(line, sizeof line, f, 5) == 0)
			puts(line);
	}
	return 0;
}

int
cmd_domain(struct admin *a, const struct admin_args *g)
{
	const char *sub = g->pos[0];
	int is_add = strcmp(sub, "add") == 0;

	if (!is_add && (a->hold || a->host || a->etrn_from || a->lifetime ||
	    a->max_held || a->odmr))
		die(EX_USAGE, "--hold, --host, --etrn-from, --odmr, --lifetime "
		    "and --max-held go with 'domain add'");
	if ((a->host || a->etrn_from || a->lifetime || a->max_held ||
	    a->odmr) && !a->hold)
		die(EX_USAGE, "--host, --etrn-from, --odmr, --lifetime and "
		    "--max-held need --hold");
	if (a->force && strcmp(sub, "del") != 0)
		die(EX_USAGE, "--force goes with 'domain del'");
	if (is_add || strcmp(sub, "del") == 0) {
		if (g->npos != 2)
			die(EX_USAGE, "usage: mailbox-admin domain %s NAME", sub);
		return is_add ? domain_add(a, g->pos[1]) :
		    domain_del(a, g->pos[1]);
	}
	if (strcmp(sub, "list") == 0) {
		if (g->npos != 1)
			die(EX_USAGE, "usage: mailbox-admin domain list");
		return domain_list(a);
	}
	die(EX_USAGE, "unknown domain command '%.40s' (add, del or list)", sub);
}

static int
alias_add(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1], one[ADDR_MAX + 2];
	char norm[ADDR_MAX + 1], targets[USERDB_VALUE_MAX];
	const char *f[3], *err;
	size_t used = 0, n;
	int i, kind;

	admin_address(g->pos[1], key, local, domain);
	targets[0] = '\0';
	for (i = 2; i < g->npos; i++) {
		const char *p = g->pos[i];
		while (*p != '\0') {
			n = strcspn(p, ",");
			if (n == 0 || n >= sizeof one)
				die(EX_DATAERR, "invalid alias target list "
				    "'%.80s'", g->pos[i]);
			memcpy(one, p, n);
			one[n] = '\0';
			if (addr_normalise(one, norm, &err) < 0)
				die(EX_DATAERR, "invalid alias target '%.80s': "
				    "%s", one, err);
			if (strcmp(norm, key) == 0)
				die(EX_DATAERR, "an alias cannot point to "
				    "itself");
			if (used + strlen(norm) + 2 >= sizeof targets)
				die(EX_DATAERR, "too many alias targets");
			used += (size_t)snprintf(targets + used,
			    sizeof targets - used, "%s%s", used ? "," : "",
			    norm);
			p += n;
			if (*p == ',' && *++p == '\0')
				die(EX_DATAERR, "invalid alias target list "
				    "'%.80s'", g->pos[i]);
		}
	}
	edit_open(a, &db);
	kind = edit_domain_kind(&db, domain);
	if (kind != 1)
		die(EX_DATAERR, kind == 2 ? "%s is a hold domain: it has no "
		    "local aliases" : "unknown domain %s", domain);
	if (tdb_find(&db, key) >= 0)
		die(EX_DATAERR, "%s already exists", key);
	f[0] = key;
	f[1] = "alias";
	f[2] = targets;
	if (tdb_format(line, sizeof line, f, 3) < 0)
		die(EX_DATAERR, "record too long");
	edit_append(&db, line);
	edit_commit(&db);
	printf("added alias %s -> %s\n", key, targets);
	return 0;
}

static int
alias_del(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	long i;

	admin_address(g->pos[1], key, local, domain);
	edit_open(a, &db);
	i = tdb_find(&db, key);
	if (i < 0 || tdb_entry(&db, (size_t)i, &ent) < 0 ||
	    ent.kind != USERDB_ALIAS)
		die(EX_DATAERR, "no such alias: %s", key);
	tdb_delete(&db, (size_t)i);
	edit_commit(&db);
	printf("deleted alias %s\n", key);
	return 0;
}

int
cmd_alias(struct admin *a, const struct admin_args *g)
{
	const char *sub = g->pos[0];

	if (strcmp(sub, "add") == 0) {
		if (g->npos < 3)
			die(EX_USAGE, "usage: mailbox-admin alias add ADDRESS "
			    "TARGET...");
		return alias_add(a, g);
	}
	if (strcmp(sub, "del") == 0) {
		if (g->npos != 2)
			die(EX_USAGE, "usage: mailbox-admin alias del ADDRESS");
		return alias_del(a, g);
	}
	die(EX_USAGE, "unknown alias command '%.40s' (add or del)", sub);
}

/* 1 when the CDB holds exactly the records of the text. */
static int
cdb_current(const struct tdb *t)
{
	struct cdb c;
	unsigned pos, records = 0, n = 0;
	size_t i;
	int fd, ok = 1;

	fd = open(t->cdb, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (cdb_init(&c, fd) < 0) {
		close(fd);
		return 0;
	}
	cdb_seqinit(&pos, &c);
	while (cdb_seqnext(&pos, &c) > 0)
		records++;
	for (i = 0; i < t->n && ok; i++) {
		const struct tdb_line *l = &t->line[i];
		size_t vlen = l->len - l->val_off;
		if (l->key_len == 0)
			continue;
		n++;
		if (cdb_find(&c, l->text + l->key_off, (unsigned)l->key_len) <= 0 ||
		    cdb_datalen(&c) != vlen ||
		    memcmp(cdb_get(&c, (unsigned)vlen, cdb_datapos(&c)),
		    l->text + l->val_off, vlen) != 0)
			ok = 0;
	}
	cdb_free(&c);
	close(fd);
	return ok && n == records;
}

static unsigned warnings;

static void warn_line(const struct tdb *t, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
warn_line(const struct tdb *t, size_t i, const char *fmt, ...)
{
	char key[USERDB_KEY_MAX];
	va_list ap;

	tdb_key(t, i, key);
	fprintf(stderr, "%s:%u: %s: warning: ", t->path, t->line[i].lineno, key);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	warnings++;
}

int
cmd_check(struct admin *a, const struct admin_args *g)
{
	char pm[USERDB_KEY_MAX + 16], target[ADDR_MAX + 1];
	unsigned errors, records = 0;
	size_t i, pos;
	long k;
	int kind;

	(void)g;
	tdb_open(&db, a->db, a->cdb, 0, 0);
	errors = tdb_validate(&db, UINT_MAX);
	for (i = 0; i < db.n; i++) {
		if (db.line[i].key_len == 0)
			continue;
		records++;
		if (tdb_entry(&db, i, &ent) < 0)
			continue;
		switch (ent.kind) {
		case USERDB_DOMAIN:
			snprintf(pm, sizeof pm, "postmaster@%s", ent.key);
			if (tdb_find(&db, pm) < 0)
				warn_line(&db, i, "no %s (RFC 5321 requires "
				    "one: add a user or an alias)", pm);
			break;
		case USERDB_HOLD:
			break;
		case USERDB_USER:
		case USERDB_ALIAS:
			kind = edit_domain_kind(&db, key_domain(ent.key));
			if (kind != 1)
				warn_line(&db, i, "domain %s is not a local "
				    "domain: this record is never used",
				    key_domain(ent.key));
			if (ent.kind == USERDB_USER &&
			    !(ent.flags & USERDB_DISABLED) &&
			    crypt_checksalt(ent.hash) ==
			    CRYPT_SALT_METHOD_LEGACY)
				warn_line(&db, i, "%s", "legacy password hash: "
				    "set a new password (mailbox-admin passwd)");
			if (ent.kind == USERDB_ALIAS) {
				pos = 0;
				while (userdb_alias_next(ent.targets, &pos,
				    target, sizeof target) == 1) {
					if (edit_domain_kind(&db,
					    key_domain(target)) != 1)
						continue;
					k = tdb_find(&db, target);
					if (k < 0)
						warn_line(&db, i, "target %s "
						    "does not exist", target);
				}
			}
			break;
		}
	}
	if (errors == 0 && !cdb_current(&db)) {
		fprintf(stderr, "%s: warning: not built from the current text "
		    "(run 'mailbox-admin build')\n", db.cdb);
		warnings++;
	}
	printf("%s: %u record%s, %u error%s, %u warning%s\n", a->db, records,
	    records == 1 ? "" : "s", errors, errors == 1 ? "" : "s",
	    warnings, warnings == 1 ? "" : "s");
	return errors ? EX_DATAERR : 0;
}

int
cmd_build(struct admin *a, const struct admin_args *g)
{
	unsigned errors, records = 0;
	size_t i;

	(void)g;
	tdb_open(&db, a->db, a->cdb, 1, 0);
	errors = tdb_validate(&db, 20);
	if (errors > 0)
		die(EX_DATAERR, "%s has %u error%s; %s not changed", a->db,
		    errors, errors == 1 ? "" : "s", a->cdb);
	for (i = 0; i < db.n; i++)
		if (db.line[i].key_len != 0)
			records++;
	if (tdb_build(&db) < 0)
		die(EX_IOERR, "%s not built", a->cdb);
	printf("built %s: %u record%s\n", a->cdb, records,
	    records == 1 ? "" : "s");
	return 0;
}
