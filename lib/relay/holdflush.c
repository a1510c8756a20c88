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
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/nameser.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "addr.h"
#include "dnsparse.h"
#include "dsn.h"
#include "holdflush.h"
#include "log.h"
#include "queue.h"
#include "relay.h"
#include "smtpc.h"
#include "tls.h"
#include "userdb.h"
#include "util.h"

#define HOLDFLUSH_MX_MAX        8
#define HOLDFLUSH_SESSION_MAX   1800    /* one SMTP session, connect to
                                           QUIT (smtpc_set_session) */

struct target {
	char host[256];
	unsigned port;
	unsigned pref;             /* MX preference (0 for host=, no MX) */
	int from_dns;              /* MX or the node's address: never us */
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
	enum userdb_tls tls;       /* the node's tls= policy */
	char tls_ca[USERDB_PATH_MAX]; /* its tls-ca=, "" = system bundle */
};

static struct smtpc sc;
static struct queue_env env;
static struct tls_anchors anchors;     /* for tls=verify, loaded once */
static char anchors_path[USERDB_PATH_MAX];
static int anchors_loaded;
static int turn;                       /* ODMR: sc is the turned session */
static int turn_broke;                 /* ... and it broke */

static const char *
tls_policy_name(enum userdb_tls p)
{
	return p == USERDB_TLS_VERIFY ? "verify" :
	    p == USERDB_TLS_REQUIRE ? "require" : "may";
}

/* DNS MX for domain (RFC 5321 section 5.1), sorted by preference; the
 * answer is parsed by dns_mx_parse() within the bytes really received
 * (res_query returns the full length of an answer larger than the
 * buffer). Returns the number of hosts, 0 when the domain has no MX
 * (use its address), -2 for a null MX (RFC 7505: the domain accepts no
 * mail), -1 on a temporary DNS failure, a malformed answer or MX
 * records none of which is usable (IP literals); *why_r says which. */
static int
mx_lookup(const char *domain, struct target *t, size_t max,
    const char **why_r)
{
	static unsigned char ans[65536];
	static struct dns_mx mx[HOLDFLUSH_MX_MAX];
	unsigned skipped;
	size_t len, i;
	int n;

	*why_r = "temporary DNS failure";
	n = res_query(domain, C_IN, T_MX, ans, sizeof ans);
	if (n < 0)
		return (h_errno == HOST_NOT_FOUND || h_errno == NO_DATA) ? 0 : -1;
	len = (size_t)n > sizeof ans ? sizeof ans : (size_t)n;
	n = dns_mx_parse(ans, len, mx, max < HOLDFLUSH_MX_MAX ? max :
	    HOLDFLUSH_MX_MAX, &skipped);
	if (n == DNS_MX_NULL) {
		*why_r = "null MX: the domain accepts no mail (RFC 7505)";
		return -2;
	}
	if (n < 0) {
		*why_r = "malformed DNS answer";
		return -1;
	}
	if (skipped)
		log_msg(LOG_WARNING, "holdflush: node %s: %u MX record(s) "
		    "skipped (an IP literal or not a host name)", domain,
		    skipped);
	if (n == 0 && skipped) {
		*why_r = "no usable MX record (IP literal or invalid name)";
		return -1;
	}
	for (i = 0; i < (size_t)n; i++) {
		copy_str(t[i].host, sizeof t[i].host, mx[i].host);
		t[i].pref = mx[i].pref;
		t[i].port = 25;
	}
	return n;
}

static int
find_targets(struct pass *ps)
{
	static struct userdb_entry e;
	const char *why;
	size_t i;
	int r = userdb_lookup(ps->o->users, ps->o->node, &e);

	if (r <= 0 || e.kind != USERDB_HOLD) {
		log_msg(LOG_ERR, "holdflush: node %s: %s", ps->o->node,
		    r < 0 ? "user database unavailable" : "not a hold domain");
		return -1;
	}
	ps->tls = e.tls;
	copy_str(ps->tls_ca, sizeof ps->tls_ca, e.tls_ca);
	if (e.host[0]) {
		/* the administrator's choice, loopback included (tests) */
		copy_str(ps->t[0].host, sizeof ps->t[0].host, e.host);
		ps->t[0].port = e.port ? e.port : 25;
		ps->t[0].from_dns = 0;
		ps->nt = 1;
		return 0;
	}
	r = mx_lookup(ps->o->node, ps->t, HOLDFLUSH_MX_MAX, &why);
	if (r == -2) {
		log_msg(LOG_WARNING, "holdflush: node %s: null MX (RFC 7505): "
		    "its mail is returned", ps->o->node);
		ps->null_mx = 1;
		ps->nt = 0;
		return 0;
	}
	if (r < 0) {
		log_msg(LOG_WARNING, "holdflush: node %s: MX lookup failed: "
		    "%s; the mail stays queued", ps->o->node, why);
		snprintf(ps->conn_error, sizeof ps->conn_error,
		    "MX lookup for %s failed: %s", ps->o->node, why);
		ps->nt = 0;
		return 0;
	}
	if (r == 0) {
		copy_str(ps->t[0].host, sizeof ps->t[0].host, ps->o->node);
		ps->t[0].port = 25;
		ps->t[0].pref = 0;
		r = 1;
	}
	ps->nt = (size_t)r;
	for (i = 0; i < ps->nt; i++)
		ps->t[i].from_dns = 1;
	/* RFC 5321 5.1: our own name among the MX hosts means we are that
	 * good an exchanger ourselves: it and every host not preferred to
	 * it go; none left = we are the best MX, a configuration error */
	for (i = 0; i < ps->nt; i++)
		if (strcasecmp(ps->t[i].host, ps->o->helo) == 0) {
			unsigned self = ps->t[i].pref;
			for (i = 0; i < ps->nt && ps->t[i].pref < self; i++)
				;
			ps->nt = i;
			break;
		}
	if (ps->nt == 0) {
		log_msg(LOG_ERR, "holdflush: node %s: we (%s) are its best MX: "
		    "delivering would loop; set host= or fix the DNS; the mail "
		    "stays queued", ps->o->node, ps->o->helo);
		snprintf(ps->conn_error, sizeof ps->conn_error,
		    "%.100s is the best MX for %.100s (mail loop)", ps->o->helo,
		    ps->o->node);
	}
	return 0;
}

