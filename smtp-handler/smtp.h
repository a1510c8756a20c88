/* smtp.h - the inside of smtp-handler: configuration, the session, the
 * reply table ids and the seams between the program's files
 * (commands.c dispatches, envelope.c parses MAIL/RCPT, rcpt.c resolves
 * recipients, data.c runs the DATA/BDAT byte machine, deliver.c writes
 * the copies, quota.c keeps mailbox usage, smtp_auth.c does AUTH,
 * tlsup.c does TLS). */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "io.h"
#include "maildir.h"
#include "queue.h"
#include "startup.h"
#include "userdb.h"

/* Limits (documented in smtp-handler(8)). */
#define SMTP_CMD_MAX        510      /* command line without CRLF (512) */
#define SMTP_MAIL_MAX       (SMTP_CMD_MAX + 320)  /* RET=, ENVID= (RFC 3461 4;
                                      100 octets decoded: 300 as xtext) */
#define SMTP_RCPT_MAX       (SMTP_CMD_MAX + 500)  /* NOTIFY=, ORCPT= */
#define SMTP_AUTH_LINE_MAX  12288    /* AUTH lines (RFC 4954 §4) */
#define SMTP_LINE_BUF       (SMTP_AUTH_LINE_MAX + 2)
#define SMTP_RCPT_HARD      1000     /* ceiling for --max-recipients */
#define SMTP_TARGET_MAX     1000     /* mailboxes/queue entries per message */
#define SMTP_QUEUES_MAX     16       /* distinct queues per message */
#define SMTP_ALIAS_DEPTH    8        /* alias expansion depth */
#define SMTP_HOPS_MAX       30       /* Received: headers before 554 5.4.6 */
#define SMTP_DEFAULT_SIZE   (50ull * 1024 * 1024)
#define SMTP_DEFAULT_RCPTS  100
#define SMTP_DEFAULT_ERRORS 20
#define SMTP_AUTH_TRIES     3
#define SMTP_DEFAULT_MAILS  100      /* MAIL commands per session */
#define SMTP_DEFAULT_RSETS  100      /* RSET commands per session */
#define SMTP_DEFAULT_SESSION_RCPTS 1000  /* RCPT commands per session */
#define SMTP_SESSION_MAX    1000000  /* ceiling of the three above */
#define SMTP_USAGE_CACHE    64       /* mailboxes whose usage is kept */

/* --auth ways in */
#define WAY_ANONYMOUS  0x1
#define WAY_PASSWORD   0x2
#define WAY_CERT       0x4

enum tls_mode { TLSM_NONE, TLSM_STARTTLS, TLSM_IMPLICIT };

struct smtp_config {
	const char *users;
	const char *spool;
	const char *cert, *key, *client_ca, *client_revoked;
	const char *tls_cache;          /* shared TLS session cache or NULL */
	unsigned tls_cache_lifetime;    /* seconds a session may be resumed */
	const char *relay_clients;
	const char *run_user;
	int allow_root;             /* --allow-root */
	const char *proxy_from;     /* --proxy-from CIDRs or NULL */
	unsigned ways;              /* WAY_*; 0 = not enabled (421) */
	enum tls_mode tls_mode;
	int require_tls;
	int quota_temp;             /* quota refusals as 452 4.2.2 */
	int odmr;                   /* --odmr: ATRN (RFC 2645) served */
	int session_status;         /* --session-status: exit 75 unless
	                               the session ended with QUIT */
	uint64_t max_size;
	unsigned max_rcpts;
	unsigned max_errors;
	unsigned max_mails;         /* MAIL commands per session */
	unsigned max_rsets;         /* RSET commands per session */
	unsigned max_session_rcpts; /* RCPT commands per session */
	unsigned timeout;
	unsigned session_timeout;
	unsigned auth_delay_ms;
	const char *throttle;       /* per-address failure state file */
	int debug;                  /* --debug: log state changes */
	char hostname[256];
};

