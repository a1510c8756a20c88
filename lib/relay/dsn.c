/* dsn.c - RFC 3464 delivery status notifications: the message text, and
 * its delivery to the envelope sender (maildir, hold queue or outbound
 * queue). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "dsn.h"
#include "dsnparam.h"
#include "log.h"
#include "maildir.h"
#include "queue.h"
#include "userdb.h"
#include "util.h"

struct sink {
	dsn_put_fn put;
	void *arg;
	int failed;
};

static void
emit(struct sink *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
emit(struct sink *s, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	if (s->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0) {
		s->failed = 1;
		return;
	}
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	if (s->put(s->arg, buf, (size_t)n) < 0)
		s->failed = 1;
}

/* Copies text for a header/report field: printable ASCII only. */
static void
clean(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (; *in && o + 1 < size; in++)
		out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[o] = '\0';
}

void
dsn_status(const char *reply, char *out, size_t size)
{
	const char *p = reply;
	int cls = reply[0] == '4' ? 4 : 5;
	unsigned a, b;
	size_t i;

	snprintf(out, size, "%d.0.0", cls);
	if (strlen(reply) < 5 || reply[3] != ' ')
		return;
	p = reply + 4;
	if ((p[0] != '4' && p[0] != '5' && p[0] != '2') || p[1] != '.')
		return;
	/* class.subject.detail, 1-3 digits each */
	i = 2;
	for (a = 0; p[i] >= '0' && p[i] <= '9' && a < 4; i++, a++)
		;
	if (a == 0 || a > 3 || p[i] != '.')
		return;
	i++;
	for (b = 0; p[i] >= '0' && p[i] <= '9' && b < 4; i++, b++)
		;
	if (b == 0 || b > 3 || (p[i] != ' ' && p[i] != '\0'))
		return;
	snprintf(out, size, "%c%.*s", cls == 4 ? '4' : '5', (int)(i - 1),
	    p + 1);
}

static char msgbuf[DSN_HEADER_MAX];

/* Attaches the header of the original (from msgoff up to the first
 * empty line). */
static void
emit_header(struct sink *s, int msgfd, off_t msgoff)
{
	char *buf = msgbuf;
	size_t len = 0, i, end;
	ssize_t n;

	if (msgfd < 0)
		return;
	while (len < sizeof msgbuf) {
		n = pread(msgfd, buf + len, sizeof msgbuf - len,
		    msgoff + (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	end = len;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' && (i == 0 || (i + 1 < len &&
		    (buf[i + 1] == '\n' || (buf[i + 1] == '\r' &&
		    i + 2 < len && buf[i + 2] == '\n'))))) {
			end = i == 0 ? 0 : i + 1;
			break;
		}
	}
	if (end > 0) {
		/* a truncated header still ends in a newline */
		while (end > 0 && buf[end - 1] != '\n')
			end--;
		if (s->put(s->arg, buf, end) < 0)
			s->failed = 1;
	}
}

/* Attaches the whole original from msgoff (RET=FULL), ending in a
 * newline. */
static void
emit_full(struct sink *s, int msgfd, off_t msgoff)
{
	off_t off = msgoff;
	ssize_t n;
	char last = '\n';

	if (msgfd < 0)
		return;
	for (;;) {
		n = pread(msgfd, msgbuf, sizeof msgbuf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->failed = 1;
			return;
		}
		if (n == 0)
			break;
		if (s->put(s->arg, msgbuf, (size_t)n) < 0) {
			s->failed = 1;
			return;
		}
		last = msgbuf[n - 1];
		off += n;
	}
	if (last != '\n' && s->put(s->arg, "\n", 1) < 0)
		s->failed = 1;
}

int
dsn_wanted(enum dsn_kind kind, const struct queue_rcpt *r)
{
	switch (kind) {
	case DSN_DELAYED:
		return r->notify == 0 || (r->notify & QUEUE_NOTIFY_DELAY);
	case DSN_DELIVERED:
	case DSN_RELAYED:
		return (r->notify & QUEUE_NOTIFY_SUCCESS) != 0;
	default:
		return r->notify == 0 || (r->notify & QUEUE_NOTIFY_FAILURE);
	}
}