/* The CA file of tls=verify, loaded once per process (per path). */
static int
verify_anchors(struct pass *ps, const char **error_r)
{
	const char *path = ps->tls_ca[0] ? ps->tls_ca : TLS_SYSTEM_CA;

	if (anchors_loaded && strcmp(anchors_path, path) == 0)
		return 0;
	if (anchors_loaded)
		tls_anchors_free(&anchors);
	anchors_loaded = 0;
	if (tls_anchors_load(&anchors, path, error_r) < 0)
		return -1;
	if (anchors.n == 0) {
		tls_anchors_free(&anchors);
		*error_r = "no CA certificate in the tls-ca= file";
		return -1;
	}
	copy_str(anchors_path, sizeof anchors_path, path);
	anchors_loaded = 1;
	return 0;
}

/* This host cannot be used under tls=require/verify: logged, kept as
 * the reason the mail stays. Returns -1. */
static int
tls_refuse(struct pass *ps, const char *what, const char *detail)
{
	snprintf(ps->conn_error, sizeof ps->conn_error, "%.100s: %s%s%.80s "
	    "(tls=%s: not sent without TLS)", sc.peer, what, detail ? ": " :
	    "", detail ? detail : "", tls_policy_name(ps->tls));
	log_msg(LOG_WARNING, "holdflush: node %s: %s", ps->o->node,
	    ps->conn_error);
	return -1;
}

/* TLS on the new session t, as the node's policy says (after EHLO).
 * Returns 0 go on (TLS established and EHLO sent again, or plain text
 * allowed by tls=may - every such fallback logged), 1 tls=may after a
 * failed handshake: try this host again without TLS, -1 give this host
 * up (conn_error set). */
static int
session_tls(struct pass *ps, const struct target *t, int *code_r)
{
	const char *err = NULL;
	int r;

	if (!(sc.caps & SMTPC_CAP_STARTTLS)) {
		if (ps->tls != USERDB_TLS_MAY)
			return tls_refuse(ps, "STARTTLS not offered", NULL);
		log_msg(LOG_NOTICE, "holdflush: node %s: %s does not offer "
		    "STARTTLS: sending without TLS (tls=may)", ps->o->node,
		    sc.peer);
		return 0;
	}
	if (ps->tls == USERDB_TLS_VERIFY) {
		if (verify_anchors(ps, &err) < 0)
			return tls_refuse(ps, "CA file unusable", err);
		r = smtpc_starttls(&sc, &anchors, t->host, &err);
	} else
		r = smtpc_starttls(&sc, NULL, NULL, &err);
	if (r == 0) {
		*code_r = smtpc_ehlo(&sc, ps->o->helo);
		return 0;
	}
	if (r == 1) {
		if (ps->tls != USERDB_TLS_MAY)
			return tls_refuse(ps, "STARTTLS refused", sc.reply);
		log_msg(LOG_WARNING, "holdflush: node %s: %s refused STARTTLS "
		    "(%s): sending without TLS (tls=may)", ps->o->node,
		    sc.peer, sc.reply);
		return 0;
	}
	if (err && strncmp(err, "TLS handshake failed: ", 22) == 0)
		err += 22;
	if (ps->tls != USERDB_TLS_MAY)
		return tls_refuse(ps, "TLS handshake failed", err);
	log_msg(LOG_WARNING, "holdflush: node %s: %s: TLS handshake failed "
	    "(%s); falling back to plain text (tls=may)", ps->o->node,
	    sc.peer, err);
	return 1;
}

/* Opens a session to the first target that answers, with TLS as the
 * node's tls= policy says. 0 / -1 (conn_error set). */
