/* cmd_user.c - the user commands: add, passwd, del, list, lock, unlock,
 * quota, stat. */
#include "admin.h"
#include "addr.h"
#include "edit.h"
#include "mailbox.h"
#include "password.h"
#include "queue.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static struct tdb db;
static struct userdb_entry ent, other;
static char line[TDB_LINE_MAX];

/* An absolute path fit for the database: printable ASCII without blanks,
 * no "." or ".." component. Exits 65 otherwise. */
static void
check_path(const char *what, const char *p)
{
	size_t n = strlen(p), i;

	if (p[0] != '/')
		die(EX_DATAERR, "%s must be an absolute path: %.80s", what, p);
	if (n >= USERDB_PATH_MAX - 1 || n + 8 >= ADMIN_PATH_MAX)
		die(EX_DATAERR, "%s too long", what);
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
			die(EX_DATAERR, "%s may not contain blanks, control or "
			    "non-ASCII characters", what);
	for (i = 0; i + 2 <= n; i++)
		if (p[i] == '/' && p[i + 1] == '.' && (i + 2 == n ||
		    p[i + 2] == '/' || (p[i + 2] == '.' && (i + 3 == n ||
		    p[i + 3] == '/'))))
			die(EX_DATAERR, "%s may not contain '.' or '..' "
			    "components: %.80s", what, p);
}

/* Path without trailing slashes, for comparisons. */
static size_t
path_len(const char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	return n;
}

/* Index of another user whose maildir is, contains or lies inside
 * maildir; -1 when none. */
static long
maildir_user(const struct tdb *t, const char *key, const char *maildir)
{
	size_t n = path_len(maildir), i, m, k;
	char okey[USERDB_KEY_MAX];

	for (i = 0; i < t->n; i++) {
		if (t->line[i].deleted || t->line[i].key_len == 0)
			continue;
		tdb_key(t, i, okey);
		if (strcmp(okey, key) == 0 || strchr(okey, '@') == NULL)
			continue;
		if (tdb_entry(t, i, &other) < 0 || other.kind != USERDB_USER)
			continue;
		m = path_len(other.maildir);
		k = m < n ? m : n;
		if (memcmp(other.maildir, maildir, k) == 0 &&
		    (m == n || (m > n && other.maildir[n] == '/') ||
		    (n > m && maildir[m] == '/')))
			return (long)i;
	}
	return -1;
}

/* The checks of `add` that need the database (done before asking for
 * the password, and again under the lock). */
static void
add_checks(const struct tdb *t, const char *key, const char *domain,
    const char *maildir)
{
	long i;
	int kind = edit_domain_kind(t, domain);

	if (kind == 0)
		die(EX_DATAERR, "unknown domain %s (add it first: "
		    "mailbox-admin domain add %s)", domain, domain);
	if (kind == 2)
		die(EX_DATAERR, "%s is a hold domain: it has no local users",
		    domain);
	i = tdb_find(t, key);
	if (i >= 0) {
		tdb_entry(t, (size_t)i, &other);
		die(EX_DATAERR, "%s already exists (as %s)", key,
		    other.kind == USERDB_ALIAS ? "an alias" : "a user");
	}
	i = maildir_user(t, key, maildir);
	if (i >= 0) {
		char okey[USERDB_KEY_MAX];
		tdb_key(t, (size_t)i, okey);
		die(EX_DATAERR, "maildir %s overlaps the maildir of %s", maildir,
		    okey);
	}
}

