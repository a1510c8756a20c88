/* dsnsuccess.c - the success notice of a local delivery (RFC 3461
 * NOTIFY=SUCCESS, Action: delivered): which recipients asked for one,
 * the header of a delivered copy, and lib/dsn.c to write and route it
 * (the sender's maildir, a hold queue or the outbound queue). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

/* Where the original begins in a maildir copy: after the trace lines
 * deliver.c put on top (Return-Path:, Delivered-To:), which name our
 * mailbox, not the sender's message. */
static off_t
after_trace(int fd)
{
	char buf[ADDR_MAX * 2 + 600];
	ssize_t n = pread(fd, buf, sizeof buf, 0);
	size_t off = 0;
	char *nl;

	while (n > 0 && off < (size_t)n &&
	    (!strncmp(buf + off, "Return-Path:", 12) ||
	    !strncmp(buf + off, "Delivered-To:", 13)) &&
	    (nl = memchr(buf + off, '\n', (size_t)n - off)) != NULL)
		off = (size_t)(nl - buf) + 1;
	return (off_t)off;
}

void
dsn_success_local(struct session *s, const char *id,
    const struct maildir_delivery *md, const char (*base)[MAILDIR_NAME_MAX],
    unsigned n)
{
	static struct queue_env env;
	unsigned char which[QUEUE_RCPT_MAX];
	char path[MAILDIR_PATH_MAX + MAILDIR_NAME_MAX + 64];
	unsigned r, i, first = n;
	int fd = -1;

	if (!s->sender[0])
		return;                  /* never a notice to <> */
	deliver_env_head(s, &env);
	memset(which, 0, sizeof which);
	for (r = 0; r < s->nrcpt && env.nrcpt < QUEUE_RCPT_MAX; r++) {
		struct queue_rcpt *q = &env.rcpt[env.nrcpt];
		if (!(s->rcpt[r].notify & QUEUE_NOTIFY_SUCCESS))
			continue;
		for (i = 0; i < n && s->local[i].orig != r; i++)
			;
		if (i == n)
			continue;        /* queued, not delivered here */
		if (i < first)
			first = i;
		copy_str(q->addr, sizeof q->addr, s->rcpt[r].addr);
		q->state = QUEUE_DONE;
		q->notify = s->rcpt[r].notify;
		copy_str(q->orcpt, sizeof q->orcpt, s->rcpt[r].orcpt);
		which[env.nrcpt++] = 1;
	}
	if (env.nrcpt == 0)
		return;
	copy_str(env.id, sizeof env.id, id);
	if (snprintf(path, sizeof path, "%s/new/%s,S=%llu,W=%llu",
	    md[first].dir, base[first],
	    (unsigned long long)md[first].size_s,
	    (unsigned long long)md[first].size_w) < (int)sizeof path)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		log_msg(LOG_NOTICE, "dsn: id=%s: delivered copy gone (%s): "
		    "success notice without its header", id, strerror(errno));
	if (dsn_send_notice_at(DSN_DELIVERED, 0, s->cfg->users, s->cfg->spool,
	    s->cfg->hostname, "", &env, which, fd, fd >= 0 ? after_trace(fd) :
	    0) < 0)
		log_msg(LOG_ERR, "dsn: id=%s: the success notice to <%s> could "
		    "not be written", id, s->sender);
	if (fd >= 0)
		close(fd);
}
