/* commands.c - the SMTP command table {verb, allowed states, check,
 * proceed}, the dispatcher that looks a line up and writes the reply a
 * handler returns, enter_state(), and the small commands (HELO, EHLO,
 * RSET, NOOP, QUIT, VRFY, HELP, STARTTLS, ETRN). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "etrn.h"
#include "log.h"
#include "odmr.h"
#include "smtp.h"
#include "util.h"

struct command {
	const char *verb;
	unsigned states;            /* where it is allowed */
	enum reply wrong_state;     /* reply when it is not */
	/* check: validates; returns R_NONE to go on, or the error reply */
	enum reply (*check)(struct session *, char *args);
	/* proceed: does the work; returns the reply (R_NONE: wrote it) */
	enum reply (*proceed)(struct session *, char *args);
};

static const char *
state_name(unsigned st)
{
	switch (st) {
	case ST_INIT: return "INIT";
	case ST_READY: return "READY";
	case ST_MAIL: return "MAIL";
	case ST_RCPT: return "RCPT";
	case ST_BDAT: return "BDAT";
	}
	return "?";
}

void
enter_state(struct session *s, unsigned st)
{
	if (s->state != st)
		log_msg(LOG_DEBUG, "state %s -> %s", state_name(s->state),
		    state_name(st));
	s->state = st;
}

void
transaction_reset(struct session *s)
{
	if (deliver_is_open(s))
		deliver_abort(s);
	s->sender[0] = '\0';
	s->smtputf8 = 0;
	s->body = QUEUE_BODY_NONE;
	s->ret = QUEUE_RET_NONE;
	s->envid[0] = '\0';
	s->declared_size = 0;
	s->nrcpt = s->nlocal = s->nqueued = s->nqueues = 0;
	s->bdat_failed = 0;
	if (s->state & ST_TRANS)
		enter_state(s, ST_READY);
}

void
session_forget(struct session *s)
{
	transaction_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->auth_user[0] = '\0';
	s->auth_mech = NULL;
	enter_state(s, ST_INIT);
}

int
session_bound(struct session *s, unsigned *count, unsigned max,
    const char *what)
{
	if (*count < max) {
		(*count)++;
		return 0;
	}
	log_msg(LOG_NOTICE, "%s: more than %u %s in one session, "
	    "disconnecting", s->peer.addr, max, what);
	transaction_reset(s);
	reply_arg(s, R_TOO_MANY_TRANS, s->cfg->hostname);
	s->quit = 1;
	s->end_result = "too many transactions";
	return 1;
}

int
auth_password_available(const struct session *s)
{
	if (!(s->cfg->ways & WAY_PASSWORD) || s->auth_user[0])
		return 0;
	if (s->cfg->require_tls && !s->tls_on)
		return 0;
	return s->tls_on || s->peer.is_loopback || s->peer.is_pipe;
}

int
auth_external_available(const struct session *s)
{
	return (s->cfg->ways & WAY_CERT) && s->tls_on && s->cert_user[0] &&
	    !s->auth_user[0];
}

/* CRAM-MD5 (RFC 2195, what fetchmail's ODMR client speaks) only on the
 * ODMR port, only where a password may travel, and only when some user
 * has the apop= secret it is keyed with. */
int
auth_cram_available(const struct session *s)
{
	return s->cfg->odmr && s->apop_users && auth_password_available(s);
}

static int
starttls_available(const struct session *s)
{
	return s->cfg->tls_mode == TLSM_STARTTLS && s->tls_ready && !s->tls_on;
}

/* HELO/EHLO argument: one token of printable ASCII (a domain or an
 * address literal); it is only used in the Received: header. */
static enum reply
check_helo(struct session *s, char *args)
{
	size_t i, n = strlen(args);

	if (n == 0 || n >= sizeof s->helo)
		return R_SYNTAX;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)args[i];
		if (c <= ' ' || c >= 127 || c == '(' || c == ')' || c == '\\')
			return R_SYNTAX;
	}
	return R_NONE;
}

static enum reply
do_helo(struct session *s, char *args)
{
	transaction_reset(s);
	memcpy(s->helo, args, strlen(args) + 1);
	s->esmtp = 0;
	enter_state(s, ST_READY);
	reply_arg(s, R_HELO, s->cfg->hostname);
	return R_NONE;
}

