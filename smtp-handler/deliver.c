/* deliver.c - the copies of one message: a maildir delivery per local
 * mailbox (with its own Return-Path, Delivered-To and Received "for"
 * line) and one queued message per queue (outbound, or a hold node) with
 * its recipients. The body is streamed into all copies at once, so
 * memory does not grow with the message. The client's 250 comes only
 * after every copy is durable; if any copy fails, every copy is removed
 * (nothing stays in new/ or in a queue).
 *
 * Commit order: every maildir copy fsync'd in tmp/; every queue copy
 * committed but still locked (env/ID exists, queue_msg_open() waits, so
 * no flush or push can send it yet); the maildir renames; then the queue
 * locks are dropped. Whatever fails, fails before anything is published:
 * a queue failure happens before any local copy is in new/ (so local
 * copies are never removed because of a queue copy), and a maildir
 * failure takes the locked queue copies back unseen. Nothing can fail
 * after the last rename, so there is no partial 250 and no 451 after a
 * partial commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

int
deliver_is_open(const struct session *s)
{
	return s->copies.is_open;
}

static void
release(struct smtp_copies *c)
{
	free(c->md);
	free(c->qw);
	free(c->bases);
	c->md = NULL;
	c->qw = NULL;
	c->bases = NULL;
	c->md_open = c->qw_open = 0;
	c->is_open = 0;
}

void
deliver_abort(struct session *s)
{
	struct smtp_copies *c = &s->copies;
	unsigned i;

	if (!c->is_open)
		return;
	for (i = 0; i < c->md_open; i++)
		maildir_deliver_abort(&c->md[i]);
	for (i = 0; i < c->qw_open; i++)
		queue_write_abort(&c->qw[i]);
	release(c);
}

/* "with" keyword of RFC 3848 / RFC 6531. */
static const char *
with_proto(const struct session *s)
{
	static const char *const names[2][4] = {
		{ "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA" },
		{ "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA" }
	};
	if (!s->esmtp)
		return "SMTP";
	return names[s->smtputf8 ? 1 : 0]
	    [(s->auth_user[0] ? 1 : 0) + (s->tls_on ? 2 : 0)];
}

