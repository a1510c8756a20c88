/* relay.h - the per-message step shared by etrn-client's push of the
 * outbound queue and the hold-queue flush (holdflush.c): read a queued
 * message's envelope, send it to its pending recipients over an open SMTP
 * session, keep each recipient's outcome in the envelope, send a DSN
 * (RFC 3464) for permanent refusals, then remove the message or schedule
 * its next attempt with exponential backoff. */
#ifndef POSTERN_RELAY_H
#define POSTERN_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include "queue.h"
#include "smtpc.h"

#define RELAY_IDS_MAX      100000   /* ids per run; the rest waits */
#define RELAY_BACKOFF_MIN  60       /* seconds after the 1st failure */
#define RELAY_BACKOFF_MAX  3600

/* One run over one queue. The strings are linked, not copied. */
struct relay {
	const char *spool;
	const char *queue;      /* QUEUE_OUTBOUND or "hold/NODE" */
	const char *users;      /* CDB path, for DSNs to local senders */
	const char *helo;       /* our name (DSN Reporting-MTA) */
	const char *remote;     /* the next hop's name (DSN Remote-MTA) */
	const char *tag;        /* log prefix of error lines ("push:") */
	const char *kv;         /* log prefix of result lines ("push:") */
	unsigned sent;          /* recipients accepted, summed over calls */
	unsigned bounced;       /* recipients refused, DSN sent */
};

/* The ids of a queue, oldest first, at most RELAY_IDS_MAX. */
struct relay_ids {
	char (*id)[QUEUE_ID_MAX];
	size_t n, cap;
};

/* Reads the ids of r's queue into l (zeroed here). 0 / -1 (errno); on
 * -1 l is empty. relay_ids_free() releases. */
int relay_ids_read(const struct relay *r, struct relay_ids *l);
void relay_ids_free(struct relay_ids *l);

/* Reads env/ID into env and stores the indexes of its pending recipients
 * in idx. A message with none pending is removed. Returns how many are
 * pending (0: nothing to send), or -1 when the envelope is unreadable
 * (logged unless the message vanished meanwhile). */
int relay_load(const struct relay *r, const char *id, struct queue_env *env,
    size_t idx[QUEUE_RCPT_MAX]);

/* Sends the message open on fd to env's recipients idx[0..n) over c,
 * records each outcome in env (state, last_reply), logs one result line
 * per recipient, counts sent and bounced, and sends the DSN for 5xx
 * refusals (when that fails they stay pending, to be tried again). fd
 * stays open. Returns the number of recipients still pending; *broke_r
 * is set to 1 when the session broke and is unusable. */
size_t relay_send(struct relay *r, struct smtpc *c, const char *id,
    struct queue_env *env, const size_t *idx, size_t n, int fd,
    int *broke_r);

/* Ends a message's attempt: with nothing pending it is removed (0, or -1
 * logged when that fails); else attempts is counted, next_try set to now
 * plus the backoff and the envelope rewritten (1; a failed rewrite is
 * logged). */
int relay_finish(const struct relay *r, const char *id,
    struct queue_env *env, size_t pending, int64_t now);

#endif
