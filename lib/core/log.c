/* log.c - the log sink, chosen once per log_open(): the journal (spoken
 * directly), syslog(3), or "<N>"-prefixed lines on stderr.
 *
 * Why no libsystemd: linking it costs every connection ~1.2 ms and
 * ~1.5 MiB (LIBFACTS 0), and dlopen() would pay most of that on the first
 * log line. sd_journal_sendv() only sends one datagram in journald's
 * native protocol, which is small and stable (systemd's "Native Journal
 * Protocol" document): fields "KEY=value\n" in one AF_UNIX SOCK_DGRAM
 * datagram; a value containing '\n' is sent as "KEY\n", its length as a
 * 64-bit little-endian number, the bytes, then "\n". Our entries are
 * bounded (LOG_ENTRY_MAX), far below the datagram limit, so the
 * memfd-passing path for huge entries is never needed. */
#include "log.h"
#include "fsutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define LOG_LINE_MAX   2048	/* one formatted message or summary line */
#define LOG_ENTRY_MAX  8192	/* one journal datagram */
#define LOG_IDENT_MAX  32
#define LOG_KEY_MAX    64	/* journald's limit for a field name */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

enum sink {
	SINK_NONE,		/* log_open() not called yet */
	SINK_STDERR,		/* "<N>ident[pid]: message" */
	SINK_STDERR_JOURNAL,	/* "<N>message": stderr is a journal stream */
	SINK_JOURNAL,		/* native datagrams */
	SINK_SYSLOG
};

static enum sink log_sink = SINK_NONE;
static enum sink log_fallback = SINK_SYSLOG;	/* when a datagram fails */
static int log_debug_on;
static int log_syslog_open;
static int log_jfd = -1;
static struct sockaddr_un log_jaddr;
static socklen_t log_jaddr_len;
static char log_ident[LOG_IDENT_MAX] = "postern";

/* Replaces control characters (and DEL) by '?'; keeps '\n' if keep_nl. */
static void sanitize(char *s, size_t n, int keep_nl)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 || c == 0x7f) && !(keep_nl && c == '\n'))
			s[i] = '?';
	}
}

void log_sanitize(char *s, size_t n)
{
	sanitize(s, n, 0);
}

static const char *journal_path(void)
{
	const char *p = getenv("POSTERN_JOURNAL_SOCKET");
	return p && *p ? p : JOURNAL_SOCKET;
}

/* Prepares log_jfd and log_jaddr. With must_exist, fails unless the path
 * is a socket now. Returns 0 or -1. */
static int journal_prepare(int must_exist)
{
	const char *path = journal_path();
	size_t len = strlen(path);
	struct stat st;

	if (len >= sizeof log_jaddr.sun_path)
		return -1;
	if (must_exist && (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)))
		return -1;
	log_jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_jfd < 0)
		return -1;
	memset(&log_jaddr, 0, sizeof log_jaddr);
	log_jaddr.sun_family = AF_UNIX;
	memcpy(log_jaddr.sun_path, path, len + 1);
	log_jaddr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

/* Set by startup_fds() (log_set_stderr_is_client): fd 2 was the
 * client's connection. log asks nobody; it is told. */
static int stderr_was_client;

void log_set_stderr_is_client(int yes)
{
	stderr_was_client = yes != 0;
}

/* 1 if fd 2 can take our lines: open, not /dev/null, not the client. */
static int stderr_usable(void)
{
	struct stat st;

	if (stderr_was_client)
		return 0;
	if (fstat(2, &st) < 0)
		return 0;
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return 0;
	return 1;
}

