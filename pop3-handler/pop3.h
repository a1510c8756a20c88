/* pop3.h - the pop3-handler session: options, the session state shared by
 * the state machine (pop3.c), authentication (pop3_auth.c), the maildir
 * session (pop3_mbox.c), STLS/implicit TLS (pop3_tls.c) and the reply
 * table (pop3_reply.c). A session is a function that returns
 * (pop3_session.c); its state is struct pop3, cleared when it begins, and
 * what it holds outside (descriptors, memory) is released when it ends. */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "maildir.h"
#include "startup.h"
#include "userdb.h"

#define POP3_CMD_MAX      253    /* RFC 2449: 255 octets with the CRLF */
#define POP3_LINE_MAX     256    /* read buffer: the above, a CR, NUL */
#define POP3_SASL_LINE    2048   /* a SASL continuation line */
#define POP3_AUTH_TRIES   3      /* failed logins per connection */
#define POP3_UIDL_MAX     70     /* RFC 1939 unique-id length */
#define POP3_XFER_IN      65536  /* RETR/TOP read block */

enum pop3_tls_mode { POP3_TLS_NONE, POP3_TLS_STARTTLS, POP3_TLS_IMPLICIT };

struct pop3_opts {
	const char *users;          /* CDB path */
	const char *cert, *key;     /* NULL: $CREDENTIALS_DIRECTORY */
	const char *client_ca;
	const char *client_revoked; /* CDB of revoked certificates or NULL */
	const char *tls_cache;      /* shared TLS session cache file or NULL */
	unsigned tls_cache_lifetime;/* seconds a session may be resumed */
	const char *hostname;
	const char *run_as;         /* --user */
	int allow_root;             /* --allow-root */
	const char *throttle;       /* throttle state file */
	const char *proxy_from;     /* --proxy-from CIDRs or NULL */
	enum pop3_tls_mode tls_mode;
	int allow_plaintext;
	unsigned timeout;           /* idle, per command line */
	unsigned session_timeout;   /* whole session, 0 = none */
	unsigned max_errors;        /* errors in a row before closing */
	unsigned fail_delay;        /* seconds, times the failure count */
	int debug;                  /* --debug: log commands and states */
};

enum pop3_state { POP3_AUTHORIZATION, POP3_TRANSACTION, POP3_UPDATE };

/* What a command handler tells the dispatcher. */
enum pop3_ev {
	EV_OK,      /* write "+OK" with s->rid / s->rarg */
	EV_ERR,     /* write "-ERR" with s->rid / s->rarg (counts an error) */
	EV_QUIET,   /* the handler wrote its own reply (success) */
	EV_DROP     /* close the connection now, nothing more to say */
};

/* Every reply text and response code, defined once (pop3_reply.c). */
enum reply_id {
	R_NONE = 0,
	R_GREETING, R_BYE, R_BYE_UPDATE, R_UPDATE_FAILED,
	R_UNKNOWN, R_BADSTATE, R_SYNTAX, R_TOOLONG, R_NUL, R_TOOMANY,
	R_CAPA, R_NOOP,
	R_USER_OK, R_USER_BAD, R_PLAINTEXT, R_NEED_USER,
	R_AUTH_FAILED, R_AUTH_FAILED_LAST, R_AUTH_LOCKED, R_AUTH_BARRED,
	R_AUTH_TEMP, R_AUTH_THROTTLED, R_APOP_NONE, R_AUTH_MECH,
	R_AUTH_CANCEL, R_AUTH_BADB64, R_AUTH_AUTHZID, R_AUTH_LIST,
	R_INUSE, R_MAILDIR_TEMP, R_LOGGED_IN,
	R_STLS_GO, R_STLS_NONE, R_STLS_ACTIVE, R_STLS_AFTER_USER, R_STLS_TEMP,
	R_STAT, R_LIST_ALL, R_LIST_ONE, R_UIDL_ALL, R_UIDL_ONE,
	R_NOSUCHMSG, R_DELETED_ALREADY, R_DELE_OK, R_RSET,
	R_RETR, R_TOP, R_VANISHED, R_READ_FAILED,
	R_COUNT
};

struct reply {
	const char *code;           /* RFC 2449/3206 response code or NULL */
	const char *text;           /* may be "" */
};

/* The open mailbox of the TRANSACTION state. */
struct pop3_mbox {
	char maildir[USERDB_PATH_MAX];
	int lock_fd;
	struct maildir_list list;
	uint64_t live_count;        /* messages not marked deleted */
	uint64_t live_bytes;
	uint64_t marked;            /* marked deleted */
	int moved;                  /* a new/ -> cur/ move happened */
};

struct tls;
struct tls_cred;
struct tls_anchors;

struct pop3 {
	struct io io;
	struct peer peer;
	const struct pop3_opts *opt;
	char hostname[256];
	enum pop3_state state;
	int leave;                  /* close after this reply */
	const char *result;         /* summary RESULT= */
	int exit_code;
	int64_t start_ms;

	/* TLS */
	struct tls *tls;            /* non-NULL once TLS is established */
	const struct tls_cred *cred;        /* loaded credentials or NULL */
	int tls_lazy;               /* STLS: credentials readable, loaded
	                               at the first STLS */
	const struct tls_anchors *client_ca;/* or NULL */
	int ext_state;              /* EXTERNAL: 1 a certificate names
	                               ext_user, else 0 */
	char ext_user[USERDB_KEY_MAX];
	char cert_summary[USERDB_KEY_MAX + 32]; /* CLIENT_CERT= */