static enum reply
do_ehlo(struct session *s, char *args)
{
	struct io *io = &s->io;

	transaction_reset(s);
	memcpy(s->helo, args, strlen(args) + 1);
	s->esmtp = 1;
	enter_state(s, ST_READY);
	io_printf(io, "250-%s\r\n", s->cfg->hostname);
	io_puts(io, "250-PIPELINING\r\n");
	io_printf(io, "250-SIZE %llu\r\n",
	    (unsigned long long)s->cfg->max_size);
	io_puts(io, "250-8BITMIME\r\n");
	io_puts(io, "250-SMTPUTF8\r\n");
	io_puts(io, "250-ENHANCEDSTATUSCODES\r\n");
	io_puts(io, "250-DSN\r\n");
	if (starttls_available(s))
		io_puts(io, "250-STARTTLS\r\n");
	if (auth_password_available(s) || auth_external_available(s)) {
		char mechs[64] = "";
		if (auth_password_available(s))
			strcat(mechs, " PLAIN LOGIN");
		if (auth_cram_available(s))
			strcat(mechs, " CRAM-MD5");
		if (auth_external_available(s))
			strcat(mechs, " EXTERNAL");
		io_printf(io, "250-AUTH%s\r\n", mechs);
		/* old Outlook/Domino clients look for AUTH= */
		io_printf(io, "250-AUTH=%s\r\n", mechs + 1);
	}
	if (etrn_available(s->cfg->users))
		io_puts(io, "250-ETRN\r\n");
	if (s->cfg->odmr)
		io_puts(io, "250-ATRN\r\n");
	io_puts(io, "250 CHUNKING\r\n");
	return R_NONE;
}

static enum reply
check_noargs(struct session *s, char *args)
{
	(void)s;
	return args[0] ? R_SYNTAX : R_NONE;
}

static enum reply
do_rset(struct session *s, char *args)
{
	(void)args;
	if (session_bound(s, &s->n_rset, s->cfg->max_rsets, "RSET commands"))
		return R_NONE;
	transaction_reset(s);
	return R_ACK;
}

static enum reply
do_noop(struct session *s, char *args)
{
	(void)s; (void)args;
	return R_ACK;
}

static enum reply
do_quit(struct session *s, char *args)
{
	(void)args;
	s->quit = 1;
	reply_arg(s, R_BYE, s->cfg->hostname);
	return R_NONE;
}

static enum reply
do_vrfy(struct session *s, char *args)
{
	(void)s;
	return args[0] ? R_VRFY : R_SYNTAX;
}

static enum reply
do_help(struct session *s, char *args)
{
	(void)s; (void)args;
	return R_HELP;
}

static enum reply
not_implemented(struct session *s, char *args)
{
	(void)s; (void)args;
	return R_NOT_IMPL;
}

static enum reply
check_starttls(struct session *s, char *args)
{
	if (s->tls_on)
		return R_TLS_ACTIVE;
	if (!starttls_available(s))
		return s->cfg->tls_mode == TLSM_STARTTLS ? R_TLS_UNAVAIL
		    : R_NOT_IMPL;
	return args[0] ? R_SYNTAX : R_NONE;
}

static enum reply
do_starttls(struct session *s, char *args)
{
	size_t dropped;

	(void)args;
	reply(s, R_TLS_GO);
	dropped = io_discard_pending(&s->io);
	if (dropped)
		log_msg(LOG_WARNING, "STARTTLS: discarded %zu bytes the client "
		    "sent before the handshake (command injection attempt?)",
		    dropped);
	if (io_flush(&s->io) < 0 || tlsup_start(s) < 0) {
		s->quit = 1;
		s->end_result = "tls handshake failed";
		return R_NONE;
	}
	/* RFC 3207 §4.2: forget everything learned in plaintext. */
	session_forget(s);
	return R_NONE;
}

static enum reply
check_etrn(struct session *s, char *args)
{
	(void)s;
	return args[0] ? R_NONE : R_SYNTAX;
}

static enum reply
do_etrn(struct session *s, char *args)
{
	struct etrn_ctx c;
	char rline[512];
	int code;

	if (!etrn_available(s->cfg->users))
		return R_NOT_IMPL;
	c.users = s->cfg->users;
	c.spool = s->cfg->spool;
	c.peer_addr = s->peer.addr;
	c.auth_user = s->auth_user[0] ? s->auth_user : NULL;
	c.hostname = s->cfg->hostname;
	code = etrn_request(&c, args, rline, sizeof rline);
	reply_line(s, rline);
	if (code >= 400)
		s->errors++;
	log_msg(LOG_INFO, "ETRN %s: %s", args, rline);
	return R_NONE;
}

