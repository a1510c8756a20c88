/* smtp_session_fuzz.c - whole smtp-handler sessions, in this process
 * (session.h): input octet 0 picks a configuration (anonymous MX, AUTH
 * allowed with ODMR and CRAM-MD5, submission, small limits, STARTTLS, ETRN-permitted client,
 * relay client), the rest is what the client sends: commands, ESMTP
 * parameters, DATA and BDAT bodies, SASL lines. Each run starts from
 * empty maildirs, spool and throttle state, with the users of the golden
 * tests (password "secret"); the hold domain's host is a closed loopback
 * port so a permitted ETRN's flush fails at once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "session.h"
#include "smtp.h"

#define CONFIGS 7

static struct session_files f;
static char spool[SESSION_PATH], throttle[SESSION_PATH];
/* Static: struct session holds the recipients and line buffers
 * (hundreds of KiB). */
static struct session session;
static struct smtp_config cfgs[CONFIGS];
static const char *const *envs[CONFIGS];

/* Configuration k's options, parsed by smtp-handler's own parser, and
 * the environment its sessions see. */
static void configure(int k)
{
	static const char *const env_etrn[] = {
		"TCPREMOTEIP=192.0.2.7", NULL
	};
	static const char *const env_far[] = {
		"TCPREMOTEIP=198.51.100.9", NULL
	};
	struct session_argv a = { .n = 0 };

	session_args(&a, "smtp-handler", "--users", f.users, "--spool", spool,
	    "--throttle-file", throttle, "--hostname", "mx.test",
	    "--auth-delay", "0", "--timeout", "5", NULL);
	switch (k) {
	case 0:
		session_args(&a, "--max-errors", "100", NULL);
		break;
	case 1:               /* --odmr: ATRN and AUTH CRAM-MD5 too */
		session_args(&a, "--auth", "anonymous,password", "--odmr",
		    "--max-errors", "100", NULL);
		break;
	case 2:
		session_args(&a, "--auth", "password", NULL);
		envs[k] = env_far;
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
		envs[k] = env_etrn;
		session_args(&a, "--max-errors", "100", NULL);
		break;
	case 6:
		session_args(&a, "--relay-clients", "198.51.100.0/24", NULL);
		envs[k] = env_far;
		break;
	}
	optind = 0;
	if (options_parse(&cfgs[k], a.n, a.v) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char lines[8][SESSION_PATH + 200];
	const char *recs[24];
	int i = 0, l = 0;

	(void)argc;
	(void)argv;
	session_files(&f, "smtp", "secret");
	if (snprintf(spool, sizeof spool, "%s/spool", f.root) >=
	    (int)sizeof spool)
		abort();
	if (snprintf(throttle, sizeof throttle, "%s/throttle", f.root) >=
	    (int)sizeof throttle)
		abort();
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
	for (i = 0; i < CONFIGS; i++)
		configure(i);
	session_init("smtp-handler");
	return 0;
}

static void prepare(void)
{
	fuzz_empty_dir(f.mail);
	fuzz_empty_dir(spool);
	unlink(throttle);
	mkdir(f.mail, 0700);
	mkdir(spool, 0700);
}

static void serve(void *config)
{
	if (smtp_session_begin(&session, config) == 0)
		(void)smtp_session_serve(&session);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_case c = {
		.prepare = prepare, .serve = serve,
		.tls_mark = "Ready to start TLS"
	};
	unsigned k;

	if (size < 1 || size > 65536)
		return 0;
	if (!f.root[0])
		LLVMFuzzerInitialize(NULL, NULL);
	k = data[0] % CONFIGS;
	c.id = k;
	c.config = &cfgs[k];
	c.env = envs[k];
	session_run(&c, data + 1, size - 1);
	return 0;
}
