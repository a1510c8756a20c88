/* cmd_expire.c - `mailbox-admin queue expire [--older-than DURATION]
 * [NODE]`: the queues' lifetimes (RFC 5321 4.5.4.1: mail is returned, not
 * kept forever). A message past its queue's lifetime is returned to its
 * sender as an RFC 3464 notice (Action: failed, Status: 4.4.7; none for
 * the null sender, nor for recipients whose NOTIFY= excludes it) and
 * removed; one delay warning (Action: delayed) goes
 * once it has waited the warning time (noted in the envelope). It also
 * removes crash leftovers: queue tmp/ files older than a day, msg/ files
 * without an env/ older than an hour, and tmp/ files older than 36 h in
 * the maildirs of the database's users. One line per message expired or
 * warned and per file removed, on stdout and in the log. Run hourly by
 * postern-queue.timer. */
#include "admin.h"
#include "addr.h"
#include "dsn.h"
#include "fsutil.h"
#include "log.h"
#include "maildir.h"
#include "queue.h"
#include "relay.h"
#include "userdb.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPIRE_OUTBOUND_LIFETIME (5 * 86400)  /* Postfix's default */
#define EXPIRE_OUTBOUND_WARN     (4 * 3600)
#define EXPIRE_HOLD_WARN         86400
#define EXPIRE_TMP_AGE           86400        /* queue tmp/ leftovers */
#define EXPIRE_ORPHAN_AGE        3600         /* msg/ without env/ */
#define EXPIRE_LOCK_WAIT         60           /* seconds for a busy queue */

struct expire {
	struct admin *a;
	int64_t now;
	int64_t older_than;        /* -1: the lifetimes */
	char helo[256];
	unsigned expired, warned, removed;
	int busy, errors;
};

static struct queue_env env;

static void
age_text(int64_t secs, char *buf, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 3600)
		snprintf(buf, size, "%lldm", (long long)(secs / 60));
	else if (secs < 86400)
		snprintf(buf, size, "%lldh", (long long)(secs / 3600));
	else
		snprintf(buf, size, "%lldd%02lldh", (long long)(secs / 86400),
		    (long long)(secs % 86400 / 3600));
}

/* Sends the notice of `kind` for env's pending recipients. 0 sent or
 * not needed, -1 temporary failure (logged by dsn.c). */
static int
notify(struct expire *x, const char *queue, enum dsn_kind kind,
    int64_t until, const unsigned char *pending)
{
	int fd, r;

	fd = queue_msg_open(x->a->spool, queue, env.id);
	r = dsn_send_notice(kind, until, x->a->cdb, x->a->spool, x->helo, "",
	    &env, pending, fd);
	if (fd >= 0)
		close(fd);
	return r;
}

