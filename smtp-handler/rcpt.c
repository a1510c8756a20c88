/* rcpt.c - what a recipient means, decided at RCPT time from the user
 * database: local users (quota checked), aliases (expanded to users,
 * bounded depth and fan-out, so loops end), hold domains (the node's
 * hold queue), and other domains (the outbound queue, only for
 * authenticated users and --relay-clients). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "smtp.h"
#include "util.h"

#define EXPANSIONS_MAX 256   /* database look-ups for one RCPT */

static enum reply
add_queued(struct session *s, const char *addr, const char *queue,
    unsigned orig)
{
	unsigned q, i, inq = 0;

	for (q = 0; q < s->nqueues; q++)
		if (!strcmp(s->queue_names[q], queue))
			break;
	for (i = 0; i < s->nqueued; i++)
		if (s->queued[i].queue == q) {
			if (!strcmp(s->queued[i].addr, addr))
				return R_NONE;               /* duplicate */
			inq++;
		}
	if (q == s->nqueues) {
		if (q >= SMTP_QUEUES_MAX)
			return R_TOO_MANY_RCPTS;
		if (copy_str(s->queue_names[q], sizeof s->queue_names[q],
		    queue) < 0)
			return R_TEMPFAIL;
		s->nqueues++;
	}
	if (inq >= QUEUE_RCPT_MAX || s->nqueued >= SMTP_TARGET_MAX)
		return R_TOO_MANY_RCPTS;
	if (copy_str(s->queued[s->nqueued].addr,
	    sizeof s->queued[s->nqueued].addr, addr) < 0)
		return R_BAD_RCPT;
	s->queued[s->nqueued].queue = q;
	s->queued[s->nqueued].orig = orig;
	s->nqueued++;
	return R_NONE;
}

static enum reply
add_local(struct session *s, const struct userdb_entry *e, unsigned orig)
{
	unsigned i;
	struct smtp_local *l;

	for (i = 0; i < s->nlocal; i++)
		if (!strcmp(s->local[i].user, e->key))
			return R_NONE;                       /* duplicate */
	if (e->quota) {
		uint64_t bytes = 0;
		if (quota_usage(s, e->maildir, &bytes) < 0) {
			log_msg(LOG_ERR, "quota: cannot read %s: %m", e->maildir);
			return R_TEMPFAIL;
		}
		if (bytes >= e->quota || (s->declared_size &&
		    bytes + s->declared_size > e->quota)) {
			log_msg(LOG_INFO, "%s over quota (%llu of %llu bytes)",
			    e->key, (unsigned long long)bytes,
			    (unsigned long long)e->quota);
			return s->cfg->quota_temp ? R_QUOTA_TEMP : R_QUOTA;
		}
	}
	if (s->nlocal >= SMTP_TARGET_MAX)
		return R_TOO_MANY_RCPTS;
	l = &s->local[s->nlocal];
	if (copy_str(l->user, sizeof l->user, e->key) < 0 ||
	    copy_str(l->maildir, sizeof l->maildir, e->maildir) < 0)
		return R_TEMPFAIL;
	l->quota = e->quota;
	l->orig = orig;
	s->nlocal++;
	return R_NONE;
}

static enum reply
resolve(struct session *s, const char *addr, unsigned orig, unsigned depth,
    unsigned *budget)
{
	struct userdb_entry e;
	int kind = 0, rc;
	char qname[MAILDIR_PATH_MAX / 4];

	if ((*budget)-- == 0)
		return R_ALIAS_LOOP;
	rc = userdb_resolve(s->cfg->users, addr, &e, &kind);
	if (rc < 0) {
		log_msg(LOG_ERR, "user database %s: lookup of %s failed",
		    s->cfg->users, addr);
		return R_TEMPFAIL;
	}
	if (rc == 0) {
		if (kind == USERDB_DOMAIN) {
			if (depth == 0)
				return R_USER_UNKNOWN;
			log_msg(LOG_ERR, "alias target %s does not exist", addr);
			return R_TEMP_ALIAS;
		}
		/* another domain: relaying (aliases may forward anywhere) */
		if (depth == 0 && !s->auth_user[0] && !s->relay_client)
			return R_RELAY_DENIED;
		return add_queued(s, addr, QUEUE_OUTBOUND, orig);
	}
	switch (e.kind) {
	case USERDB_USER:
		return add_local(s, &e, orig);
	case USERDB_HOLD:
		if (queue_hold_name(e.key, qname, sizeof qname) < 0) {
			log_msg(LOG_ERR, "hold domain %s: bad node name", e.key);
			return R_TEMPFAIL;
		}
		return add_queued(s, addr, qname, orig);
	case USERDB_ALIAS: {
		char target[ADDR_MAX + 1];
		size_t pos = 0;
		enum reply r;
		int got;
		if (depth >= SMTP_ALIAS_DEPTH) {
			log_msg(LOG_ERR, "alias %s: expansion too deep (loop?)",
			    e.key);
			return R_ALIAS_LOOP;
		}
		unsigned ntargets = 0;
		while ((got = userdb_alias_next(e.targets, &pos, target,
		    sizeof target)) > 0) {
			ntargets++;
			if ((r = resolve(s, target, orig, depth + 1, budget))
			    != R_NONE)
				return r;
		}
		if (got < 0 || ntargets == 0) {
			/* never accept mail that would go nowhere */
			log_msg(LOG_ERR, "alias %s: %s", e.key, got < 0
			    ? "target too long" : "no targets");
			return R_TEMP_ALIAS;
		}
		return R_NONE;
	}
	default:
		/* a bare domain entry cannot be a recipient */
		return depth ? R_TEMP_ALIAS : R_USER_UNKNOWN;
	}
}

enum reply
rcpt_add(struct session *s, const char *addr)
{
	char a[ADDR_MAX + 1];
	unsigned nlocal = s->nlocal, nqueued = s->nqueued;
	unsigned nqueues = s->nqueues, budget = EXPANSIONS_MAX;
	enum reply r;

	if (!strchr(addr, '@')) {
		/* <postmaster>: ours, at our host name */
		if (snprintf(a, sizeof a, "postmaster@%s", s->cfg->hostname)
		    >= (int)sizeof a)
			return R_BAD_RCPT;
	} else if (copy_str(a, sizeof a, addr) < 0)
		return R_BAD_RCPT;
	r = resolve(s, a, s->nrcpt, 0, &budget);
	if (r != R_NONE) {
		s->nlocal = nlocal;
		s->nqueued = nqueued;
		s->nqueues = nqueues;
		copy_str(s->reply_arg, sizeof s->reply_arg, addr);
	}
	return r;
}
