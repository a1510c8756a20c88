/* userdb_test.c - unit tests of userdb.c: every record kind and error,
 * lookups in real CDB files made with cdb_make_* and with the stock
 * `cdb -c -m` tool, and address resolution. */
#include "test.h"
#include "userdb.h"
#include "addr.h"

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static int
parse(const char *key, const char *value, struct userdb_entry *e,
    const char **err)
{
	*err = NULL;
	return userdb_parse(key, value, strlen(value), e, err);
}

/* expects an error whose message contains want */
static void
bad(int line, const char *key, const char *value, const char *want)
{
	struct userdb_entry e;
	const char *err;
	int r = parse(key, value, &e, &err);

	if (r == -1 && err != NULL && strstr(err, want) != NULL) {
		test_passed++;
		return;
	}
	test_failed++;
	printf("FAIL: line %d: %s \"%s\": r=%d err=%s (want \"%s\")\n", line,
	    key, value, r, err ? err : "(null)", want);
}
#define BAD(k, v, w) bad(__LINE__, k, v, w)

static void
test_parse(void)
{
	struct userdb_entry e;
	const char *err;
	char t[ADDR_MAX + 1];
	size_t pos;

	/* domain */
	CHECK(parse("example.jp", "domain", &e, &err) == 0);
	CHECK(e.kind == USERDB_DOMAIN);
	CHECK_STR(e.key, "example.jp");
	CHECK(parse("example.jp", "   \tdomain  ", &e, &err) == 0);
	CHECK(e.kind == USERDB_DOMAIN);
	BAD("example.jp", "domain extra", "unexpected text after 'domain': 'extra'");
	BAD("example.jp", "", "empty value");
	BAD("example.jp", "   ", "empty value");
	BAD("example.jp", "Domain", "must be 'domain' or 'hold'");
	BAD("example.jp", "$6$abc$def /var/mail/x", "must be 'domain' or 'hold'");
	BAD("Example.jp", "domain", "lowercase");
	BAD("example.jp.", "domain", "not a valid domain");
	BAD("exa_mple.jp", "domain", "not a valid domain");
	BAD("", "domain", "empty key");

	/* hold */
	CHECK(parse("dialup.example", "hold", &e, &err) == 0);
	CHECK(e.kind == USERDB_HOLD && e.host[0] == 0 && e.port == 0 &&
	    e.etrn_from[0] == 0);
	CHECK(parse("dialup.example", "hold   host=127.0.0.1:2525  "
	    "etrn-from=192.0.2.0/24", &e, &err) == 0);
	CHECK(e.kind == USERDB_HOLD);
	CHECK_STR(e.host, "127.0.0.1");
	CHECK(e.port == 2525);
	CHECK_STR(e.etrn_from, "192.0.2.0/24");
	CHECK(parse("dialup.example", "hold host=mx.dialup.example "
	    "etrn-from=192.0.2.0/24,2001:db8::/32 etrn-from=127.0.0.1",
	    &e, &err) == 0);
	CHECK_STR(e.host, "mx.dialup.example");
	CHECK(e.port == 0);
	CHECK_STR(e.etrn_from, "192.0.2.0/24,2001:db8::/32,127.0.0.1");
	/* ODMR collectors */
	CHECK(parse("dialup.example", "hold odmr=site@dialup.example", &e,
	    &err) == 0);
	CHECK_STR(e.odmr, "site@dialup.example");
	CHECK(parse("dialup.example", "hold odmr=a@x.example,b@y.example "
	    "odmr=c@z.example", &e, &err) == 0);
	CHECK_STR(e.odmr, "a@x.example,b@y.example,c@z.example");
	BAD("dialup.example", "hold odmr=", "unknown hold option");
	BAD("dialup.example", "hold odmr=a@x.example,", "odmr= wants");
	BAD("dialup.example", "hold odmr=nodomain", "odmr= wants");
	BAD("dialup.example", "hold odmr=A@x.example", "invalid odmr user");
	CHECK(parse("dialup.example", "hold host=[::1]:26", &e, &err) == 0);
	CHECK_STR(e.host, "::1");
	CHECK(e.port == 26);
	CHECK(parse("dialup.example", "hold host=[2001:db8::5]", &e, &err) == 0);
	CHECK_STR(e.host, "2001:db8::5");
	/* the flusher's TLS policy */
	CHECK(parse("dialup.example", "hold", &e, &err) == 0);
	CHECK(e.tls == USERDB_TLS_MAY && e.tls_ca[0] == 0);
	CHECK(parse("dialup.example", "hold tls=require", &e, &err) == 0);
	CHECK(e.tls == USERDB_TLS_REQUIRE);
	CHECK(parse("dialup.example", "hold host=mx.dialup.example tls=verify "
	    "tls-ca=/etc/postern/isp-ca.pem", &e, &err) == 0);
	CHECK(e.tls == USERDB_TLS_VERIFY);
	CHECK_STR(e.tls_ca, "/etc/postern/isp-ca.pem");
	CHECK(parse("dialup.example", "hold tls=may", &e, &err) == 0);
	CHECK(e.tls == USERDB_TLS_MAY);
	BAD("dialup.example", "hold tls=yes", "tls= must be may, require or "
	    "verify: 'tls=yes'");
	BAD("dialup.example", "hold tls=", "unknown hold option 'tls='");
	BAD("dialup.example", "hold tls=verify tls-ca=ca.pem",
	    "tls-ca= needs an absolute path");
	BAD("dialup.example", "hold tls-ca=/x.pem", "tls-ca= goes with "
	    "tls=verify");
	BAD("dialup.example", "hold tls=verify tls-ca=/a tls-ca=/b",
	    "tls-ca= given twice");
	BAD("dialup.example", "hold host=", "unknown hold option 'host='");
	BAD("dialup.example", "hold host=a b", "unknown hold option 'b'");
	BAD("dialup.example", "hold host=bad_host", "invalid host");
	BAD("dialup.example", "hold host=999.1.1.1", "invalid IPv4 host");
	BAD("dialup.example", "hold host=h:0", "invalid port");
	BAD("dialup.example", "hold host=h:65536", "invalid port");
	BAD("dialup.example", "hold host=h:+25", "invalid port");
	BAD("dialup.example", "hold host=h:", "invalid port");
	BAD("dialup.example", "hold host=[::1", "invalid host");
	BAD("dialup.example", "hold host=[::1]x", "invalid host");
	BAD("dialup.example", "hold host=[nothex]:25", "invalid IPv6 host");
	BAD("dialup.example", "hold host=a host=b", "host= given twice");
	BAD("dialup.example", "hold etrn-from=10.0.0.0/33", "invalid CIDR '10.0.0.0/33'");
	BAD("dialup.example", "hold etrn-from=::/129", "invalid CIDR");
	BAD("dialup.example", "hold etrn-from=10.0.0/8", "invalid CIDR");
	BAD("dialup.example", "hold etrn-from=10.0.0.0/", "invalid CIDR");
	BAD("dialup.example", "hold etrn-from=10.0.0.0/-1", "invalid CIDR");
	BAD("dialup.example", "hold etrn-from=1.2.3.4,,5.6.7.8", "empty CIDR");
	BAD("dialup.example", "hold etrn-from=1.2.3.4,", "empty CIDR");
	BAD("dialup.example", "hold etrn-from=,1.2.3.4", "empty CIDR");
	BAD("dialup.example", "hold frobnicate", "unknown hold option 'frobnicate'");
	/* lifetime= and max-held=, with their defaults */
	CHECK(parse("dialup.example", "hold", &e, &err) == 0);
	CHECK(e.lifetime == USERDB_HOLD_LIFETIME &&
	    e.max_held == USERDB_HOLD_MAX_HELD);
	CHECK(parse("dialup.example", "hold lifetime=10d max-held=5M "
	    "host=h", &e, &err) == 0);
	CHECK(e.lifetime == 10 * 86400 && e.max_held == 5u << 20);
	CHECK_STR(e.host, "h");
	CHECK(parse("dialup.example", "hold lifetime=0s max-held=0", &e,
	    &err) == 0);
	CHECK(e.lifetime == 0 && e.max_held == 0);
	CHECK(parse("dialup.example", "hold lifetime=36h", &e, &err) == 0 &&
	    e.lifetime == 36 * 3600);
	CHECK(parse("dialup.example", "hold lifetime=90", &e, &err) == 0 &&
	    e.lifetime == 90);
	BAD("dialup.example", "hold lifetime=10x", "invalid lifetime");
	BAD("dialup.example", "hold lifetime=d", "invalid lifetime");
	BAD("dialup.example", "hold lifetime=-1d", "invalid lifetime");
	BAD("dialup.example", "hold lifetime=", "unknown hold option");
	BAD("dialup.example", "hold max-held=1T", "invalid max-held");
	BAD("dialup.example", "hold max-held=", "unknown hold option");
	BAD("x@dialup.example", "hold", "an address cannot be of kind 'hold'");

	/* users */
	CHECK(parse("alice@example.jp", "$y$j9T$abc$def /var/mail/example.jp/alice "
	    "quota=100M", &e, &err) == 0);
	CHECK(e.kind == USERDB_USER);
	CHECK_STR(e.hash, "$y$j9T$abc$def");
	CHECK_STR(e.maildir, "/var/mail/example.jp/alice");
	CHECK(e.quota == 100u << 20 && e.flags == 0 && e.apop[0] == 0);
	CHECK(parse("carol@example.jp", "$6$rounds=5000$salt$hash /var/mail/c "
	    "locked,nopop3", &e, &err) == 0);
	CHECK(e.flags == (USERDB_LOCKED | USERDB_NOPOP3) && e.quota == 0);
	CHECK(parse("bob@example.jp", "$2b$05$abcdefghijklmnopqrstuv /m "
	    "nosmtp,apop=tanstaaf quota=1g", &e, &err) == 0);
	CHECK(e.flags == USERDB_NOSMTP);
	CHECK_STR(e.apop, "tanstaaf");
	CHECK(e.quota == 1u << 30);
	CHECK(parse("dave@example.jp", "$5$salt$hash /m", &e, &err) == 0);
	CHECK(parse("dave@example.jp", "$gy$j9T$s$h /m", &e, &err) == 0);
	CHECK(parse("dave@example.jp", "$1$salt$hash /m", &e, &err) == 0);
	CHECK(parse("dave@example.jp", "!$6$salt$hash /m", &e, &err) == 0);
	CHECK(e.flags == USERDB_DISABLED);
	CHECK_STR(e.hash, "!$6$salt$hash");
	CHECK(parse("dave@example.jp", "* /m", &e, &err) == 0);
	CHECK(e.flags == USERDB_DISABLED);
	CHECK(parse("dave@example.jp", "!locked /m locked", &e, &err) == 0);
	CHECK(e.flags == (USERDB_DISABLED | USERDB_LOCKED));
	CHECK(parse("a.b-c_d+e@mail.example.jp", "$6$s$h /m/a.b/..x/x.. "
	    "quota=0", &e, &err) == 0);
	BAD("dave@example.jp", "$6$s$h", "missing maildir");
	BAD("dave@example.jp", "domian /m", "not a crypt(3) hash");
	BAD("dave@example.jp", "/var/mail/x", "not a crypt(3) hash");
	BAD("dave@example.jp", "$6$s$h var/mail/x", "absolute");
	BAD("dave@example.jp", "$6$s$h /var/../etc", "'..'");
	BAD("dave@example.jp", "$6$s$h /var/..", "'..'");
	BAD("dave@example.jp", "$6$s$h /..", "'..'");
	BAD("dave@example.jp", "$6$s$h /m foo", "unknown option 'foo'");
	BAD("dave@example.jp", "$6$s$h /m locked,foo=1", "unknown option 'foo=1'");
	BAD("dave@example.jp", "$6$s$h /m quota=", "empty value for option 'quota='");
	BAD("dave@example.jp", "$6$s$h /m apop=", "empty value");
	BAD("dave@example.jp", "$6$s$h /m quota=1T", "invalid quota");
	BAD("dave@example.jp", "$6$s$h /m quota=-1", "invalid quota");
	BAD("dave@example.jp", "$6$s$h /m quota=99999999999999999999", "invalid quota");
	BAD("dave@example.jp", "$6$s$h /m locked,,nopop3", "empty option");
	BAD("dave@example.jp", "$6$s$h /m locked,", "empty option");
	BAD("dave@example.jp", "$6$s$h /m ,locked", "empty option");
	BAD("dave@example.jp", "$6$s$h /m locked, nopop3", "empty option");
	BAD("dave@example.jp", "$6$s$h\x01 /m", "control");
	BAD("dave@example.jp", "$6$s$h /m\r", "control");
	BAD("dave@example.jp", "$6$s$h /m\xc3\xa9", "non-ASCII");
	BAD("dave@example.jp", "$6$s%h /m", "invalid character in password hash");
	BAD("dave@example.jp", "$zz$s$h /m", "unknown or disabled scheme");
	BAD("Dave@example.jp", "$6$s$h /m", "lowercase");
	BAD("da..ve@example.jp", "$6$s$h /m", "invalid mailbox name");
	BAD(".dave@example.jp", "$6$s$h /m", "invalid mailbox name");
	BAD("da/ve@example.jp", "$6$s$h /m", "invalid mailbox name");
	BAD("dave@exa..mple.jp", "$6$s$h /m", "invalid domain");
	BAD("dave@x@example.jp", "$6$s$h /m", "more than one '@'");
	BAD("@example.jp", "$6$s$h /m", "invalid mailbox name");
	BAD("dave@example.jp", "domain", "an address cannot be of kind 'domain'");
	{
		char v[600];
		memset(v, 'a', sizeof v);
		memcpy(v, "$6$", 3);
		strcpy(v + 300, " /m");
		BAD("dave@example.jp", v, "hash too long");
		strcpy(v, "$6$s$h /m apop=");
		memset(v + 15, 'x', 128);
		v[15 + 128] = 0;
		BAD("dave@example.jp", v, "apop secret too long");
		v[15 + 127] = 0;
		CHECK(parse("dave@example.jp", v, &e, &err) == 0 &&
		    strlen(e.apop) == 127);
	}
	{
		/* value bounded by its length: a NUL inside is an error */
		CHECK(userdb_parse("example.jp", "domain\0x", 8, &e, &err) == -1);
		CHECK(userdb_parse("example.jp", "domainXYZ", 6, &e, &err) == 0);
	}

	/* aliases */
	CHECK(parse("postmaster@example.jp", "alias alice@example.jp,carol@example.jp",
	    &e, &err) == 0);
	CHECK(e.kind == USERDB_ALIAS);
	CHECK_STR(e.targets, "alice@example.jp,carol@example.jp");
	CHECK(parse("postmaster@example.jp", "alias  Alice@Example.JP, bob@x.org "
	    "\tcarol@example.jp", &e, &err) == 0);
	CHECK_STR(e.targets, "alice@example.jp,bob@x.org,carol@example.jp");
	pos = 0;
	CHECK(userdb_alias_next(e.targets, &pos, t, sizeof t) == 1);
	CHECK_STR(t, "alice@example.jp");
	CHECK(userdb_alias_next(e.targets, &pos, t, sizeof t) == 1);
	CHECK_STR(t, "bob@x.org");
	CHECK(userdb_alias_next(e.targets, &pos, t, 5) == -1);
	CHECK(userdb_alias_next(e.targets, &pos, t, sizeof t) == 0);
	CHECK(userdb_alias_next(e.targets, &pos, t, sizeof t) == 0);
	BAD("postmaster@example.jp", "alias", "alias without targets");
	BAD("postmaster@example.jp", "alias ,, ", "alias without targets");
	BAD("postmaster@example.jp", "alias alice", "alias target 'alice': address has no '@'");
	BAD("postmaster@example.jp", "alias a@b,../x@y", "alias target '../x@y'");
	BAD("postmaster@example.jp", "alias a@b.", "invalid domain");
	BAD("example.jp", "alias a@b", "must be 'domain' or 'hold'");
	{
		/* targets[] is bounded: a longer value is refused, not cut */
		static char v[USERDB_VALUE_MAX + 200];
		size_t n = 6;
		memcpy(v, "alias ", 6);
		while (n + 62 < USERDB_VALUE_MAX) {
			memset(v + n, 'q', 50);
			memcpy(v + n + 50, "@example.jp,", 12);
			n += 62;
		}
		v[n] = 0;
		CHECK(parse("big@example.jp", v, &e, &err) == 0);
		CHECK(strlen(e.targets) == n - 7);
		memset(v + n, 'z', 60);
		memcpy(v + n + 60, "@example.jp", 12);
		CHECK(parse("big@example.jp", v, &e, &err) == -1);
		CHECK(err != NULL && strstr(err, "too many alias targets") != NULL);
	}
}