/* States (bit mask, so a command can allow several). */
enum smtp_state {
	ST_INIT = 0x01,   /* greeted, no HELO/EHLO yet */
	ST_READY = 0x02,  /* HELO/EHLO done, no transaction */
	ST_MAIL = 0x04,   /* MAIL accepted, no recipient yet */
	ST_RCPT = 0x08,   /* at least one recipient */
	ST_BDAT = 0x10    /* inside a BDAT sequence */
};
#define ST_ANY (ST_INIT | ST_READY | ST_MAIL | ST_RCPT | ST_BDAT)
#define ST_TRANS (ST_MAIL | ST_RCPT | ST_BDAT)

/* Reply ids: one table in reply.c holds code, enhanced code and text. */
enum reply {
	R_NONE = 0,       /* handler wrote its own reply (or none) */
	R_GREETING, R_NOT_ENABLED, R_BYE, R_HELO, R_ACK, R_SENDER_OK,
	R_RCPT_OK, R_DATA_GO, R_QUEUED, R_CHUNK_OK, R_VRFY, R_HELP,
	R_TLS_GO, R_AUTH_OK, R_TIMEOUT, R_TOO_MANY_ERRORS,
	R_TOO_MANY_AUTH, R_TEMPFAIL, R_NO_STORAGE, R_TOO_MANY_RCPTS,
	R_QUOTA_TEMP, R_TLS_UNAVAIL, R_AUTH_TEMP, R_LINE_TOO_LONG,
	R_UNKNOWN, R_NUL, R_EIGHTBIT, R_SYNTAX, R_SYNTAX_MAIL,
	R_SYNTAX_RCPT, R_BAD_SENDER, R_BAD_RCPT, R_NOT_IMPL, R_SEQ_HELO,
	R_SEQ_NESTED_MAIL, R_SEQ_NEED_MAIL, R_SEQ_NEED_RCPT, R_SEQ,
	R_SEQ_IN_TRANS, R_SEQ_BDAT, R_SEQ_AUTHED, R_NEED_TLS, R_NEED_AUTH,
	R_AUTH_ENCRYPT, R_AUTH_BAD, R_AUTH_CANCEL, R_AUTH_B64,
	R_AUTH_LINE_LONG, R_AUTH_MECH, R_AUTH_NONE, R_USER_UNKNOWN,
	R_TOO_BIG, R_TOO_BIG_DECLARED, R_QUOTA, R_SOURCE_ROUTE,
	R_RELAY_TRICK, R_NO_RCPTS, R_RELAY_DENIED, R_LOOP, R_ALIAS_LOOP,
	R_BARE_EOL, R_PARAM, R_UTF8_ADDR, R_TLS_ACTIVE, R_PARAM_HELO,
	R_BDAT_FAILED, R_TEMP_ALIAS, R_AUTH_THROTTLED, R_HOLD_FULL,
	R_HOLD_TOO_BIG, R_TOO_MANY_TRANS, R_TOO_MANY_SESSION_RCPTS,
	R_DSN_RET, R_DSN_ENVID, R_DSN_NOTIFY, R_DSN_ORCPT, R_COUNT
};

/* An accepted RCPT as the client gave it (normalised), with its RFC 3461
 * parameters. */
struct smtp_rcpt {
	char addr[ADDR_MAX + 1];
	unsigned notify;                 /* QUEUE_NOTIFY_*, 0 = not given */
	char orcpt[QUEUE_ORCPT_MAX + 1]; /* as received, "" = not given */
};

/* A local mailbox that gets a copy (after alias expansion, deduped). */
struct smtp_local {
	char user[USERDB_KEY_MAX];
	char maildir[USERDB_PATH_MAX];
	uint64_t quota;
	unsigned orig;                /* index into rcpt[] */
};

/* A recipient that goes into a queue (outbound or a hold node). */
struct smtp_queued {
	char addr[ADDR_MAX + 1];
	unsigned queue;               /* index into queue_names[] */
	unsigned orig;
};

/* A mailbox's usage as measured once in this session (quota.c). */
struct smtp_usage {
	char maildir[USERDB_PATH_MAX];
	uint64_t bytes;
};

