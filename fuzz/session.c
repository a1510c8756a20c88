/* session.c - the in-process session runner of the session fuzz
 * targets (see session.h), plus three things that keep them fast:
 * crypt_r is wrapped so the dummy yescrypt verification of unknown users
 * (tens of milliseconds by design) is skipped, and the test users have a
 * cheap hash (real hashes are still verified by libcrypt); fork() is
 * wrapped so that the hold-queue flusher a permitted ETRN starts
 * (lib/holdflush.c, a detached process that outlives the session) is not
 * started: the caller sees a child that was reaped already, as when
 * SIGCHLD is ignored. A flusher would copy the fuzzer's whole memory,
 * outlive the input and race with the next input's fresh spool; it is
 * tested by its own tests (t-etrn-*, fuzz/smtpc). */
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
#include <sys/stat.h>
#include <unistd.h>
#include <cdb.h>

#include "fuzz.h"
#include "log.h"
#include "session.h"

#define TRANSCRIPT_MAX (8u << 20)   /* compared and kept up to this */
#define ENV_MAX 8

/* sanitizer hook (absent in a plain build) */
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));
/* libFuzzer's coverage counters: present only in fuzzing builds */
extern uint8_t __start___sancov_cntrs[] __attribute__((weak));

pid_t fork(void)
{
	return getpid();      /* waitpid() on it fails with ECHILD */
}

/* crypt(3) is a pure function of (phrase, setting): the last few
 * results are kept, so the fuzzer's thousands of logins with the test
 * password cost one real hash each. */
#define CRYPT_MEMO 4
#define CRYPT_MEMO_LEN 128

char *crypt_r(const char *phrase, const char *setting,
    struct crypt_data *data)
{
	static char *(*real)(const char *, const char *, struct crypt_data *);
	static struct {
		char phrase[CRYPT_MEMO_LEN], setting[CRYPT_MEMO_LEN];
		char output[CRYPT_OUTPUT_SIZE];
	} memo[CRYPT_MEMO];
	static unsigned next;
	char *out;
	unsigned i;

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
	if (!phrase || !setting || strlen(phrase) >= CRYPT_MEMO_LEN ||
	    strlen(setting) >= CRYPT_MEMO_LEN)
		return real(phrase, setting, data);
	for (i = 0; i < CRYPT_MEMO; i++)
		if (memo[i].output[0] && strcmp(memo[i].phrase, phrase) == 0 &&
		    strcmp(memo[i].setting, setting) == 0) {
			strcpy(data->output, memo[i].output);
			return data->output;
		}
	out = real(phrase, setting, data);
	if (out && out[0] != '*' && strlen(out) < CRYPT_OUTPUT_SIZE) {
		i = next++ % CRYPT_MEMO;
		strcpy(memo[i].phrase, phrase);
		strcpy(memo[i].setting, setting);
		strcpy(memo[i].output, out);
	}
	return out;
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

static int saved_fd[3] = { -1, -1, -1 };  /* the real fds 0, 1, 2 */
static int null_fd = -1, in_fd = -1, out_fd = -1;
static char *transcript, *masks[2];     /* TRANSCRIPT_MAX each */
static int verbose;
static unsigned long recheck_every, runs;
static char env_names[ENV_MAX][64];
static size_t n_env;

static int keep_fd(int fd)
{
	int k = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	if (k < 0)
		abort();
	return k;
}

void session_init(const char *ident)
{
	const char *e;
	int i;

	if (null_fd >= 0)
		return;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	/* fuzzing (libFuzzer's coverage counters present): every 16th
	 * input is checked; a replay build checks every input */
	e = getenv("FUZZ_RECHECK");
	recheck_every = e ? strtoul(e, NULL, 10) :
	    __start___sancov_cntrs ? 16 : 1;
	for (i = 0; i < 3; i++)
		saved_fd[i] = keep_fd(i);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	in_fd = memfd_create("input", MFD_CLOEXEC);
	out_fd = memfd_create("transcript", MFD_CLOEXEC);
	/* allocated once: the fuzzer counts each input's allocations (a
	 * surplus triggers its leak check); pages are touched only as far
	 * as transcripts fill them */
	transcript = malloc(TRANSCRIPT_MAX);
	masks[0] = malloc(TRANSCRIPT_MAX);
	masks[1] = malloc(TRANSCRIPT_MAX);
	if (null_fd < 0 || in_fd < 0 || out_fd < 0 || !transcript ||
	    !masks[0] || !masks[1])
		abort();
	/* reports while fd 2 is /dev/null go to the real stderr */
	if (__sanitizer_set_report_fd)
		__sanitizer_set_report_fd((void *)(long)saved_fd[2]);
	signal(SIGPIPE, SIG_IGN);
	/* the log's sink is chosen now, while fd 2 is a plain file (neither
	 * /dev/null nor a journal stream): "<N>" lines on fd 2, whatever the
	 * real stderr is, never syslog */
	setenv("POSTERN_LOG", "stderr", 1);
	if (!verbose && dup2(out_fd, 2) < 0)
		abort();
	log_open(ident);
	if (dup2(saved_fd[2], 2) < 0)
		abort();
}

static void io_begin(const struct session_case *c, const uint8_t *in,
    size_t n)
{
	const char *const *e;
	size_t done = 0;

	/* the input at offset 0 of a file of exactly its length */
	if (ftruncate(in_fd, 0) < 0)
		abort();
	while (done < n) {
		ssize_t w = pwrite(in_fd, in + done, n - done, (off_t)done);

		if (w <= 0)
			abort();
		done += (size_t)w;
	}
	if (lseek(in_fd, 0, SEEK_SET) != 0 || ftruncate(out_fd, 0) < 0 ||
	    lseek(out_fd, 0, SEEK_SET) != 0 || dup2(in_fd, 0) < 0 ||
	    dup2(out_fd, 1) < 0 || (!verbose && dup2(null_fd, 2) < 0))
		abort();
	n_env = 0;
	for (e = c->env; e && *e; e++) {
		size_t k = strcspn(*e, "=");

		if (n_env == ENV_MAX || k >= sizeof env_names[0] || !(*e)[k])
			abort();
		memcpy(env_names[n_env], *e, k);
		env_names[n_env][k] = '\0';
		if (setenv(env_names[n_env], *e + k + 1, 1) < 0)
			abort();
		n_env++;
	}
}

static void io_end(void)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (dup2(saved_fd[i], (int)i) < 0)
			abort();
	for (i = 0; i < n_env; i++)
		unsetenv(env_names[i]);
}