/* 1 if $JOURNAL_STREAM ("dev:ino") names the file fd 2 is. */
static int stderr_is_journal_stream(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char *end;
	struct stat st;

	if (!js || !*js)
		return 0;
	errno = 0;
	dev = strtoull(js, &end, 10);
	if (errno || end == js || *end != ':')
		return 0;
	js = end + 1;
	ino = strtoull(js, &end, 10);
	if (errno || end == js || *end)
		return 0;
	if (fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static void set_ident(const char *ident)
{
	size_t n;

	if (!ident || !*ident)
		ident = "postern";
	n = strlen(ident);
	if (n >= sizeof log_ident)
		n = sizeof log_ident - 1;
	memcpy(log_ident, ident, n);
	log_ident[n] = '\0';
	sanitize(log_ident, n, 0);
	for (size_t i = 0; i < n; i++)
		if (log_ident[i] == ' ' || log_ident[i] == '[' || log_ident[i] == ':')
			log_ident[i] = '_';
}

void log_open(const char *ident)
{
	const char *force = getenv("POSTERN_LOG");
	int usable, stream;

	set_ident(ident);
	if (log_jfd >= 0) {
		close(log_jfd);
		log_jfd = -1;
	}
	if (log_syslog_open) {
		closelog();
		log_syslog_open = 0;
	}
	usable = stderr_usable();
	stream = usable && stderr_is_journal_stream();
	log_fallback = !usable ? SINK_SYSLOG
		: stream ? SINK_STDERR_JOURNAL : SINK_STDERR;

	if (force && strcmp(force, "journal") == 0) {
		log_sink = journal_prepare(0) == 0 ? SINK_JOURNAL : log_fallback;
	} else if (force && strcmp(force, "syslog") == 0) {
		log_sink = SINK_SYSLOG;
	} else if (force && strcmp(force, "stderr") == 0 && usable) {
		log_sink = SINK_STDERR;
	} else if (!usable || stream) {
		log_sink = journal_prepare(1) == 0 ? SINK_JOURNAL : log_fallback;
	} else {
		log_sink = SINK_STDERR;
	}
	if (log_sink == SINK_SYSLOG || log_fallback == SINK_SYSLOG) {
		openlog(log_ident, LOG_PID, LOG_MAIL);
		log_syslog_open = 1;
	}
}

void log_set_debug(int on)
{
	log_debug_on = on;
}

/* Appends n bytes to buf[*len] if they fit; returns 0 or -1. */
static int put(char *buf, size_t *len, const void *p, size_t n)
{
	if (n > LOG_ENTRY_MAX - *len)
		return -1;
	memcpy(buf + *len, p, n);
	*len += n;
	return 0;
}

/* Appends one field; a value with '\n' uses the binary length form.
 * The whole field or nothing is appended. */
static int put_field(char *buf, size_t *len, const char *key, size_t klen,
		     const char *val, size_t vlen)
{
	size_t start = *len;
	int rc;

	if (memchr(val, '\n', vlen)) {
		unsigned char le[8];
		uint64_t v = vlen;
		for (int i = 0; i < 8; i++, v >>= 8)
			le[i] = (unsigned char)(v & 0xff);
		rc = put(buf, len, key, klen) | put(buf, len, "\n", 1) |
		     put(buf, len, le, 8) | put(buf, len, val, vlen) |
		     put(buf, len, "\n", 1);
	} else {
		rc = put(buf, len, key, klen) | put(buf, len, "=", 1) |
		     put(buf, len, val, vlen) | put(buf, len, "\n", 1);
	}
	if (rc)
		*len = start;
	return rc ? -1 : 0;
}

/* journald's rule: A-Z, 0-9, '_', not starting with '_' or a digit. */
static int key_valid(const char *k, size_t n)
{
	if (n == 0 || n > LOG_KEY_MAX || k[0] == '_' || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') ||
		      k[i] == '_'))
			return 0;
	return 1;
}

static int reserved_key(const char *k, size_t n)
{
	static const char *const own[] = { "MESSAGE", "PRIORITY",
		"SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID" };
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strlen(own[i]) == n && memcmp(own[i], k, n) == 0)
			return 1;
	return 0;
}

