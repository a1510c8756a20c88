/* auth_test.c - unit tests of auth.c against a real CDB with hashes of
 * every supported scheme made at test time (crypt_gensalt_ra + crypt_r). */
#include "test.h"
#include "auth.h"
#include "util.h"

#include <cdb.h>
#include <crypt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256], db[300];

static void
add_user(struct cdb_make *cm, const char *key, const char *prefix,
    unsigned long cost, const char *pw, const char *opts)
{
	static struct crypt_data cd;
	char value[USERDB_VALUE_MAX];
	char *setting = crypt_gensalt_ra(prefix, cost, NULL, 0);
	const char *h;

	if (setting == NULL) {
		printf("FAIL: crypt_gensalt_ra(%s) failed\n", prefix);
		test_failed++;
		return;
	}
	h = crypt_r(pw, setting, &cd);
	free(setting);
	CHECK(h != NULL && h[0] == '$');
	snprintf(value, sizeof value, "%s%s /var/mail/%s %s",
	    strcmp(key, "frank@example.jp") == 0 ? "!" : "", h, key, opts);
	cdb_make_add(cm, key, (unsigned)strlen(key), value,
	    (unsigned)strlen(value));
}

static void
add(struct cdb_make *cm, const char *k, const char *v)
{
	cdb_make_add(cm, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
}

static void
make_db(void)
{
	struct cdb_make cm;
	int fd;

	snprintf(db, sizeof db, "%s/users.cdb", dir);
	fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && cdb_make_start(&cm, fd) == 0);
	add(&cm, "example.jp", "domain");
	add(&cm, "dialup.example", "hold");
	add(&cm, "postmaster@example.jp", "alias alice@example.jp");
	add_user(&cm, "alice@example.jp", "$y$", 3, "alice pw", "quota=1M");
	add_user(&cm, "bob@example.jp", "$6$", 0, "bob-pw", "apop=tanstaaf");
	add_user(&cm, "carol@example.jp", "$2b$", 5, "carol", "locked");
	add_user(&cm, "dave@example.jp", "$5$", 0, "dave", "nopop3");
	add_user(&cm, "erin@example.jp", "$6$", 0, "erin", "nosmtp");
	add_user(&cm, "frank@example.jp", "$6$", 0, "frank", "apop=secret");
	add_user(&cm, "gina@example.jp", "$y$", 0, "gina", "");
	add(&cm, "weird@example.jp", "$1$ /m");   /* crypt refuses it */
	add_user(&cm, "tim@example.jp", "$6$", 0, "tim", "apop=tanstaaftanstaaf");
	add_user(&cm, "ivy@example.jp", "$6$", 0, "ivy",
	    "nosmtp apop=tanstaaftanstaaf");
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
}