/* Result of the body machine, filled by data.c, used by deliver.c. */
struct smtp_body {
	uint64_t size;                /* octets as on the wire (CRLF) */
	uint64_t stored;              /* octets stored (LF) */
	unsigned received;            /* Received: headers seen */
	int too_big;                  /* exceeded SIZE=/--max-size */
	int bare_eol;                 /* bare CR or LF seen */
	int write_errno;              /* first storage error, 0 = none */
};

/* The copies of the message being received (deliver.c): a maildir
 * delivery per local mailbox and a queue writer per queue, allocated for
 * each message (a delivery holds a 64 KiB write buffer). */
struct smtp_copies {
	struct maildir_delivery *md;      /* one per local[] */
	struct queue_writer *qw;          /* one per queue_names[] */
	char (*bases)[MAILDIR_NAME_MAX];  /* names of committed copies */
	unsigned md_open, qw_open;        /* how many were opened */
	int is_open;
	char qids[SMTP_QUEUES_MAX][QUEUE_ID_MAX];  /* committed queue ids */
};

struct session {
	struct smtp_config *cfg;
	struct io io;
	struct peer peer;
	unsigned state;
	int esmtp;                    /* EHLO (not HELO) */
	char helo[256];
	int tls_ready;                /* credentials loaded: TLS can start */
	int tls_on;                   /* TLS is active */
	char tls_version[32], tls_suite[96];
	char cert_user[USERDB_KEY_MAX];  /* verified client cert -> user */
	char auth_user[USERDB_KEY_MAX];  /* "" = not authenticated */
	const char *auth_mech;
	int relay_client;             /* peer in --relay-clients */
	int apop_users;               /* --odmr and a user has apop= */
	unsigned errors, auth_failures;
	int quit;                     /* leave after this reply */
	const char *end_result;       /* RESULT= when quit is not QUIT */
	unsigned n_mail, n_rset, n_rcpt;  /* commands in this session */
	int64_t started_ms;

	/* the transaction */
	char sender[ADDR_MAX + 1];
	int smtputf8;
	enum queue_body body;         /* BODY= of MAIL FROM */
	enum queue_ret ret;           /* RET= of MAIL FROM */
	char envid[QUEUE_ENVID_MAX + 1]; /* ENVID= decoded, "" = none */
	uint64_t declared_size;
	unsigned nrcpt, nlocal, nqueued, nqueues;
	struct smtp_rcpt rcpt[SMTP_RCPT_HARD];
	struct smtp_local local[SMTP_TARGET_MAX];
	struct smtp_queued queued[SMTP_TARGET_MAX];
	char queue_names[SMTP_QUEUES_MAX][MAILDIR_PATH_MAX / 4];
	int bdat_failed;              /* reply id of a failed BDAT sequence */
	struct smtp_copies copies;    /* deliver.c */

	/* quota.c */
	struct smtp_usage usage[SMTP_USAGE_CACHE];
	unsigned nusage, usage_next;

	/* counters for the session summary */
	unsigned messages, rcpts_total;
	uint64_t bytes_accepted;
	unsigned temp_replies;        /* 4xx replies given (--session-status) */

	char reply_arg[512];          /* the %s of the next table reply */
	char line[SMTP_LINE_BUF];
};

/* session.c: one connection on fds 0/1, started by main() after
 * startup_fds() and log_open(). */
/* Clears *s (zeroed storage, or a session that began before) and starts
 * a session with cfg (linked; its hostname is filled in when empty): the
 * peer, the TLS credentials. Call it before the privilege drop. 0, or -1
 * when the session cannot start (logged, everything released; exit
 * status 1). */
int smtp_session_begin(struct session *s, struct smtp_config *cfg);
/* Serves the connection to its end, logs the summary, releases what the
 * session held (smtp_session_end) and returns the exit status. */
int smtp_session_serve(struct session *s);
/* Releases what the session holds: a message's open copies (removed),
 * the TLS credentials, the session cache descriptor. Idempotent. */
void smtp_session_end(struct session *s);

/* reply.c */
/* Queues reply id (with s->reply_arg as its %s). Counts 4xx/5xx
 * replies as errors unless the caller says not to. */
void reply(struct session *s, enum reply r);
void reply_arg(struct session *s, enum reply r, const char *arg);
int reply_code(enum reply r);
/* Writes a raw complete reply line (CRLF added). */
void reply_line(struct session *s, const char *line);