static int
add(struct cdb_make *cm, const char *k, const char *v)
{
	return cdb_make_add(cm, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
}

static void
test_lookup(void)
{
	char db[300], db2[300], txt[300], cmd[1000], key[USERDB_KEY_MAX + 10];
	struct cdb_make cm;
	struct userdb_entry e;
	FILE *f;
	int fd, dk, r;

	snprintf(db, sizeof db, "%s/users.cdb", dir);
	fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(cdb_make_start(&cm, fd) == 0);
	add(&cm, "example.jp", "domain");
	add(&cm, "dialup.example", "hold host=127.0.0.1:2525 etrn-from=192.0.2.0/24");
	add(&cm, "alice@example.jp", "$y$j9T$abc$def /var/mail/example.jp/alice quota=100M");
	add(&cm, "postmaster@example.jp", "alias alice@example.jp");
	add(&cm, "broken@example.jp", "$6$s$h relative/path");
	add(&cm, "other.example", "domain");
	add(&cm, "nodomain.example", "$6$s$h /m");   /* parse error: domain key */
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);

	CHECK(userdb_lookup(db, "example.jp", &e) == 1 && e.kind == USERDB_DOMAIN);
	CHECK(userdb_lookup(db, "alice@example.jp", &e) == 1 && e.kind == USERDB_USER);
	CHECK_STR(e.maildir, "/var/mail/example.jp/alice");
	CHECK(e.quota == 100u << 20);
	CHECK(userdb_lookup(db, "nobody@example.jp", &e) == 0);
	CHECK(userdb_lookup(db, "", &e) == 0);
	memset(key, 'a', sizeof key - 1);
	key[sizeof key - 1] = 0;
	CHECK(userdb_lookup(db, key, &e) == 0);
	errno = 0;
	CHECK(userdb_lookup(db, "broken@example.jp", &e) == -1 && errno == EPROTO);
	CHECK(userdb_lookup(db, "nodomain.example", &e) == -1);

	/* resolve */
	CHECK(userdb_resolve(db, "Alice@Example.JP", &e, &dk) == 1);
	CHECK(e.kind == USERDB_USER && dk == USERDB_DOMAIN);
	CHECK_STR(e.key, "alice@example.jp");
	CHECK(userdb_resolve(db, "POSTMASTER@example.jp", &e, &dk) == 1);
	CHECK(e.kind == USERDB_ALIAS && dk == USERDB_DOMAIN);
	CHECK(userdb_resolve(db, "bob@example.jp", &e, &dk) == 0 && dk == USERDB_DOMAIN);
	CHECK(userdb_resolve(db, "b..ob@example.jp", &e, &dk) == 0 && dk == USERDB_DOMAIN);
	CHECK(userdb_resolve(db, "@example.jp", &e, &dk) == 0 && dk == USERDB_DOMAIN);
	CHECK(userdb_resolve(db, "bob@elsewhere.org", &e, &dk) == 0 && dk == 0);
	CHECK(userdb_resolve(db, "bob", &e, &dk) == 0 && dk == 0);
	CHECK(userdb_resolve(db, "bob@", &e, &dk) == 0 && dk == 0);
	CHECK(userdb_resolve(db, "bob@exa mple.jp", &e, &dk) == 0 && dk == 0);
	CHECK(userdb_resolve(db, "anyone@Dialup.Example", &e, &dk) == 1);
	CHECK(e.kind == USERDB_HOLD && dk == USERDB_HOLD);
	CHECK_STR(e.host, "127.0.0.1");
	CHECK(userdb_resolve(db, "o'brien@dialup.example", &e, &dk) == 1 && dk == USERDB_HOLD);
	CHECK(userdb_resolve(db, "a b@dialup.example", &e, &dk) == 0 && dk == USERDB_DOMAIN);
	CHECK(userdb_resolve(db, "@dialup.example", &e, &dk) == 0 && dk == USERDB_DOMAIN);
	CHECK(userdb_resolve(db, "broken@example.jp", &e, &dk) == -1);
	CHECK(userdb_resolve(db, "x@nodomain.example", &e, &dk) == -1);
	/* "a@b@example.jp": the domain is after the last '@', the local part
	 * "a@b" is not a mailbox name */
	CHECK(userdb_resolve(db, "a@b@example.jp", &e, &dk) == 0 && dk == USERDB_DOMAIN);

	/* missing, empty, garbage and truncated databases: -1 */
	snprintf(db2, sizeof db2, "%s/missing.cdb", dir);
	errno = 0;
	CHECK(userdb_lookup(db2, "example.jp", &e) == -1 && errno == ENOENT);
	CHECK(userdb_resolve(db2, "alice@example.jp", &e, &dk) == -1);
	snprintf(db2, sizeof db2, "%s/empty.cdb", dir);
	f = fopen(db2, "w");
	fclose(f);
	CHECK(userdb_lookup(db2, "example.jp", &e) == -1);
	snprintf(db2, sizeof db2, "%s/garbage.cdb", dir);
	f = fopen(db2, "w");
	for (r = 0; r < 3000; r++)
		fputc(0xff, f);
	fclose(f);
	CHECK(userdb_lookup(db2, "example.jp", &e) == -1);
	snprintf(db2, sizeof db2, "%s/trunc.cdb", dir);
	snprintf(cmd, sizeof cmd, "head -c 2100 %s > %s", db, db2);
	CHECK(system(cmd) == 0);
	r = userdb_lookup(db2, "alice@example.jp", &e);
	CHECK(r == -1);
	CHECK(userdb_lookup(dir, "example.jp", &e) == -1);   /* a directory */

	/* an oversize value is a temporary failure, not a crash */
	snprintf(db2, sizeof db2, "%s/huge.cdb", dir);
	fd = open(db2, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(cdb_make_start(&cm, fd) == 0);
	{
		static char v[USERDB_VALUE_MAX + 10];
		memset(v, 'x', sizeof v - 1);
		memcpy(v, "alias ", 6);
		add(&cm, "huge@example.jp", v);
	}
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
	CHECK(userdb_lookup(db2, "huge@example.jp", &e) == -1);

	/* the stock tool: `cdb -c -m` from SPEC's example text */
	if (system("command -v cdb >/dev/null 2>&1") != 0) {
		printf("SKIP: cdb tool (package tinycdb) not installed\n");
		return;
	}
	snprintf(txt, sizeof txt, "%s/users", dir);
	f = fopen(txt, "w");
	fputs("# address              hash or kind        maildir or targets"
	    "            options\n"
	    "example.jp             domain\n"
	    "dialup.example         hold                host=127.0.0.1:2525"
	    "           etrn-from=192.0.2.0/24\n"
	    "\n"
	    "alice@example.jp       $y$j9T$abc$def        "
	    "/var/mail/example.jp/alice    quota=100M\n"
	    "carol@example.jp       $6$rounds=5000$s$h  /var/mail/example.jp/carol"
	    "    locked,nopop3\n"
	    "postmaster@example.jp  alias               "
	    "alice@example.jp,carol@example.jp\n"
	    "\tindented@example.jp\t$5$s$h\t/m\tnosmtp\n", f);
	fclose(f);
	snprintf(db2, sizeof db2, "%s/users.cdb", dir);
	snprintf(cmd, sizeof cmd, "cdb -c -m %s %s", db2, txt);
	CHECK(system(cmd) == 0);
	CHECK(userdb_lookup(db2, "example.jp", &e) == 1 && e.kind == USERDB_DOMAIN);
	CHECK(userdb_lookup(db2, "dialup.example", &e) == 1 && e.kind == USERDB_HOLD);
	CHECK_STR(e.host, "127.0.0.1");
	CHECK(e.port == 2525);
	CHECK_STR(e.etrn_from, "192.0.2.0/24");
	CHECK(userdb_lookup(db2, "alice@example.jp", &e) == 1 && e.kind == USERDB_USER);
	CHECK_STR(e.hash, "$y$j9T$abc$def");
	CHECK_STR(e.maildir, "/var/mail/example.jp/alice");
	CHECK(e.quota == 100u << 20);
	CHECK(userdb_resolve(db2, "Carol@Example.jp", &e, &dk) == 1);
	CHECK(e.kind == USERDB_USER && e.flags == (USERDB_LOCKED | USERDB_NOPOP3));
	CHECK_STR(e.hash, "$6$rounds=5000$s$h");
	CHECK(userdb_resolve(db2, "postmaster@example.jp", &e, &dk) == 1);
	CHECK_STR(e.targets, "alice@example.jp,carol@example.jp");
	r = userdb_lookup(db2, "indented@example.jp", &e);
	if (r == 1) {
		CHECK(e.flags == USERDB_NOSMTP);
	} else {
		/* the tool does not take a leading blank; nothing to test */
		CHECK(r == 0);
	}
}

/* the stand-in hash for unknown users: the first enabled user's */
static void
test_sample(void)
{
	char db[300], h[USERDB_HASH_MAX], small[8];
	struct cdb_make cm;
	int fd, i;

	snprintf(db, sizeof db, "%s/sample.cdb", dir);
	fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(cdb_make_start(&cm, fd) == 0);
	add(&cm, "example.jp", "domain");
	add(&cm, "postmaster@example.jp", "alias bob@example.jp");
	add(&cm, "off@example.jp", "!$6$s$h /m");             /* disabled */
	add(&cm, "bad@example.jp", "$6$s$h relative");        /* does not parse */
	add(&cm, "bob@example.jp", "$6$rounds=5000$s$h /m");
	add(&cm, "carol@example.jp", "$y$j9T$abc$def /m");
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
	CHECK(userdb_sample_hash(db, h, sizeof h) == 1);
	CHECK_STR(h, "$6$rounds=5000$s$h");
	CHECK(userdb_sample_hash(db, small, sizeof small) == 0);  /* no room */
	CHECK(small[0] == '\0');

	/* no user among the first USERDB_SAMPLE_RECORDS records: none */
	fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(cdb_make_start(&cm, fd) == 0);
	for (i = 0; i < USERDB_SAMPLE_RECORDS; i++) {
		char k[32];
		snprintf(k, sizeof k, "d%d.example", i);
		add(&cm, k, "domain");
	}
	add(&cm, "late@example.jp", "$6$s$h /m");
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
	CHECK(userdb_sample_hash(db, h, sizeof h) == 0 && h[0] == '\0');
	snprintf(db, sizeof db, "%s/missing.cdb", dir);
	CHECK(userdb_sample_hash(db, h, sizeof h) == -1);
}

int
main(void)
{
	char cmd[600];

	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	snprintf(dir, sizeof dir, "tests/tmp/userdb_test.%ld", (long)getpid());
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		return 1;
	}
	test_parse();
	test_lookup();
	test_sample();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (test_failed == 0 && system(cmd) != 0)
		printf("note: could not remove %s\n", dir);
	return TEST_SUMMARY();
}
