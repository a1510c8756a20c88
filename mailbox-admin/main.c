/* main.c - mailbox-admin's command line: global and per-command options,
 * dispatch to the commands, --help and --version, and the error helpers
 * every part uses. */
#include "admin.h"
#include "addr.h"
#include "queue.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef POSTERN_VERSION
#define POSTERN_VERSION "unknown"
#endif

/* option bits */
enum {
	O_MAILDIR = 1 << 0, O_QUOTA = 1 << 1, O_PWSTDIN = 1 << 2,
	O_SCHEME = 1 << 3, O_KEEPMAIL = 1 << 4, O_HOLD = 1 << 5,
	O_HOST = 1 << 6, O_ETRNFROM = 1 << 7, O_FORCE = 1 << 8,
	O_GLOBAL = 1 << 9,   /* --db --spool --mail-root --owner */
	O_LIFETIME = 1 << 10, O_MAXHELD = 1 << 11, O_OLDER = 1 << 12,
	O_ODMR = 1 << 13
};

struct option_def {
	const char *name;
	unsigned bit;
	int has_arg;
};

static const struct option_def options[] = {
	{ "--db", O_GLOBAL, 1 },
	{ "--spool", O_GLOBAL, 1 },
	{ "--mail-root", O_GLOBAL, 1 },
	{ "--owner", O_GLOBAL, 1 },
	{ "--revoked", O_GLOBAL, 1 },
	{ "--maildir", O_MAILDIR, 1 },
	{ "--quota", O_QUOTA, 1 },
	{ "--password-stdin", O_PWSTDIN, 0 },
	{ "--scheme", O_SCHEME, 1 },
	{ "--keep-mail", O_KEEPMAIL, 0 },
	{ "--hold", O_HOLD, 0 },
	{ "--host", O_HOST, 1 },
	{ "--etrn-from", O_ETRNFROM, 1 },
	{ "--odmr", O_ODMR, 1 },
	{ "--force", O_FORCE, 0 },
	{ "--lifetime", O_LIFETIME, 1 },
	{ "--max-held", O_MAXHELD, 1 },
	{ "--older-than", O_OLDER, 1 },
};

struct command_def {
	const char *name;
	int (*run)(struct admin *, const struct admin_args *);
	unsigned opts;
	int min, max;     /* positional arguments after the command */
	const char *usage;
};

