/* pop3.c - the POP3 state machine (RFC 1939 states, RFC 2449 CAPA):
 * one command table per state, the dispatcher that reads a line, finds
 * the handler, writes the status line from the reply table, counts
 * errors in a row, and the commands that belong to no module (CAPA,
 * NOOP, QUIT). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pop3.h"
#include "util.h"

struct pop3_cmd {
	const char *name;
	enum pop3_ev (*fn)(struct pop3 *s, char *args);
};

static enum pop3_ev cmd_capa(struct pop3 *s, char *args);
static enum pop3_ev cmd_noop(struct pop3 *s, char *args);
static enum pop3_ev cmd_quit(struct pop3 *s, char *args);

static const struct pop3_cmd cmds_authorization[] = {
	{ "USER", cmd_user }, { "PASS", cmd_pass }, { "APOP", cmd_apop },
	{ "AUTH", cmd_auth }, { "STLS", cmd_stls }, { "CAPA", cmd_capa },
	{ "QUIT", cmd_quit }, { NULL, NULL }
};

static const struct pop3_cmd cmds_transaction[] = {
	{ "STAT", cmd_stat }, { "LIST", cmd_list }, { "UIDL", cmd_uidl },
	{ "RETR", cmd_retr }, { "TOP", cmd_top }, { "DELE", cmd_dele },
	{ "NOOP", cmd_noop }, { "RSET", cmd_rset }, { "CAPA", cmd_capa },
	{ "QUIT", cmd_quit }, { NULL, NULL }
};

static const char *const state_names[] = {
	"AUTHORIZATION", "TRANSACTION", "UPDATE"
};

void pop3_enter_state(struct pop3 *s, enum pop3_state st)
{
	log_msg(LOG_DEBUG, "state %s -> %s", state_names[s->state],
	    state_names[st]);
	s->state = st;
}

enum pop3_ev pop3_err(struct pop3 *s, enum reply_id id)
{
	s->rid = id;
	return EV_ERR;
}

enum pop3_ev pop3_ok(struct pop3 *s, enum reply_id id)
{
	s->rid = id;
	return EV_OK;
}

size_t pop3_u64(char *buf, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

int pop3_args(char *args, char **v, int max)
{
	int n = 0;
	char *p = args, *sp;

	if (!args)
		return 0;
	for (;;) {
		if (n == max)
			return -1;
		sp = strchr(p, ' ');
		if (sp)
			*sp = '\0';
		if (*p == '\0')
			return -1;
		v[n++] = p;
		if (!sp)
			return n;
		p = sp + 1;
	}
}

static void capa_line(struct pop3 *s, const char *line)
{
	io_puts(&s->io, line);
	io_write(&s->io, "\r\n", 2);
}

static enum pop3_ev cmd_capa(struct pop3 *s, char *args)
{
	if (args)
		return pop3_err(s, R_SYNTAX);
	reply_status(s, 1, R_CAPA, NULL);
	capa_line(s, "TOP");
	capa_line(s, "UIDL");
	capa_line(s, "RESP-CODES");
	capa_line(s, "PIPELINING");
	capa_line(s, "EXPIRE NEVER");
	if (s->state == POP3_AUTHORIZATION) {
		int plain = pop3_plaintext_ok(s), ext = pop3_external_ok(s);

		capa_line(s, "AUTH-RESP-CODE");
		if (plain)
			capa_line(s, "USER");
		if (plain && ext)
			capa_line(s, "SASL PLAIN EXTERNAL");
		else if (plain)
			capa_line(s, "SASL PLAIN");
		else if (ext)
			capa_line(s, "SASL EXTERNAL");
		if (pop3_stls_available(s) && !s->have_user)
			capa_line(s, "STLS");
	}
	capa_line(s, "IMPLEMENTATION postern");
	capa_line(s, ".");
	return EV_QUIET;
}

static enum pop3_ev cmd_noop(struct pop3 *s, char *args)
{
	if (args)
		return pop3_err(s, R_SYNTAX);
	return pop3_ok(s, R_NOOP);
}

static enum pop3_ev cmd_quit(struct pop3 *s, char *args)
{
	if (args)
		return pop3_err(s, R_SYNTAX);
	s->leave = 1;
	s->result = "quit";
	if (s->state != POP3_TRANSACTION)
		return pop3_ok(s, R_BYE);
	pop3_enter_state(s, POP3_UPDATE);
	if (mbox_update(s) < 0) {
		s->result = "quit-update-failed";
		return pop3_err(s, R_UPDATE_FAILED);
	}
	if (s->gone)
		snprintf(s->rarg, sizeof s->rarg, "(%llu message%s deleted, "
		    "%llu already removed by another program)",
		    (unsigned long long)s->deleted, s->deleted == 1 ? "" : "s",
		    (unsigned long long)s->gone);
	else
		snprintf(s->rarg, sizeof s->rarg, "(%llu message%s deleted)",
		    (unsigned long long)s->deleted, s->deleted == 1 ? "" : "s");
	return pop3_ok(s, R_BYE_UPDATE);
}

static const struct pop3_cmd *find_cmd(const struct pop3_cmd *t,
    const char *name)
{
	for (; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* Parses the keyword and runs its handler for the current state. */
