/* certauth_test.c - unit tests of the certificate-to-user rule against a
 * real users CDB and real revocation CDBs made at test time. */
#include "test.h"
#include "certauth.h"
#include "util.h"

#include <cdb.h>
#include <crypt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], users[300], revoked[300], revoked_colon[300];
static char hash[256];

static void
add(struct cdb_make *cm, const char *k, const char *v)
{
	cdb_make_add(cm, k, (unsigned)strlen(k), v, (unsigned)strlen(v));
}

static void
add_user(struct cdb_make *cm, const char *key, const char *prefix,
    const char *opts)
{
	char v[USERDB_VALUE_MAX];

	snprintf(v, sizeof v, "%s%s /var/mail/%s %s", prefix, hash, key, opts);
	add(cm, key, v);
}

static void
make_users(void)
{
	static struct crypt_data cd;
	struct cdb_make cm;
	char *setting = crypt_gensalt_ra("$6$", 0, NULL, 0);
	const char *h = setting ? crypt_r("pw", setting, &cd) : NULL;
	int fd;

	CHECK(h != NULL && h[0] == '$');
	copy_str(hash, sizeof hash, h ? h : "$6$x$y");
	free(setting);
	snprintf(users, sizeof users, "%s/users.cdb", dir);
	fd = open(users, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && cdb_make_start(&cm, fd) == 0);
	add(&cm, "example.org", "domain");
	add_user(&cm, "alice@example.org", "", "");
	add_user(&cm, "dave@example.org", "!", "");
	add_user(&cm, "lock@example.org", "", "locked");
	add_user(&cm, "nopop@example.org", "", "nopop3");
	add_user(&cm, "nosmtp@example.org", "", "nosmtp");
	add(&cm, "info@example.org", "alias alice@example.org");
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
}

static void
make_cdb(const char *path, const char *const *keys)
{
	struct cdb_make cm;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && cdb_make_start(&cm, fd) == 0);
	for (; *keys; keys++)
		add(&cm, *keys, "revoked 2025-01-01");
	CHECK(cdb_make_finish(&cm) == 0);
	close(fd);
}

/* A verified clientAuth certificate for name; fingerprint byte fill. */
static void
peer(struct tls_peer_cert *pc, const char *email, const char *cn,
    unsigned char fill, const char *serial)
{
	memset(pc, 0, sizeof *pc);
	pc->presented = pc->verified = pc->eku_ok = 1;
	copy_str(pc->email, sizeof pc->email, email);
	copy_str(pc->cn, sizeof pc->cn, cn);
	memset(pc->sha256, fill, sizeof pc->sha256);
	copy_str(pc->serial_hex, sizeof pc->serial_hex, serial);
}

