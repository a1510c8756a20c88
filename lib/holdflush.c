/* holdflush.c - delivers a hold node's queue to the node's host over SMTP
 * (host= from the database, else DNS MX, else the node's A/AAAA): one
 * pass over the queue under the queue lock, per-recipient outcome kept in
 * the envelope, 4xx retried with backoff, 5xx -> DSN; and the detached
 * flusher an ETRN starts, which retries deferred messages for a while. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <resolv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/nameser.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "addr.h"
#include "dsn.h"
#include "holdflush.h"
#include "log.h"
#include "queue.h"
#include "relay.h"
#include "smtpc.h"
#include "userdb.h"
#include "util.h"

#define HOLDFLUSH_MX_MAX        8

struct target {
	char host[256];
	unsigned port;
};

struct pass {
	const struct holdflush_opts *o;
	char queue[ADDR_DOMAIN_MAX + 16];
	struct target t[HOLDFLUSH_MX_MAX];
	size_t nt;
	int connected, conn_failed;
	int null_mx;               /* RFC 7505: the node accepts no mail */
	char conn_error[256];
	char remote[256];          /* host name of the connected server */
	int64_t next_due;          /* earliest next_try of what remains */
	unsigned deferred;         /* messages kept for another attempt */
	char tag[ADDR_DOMAIN_MAX + 32], kv[ADDR_DOMAIN_MAX + 32];
	struct relay rl;           /* sent and bounced recipients */
};

static struct smtpc sc;
static struct queue_env env;

/* Copies what fits of src (always NUL-terminated). */
static void
tcopy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* DNS MX for domain (RFC 5321 section 5.1), sorted by preference.
 * Returns the number of hosts, 0 when the domain has no MX (use its
 * address), -1 on a temporary DNS failure, -2 for a null MX. */
static int
mx_lookup(const char *domain, struct target *t, size_t max)
{
	unsigned char ans[4096];
	unsigned pref[HOLDFLUSH_MX_MAX];
	const unsigned char *p, *end;
	int n, qd, an, i, l;
	size_t nt = 0, a, b;

	n = res_query(domain, C_IN, T_MX, ans, sizeof ans);
	if (n < 0)
		return (h_errno == HOST_NOT_FOUND || h_errno == NO_DATA) ? 0 : -1;
	if (n < 12)
		return -1;
	end = ans + n;
	qd = ans[4] << 8 | ans[5];
	an = ans[6] << 8 | ans[7];
	p = ans + 12;
	for (i = 0; i < qd; i++) {
		if ((l = dn_skipname(p, end)) < 0 || p + l + 4 > end)
			return -1;
		p += l + 4;
	}
	for (i = 0; i < an && nt < max; i++) {
		unsigned type, rdlen;
		char name[256];
		if ((l = dn_skipname(p, end)) < 0 || p + l + 10 > end)
			return -1;
		p += l;
		type = (unsigned)(p[0] << 8 | p[1]);
		rdlen = (unsigned)(p[8] << 8 | p[9]);
		p += 10;
		if (p + rdlen > end)
			return -1;
		if (type == T_MX && rdlen >= 3 && dn_expand(ans, end, p + 2,
		    name, sizeof name) >= 0) {
			if (name[0] == '\0' || strcmp(name, ".") == 0)
				return -2;     /* null MX: accepts no mail */
			if (addr_domain_valid(name, strlen(name))) {
				pref[nt] = (unsigned)(p[0] << 8 | p[1]);
				copy_str(t[nt].host, sizeof t[nt].host, name);
				t[nt].port = 25;
				nt++;
			}
		}
		p += rdlen;
	}
	for (a = 1; a < nt; a++)         /* insertion sort by preference */
		for (b = a; b > 0 && pref[b - 1] > pref[b]; b--) {
			struct target tt = t[b];
			unsigned pp = pref[b];
			t[b] = t[b - 1];
			pref[b] = pref[b - 1];
			t[b - 1] = tt;
			pref[b - 1] = pp;
		}
	return nt ? (int)nt : -1;
}

static int
find_targets(struct pass *ps)
{
	static struct userdb_entry e;
	int r = userdb_lookup(ps->o->users, ps->o->node, &e);

	if (r <= 0 || e.kind != USERDB_HOLD) {
		log_msg(LOG_ERR, "holdflush: node %s: %s", ps->o->node,
		    r < 0 ? "user database unavailable" : "not a hold domain");
		return -1;
	}
	if (e.host[0]) {
		copy_str(ps->t[0].host, sizeof ps->t[0].host, e.host);
		ps->t[0].port = e.port ? e.port : 25;
		ps->nt = 1;
		return 0;
	}
	r = mx_lookup(ps->o->node, ps->t, HOLDFLUSH_MX_MAX);
	if (r == -2) {
		log_msg(LOG_WARNING, "holdflush: node %s: null MX (RFC 7505): "
		    "its mail is returned", ps->o->node);
		ps->null_mx = 1;
		ps->nt = 0;
		return 0;
	}
	if (r < 0) {
		log_msg(LOG_WARNING, "holdflush: node %s: MX lookup failed "
		    "(temporary, or a null MX)", ps->o->node);
		snprintf(ps->conn_error, sizeof ps->conn_error,
		    "MX lookup for %s failed", ps->o->node);
		ps->nt = 0;
		return 0;
	}
	if (r == 0) {
		copy_str(ps->t[0].host, sizeof ps->t[0].host, ps->o->node);
		ps->t[0].port = 25;
		r = 1;
	}
	ps->nt = (size_t)r;
	return 0;
}

