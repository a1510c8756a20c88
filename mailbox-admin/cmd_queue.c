/* cmd_queue.c - the queue commands: list the outbound and hold queues,
 * flush a hold node now (lib/holdflush), remove a message; started as
 * root, each first becomes the spool's owner (spoolowner.h). */
#include "admin.h"
#include "addr.h"
#include "holdflush.h"
#include "log.h"
#include "queue.h"
#include "spoolowner.h"
#include "userdb.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_TIMEOUT 300

static struct queue_env env;

int
as_spool_owner(const struct admin *a)
{
	const char *err = "";

	if (spool_become_owner(a->spool, &err) == 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	die(EX_NOPERM, "%s; nothing done", err);
}

struct list_state {
	const char *spool;
	const char *cdb;
	const char *queue;
	time_t now;
	unsigned messages;
	int errors;
};

static void
format_age(int64_t secs, char *buf, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 3600)
		snprintf(buf, size, "%lldm%02llds", (long long)(secs / 60),
		    (long long)(secs % 60));
	else if (secs < 86400)
		snprintf(buf, size, "%lldh%02lldm", (long long)(secs / 3600),
		    (long long)(secs % 3600 / 60));
	else
		snprintf(buf, size, "%lldd%02lldh", (long long)(secs / 86400),
		    (long long)(secs % 86400 / 3600));
}

static int
list_one(const char *id, void *arg)
{
	struct list_state *s = arg;
	char age[32], next[32];
	size_t i;

	if (queue_env_read(s->spool, s->queue, id, &env) < 0) {
		if (errno == ENOENT)
			return 0;       /* delivered meanwhile */
		fprintf(stderr, "mailbox-admin: %s/%s: unreadable envelope: "
		    "%s\n", s->queue, id, strerror(errno));
		s->errors++;
		return 0;
	}
	s->messages++;
	format_age((int64_t)s->now - env.arrival, age, sizeof age);
	printf("%s  %s  age %s  size %llu  from <%s>  attempts %u", s->queue,
	    id, age, (unsigned long long)env.size, env.sender, env.attempts);
	if (env.next_try > (int64_t)s->now) {
		format_age(env.next_try - (int64_t)s->now, next, sizeof next);
		printf("  next try in %s", next);
	}
	putchar('\n');
	for (i = 0; i < env.nrcpt; i++)
		printf("    %c %s%s%s\n", env.rcpt[i].state, env.rcpt[i].addr,
		    env.rcpt[i].last_reply[0] ? "  " : "",
		    env.rcpt[i].last_reply);
	return 0;
}

/* "queue QUEUE: N messages, B bytes[, max-held M, P% full]" */
void
queue_fill(const char *spool, const char *cdb, const char *queue)
{
	static struct userdb_entry e;
	uint64_t bytes, count;
	char lim[32];

	if (queue_usage(spool, queue, &bytes, &count) < 0) {
		fprintf(stderr, "mailbox-admin: %s/%s: %s\n", spool, queue,
		    strerror(errno));
		return;
	}
	printf("queue %s: %llu message%s, %llu bytes", queue,
	    (unsigned long long)count, count == 1 ? "" : "s",
	    (unsigned long long)bytes);
	if (strncmp(queue, "hold/", 5) == 0 &&
	    userdb_lookup(cdb, queue + 5, &e) == 1 && e.kind == USERDB_HOLD) {
		if (e.max_held) {
			format_size(e.max_held, lim, sizeof lim);
			printf(", max-held %s, %llu%% full", lim,
			    (unsigned long long)(bytes * 100 / e.max_held));
		} else {
			printf(", max-held none");
		}
	}
	putchar('\n');
}

static int
list_queue(struct list_state *s, const char *queue)
{
	s->queue = queue;
	if (queue_foreach(s->spool, queue, list_one, s) < 0 && errno != ENOENT) {
		fprintf(stderr, "mailbox-admin: %s/%s: %s\n", s->spool, queue,
		    strerror(errno));
		s->errors++;
	}
	queue_fill(s->spool, s->cdb, queue);
	return 0;
}

static int
list_node(const char *node, void *arg)
{
	char q[ADDR_DOMAIN_MAX + 8];

	if (queue_hold_name(node, q, sizeof q) < 0)
		return 0;
	return list_queue(arg, q);
}

static int
queue_list(struct admin *a, const char *node)
{
	struct list_state s;
	char domain[ADDR_DOMAIN_MAX + 1], q[ADDR_DOMAIN_MAX + 8];

	memset(&s, 0, sizeof s);
	s.spool = a->spool;
	s.cdb = a->cdb;
	s.now = time(NULL);
	if (node != NULL)
		admin_domain(node, domain);
	if (as_spool_owner(a)) {
		printf("0 messages\n");
		return 0;
	}
	if (node != NULL) {
		queue_hold_name(domain, q, sizeof q);
		list_queue(&s, q);
	} else {
		list_queue(&s, QUEUE_OUTBOUND);
		if (queue_foreach_node(a->spool, list_node, &s) < 0 &&
		    errno != ENOENT) {
			fprintf(stderr, "mailbox-admin: %s/hold: %s\n", a->spool,
			    strerror(errno));
			s.errors++;
		}
	}
	printf("%u message%s\n", s.messages, s.messages == 1 ? "" : "s");
	return s.errors ? EX_IOERR : 0;
}

