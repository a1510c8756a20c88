/* relay.c - one queued message through an open SMTP session, for both
 * etrn-client's push and the hold-queue flush: the envelope read, the
 * transaction for the pending recipients (with their RFC 3461 parameters
 * for a next hop that offers DSN), per-recipient outcomes and their log
 * lines, DSNs for 5xx (and "relayed" notices for NOTIFY=SUCCESS to a next
 * hop without DSN), and removal or backoff. */
#include "relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "dsnparam.h"
#include "log.h"
#include "util.h"

static int collect(const char *id, void *arg)
{
	struct relay_ids *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p;
		if (cap > RELAY_IDS_MAX)
			return 1;               /* the rest waits for next time */
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

int relay_ids_read(const struct relay *r, struct relay_ids *l)
{
	memset(l, 0, sizeof *l);
	if (queue_foreach(r->spool, r->queue, collect, l) < 0) {
		int e = errno;
		relay_ids_free(l);
		errno = e;
		return -1;
	}
	return 0;
}

void relay_ids_free(struct relay_ids *l)
{
	free(l->id);
	memset(l, 0, sizeof *l);
}

int relay_load(const struct relay *r, const char *id, struct queue_env *env,
    size_t idx[QUEUE_RCPT_MAX])
{
	size_t i;
	int n = 0;

	if (queue_env_read(r->spool, r->queue, id, env) < 0) {
		if (errno != ENOENT)
			log_msg(LOG_ERR, "%s envelope %s unreadable: %s", r->tag,
			    id, strerror(errno));
		return -1;
	}
	for (i = 0; i < env->nrcpt && i < QUEUE_RCPT_MAX; i++)
		if (env->rcpt[i].state == QUEUE_PENDING)
			idx[n++] = i;
	if (n == 0)
		queue_remove(r->spool, r->queue, id);
	return n;
}

size_t relay_send(struct relay *r, struct smtpc *c, const char *id,
    struct queue_env *env, const size_t *idx, size_t n, int fd,
    int *broke_r)
{
	static char reply[QUEUE_RCPT_MAX][200];
	static char notify_s[QUEUE_RCPT_MAX][32];
	static char envid[3 * QUEUE_ENVID_MAX + 1];
	const char *rcpt[QUEUE_RCPT_MAX], *notify[QUEUE_RCPT_MAX];
	const char *orcpt[QUEUE_RCPT_MAX];
	int code[QUEUE_RCPT_MAX];
	unsigned char failed[QUEUE_RCPT_MAX], relayed[QUEUE_RCPT_MAX];
	unsigned nrelayed = 0;
	struct smtpc_txn txn;
	size_t i, pending = 0;
	unsigned nfailed = 0;
	int rc;

	for (i = 0; i < n; i++) {
		const struct queue_rcpt *q = &env->rcpt[idx[i]];
		rcpt[i] = q->addr;
		notify[i] = q->notify && dsnparam_notify_format(q->notify,
		    notify_s[i], sizeof notify_s[i]) > 0 ? notify_s[i] : NULL;
		orcpt[i] = q->orcpt[0] ? q->orcpt : NULL;
	}
	memset(failed, 0, sizeof failed);
	memset(relayed, 0, sizeof relayed);
	memset(&txn, 0, sizeof txn);
	txn.sender = env->sender;
	txn.rcpt = rcpt;
	txn.nrcpt = n;
	txn.msgfd = fd;
	txn.size = env->size;
	txn.rcpt_code = code;
	txn.rcpt_reply = reply;
	txn.smtputf8 = env->smtputf8;
	txn.body = env->body == QUEUE_BODY_7BIT ? "7BIT" :
	    env->body == QUEUE_BODY_8BITMIME ? "8BITMIME" :
	    env->body == QUEUE_BODY_BINARYMIME ? "BINARYMIME" : NULL;
	txn.ret = env->ret == QUEUE_RET_FULL ? "FULL" :
	    env->ret == QUEUE_RET_HDRS ? "HDRS" : NULL;
	txn.envid = env->envid[0] && dsnparam_xtext_encode(env->envid,
	    strlen(env->envid), envid, sizeof envid) > 0 ? envid : NULL;
	txn.notify = notify;
	txn.orcpt = orcpt;
	if (env->smtputf8 && !(c->caps & SMTPC_CAP_SMTPUTF8)) {
		/* RFC 6531 3.2: no downgrade; a permanent failure, DSN */
		for (i = 0; i < n; i++) {
			code[i] = 550;
			snprintf(reply[i], sizeof reply[i], "550 5.6.7 %.120s does "
			    "not offer SMTPUTF8, needed by this message",
			    c->peer);
		}
		rc = 0;
	} else
		rc = smtpc_send(c, &txn);
	for (i = 0; i < n; i++) {
		struct queue_rcpt *q = &env->rcpt[idx[i]];
		copy_str_trunc(q->last_reply, sizeof q->last_reply,
		    code[i] ? reply[i] : c->reply);
		if (code[i] >= 200 && code[i] < 300) {
			q->state = QUEUE_DONE;
			r->sent++;
			/* the next hop takes NOTIFY= on only when it offers DSN */
			if ((q->notify & QUEUE_NOTIFY_SUCCESS) &&
			    !(c->caps & SMTPC_CAP_DSN)) {
				relayed[idx[i]] = 1;
				nrelayed++;
			}
		} else if (code[i] >= 500) {
			q->state = QUEUE_FAILED;
			failed[idx[i]] = 1;
			nfailed++;
		} else
			pending++;
		log_msg(LOG_INFO, "%s id=%s from=<%s> to=<%s> relay=%s "
		    "attempt=%u result=%s: %s", r->kv, id, env->sender, q->addr,
		    c->peer, env->attempts + 1, q->state == QUEUE_DONE ? "sent" :
		    q->state == QUEUE_FAILED ? "bounced" : "deferred",
		    q->last_reply);
	}
	*broke_r = rc == SMTPC_ERR;
	/* best effort: the mail itself is gone to the next hop */
	if (nrelayed && dsn_send_notice(DSN_RELAYED, 0, r->users, r->spool,
	    r->helo, r->remote, env, relayed, fd) < 0)
		log_msg(LOG_ERR, "%s id=%s: the relayed notice to <%s> could "
		    "not be written", r->tag, id, env->sender);
	if (nfailed && dsn_send(r->users, r->spool, r->helo, r->remote, env,
	    failed, fd) < 0) {
		/* keep them; the refusal and the DSN are tried again */
		for (i = 0; i < env->nrcpt; i++)
			if (failed[i]) {
				env->rcpt[i].state = QUEUE_PENDING;
				pending++;
			}
		nfailed = 0;
	}
	r->bounced += nfailed;
	return pending;
}

int relay_finish(const struct relay *r, const char *id,
    struct queue_env *env, size_t pending, int64_t now)
{
	int64_t wait = RELAY_BACKOFF_MIN;
	unsigned a;

	if (pending == 0) {
		if (queue_remove(r->spool, r->queue, id) < 0) {
			log_msg(LOG_ERR, "%s cannot remove %s: %s", r->tag, id,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	env->attempts++;
	for (a = env->attempts; a > 1 && wait < RELAY_BACKOFF_MAX; a--)
		wait *= 2;
	env->next_try = now + (wait > RELAY_BACKOFF_MAX ? RELAY_BACKOFF_MAX :
	    wait);
	if (queue_env_update(r->spool, r->queue, env) < 0)
		log_msg(LOG_ERR, "%s cannot update envelope %s: %s", r->tag, id,
		    strerror(errno));
	return 1;
}