/* The Received: header up to (not including) the "for" clause. */
static int
received_head(const struct session *s, const char *id, char *out,
    size_t size)
{
	char peer[96], extra[1024] = "";
	int n;

	if (!strcmp(s->peer.addr, "local"))
		snprintf(peer, sizeof peer, "local");
	else if (strchr(s->peer.addr, ':'))
		snprintf(peer, sizeof peer, "[IPv6:%s]", s->peer.addr);
	else
		snprintf(peer, sizeof peer, "[%s]", s->peer.addr);
	if (s->tls_on && s->auth_user[0])
		snprintf(extra, sizeof extra, "\n\t(%s %s; authenticated as %s)",
		    s->tls_version, s->tls_suite, s->auth_user);
	else if (s->tls_on)
		snprintf(extra, sizeof extra, "\n\t(%s %s)", s->tls_version,
		    s->tls_suite);
	else if (s->auth_user[0])
		snprintf(extra, sizeof extra, "\n\t(authenticated as %s)",
		    s->auth_user);
	n = snprintf(out, size, "Received: from %s (%s)\n\tby %s (postern) "
	    "with %s id %s%s", s->helo[0] ? s->helo : "unknown", peer,
	    s->cfg->hostname, with_proto(s), id, extra);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

int
deliver_open(struct session *s, const char *id)
{
	struct smtp_copies *c = &s->copies;
	char head[2048], date[64], hdr[3200];
	unsigned i, q;
	int n, err;

	if (c->is_open)
		deliver_abort(s);
	if (received_head(s, id, head, sizeof head) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	rfc5322_date((int64_t)time(NULL), date, sizeof date);
	c->md = calloc(s->nlocal ? s->nlocal : 1, sizeof *c->md);
	c->qw = calloc(s->nqueues ? s->nqueues : 1, sizeof *c->qw);
	c->bases = calloc(s->nlocal ? s->nlocal : 1, sizeof *c->bases);
	if (!c->md || !c->qw || !c->bases) {
		release(c);
		errno = ENOMEM;
		return -1;
	}
	c->is_open = 1;
	for (i = 0; i < s->nlocal; i++) {
		const struct smtp_local *l = &s->local[i];
		if (maildir_deliver_open(&c->md[i], l->maildir) < 0)
			goto fail;
		c->md_open++;
		n = snprintf(hdr, sizeof hdr, "Return-Path: <%s>\n"
		    "Delivered-To: %s\n%s\n\tfor <%s>; %s\n", s->sender,
		    l->user, head, s->rcpt[l->orig].addr, date);
		if (n < 0 || (size_t)n >= sizeof hdr) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (maildir_deliver_write(&c->md[i], hdr, (size_t)n) < 0)
			goto fail;
	}
	for (q = 0; q < s->nqueues; q++) {
		unsigned k, cnt = 0, one = 0;
		if (queue_write_open(&c->qw[q], s->cfg->spool,
		    s->queue_names[q]) < 0)
			goto fail;
		c->qw_open++;
		for (k = 0; k < s->nqueued; k++)
			if (s->queued[k].queue == q) {
				cnt++;
				one = k;
			}
		if (cnt == 1)
			n = snprintf(hdr, sizeof hdr, "%s\n\tfor <%s>; %s\n", head,
			    s->queued[one].addr, date);
		else
			n = snprintf(hdr, sizeof hdr, "%s;\n\t%s\n", head, date);
		if (n < 0 || (size_t)n >= sizeof hdr) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (queue_write(&c->qw[q], hdr, (size_t)n) < 0)
			goto fail;
	}
	return 0;
fail:
	err = errno;
	log_msg(LOG_ERR, "cannot start delivery: %s", strerror(err));
	deliver_abort(s);
	errno = err;
	return -1;
}

void
deliver_write(struct session *s, struct smtp_body *b, const void *p,
    size_t n)
{
	struct smtp_copies *c = &s->copies;
	unsigned i;

	if (!c->is_open || b->write_errno)
		return;
	for (i = 0; i < c->md_open; i++)
		if (maildir_deliver_write(&c->md[i], p, n) < 0)
			goto fail;
	for (i = 0; i < c->qw_open; i++)
		if (queue_write(&c->qw[i], p, n) < 0)
			goto fail;
	return;
fail:
	b->write_errno = errno ? errno : EIO;
	log_msg(LOG_ERR, "delivery write failed: %s", strerror(b->write_errno));
}

/* Removes a maildir copy that was already committed (rollback). */
static void
uncommit_maildir(const struct maildir_delivery *d, const char *base)
{
	char path[MAILDIR_PATH_MAX + MAILDIR_NAME_MAX + 64];

	snprintf(path, sizeof path, "%s/new/%s,S=%llu,W=%llu", d->dir,
	    base, (unsigned long long)d->size_s,
	    (unsigned long long)d->size_w);
	if (unlink(path) < 0) {
		log_msg(LOG_ERR, "rollback: cannot remove %s: %m", path);
		return;
	}
	/* the removal must survive a crash as the 451 does */
	snprintf(path, sizeof path, "%s/new", d->dir);
	if (fsutil_fsync_dir(path) < 0)
		log_msg(LOG_ERR, "rollback: cannot sync %s: %m", path);
}

static enum reply
storage_reply(int err)
{
	return err == ENOSPC || err == EDQUOT ? R_NO_STORAGE : R_TEMPFAIL;
}

static void
log_accepted(const struct session *s, const struct smtp_body *b,
    const char *id)
{
	char where[1024] = "";
	size_t off = 0;
	unsigned i;

	for (i = 0; i < s->nlocal && off < sizeof where - 1; i++)
		off += (size_t)snprintf(where + off, sizeof where - off, "%s%s",
		    off ? "," : "", s->local[i].user);
	for (i = 0; i < s->nqueues && off < sizeof where - 1; i++)
		off += (size_t)snprintf(where + off, sizeof where - off,
		    "%s%s:%s", off ? "," : "", s->queue_names[i],
		    s->copies.qids[i]);
	log_msg(LOG_INFO, "accepted id=%s from=<%s> rcpts=%u size=%llu to=%s",
	    id, s->sender, s->nrcpt, (unsigned long long)b->size, where);
}

/* A queue envelope's message fields from the session (sender, SMTPUTF8,
 * BODY=, RET=, ENVID=, arrival), its recipients none yet. */
void
deliver_env_head(const struct session *s, struct queue_env *env)
{
	memset(env, 0, sizeof *env);
	copy_str(env->sender, sizeof env->sender, s->sender);
	env->smtputf8 = s->smtputf8;
	env->body = s->body;
	env->ret = s->ret;
	copy_str(env->envid, sizeof env->envid, s->envid);
	env->arrival = (int64_t)time(NULL);
}


enum reply
deliver_finish(struct session *s, struct smtp_body *b, const char *id)
{
	/* scratch, filled anew for each queue; static: its recipient table
	 * is too large for the stack */
	static struct queue_env env;
	struct smtp_copies *c = &s->copies;
	unsigned i, q, k, md_done = 0;
	enum reply r = R_NONE;
	int err;

	if (!c->is_open)
		return R_TEMPFAIL;
	if (b->too_big)
		r = R_TOO_BIG;
	else if (b->bare_eol)
		r = R_BARE_EOL;
	else if (b->received > SMTP_HOPS_MAX)
		r = R_LOOP;
	else if (b->write_errno)
		r = storage_reply(b->write_errno);
	for (i = 0; r == R_NONE && i < s->nlocal; i++) {
		uint64_t bytes = 0;
		const struct smtp_local *l = &s->local[i];
		if (!l->quota)
			continue;
		if (quota_usage(s, l->maildir, &bytes) < 0)
			r = R_TEMPFAIL;
		else if (bytes + c->md[i].size_w > l->quota) {
			log_msg(LOG_INFO, "%s: message would exceed the quota",
			    l->user);
			r = s->cfg->quota_temp ? R_QUOTA_TEMP : R_QUOTA;
		}
	}
	if (r != R_NONE) {
		log_msg(LOG_NOTICE, "message from <%s> refused: %d", s->sender,
		    reply_code(r));
		deliver_abort(s);
		return r;
	}
	/* Every maildir copy durable in tmp/ before anything is published:
	 * the renames below are then all that can still fail. */
	for (i = 0; i < s->nlocal; i++)
		if (maildir_deliver_sync(&c->md[i]) < 0)
			goto fail;
	for (q = 0; q < s->nqueues; q++) {
		deliver_env_head(s, &env);
		for (k = 0; k < s->nqueued; k++)
			if (s->queued[k].queue == q) {
				const struct smtp_rcpt *o =
				    &s->rcpt[s->queued[k].orig];
				copy_str(env.rcpt[env.nrcpt].addr,
				    sizeof env.rcpt[0].addr, s->queued[k].addr);
				env.rcpt[env.nrcpt].state = QUEUE_PENDING;
				env.rcpt[env.nrcpt].notify = o->notify;
				copy_str(env.rcpt[env.nrcpt].orcpt,
				    sizeof env.rcpt[0].orcpt, o->orcpt);
				env.nrcpt++;
			}
		/* visible but locked: no flush sends it before the unlock */
		if (queue_write_commit_locked(&c->qw[q], &env) < 0)
			goto fail;
		copy_str(c->qids[q], sizeof c->qids[q], env.id);
	}
	for (i = 0; i < s->nlocal; i++) {
		memcpy(c->bases[i], c->md[i].base, sizeof c->bases[i]);
		if (maildir_deliver_commit(&c->md[i]) < 0)
			goto fail;
		md_done++;
	}
	for (q = 0; q < s->nqueues; q++)
		queue_write_unlock(&c->qw[q]);
	for (i = 0; i < s->nlocal; i++)
		quota_add(s, s->local[i].maildir, c->md[i].size_w);
	dsn_success_local(s, id, c->md, c->bases, s->nlocal);
	s->messages++;
	s->rcpts_total += s->nrcpt;
	s->bytes_accepted += b->size;
	log_accepted(s, b, id);
	release(c);
	copy_str(s->reply_arg, sizeof s->reply_arg, id);
	return R_QUEUED;
fail:
	err = errno;
	log_msg(LOG_ERR, "delivery failed, removing every copy: %s",
	    strerror(err));
	for (i = 0; i < md_done; i++)
		uncommit_maildir(&c->md[i], c->bases[i]);
	/* abort is idempotent: every copy not committed goes, and the
	 * committed queue copies (still locked, never sent) are taken back */
	for (i = md_done; i < c->md_open; i++)
		maildir_deliver_abort(&c->md[i]);
	for (q = 0; q < c->qw_open; q++)
		queue_write_abort(&c->qw[q]);
	release(c);
	return storage_reply(err);
}
