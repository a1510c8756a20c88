/* odmr.c - ATRN (RFC 2645, On-Demand Mail Relay) for smtp-handler
 * --odmr: an authenticated customer names hold domains its user may
 * collect (the hold entry's odmr= list); each node's queue lock is taken
 * (451 when a flush holds it), held mail counted (453 when none), then
 * 250 and the connection is turned around: this process becomes the SMTP
 * client on the same descriptors (plain or TLS) and delivers every held
 * message of the nodes as the hold flusher does (lib/holdflush.c: removed
 * only when accepted for all its recipients, 4xx kept, 5xx -> DSN), then
 * QUIT and the session ends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "holdflush.h"
#include "log.h"
#include "odmr.h"
#include "queue.h"
#include "util.h"

#define ODMR_NODES_MAX 16        /* domains in one ATRN */

/* scratch for one record: large, so static; filled before each use */
static struct userdb_entry ent;

/* Whether user is in the comma-separated list (case-insensitive). */
static int
listed(const char *list, const char *user)
{
	size_t ul = strlen(user);
	const char *p = list, *e;

	while (*p) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		if ((size_t)(e - p) == ul && strncasecmp(p, user, ul) == 0)
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}

static void
unlock_all(int *lk, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lk[i] >= 0)
			close(lk[i]);
}

/* Turns the session around and delivers; the session ends after. */
static void
turn(struct session *s, char node[][ADDR_DOMAIN_MAX + 1], int *lk, size_t n)
{
	struct holdflush_opts o;
	const char *err = "?";
	size_t i;
	int failed = 0;

	s->quit = 1;
	s->end_result = "atrn";
	/* what the site sent after ATRN (its greeting, early) is the
	 * turned session's input: handed over, not dropped */
	if (io_flush(&s->io) < 0 ||
	    holdflush_turn_begin(&s->io, s->cfg->hostname, s->cfg->timeout,
	    &err) < 0) {
		log_msg(LOG_WARNING, "ATRN: %s: the turned session failed: %s",
		    s->auth_user, err);
		(void)holdflush_turn_end();
		s->end_result = "atrn failed";
		return;
	}
	o.users = s->cfg->users;
	o.spool = s->cfg->spool;
	o.helo = s->cfg->hostname;
	o.timeout = s->cfg->timeout;
	for (i = 0; i < n && !failed; i++) {
		if (lk[i] < 0)
			continue;
		o.node = node[i];
		if (holdflush_turn_pass(&o, lk[i]) < 0)
			failed = 1;
	}
	if (!holdflush_turn_end() || failed)
		s->end_result = "atrn incomplete";
}

enum reply
smtp_atrn(struct session *s, char *args)
{
	/* this ATRN's nodes: static (4 KiB), filled before use */
	static char node[ODMR_NODES_MAX][ADDR_DOMAIN_MAX + 1];
	int lk[ODMR_NODES_MAX];
	char queue[ADDR_DOMAIN_MAX + 16];
	size_t n = 0, len, i;
	long count, total = 0;
	char *p = args, *e;
	int r;

	if (!s->cfg->odmr)
		return R_NOT_IMPL;
	if (!s->auth_user[0])
		return R_NEED_AUTH;
	/* ATRN domain[,domain...] */
	while (*p) {
		e = strchr(p, ',');
		len = e ? (size_t)(e - p) : strlen(p);
		if (n == ODMR_NODES_MAX || len == 0 || len > ADDR_DOMAIN_MAX ||
		    !addr_domain_valid(p, len)) {
			reply_line(s, "501 5.5.4 Syntax: ATRN domain[,domain...]");
			s->errors++;
			return R_NONE;
		}
		memcpy(node[n], p, len);
		node[n][len] = '\0';
		ascii_lower(node[n]);
		n++;
		p = e ? e + 1 : p + len;
		if (e && !*p) {
			reply_line(s, "501 5.5.4 Syntax: ATRN domain[,domain...]");
			s->errors++;
			return R_NONE;
		}
	}
	if (n == 0) {
		reply_line(s, "501 5.5.4 Syntax: ATRN domain[,domain...] (name "
		    "the domains to collect)");
		s->errors++;
		return R_NONE;
	}
	for (i = 0; i < n; i++) {
		r = userdb_lookup(s->cfg->users, node[i], &ent);
		if (r < 0) {
			reply_line(s, "451 4.3.0 Unable to process ATRN request "
			    "now");
			return R_NONE;
		}
		if (r != 1 || ent.kind != USERDB_HOLD ||
		    !listed(ent.odmr, s->auth_user)) {
			log_msg(LOG_NOTICE, "ATRN %s: %s may not collect it",
			    node[i], s->auth_user);
			reply_line(s, "450 4.7.1 ATRN request refused");
			s->errors++;
			return R_NONE;
		}
	}
	for (i = 0; i < n; i++) {
		lk[i] = -1;
		if (queue_hold_name(node[i], queue, sizeof queue) < 0)
			continue;
		lk[i] = queue_lock(s->cfg->spool, queue, 0);
		if (lk[i] < 0 && errno == ENOENT)
			continue;               /* no queue: nothing held */
		if (lk[i] < 0) {
			log_msg(LOG_INFO, "ATRN %s: queue busy or unusable: %s",
			    node[i], strerror(errno));
			unlock_all(lk, i);
			reply_line(s, "451 4.3.0 Unable to process ATRN request "
			    "now");
			return R_NONE;
		}
		count = queue_count(s->cfg->spool, queue);
		if (count > 0)
			total += count;
	}
	if (total == 0) {
		unlock_all(lk, n);
		reply_line(s, "453 4.3.0 You have no mail");
		return R_NONE;
	}
	log_msg(LOG_INFO, "ATRN %s by %s: %ld held message(s), turning the "
	    "connection around", args, s->auth_user, total);
	reply_line(s, "250 2.0.0 OK, now reversing the connection");
	turn(s, node, lk, n);
	unlock_all(lk, n);
	return R_NONE;
}
