/* main.c - pop3-handler start-up: the connection fds (pipes, inetd
 * socket, systemd fd 3), the log, the options, the privilege drop around
 * one POP3 session (pop3_session.c), and the exit status. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "log.h"
#include "pop3.h"
#include "startup.h"

#define EX_USAGE_CODE 64

/* Static: struct pop3 holds the line buffers (tens of KiB). */
static struct pop3 session;
static struct pop3_opts opts;

int main(int argc, char **argv)
{
	struct pop3 *s = &session;
	const char *error = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (startup_fds() < 0)
		return 1;
	log_open("pop3-handler");
	rc = pop3_options(&opts, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : EX_USAGE_CODE;

	if (pop3_session_begin(s, &opts) < 0)
		return 1;
	if (opts.run_as && startup_drop_user(opts.run_as, &error) < 0) {
		log_msg(LOG_ERR, "cannot switch to user %s: %s", opts.run_as,
		    error ? error : strerror(errno));
		pop3_session_end(s);
		return 1;
	}
	if (startup_refuse_root(opts.allow_root, &error) < 0) {
		log_msg(LOG_ERR, "%s", error);
		pop3_session_end(s);
		return 1;
	}
	return pop3_session_serve(s);
}
