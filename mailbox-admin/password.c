/* password.c - reading a new password without echo or argv, and hashing
 * it with crypt_gensalt_ra() + crypt_r(). */
#include "password.h"
#include "admin.h"
#include "util.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_changed;

const char *
password_prefix(const char *scheme)
{
	if (scheme == NULL || strcmp(scheme, "yescrypt") == 0)
		return "$y$";
	if (strcmp(scheme, "sha512crypt") == 0)
		return "$6$";
	if (strcmp(scheme, "bcrypt") == 0)
		return "$2b$";
	die(EX_USAGE, "unknown --scheme '%.40s' (yescrypt, sha512crypt or "
	    "bcrypt)", scheme);
}

/* Reads one line from fd into buf[PASSWORD_MAX] (without the newline,
 * and without a CR before it). Returns the length, -1 on EOF before any
 * byte, -2 when too long, -3 on a NUL byte or read error. */
static int
read_line(int fd, char *buf)
{
	size_t n = 0;
	int too_long = 0, nul = 0, any = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -3;
		if (r == 0) {
			if (!any)
				return -1;
			break;
		}
		any = 1;
		if (c == '\n')
			break;
		if (c == '\0')
			nul = 1;
		if (n + 1 < PASSWORD_MAX)
			buf[n++] = c;
		else
			too_long = 1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (nul)
		return -3;
	return too_long ? -2 : (int)n;
}

static void
tty_restore(void)
{
	if (tty_changed) {
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_changed = 0;
	}
}

static void
on_signal(int sig)
{
	tty_restore();
	(void)!write(tty_fd, "\n", 1);
	_exit(128 + sig);
}

static int
tty_ask(const char *prompt, char *buf)
{
	struct termios t;
	struct sigaction sa;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	size_t i;
	int r;

	if (tcgetattr(tty_fd, &tty_saved) < 0)
		die(EX_USAGE, "/dev/tty: %s; use --password-stdin",
		    strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	t.c_lflag |= ECHONL | ICANON;
	tty_changed = 1;
	if (tcsetattr(tty_fd, TCSAFLUSH, &t) < 0)
		die(EX_IOERR, "/dev/tty: %s", strerror(errno));
	/* the prompt after the flush, so that an early answer is kept */
	(void)!write(tty_fd, prompt, strlen(prompt));
	r = read_line(tty_fd, buf);
	tty_restore();
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	return r;
}

static void
bad_read(int r, const char *where, char *pw)
{
	wipe(pw, PASSWORD_MAX);
	if (r == -1)
		die(EX_DATAERR, "no password on %s", where);
	if (r == -2)
		die(EX_DATAERR, "password too long (at most %d octets)",
		    PASSWORD_MAX - 1);
	die(EX_DATAERR, "unreadable password on %s (NUL byte or read error)",
	    where);
}

void
password_new(int from_stdin, const char *prefix, char *hash, size_t size)
{
	static struct crypt_data cd;
	static char pw[PASSWORD_MAX], again[PASSWORD_MAX];
	char *setting, *h;
	int r, r2;

	if (from_stdin) {
		r = read_line(0, pw);
		if (r < 0)
			bad_read(r, "standard input", pw);
	} else {
		tty_fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (tty_fd < 0)
			die(EX_USAGE, "no terminal to ask for the password "
			    "(%s); use --password-stdin", strerror(errno));
		r = tty_ask("New password: ", pw);
		if (r < 0)
			bad_read(r, "the terminal", pw);
		r2 = tty_ask("Retype new password: ", again);
		if (r2 < 0) {
			wipe(pw, sizeof pw);
			bad_read(r2, "the terminal", again);
		}
		if (r != r2 || !ct_equal(pw, again, (size_t)r)) {
			wipe(pw, sizeof pw);
			wipe(again, sizeof again);
			die(EX_DATAERR, "the passwords do not match; nothing "
			    "changed");
		}
		wipe(again, sizeof again);
		close(tty_fd);
		tty_fd = -1;
	}
	if (r == 0)
		die(EX_DATAERR, "empty password refused");
	setting = crypt_gensalt_ra(prefix, 0, NULL, 0);
	if (setting == NULL) {
		wipe(pw, sizeof pw);
		die(EX_SOFTWARE, "crypt_gensalt(%s): %s", prefix,
		    strerror(errno));
	}
	memset(&cd, 0, sizeof cd);
	h = crypt_r(pw, setting, &cd);
	wipe(pw, sizeof pw);
	free(setting);
	if (h == NULL || h[0] == '*' || copy_str(hash, size, h) < 0) {
		wipe(&cd, sizeof cd);
		die(EX_SOFTWARE, "crypt failed for scheme %s", prefix);
	}
	wipe(&cd, sizeof cd);
}
