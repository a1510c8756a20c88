/* smtp_session_fuzz.c - whole smtp-handler sessions: input octet 0 picks
 * a configuration (anonymous MX, AUTH allowed, submission, small limits,
 * STARTTLS, ETRN-permitted client, relay client), the rest is what the
 * client sends: commands, ESMTP parameters, DATA and BDAT bodies, SASL
 * lines. Each run starts from empty maildirs and spool, with the users
 * of the golden tests (password "secret"); the hold domain's host is a
 * closed loopback port so a permitted ETRN's flush fails at once. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "session.h"

int smtp_handler_main(int argc, char **argv);

static char root[SESSION_PATH], users[SESSION_PATH], spool[SESSION_PATH];
static char mail[SESSION_PATH], cert[SESSION_PATH], key[SESSION_PATH];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char lines[8][SESSION_PATH + 200];
	const char *recs[24];
	const char *d = fuzz_scratch("smtp"), *h, *pki;
	int i = 0, l = 0;

	(void)argc;
	(void)argv;
	snprintf(root, sizeof root, "%s", d);
	snprintf(users, sizeof users, "%s/users.cdb", d);
	snprintf(spool, sizeof spool, "%s/spool", d);
	snprintf(mail, sizeof mail, "%s/mail", d);
	h = session_hash("secret");
	recs[i++] = "example.test domain";
	recs[i++] = "other.test domain";
	recs[i++] = "dialup.test hold host=127.0.0.1:9 etrn-from=192.0.2.0/24";
	recs[i++] = "dialup.example hold host=127.0.0.1:9 "
	    "etrn-from=192.0.2.0/24";
	recs[i++] = "example.jp domain";
	recs[i++] = "postmaster@example.jp alias alice@example.test";
#define USER(name, pre, opts) \
	snprintf(lines[l], sizeof lines[l], "%s@example.test %s%s %s/%s %s", \
	    name, pre, h, mail, name, opts), recs[i++] = lines[l++]
	USER("alice", "", "");
	USER("bob", "", "quota=2K");
	USER("carol", "", "nosmtp");
	USER("dave", "!", "");
	USER("erin", "", "locked");
#undef USER
	recs[i++] = "postmaster@example.test alias alice@example.test";
	recs[i++] = "list@example.test alias alice@example.test,"
	    "bob@example.test,friend@remote.test,alice@example.test";
	recs[i++] = "loop1@example.test alias loop2@example.test";
	recs[i++] = "loop2@example.test alias loop1@example.test";
	recs[i++] = "broken@example.test alias nobody@example.test";
	recs[i] = NULL;
	session_cdb(users, recs);
	pki = session_pki();
	snprintf(cert, sizeof cert, "%s/tls.crt", pki ? pki : "/nonexistent");
	snprintf(key, sizeof key, "%s/tls.key", pki ? pki : "/nonexistent");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const env_etrn[] = {
		"TCPREMOTEIP=192.0.2.7", NULL
	};
	static const char *const env_far[] = {
		"TCPREMOTEIP=198.51.100.9", NULL
	};
	const char *const *env = NULL;
	char *argv[24];
	int n = 0;

	if (size < 1 || size > 65536)
		return 0;
	if (!root[0])
		LLVMFuzzerInitialize(NULL, NULL);
	fuzz_empty_dir(mail);
	fuzz_empty_dir(spool);
	mkdir(mail, 0700);
	mkdir(spool, 0700);
	argv[n++] = "smtp-handler";
	argv[n++] = "--users";
	argv[n++] = users;
	argv[n++] = "--spool";
	argv[n++] = spool;
	argv[n++] = "--hostname";
	argv[n++] = "mx.test";
	argv[n++] = "--auth-delay";
	argv[n++] = "0";
	argv[n++] = "--timeout";
	argv[n++] = "5";
	switch (data[0] % 7) {
	case 0:
		argv[n++] = "--max-errors";
		argv[n++] = "100";
		break;
	case 1:
		argv[n++] = "--auth";
		argv[n++] = "anonymous,password";
		argv[n++] = "--max-errors";
		argv[n++] = "100";
		break;
	case 2:
		argv[n++] = "--auth";
		argv[n++] = "password";
		env = env_far;
		break;
	case 3:
		argv[n++] = "--max-size";
		argv[n++] = "1000";
		argv[n++] = "--max-recipients";
		argv[n++] = "2";
		argv[n++] = "--max-errors";
		argv[n++] = "4";
		argv[n++] = "--quota-tempfail";
		break;
	case 4:               /* STARTTLS offered when fuzz/run made a cert */
		argv[n++] = "--auth";
		argv[n++] = "anonymous,password";
		argv[n++] = "--tls";
		argv[n++] = "starttls";
		argv[n++] = "--cert";
		argv[n++] = cert;
		argv[n++] = "--key";
		argv[n++] = key;
		break;
	case 5:
		env = env_etrn;
		argv[n++] = "--max-errors";
		argv[n++] = "100";
		break;
	case 6:
		argv[n++] = "--relay-clients";
		argv[n++] = "198.51.100.0/24";
		env = env_far;
		break;
	}
	argv[n] = NULL;
	session_run(smtp_handler_main, argv, env, data + 1, size - 1);
	return 0;
}
