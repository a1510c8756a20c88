/* queue.h - the spool: the outbound queue (mail from authenticated users
 * and relay clients for other domains, pushed by etrn-client) and the
 * per-node hold queues (mail held for ETRN). Layout under SPOOL:
 *   outbound/{tmp,msg,env}/ID      hold/NODE/{tmp,msg,env}/ID
 * msg/ID is the message (LF line ends, our Received: on top), written
 * once. env/ID is its envelope with per-recipient state; a message exists
 * exactly when env/ID exists (env is renamed in last, removed first).
 * Envelopes are rewritten atomically (tmp + fsync + rename). */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include "dsnparam.h"
#include <stddef.h>
#include <stdint.h>
#include "addr.h"
#include "maildir.h"

#define QUEUE_ID_MAX      MAILDIR_NAME_MAX
#define QUEUE_RCPT_MAX    100
#define QUEUE_OUTBOUND    "outbound"
#define QUEUE_DEFAULT_SPOOL "/var/spool/postern"

/* Recipient states. */
#define QUEUE_PENDING  'P'
#define QUEUE_DONE     'D'   /* accepted by the next hop */
#define QUEUE_FAILED   'F'   /* refused permanently; DSN sent */

/* The RFC 3461 fields of an envelope (QUEUE_NOTIFY_*, QUEUE_ORCPT_MAX,
 * QUEUE_ENVID_MAX, enum queue_ret): dsnparam.h. */

struct queue_rcpt {
	char addr[ADDR_MAX + 1];
	char state;
	char last_reply[200];     /* last server reply for this recipient */
	unsigned notify;          /* QUEUE_NOTIFY_* bits, 0 = not given */
	char orcpt[QUEUE_ORCPT_MAX + 1]; /* "addr-type;xtext", "" = none */
};

/* BODY= of MAIL FROM (RFC 6152, RFC 3030); NONE: the client gave none. */
enum queue_body {
	QUEUE_BODY_NONE, QUEUE_BODY_7BIT, QUEUE_BODY_8BITMIME,
	QUEUE_BODY_BINARYMIME
};

struct queue_env {
	char id[QUEUE_ID_MAX];
	char sender[ADDR_MAX + 1];  /* "" = null sender <>; as received */
	int smtputf8;               /* MAIL FROM had SMTPUTF8 */
	enum queue_body body;
	enum queue_ret ret;         /* RET= */
	char envid[QUEUE_ENVID_MAX + 1]; /* ENVID= decoded, "" = none */
	int64_t arrival;            /* unix seconds */
	unsigned attempts;
	int64_t next_try;           /* unix seconds, 0 = now */
	uint64_t size;              /* bytes of msg/ID */
	int64_t warned;             /* when the delay warning went, 0 = not */
	size_t nrcpt;
	struct queue_rcpt rcpt[QUEUE_RCPT_MAX];
};

/* Queue names: QUEUE_OUTBOUND, or "hold/NODE" with NODE a valid domain
 * name (queue_hold_name builds it). 0 / -1 if node is not valid. */
int queue_hold_name(const char *node, char *out, size_t size);

/* A message being written. */
struct queue_writer {
	int fd;
	char dir[MAILDIR_PATH_MAX];   /* SPOOL/QUEUE */
	char id[QUEUE_ID_MAX];
	uint64_t size;
	size_t wlen;
	int committed;                /* env/ID installed, msg still locked */
	unsigned char wbuf[MAILDIR_WBUF];
};

int queue_write_open(struct queue_writer *w, const char *spool,
    const char *queue);
int queue_write(struct queue_writer *w, const void *p, size_t n);
/* Makes the message durable with env (env->id and env->size are filled
 * in here; recipients all QUEUE_PENDING unless set). 0 / -1; on -1
 * nothing is left behind. */
