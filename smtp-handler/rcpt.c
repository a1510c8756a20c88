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

/* max-held=: the hold queue's messages (bytes of msg/ files) plus the
 * declared SIZE= must fit. Measured once per queue and transaction (the
 * first recipient for it). */
static enum reply
hold_room(const struct session *s, const struct userdb_entry *e,
    const char *qname)
{
	uint64_t bytes, count;
	unsigned q;

	if (e->max_held == 0)
		return R_NONE;
	for (q = 0; q < s->nqueues; q++)
		if (!strcmp(s->queue_names[q], qname))
			return R_NONE;          /* checked for this transaction */
	if (s->declared_size > e->max_held)
		return R_HOLD_TOO_BIG;
	if (queue_usage(s->cfg->spool, qname, &bytes, &count) < 0) {
		log_msg(LOG_ERR, "hold queue %s: cannot measure it: %m", qname);
		return R_TEMPFAIL;
	}
	if (bytes >= e->max_held || bytes + s->declared_size > e->max_held) {
		log_msg(LOG_NOTICE, "hold queue %s full: %llu of %llu bytes in "
		    "%llu messages", qname, (unsigned long long)bytes,
		    (unsigned long long)e->max_held, (unsigned long long)count);
		return R_HOLD_FULL;
	}
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
	case USERDB_HOLD: {
		enum reply r;
		if (queue_hold_name(e.key, qname, sizeof qname) < 0) {
			log_msg(LOG_ERR, "hold domain %s: bad node name", e.key);
			return R_TEMPFAIL;
		}
		if ((r = hold_room(s, &e, qname)) != R_NONE)
			return r;
		return add_queued(s, addr, qname, orig);
	}
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

/* The address a bare <postmaster> stands for: postmaster@ the
 * --hostname when that is a local domain, else postmaster@ the first
 * local domain of the database (smtp-handler(8)). */
static enum reply
bare_postmaster(const struct session *s, char *a, size_t size)
{
	/* scratch: large, so static; filled before use */
	static struct userdb_entry e;
	char domain[ADDR_DOMAIN_MAX + 1];
	int r;

	if (copy_str(domain, sizeof domain, s->cfg->hostname) < 0)
		domain[0] = '\0';
	ascii_lower(domain);
	r = domain[0] ? userdb_lookup(s->cfg->users, domain, &e) : 0;
	if (r < 0)
		return R_TEMPFAIL;
	if (r == 0 || e.kind != USERDB_DOMAIN) {
		r = userdb_first_domain(s->cfg->users, domain, sizeof domain);
		if (r < 0) {
			log_msg(LOG_ERR, "user database %s: cannot read it",
			    s->cfg->users);
			return R_TEMPFAIL;
		}
		if (r == 0) {
			log_msg(LOG_ERR, "<postmaster>: no local domain in %s",
			    s->cfg->users);
			return R_USER_UNKNOWN;
		}
	}
	if (snprintf(a, size, "postmaster@%s", domain) >= (int)size)
		return R_BAD_RCPT;
	return R_NONE;
}

enum reply
rcpt_add(struct session *s, const char *addr)
{
	char a[ADDR_MAX + 1];
	unsigned nlocal = s->nlocal, nqueued = s->nqueued;
	unsigned nqueues = s->nqueues, budget = EXPANSIONS_MAX;
	enum reply r;

	if (!strchr(addr, '@')) {
		/* bare <postmaster> (RFC 5321 4.5.1): always ours */
		r = bare_postmaster(s, a, sizeof a);
		if (r != R_NONE) {
			copy_str(s->reply_arg, sizeof s->reply_arg, addr);
			return r;
		}
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