int
cmd_add(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1], maildir[USERDB_PATH_MAX];
	char hash[USERDB_HASH_MAX];
	const char *prefix = password_prefix(a->scheme);
	struct mailbox_owner o;
	uint64_t quota = 0;

	admin_address(g->pos[0], key, local, domain);
	if (a->quota != NULL && parse_size(a->quota, &quota) < 0)
		die(EX_DATAERR, "invalid quota '%.40s' (bytes, or a number "
		    "with K, M or G)", a->quota);
	if (a->maildir != NULL) {
		check_path("--maildir", a->maildir);
		copy_str(maildir, sizeof maildir, a->maildir);
	} else {
		check_path("--mail-root", a->mail_root);
		if ((size_t)snprintf(maildir, sizeof maildir, "%s/%s/%s",
		    strcmp(a->mail_root, "/") == 0 ? "" : a->mail_root,
		    domain, local) >= sizeof maildir - 8)
			die(EX_DATAERR, "maildir path too long");
	}
	mailbox_owner(a->owner, &o);

	/* cheap checks first, so nobody types a password in vain */
	tdb_open(&db, a->db, a->cdb, 0, 1);
	if (tdb_validate(&db, 20) > 0)
		die(EX_DATAERR, "%s has errors; fix them first (see "
		    "'mailbox-admin check'); nothing changed", a->db);
	add_checks(&db, key, domain, maildir);
	tdb_close(&db);

	password_new(a->password_stdin, prefix, hash, sizeof hash);

	edit_open(a, &db);
	add_checks(&db, key, domain, maildir);
	memset(&ent, 0, sizeof ent);
	copy_str(ent.key, sizeof ent.key, key);
	copy_str(ent.hash, sizeof ent.hash, hash);
	copy_str(ent.maildir, sizeof ent.maildir, maildir);
	ent.quota = quota;
	edit_user_line(&ent, line, sizeof line);
	edit_append(&db, line);
	wipe(hash, sizeof hash);
	if (mailbox_create(maildir, &o) < 0)
		die(EX_CANTCREAT, "cannot create the maildir; nothing changed "
		    "in the database");
	edit_commit(&db);
	printf("added %s, maildir %s\n", key, maildir);
	return 0;
}

int
cmd_passwd(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1], hash[USERDB_HASH_MAX];
	const char *prefix = password_prefix(a->scheme);
	size_t i;

	admin_address(g->pos[0], key, local, domain);
	edit_open_ro(a, &db);
	edit_user(&db, key, &ent);
	tdb_close(&db);

	password_new(a->password_stdin, prefix, hash, sizeof hash);

	edit_open(a, &db);
	i = edit_user(&db, key, &ent);
	copy_str(ent.hash, sizeof ent.hash, hash);
	ent.flags &= ~(unsigned)USERDB_DISABLED;
	wipe(hash, sizeof hash);
	edit_user_line(&ent, line, sizeof line);
	edit_set(&db, i, line);
	edit_commit(&db);
	printf("password of %s changed\n", key);
	return 0;
}

/* Warns about aliases that name key as a target. */
static void
warn_alias_targets(const struct tdb *t, const char *key)
{
	char okey[USERDB_KEY_MAX], target[ADDR_MAX + 1];
	size_t i, pos;

	for (i = 0; i < t->n; i++) {
		if (t->line[i].deleted || t->line[i].key_len == 0 ||
		    tdb_entry(t, i, &other) < 0 || other.kind != USERDB_ALIAS)
			continue;
		pos = 0;
		while (userdb_alias_next(other.targets, &pos, target,
		    sizeof target) == 1)
			if (strcmp(target, key) == 0) {
				tdb_key(t, i, okey);
				warnx_("warning: alias %s still names %s", okey,
				    key);
			}
	}
}

int
cmd_del(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	const char *why = NULL;
	size_t i;
	long o;
	int md = 0;

	admin_address(g->pos[0], key, local, domain);
	edit_open(a, &db);
	i = edit_user(&db, key, &ent);
	if (!a->keep_mail) {
		o = maildir_user(&db, key, ent.maildir);
		if (o >= 0) {
			char okey[USERDB_KEY_MAX];
			tdb_key(&db, (size_t)o, okey);
			die(EX_DATAERR, "the maildir %s overlaps the maildir "
			    "of %s; use --keep-mail; nothing changed",
			    ent.maildir, okey);
		}
		md = mailbox_is_maildir(ent.maildir, &why);
		if (md < 0)
			die(EX_DATAERR, "refusing to remove %s: %s; use "
			    "--keep-mail; nothing changed", ent.maildir, why);
	}
	tdb_delete(&db, i);
	edit_commit(&db);
	warn_alias_targets(&db, key);
	if (md == 1) {
		if (mailbox_remove(ent.maildir) < 0)
			die(EX_IOERR, "%s deleted from the database, but its "
			    "maildir %s was not fully removed", key,
			    ent.maildir);
		printf("deleted %s and its maildir %s\n", key, ent.maildir);
	} else if (a->keep_mail) {
		printf("deleted %s (maildir %s kept)\n", key, ent.maildir);
	} else {
		printf("deleted %s (maildir %s did not exist)\n", key,
		    ent.maildir);
	}
	return 0;
}