size_t
dsn_count(enum dsn_kind kind, const struct queue_env *env,
    const unsigned char *which)
{
	size_t i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		n += which[i] && dsn_wanted(kind, &env->rcpt[i]);
	return n;
}

/* Whether a notice of kind reports a failure (RET= applies). */
static int
is_failure(enum dsn_kind kind)
{
	return kind == DSN_REFUSED || kind == DSN_EXPIRED;
}

static int format_at(enum dsn_kind kind, int64_t until,
    const struct queue_env *env, const unsigned char *failed,
    const char *reporting_mta, const char *remote_mta, int msgfd,
    off_t msgoff, int64_t now, dsn_put_fn put, void *arg);

int
dsn_format(const struct queue_env *env, const unsigned char *failed,
    const char *reporting_mta, const char *remote_mta, int msgfd,
    int64_t now, dsn_put_fn put, void *arg)
{
	return dsn_format_notice(DSN_REFUSED, 0, env, failed, reporting_mta,
	    remote_mta, msgfd, now, put, arg);
}

static const char *const action_names[] = {
	[DSN_REFUSED] = "failed", [DSN_EXPIRED] = "failed",
	[DSN_DELAYED] = "delayed", [DSN_DELIVERED] = "delivered",
	[DSN_RELAYED] = "relayed"
};

/* The status of a notice for recipient r. */
static void
notice_status(enum dsn_kind kind, const struct queue_rcpt *r, char *out,
    size_t size)
{
	if (kind == DSN_REFUSED) {
		dsn_status(r->last_reply, out, size);
		return;
	}
	if (kind == DSN_DELIVERED || kind == DSN_RELAYED) {
		snprintf(out, size, "2.0.0");
		return;
	}
	/* Delivery time expired; a warning keeps a 4xx reply's code */
	snprintf(out, size, "4.4.7");
	if (kind == DSN_DELAYED && r->last_reply[0] == '4')
		dsn_status(r->last_reply, out, size);
}

int
dsn_format_notice(enum dsn_kind kind, int64_t until,
    const struct queue_env *env, const unsigned char *failed,
    const char *reporting_mta, const char *remote_mta, int msgfd,
    int64_t now, dsn_put_fn put, void *arg)
{
	return format_at(kind, until, env, failed, reporting_mta, remote_mta,
	    msgfd, 0, now, put, arg);
}

/* Original-Recipient: the ORCPT value, its xtext decoded. */
static void
emit_orcpt(struct sink *s, const char *orcpt)
{
	char addr[QUEUE_ORCPT_MAX + 1], shown[QUEUE_ORCPT_MAX + 1];
	size_t tlen;

	if (!orcpt[0] || dsnparam_orcpt_decode(orcpt, addr, sizeof addr,
	    &tlen) < 0)
		return;
	clean(shown, sizeof shown, addr);
	emit(s, "Original-Recipient: %.*s;%s\n", (int)tlen, orcpt, shown);
}

