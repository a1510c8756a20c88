/* etrn.c - ETRN (RFC 1985) for smtp-handler: parses "node", "@domain"
 * and "#queue", checks that the node is a hold domain and the client may
 * ask for it (etrn-from= CIDRs, or an authenticated user of that domain),
 * counts the held mail, records the request and starts the node's
 * detached flusher unless it is running (lib/holdserve.c): a permitted
 * ETRN is never dropped; the flusher starts asked passes at most once
 * every HOLDFLUSH_MIN_INTERVAL seconds, so repeated ETRNs cannot start a
 * storm.
 *
 * "#NAME" names the hold queue of the hold domain NAME: the same as
 * "ETRN NAME" (postern keeps one queue per hold domain). "@DOMAIN" asks
 * for every hold domain equal to DOMAIN or below it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "addr.h"
#include "cdbfile.h"
#include "etrn.h"
#include "holdflush.h"
#include "log.h"
#include "queue.h"
#include "startup.h"
#include "userdb.h"
#include "util.h"

#define ETRN_NODES_MAX     64     /* hold domains matched by one @domain */
#define ETRN_FLUSH_TIMEOUT 120    /* seconds per network wait of a flush */

/* scratch for one record: large, so static; filled before each use */
static struct userdb_entry ent;

struct hold_scan {
	int (*fn)(const struct userdb_entry *e, void *arg);
	void *arg;
};

/* Inside the guarded mapping: every record whose value starts with the
 * word "hold" is parsed and handed to the callback. */
static int
hold_scan(struct cdb *c, void *argp)
{
	struct hold_scan *h = argp;
	const unsigned char *map;
	unsigned size, pos;

	/* Most databases have no hold domain: skip the scan when the word
	 * does not occur at all (memmem runs at memory speed). */
	map = cdbfile_map(c, &size);
	if (!memmem(map, size, "hold", 4))
		return 0;
	cdb_seqinit(&pos, c);
	while (cdb_seqnext(&pos, c) > 0) {
		char key[USERDB_KEY_MAX], val[USERDB_VALUE_MAX];
		unsigned kl = cdb_keylen(c), vl = cdb_datalen(c), i = 0;
		const char *err;

		if (kl == 0 || kl >= sizeof key || vl >= sizeof val)
			continue;
		if (cdb_read(c, key, kl, cdb_keypos(c)) != 0 ||
		    cdb_read(c, val, vl, cdb_datapos(c)) != 0)
			return -1;
		key[kl] = '\0';
		val[vl] = '\0';
		if (memchr(key, '@', kl))
			continue;
		while (i < vl && (val[i] == ' ' || val[i] == '\t'))
			i++;
		if (vl - i < 4 || strncasecmp(val + i, "hold", 4) != 0 ||
		    (vl - i > 4 && val[i + 4] != ' ' && val[i + 4] != '\t'))
			continue;
		if (userdb_parse(key, val, vl, &ent, &err) < 0 ||
		    ent.kind != USERDB_HOLD) {
			log_msg(LOG_WARNING, "etrn: bad hold record %s: %s", key,
			    err ? err : "not a hold entry");
			continue;
		}
		if (h->fn(&ent, h->arg))
			break;
	}
	return 0;
}

/* Calls fn for every hold entry of the CDB. fn returns non-zero to stop.
 * Returns 0, or -1 when the database cannot be read. */
static int
foreach_hold(const char *users, int (*fn)(const struct userdb_entry *e,
    void *arg), void *arg)
{
	struct hold_scan h = { fn, arg };

	return cdbfile_run(users, hold_scan, &h) < 0 ? -1 : 0;
}

static int
found_one(const struct userdb_entry *e, void *arg)
{
	(void)e;
	*(int *)arg = 1;
	return 1;
}

int
etrn_available(const char *users)
{
	int any = 0;

	if (foreach_hold(users, found_one, &any) < 0)
		return 0;
	return any;
}

/* Whether the client may ask for node. */
static int
permitted(const struct etrn_ctx *c, const struct userdb_entry *e)
{
	const char *d;
	size_t nl, dl;

	if (e->etrn_from[0] && c->peer_addr &&
	    cidr_match(c->peer_addr, e->etrn_from, NULL))
		return 1;
	if (!c->auth_user || !(d = strrchr(c->auth_user, '@')))
		return 0;
	d++;
	nl = strlen(e->key);
	dl = strlen(d);
	if (dl == 0)
		return 0;
	if (nl == dl)
		return strcasecmp(e->key, d) == 0;
	return nl > dl && e->key[nl - dl - 1] == '.' &&
	    strcasecmp(e->key + nl - dl, d) == 0;
}

struct node_result {
	int matched, allowed, failed;
	long count;
};

/* Counts node's held mail and starts its flush. */
static void
start_node(const struct etrn_ctx *c, const char *node,
    struct node_result *res)
{
	char queue[ADDR_DOMAIN_MAX + 16];
	struct holdflush_opts o;
	long n;