/* commands.c */
void smtp_dispatch(struct session *s, char *line, size_t len, int flags);
void enter_state(struct session *s, unsigned st);
void transaction_reset(struct session *s);
void session_forget(struct session *s);   /* after STARTTLS */
/* Counts one more command against a per-session bound; over it: logs,
 * replies 421 4.7.0, ends the session and returns 1. */
int session_bound(struct session *s, unsigned *count, unsigned max,
    const char *what);
int auth_password_available(const struct session *s);
int auth_external_available(const struct session *s);
int auth_cram_available(const struct session *s);

/* envelope.c */
enum reply smtp_mail(struct session *s, char *args);
enum reply smtp_rcpt(struct session *s, char *args);
/* Parses "<path>" at *p; on success copies the address (without <>)
 * into out[size] and advances *p past '>'. Returns R_NONE or an error
 * reply (R_SOURCE_ROUTE, R_SYNTAX_*...). */
enum reply envelope_path(char **p, char *out, size_t size, int is_rcpt,
    int utf8);

/* rcpt.c */
/* Resolves one accepted-syntax recipient and adds its targets. addr
 * keeps its local part as received (domain lowercase): look-ups are
 * case-insensitive, a relayed or held copy is queued as received. */
enum reply rcpt_add(struct session *s, const char *addr);

/* quota.c */
/* The usage of maildir (missing: 0), from this session's cache, else
 * measured and kept. 0 / -1 (errno). */
int quota_usage(struct session *s, const char *maildir, uint64_t *bytes_r);
/* Counts a copy of bytes (W) delivered to maildir by this session. */
void quota_add(struct session *s, const char *maildir, uint64_t bytes);

/* data.c */
enum reply smtp_data(struct session *s, char *args);
enum reply smtp_bdat(struct session *s, char *args);
void bdat_abort(struct session *s);
/* Forgets the message state of an earlier session (session start). */
void smtp_data_reset(void);

/* deliver.c */
int deliver_open(struct session *s, const char *id);
void deliver_write(struct session *s, struct smtp_body *b, const void *p,
    size_t n);
/* Commits every copy (or none); returns the reply for the client. */
enum reply deliver_finish(struct session *s, struct smtp_body *b,
    const char *id);
void deliver_abort(struct session *s);
void deliver_env_head(const struct session *s, struct queue_env *env);
int deliver_is_open(const struct session *s);

/* dsnsuccess.c */
/* After the local copies of message id were committed (md[i] is the copy
 * of s->local[i], i < n, base[i] its name before the commit): one success
 * notice (RFC 3461 NOTIFY=SUCCESS,
 * Action: delivered) to the sender for the recipients that asked for
 * it and got a local copy, with the header of the first such copy.
 * Best effort: a failure is logged; the mail is delivered. */
void dsn_success_local(struct session *s, const char *id,
    const struct maildir_delivery *md, const char (*base)[MAILDIR_NAME_MAX],
    unsigned n);

/* smtp_auth.c */
enum reply smtp_auth(struct session *s, char *args);

/* tlsup.c */
/* Loads credentials per the configuration; 0 ok or not configured,
 * -1 a configuration error (logged). */
int tlsup_load(struct session *s);
/* Starts TLS (implicit at byte 0, or after the 220 to STARTTLS).
 * 0 / -1 (logged; the session must end). */
int tlsup_start(struct session *s);
/* Sends close_notify when TLS is active. */
void tlsup_close(struct session *s);
/* Frees the credentials and client CA, closes the session cache file,
 * forgets the client certificate. Idempotent. */
void tlsup_end(struct session *s);
/* CLIENT_CERT for the summary: "-", the user, or "CODE:NAME" for a
 * certificate that was not used (lib/certauth.h). */
const char *tlsup_cert_summary(char *buf, size_t size);

/* options.c */
/* Parses argv into cfg. Returns 0 to run, 1 to exit 0 (--help,
 * --version, already printed), -1 usage error (printed; exit 64). */
int options_parse(struct smtp_config *cfg, int argc, char **argv);

#endif