static const struct command_def commands[] = {
	{ "add", cmd_add, O_MAILDIR | O_QUOTA | O_PWSTDIN | O_SCHEME, 1, 1,
	  "add ADDRESS [--maildir DIR] [--quota SIZE] [--password-stdin] "
	  "[--scheme yescrypt|sha512crypt|bcrypt]" },
	{ "passwd", cmd_passwd, O_PWSTDIN | O_SCHEME, 1, 1,
	  "passwd ADDRESS [--password-stdin] [--scheme SCHEME]" },
	{ "del", cmd_del, O_KEEPMAIL, 1, 1, "del ADDRESS [--keep-mail]" },
	{ "list", cmd_list, 0, 0, 1, "list [DOMAIN]" },
	{ "lock", cmd_lock, 0, 1, 1, "lock ADDRESS" },
	{ "unlock", cmd_unlock, 0, 1, 1, "unlock ADDRESS" },
	{ "stat", cmd_stat, 0, 1, 1, "stat ADDRESS | stat HOLD-DOMAIN" },
	{ "quota", cmd_quota, 0, 2, 2, "quota ADDRESS SIZE" },
	{ "domain", cmd_domain, O_HOLD | O_HOST | O_ETRNFROM | O_FORCE |
	  O_LIFETIME | O_MAXHELD | O_ODMR, 1, 2,
	  "domain add NAME [--hold [--host HOST[:PORT]] "
	  "[--etrn-from CIDR[,CIDR...]] [--odmr USER[,USER...]] "
	  "[--lifetime DURATION] "
	  "[--max-held SIZE]] | domain del NAME [--force] | domain list" },
	{ "alias", cmd_alias, 0, 2, 1 + 1 + 1000,
	  "alias add ADDRESS TARGET... | alias del ADDRESS" },
	{ "check", cmd_check, 0, 0, 0, "check" },
	{ "build", cmd_build, 0, 0, 0, "build" },
	{ "queue", cmd_queue, O_OLDER, 1, 2,
	  "queue list [NODE] | queue flush NODE | queue remove ID | "
	  "queue expire [--older-than DURATION] [NODE]" },
	{ "cert", cmd_cert, 0, 1, 1000,
	  "cert revoke SERIAL|FINGERPRINT... | cert unrevoke SERIAL|FINGERPRINT "
	  "| cert list | cert build" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void vmsg(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

static void
vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("mailbox-admin: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(code);
}

void
admin_address(const char *arg, char *out, char *local_r, char *domain_r)
{
	const char *err;

	if (strlen(arg) > ADDR_MAX || addr_normalise(arg, out, &err) < 0 ||
	    addr_split(out, local_r, domain_r, &err) < 0)
		die(EX_DATAERR, "invalid address '%.80s': %s", arg,
		    strlen(arg) > ADDR_MAX ? "too long" : err);
}

void
admin_domain(const char *arg, char *out)
{
	size_t n = strlen(arg);

	if (n > ADDR_DOMAIN_MAX || !addr_domain_valid(arg, n))
		die(EX_DATAERR, "invalid domain name '%.80s' (letters, digits "
		    "and '-' in dot-separated labels)", arg);
	memcpy(out, arg, n + 1);
	ascii_lower(out);
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: mailbox-admin [--db PATH] [--spool DIR] [--mail-root DIR] "
	    "[--owner USER]\n"
	    "                     [--revoked PATH] COMMAND [ARGS]\n"
	    "       mailbox-admin --help | --version\n\n"
	    "global options:\n"
	    "  --db PATH        text user database (default %s);\n"
	    "                   the compiled database is PATH.cdb\n"
	    "  --spool DIR      mail spool for the queue commands "
	    "(default %s);\n"
	    "                   run as root, they act as the spool's owner\n"
	    "  --mail-root DIR  default maildirs are DIR/DOMAIN/LOCAL "
	    "(default %s)\n"
	    "  --owner USER     owner of new maildirs when run as root "
	    "(default %s, if it exists)\n"
	    "  --revoked PATH   revoked client certificates, text (default "
	    "%s);\n"
	    "                   compiled to PATH.cdb for --client-revoked\n"
	    "\ncommands:\n",
	    ADMIN_DB_DEFAULT, QUEUE_DEFAULT_SPOOL, ADMIN_MAIL_ROOT_DEFAULT,
	    ADMIN_OWNER_DEFAULT, ADMIN_REVOKED_DEFAULT);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n"
	    "command options:\n"
	    "  --maildir DIR       maildir of a new user (absolute path)\n"
	    "  --quota SIZE        bytes, or with K, M or G; 0 = no quota\n"
	    "  --password-stdin    read the password as one line from standard "
	    "input\n"
	    "                      (otherwise it is asked twice on the "
	    "terminal)\n"
	    "  --scheme SCHEME     yescrypt (default), sha512crypt or bcrypt\n"
	    "  --keep-mail         del: keep the maildir\n"
	    "  --hold              domain add: a hold (ETRN) domain\n"
	    "  --host HOST[:PORT]  domain add --hold: where held mail goes\n"
	    "  --etrn-from CIDR,.. domain add --hold: who may ask with ETRN\n"
	    "  --odmr USER,..      domain add --hold: who may collect with ATRN\n"
	    "  --lifetime DURATION domain add --hold: how long held mail is "
	    "kept\n"
	    "                      (10d, 36h, 30m, 0s; default 30d)\n"
	    "  --max-held SIZE     domain add --hold: hold queue size limit "
	    "(default 1G;\n"
	    "                      0 = none)\n"
	    "  --older-than DUR    queue expire: expire everything older, "
	    "whatever the\n"
	    "                      lifetimes\n"
	    "  --force             domain del: also remove its users and "
	    "aliases\n\n"
	    "exit status: 0 ok, 64 usage error, 65 bad data (nothing "
	    "changed),\n"
	    "66 no database, 73 cannot create, 74 I/O error, 75 try again "
	    "later,\n77 not permitted\n");
}

static int
set_option(struct admin *a, const char *name, const char *val)
{
	if (strcmp(name, "--db") == 0)
		a->db = val;
	else if (strcmp(name, "--spool") == 0)
		a->spool = val;
	else if (strcmp(name, "--mail-root") == 0)
		a->mail_root = val;
	else if (strcmp(name, "--owner") == 0)
		a->owner = val;
	else if (strcmp(name, "--revoked") == 0)
		a->revoked = val;
	else if (strcmp(name, "--maildir") == 0)
		a->maildir = val;
	else if (strcmp(name, "--quota") == 0)
		a->quota = val;
	else if (strcmp(name, "--scheme") == 0)
		a->scheme = val;
	else if (strcmp(name, "--host") == 0)
		a->host = val;
	else if (strcmp(name, "--etrn-from") == 0)
		a->etrn_from = val;
	else if (strcmp(name, "--odmr") == 0)
		a->odmr = val;
	else if (strcmp(name, "--lifetime") == 0)
		a->lifetime = val;
	else if (strcmp(name, "--max-held") == 0)
		a->max_held = val;
	else if (strcmp(name, "--older-than") == 0)
		a->older_than = val;
	else if (strcmp(name, "--password-stdin") == 0)
		a->password_stdin = 1;
	else if (strcmp(name, "--keep-mail") == 0)
		a->keep_mail = 1;
	else if (strcmp(name, "--hold") == 0)
		a->hold = 1;
	else if (strcmp(name, "--force") == 0)
		a->force = 1;
	else
		return -1;
	return 0;
}

/* Handles the option at argv[*i] (allowed: bits). Exits on errors. */
static void
take_option(struct admin *a, char **argv, int argc, int *i, unsigned allowed,
    const char *cmd)
{
	const char *arg = argv[*i], *eq = strchr(arg, '='), *val = NULL;
	size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
	size_t k;

	for (k = 0; k < sizeof options / sizeof options[0]; k++)
		if (strlen(options[k].name) == nlen &&
		    memcmp(options[k].name, arg, nlen) == 0)
			break;
	if (k == sizeof options / sizeof options[0])
		die(EX_USAGE, "unknown option '%.80s' (see --help)", arg);
	if (!(options[k].bit & allowed))
		die(EX_USAGE, "option %s is not valid %s%s", options[k].name,
		    cmd ? "for " : "before the command", cmd ? cmd : "");
	if (options[k].has_arg) {
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else
			die(EX_USAGE, "option %s needs a value",
			    options[k].name);
		if (val[0] == '\0')
			die(EX_USAGE, "option %s needs a non-empty value",
			    options[k].name);
	} else if (eq != NULL) {
		die(EX_USAGE, "option %s takes no value", options[k].name);
	}
	set_option(a, options[k].name, val);
}

int
main(int argc, char **argv)
{
	static struct admin a;
	static struct admin_args g;
	const struct command_def *c = NULL;
	int i, dashdash = 0;
	size_t k;

	a.db = ADMIN_DB_DEFAULT;
	a.spool = QUEUE_DEFAULT_SPOOL;
	a.mail_root = ADMIN_MAIL_ROOT_DEFAULT;
	a.revoked = ADMIN_REVOKED_DEFAULT;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("mailbox-admin (postern) %s\n", POSTERN_VERSION);
			return 0;
		}
		if (strncmp(argv[i], "--", 2) != 0)
			break;
		take_option(&a, argv, argc, &i, O_GLOBAL, NULL);
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	for (k = 0; k < NCOMMANDS; k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			c = &commands[k];
	if (c == NULL)
		die(EX_USAGE, "unknown command '%.80s' (see --help)", argv[i]);
	g.pos = calloc((size_t)argc, sizeof *g.pos);
	if (g.pos == NULL)
		die(EX_OSERR, "out of memory");
	for (i++; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (!dashdash && argv[i][0] == '-' && argv[i][1] != '\0') {
			if (strcmp(argv[i], "--help") == 0) {
				printf("usage: mailbox-admin [global options] "
				    "%s\n", c->usage);
				return 0;
			}
			take_option(&a, argv, argc, &i, c->opts | O_GLOBAL,
			    c->name);
			continue;
		}
		g.pos[g.npos++] = argv[i];
	}
	if (g.npos < c->min || g.npos > c->max)
		die(EX_USAGE, "%s arguments; usage: mailbox-admin %s",
		    g.npos < c->min ? "missing" : "too many", c->usage);
	if ((size_t)snprintf(a.cdb, sizeof a.cdb, "%s.cdb", a.db) >=
	    sizeof a.cdb)
		die(EX_USAGE, "--db path too long");
	if ((size_t)snprintf(a.revoked_cdb, sizeof a.revoked_cdb, "%s.cdb",
	    a.revoked) >= sizeof a.revoked_cdb)
		die(EX_USAGE, "--revoked path too long");
	return c->run(&a, &g);
}