/* Opens a session to the first target that answers; STARTTLS when
 * offered (opportunistic; on a failed handshake the same host is tried
 * again without TLS). 0 / -1 (conn_error set). */
static int
open_session(struct pass *ps)
{
	size_t i;
	int notls, code;
	const char *err = NULL;

	for (i = 0; i < ps->nt; i++) {
		for (notls = 0; notls < 2; notls++) {
			if (smtpc_connect(&sc, ps->t[i].host, ps->t[i].port,
			    ps->o->timeout, &err) < 0) {
				tcopy(ps->conn_error, sizeof ps->conn_error, err);
				log_msg(LOG_WARNING, "holdflush: node %s: %s",
				    ps->o->node, err);
				break;
			}
			code = smtpc_reply(&sc);
			if (code == 220)
				code = smtpc_ehlo(&sc, ps->o->helo);
			if (code >= 200 && code < 300 && !notls &&
			    (sc.caps & SMTPC_CAP_STARTTLS)) {
				int r = smtpc_starttls(&sc, NULL, NULL, &err);
				if (r < 0) {
					log_msg(LOG_WARNING, "holdflush: node %s: "
					    "%s: STARTTLS failed (%s); retrying "
					    "without TLS", ps->o->node, sc.peer,
					    err);
					smtpc_close(&sc);
					continue;
				}
				if (r == 0)
					code = smtpc_ehlo(&sc, ps->o->helo);
			}
			if (code < 200 || code >= 300) {
				snprintf(ps->conn_error, sizeof ps->conn_error,
				    "%.100s: %.150s", sc.peer, sc.reply);
				log_msg(LOG_WARNING, "holdflush: node %s: %s",
				    ps->o->node, ps->conn_error);
				smtpc_quit(&sc);
				break;
			}
			copy_str(ps->remote, sizeof ps->remote, ps->t[i].host);
			log_msg(LOG_INFO, "holdflush: node %s: connected to %s%s",
			    ps->o->node, sc.peer, sc.tls_on ?
			    " with TLS (opportunistic, unverified)" : "");
			ps->connected = 1;
			return 0;
		}
	}
	if (!ps->conn_error[0])
		snprintf(ps->conn_error, sizeof ps->conn_error,
		    "no host to deliver to");
	return -1;
}

/* A null MX: every pending recipient fails permanently (5.1.10), with a
 * DSN; the message goes once that is sent. */
static void
null_mx(struct pass *ps, const char *id, const size_t *idx, size_t n)
{
	unsigned char failed[QUEUE_RCPT_MAX];
	size_t i, pending = 0;
	int fd;

	memset(failed, 0, sizeof failed);
	for (i = 0; i < n; i++) {
		struct queue_rcpt *q = &env.rcpt[idx[i]];
		snprintf(q->last_reply, sizeof q->last_reply, "550 5.1.10 "
		    "%.100s has a null MX (RFC 7505): no mail accepted",
		    ps->o->node);
		q->state = QUEUE_FAILED;
		failed[idx[i]] = 1;
		log_msg(LOG_INFO, "%s id=%s from=<%s> to=<%s> result=bounced: %s",
		    ps->kv, id, env.sender, q->addr, q->last_reply);
	}
	fd = queue_msg_open(ps->o->spool, ps->queue, id);
	if (dsn_send(ps->o->users, ps->o->spool, ps->o->helo, "", &env,
	    failed, fd) < 0)
		for (i = 0; i < n; i++) {       /* tried again next time */
			env.rcpt[idx[i]].state = QUEUE_PENDING;
			pending++;
		}
	else
		ps->rl.bounced += (unsigned)n;
	if (fd >= 0)
		close(fd);
	relay_finish(&ps->rl, id, &env, pending, (int64_t)time(NULL));
}