static const struct command commands[] = {
	{ "HELO", ST_ANY & ~ST_BDAT, R_SEQ_BDAT, check_helo, do_helo },
	{ "EHLO", ST_ANY & ~ST_BDAT, R_SEQ_BDAT, check_helo, do_ehlo },
	{ "MAIL", ST_READY, R_SEQ, NULL, smtp_mail },
	{ "RCPT", ST_MAIL | ST_RCPT, R_SEQ_NEED_MAIL, NULL, smtp_rcpt },
	{ "DATA", ST_RCPT, R_SEQ_NEED_MAIL, check_noargs, smtp_data },
	{ "BDAT", ST_ANY, R_SEQ, NULL, smtp_bdat },
	{ "RSET", ST_ANY, R_SEQ, check_noargs, do_rset },
	{ "NOOP", ST_ANY, R_SEQ, NULL, do_noop },
	{ "QUIT", ST_ANY, R_SEQ, NULL, do_quit },
	{ "VRFY", ST_ANY & ~ST_BDAT, R_SEQ_BDAT, NULL, do_vrfy },
	{ "HELP", ST_ANY & ~ST_BDAT, R_SEQ_BDAT, NULL, do_help },
	{ "STARTTLS", ST_INIT | ST_READY, R_SEQ_IN_TRANS, check_starttls,
	  do_starttls },
	{ "AUTH", ST_READY, R_SEQ, NULL, smtp_auth },
	{ "ETRN", ST_READY, R_SEQ, check_etrn, do_etrn },
	{ "ATRN", ST_READY, R_SEQ, NULL, smtp_atrn },
	{ "EXPN", ST_ANY, R_SEQ, NULL, not_implemented },
	{ "TURN", ST_ANY, R_SEQ, NULL, not_implemented },
	{ NULL, 0, R_NONE, NULL, NULL }
};

/* The reply for a command refused in the current state. */
static enum reply
wrong_state(const struct session *s, const struct command *c)
{
	if (s->state == ST_BDAT)
		return R_SEQ_BDAT;
	if (s->state == ST_INIT && (c->states & ST_READY))
		return R_SEQ_HELO;
	if (!strcmp(c->verb, "MAIL") && (s->state & ST_TRANS))
		return R_SEQ_NESTED_MAIL;
	if (!strcmp(c->verb, "DATA") && s->state == ST_MAIL)
		return R_NO_RCPTS;
	if ((!strcmp(c->verb, "AUTH") || !strcmp(c->verb, "ETRN") ||
	    !strcmp(c->verb, "ATRN") ||
	    !strcmp(c->verb, "STARTTLS")) && (s->state & ST_TRANS))
		return R_SEQ_IN_TRANS;
	return c->wrong_state;
}


void
smtp_dispatch(struct session *s, char *line, size_t len, int flags)
{
	const struct command *c;
	char *args;
	size_t vlen;
	enum reply r;

	if (flags & IO_LINE_NUL) {
		reply(s, R_NUL);
		return;
	}
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	/* 512 octets with CRLF; AUTH may carry a longer response, and MAIL
	 * and RCPT the RFC 3461 parameters (RFC 5321 4.5.3.1.4) */
	if (len > SMTP_CMD_MAX && !(vlen == 4 && !strncasecmp(line, "AUTH", 4))
	    && !(vlen == 4 && len <= SMTP_MAIL_MAX &&
	    !strncasecmp(line, "MAIL", 4)) &&
	    !(vlen == 4 && len <= SMTP_RCPT_MAX &&
	    !strncasecmp(line, "RCPT", 4))) {
		reply(s, R_LINE_TOO_LONG);
		return;
	}
	args = line + vlen;
	while (*args == ' ')
		args++;
	/* trailing blanks are tolerated */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	for (c = commands; c->verb; c++)
		if (strlen(c->verb) == vlen && !strncasecmp(line, c->verb, vlen))
			break;
	if (!c->verb) {
		reply(s, has_8bit(line, len) ? R_EIGHTBIT : R_UNKNOWN);
		return;
	}
	/* 8-bit only in MAIL (SMTPUTF8 parameter) and RCPT (checked there) */
	if (strcmp(c->verb, "MAIL") && strcmp(c->verb, "RCPT") &&
	    has_8bit(line, len)) {
		reply(s, R_EIGHTBIT);
		return;
	}
	if (!(c->states & s->state) && strcmp(c->verb, "BDAT")) {
		reply(s, wrong_state(s, c));
		return;
	}
	if (c->check && (r = c->check(s, args)) != R_NONE) {
		reply(s, r);
		return;
	}
	r = c->proceed(s, args);
	if (r != R_NONE)
		reply(s, r);
}