static int
open_session(struct pass *ps)
{
	size_t i;
	int notls, code, r;
	const char *err = NULL;

	for (i = 0; i < ps->nt; i++) {
		for (notls = 0; notls < 2; notls++) {
			smtpc_set_session(&sc, HOLDFLUSH_SESSION_MAX);
			if (smtpc_connect_flags(&sc, ps->t[i].host,
			    ps->t[i].port, ps->o->timeout, ps->t[i].from_dns ?
			    SMTPC_NOT_SELF : 0, &err) < 0) {
				copy_str_trunc(ps->conn_error,
				    sizeof ps->conn_error, err);
				log_msg(LOG_WARNING, "holdflush: node %s: %s",
				    ps->o->node, err);
				break;
			}
			code = smtpc_reply(&sc);
			if (code == 220)
				code = smtpc_ehlo(&sc, ps->o->helo);
			if (code >= 200 && code < 300 && !notls) {
				r = session_tls(ps, &ps->t[i], &code);
				if (r != 0) {
					smtpc_close(&sc);
					if (r > 0)
						continue;   /* tls=may: plain text */
					break;              /* the next host */
				}
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
			log_msg(LOG_INFO, "holdflush: node %s: connected to %s%s "
			    "(tls=%s)", ps->o->node, sc.peer, !sc.tls_on ?
			    " without TLS" : ps->tls == USERDB_TLS_VERIFY ?
			    " with TLS, certificate verified" :
			    " with TLS, certificate not checked",
			    tls_policy_name(ps->tls));
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
			copy_str_trunc(env.rcpt[idx[i]].last_reply,
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
			if (!turn)      /* ODMR: the fds are the caller's */
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
flush_pass(const struct holdflush_opts *o, int all, int64_t *next_due_r,
    int given_lock)
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
	lk = given_lock >= 0 ? given_lock : queue_lock(o->spool, ps.queue, 0);
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
	if (turn) {                     /* ODMR: the session is there */
		copy_str(ps.remote, sizeof ps.remote, "odmr-client");
		ps.connected = !turn_broke;
		ps.conn_failed = turn_broke;
		copy_str(ps.conn_error, sizeof ps.conn_error,
		    "the ODMR session broke");
	} else if (l.n && find_targets(&ps) < 0) {
		relay_ids_free(&l);
		if (given_lock < 0)
			close(lk);
		return -1;
	}
	for (i = 0; i < l.n; i++)
		deliver_one(&ps, l.id[i], all);
	if (turn)
		turn_broke = !ps.connected;
	else if (ps.connected)
		smtpc_quit(&sc);
	relay_ids_free(&l);
	left = queue_count(o->spool, ps.queue);
	if (given_lock < 0)
		close(lk);
	if (l.n)
		log_msg(LOG_INFO, "holdflush: node %s: pass done: %u sent, "
		    "%u deferred, %u bounced, %ld left", o->node, ps.rl.sent,
		    ps.deferred, ps.rl.bounced, left);
	*next_due_r = ps.next_due;
	if (left < 0 || (turn && turn_broke))
		return -1;
	return left > 0 ? 1 : 0;
}

int
holdflush_run(const struct holdflush_opts *o)
{
	int64_t due;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = flush_pass(o, 1, &due, -1);
	return r == 2 ? 1 : r;
}

int
holdflush_pass(const struct holdflush_opts *o, int all, int64_t *next_due_r)
{
	return flush_pass(o, all, next_due_r, -1);
}

int
holdflush_turn_begin(struct io *session, const char *helo,
    unsigned timeout, const char **error_r)
{
	int code;

	signal(SIGPIPE, SIG_IGN);
	smtpc_set_session(&sc, HOLDFLUSH_SESSION_MAX);
	smtpc_attach(&sc, session->rfd, session->wfd, timeout);
	if (session->tls)
		io_use_tls(&sc.io, session->tls);
	copy_str(sc.peer, sizeof sc.peer, "odmr-client");
	turn = 1;
	turn_broke = 1;
	if (io_move_pending(session, &sc.io) < 0) {
		*error_r = "too much input before the greeting";
		return -1;
	}
	code = smtpc_reply(&sc);
	if (code != 220) {
		*error_r = code == SMTPC_ERR ? sc.reply : "no 220 greeting";
		return -1;
	}
	code = smtpc_ehlo(&sc, helo);
	if (code < 200 || code >= 300) {
		*error_r = code == SMTPC_ERR ? sc.reply : "EHLO refused";
		return -1;
	}
	turn_broke = 0;
	return 0;
}

int
holdflush_turn_pass(const struct holdflush_opts *o, int lk)
{
	int64_t due;

	return flush_pass(o, 1, &due, lk);
}

int
holdflush_turn_end(void)
{
	int ok = turn && !turn_broke && sc.fd >= 0;

	if (ok) {
		io_set_timeouts(&sc.io, sc.timeout < 10 ? sc.timeout : 10, 0);
		sc.io.session_deadline = sc.session_deadline;
		(void)smtpc_cmd(&sc, "QUIT");
	}
	/* a site that answered ahead left commands unsent in the buffer */
	if (turn && sc.fd >= 0)
		(void)io_flush(&sc.io);
	turn = 0;
	return ok;
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
