/* pop3_session_fuzz.c - whole pop3-handler sessions, in this process
 * (session.h): input octet 0 picks a configuration, the rest is what the
 * client sends (commands, SASL lines, a TLS ClientHello after STLS...).
 * Each run gets a fresh mailbox for alice@example.org (password "pw")
 * with a message in cur/, one needing dot-stuffing, one without ,S=/,W=
 * and without a final newline, and one with a long name; the other users
 * are locked, nopop3, disabled, APOP-enabled and empty, as in the golden
 * tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "pop3.h"
#include "session.h"

#define CONFIGS 4

static struct session_files f;
static char throttle[SESSION_PATH];
/* Static: struct pop3 holds the line buffers (tens of KiB). */
static struct pop3 session;
static struct pop3_opts opts[CONFIGS];

static const struct {
	const char *dir, *name, *text;
} msgs[] = {
	{ "cur", "1700000001.M1P100Q1.fuzz,S=47,W=51:2,S",
	  "From: a@example.net\nSubject: one\n\nHello Alice.\n" },
	{ "new", "1700000002.M2P100Q1.fuzz,S=42,W=48",
	  "Subject: dots\n\n.leading dot\n..two\n.\nafter\n" },
	{ "new", "1700000003.M3P100Q1.fuzz",
	  "Subject: no size\n\nno final newline" },
	{ "new", "1700000004.M4P100Q1.a-rather-long-host-name-that-makes-"
	  "the-uidl-too-long.example,S=12,W=14", "Subject: 4\n\n" },
};

/* Configuration k's options, parsed by pop3-handler's own parser. */
static void configure(int k)
{
	struct session_argv a = { .n = 0 };

	session_args(&a, "pop3-handler", "--users", f.users,
	    "--throttle-file", throttle, "--hostname", "fuzz.test",
	    "--fail-delay", "0", "--timeout", "5", NULL);
	switch (k) {
	case 0:
		session_args(&a, "--max-errors", "100", NULL);
		break;
	case 1:
		session_args(&a, "--max-errors", "3", NULL);
		break;
	case 2:               /* STLS offered when fuzz/run made a cert */
		session_args(&a, "--tls", "starttls", "--cert", f.cert,
		    "--key", f.key, NULL);
		break;
	case 3:
		session_args(&a, "--allow-plaintext-auth", "--debug", NULL);
		break;
	}
	optind = 0;
	if (pop3_options(&opts[k], a.n, a.v) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char lines[8][SESSION_PATH + 200];
	const char *recs[10];
	int i = 0;

	(void)argc;
	(void)argv;
	session_files(&f, "pop3", "pw");
	if (snprintf(throttle, sizeof throttle, "%s/throttle", f.root) >=
	    (int)sizeof throttle)
		abort();
	recs[i++] = "example.org domain";
#define USER(name, opts) \
	snprintf(lines[i], sizeof lines[i], "%s@example.org %s %s/%s %s", \
	    name, f.hash, f.mail, name, opts), recs[i] = lines[i], i++
	USER("alice", "");
	USER("bob", "locked");
	USER("carol", "nopop3");
	USER("erin", "apop=tanstaafl");
	USER("empty", "");
#undef USER
	snprintf(lines[i], sizeof lines[i], "dave@example.org !%s %s/dave",
	    f.hash, f.mail);
	recs[i] = lines[i];
	i++;
	recs[i] = NULL;
	session_cdb(f.users, recs);
	for (i = 0; i < CONFIGS; i++)
		configure(i);
	session_init("pop3-handler");
	return 0;
}

static void reset_mailbox(void)
{
	char path[SESSION_PATH + 300];
	size_t i;

	fuzz_empty_dir(f.mail);
	rmdir(f.mail);
	unlink(throttle);
	mkdir(f.mail, 0700);
	snprintf(path, sizeof path, "%s/alice", f.mail);
	mkdir(path, 0700);
	for (i = 0; i < 3; i++) {
		static const char *const sub[] = { "tmp", "new", "cur" };
		snprintf(path, sizeof path, "%s/alice/%s", f.mail, sub[i]);
		mkdir(path, 0700);
	}
	for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		snprintf(path, sizeof path, "%s/alice/%s/%s", f.mail,
		    msgs[i].dir, msgs[i].name);
		fuzz_write_file(path, msgs[i].text, strlen(msgs[i].text));
	}
}

static void serve(void *config)
{
	if (pop3_session_begin(&session, config) == 0)
		(void)pop3_session_serve(&session);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_case c = {
		.prepare = reset_mailbox, .serve = serve,
		.tls_mark = "Begin TLS negotiation"
	};

	if (size < 1 || size > 65536)
		return 0;
	if (!f.root[0])
		LLVMFuzzerInitialize(NULL, NULL);
	c.id = data[0] % CONFIGS;
	c.config = &opts[c.id];
	session_run(&c, data + 1, size - 1);
	return 0;
}
