/* smtp_session_fuzz.c - whole smtp-handler sessions: input octet 0 picks
 * a configuration (anonymous MX, AUTH allowed with ODMR and CRAM-MD5,
 * submission, small limits, STARTTLS, ETRN-permitted client, relay
 * client), the rest is what the client sends: commands, ESMTP
 * parameters, DATA and BDAT bodies, SASL lines. Each run starts from
 * empty maildirs and spool, with the users of the golden tests (password
 * "secret"); the hold domain's host is a closed loopback port so a
 * permitted ETRN's flush fails at once. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "session.h"

int smtp_handler_main(int argc, char **argv);

static struct session_files f;
static char spool[SESSION_PATH];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char lines[8][SESSION_PATH + 200];
	const char *recs[24];
	int i = 0, l = 0;

	(void)argc;
	(void)argv;
	session_files(&f, "smtp", "secret");
	snprintf(spool, sizeof spool, "%s/spool", f.root);
	recs[i++] = "example.test domain";
	recs[i++] = "other.test domain";
	recs[i++] = "dialup.test hold host=127.0.0.1:9 etrn-from=192.0.2.0/24";
	recs[i++] = "dialup.example hold host=127.0.0.1:9 "
	    "etrn-from=192.0.2.0/24";
	recs[i++] = "example.jp domain";
	recs[i++] = "postmaster@example.jp alias alice@example.test";
#define USER(name, pre, opts) \
	snprintf(lines[l], sizeof lines[l], "%s@example.test %s%s %s/%s %s", \
	    name, pre, f.hash, f.mail, name, opts), recs[i++] = lines[l++]
	USER("alice", "", "apop=cram-secret");   /* CRAM-MD5 with --odmr */
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
	session_cdb(f.users, recs);
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
	struct session_argv a = { .n = 0 };

	if (size < 1 || size > 65536)
		return 0;
	if (!f.root[0])
		LLVMFuzzerInitialize(NULL, NULL);
	fuzz_empty_dir(f.mail);
	fuzz_empty_dir(spool);
	mkdir(f.mail, 0700);
	mkdir(spool, 0700);
	session_args(&a, "smtp-handler", "--users", f.users, "--spool", spool,
	    "--hostname", "mx.test", "--auth-delay", "0", "--timeout", "5",
	    NULL);
	switch (data[0] % 7) {
	case 0:
		session_args(&a, "--max-errors", "100", NULL);
		break;
	case 1:               /* --odmr: ATRN and AUTH CRAM-MD5 too */
		session_args(&a, "--auth", "anonymous,password", "--odmr",
		    "--max-errors", "100", NULL);
		break;
	case 2:
		session_args(&a, "--auth", "password", NULL);
		env = env_far;
		break;
	case 3:
		session_args(&a, "--max-size", "1000", "--max-recipients", "2",
		    "--max-errors", "4", "--quota-tempfail", NULL);
		break;
	case 4:               /* STARTTLS offered when fuzz/run made a cert */
		session_args(&a, "--auth", "anonymous,password", "--tls",
		    "starttls", "--cert", f.cert, "--key", f.key, NULL);
		break;
	case 5:
		env = env_etrn;
		session_args(&a, "--max-errors", "100", NULL);
		break;
	case 6:
		session_args(&a, "--relay-clients", "198.51.100.0/24", NULL);
		env = env_far;
		break;
	}
	session_run(smtp_handler_main, a.v, env, data + 1, size - 1);
	return 0;
}
