/* session.h - runs whole handler sessions in this process, one per fuzz
 * input: the handler's own sources are linked (fuzz/fuzz.mk renames its
 * main(), which is not used), the target parses each configuration's
 * options once with the handler's own parser, and for every input calls
 * the handler's session functions (pop3_session_begin/serve,
 * smtp_session_begin/serve) with the client's bytes on fd 0 (a memfd:
 * not a socket, so plaintext login is allowed as for any tester), fd 1 a
 * memfd that keeps the server's transcript, and fd 2 on /dev/null (the
 * handler's log; sanitizer reports go to the real stderr). No fork per
 * input: a crash, sanitizer report, leak or hang is the fuzzer's own.
 * session.c also wraps crypt_r (results kept; the dummy yescrypt hash
 * skipped) and fork (the detached flusher an ETRN starts is not
 * started); see there.
 *
 * The state-reset property: every FUZZ_RECHECK-th input (default 16 when
 * fuzzing, every input in replay builds; 0 = never) runs a second time
 * right after itself, and both transcripts must be equal once run-
 * specific text is masked (maildir unique names, the APOP timestamp, and
 * everything after the reply that starts TLS). FUZZ_TRANSCRIPTS=DIR
 * writes each input's masked transcript to DIR/HASH (HASH: FNV-1a of
 * the configuration's id and the input), so tests/t-session-reset.sh can
 * compare a session run
 * alone in a fresh process with the same session run after others. */
#ifndef POSTERN_FUZZ_SESSION_H
#define POSTERN_FUZZ_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_PATH 600
#define SESSION_ARGS 32

/* The files of one session target, under its scratch directory
 * (fuzz_scratch(name)): users.cdb, mail/, and the TLS certificate and
 * key of session_pki() ("/nonexistent/..." without one); hash is
 * session_hash() of the test users' password. */
struct session_files {
	char root[SESSION_PATH], users[SESSION_PATH], mail[SESSION_PATH];
	char cert[SESSION_PATH], key[SESSION_PATH];
	const char *hash;
};

/* A handler's argument vector, always NULL-terminated. */
struct session_argv {
	char *v[SESSION_ARGS];
	int n;
};

/* What one input runs: prepare() puts the files back as every session
 * starts from (mailboxes, spool, throttle state), then serve(config)
 * runs one whole session of the handler; id numbers the configuration
 * (it names the transcript with the input). env: "NAME=VALUE" strings
 * (NULL-terminated, may be NULL) set during the session. tls_mark: the
 * text of the reply after which the server speaks TLS (the transcript
 * is compared up to that line). */
struct session_case {
	void (*prepare)(void);
	void (*serve)(void *config);
	void *config;
	unsigned id;
	const char *const *env;
	const char *tls_mark;
};

/* A crypt(3) hash of pw (cheap SHA-256-crypt, 1000 rounds), static. */
const char *session_hash(const char *pw);

/* Writes a CDB at path from "KEY VALUE..." lines (NULL-terminated),
 * as `cdb -c -m` would from the text database. */
void session_cdb(const char *path, const char *const *lines);

/* A directory with tls.crt and tls.key (made by tests/mkcerts; named
 * by $POSTERN_FUZZ_PKI, which fuzz/run sets), or NULL: TLS variants
 * then run without a certificate. */
const char *session_pki(void);

/* Fills f for the target called name, its users' password pw. */
void session_files(struct session_files *f, const char *name,
    const char *pw);

/* Appends the strings up to NULL to a (zeroed at first); aborts if they
 * do not fit. */
void session_args(struct session_argv *a, ...) __attribute__((sentinel));

/* Once, before any session: opens the log as the handler ident would
 * (log_open, to stderr), ignores SIGPIPE as the handlers' main() does,
 * and keeps the real fds 0-2 to put back after each session. */
void session_init(const char *ident);

/* Runs c with in[0..n) as the client's bytes (see above for the
 * FUZZ_RECHECK property and FUZZ_TRANSCRIPTS). FUZZ_VERBOSE=1 leaves the
 * log on stderr and prints each transcript there. */
void session_run(const struct session_case *c, const uint8_t *in,
    size_t n);

#endif
