/* session.h - runs a whole handler session per fuzz input: the handler's
 * own sources are compiled with main() renamed (fuzz/fuzz.mk), and each
 * input is piped into a forked child as the client's bytes on fd 0 (a
 * memfd: not a socket, so plaintext login is allowed as for any tester),
 * replies to /dev/null. The child's crash, sanitizer report, leak or
 * hang (alarm) aborts the parent, so libFuzzer keeps the input. */
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

/* Runs entry(argc, argv) in a child with the input on fd 0 and env
 * ("NAME=VALUE", NULL-terminated, may be NULL) added. Aborts on any
 * failure of the child other than a normal exit. */
void session_run(int (*entry)(int, char **), char **argv,
    const char *const *env, const uint8_t *in, size_t n);

#endif
