/* userdb_walk.c - every record of the user database's CDB in file order
 * (the order of the text source), parsed: for the commands and checks
 * that look at the whole database (the bare <postmaster>'s domain, the
 * queue expiry's hold-domain lifetimes and users' maildirs). */
#include "userdb.h"
#include "cdbfile.h"
#include "util.h"

#include <cdb.h>
#include <string.h>

struct walk {
	int (*fn)(const struct userdb_entry *e, void *arg);
	void *arg;
};

static int
walk_cdb(struct cdb *c, void *argp)
{
	static struct userdb_entry e;     /* 10 KiB: not on the stack */
	static char key[USERDB_KEY_MAX], val[USERDB_VALUE_MAX];
	struct walk *w = argp;
	const char *err;
	unsigned pos, kl, vl;
	int r = 0;

	cdb_seqinit(&pos, c);
	while (r == 0 && cdb_seqnext(&pos, c) > 0) {
		kl = cdb_keylen(c);
		vl = cdb_datalen(c);
		if (kl == 0 || kl >= sizeof key || vl >= sizeof val)
			continue;
		if (cdb_read(c, key, kl, cdb_keypos(c)) != 0 ||
		    cdb_read(c, val, vl, cdb_datapos(c)) != 0) {
			r = -1;
			break;
		}
		key[kl] = '\0';
		val[vl] = '\0';
		if (userdb_parse(key, val, vl, &e, &err) < 0)
			continue;
		r = w->fn(&e, w->arg);
	}
	wipe(val, sizeof val);
	wipe(&e, sizeof e);
	return r;
}

int
userdb_walk(const char *path, int (*fn)(const struct userdb_entry *e,
    void *arg), void *arg)
{
	struct walk w = { fn, arg };

	return cdbfile_run(path, walk_cdb, &w);
}

struct first_domain {
	char *out;
	size_t size;
};

static int
first_domain(const struct userdb_entry *e, void *arg)
{
	struct first_domain *f = arg;

	if (e->kind != USERDB_DOMAIN)
		return 0;
	return copy_str(f->out, f->size, e->key) < 0 ? 0 : 1;
}

int
userdb_first_domain(const char *path, char *out, size_t size)
{
	struct first_domain f = { out, size };

	if (size == 0)
		return 0;
	out[0] = '\0';
	return userdb_walk(path, first_domain, &f);
}