static void
test_password(void)
{
	struct userdb_entry e;
	char missing[320];
	int64_t t0, t_unknown, t_known, t_default;
	int i;

	CHECK(auth_password(db, AUTH_POP3, "alice@example.jp", "alice pw", &e) == AUTH_OK);
	CHECK_STR(e.maildir, "/var/mail/alice@example.jp");
	CHECK(e.quota == 1 << 20);
	CHECK(auth_password(db, AUTH_SMTP, "ALICE@Example.JP", "alice pw", &e) == AUTH_OK);
	CHECK(auth_password(db, AUTH_POP3, "alice@example.jp", "alice pW", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "alice@example.jp", "", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "alice@example.jp", NULL, &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "bob@example.jp", "bob-pw", &e) == AUTH_OK);
	CHECK(auth_password(db, AUTH_POP3, "bob@example.jp", "bob-pw ", &e) == AUTH_REJECTED);
	CHECK(e.apop[0] == 0);   /* the secret is wiped on a failed login */
	CHECK(auth_password(db, AUTH_POP3, "carol@example.jp", "carol", &e) == AUTH_LOCKED);
	CHECK(auth_password(db, AUTH_SMTP, "carol@example.jp", "carol", &e) == AUTH_LOCKED);
	CHECK(auth_password(db, AUTH_POP3, "carol@example.jp", "wrong", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "dave@example.jp", "dave", &e) == AUTH_BARRED);
	CHECK(auth_password(db, AUTH_SMTP, "dave@example.jp", "dave", &e) == AUTH_OK);
	CHECK(auth_password(db, AUTH_POP3, "dave@example.jp", "x", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_SMTP, "erin@example.jp", "erin", &e) == AUTH_BARRED);
	CHECK(auth_password(db, AUTH_POP3, "erin@example.jp", "erin", &e) == AUTH_OK);
	CHECK(auth_password(db, AUTH_SMTP, "erin@example.jp", "nope", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "frank@example.jp", "frank", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "weird@example.jp", "", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "nobody@example.jp", "x", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "postmaster@example.jp", "alice pw", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "x@dialup.example", "x", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "x@elsewhere.org", "x", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, "alice", "alice pw", &e) == AUTH_REJECTED);
	CHECK(auth_password(db, AUTH_POP3, NULL, "alice pw", &e) == AUTH_REJECTED);
	snprintf(missing, sizeof missing, "%s/missing.cdb", dir);
	CHECK(auth_password(missing, AUTH_POP3, "alice@example.jp", "alice pw", &e) == AUTH_TEMPFAIL);

	/* an unknown user costs a verification with the first user's hash
	 * (alice: $y$ at cost 3, much cheaper than gina's default cost) */
	t0 = clock_ms();
	for (i = 0; i < 5; i++)
		CHECK(auth_password(db, AUTH_POP3, "nobody@example.jp", "x", &e) == AUTH_REJECTED);
	t_unknown = clock_ms() - t0;
	t0 = clock_ms();
	for (i = 0; i < 5; i++)
		CHECK(auth_password(db, AUTH_POP3, "alice@example.jp", "y", &e) == AUTH_REJECTED);
	t_known = clock_ms() - t0;
	t0 = clock_ms();
	CHECK(auth_password(db, AUTH_POP3, "gina@example.jp", "y", &e) == AUTH_REJECTED);
	t_default = clock_ms() - t0;
	printf("5 unknown users %lld ms, 5 x alice ($y$ cost 3) %lld ms, gina ($y$ default) %lld ms\n",
	    (long long)t_unknown, (long long)t_known, (long long)t_default);
	CHECK(t_unknown * 3 >= t_known && t_known * 3 >= t_unknown);
	CHECK(t_default >= 5);
	CHECK(auth_password(db, AUTH_POP3, "gina@example.jp", "gina", &e) == AUTH_OK);
}

static void
test_apop(void)
{
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	struct userdb_entry e;

	/* RFC 1939's example */
	CHECK(auth_apop(db, "bob@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22fb", &e) == AUTH_OK);
	CHECK_STR(e.key, "bob@example.jp");
	CHECK(auth_apop(db, "BOB@example.jp", ts,
	    "C4C9334BAC560ECC979E58001B3E22FB", &e) == AUTH_OK);
	CHECK(auth_apop(db, "bob@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22fc", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22f", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22fb0", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22fb ", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", ts,
	    "g4c9334bac560ecc979e58001b3e22fb", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", ts, "", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", ts, NULL, &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "bob@example.jp", "<other@x>",
	    "c4c9334bac560ecc979e58001b3e22fb", &e) == AUTH_REJECTED);
	/* no apop= secret: refused even with the digest of an empty secret */
	CHECK(auth_apop(db, "alice@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22fb", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "nobody@example.jp", ts,
	    "c4c9334bac560ecc979e58001b3e22fb", &e) == AUTH_REJECTED);
	/* frank is disabled although he has a secret */
	CHECK(auth_apop(db, "frank@example.jp", ts,
	    "0000000000000000000000000000000f", &e) == AUTH_REJECTED);
	CHECK(auth_apop(db, "x@y", ts, "c4c9334bac560ecc979e58001b3e22fb", &e)
	    == AUTH_REJECTED);
	{
		char missing[320];
		snprintf(missing, sizeof missing, "%s/missing.cdb", dir);
		CHECK(auth_apop(missing, "bob@example.jp", ts,
		    "c4c9334bac560ecc979e58001b3e22fb", &e) == AUTH_TEMPFAIL);
	}
}