/* Delivers one message; updates or removes its envelope. */
static void
deliver_one(struct pass *ps, const char *id, int all)
{
	size_t idx[QUEUE_RCPT_MAX], i, pending;
	int64_t now = (int64_t)time(NULL);
	int fd, n, broke;

	n = relay_load(&ps->rl, id, &env, idx);
	if (n <= 0)
		return;
	if (!all && env.next_try > now) {
		if (!ps->next_due || env.next_try < ps->next_due)
			ps->next_due = env.next_try;
		return;
	}
	if (ps->null_mx) {
		null_mx(ps, id, idx, (size_t)n);
		return;
	}
	if (!ps->connected && !ps->conn_failed && open_session(ps) < 0)
		ps->conn_failed = 1;
	if (ps->conn_failed) {
		for (i = 0; i < (size_t)n; i++)
			tcopy(env.rcpt[idx[i]].last_reply,
			    sizeof env.rcpt[idx[i]].last_reply, ps->conn_error);
		pending = (size_t)n;
	} else {
		fd = queue_msg_open(ps->o->spool, ps->queue, id);
		if (fd < 0) {
			log_msg(LOG_ERR, "holdflush: node %s: message %s "
			    "unreadable: %s", ps->o->node, id, strerror(errno));
			return;
		}
		pending = relay_send(&ps->rl, &sc, id, &env, idx, (size_t)n, fd,
		    &broke);
		close(fd);
		if (broke) {
			log_msg(LOG_WARNING, "holdflush: node %s: session with %s "
			    "broke: %s", ps->o->node, sc.peer, sc.reply);
			smtpc_close(&sc);
			ps->connected = 0;
			ps->conn_failed = 1;
			snprintf(ps->conn_error, sizeof ps->conn_error,
			    "session broke: %.200s", sc.reply);
		}
	}
	if (relay_finish(&ps->rl, id, &env, pending, now) == 1) {
		ps->deferred++;
		if (!ps->next_due || env.next_try < ps->next_due)
			ps->next_due = env.next_try;
	}
}

/* One pass. all: ignore next_try (an ETRN or an admin flush). Returns 0
 * queue empty, 1 messages remain, 2 another flush holds the lock, -1
 * error. *next_due_r: earliest next_try of what remains (0 none). */
static int
flush_pass(const struct holdflush_opts *o, int all, int64_t *next_due_r)
{
	static struct pass ps;
	struct relay_ids l;
	size_t i;
	long left;
	int lk;

	memset(&ps, 0, sizeof ps);
	ps.o = o;
	*next_due_r = 0;
	if (queue_hold_name(o->node, ps.queue, sizeof ps.queue) < 0) {
		log_msg(LOG_ERR, "holdflush: invalid node name");
		return -1;
	}
	snprintf(ps.tag, sizeof ps.tag, "holdflush: node %s:", o->node);
	snprintf(ps.kv, sizeof ps.kv, "holdflush: node=%s", o->node);
	ps.rl.spool = o->spool;
	ps.rl.queue = ps.queue;
	ps.rl.users = o->users;
	ps.rl.helo = o->helo;
	ps.rl.remote = ps.remote;
	ps.rl.tag = ps.tag;
	ps.rl.kv = ps.kv;
	lk = queue_lock(o->spool, ps.queue, 0);
	if (lk < 0) {
		if (errno == EWOULDBLOCK || errno == EAGAIN) {
			log_msg(LOG_INFO, "holdflush: node %s: a flush is "
			    "already running", o->node);
			return 2;
		}
		if (errno == ENOENT)
			return 0;
		log_msg(LOG_ERR, "holdflush: node %s: cannot lock the queue: %s",
		    o->node, strerror(errno));
		return -1;
	}
	if (relay_ids_read(&ps.rl, &l) < 0) {
		log_msg(LOG_ERR, "holdflush: node %s: cannot read the queue: %s",
		    o->node, strerror(errno));
		close(lk);
		return -1;
	}
	if (l.n && find_targets(&ps) < 0) {
		relay_ids_free(&l);
		close(lk);
		return -1;
	}
	for (i = 0; i < l.n; i++)
		deliver_one(&ps, l.id[i], all);
	if (ps.connected)
		smtpc_quit(&sc);
	relay_ids_free(&l);
	left = queue_count(o->spool, ps.queue);
	close(lk);
	if (l.n)
		log_msg(LOG_INFO, "holdflush: node %s: pass done: %u sent, "
		    "%u deferred, %u bounced, %ld left", o->node, ps.rl.sent,
		    ps.deferred, ps.rl.bounced, left);
	*next_due_r = ps.next_due;
	if (left < 0)
		return -1;
	return left > 0 ? 1 : 0;
}

int
holdflush_run(const struct holdflush_opts *o)
{
	int64_t due;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = flush_pass(o, 1, &due);
	return r == 2 ? 1 : r;
}

int
holdflush_pass(const struct holdflush_opts *o, int all, int64_t *next_due_r)
{
	return flush_pass(o, all, next_due_r);
}

static void
null_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)dup2(fd, 0);
	(void)dup2(fd, 1);
	if (fd > 2)
		close(fd);
}

int
holdflush_spawn(const struct holdflush_opts *o)
{
	pid_t pid = fork(), pid2;
	int status;

	if (pid < 0) {
		log_msg(LOG_ERR, "holdflush: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		(void)setsid();
		pid2 = fork();
		if (pid2 != 0)
			_exit(pid2 < 0 ? 1 : 0);
		/* the flusher: stdin/stdout (the client's connection) go to
		 * /dev/null; stderr stays, startup_fds() made sure it is
		 * never the client's connection, and it carries the log */
		null_stdio();
		closefrom(3);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		_exit(holdflush_serve(o));
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno == ECHILD)
			return 0;       /* SIGCHLD ignored: reaped already */
		if (errno != EINTR) {
			log_msg(LOG_ERR, "holdflush: waitpid: %s",
			    strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_msg(LOG_ERR, "holdflush: could not start the flusher for %s",
		    o->node);
		return -1;
	}
	return 0;
}