	if (queue_hold_name(node, queue, sizeof queue) < 0) {
		res->failed = 1;
		return;
	}
	n = queue_count(c->spool, queue);
	if (n < 0) {
		log_msg(LOG_ERR, "etrn: node %s: cannot count the queue: %s",
		    node, strerror(errno));
		res->failed = 1;
		return;
	}
	if (n == 0)
		return;
	/* the request first: a running flusher looks at it before it ends */
	if (holdflush_request(c->spool, node) < 0) {
		log_msg(LOG_ERR, "etrn: node %s: cannot record the request: %s",
		    node, strerror(errno));
		res->failed = 1;
		return;
	}
	if (holdflush_running(c->spool, node)) {
		res->count += n;
		log_msg(LOG_INFO, "etrn: node %s: %ld held; the running flusher "
		    "will attempt them (within %d s)", node, n,
		    HOLDFLUSH_MIN_INTERVAL);
		return;
	}
	o.users = c->users;
	o.spool = c->spool;
	o.node = node;
	o.helo = c->hostname;
	o.timeout = ETRN_FLUSH_TIMEOUT;
	if (holdflush_spawn(&o) < 0) {
		res->failed = 1;
		return;
	}
	res->count += n;
	log_msg(LOG_INFO, "etrn: node %s: flush of %ld message(s) started "
	    "for %s%s%s", node, n, c->peer_addr ? c->peer_addr : "?",
	    c->auth_user ? " user " : "", c->auth_user ? c->auth_user : "");
}

struct domain_walk {
	const struct etrn_ctx *c;
	const char *domain;
	struct node_result *res;
	char nodes[ETRN_NODES_MAX][ADDR_DOMAIN_MAX + 1];
	size_t n;
};

static int
match_domain(const struct userdb_entry *e, void *arg)
{
	struct domain_walk *w = arg;
	size_t kl = strlen(e->key), dl = strlen(w->domain);

	if (!(kl == dl && strcmp(e->key, w->domain) == 0) &&
	    !(kl > dl && e->key[kl - dl - 1] == '.' &&
	    strcmp(e->key + kl - dl, w->domain) == 0))
		return 0;
	w->res->matched = 1;
	if (!permitted(w->c, e))
		return 0;
	w->res->allowed = 1;
	if (w->n < ETRN_NODES_MAX)
		copy_str(w->nodes[w->n++], sizeof w->nodes[0], e->key);
	return 0;
}

int
etrn_request(const struct etrn_ctx *c, const char *arg, char *reply,
    size_t size)
{
	static struct domain_walk w;
	struct node_result res = { 0, 0, 0, 0 };
	char name[ADDR_DOMAIN_MAX + 2], shown[ADDR_DOMAIN_MAX + 4];
	const char *p = arg, *what;
	size_t len, i;
	int mode = 0, r;

	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len > 0 && (p[0] == '@' || p[0] == '#')) {
		mode = p[0];
		p++;
		len--;
	}
	if (len == 0 || len > ADDR_DOMAIN_MAX || !addr_domain_valid(p, len)) {
		snprintf(reply, size, "501 5.5.4 Syntax: ETRN node, ETRN "
		    "@domain or ETRN #queue");
		return 501;
	}
	memcpy(name, p, len);
	name[len] = '\0';
	ascii_lower(name);
	snprintf(shown, sizeof shown, "%s%s", mode == '@' ? "@" :
	    mode == '#' ? "#" : "", name);

	if (mode == '@') {
		memset(&w, 0, sizeof w);
		w.c = c;
		w.domain = name;
		w.res = &res;
		if (foreach_hold(c->users, match_domain, &w) < 0)
			res.failed = 1;
		else
			for (i = 0; i < w.n; i++)
				start_node(c, w.nodes[i], &res);
	} else {
		r = userdb_lookup(c->users, name, &ent);
		if (r < 0)
			res.failed = 1;
		else if (r == 1 && ent.kind == USERDB_HOLD) {
			res.matched = 1;
			if (permitted(c, &ent)) {
				res.allowed = 1;
				start_node(c, name, &res);
			}
		}
	}
	if (res.failed && !res.count) {
		what = "458";
		snprintf(reply, size, "458 4.3.0 Unable to queue messages for "
		    "node %s", shown);
	} else if (!res.matched) {
		what = "459";
		snprintf(reply, size, "459 4.7.1 Node %s not allowed: not a "
		    "held domain here", shown);
	} else if (!res.allowed) {
		what = "459";
		snprintf(reply, size, "459 4.7.1 Node %s not allowed: client "
		    "not permitted", shown);
	} else if (res.count == 0) {
		what = "251";
		snprintf(reply, size, "251 2.0.0 OK, no messages waiting for "
		    "node %s", shown);
	} else {
		what = "253";
		snprintf(reply, size, "253 2.0.0 OK, %ld pending messages for "
		    "node %s started", res.count, shown);
	}
	log_msg(LOG_INFO, "etrn: %s from %s%s%s: %s", shown,
	    c->peer_addr ? c->peer_addr : "?", c->auth_user ? " user " : "",
	    c->auth_user ? c->auth_user : "", reply);
	return (what[0] - '0') * 100 + (what[1] - '0') * 10 + (what[2] - '0');
}