/* Prints one record for `list` (never hashes or secrets). */
static void
list_one(const struct userdb_entry *e)
{
	char opts[256], q[32], hostport[300], ef[1100];
	const char *f[4] = { e->key, NULL, NULL, NULL };
	size_t used = 0;

	opts[0] = '\0';
	switch (e->kind) {
	case USERDB_DOMAIN:
		f[1] = "domain";
		break;
	case USERDB_HOLD:
		f[1] = "hold";
		if (e->host[0] != '\0') {
			if (e->port)
				snprintf(hostport, sizeof hostport, "host=%s%s%s:%u",
				    strchr(e->host, ':') ? "[" : "", e->host,
				    strchr(e->host, ':') ? "]" : "", e->port);
			else
				snprintf(hostport, sizeof hostport, "host=%s",
				    e->host);
			f[2] = hostport;
		}
		if (e->etrn_from[0] != '\0') {
			snprintf(ef, sizeof ef, "etrn-from=%s", e->etrn_from);
			f[3] = ef;
		}
		break;
	case USERDB_ALIAS:
		f[1] = "alias";
		f[2] = e->targets;
		break;
	case USERDB_USER:
		f[1] = (e->flags & USERDB_DISABLED) ? "user(disabled)" : "user";
		f[2] = e->maildir;
		if (e->quota) {
			format_size(e->quota, q, sizeof q);
			used += (size_t)snprintf(opts + used, sizeof opts - used,
			    "quota=%s", q);
		}
		if ((e->flags & USERDB_LOCKED) && used < sizeof opts)
			used += (size_t)snprintf(opts + used, sizeof opts - used,
			    "%slocked", used ? "," : "");
		if ((e->flags & USERDB_NOPOP3) && used < sizeof opts)
			used += (size_t)snprintf(opts + used, sizeof opts - used,
			    "%snopop3", used ? "," : "");
		if ((e->flags & USERDB_NOSMTP) && used < sizeof opts)
			used += (size_t)snprintf(opts + used, sizeof opts - used,
			    "%snosmtp", used ? "," : "");
		if (e->apop[0] != '\0' && used < sizeof opts)
			snprintf(opts + used, sizeof opts - used, "%sapop",
			    used ? "," : "");
		f[3] = opts;
		break;
	}
	if (tdb_format(line, sizeof line, f, 4) == 0)
		puts(line);
}

int
cmd_list(struct admin *a, const struct admin_args *g)
{
	char domain[ADDR_DOMAIN_MAX + 1];
	const char *at;
	size_t i;

	if (g->npos > 0)
		admin_domain(g->pos[0], domain);
	edit_open_ro(a, &db);
	if (g->npos > 0 && edit_domain_kind(&db, domain) == 0)
		die(EX_DATAERR, "unknown domain %s", domain);
	for (i = 0; i < db.n; i++) {
		if (db.line[i].key_len == 0 || tdb_entry(&db, i, &ent) < 0)
			continue;
		if (g->npos > 0) {
			at = strchr(ent.key, '@');
			if (strcmp(at ? at + 1 : ent.key, domain) != 0)
				continue;
		}
		list_one(&ent);
	}
	return 0;
}

static int
set_lock(struct admin *a, const struct admin_args *g, int on)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	size_t i;

	admin_address(g->pos[0], key, local, domain);
	edit_open(a, &db);
	i = edit_user(&db, key, &ent);
	if (!!(ent.flags & USERDB_LOCKED) == on) {
		printf("%s is already %s\n", key, on ? "locked" : "unlocked");
		return 0;
	}
	if (on)
		ent.flags |= USERDB_LOCKED;
	else
		ent.flags &= ~(unsigned)USERDB_LOCKED;
	edit_user_line(&ent, line, sizeof line);
	edit_set(&db, i, line);
	edit_commit(&db);
	printf("%s %s\n", key, on ? "locked" : "unlocked");
	return 0;
}

