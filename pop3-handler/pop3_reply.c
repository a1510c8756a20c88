/* pop3_reply.c - every POP3 status text and response code (RFC 2449
 * RESP-CODES, RFC 3206 SYS/AUTH), defined once, and the one function that
 * writes a status line: "+OK" / "-ERR", optional "[CODE]", the text, and
 * a per-command argument (numbers, sizes). */
#include <string.h>

#include "pop3.h"

static const struct reply replies[R_COUNT] = {
	[R_NONE]            = { NULL, "" },
	[R_GREETING]        = { NULL, "POP3 server ready" },
	[R_BYE]             = { NULL, "Bye" },
	[R_BYE_UPDATE]      = { NULL, "Bye" },
	[R_UPDATE_FAILED]   = { "SYS/TEMP", "Some messages could not be deleted; they are still in the mailbox" },
	[R_UNKNOWN]         = { NULL, "Unknown command" },
	[R_BADSTATE]        = { NULL, "Command not valid in this state" },
	[R_SYNTAX]          = { NULL, "Syntax error in arguments" },
	[R_TOOLONG]         = { NULL, "Line too long (limit 255 octets)" },
	[R_NUL]             = { NULL, "Invalid command: NUL byte" },
	[R_TOOMANY]         = { NULL, "Too many errors, closing connection" },
	[R_CAPA]            = { NULL, "Capability list follows" },
	[R_NOOP]            = { NULL, "" },
	[R_USER_OK]         = { NULL, "Send PASS" },
	[R_USER_BAD]        = { "AUTH", "Invalid user name" },
	[R_PLAINTEXT]       = { "AUTH", "Plaintext login is not allowed here without TLS; use STLS first" },
	[R_NEED_USER]       = { NULL, "Send USER first" },
	[R_AUTH_FAILED]     = { "AUTH", "Authentication failed" },
	[R_AUTH_FAILED_LAST]= { "AUTH", "Authentication failed; too many failures, closing connection" },
	[R_AUTH_LOCKED]     = { "SYS/PERM", "This account is locked by the administrator; contact the postmaster" },
	[R_AUTH_BARRED]     = { "AUTH", "This account may not use POP3" },
	[R_AUTH_TEMP]       = { "SYS/TEMP", "Authentication is temporarily unavailable; try again later" },
	[R_AUTH_THROTTLED]  = { "SYS/TEMP", "Too many failed logins from your address; try again later" },
	[R_APOP_NONE]       = { NULL, "APOP is not available" },
	[R_AUTH_MECH]       = { NULL, "Unsupported or unavailable authentication mechanism" },
	[R_AUTH_CANCEL]     = { NULL, "Authentication cancelled" },
	[R_AUTH_BADB64]     = { NULL, "Invalid SASL response" },
	[R_AUTH_AUTHZID]    = { "AUTH", "Authorization identity not allowed" },
	[R_AUTH_LIST]       = { NULL, "Authentication mechanisms follow" },
	[R_INUSE]           = { "IN-USE", "Mailbox is in use by another session" },
	[R_MAILDIR_TEMP]    = { "SYS/TEMP", "Mailbox is temporarily unavailable; try again later" },
	[R_LOGGED_IN]       = { NULL, "Logged in; maildrop has" },
	[R_STLS_GO]         = { NULL, "Begin TLS negotiation" },
	[R_STLS_NONE]       = { NULL, "STLS is not available" },
	[R_STLS_ACTIVE]     = { NULL, "TLS is already active" },
	[R_STLS_AFTER_USER] = { NULL, "STLS is not allowed after USER" },
	[R_STLS_TEMP]       = { "SYS/TEMP", "TLS is temporarily unavailable" },
	[R_STAT]            = { NULL, "" },
	[R_LIST_ALL]        = { NULL, "Scan listing follows:" },
	[R_LIST_ONE]        = { NULL, "" },
	[R_UIDL_ALL]        = { NULL, "Unique-id listing follows" },
	[R_UIDL_ONE]        = { NULL, "" },
	[R_NOSUCHMSG]       = { NULL, "No such message" },
	[R_DELETED_ALREADY] = { NULL, "Message already deleted" },
	[R_DELE_OK]         = { NULL, "Marked for deletion:" },
	[R_RSET]            = { NULL, "Maildrop has" },
	[R_RETR]            = { NULL, "" },
	[R_TOP]             = { NULL, "Top of message follows" },
	[R_VANISHED]        = { "SYS/TEMP", "Message was removed by another program" },
	[R_READ_FAILED]     = { "SYS/TEMP", "Cannot read message" },
};

const struct reply *reply_get(enum reply_id id)
{
	if ((unsigned)id >= R_COUNT)
		id = R_NONE;
	return &replies[id];
}

void reply_status(struct pop3 *s, int ok, enum reply_id id, const char *arg)
{
	const struct reply *r = reply_get(id);
	char line[POP3_LINE_MAX + 256];
	size_t n = 0;

#define APPEND(str) do { \
	size_t l_ = strlen(str); \
	if (l_ > sizeof line - 3 - n) l_ = sizeof line - 3 - n; \
	memcpy(line + n, (str), l_); n += l_; \
} while (0)
	APPEND(ok ? "+OK" : "-ERR");
	if (r->code) {
		APPEND(" [");
		APPEND(r->code);
		APPEND("]");
	}
	if (r->text && r->text[0]) {
		APPEND(" ");
		APPEND(r->text);
	}
	if (arg && arg[0]) {
		APPEND(" ");
		APPEND(arg);
	}
#undef APPEND
	line[n++] = '\r';
	line[n++] = '\n';
	io_write(&s->io, line, n);
}