/* CRAM-MD5 with the apop= secret: RFC 2195's example vector */
static void
test_cram(void)
{
	static const char ch[] = "<1896.697170952@postoffice.reston.mci.net>";
	static const char rfc[] = "b913a602c7eda7a495b4e6e7334d3890";
	struct userdb_entry e;
	char missing[320];

	CHECK(auth_cram(db, "tim@example.jp", ch, rfc, &e) == AUTH_OK);
	CHECK_STR(e.key, "tim@example.jp");
	CHECK(e.apop[0] == 0);   /* the secret is wiped even on success */
	CHECK(auth_cram(db, "TIM@example.jp", ch,
	    "B913A602C7EDA7A495B4E6E7334D3890", &e) == AUTH_OK);
	CHECK(auth_cram(db, "tim@example.jp", ch,
	    "b913a602c7eda7a495b4e6e7334d3891", &e) == AUTH_REJECTED);
	CHECK(e.apop[0] == 0);
	CHECK(auth_cram(db, "tim@example.jp", ch,
	    "b913a602c7eda7a495b4e6e7334d389", &e) == AUTH_REJECTED);
	CHECK(auth_cram(db, "tim@example.jp", ch,
	    "b913a602c7eda7a495b4e6e7334d38900", &e) == AUTH_REJECTED);
	CHECK(auth_cram(db, "tim@example.jp", ch, NULL, &e) == AUTH_REJECTED);
	CHECK(auth_cram(db, "tim@example.jp", "<1@other>", rfc, &e)
	    == AUTH_REJECTED);
	CHECK(auth_cram(db, "tim@example.jp", NULL, rfc, &e) == AUTH_REJECTED);
	/* right secret, nosmtp: barred (SMTP service) */
	CHECK(auth_cram(db, "ivy@example.jp", ch, rfc, &e) == AUTH_BARRED);
	/* no apop= secret: neither the empty key's digest nor the dummy
	 * key's opens it; the login password is never the key */
	CHECK(auth_cram(db, "alice@example.jp", ch,
	    "a00b54b824afa19ec2de0f73cb2a04c2", &e) == AUTH_REJECTED);
	CHECK(auth_cram(db, "alice@example.jp", ch,
	    "9b6284e8f16cacb6228372e52acbf028", &e) == AUTH_REJECTED);
	CHECK(auth_cram(db, "nobody@example.jp", ch,
	    "9b6284e8f16cacb6228372e52acbf028", &e) == AUTH_REJECTED);
	/* frank is disabled although he has a secret; an alias is no user */
	CHECK(auth_cram(db, "frank@example.jp", ch, rfc, &e) == AUTH_REJECTED);
	CHECK(auth_cram(db, "postmaster@example.jp", ch, rfc, &e)
	    == AUTH_REJECTED);
	snprintf(missing, sizeof missing, "%s/missing.cdb", dir);
	CHECK(auth_cram(missing, "tim@example.jp", ch, rfc, &e)
	    == AUTH_TEMPFAIL);
	CHECK(auth_apop_any(db) == 1);
	CHECK(auth_apop_any(missing) == -1);
}

static void
test_identity(void)
{
	struct userdb_entry e;

	CHECK(auth_identity(db, AUTH_POP3, "alice@example.jp", &e) == AUTH_OK);
	CHECK_STR(e.maildir, "/var/mail/alice@example.jp");
	CHECK(auth_identity(db, AUTH_SMTP, "Alice@Example.jp", &e) == AUTH_OK);
	CHECK(auth_identity(db, AUTH_POP3, "carol@example.jp", &e) == AUTH_LOCKED);
	CHECK(auth_identity(db, AUTH_POP3, "dave@example.jp", &e) == AUTH_BARRED);
	CHECK(auth_identity(db, AUTH_SMTP, "dave@example.jp", &e) == AUTH_OK);
	CHECK(auth_identity(db, AUTH_SMTP, "erin@example.jp", &e) == AUTH_BARRED);
	CHECK(auth_identity(db, AUTH_POP3, "frank@example.jp", &e) == AUTH_REJECTED);
	CHECK(auth_identity(db, AUTH_POP3, "nobody@example.jp", &e) == AUTH_REJECTED);
	CHECK(auth_identity(db, AUTH_POP3, "postmaster@example.jp", &e) == AUTH_REJECTED);
	CHECK(auth_identity(db, AUTH_POP3, "alice", &e) == AUTH_REJECTED);
	CHECK(auth_identity(db, AUTH_POP3, NULL, &e) == AUTH_REJECTED);
	CHECK(auth_identity("/nonexistent/users.cdb", AUTH_POP3,
	    "alice@example.jp", &e) == AUTH_TEMPFAIL);
}

int
main(void)
{
	char cmd[600];

	mkdir("tests", 0755);
	mkdir("tests/tmp", 0755);
	snprintf(dir, sizeof dir, "tests/tmp/auth_test.%ld", (long)getpid());
	if (mkdir(dir, 0700) != 0) {
		perror(dir);
		return 1;
	}
	make_db();
	test_password();
	test_apop();
	test_cram();
	test_identity();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (test_failed == 0 && system(cmd) != 0)
		printf("note: could not remove %s\n", dir);
	return TEST_SUMMARY();
}