int
cmd_lock(struct admin *a, const struct admin_args *g)
{
	return set_lock(a, g, 1);
}

int
cmd_unlock(struct admin *a, const struct admin_args *g)
{
	return set_lock(a, g, 0);
}

int
cmd_quota(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1], q[32];
	uint64_t quota;
	size_t i;

	admin_address(g->pos[0], key, local, domain);
	if (parse_size(g->pos[1], &quota) < 0)
		die(EX_DATAERR, "invalid size '%.40s' (bytes, or a number with "
		    "K, M or G; 0 = no quota)", g->pos[1]);
	edit_open(a, &db);
	i = edit_user(&db, key, &ent);
	ent.quota = quota;
	edit_user_line(&ent, line, sizeof line);
	edit_set(&db, i, line);
	edit_commit(&db);
	format_size(quota, q, sizeof q);
	if (quota)
		printf("quota of %s set to %s\n", key, q);
	else
		printf("quota of %s removed\n", key);
	return 0;
}

int
cmd_stat(struct admin *a, const struct admin_args *g)
{
	char key[ADDR_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1], q[32];
	const char *why = NULL;
	uint64_t nn, nb, cn, cb;

	if (!strchr(g->pos[0], '@')) {
		/* stat HOLD-DOMAIN: how full its hold queue is */
		char hq[ADDR_DOMAIN_MAX + 8];
		int r;
		admin_domain(g->pos[0], domain);
		r = userdb_lookup(a->cdb, domain, &ent);
		if (r < 0)
			die(EX_IOERR, "%s: cannot read the database", a->cdb);
		if (r == 0 || ent.kind != USERDB_HOLD ||
		    queue_hold_name(domain, hq, sizeof hq) < 0)
			die(EX_DATAERR, "%s is not a hold domain in %s (stat "
			    "takes an address or a hold domain)", domain, a->cdb);
		queue_fill(a->spool, a->cdb, hq);
		return 0;
	}
	admin_address(g->pos[0], key, local, domain);
	edit_open_ro(a, &db);
	edit_user(&db, key, &ent);
	/* read as root: not through a link the service user planted */
	if (mailbox_is_maildir(ent.maildir, &why) < 0)
		die(EX_DATAERR, "refusing to read %s: %s", ent.maildir, why);
	if (mailbox_usage(ent.maildir, &nn, &nb, &cn, &cb) < 0)
		die(EX_IOERR, "%s: %m", ent.maildir);
	printf("address:  %s\n", key);
	printf("maildir:  %s\n", ent.maildir);
	printf("new:      %llu messages, %llu bytes\n",
	    (unsigned long long)nn, (unsigned long long)nb);
	printf("cur:      %llu messages, %llu bytes\n",
	    (unsigned long long)cn, (unsigned long long)cb);
	printf("total:    %llu messages, %llu bytes\n",
	    (unsigned long long)(nn + cn), (unsigned long long)(nb + cb));
	if (ent.quota) {
		format_size(ent.quota, q, sizeof q);
		printf("quota:    %s (%llu bytes), %llu%% used\n", q,
		    (unsigned long long)ent.quota,
		    (unsigned long long)((nb + cb) * 100 / ent.quota));
	} else {
		printf("quota:    none\n");
	}
	printf("status:   %s%s%s%s%s\n",
	    (ent.flags & (USERDB_DISABLED | USERDB_LOCKED | USERDB_NOPOP3 |
	    USERDB_NOSMTP)) ? "" : "active",
	    (ent.flags & USERDB_DISABLED) ? "disabled " : "",
	    (ent.flags & USERDB_LOCKED) ? "locked " : "",
	    (ent.flags & USERDB_NOPOP3) ? "nopop3 " : "",
	    (ent.flags & USERDB_NOSMTP) ? "nosmtp " : "");
	return 0;
}
