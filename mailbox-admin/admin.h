/* admin.h - what the parts of mailbox-admin share: the run's settings,
 * exit codes, error reporting, and the command entry points. */
#ifndef POSTERN_ADMIN_H
#define POSTERN_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#define ADMIN_DB_DEFAULT        "/etc/postern/users"
#define ADMIN_MAIL_ROOT_DEFAULT "/var/lib/postern/mail"
#define ADMIN_OWNER_DEFAULT     "postern"
#define ADMIN_REVOKED_DEFAULT   "/etc/postern/revoked"
#define ADMIN_PATH_MAX          1024

/* Settings of this run (global options plus the command's options). */
struct admin {
	const char *db;              /* text source */
	char cdb[ADMIN_PATH_MAX];    /* db + ".cdb" */
	const char *spool;
	const char *revoked;         /* revoked certificates (text) */
	char revoked_cdb[ADMIN_PATH_MAX];
	const char *mail_root;
	const char *owner;           /* NULL: default rule (postern if root) */
	/* command options */
	const char *maildir;
	const char *quota;
	const char *scheme;
	const char *host;
	const char *etrn_from;
	const char *odmr;            /* domain add --hold --odmr */
	const char *lifetime;        /* domain add --hold --lifetime */
	const char *max_held;        /* domain add --hold --max-held */
	const char *older_than;      /* queue expire --older-than */
	int password_stdin;
	int keep_mail;
	int hold;
	int force;
};

/* A parsed command line: words after the command, options removed. */
struct admin_args {
	char **pos;
	int npos;
};

/* Prints "mailbox-admin: MESSAGE" on stderr. */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "mailbox-admin: MESSAGE" on stderr and exits with code. */
void die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Address from the command line: normalised (lowercase) into
 * out[ADDR_MAX + 1], local part and domain split; exits 65 when invalid. */
void admin_address(const char *arg, char *out, char *local_r,
    char *domain_r);
/* Domain name from the command line, lowercased into
 * out[ADDR_DOMAIN_MAX + 1]; exits 65 when invalid. */
void admin_domain(const char *arg, char *out);

/* Commands (cmd_*.c). Each returns the exit status. */
int cmd_add(struct admin *a, const struct admin_args *g);
int cmd_passwd(struct admin *a, const struct admin_args *g);
int cmd_del(struct admin *a, const struct admin_args *g);
int cmd_list(struct admin *a, const struct admin_args *g);
int cmd_lock(struct admin *a, const struct admin_args *g);
int cmd_unlock(struct admin *a, const struct admin_args *g);
int cmd_quota(struct admin *a, const struct admin_args *g);
int cmd_stat(struct admin *a, const struct admin_args *g);
int cmd_domain(struct admin *a, const struct admin_args *g);
int cmd_alias(struct admin *a, const struct admin_args *g);
int cmd_check(struct admin *a, const struct admin_args *g);
int cmd_build(struct admin *a, const struct admin_args *g);
int cmd_queue(struct admin *a, const struct admin_args *g);
int cmd_cert(struct admin *a, const struct admin_args *g);
/* Prints how full a queue is, one line (cmd_queue.c). */
void queue_fill(const char *spool, const char *cdb, const char *queue);
/* queue expire (cmd_expire.c); node NULL = every queue */
int queue_expire(struct admin *a, const char *node);

/* Becomes the spool's owner (when root) once the arguments are checked
 * and before the spool or the network is touched; exits 77 when that is
 * refused. 1 when the spool does not exist (nothing to act on), else 0. */
int as_spool_owner(const struct admin *a);

#endif