static int
format_at(enum dsn_kind kind, int64_t until, const struct queue_env *env,
    const unsigned char *failed, const char *reporting_mta,
    const char *remote_mta, int msgfd, off_t msgoff, int64_t now,
    dsn_put_fn put, void *arg)
{
	struct sink s = { put, arg, 0 };
	int full = is_failure(kind) && env->ret == QUEUE_RET_FULL;
	static unsigned counter;
	char date[64], arrival[64], retry[64], boundary[96], status[16],
	    text[256],
	    rcpt[ADDR_MAX + 1], sender[ADDR_MAX + 1], remote[256];
	size_t i;

	rfc5322_date(now, date, sizeof date);
	rfc5322_date(env->arrival ? env->arrival : now, arrival,
	    sizeof arrival);
	rfc5322_date(until, retry, sizeof retry);
	snprintf(boundary, sizeof boundary, "%lld.%ld.%u/%s",
	    (long long)now, (long)getpid(), ++counter, reporting_mta);
	clean(sender, sizeof sender, env->sender);
	clean(remote, sizeof remote, remote_mta ? remote_mta : "");

	emit(&s, "From: Mail Delivery System <MAILER-DAEMON@%s>\n",
	    reporting_mta);
	emit(&s, "To: <%s>\n", sender);
	emit(&s, "Subject: %s\n", kind == DSN_DELAYED ?
	    "Delayed Mail (still being retried)" : is_failure(kind) ?
	    "Undelivered Mail Returned to Sender" :
	    "Successful Mail Delivery Report");
	emit(&s, "Date: %s\n", date);
	emit(&s, "Message-ID: <%lld.%ld.%u.dsn@%s>\n", (long long)now,
	    (long)getpid(), counter, reporting_mta);
	emit(&s, "Auto-Submitted: auto-replied\n");
	emit(&s, "MIME-Version: 1.0\n");
	emit(&s, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n", boundary);
	emit(&s, "\nThis is a MIME-encapsulated message.\n\n");

	emit(&s, "--%s\n", boundary);
	emit(&s, "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Description: Notification\n\n");
	emit(&s, "This is the mail system at host %s.\n\n", reporting_mta);
	if (kind == DSN_EXPIRED)
		emit(&s, "Your message could not be delivered to one or more "
		    "recipients\nbefore its time in the queue ran out; it has "
		    "been removed.\n\n");
	else if (kind == DSN_DELAYED)
		emit(&s, "Your message has not been delivered yet to one or "
		    "more recipients.\nThis is a warning only: delivery is "
		    "retried until %s.\n\n", retry);
	else if (kind == DSN_DELIVERED)
		emit(&s, "Your message was delivered to the mailbox of the "
		    "recipients below,\nas you asked (NOTIFY=SUCCESS).\n\n");
	else if (kind == DSN_RELAYED)
		emit(&s, "Your message was handed to the next mail server%s%s "
		    "for the recipients\nbelow. That server does not offer "
		    "delivery status notifications:\nyou may get no further "
		    "notice about them.\n\n", remote[0] ? " " : "", remote);
	else
		emit(&s, "Your message could not be delivered to one or more "
		    "recipients.\nIt was refused permanently by the next mail "
		    "server%s%s.\n\n", remote[0] ? " " : "", remote);
	for (i = 0; i < env->nrcpt; i++) {
		if (!failed[i] || !dsn_wanted(kind, &env->rcpt[i]))
			continue;
		clean(rcpt, sizeof rcpt, env->rcpt[i].addr);
		clean(text, sizeof text, env->rcpt[i].last_reply);
		emit(&s, "<%s>%s%s\n", rcpt, text[0] ? ": " : "", text);
	}
	emit(&s, "\n--%s\n", boundary);
	emit(&s, "Content-Type: message/delivery-status\n"
	    "Content-Description: Delivery report\n\n");
	if (env->envid[0]) {
		clean(text, sizeof text, env->envid);
		emit(&s, "Original-Envelope-Id: %s\n", text);
	}
	emit(&s, "Reporting-MTA: dns; %s\n", reporting_mta);
	emit(&s, "Arrival-Date: %s\n", arrival);
	for (i = 0; i < env->nrcpt; i++) {
		if (!failed[i] || !dsn_wanted(kind, &env->rcpt[i]))
			continue;
		clean(rcpt, sizeof rcpt, env->rcpt[i].addr);
		clean(text, sizeof text, env->rcpt[i].last_reply);
		notice_status(kind, &env->rcpt[i], status, sizeof status);
		emit(&s, "\n");
		emit_orcpt(&s, env->rcpt[i].orcpt);
		emit(&s, "Final-Recipient: rfc822; %s\n", rcpt);
		emit(&s, "Action: %s\n", action_names[kind]);
		emit(&s, "Status: %s\n", status);
		if (remote[0])
			emit(&s, "Remote-MTA: dns; %s\n", remote);
		if (text[0])
			emit(&s, "Diagnostic-Code: smtp; %s\n", text);
		emit(&s, "Last-Attempt-Date: %s\n", date);
		if (kind == DSN_DELAYED)
			emit(&s, "Will-Retry-Until: %s\n", retry);
	}
	emit(&s, "\n--%s\n", boundary);
	if (full) {
		emit(&s, "Content-Type: message/rfc822\n%s"
		    "Content-Description: Undelivered Message\n\n",
		    env->body == QUEUE_BODY_8BITMIME ||
		    env->body == QUEUE_BODY_BINARYMIME ?
		    "Content-Transfer-Encoding: 8bit\n" : "");
		if (!s.failed)
			emit_full(&s, msgfd, msgoff);
	} else {
		emit(&s, "Content-Type: text/rfc822-headers\n"
		    "Content-Description: %s Message Headers\n\n",
		    is_failure(kind) || kind == DSN_DELAYED ? "Undelivered" :
		    "Delivered");
		if (!s.failed)
			emit_header(&s, msgfd, msgoff);
	}
	emit(&s, "\n--%s--\n", boundary);
	return s.failed ? -1 : 0;
}

/* -- delivery ------------------------------------------------------- */

struct dsn_job {
	enum dsn_kind kind;
	int64_t until;
	const struct queue_env *env;
	const unsigned char *failed;
	const char *reporting_mta, *remote_mta;
	int msgfd;
	off_t msgoff;
	int64_t now;
};

static int
put_maildir(void *arg, const void *p, size_t n)
{
	return maildir_deliver_write(arg, p, n);
}

static int
put_queue(void *arg, const void *p, size_t n)
{
	return queue_write(arg, p, n);
}

static int
to_maildir(const struct dsn_job *j, const char *maildir, const char *rcpt)
{
	static struct maildir_delivery d;
	char hdr[ADDR_MAX + 600], date[64];
	int n;

	if (maildir_deliver_open(&d, maildir) < 0) {
		log_msg(LOG_ERR, "dsn: cannot open maildir %s: %s", maildir,
		    strerror(errno));
		return -1;
	}
	rfc5322_date(j->now, date, sizeof date);
	n = snprintf(hdr, sizeof hdr, "Return-Path: <>\nDelivered-To: %s\n"
	    "Received: by %s (postern DSN); %s\n", rcpt, j->reporting_mta,
	    date);
	if (n < 0 || (size_t)n >= sizeof hdr ||
	    maildir_deliver_write(&d, hdr, (size_t)n) < 0 ||
	    format_at(j->kind, j->until, j->env, j->failed,
	    j->reporting_mta, j->remote_mta, j->msgfd, j->msgoff, j->now,
	    put_maildir, &d) < 0 ||
	    maildir_deliver_commit(&d) < 0) {
		log_msg(LOG_ERR, "dsn: delivery to %s failed: %s", maildir,
		    strerror(errno));
		maildir_deliver_abort(&d);
		return -1;
	}
	log_msg(LOG_INFO, "dsn: delivered to %s (maildir %s)", rcpt, maildir);
	return 0;
}

static int
to_queue(const struct dsn_job *j, const char *spool, const char *queue,
    const char *rcpt)
{
	static struct queue_writer w;
	static struct queue_env env;

	if (queue_write_open(&w, spool, queue) < 0) {
		log_msg(LOG_ERR, "dsn: cannot open queue %s: %s", queue,
		    strerror(errno));
		return -1;
	}
	memset(&env, 0, sizeof env);
	env.sender[0] = '\0';
	env.arrival = j->now;
	env.nrcpt = 1;
	copy_str(env.rcpt[0].addr, sizeof env.rcpt[0].addr, rcpt);
	env.rcpt[0].state = QUEUE_PENDING;
	if (is_failure(j->kind) && j->env->ret == QUEUE_RET_FULL &&
	    (j->env->body == QUEUE_BODY_8BITMIME ||
	    j->env->body == QUEUE_BODY_BINARYMIME))
		env.body = QUEUE_BODY_8BITMIME;   /* the original inside */
	if (format_at(j->kind, j->until, j->env, j->failed,
	    j->reporting_mta, j->remote_mta, j->msgfd, j->msgoff, j->now,
	    put_queue, &w) < 0 ||
	    queue_write_commit(&w, &env) < 0) {
		log_msg(LOG_ERR, "dsn: queueing for %s failed: %s", rcpt,
		    strerror(errno));
		queue_write_abort(&w);
		return -1;
	}
	log_msg(LOG_INFO, "dsn: queued for %s in %s id=%s", rcpt, queue,
	    env.id);
	return 0;
}

int
dsn_return_path_ok(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t i, n = strlen(addr);

	if (n == 0 || n > ADDR_MAX || at == NULL || at == addr ||
	    at[1] == '\0' || strlen(at + 1) > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)addr[i];
		/* a blank only inside a quoted local part */
		if (c < ' ' || c == 0x7f ||
		    (c == ' ' && (addr[0] != '"' || addr + i > at)))
			return 0;
	}
	return 1;
}