static void
expire_one(struct expire *x, const char *queue, const char *id,
    int64_t lifetime, int64_t warn)
{
	unsigned char pending[QUEUE_RCPT_MAX];
	char age[32];
	unsigned n = 0;
	size_t i;
	int64_t limit = x->older_than >= 0 ? x->older_than : lifetime;

	if (queue_env_read(x->a->spool, queue, id, &env) < 0) {
		if (errno == ENOENT)
			return;          /* delivered meanwhile */
		warnx_("%s/%s: unreadable envelope: %s", queue, id,
		    strerror(errno));
		x->errors++;
		return;
	}
	memset(pending, 0, sizeof pending);
	for (i = 0; i < env.nrcpt; i++)
		if (env.rcpt[i].state == QUEUE_PENDING) {
			pending[i] = 1;
			n++;
		}
	age_text(x->now - env.arrival, age, sizeof age);
	if (x->now - env.arrival >= limit) {
		/* RFC 3461: a recipient may have asked for no failure notice */
		int notice = n && env.sender[0] &&
		    dsn_count(DSN_EXPIRED, &env, pending) > 0;
		if (notice && notify(x, queue, DSN_EXPIRED, 0, pending) < 0) {
			warnx_("%s/%s: expired, but the notice to <%s> could not "
			    "be sent: kept for the next run", queue, id,
			    env.sender);
			x->errors++;
			return;
		}
		if (queue_remove(x->a->spool, queue, id) < 0) {
			warnx_("%s/%s: cannot remove: %s", queue, id,
			    strerror(errno));
			x->errors++;
			return;
		}
		x->expired++;
		printf("expired %s %s from <%s> age %s, %u recipient%s "
		    "pending%s\n", queue, id, env.sender, age, n,
		    n == 1 ? "" : "s", !n ? "" : !env.sender[0] ?
		    ", null sender: no notice" : notice ?
		    ", returned to the sender" : ", no notice asked for (NOTIFY)");
		log_msg(LOG_NOTICE, "expire: %s id=%s from=<%s> age=%s "
		    "pending=%u: removed%s", queue, id, env.sender, age, n,
		    notice ? ", notice sent" : "");
		return;
	}
	if (env.warned || !n || !env.sender[0] || warn >= lifetime ||
	    x->now - env.arrival < warn ||
	    dsn_count(DSN_DELAYED, &env, pending) == 0)
		return;                  /* not due, or not asked for (NOTIFY) */
	if (notify(x, queue, DSN_DELAYED, env.arrival + lifetime,
	    pending) < 0) {
		x->errors++;
		return;
	}
	env.warned = x->now;
	if (queue_env_update(x->a->spool, queue, &env) < 0) {
		warnx_("%s/%s: cannot note the warning: %s", queue, id,
		    strerror(errno));
		x->errors++;
	}
	x->warned++;
	printf("warned %s %s from <%s> age %s, %u recipient%s pending\n",
	    queue, id, env.sender, age, n, n == 1 ? "" : "s");
	log_msg(LOG_NOTICE, "expire: %s id=%s from=<%s> age=%s pending=%u: "
	    "delay warning sent", queue, id, env.sender, age, n);
}

static void
removed_file(const char *path, void *arg)
{
	struct expire *x = arg;

	x->removed++;
	printf("removed %s (crash leftover)\n", path);
	log_msg(LOG_NOTICE, "expire: removed %s (crash leftover)", path);
}

/* Waits (a while) for the queue lock: a flush pass holds it. */
static int
lock_queue(struct expire *x, const char *queue)
{
	unsigned waited = 0;
	int lk;

	while ((lk = queue_lock(x->a->spool, queue, 0)) < 0 &&
	    (errno == EWOULDBLOCK || errno == EAGAIN) &&
	    waited++ < EXPIRE_LOCK_WAIT)
		sleep(1);
	if (lk < 0) {
		warnx_("%s: %s; skipped", queue, errno == EWOULDBLOCK ||
		    errno == EAGAIN ? "a flush is running" : strerror(errno));
		if (errno == EWOULDBLOCK || errno == EAGAIN)
			x->busy = 1;
		else
			x->errors++;
	}
	return lk;
}

static void
expire_queue(struct expire *x, const char *queue, int64_t lifetime,
    int64_t warn)
{
	char dir[MAILDIR_PATH_MAX];
	struct relay rl;
	struct relay_ids l;
	struct stat st;
	size_t i;
	int lk;

	/* a queue that does not exist is not created here */
	if (fsutil_path(dir, sizeof dir, "%s/%s", x->a->spool, queue) < 0 ||
	    (lstat(dir, &st) < 0 && errno == ENOENT))
		return;
	memset(&rl, 0, sizeof rl);
	rl.spool = x->a->spool;
	rl.queue = queue;
	lk = lock_queue(x, queue);
	if (lk < 0)
		return;
	if (relay_ids_read(&rl, &l) < 0) {
		warnx_("%s/%s: %s", x->a->spool, queue, strerror(errno));
		x->errors++;
	} else {
		for (i = 0; i < l.n; i++)
			expire_one(x, queue, l.id[i], lifetime, warn);
		relay_ids_free(&l);
	}
	queue_clean(x->a->spool, queue, EXPIRE_TMP_AGE, EXPIRE_ORPHAN_AGE,
	    removed_file, x);
	close(lk);
}