static enum pop3_ev dispatch(struct pop3 *s, char *line)
{
	char kw[8];
	char *args = NULL, *sp;
	size_t i, klen;
	const struct pop3_cmd *c;

	sp = strchr(line, ' ');
	klen = sp ? (size_t)(sp - line) : strlen(line);
	if (sp)
		args = sp + 1;
	if (klen < 3 || klen > 4)
		return pop3_err(s, R_UNKNOWN);
	for (i = 0; i < klen; i++) {
		char ch = line[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		kw[i] = ch;
	}
	kw[klen] = '\0';
	if (strcmp(kw, "PASS") == 0)
		log_msg(LOG_DEBUG, "command PASS ***");
	else if (strcmp(kw, "AUTH") == 0 || strcmp(kw, "APOP") == 0)
		log_msg(LOG_DEBUG, "command %s ...", kw);
	else
		log_msg(LOG_DEBUG, "command %s", line);

	c = find_cmd(s->state == POP3_AUTHORIZATION ? cmds_authorization :
	    cmds_transaction, kw);
	if (!c) {
		if (find_cmd(cmds_authorization, kw) ||
		    find_cmd(cmds_transaction, kw))
			return pop3_err(s, R_BADSTATE);
		return pop3_err(s, R_UNKNOWN);
	}
	return c->fn(s, args);
}

static void greet(struct pop3 *s)
{
	if (s->apop) {
		reply_status(s, 1, R_GREETING, s->timestamp);
	} else {
		reply_status(s, 1, R_GREETING, NULL);
	}
}

void pop3_run(struct pop3 *s)
{
	char *line = s->line;
	int flags, n;
	enum pop3_ev ev;

	s->state = POP3_AUTHORIZATION;
	greet(s);
	while (!s->leave) {
		n = io_getline(&s->io, line, sizeof s->line, &flags);
		/* USER/PASS/APOP/AUTH lines: no copy left in the buffers */
		if (s->state == POP3_AUTHORIZATION)
			io_wipe_consumed(&s->io);
		s->rid = R_NONE;
		s->rarg[0] = '\0';
		if (n == IO_EOF) {
			s->result = "eof";
			break;
		} else if (n == IO_TIMEOUT) {
			log_msg(LOG_NOTICE, "timeout after %u s of silence "
			    "(or session limit): closing, nothing deleted",
			    s->opt->timeout);
			s->result = "timeout";
			break;
		} else if (n == IO_ERROR) {
			s->result = "io-error";
			break;
		} else if (n == IO_TOOLONG || n > POP3_CMD_MAX) {
			ev = pop3_err(s, R_TOOLONG);
		} else if (flags & IO_LINE_NUL) {
			ev = pop3_err(s, R_NUL);
		} else {
			ev = dispatch(s, line);
		}
		wipe(line, sizeof s->line);

		if (ev == EV_DROP) {
			if (!s->result)
				s->result = "dropped";
			break;
		}
		if (ev == EV_ERR) {
			s->errors++;
			if (s->opt->max_errors &&
			    s->errors >= s->opt->max_errors) {
				s->rid = R_TOOMANY;
				s->rarg[0] = '\0';
				s->leave = 1;
				s->result = "too-many-errors";
				log_msg(LOG_NOTICE, "%u errors in a row: "
				    "closing", s->errors);
			}
		} else {
			s->errors = 0;
		}
		if (ev == EV_OK || ev == EV_ERR)
			reply_status(s, ev == EV_OK, s->rid, s->rarg);
		if (s->io.failed) {
			s->result = s->result ? s->result : "io-error";
			break;
		}
	}
	io_flush(&s->io);
}