/* Sends one entry; returns 0 or -1 (caller falls back to text). */
static int journal_send(int prio, const char *line, const char *const *fields)
{
	char buf[LOG_ENTRY_MAX], num[32], val[LOG_LINE_MAX];
	size_t len = 0;
	ssize_t w;
	int n;

	if (log_jfd < 0)
		return -1;
	if (put_field(buf, &len, "MESSAGE", 7, line, strlen(line)) < 0)
		return -1;
	n = snprintf(num, sizeof num, "%d", prio);
	put_field(buf, &len, "PRIORITY", 8, num, (size_t)n);
	put_field(buf, &len, "SYSLOG_FACILITY", 15, "2", 1);	/* mail */
	put_field(buf, &len, "SYSLOG_IDENTIFIER", 17, log_ident, strlen(log_ident));
	n = snprintf(num, sizeof num, "%ld", (long)getpid());
	put_field(buf, &len, "SYSLOG_PID", 10, num, (size_t)n);
	for (; fields && *fields; fields++) {
		const char *eq = strchr(*fields, '=');
		size_t klen, vlen;
		if (!eq)
			continue;
		klen = (size_t)(eq - *fields);
		if (!key_valid(*fields, klen) || reserved_key(*fields, klen))
			continue;
		vlen = strlen(eq + 1);
		if (vlen >= sizeof val)
			vlen = sizeof val - 1;
		memcpy(val, eq + 1, vlen);
		sanitize(val, vlen, 1);
		for (size_t i = 0; i < vlen; i++)	/* keep tabs readable */
			if (eq[1 + i] == '\t')
				val[i] = '\t';
		put_field(buf, &len, *fields, klen, val, vlen);
	}
	do
		w = sendto(log_jfd, buf, len, MSG_NOSIGNAL,
			   (const struct sockaddr *)&log_jaddr, log_jaddr_len);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)len ? 0 : -1;
}

static void emit_text(enum sink sink, int prio, const char *line)
{
	char out[LOG_LINE_MAX + LOG_IDENT_MAX + 48];
	int n;

	switch (sink) {
	case SINK_SYSLOG:
		syslog(prio, "%s", line);
		return;
	case SINK_STDERR_JOURNAL:
		n = snprintf(out, sizeof out, "<%d>%s\n", prio, line);
		break;
	default:
		n = snprintf(out, sizeof out, "<%d>%s[%ld]: %s\n", prio,
			     log_ident, (long)getpid(), line);
		break;
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {
		n = (int)sizeof out - 1;
		out[n - 1] = '\n';
	}
	/* fsutil_write_all() only calls write(2): it never logs. A failed
	 * write to stderr has nowhere to be reported. */
	(void)fsutil_write_all(2, out, (size_t)n);
}

static void emit(int prio, const char *line, const char *const *fields)
{
	if (log_sink == SINK_JOURNAL) {
		if (journal_send(prio, line, fields) == 0)
			return;
		if (log_fallback == SINK_SYSLOG && !log_syslog_open) {
			openlog(log_ident, LOG_PID, LOG_MAIL);
			log_syslog_open = 1;
		}
		emit_text(log_fallback, prio, line);
		return;
	}
	emit_text(log_sink, prio, line);
}

static int wanted(int *prio)
{
	*prio &= LOG_PRIMASK;
	if (*prio == LOG_DEBUG && !log_debug_on)
		return 0;
	if (log_sink == SINK_NONE)
		log_open(program_invocation_short_name);
	return 1;
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	int saved = errno, n;
	va_list ap;

	if (!wanted(&prio)) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		line[0] = '\0';
	sanitize(line, strlen(line), 0);
	emit(prio, line, NULL);
	errno = saved;
}

/* Appends s to line[*len], NUL-terminated, truncating at the end. */
static void line_add(char *line, size_t *len, const char *s, size_t n)
{
	if (n > LOG_LINE_MAX - 1 - *len)
		n = LOG_LINE_MAX - 1 - *len;
	memcpy(line + *len, s, n);
	*len += n;
	line[*len] = '\0';
}

void log_fields(int prio, const char *msg, const char *const *fields)
{
	char line[LOG_LINE_MAX];
	size_t len = 0;
	int saved = errno;

	if (!wanted(&prio)) {
		errno = saved;
		return;
	}
	line[0] = '\0';
	line_add(line, &len, msg ? msg : "", msg ? strlen(msg) : 0);
	for (const char *const *f = fields; f && *f; f++) {
		const char *eq = strchr(*f, '=');
		line_add(line, &len, " ", 1);
		/* KEY="value with blanks" keeps the line parseable */
		if (eq && eq[1] && strpbrk(eq + 1, " \t\"")) {
			line_add(line, &len, *f, (size_t)(eq - *f) + 1);
			line_add(line, &len, "\"", 1);
			for (const char *v = eq + 1; *v; v++)
				line_add(line, &len, *v == '"' ? "'" : v, 1);
			line_add(line, &len, "\"", 1);
		} else {
			line_add(line, &len, *f, strlen(*f));
		}
	}
	sanitize(line, len, 0);
	emit(prio, line, fields);
	errno = saved;
}
