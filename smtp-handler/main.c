/* main.c - smtp-handler: serves one SMTP connection on stdin/stdout (or
 * the socket systemd passes as fd 3). The shell around one session
 * (session.c): the connection fds, the log, the options, the privilege
 * drop and the exit status. */
#include <signal.h>

#include "log.h"
#include "smtp.h"

/* Static: struct session holds the recipients and line buffers
 * (hundreds of KiB). */
static struct smtp_config cfg;
static struct session sess;

int
main(int argc, char **argv)
{
	struct session *s = &sess;
	const char *err = NULL;
	int rc;

	if (startup_fds() < 0)
		return 1;
	log_open("smtp-handler");
	signal(SIGPIPE, SIG_IGN);
	rc = options_parse(&cfg, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 64;
	if (smtp_session_begin(s, &cfg) < 0)
		return 1;
	if (startup_drop_user(cfg.run_user, &err) < 0) {
		log_msg(LOG_ERR, "--user %s: %s", cfg.run_user ? cfg.run_user : "",
		    err ? err : "failed");
		smtp_session_end(s);
		return 1;
	}
	if (startup_refuse_root(cfg.allow_root, &err) < 0) {
		log_msg(LOG_ERR, "%s", err);
		smtp_session_end(s);
		return 1;
	}
	return smtp_session_serve(s);
}