static void
test_rule(void)
{
	struct certauth ca;
	struct tls_peer_cert pc;
	char buf[400];

	/* no certificate */
	memset(&pc, 0, sizeof pc);
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) == CERTAUTH_NONE);
	CHECK_STR(certauth_summary(&ca, buf, sizeof buf), "-");
	CHECK(certauth_map(&ca, NULL, users, NULL, AUTH_POP3) == CERTAUTH_NONE);

	/* the valid one; the e-mail SAN wins over the CN; case folded */
	peer(&pc, "Alice@Example.ORG", "bob", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) == CERTAUTH_USER);
	CHECK_STR(ca.user, "alice@example.org");
	CHECK_STR(ca.code, "ok");
	CHECK_STR(certauth_summary(&ca, buf, sizeof buf), "alice@example.org");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) == CERTAUTH_USER);

	/* CN when there is no e-mail SAN */
	peer(&pc, "", "alice@example.org", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) == CERTAUTH_USER);
	peer(&pc, "", "alice", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "no-user");
	peer(&pc, "", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "no-name");
	/* an e-mail SAN that BearSSL could not decode: no fall-back to the
	 * CN, even when the CN names a user */
	peer(&pc, "", "alice@example.org", 0x11, "1a2b");
	pc.email_bad = 1;
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "bad-email");
	CHECK(ca.user[0] == '\0');
	CHECK_STR(certauth_summary(&ca, buf, sizeof buf), "bad-email:-");

	/* untrusted chain: names filled by BearSSL, still refused */
	peer(&pc, "alice@example.org", "alice", 0x11, "1a2b");
	pc.verified = 0;
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "untrusted");
	CHECK(ca.user[0] == '\0');
	CHECK_STR(certauth_summary(&ca, buf, sizeof buf),
	    "untrusted:alice@example.org");

	/* serverAuth-only EKU */
	peer(&pc, "alice@example.org", "alice", 0x11, "1a2b");
	pc.eku_ok = 0;
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "no-clientauth");

	/* disabled, alias, unknown, locked, barred per service */
	peer(&pc, "dave@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "no-user");
	peer(&pc, "info@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "no-user");
	peer(&pc, "nobody@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	peer(&pc, "lock@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "locked");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) ==
	    CERTAUTH_REFUSED);
	peer(&pc, "nopop@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "barred");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) == CERTAUTH_USER);
	peer(&pc, "nosmtp@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_POP3) == CERTAUTH_USER);
	CHECK(certauth_map(&ca, &pc, users, NULL, AUTH_SMTP) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(certauth_summary(&ca, buf, sizeof buf),
	    "barred:nosmtp@example.org");

	/* database missing: temporary */
	peer(&pc, "alice@example.org", "", 0x11, "1a2b");
	CHECK(certauth_map(&ca, &pc, "/nonexistent/users.cdb", NULL,
	    AUTH_POP3) == CERTAUTH_TEMPFAIL);
	CHECK(ca.user[0] == '\0');
}

static void
test_revoked(void)
{
	static const char *const keys[] = {
		"1a2b",
		/* 32 bytes of 0x22 */
		"2222222222222222222222222222222222222222222222222222222222222222",
		NULL
	};
	static const char *const colon_keys[] = {
		"33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:"
		"33:33:33:33:33:33:33:33:33:33:33:33:33:33:33:33",
		NULL
	};
	struct certauth ca;
	struct tls_peer_cert pc;
	char buf[400];

	snprintf(revoked, sizeof revoked, "%s/revoked.cdb", dir);
	snprintf(revoked_colon, sizeof revoked_colon, "%s/colon.cdb", dir);
	make_cdb(revoked, keys);
	make_cdb(revoked_colon, colon_keys);

	/* by serial */
	peer(&pc, "alice@example.org", "", 0x11, "1a2b");
	CHECK(certauth_revoked(revoked, &pc) == 1);
	CHECK(certauth_map(&ca, &pc, users, revoked, AUTH_POP3) ==
	    CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "revoked");
	CHECK_STR(certauth_summary(&ca, buf, sizeof buf),
	    "revoked:alice@example.org");
	/* by fingerprint, plain and with colons */
	peer(&pc, "alice@example.org", "", 0x22, "99");
	CHECK(certauth_revoked(revoked, &pc) == 1);
	peer(&pc, "alice@example.org", "", 0x33, "99");
	CHECK(certauth_revoked(revoked, &pc) == 0);
	CHECK(certauth_revoked(revoked_colon, &pc) == 1);
	/* not listed: accepted */
	peer(&pc, "alice@example.org", "", 0x44, "1a2c");
	CHECK(certauth_revoked(revoked, &pc) == 0);
	CHECK(certauth_map(&ca, &pc, users, revoked, AUTH_SMTP) ==
	    CERTAUTH_USER);
	/* a serial that only shares a prefix is not revoked */
	peer(&pc, "alice@example.org", "", 0x44, "1a");
	CHECK(certauth_revoked(revoked, &pc) == 0);
	/* no list configured */
	CHECK(certauth_revoked(NULL, &pc) == 0);
	/* list missing or corrupt: fail closed */
	CHECK(certauth_revoked("/nonexistent/revoked.cdb", &pc) == -1);
	CHECK(certauth_map(&ca, &pc, users, "/nonexistent/revoked.cdb",
	    AUTH_POP3) == CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "revocation-unreadable");
	/* an untrusted certificate is refused before the list is read */
	pc.verified = 0;
	CHECK(certauth_map(&ca, &pc, users, "/nonexistent/revoked.cdb",
	    AUTH_POP3) == CERTAUTH_REFUSED);
	CHECK_STR(ca.code, "untrusted");
}

int
main(void)
{
	char cmd[400];
	const char *top = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/certauth_test.XXXXXX", top ? top : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_users();
	test_rule();
	test_revoked();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("note: could not remove %s\n", dir);
	return TEST_SUMMARY();
}
