/* push.c - pushes the outbound queue through an open SMTP session: one
 * transaction per message for its pending recipients, the outcome kept
 * per recipient in the envelope, DSNs for permanent refusals, all under
 * the queue lock so that two runs never send a message twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "push.h"
#include "queue.h"
#include "util.h"

#define PUSH_IDS_MAX      100000
#define PUSH_BACKOFF_MAX  3600

static struct queue_env env;

struct ids {
	char (*id)[QUEUE_ID_MAX];
	size_t n, cap;
};

static int
collect(const char *id, void *arg)
{
	struct ids *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p;
		if (cap > PUSH_IDS_MAX)
			return 1;
		p = realloc(l->id, cap * sizeof *l->id);
		if (!p)
			return 1;
		l->id = p;
		l->cap = cap;
	}
	if (copy_str(l->id[l->n], QUEUE_ID_MAX, id) >= 0)
		l->n++;
	return 0;
}

static void
tcopy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
push_one(struct smtpc *c, const struct push_opts *o, const char *id,
    struct push_result *res)
{
	const char *rcpt[QUEUE_RCPT_MAX];
	size_t idx[QUEUE_RCPT_MAX], n = 0, i, pending = 0;
	int code[QUEUE_RCPT_MAX];
	static char reply[QUEUE_RCPT_MAX][200];
	unsigned char failed[QUEUE_RCPT_MAX];
	struct smtpc_txn txn;
	int64_t now = (int64_t)time(NULL), wait;
	int fd, r, nfailed = 0;

	if (queue_env_read(o->spool, QUEUE_OUTBOUND, id, &env) < 0) {
		if (errno != ENOENT)
			log_msg(LOG_ERR, "push: envelope %s unreadable: %s", id,
			    strerror(errno));
		return;
	}
	for (i = 0; i < env.nrcpt; i++)
		if (env.rcpt[i].state == QUEUE_PENDING) {
			idx[n] = i;
			rcpt[n++] = env.rcpt[i].addr;
		}
	if (n == 0) {
		queue_remove(o->spool, QUEUE_OUTBOUND, id);
		return;
	}
	fd = queue_msg_open(o->spool, QUEUE_OUTBOUND, id);
	if (fd < 0) {
		log_msg(LOG_ERR, "push: message %s unreadable: %s", id,
		    strerror(errno));
		res->left++;
		return;
	}
	res->messages++;
	memset(failed, 0, sizeof failed);
	txn.sender = env.sender;
	txn.rcpt = rcpt;
	txn.nrcpt = n;
	txn.msgfd = fd;
	txn.size = env.size;
	txn.rcpt_code = code;
	txn.rcpt_reply = reply;
	r = smtpc_send(c, &txn);
	for (i = 0; i < n; i++) {
		struct queue_rcpt *q = &env.rcpt[idx[i]];
		tcopy(q->last_reply, sizeof q->last_reply,
		    code[i] ? reply[i] : c->reply);
		if (code[i] >= 200 && code[i] < 300) {
			q->state = QUEUE_DONE;
			res->sent++;
		} else if (code[i] >= 500) {
			q->state = QUEUE_FAILED;
			failed[idx[i]] = 1;
			nfailed++;
		} else
			pending++;
		log_msg(LOG_INFO, "push: id=%s from=<%s> to=<%s> relay=%s "
		    "attempt=%u result=%s: %s", id, env.sender, q->addr,
		    c->peer, env.attempts + 1, q->state == QUEUE_DONE ? "sent" :
		    q->state == QUEUE_FAILED ? "bounced" : "deferred",
		    q->last_reply);
	}
	if (r == SMTPC_ERR)
		res->broke = 1;
	if (nfailed && dsn_send(o->users, o->spool, o->helo, o->relay, &env,
	    failed, fd) < 0) {
		for (i = 0; i < env.nrcpt; i++)
			if (failed[i]) {
				env.rcpt[i].state = QUEUE_PENDING;
				pending++;
			}
		nfailed = 0;
	}
	res->bounced += (unsigned)nfailed;
	close(fd);
	if (pending == 0) {
		if (queue_remove(o->spool, QUEUE_OUTBOUND, id) < 0) {
			log_msg(LOG_ERR, "push: cannot remove %s: %s", id,
			    strerror(errno));
			res->left++;
		}
		return;
	}
	res->deferred += (unsigned)pending;
	res->left++;
	env.attempts++;
	wait = 60;
	for (i = 1; i < env.attempts && wait < PUSH_BACKOFF_MAX; i++)
		wait *= 2;
	env.next_try = now + (wait > PUSH_BACKOFF_MAX ? PUSH_BACKOFF_MAX : wait);
	if (queue_env_update(o->spool, QUEUE_OUTBOUND, &env) < 0)
		log_msg(LOG_ERR, "push: cannot update envelope %s: %s", id,
		    strerror(errno));
}

int
push_outbound(struct smtpc *c, const struct push_opts *o,
    struct push_result *res)
{
	struct ids l = { NULL, 0, 0 };
	int64_t until = clock_ms() + (int64_t)o->lock_wait * 1000;
	size_t i;
	int lk;

	memset(res, 0, sizeof *res);
	for (;;) {
		lk = queue_lock(o->spool, QUEUE_OUTBOUND, 0);
		if (lk >= 0)
			break;
		if (errno == ENOENT)
			return 0;              /* no queue: nothing to push */
		if (errno != EWOULDBLOCK && errno != EAGAIN) {
			log_msg(LOG_ERR, "push: cannot lock %s/%s: %s", o->spool,
			    QUEUE_OUTBOUND, strerror(errno));
			return -1;
		}
		if (clock_ms() >= until) {
			log_msg(LOG_NOTICE, "push: another run is pushing %s; "
			    "skipped", o->spool);
			res->busy = 1;
			return 0;
		}
		usleep(100000);
	}
	if (queue_foreach(o->spool, QUEUE_OUTBOUND, collect, &l) < 0) {
		log_msg(LOG_ERR, "push: cannot read %s/%s: %s", o->spool,
		    QUEUE_OUTBOUND, strerror(errno));
		free(l.id);
		close(lk);
		return -1;
	}
	for (i = 0; i < l.n; i++) {
		if (res->broke) {
			res->left++;
			continue;
		}
		push_one(c, o, l.id[i], res);
	}
	free(l.id);
	close(lk);
	return 0;
}