/* Delivers to one address: 0 done or permanently impossible (logged),
 * -1 temporary failure. depth bounds alias expansion. addr is the
 * reverse-path exactly as received at MAIL (or an alias target): any
 * mailbox the server accepted, SRS, VERP and BATV forms included. It is
 * used as it is for the queues; only a local user's look-up is
 * case-insensitive (userdb_resolve lowercases its own copy). */
static int
deliver(const struct dsn_job *j, const char *users, const char *spool,
    const char *addr, int depth)
{
	static struct userdb_entry e;
	char queue[ADDR_DOMAIN_MAX + 16], targets[USERDB_VALUE_MAX];
	int kind = 0, r;
	char *p, *save = NULL;

	if (!dsn_return_path_ok(addr)) {
		log_msg(LOG_ERR, "dsn: sender <%s> is not deliverable (not a "
		    "mailbox); notification dropped", addr);
		return 0;
	}
	r = userdb_resolve(users, addr, &e, &kind);
	if (r < 0) {
		log_msg(LOG_ERR, "dsn: user database unavailable for <%s>",
		    addr);
		return -1;
	}
	if (r == 0 && kind == USERDB_DOMAIN) {
		log_msg(LOG_ERR, "dsn: sender <%s> is an unknown local user; "
		    "notification dropped", addr);
		return 0;
	}
	if (r == 0)                     /* not our domain: exactly as given */
		return to_queue(j, spool, QUEUE_OUTBOUND, addr);
	if (kind == USERDB_HOLD || e.kind == USERDB_HOLD) {
		if (queue_hold_name(e.key, queue, sizeof queue) < 0)
			return 0;
		return to_queue(j, spool, queue, addr);
	}
	if (e.kind == USERDB_USER)
		return to_maildir(j, e.maildir, e.key);
	if (e.kind != USERDB_ALIAS || depth > 4) {
		log_msg(LOG_ERR, "dsn: cannot deliver to <%s>; notification "
		    "dropped", addr);
		return 0;
	}
	if (copy_str(targets, sizeof targets, e.targets) < 0)
		return 0;
	r = 0;
	for (p = strtok_r(targets, ",", &save); p;
	    p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		if (*p && deliver(j, users, spool, p, depth + 1) < 0)
			r = -1;
	}
	return r;
}