/* Length of a maildir unique name at p (digits, ".M", digits, "P",
 * digits, "Q", digits, ".", host), or 0. */
static size_t unique_len(const char *p, const char *end)
{
	static const char marks[] = "MPQ";
	const char *q = p;
	size_t d = 0, m;

	while (q < end && *q >= '0' && *q <= '9')
		q++, d++;
	if (d < 9 || q >= end || *q++ != '.')
		return 0;
	for (m = 0; m < 3; m++) {
		if (q >= end || *q++ != marks[m])
			return 0;
		d = 0;
		while (q < end && *q >= '0' && *q <= '9')
			q++, d++;
		if (d == 0)
			return 0;
	}
	if (q >= end || *q++ != '.')
		return 0;
	while (q < end && (*q == '.' || *q == '-' || *q == '\\' ||
	    (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
	    (*q >= 'A' && *q <= 'Z')))
		q++;
	return (size_t)(q - p);
}

/* Length of an APOP timestamp "<pid.sec.usec@" at p, up to its '>', or
 * 0. */
static size_t stamp_len(const char *p, const char *end)
{
	const char *q = p + 1;
	int dots = 0;

	if (*p != '<')
		return 0;
	while (q < end && ((*q >= '0' && *q <= '9') || *q == '.'))
		dots += *q++ == '.';
	if (dots != 2 || q >= end || *q != '@')
		return 0;
	while (q < end && *q != '>' && *q != '\r')
		q++;
	return q < end && *q == '>' ? (size_t)(q + 1 - p) : 0;
}

/* Length of a CRAM-MD5 challenge line's text "334 PD...", the base64 of
 * "<random.time@host>", at p when p starts a line; 0 otherwise (and for
 * anything too short to be one). */
static size_t challenge_len(const char *t, const char *p, const char *end)
{
	const char *q = p + 6;

	if ((p != t && p[-1] != '\n') || end - p < 6 || memcmp(p, "334 PD", 6))
		return 0;
	while (q < end && ((*q >= '0' && *q <= '9') || (*q >= 'a' &&
	    *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '+' ||
	    *q == '/' || *q == '='))
		q++;
	return q - p > 12 ? (size_t)(q - p) : 0;
}

/* The transcript with run-specific text masked, cut after the line
 * that holds tls_mark, into out[TRANSCRIPT_MAX] (masking only shortens:
 * unique names, APOP timestamps, CRAM-MD5 challenges);
 * returns its length. */
static size_t masked(const char *t, size_t n, const char *tls_mark,
    char *out)
{
	const char *end = t + n, *p = t;
	size_t o = 0, k;

	if (tls_mark) {
		const char *m = memmem(t, n, tls_mark, strlen(tls_mark));
		const char *nl = m ? memchr(m, '\n', (size_t)(end - m)) : NULL;

		if (m)
			end = nl ? nl + 1 : end;
	}
	while (p < end) {
		if ((k = unique_len(p, end)) != 0) {
			memcpy(out + o, "UNIQUE", 6);   /* k > 6 */
			o += 6;
		} else if ((k = challenge_len(t, p, end)) != 0) {
			memcpy(out + o, "334 <CRAM>", 10);  /* k > 12 */
			o += 10;
		} else if ((k = stamp_len(p, end)) != 0) {
			memcpy(out + o, "<TS>", 4);     /* k > 4 */
			o += 4;
		} else {
			out[o++] = *p;
			k = 1;
		}
		p += k;
	}
	return o;
}

/* One session: returns the masked transcript in out[]. */
static size_t run_once(const struct session_case *c, const uint8_t *in,
    size_t n, char *out)
{
	ssize_t r;

	c->prepare();
	io_begin(c, in, n);
	c->serve(c->config);
	io_end();
	r = pread(out_fd, transcript, TRANSCRIPT_MAX, 0);
	if (r < 0)
		abort();
	if (verbose) {
		fprintf(stderr, "--- transcript (%zd bytes)\n", r);
		fwrite(transcript, 1, (size_t)r, stderr);
		fprintf(stderr, "\n--- end\n");
	}
	return masked(transcript, (size_t)r, c->tls_mark, out);
}

static void save_transcript(const struct session_case *c,
    const uint8_t *in, size_t n, const char *t, size_t len)
{
	const char *dir = getenv("FUZZ_TRANSCRIPTS");
	char path[SESSION_PATH + 32];
	uint64_t h = 14695981039346656037ull;
	size_t i;

	if (!dir || !dir[0])
		return;
	h = (h ^ (c->id & 0xff)) * 1099511628211ull;
	for (i = 0; i < n; i++)
		h = (h ^ in[i]) * 1099511628211ull;
	snprintf(path, sizeof path, "%s/%016llx", dir, (unsigned long long)h);
	fuzz_write_file(path, t, len);
}

void session_run(const struct session_case *c, const uint8_t *in,
    size_t n)
{
	char *first = masks[0], *again = masks[1];
	size_t a, b;

	a = run_once(c, in, n, first);
	save_transcript(c, in, n, first, a);
	if (!recheck_every || ++runs % recheck_every != 0)
		return;
	/* the state-reset property: the same session once more, right
	 * after itself, says exactly the same */
	b = run_once(c, in, n, again);
	if (a != b || memcmp(first, again, a) != 0) {
		size_t i = 0;

		while (i < a && i < b && first[i] == again[i])
			i++;
		fprintf(stderr, "session transcripts differ at byte %zu "
		    "(%zu and %zu bytes):\n--- first run:\n%.*s\n--- "
		    "second run:\n%.*s\n", i, a, b, (int)a, first,
		    (int)b, again);
	}
	FUZZ_CHECK(a == b && memcmp(first, again, a) == 0);
}