int queue_write_commit(struct queue_writer *w, struct queue_env *env);
/* The message file is flock()ed exclusively from queue_write_open() on.
 * queue_write_commit_locked() is queue_write_commit() that keeps that
 * lock: env/ID is visible, but queue_msg_open() (every flusher and push)
 * waits until queue_write_unlock() publishes the message, or
 * queue_write_abort() takes it back (env/ID then msg/ID unlinked, env/
 * fsync'd), so a message rolled back is never sent. */
int queue_write_commit_locked(struct queue_writer *w, struct queue_env *env);
void queue_write_unlock(struct queue_writer *w);
/* Removes what was written (a committed but still locked message too). */
void queue_write_abort(struct queue_writer *w);

/* Calls fn for every message id in the queue (order: oldest first).
 * fn returns 0 to go on, non-zero to stop (returned). -1 on error. */
int queue_foreach(const char *spool, const char *queue,
    int (*fn)(const char *id, void *arg), void *arg);

/* Number of messages in the queue (0 for a missing queue), -1 error. */
long queue_count(const char *spool, const char *queue);

/* Bytes (st_size of msg/ files) and number of the messages in the queue
 * (a missing queue is empty): one directory read and one fstatat per
 * message, no file read. 0 / -1. */
int queue_usage(const char *spool, const char *queue, uint64_t *bytes_r,
    uint64_t *count_r);

/* Calls fn for every hold node that has a queue directory. */
int queue_foreach_node(const char *spool,
    int (*fn)(const char *node, void *arg), void *arg);

int queue_env_read(const char *spool, const char *queue, const char *id,
    struct queue_env *env);
int queue_env_update(const char *spool, const char *queue,
    const struct queue_env *env);

/* Opens msg/ID read-only, after waiting (at most QUEUE_COMMIT_WAIT
 * seconds, then EWOULDBLOCK) for a writer still committing it; ENOENT
 * when the message was rolled back meanwhile. fd / -1. */
#define QUEUE_COMMIT_WAIT 60
int queue_msg_open(const char *spool, const char *queue, const char *id);

/* Removes env/ID then msg/ID. ENOENT is success. 0 / -1. */
int queue_remove(const char *spool, const char *queue, const char *id);

/* Exclusive lock on a queue for a flush/push run (flock on
 * SPOOL/QUEUE/.lock). block: wait, else fail with EWOULDBLOCK.
 * Returns an fd to keep open, or -1. */
int queue_lock(const char *spool, const char *queue, int block);

/* Parses/serialises an envelope (exposed for tests and fuzzing).
 * Addresses are any RFC 5321 mailbox as received (quoted local parts
 * with blanks and quoted-pairs, UTF-8): 1..ADDR_MAX octets, no control
 * character or DEL. Format writes version 2; parse reads 1 and 2. */
int queue_env_parse(const char *text, size_t len, struct queue_env *env);
long queue_env_format(const struct queue_env *env, char *out, size_t size);

/* Upper bound of a formatted envelope (a buffer this large always fits):
 * QUEUE_RCPT_MAX recipient lines of at most 7 + 3 * ADDR_MAX (xtext) +
 * 1 + 199 + 1 octets, each with a dsn line of at most 4 + 26 + 1 +
 * QUEUE_ORCPT_MAX + 1 (together 169,400), plus the other lines (under
 * 2,000). */
#define QUEUE_ENV_TEXT_MAX 196608

/* 1 if id may name a queue file (no '/', no leading '.', printable
 * ASCII without blanks, shorter than QUEUE_ID_MAX), else 0. */
int queue_id_valid(const char *id);

/* Removes crash leftovers: tmp/ files older than tmp_age seconds and
 * msg/ files without an env/ older than orphan_age. Calls removed(path,
 * arg) for each (may be NULL). Call it under queue_lock(). The number
 * removed. */
int queue_clean(const char *spool, const char *queue, unsigned tmp_age,
    unsigned orphan_age, void (*removed)(const char *path, void *arg),
    void *arg);

#endif