	/* AUTHORIZATION */
	int apop;                   /* greeting carries a timestamp */
	char timestamp[320];
	char user[USERDB_KEY_MAX];  /* from USER */
	int have_user;
	unsigned auth_failures;
	unsigned errors;            /* errors in a row */
	char login[USERDB_KEY_MAX]; /* authenticated user */
	const char *mech;           /* USER, APOP, PLAIN, EXTERNAL */

	/* the current command line (wiped after each) and its reply */
	char line[POP3_LINE_MAX];
	enum reply_id rid;
	char rarg[128];

	/* TRANSACTION */
	struct pop3_mbox mb;
	uint64_t retrieved, deleted;
	uint64_t gone;              /* marked, but removed by another program */
};

/* options.c */
/* Parses argv into *o (its strings are linked, not copied). Returns 0
 * to serve, 1 when --help or --version was printed, -1 on a usage error
 * (reported). */
int pop3_options(struct pop3_opts *o, int argc, char **argv);

/* pop3_session.c: one connection on fds 0/1, started by main() after
 * startup_fds() and log_open(). */
/* Clears *s and starts a session with options o (linked): the peer,
 * the hostname, the TLS credentials. Call it before the privilege drop.
 * 0, or -1 when the session cannot start (logged with its summary;
 * everything released; exit status 1). */
int pop3_session_begin(struct pop3 *s, const struct pop3_opts *o);
/* Serves the connection to its end, logs the summary, releases what the
 * session held (pop3_session_end) and returns the exit status. */
int pop3_session_serve(struct pop3 *s);
/* Releases what the session holds: the mailbox lock and listing, the
 * TLS credentials, the TLS session cache descriptor. Idempotent. */
void pop3_session_end(struct pop3 *s);

/* pop3.c */
/* Greets and runs the command loop until the session ends. */
void pop3_run(struct pop3 *s);
void pop3_enter_state(struct pop3 *s, enum pop3_state st);
/* Splits args at single spaces into v[max]; -1 on an empty token or too
 * many tokens. args may be NULL (0 tokens). Callers check lengths. */
int pop3_args(char *args, char **v, int max);
/* Sets rid/rarg and returns EV_ERR / EV_OK (shorthands for handlers). */
enum pop3_ev pop3_err(struct pop3 *s, enum reply_id id);
enum pop3_ev pop3_ok(struct pop3 *s, enum reply_id id);
/* Decimal of v at buf (no NUL); returns the length (<= 20). */
size_t pop3_u64(char *buf, uint64_t v);

/* pop3_reply.c */
const struct reply *reply_get(enum reply_id id);
/* Writes one status line: +OK/-ERR [code] text [arg]. */
void reply_status(struct pop3 *s, int ok, enum reply_id id, const char *arg);

/* pop3_auth.c */
int pop3_plaintext_ok(const struct pop3 *s);
int pop3_external_ok(struct pop3 *s);
int pop3_apop_possible(const char *users_cdb);
void pop3_make_timestamp(struct pop3 *s);
enum pop3_ev cmd_user(struct pop3 *s, char *args);
enum pop3_ev cmd_pass(struct pop3 *s, char *args);
enum pop3_ev cmd_apop(struct pop3 *s, char *args);
enum pop3_ev cmd_auth(struct pop3 *s, char *args);

/* pop3_mbox.c */
/* Locks and scans the user's maildir; on success the session is in
 * TRANSACTION. Sets the reply either way. */
enum pop3_ev mbox_open(struct pop3 *s, const char *maildir);
enum pop3_ev cmd_stat(struct pop3 *s, char *args);
enum pop3_ev cmd_list(struct pop3 *s, char *args);
enum pop3_ev cmd_uidl(struct pop3 *s, char *args);
enum pop3_ev cmd_retr(struct pop3 *s, char *args);
enum pop3_ev cmd_top(struct pop3 *s, char *args);
enum pop3_ev cmd_dele(struct pop3 *s, char *args);
enum pop3_ev cmd_rset(struct pop3 *s, char *args);
/* UPDATE state: removes marked messages. 0 all gone, -1 some failed. */
int mbox_update(struct pop3 *s);
/* Unlocks the mailbox and frees its listing (idempotent). */
void mbox_close(struct pop3 *s);

/* pop3_tls.c */
/* Forgets the TLS state of an earlier session (pop3_tls_end), then finds
 * the credentials for --tls starttls/implicit (and --client-ca).
 * Implicit TLS, and STLS when --user will drop privileges, load them
 * now; otherwise STLS loads them at its first use (a plaintext session
 * then costs no PEM or key decoding) after checking now that they are
 * readable. Returns 0, or -1 when implicit TLS cannot work (logged). */
int pop3_tls_setup(struct pop3 *s);
/* Frees the credentials and client CA, closes the session cache file;
 * the session has no TLS afterwards. Idempotent. */
void pop3_tls_end(struct pop3 *s);
/* Implicit TLS handshake at byte 0. 0 / -1 (logged). */
int pop3_tls_implicit(struct pop3 *s);
int pop3_stls_available(const struct pop3 *s);
enum pop3_ev cmd_stls(struct pop3 *s, char *args);
/* Version, suite, client certificate for the summary ("" without TLS). */
void pop3_tls_summary(struct pop3 *s, const char **version,
    const char **suite, const char **cert);

#endif