static int
queue_flush(struct admin *a, const char *node)
{
	struct holdflush_opts o;
	struct userdb_entry *e;
	static struct userdb_entry ent;
	char domain[ADDR_DOMAIN_MAX + 1], helo[256];
	int r;

	admin_domain(node, domain);
	e = &ent;
	r = userdb_lookup(a->cdb, domain, e);
	if (r < 0)
		die(EX_IOERR, "%s: cannot read the database", a->cdb);
	if (r == 0 || e->kind != USERDB_HOLD)
		die(EX_DATAERR, "%s is not a hold domain in %s", domain, a->cdb);
	if (as_spool_owner(a)) {
		printf("%s: hold queue empty (no spool %s)\n", domain, a->spool);
		return 0;
	}
	if (gethostname(helo, sizeof helo - 1) < 0 || helo[0] == '\0')
		copy_str(helo, sizeof helo, "localhost");
	helo[sizeof helo - 1] = '\0';
	memset(&o, 0, sizeof o);
	o.users = a->cdb;
	o.spool = a->spool;
	o.node = domain;
	o.helo = helo;
	o.timeout = FLUSH_TIMEOUT;
	log_open("mailbox-admin");
	r = holdflush_run(&o);
	if (r == 0) {
		printf("%s: hold queue empty\n", domain);
		return 0;
	}
	if (r == 1) {
		char q[ADDR_DOMAIN_MAX + 8];
		long left;

		queue_hold_name(domain, q, sizeof q);
		left = queue_count(a->spool, q);
		printf("%s: %ld message%s still queued (temporary failures, or "
		    "another flush is running)\n", domain, left,
		    left == 1 ? "" : "s");
		return EX_TEMPFAIL;
	}
	die(EX_IOERR, "%s: flush failed (see the log)", domain);
}

static int
remove_in(struct admin *a, const char *queue, const char *id)
{
	int lk;

	if (queue_env_read(a->spool, queue, id, &env) < 0)
		return 0;
	lk = queue_lock(a->spool, queue, 0);
	if (lk < 0) {
		if (errno == EWOULDBLOCK || errno == EAGAIN)
			die(EX_TEMPFAIL, "%s is being delivered right now; try "
			    "again later", queue);
		die(EX_IOERR, "%s: lock: %s", queue, strerror(errno));
	}
	if (queue_remove(a->spool, queue, id) < 0)
		die(EX_IOERR, "%s/%s: %s", queue, id, strerror(errno));
	close(lk);
	printf("removed %s from %s\n", id, queue);
	return 1;
}

struct find_state {
	struct admin *a;
	const char *id;
	int found;
};

static int
remove_node(const char *node, void *arg)
{
	struct find_state *f = arg;
	char q[ADDR_DOMAIN_MAX + 8];

	if (queue_hold_name(node, q, sizeof q) < 0)
		return 0;
	f->found = remove_in(f->a, q, f->id);
	return f->found;
}

static int
queue_rm(struct admin *a, const char *id)
{
	struct find_state f;

	if (!queue_id_valid(id))
		die(EX_DATAERR, "invalid queue id '%.80s'", id);
	if (as_spool_owner(a))
		die(EX_DATAERR, "no message %s: no spool %s", id, a->spool);
	if (remove_in(a, QUEUE_OUTBOUND, id))
		return 0;
	memset(&f, 0, sizeof f);
	f.a = a;
	f.id = id;
	if (queue_foreach_node(a->spool, remove_node, &f) < 0 &&
	    errno != ENOENT)
		die(EX_IOERR, "%s/hold: %s", a->spool, strerror(errno));
	if (!f.found)
		die(EX_DATAERR, "no message %s in %s", id, a->spool);
	return 0;
}

int
cmd_queue(struct admin *a, const struct admin_args *g)
{
	const char *sub = g->pos[0];

	if (strcmp(sub, "list") == 0)
		return queue_list(a, g->npos > 1 ? g->pos[1] : NULL);
	if (strcmp(sub, "flush") == 0) {
		if (g->npos != 2)
			die(EX_USAGE, "usage: mailbox-admin queue flush NODE");
		return queue_flush(a, g->pos[1]);
	}
	if (a->older_than != NULL && strcmp(sub, "expire") != 0)
		die(EX_USAGE, "--older-than goes with 'queue expire'");
	if (strcmp(sub, "expire") == 0)
		return queue_expire(a, g->npos > 1 ? g->pos[1] : NULL);
	if (strcmp(sub, "remove") == 0) {
		if (g->npos != 2)
			die(EX_USAGE, "usage: mailbox-admin queue remove ID");
		return queue_rm(a, g->pos[1]);
	}
	die(EX_USAGE, "unknown queue command '%.40s' (list, flush, remove or "
	    "expire)", sub);
}