static void
expire_node(struct expire *x, const char *node)
{
	static struct userdb_entry e;
	char q[ADDR_DOMAIN_MAX + 8];
	int64_t lifetime = USERDB_HOLD_LIFETIME;
	int r;

	if (queue_hold_name(node, q, sizeof q) < 0)
		return;
	r = userdb_lookup(x->a->cdb, node, &e);
	if (r < 0) {
		warnx_("%s: cannot read the database; %s skipped", x->a->cdb, q);
		x->errors++;
		return;
	}
	if (r == 1 && e.kind == USERDB_HOLD)
		lifetime = (int64_t)e.lifetime;
	else
		log_msg(LOG_WARNING, "expire: %s is no hold domain any more: "
		    "the default lifetime applies", node);
	expire_queue(x, q, lifetime, EXPIRE_HOLD_WARN);
}

static int
each_node(const char *node, void *arg)
{
	expire_node(arg, node);
	return 0;
}

/* maildir tmp/ of one user: files older than 36 h. Inside the guarded
 * database walk: no allocation (stdout has a static buffer). */
static int
sweep_user(const struct userdb_entry *e, void *arg)
{
	unsigned char buf[4096];
	char path[MAILDIR_PATH_MAX];
	struct expire *x = arg;
	struct fsutil_dir d;
	const char *name;
	unsigned char type;
	size_t len;

	if (e->kind != USERDB_USER ||
	    fsutil_path(path, sizeof path, "%s/tmp", e->maildir) < 0 ||
	    fsutil_dir_open(&d, path, buf, sizeof buf) < 0)
		return 0;
	while (fsutil_dir_next(&d, &name, &len, &type) > 0) {
		struct stat st;
		if (fstatat(d.fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) ||
		    st.st_mtime + MAILDIR_TMP_MAX_AGE >= x->now ||
		    unlinkat(d.fd, name, 0) < 0)
			continue;
		x->removed++;
		printf("removed %s/%s (maildir tmp/ older than 36 h)\n", path,
		    name);
		log_msg(LOG_NOTICE, "expire: removed %s/%s (maildir tmp/ older "
		    "than 36 h)", path, name);
	}
	fsutil_dir_close(&d);
	return 0;
}

int
queue_expire(struct admin *a, const char *node)
{
	static char outbuf[8192];
	static struct expire x;
	char domain[ADDR_DOMAIN_MAX + 1];
	uint64_t secs;

	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
	memset(&x, 0, sizeof x);
	x.a = a;
	x.now = (int64_t)time(NULL);
	x.older_than = -1;
	if (a->older_than != NULL) {
		if (parse_duration(a->older_than, &secs) < 0)
			die(EX_USAGE, "invalid --older-than '%.40s' (a number "
			    "with s, m, h, d or w)", a->older_than);
		x.older_than = (int64_t)secs;
	}
	if (gethostname(x.helo, sizeof x.helo - 1) < 0 || x.helo[0] == '\0')
		copy_str(x.helo, sizeof x.helo, "localhost");
	x.helo[sizeof x.helo - 1] = '\0';
	log_open("mailbox-admin");
	/* a root run becomes the spool's owner before anything in the
	 * spool or a maildir is touched (the maildirs are the service
	 * user's too); without a spool there is nothing it may act on */
	if (as_spool_owner(a)) {
		printf("0 expired, 0 warned, 0 leftovers removed (no spool "
		    "%s)\n", a->spool);
		return 0;
	}
	if (node != NULL) {
		admin_domain(node, domain);
		expire_node(&x, domain);
	} else {
		expire_queue(&x, QUEUE_OUTBOUND, EXPIRE_OUTBOUND_LIFETIME,
		    EXPIRE_OUTBOUND_WARN);
		if (queue_foreach_node(a->spool, each_node, &x) < 0 &&
		    errno != ENOENT) {
			warnx_("%s/hold: %s", a->spool, strerror(errno));
			x.errors++;
		}
		if (userdb_walk(a->cdb, sweep_user, &x) < 0) {
			warnx_("%s: cannot read the database: maildirs not "
			    "swept", a->cdb);
			x.errors++;
		}
	}
	printf("%u expired, %u warned, %u leftover%s removed\n", x.expired,
	    x.warned, x.removed, x.removed == 1 ? "" : "s");
	fflush(stdout);
	if (x.errors)
		return EX_TEMPFAIL;
	return x.busy ? EX_TEMPFAIL : 0;
}
