/* log.h - where a program's log lines go: the journal (when running
 * under systemd and fd 2 is the journal stream or the client's socket),
 * else syslog when fd 2 is the client's socket, else "<N>"-prefixed
 * lines on stderr (readable by tests, multilog and humans).
 * Never writes to a stderr that is the client's connection.
 * $POSTERN_JOURNAL_SOCKET overrides the journal socket path (tests).
 * $POSTERN_LOG=journal|syslog|stderr forces a sink (tests, debugging);
 * "stderr" is ignored when fd 2 is the client's connection or unusable.
 * The journal is spoken directly (native datagram protocol), so neither
 * libsystemd nor dlopen is needed; a failed datagram falls back to the
 * stderr line (or syslog when stderr is not usable). */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stddef.h>
#include <syslog.h>

/* ident: program name for syslog/journal. Call once, early (before the
 * first log line), after the connection fds are final. Calling it again
 * re-chooses the sink (tests). log_msg() before log_open() opens with
 * the program's name. */
void log_open(const char *ident);

/* Tells log that fd 2 was the client's connection (startup_fds() calls
 * it when it points fd 2 at /dev/null): no stderr sink then, even when
 * $POSTERN_LOG asks for one. Call it before log_open(). */
void log_set_stderr_is_client(int yes);

/* Set by -v/--debug style options: LOG_DEBUG lines are dropped unless
 * enabled. */
void log_set_debug(int on);

/* One log line (no trailing newline needed). prio: LOG_ERR ... LOG_DEBUG.
 * Control characters in the result are replaced by '?', so client text can
 * be logged safely. */
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same replacement for text printed elsewhere (a terminal, a
 * program's stdout): every control character (C0, including CR, LF,
 * ESC and BEL, and DEL) in s[0..n) becomes '?'. */
void log_sanitize(char *s, size_t n);

/* A session summary: one entry with structured fields where the journal
 * is reachable (fields given as "KEY=value" strings, NULL-terminated),
 * else the same content as one line "msg KEY=value KEY=value". */
void log_fields(int prio, const char *msg, const char *const *fields);

#endif
