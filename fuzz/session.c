/* session.c - the forked-child session runner of the session fuzz
 * targets (see session.h), plus two things that keep them fast:
 * crypt_r is wrapped so the dummy yescrypt verification of unknown users
 * (tens of milliseconds by design) is skipped, and the test users have a
 * cheap hash. Real hashes are still verified by libcrypt. */
#include <crypt.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cdb.h>

#include "fuzz.h"
#include "session.h"

#define CHILD_FAILED 86      /* exit status of a child with a report */
#define CHILD_SECONDS 20     /* a session longer than this is a hang */

/* sanitizer hooks (absent in a plain build) */
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

/* libFuzzer's coverage counters (inline 8-bit counters): the child's
 * are copied back through a shared page so the parent learns what the
 * session reached (absent in replay builds). */
extern uint8_t __start___sancov_cntrs[] __attribute__((weak));
extern uint8_t __stop___sancov_cntrs[] __attribute__((weak));
static uint8_t *shared_cntrs;
static size_t cntrs_len;

static void counters_setup(void)
{
	void *p;

	if (shared_cntrs || !__start___sancov_cntrs || !__stop___sancov_cntrs)
		return;
	cntrs_len = (size_t)(__stop___sancov_cntrs - __start___sancov_cntrs);
	if (cntrs_len == 0)
		return;
	p = mmap(NULL, cntrs_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	shared_cntrs = p;
}

static void counters_from_child(void)
{
	size_t i;

	if (!shared_cntrs)
		return;
	for (i = 0; i < cntrs_len; i++)
		if (shared_cntrs[i] > __start___sancov_cntrs[i])
			__start___sancov_cntrs[i] = shared_cntrs[i];
}

const char *__asan_default_options(void)
{
	return "exitcode=86:detect_leaks=1";
}

const char *__ubsan_default_options(void)
{
	return "exitcode=86:print_stacktrace=1";
}

char *crypt_r(const char *phrase, const char *setting,
    struct crypt_data *data)
{
	static char *(*real)(const char *, const char *, struct crypt_data *);

	if (setting && strncmp(setting, "$y$", 3) == 0) {
		/* only the dummy hash is yescrypt here: "no match" */
		strcpy(data->output, "*0");
		return data->output;
	}
	if (!real) {
		*(void **)&real = dlsym(RTLD_NEXT, "crypt_r");
		if (!real)
			abort();
	}
	return real(phrase, setting, data);
}

const char *session_hash(const char *pw)
{
	static struct crypt_data cd;
	static char hash[CRYPT_OUTPUT_SIZE];
	const char *h = crypt_r(pw, "$5$rounds=1000$fuzzsalt$", &cd);

	if (!h || h[0] == '*')
		abort();
	snprintf(hash, sizeof hash, "%s", h);
	return hash;
}

void session_cdb(const char *path, const char *const *lines)
{
	struct cdb_make cm;
	char tmp[SESSION_PATH + 8];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || cdb_make_start(&cm, fd) < 0)
		abort();
	for (; *lines; lines++) {
		const char *l = *lines, *v = l + strcspn(l, " \t");
		size_t klen = (size_t)(v - l);

		v += strspn(v, " \t");
		if (cdb_make_add(&cm, l, (unsigned)klen, v,
		    (unsigned)strlen(v)) < 0)
			abort();
	}
	if (cdb_make_finish(&cm) < 0 || close(fd) < 0 || rename(tmp, path) < 0)
		abort();
}

const char *session_pki(void)
{
	static char crt[SESSION_PATH];
	const char *d = getenv("POSTERN_FUZZ_PKI");

	if (!d || !d[0])
		return NULL;
	snprintf(crt, sizeof crt, "%s/tls.crt", d);
	return access(crt, R_OK) == 0 ? d : NULL;
}

void session_files(struct session_files *f, const char *name,
    const char *pw)
{
	const char *d = fuzz_scratch(name), *pki;

	snprintf(f->root, sizeof f->root, "%s", d);
	snprintf(f->users, sizeof f->users, "%s/users.cdb", d);
	snprintf(f->mail, sizeof f->mail, "%s/mail", d);
	f->hash = session_hash(pw);
	pki = session_pki();
	snprintf(f->cert, sizeof f->cert, "%s/tls.crt",
	    pki ? pki : "/nonexistent");
	snprintf(f->key, sizeof f->key, "%s/tls.key",
	    pki ? pki : "/nonexistent");
}

void session_args(struct session_argv *a, ...)
{
	va_list ap;
	char *s;

	va_start(ap, a);
	while ((s = va_arg(ap, char *)) != NULL) {
		if (a->n < 0 || a->n >= SESSION_ARGS - 1)
			abort();
		a->v[a->n++] = s;
	}
	va_end(ap);
	a->v[a->n] = NULL;
}

/* Leak checks cost about 20 ms per child: while fuzzing (coverage
 * counters present) every 8th run is checked, FUZZ_LEAKS=1 checks all;
 * replay builds check every run. */
static unsigned long runs;
static int check_leaks;
static pid_t session_child;      /* in the child: its own pid */

static void child_exit(int status, void *arg)
{
	(void)arg;
	fflush(NULL);
	if (getpid() != session_child)   /* a process the session forked */
		_exit(status);
	if (shared_cntrs)
		memcpy(shared_cntrs, __start___sancov_cntrs, cntrs_len);
	if (check_leaks && __lsan_do_recoverable_leak_check &&
	    __lsan_do_recoverable_leak_check() != 0)
		_exit(CHILD_FAILED);
	_exit(status);
}

void session_run(int (*entry)(int, char **), char **argv,
    const char *const *env, const uint8_t *in, size_t n)
{
	int argc = 0, status, in_fd, null_fd;
	pid_t pid;

	while (argv[argc])
		argc++;
	counters_setup();
	if (shared_cntrs)
		memset(shared_cntrs, 0, cntrs_len);
	check_leaks = !shared_cntrs || runs++ % 8 == 0 || getenv("FUZZ_LEAKS");
	in_fd = fuzz_memfd(in, n);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		session_child = getpid();
		signal(SIGALRM, SIG_DFL);
		alarm(CHILD_SECONDS);
		null_fd = open("/dev/null", O_RDWR);
		if (null_fd < 0 || dup2(in_fd, 0) < 0 ||
		    dup2(getenv("FUZZ_VERBOSE") ? 2 : null_fd, 1) < 0)
			_exit(CHILD_FAILED);
		if (!getenv("FUZZ_VERBOSE")) {
			int rep = dup(2);
			if (__sanitizer_set_report_fd && rep >= 0)
				__sanitizer_set_report_fd(
				    (void *)(long)rep);
			dup2(null_fd, 2);
		}
		close(in_fd);
		close(null_fd);
		setenv("POSTERN_LOG", "stderr", 1);
		setenv("POSTERN_ALLOW_ROOT", "1", 1);   /* fuzzing as root */
		for (; env && *env; env++)
			putenv((char *)*env);
		on_exit(child_exit, NULL);
		optind = 1;
		exit(entry(argc, argv));
	}
	close(in_fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			abort();
	counters_from_child();
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "session child killed by signal %d%s\n",
		    WTERMSIG(status), WTERMSIG(status) == SIGALRM ?
		    " (hang: longer than the alarm)" : "");
		abort();
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_FAILED) {
		fprintf(stderr, "session child reported an error\n");
		abort();
	}
}
