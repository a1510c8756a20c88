/* reply.c - every reply smtp-handler sends, defined once: code, enhanced
 * status code (RFC 3463/5248) and text. A text may hold one %s, filled
 * from the session's reply_arg. 4xx/5xx replies count as session errors
 * (too many -> 421 4.7.0 and the session ends, see commands.c). */
#include <stdio.h>
#include <string.h>

#include "smtp.h"

struct reply_def {
	int code;
	const char *enh;        /* NULL: none (greeting, 334...) */
	const char *text;
	int counts;             /* counts towards --max-errors */
};

static const struct reply_def replies[R_COUNT] = {
	[R_NONE]            = { 0, NULL, "", 0 },
	[R_GREETING]        = { 220, NULL, "%s ESMTP postern", 0 },
	[R_NOT_ENABLED]     = { 421, "4.3.0", "This site is not enabled on the server.", 0 },
	[R_BYE]             = { 221, "2.0.0", "%s closing connection", 0 },
	[R_HELO]            = { 250, NULL, "%s", 0 },
	[R_ACK]              = { 250, "2.0.0", "OK", 0 },
	[R_SENDER_OK]       = { 250, "2.1.0", "Sender <%s> OK", 0 },
	[R_RCPT_OK]         = { 250, "2.1.5", "Recipient <%s> OK", 0 },
	[R_DATA_GO]         = { 354, NULL, "End data with <CR><LF>.<CR><LF>", 0 },
	[R_QUEUED]          = { 250, "2.0.0", "OK id=%s", 0 },
	[R_CHUNK_OK]        = { 250, "2.0.0", "%s octets received", 0 },
	[R_VRFY]            = { 252, "2.5.0", "Cannot VRFY user, but will accept message for local recipients", 0 },
	[R_HELP]            = { 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH ETRN", 0 },
	[R_TLS_GO]          = { 220, "2.0.0", "Ready to start TLS", 0 },
	[R_AUTH_OK]         = { 235, "2.7.0", "Authentication successful", 0 },
	[R_TIMEOUT]         = { 421, "4.4.2", "%s Timeout, closing connection", 0 },
	[R_TOO_MANY_ERRORS] = { 421, "4.7.0", "%s Too many errors, closing connection", 0 },
	[R_TOO_MANY_AUTH]   = { 421, "4.7.0", "%s Too many authentication failures, closing connection", 0 },
	[R_TEMPFAIL]        = { 451, "4.3.0", "Temporary local problem, try again later", 1 },
	[R_NO_STORAGE]      = { 452, "4.3.1", "Insufficient system storage", 1 },
	[R_TOO_MANY_RCPTS]  = { 452, "4.5.3", "Too many recipients", 0 },
	[R_QUOTA_TEMP]      = { 452, "4.2.2", "Mailbox full", 1 },
	[R_TLS_UNAVAIL]     = { 454, "4.7.0", "TLS not available", 1 },
	[R_AUTH_TEMP]       = { 454, "4.7.0", "Temporary authentication failure", 1 },
	[R_AUTH_THROTTLED]  = { 454, "4.7.0", "Too many failed logins from your address; try again later", 1 },
	[R_LINE_TOO_LONG]   = { 500, "5.5.2", "Line too long (512 octets at most)", 1 },
	[R_UNKNOWN]         = { 500, "5.5.2", "Command unrecognized", 1 },
	[R_NUL]             = { 500, "5.5.2", "NUL characters are not allowed", 1 },
	[R_EIGHTBIT]        = { 500, "5.5.2", "8-bit characters are not allowed in commands", 1 },
	[R_SYNTAX]          = { 501, "5.5.4", "Syntax error in parameters", 1 },
	[R_SYNTAX_MAIL]     = { 501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]", 1 },
	[R_SYNTAX_RCPT]     = { 501, "5.5.4", "Syntax: RCPT TO:<address>", 1 },
	[R_BAD_SENDER]      = { 501, "5.1.7", "Bad sender address syntax", 1 },
	[R_BAD_RCPT]        = { 501, "5.1.3", "Bad recipient address syntax", 1 },
	[R_NOT_IMPL]        = { 502, "5.5.1", "Command not implemented", 1 },
	[R_SEQ_HELO]        = { 503, "5.5.1", "Send HELO or EHLO first", 1 },
	[R_SEQ_NESTED_MAIL] = { 503, "5.5.1", "Sender already given", 1 },
	[R_SEQ_NEED_MAIL]   = { 503, "5.5.1", "Need MAIL first", 1 },
	[R_SEQ_NEED_RCPT]   = { 503, "5.5.1", "Need RCPT first", 1 },
	[R_SEQ]             = { 503, "5.5.1", "Bad sequence of commands", 1 },
	[R_SEQ_IN_TRANS]    = { 503, "5.5.1", "Not allowed inside a mail transaction", 1 },
	[R_SEQ_BDAT]        = { 503, "5.5.1", "Only BDAT, RSET, NOOP or QUIT inside a BDAT sequence", 1 },
	[R_SEQ_AUTHED]      = { 503, "5.5.1", "Already authenticated", 1 },
	[R_NEED_TLS]        = { 530, "5.7.0", "Must issue a STARTTLS command first", 1 },
	[R_NEED_AUTH]       = { 530, "5.7.0", "Authentication required", 1 },
	[R_AUTH_ENCRYPT]    = { 538, "5.7.11", "Encryption required for requested authentication mechanism", 1 },
	[R_AUTH_BAD]        = { 535, "5.7.8", "Authentication credentials invalid", 0 },
	[R_AUTH_CANCEL]     = { 501, "5.7.0", "Authentication cancelled", 0 },
	[R_AUTH_B64]        = { 501, "5.5.2", "Invalid base64 data", 0 },
	[R_AUTH_LINE_LONG]  = { 500, "5.5.6", "Authentication exchange line is too long", 0 },
	[R_AUTH_MECH]       = { 504, "5.5.4", "Unrecognized authentication mechanism", 1 },
	[R_AUTH_NONE]       = { 502, "5.5.1", "AUTH not available", 1 },
	[R_USER_UNKNOWN]    = { 550, "5.1.1", "<%s>: Recipient address rejected: no such user", 1 },
	[R_TOO_BIG]         = { 552, "5.3.4", "Message size exceeds fixed limit", 1 },
	[R_TOO_BIG_DECLARED]= { 552, "5.3.4", "Message size exceeds fixed limit of %s octets", 1 },
	[R_QUOTA]           = { 552, "5.2.2", "Mailbox full", 1 },
	[R_SOURCE_ROUTE]    = { 553, "5.1.3", "Source routes are not accepted", 1 },
	[R_RELAY_TRICK]     = { 553, "5.7.1", "Address form not accepted (%%, !, or quoted local part)", 1 },
	[R_NO_RCPTS]        = { 554, "5.5.1", "No valid recipients", 1 },
	[R_RELAY_DENIED]    = { 554, "5.7.1", "<%s>: Relay access denied", 1 },
	[R_LOOP]            = { 554, "5.4.6", "Too many Received: headers, probably a mail loop", 1 },
	[R_ALIAS_LOOP]      = { 550, "5.4.6", "<%s>: Alias expansion loop", 1 },
	[R_BARE_EOL]        = { 554, "5.6.0", "Message contains a bare CR or LF; lines must end in CRLF", 1 },
	[R_PARAM]           = { 555, "5.5.4", "Unsupported parameter", 1 },
	[R_UTF8_ADDR]       = { 553, "5.6.7", "Non-ASCII address needs SMTPUTF8", 1 },
	[R_TLS_ACTIVE]      = { 503, "5.5.1", "TLS already active", 1 },
	[R_PARAM_HELO]      = { 555, "5.5.4", "Parameters need EHLO", 1 },
	[R_BDAT_FAILED]     = { 554, "5.5.0", "Transaction failed, send RSET", 1 },
	[R_TEMP_ALIAS]      = { 451, "4.3.0", "<%s>: Local configuration problem, try again later", 1 },
	[R_HOLD_FULL]       = { 452, "4.3.1", "<%s>: Hold queue full, try again later", 1 },
	[R_HOLD_TOO_BIG]    = { 552, "5.3.4", "<%s>: Message too big for the hold queue", 1 },
	[R_TOO_MANY_TRANS]  = { 421, "4.7.0", "%s Too many transactions in this session, closing connection", 0 },
	[R_TOO_MANY_SESSION_RCPTS] = { 452, "4.5.3", "Too many recipients in this session", 1 },
	[R_DSN_RET]         = { 501, "5.5.4", "Syntax: RET=FULL or RET=HDRS, once", 1 },
	[R_DSN_ENVID]       = { 501, "5.5.4", "Syntax: ENVID=xtext, once, at most 100 printable octets decoded", 1 },
	[R_DSN_NOTIFY]      = { 501, "5.5.4", "Syntax: NOTIFY=NEVER or a list of SUCCESS,FAILURE,DELAY, each once", 1 },
	[R_DSN_ORCPT]       = { 501, "5.5.4", "Syntax: ORCPT=addr-type;xtext, once, at most 500 octets", 1 },
};

int
reply_code(enum reply r)
{
	return r > R_NONE && r < R_COUNT ? replies[r].code : 0;
}

void
reply_line(struct session *s, const char *line)
{
	io_puts(&s->io, line);
	io_puts(&s->io, "\r\n");
}

void
reply_arg(struct session *s, enum reply r, const char *arg)
{
	const struct reply_def *d;
	char text[600];

	if (r <= R_NONE || r >= R_COUNT)
		return;
	d = &replies[r];
	/* The table is constant; its texts have at most one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(text, sizeof text, d->text, arg ? arg : "");
#pragma GCC diagnostic pop
	if (d->enh)
		io_printf(&s->io, "%d %s %s\r\n", d->code, d->enh, text);
	else
		io_printf(&s->io, "%d %s\r\n", d->code, text);
	if (d->counts)
		s->errors++;
	if (d->code >= 400 && d->code < 500)
		s->temp_replies++;      /* --session-status */
}

void
reply(struct session *s, enum reply r)
{
	reply_arg(s, r, s->reply_arg);
	s->reply_arg[0] = '\0';
}
