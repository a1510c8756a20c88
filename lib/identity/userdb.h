/* userdb.h - the user database: one record format (SPEC "The user
 * database", postern-users(5)) parsed identically for the text source
 * (mailbox-admin) and the CDB the handlers read. The database is opened
 * per lookup (one connection = one process), so a rebuilt CDB is seen at
 * the next lookup and never half-written. */
#ifndef POSTERN_USERDB_H
#define POSTERN_USERDB_H

#include <stddef.h>
#include <stdint.h>

#define USERDB_DEFAULT      "/etc/postern/users.cdb"
#define USERDB_KEY_MAX      320    /* 64 local + @ + 253 domain + slack */
#define USERDB_HASH_MAX     256
#define USERDB_PATH_MAX     1024
#define USERDB_VALUE_MAX    4096   /* a whole value (rest of the line) */

enum userdb_kind {
	USERDB_DOMAIN = 1,  /* "domain": local domain */
	USERDB_HOLD,        /* "hold": held for ETRN */
	USERDB_USER,        /* crypt hash + maildir + options */
	USERDB_ALIAS        /* "alias" + targets */
};

/* Hold domains: how the flusher uses TLS towards the node's host. */
enum userdb_tls {
	USERDB_TLS_MAY = 0,  /* opportunistic (RFC 7435): STARTTLS when
	                        offered, no certificate check, plain text
	                        after a failed handshake (logged) */
	USERDB_TLS_REQUIRE,  /* TLS or nothing; any certificate */
	USERDB_TLS_VERIFY    /* TLS with a chain verified against tls_ca
	                        for the host name connected to */
};

/* user flags */
#define USERDB_LOCKED    0x01   /* admin lock: no POP3 login */
#define USERDB_NOPOP3    0x02
#define USERDB_NOSMTP    0x04
#define USERDB_DISABLED  0x08   /* hash starts with ! or * */

struct userdb_entry {
	enum userdb_kind kind;
	char key[USERDB_KEY_MAX];
	/* USERDB_USER */
	char hash[USERDB_HASH_MAX];
	char maildir[USERDB_PATH_MAX];
	uint64_t quota;              /* bytes, 0 = none */
	unsigned flags;
	char apop[128];              /* "" = APOP refused */
	/* USERDB_ALIAS: comma-separated addresses, normalised (lowercase) */
	char targets[USERDB_VALUE_MAX];
	/* USERDB_HOLD */
	char host[256];              /* "" = DNS MX */
	unsigned port;               /* 0 = 25 */
	uint64_t lifetime;           /* lifetime= seconds in the hold queue */
	uint64_t max_held;           /* max-held= bytes, 0 = no limit */
	char etrn_from[1024];        /* comma-separated CIDRs, "" = auth only */
	char odmr[512];              /* odmr=: comma-separated users that may
	                                collect the node with ATRN (RFC 2645),
	                                "" = nobody */
	enum userdb_tls tls;         /* tls=: the flusher's TLS policy */
	char tls_ca[USERDB_PATH_MAX]; /* tls-ca=: CA file for tls=verify,
	                                "" = the system bundle */
};

/* Defaults of the hold options lifetime= and max-held= (set by the
 * parser for every hold entry). */
#define USERDB_HOLD_LIFETIME (30 * 86400)              /* 30 days */
#define USERDB_HOLD_MAX_HELD (UINT64_C(1) << 30)        /* 1 GiB */

/* Parses one record: key (as stored) and value (rest of the line, leading
 * blanks allowed). Fields are separated by blanks (space, tab); any other
 * control or non-ASCII octet in the value is an error. Alias targets may
 * be separated by commas and/or blanks and are stored normalised as
 * "a@x,b@y". User options may be separated by commas and/or blanks
 * ("quota=1M,locked nopop3"); an empty option (",,") is an error, so an
 * apop= secret cannot contain ',' or blanks. A user hash must start with
 * '$' and be of a scheme crypt_checksalt() does not call invalid or
 * disabled ($y$ $gy$ $7$ $2b$ $6$ $5$ $1$ ...); a hash starting with '!'
 * or '*' is accepted as is and sets USERDB_DISABLED. Hold options are
 * blank-separated: host=NAME|IPv4|[IPv6][:PORT] (stored without brackets
 * in host[], port 0 when absent), etrn-from=CIDR[,CIDR] (may repeat;
 * the lists are joined), tls=may|require|verify (default may),
 * tls-ca=/ABSOLUTE/PATH (only with tls=verify), lifetime=DURATION
 * (parse_duration: 10d, 36h, 0s) and max-held=SIZE (parse_size; 0 = no
 * limit). Validates everything (key form, hash prefix, absolute
 * maildir, options, CIDRs, host). Returns 0, or -1 with *error_r a
 * message naming what is wrong. */
int userdb_parse(const char *key, const char *value, size_t value_len,
    struct userdb_entry *e, const char **error_r);

/* Looks key (lowercased by the caller) up in the CDB at path.
 * Returns 1 found and parsed, 0 not found, -1 temporary failure (database
 * missing, unreadable or corrupt, or a record that does not parse; errno
 * and a log line tell which). */
int userdb_lookup(const char *path, const char *key, struct userdb_entry *e);

/* Classification of a recipient/login address "local@domain"
 * (lowercased copy made inside). On 1, *e is the user or alias entry,
 * or, for hold domains, the HOLD entry and *domain_kind_r says so.
 *   returns 1 found (user, alias, or any local part of a hold domain),
 *           0 not found (domain_kind_r tells: 0 domain not ours,
 *             USERDB_DOMAIN local domain but no such user),
 *          -1 temporary failure.
 * Details (additive): on 1, *domain_kind_r is USERDB_DOMAIN for a user or
 * alias and USERDB_HOLD for a hold domain. A hold domain accepts any local
 * part of 1..64 printable non-blank ASCII octets; a local domain requires
 * a valid mailbox name. Otherwise 0 with USERDB_DOMAIN (= "the domain is
 * ours, no such recipient", errno EINVAL). A malformed domain part is 0
 * with 0 (errno EINVAL). */
int userdb_resolve(const char *path, const char *address,
    struct userdb_entry *e, int *domain_kind_r);

/* The crypt hash of the first enabled user among the first
 * USERDB_SAMPLE_RECORDS records of the CDB at path, into hash[size]: what
 * an unknown user is verified against, so that a failed login costs the
 * database's own scheme and cost whatever it is. 1 found, 0 none, -1 the
 * database cannot be read. */
#define USERDB_SAMPLE_RECORDS 256
int userdb_sample_hash(const char *path, char *hash, size_t size);

/* Iterates over the targets of an alias entry (e->targets, normalised,
 * comma-separated, lowercase): start with *pos = 0; copies the next
 * target into out[size] (ADDR_MAX + 1 is always enough). Returns 1 got
 * one, 0 no more, -1 it does not fit in out. */
int userdb_alias_next(const char *targets, size_t *pos, char *out,
    size_t size);

/* Calls fn for every record of the CDB at path that parses, in file
 * order (records that do not parse are skipped). fn returns 0 to go on,
 * non-zero to stop; it must not call another userdb or cdbfile function
 * (cdbfile_run is not reentrant) nor allocate. fn's non-zero result, 0,
 * or -1 when the database cannot be read. (userdb_walk.c) */
int userdb_walk(const char *path, int (*fn)(const struct userdb_entry *e,
    void *arg), void *arg);

/* The first local domain ("domain" record) of the CDB at path into
 * out[size]: 1 found, 0 none, -1 the database cannot be read. */
int userdb_first_domain(const char *path, char *out, size_t size);

#endif