int
dsn_send(const char *users, const char *spool, const char *reporting_mta,
    const char *remote_mta, const struct queue_env *env,
    const unsigned char *failed, int msgfd)
{
	return dsn_send_notice(DSN_REFUSED, 0, users, spool, reporting_mta,
	    remote_mta, env, failed, msgfd);
}

int
dsn_send_notice(enum dsn_kind kind, int64_t until, const char *users,
    const char *spool, const char *reporting_mta, const char *remote_mta,
    const struct queue_env *env, const unsigned char *failed, int msgfd)
{
	return dsn_send_notice_at(kind, until, users, spool, reporting_mta,
	    remote_mta, env, failed, msgfd, 0);
}

int
dsn_send_notice_at(enum dsn_kind kind, int64_t until, const char *users,
    const char *spool, const char *reporting_mta, const char *remote_mta,
    const struct queue_env *env, const unsigned char *failed, int msgfd,
    off_t msgoff)
{
	struct dsn_job j = { kind, until, env, failed, reporting_mta,
	    remote_mta, msgfd, msgoff, (int64_t)time(NULL) };
	size_t i, n = 0, unwanted = 0;

	for (i = 0; i < env->nrcpt; i++)
		if (failed[i]) {
			if (dsn_wanted(kind, &env->rcpt[i]))
				n++;
			else
				unwanted++;
		}
	if (unwanted)
		log_msg(LOG_INFO, "dsn: message %s: no %s notice for %zu "
		    "recipient(s): not asked for (NOTIFY)", env->id,
		    action_names[kind], unwanted);
	if (n == 0)
		return 0;
	if (env->sender[0] == '\0') {
		log_msg(LOG_NOTICE, "dsn: message %s from the null sender: "
		    "no notification for %zu failed recipient(s)", env->id, n);
		return 0;
	}
	return deliver(&j, users, spool, env->sender, 0);
}
