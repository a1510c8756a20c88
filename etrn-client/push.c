/* push.c - pushes the outbound queue through an open SMTP session: one
 * transaction per message for its pending recipients, the outcome kept
 * per recipient in the envelope, DSNs for permanent refusals, all under
 * the queue lock so that two runs never send a message twice. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "push.h"
#include "queue.h"
#include "relay.h"
#include "util.h"

static struct queue_env env;

static void
push_one(struct relay *rl, struct smtpc *c, const char *id,
    struct push_result *res)
{
	size_t idx[QUEUE_RCPT_MAX], pending;
	int64_t now = (int64_t)time(NULL);
	int fd, n, broke;

	n = relay_load(rl, id, &env, idx);
	if (n <= 0)
		return;
	fd = queue_msg_open(rl->spool, rl->queue, id);
	if (fd < 0) {
		log_msg(LOG_ERR, "push: message %s unreadable: %s", id,
		    strerror(errno));
		res->left++;
		return;
	}
	res->messages++;
	pending = relay_send(rl, c, id, &env, idx, (size_t)n, fd, &broke);
	if (broke)
		res->broke = 1;
	close(fd);
	switch (relay_finish(rl, id, &env, pending, now)) {
	case 1:
		res->deferred += (unsigned)pending;
		/* FALLTHROUGH */
	case -1:
		res->left++;
		break;
	}
}

int
push_outbound(struct smtpc *c, const struct push_opts *o,
    struct push_result *res)
{
	struct relay rl = { o->spool, QUEUE_OUTBOUND, o->users, o->helo,
	    o->relay, "push:", "push:", 0, 0 };
	struct relay_ids l;
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
	if (relay_ids_read(&rl, &l) < 0) {
		log_msg(LOG_ERR, "push: cannot read %s/%s: %s", o->spool,
		    QUEUE_OUTBOUND, strerror(errno));
		close(lk);
		return -1;
	}
	for (i = 0; i < l.n; i++) {
		if (res->broke) {
			res->left++;
			continue;
		}
		push_one(&rl, c, l.id[i], res);
	}
	res->sent = rl.sent;
	res->bounced = rl.bounced;
	relay_ids_free(&l);
	close(lk);
	return 0;
}
