/* envelope.c - MAIL FROM and RCPT TO: the reverse/forward path syntax
 * (RFC 5321 §4.1.2, without source routes: they are refused), the ESMTP
 * parameters (SIZE, BODY, SMTPUTF8, AUTH; RFC 3461 RET, ENVID, NOTIFY,
 * ORCPT) and who may send at all. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsnparam.h"
#include "log.h"
#include "smtp.h"
#include "util.h"

/* atext of RFC 5322 §3.2.3 (and UTF-8 octets when allowed) */
static int
is_atext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* A dot-string: atoms separated by single dots. */
static int
is_dot_string(const char *p, size_t n, int utf8)
{
	size_t i;

	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (p[i + 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)p[i], utf8))
			return 0;
	}
	return 1;
}

/* Domain: DNS-style labels (UTF-8 labels with SMTPUTF8), or an address
 * literal [v4] / [IPv6:...]. */
static int
is_domain(const char *p, size_t n, int utf8)
{
	size_t i, label = 0;

	if (n == 0 || n > ADDR_DOMAIN_MAX + 2)
		return 0;
	if (p[0] == '[') {
		if (n < 3 || p[n - 1] != ']')
			return 0;
		for (i = 1; i < n - 1; i++) {
			unsigned char c = (unsigned char)p[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			    (c >= 'A' && c <= 'F') || c == '.' || c == ':' ||
			    c == 'I' || c == 'P' || c == 'v' || c == 'V'))
				return 0;
		}
		return 1;
	}
	if (n > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c == '-' && label == 0)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || (utf8 && c >= 0x80)))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && p[n - 1] != '-';
}

enum reply
envelope_path(char **pp, char *out, size_t size, int is_rcpt, int utf8)
{
	char *p = *pp;
	char local[ADDR_LOCAL_MAX * 2 + 3];
	size_t ln = 0, dn;
	int quoted = 0;
	const char *dom;
	enum reply bad = is_rcpt ? R_BAD_RCPT : R_BAD_SENDER;

	if (*p != '<')
		return is_rcpt ? R_SYNTAX_RCPT : R_SYNTAX_MAIL;
	p++;
	if (*p == '@')
		return R_SOURCE_ROUTE;
	if (*p == '>') {                           /* <> */
		if (is_rcpt)
			return bad;
		out[0] = '\0';
		*pp = p + 1;
		return R_NONE;
	}
	if (*p == '"') {                           /* quoted local part */
		quoted = 1;
		for (p++; *p && *p != '"'; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '\\') {
				c = (unsigned char)*++p;
				if (!c)
					return bad;
			}
			if ((c < 32 || c == 127) || (c >= 0x80 && !utf8))
				return c >= 0x80 ? R_UTF8_ADDR : bad;
			if (ln >= sizeof local - 1)
				return bad;
			local[ln++] = (char)c;
		}
		if (*p != '"')
			return bad;
		p++;
	} else {
		for (; *p && *p != '@' && *p != '>'; p++) {
			if (ln >= sizeof local - 1)
				return bad;
			local[ln++] = *p;
		}
	}
	local[ln] = '\0';
	if (ln == 0 || ln > ADDR_LOCAL_MAX)
		return bad;
	if (!utf8) {
		size_t i;
		for (i = 0; i < ln; i++)
			if ((unsigned char)local[i] >= 0x80)
				return R_UTF8_ADDR;
	}
	if (!is_dot_string(local, ln, utf8)) {
		/* a quoted local part that is not plain text is a relay trick
		 * ("a@b"@c, "a%b"@c) when it is a recipient */
		if (is_rcpt || !quoted)
			return quoted && is_rcpt ? R_RELAY_TRICK : bad;
	}
	if (is_rcpt && (strchr(local, '%') || strchr(local, '!')))
		return R_RELAY_TRICK;
	if (*p == '>') {
		/* only <postmaster> may come without a domain (RFC 5321 4.5.1) */
		if (!is_rcpt || strcasecmp(local, "postmaster"))
			return bad;
		snprintf(out, size, "postmaster");
		*pp = p + 1;
		return R_NONE;
	}
	if (*p != '@')
		return bad;
	dom = ++p;
	while (*p && *p != '>')
		p++;
	if (*p != '>')
		return bad;
	dn = (size_t)(p - dom);
	if (!is_domain(dom, dn, utf8)) {
		size_t i;
		for (i = 0; i < dn; i++)
			if ((unsigned char)dom[i] >= 0x80 && !utf8)
				return R_UTF8_ADDR;
		return is_rcpt && strchr(dom, '@') &&
		    (size_t)(strchr(dom, '@') - dom) < dn
		    ? R_RELAY_TRICK : bad;
	}
	if (quoted && !is_dot_string(local, ln, utf8)) {
		/* a sender with a real quoted local part keeps its quotes,
		 * and '"' and '\\' their quoted-pair (RFC 5321 4.1.2), so it
		 * is relayed as a valid reverse-path */
		size_t i, o = 0;
		if (size < 3)
			return bad;
		out[o++] = '"';
		for (i = 0; i < ln; i++) {
			if (local[i] == '"' || local[i] == '\\') {
				if (o + 1 >= size)
					return bad;
				out[o++] = '\\';
			}
			if (o + 1 >= size)
				return bad;
			out[o++] = local[i];
		}
		if (o + dn + 3 > size)
			return bad;
		out[o++] = '"';
		out[o++] = '@';
		memcpy(out + o, dom, dn);
		out[o + dn] = '\0';
	} else {
		if (ln + dn + 2 > size)
			return bad;
		snprintf(out, size, "%s@%.*s", local, (int)dn, dom);
	}
	*pp = p + 1;
	return R_NONE;
}

/* Skips "FROM:" / "TO:" (case-insensitive, blanks allowed after ':'). */
static char *
skip_keyword(char *args, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(args, kw, n))
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

/* Next "KEY[=VALUE]" parameter: NUL-terminates it; NULL at the end. */
static char *
next_param(char **pp, char **value_r)
{
	char *p = *pp, *start, *eq;

	while (*p == ' ')
		p++;
	if (!*p)
		return NULL;
	start = p;
	while (*p && *p != ' ')
		p++;
	if (*p)
		*p++ = '\0';
	*pp = p;
	eq = strchr(start, '=');
	if (eq) {
		*eq = '\0';
		*value_r = eq + 1;
	} else
		*value_r = NULL;
	return start;
}

enum reply
smtp_mail(struct session *s, char *args)
{
	char *p, *key, *val;
	char sender[ADDR_MAX + 1];
	enum reply r;
	int seen_size = 0, seen_body = 0, seen_utf8 = 0, seen_auth = 0;
	int seen_ret = 0, seen_envid = 0;
	uint64_t size = 0;
	enum queue_body body = QUEUE_BODY_NONE;
	enum queue_ret ret = QUEUE_RET_NONE;
	char envid[QUEUE_ENVID_MAX + 1] = "";

	if (session_bound(s, &s->n_mail, s->cfg->max_mails, "MAIL commands"))
		return R_NONE;
	if (s->cfg->require_tls && !s->tls_on)
		return R_NEED_TLS;
	if (!(s->cfg->ways & WAY_ANONYMOUS) && !s->auth_user[0])
		return R_NEED_AUTH;
	if (!(p = skip_keyword(args, "FROM:")))
		return R_SYNTAX_MAIL;
	/* The SMTPUTF8 parameter follows the path: parse the path allowing
	 * UTF-8, then refuse it below if the parameter is missing. */
	if ((r = envelope_path(&p, sender, sizeof sender, 0, 1)) != R_NONE)
		return r;
	if (*p && *p != ' ')
		return R_SYNTAX_MAIL;
	while ((key = next_param(&p, &val)) != NULL) {
		if (!s->esmtp)
			return R_PARAM_HELO;
		if (!strcasecmp(key, "SIZE")) {
			if (seen_size++ || !val ||
			    parse_uint(val, strlen(val), UINT64_MAX / 4, &size) < 0)
				return R_SYNTAX;
		} else if (!strcasecmp(key, "BODY")) {
			if (seen_body++ || !val)
				return R_SYNTAX;
			if (!strcasecmp(val, "7BIT"))
				body = QUEUE_BODY_7BIT;
			else if (!strcasecmp(val, "8BITMIME"))
				body = QUEUE_BODY_8BITMIME;
			else
				return R_PARAM;
		} else if (!strcasecmp(key, "SMTPUTF8")) {
			if (seen_utf8++ || val)
				return R_SYNTAX;
		} else if (!strcasecmp(key, "AUTH")) {
			/* RFC 4954 §5: we do not trust other hosts' claims */
			if (seen_auth++ || !val || !*val)
				return R_SYNTAX;
		} else if (!strcasecmp(key, "RET")) {
			if (seen_ret++ || !val ||
			    dsnparam_ret(val, strlen(val), &ret) < 0)
				return R_DSN_RET;
		} else if (!strcasecmp(key, "ENVID")) {
			if (seen_envid++ || !val ||
			    dsnparam_envid(val, strlen(val), envid) < 0)
				return R_DSN_ENVID;
		} else
			return R_PARAM;
	}
	if (has_8bit(sender, strlen(sender)) && !seen_utf8)
		return R_UTF8_ADDR;
	if (size > s->cfg->max_size) {
		snprintf(s->reply_arg, sizeof s->reply_arg, "%llu",
		    (unsigned long long)s->cfg->max_size);
		return R_TOO_BIG_DECLARED;
	}
	transaction_reset(s);
	memcpy(s->sender, sender, sizeof sender);
	s->smtputf8 = seen_utf8 > 0;
	s->body = body;
	s->ret = ret;
	memcpy(s->envid, envid, sizeof envid);
	s->declared_size = size;
	enter_state(s, ST_MAIL);
	reply_arg(s, R_SENDER_OK, sender);
	return R_NONE;
}

enum reply
smtp_rcpt(struct session *s, char *args)
{
	char *p, *key, *val;
	char addr[ADDR_MAX + 1], asis[ADDR_MAX + 1], *at;
	char orcpt[QUEUE_ORCPT_MAX + 1] = "";
	unsigned notify = 0;
	enum reply r;
	unsigned i;

	if (s->n_rcpt >= s->cfg->max_session_rcpts) {
		if (s->n_rcpt++ == s->cfg->max_session_rcpts)
			log_msg(LOG_NOTICE, "%s: more than %u RCPT commands in "
			    "one session", s->peer.addr,
			    s->cfg->max_session_rcpts);
		return R_TOO_MANY_SESSION_RCPTS;
	}
	s->n_rcpt++;
	if (!(p = skip_keyword(args, "TO:")))
		return R_SYNTAX_RCPT;
	if ((r = envelope_path(&p, addr, sizeof addr, 1, s->smtputf8))
	    != R_NONE)
		return r;
	if (*p && *p != ' ')
		return R_SYNTAX_RCPT;
	while ((key = next_param(&p, &val)) != NULL) {
		if (!s->esmtp)
			return R_PARAM_HELO;
		if (!strcasecmp(key, "NOTIFY")) {
			if (notify || !val ||
			    dsnparam_notify(val, strlen(val), &notify) < 0)
				return R_DSN_NOTIFY;
		} else if (!strcasecmp(key, "ORCPT")) {
			size_t olen = val ? strlen(val) : 0;
			if (orcpt[0] || !val || !dsnparam_orcpt_ok(val, olen))
				return R_DSN_ORCPT;
			memcpy(orcpt, val, olen + 1);
		} else
			return R_PARAM;
	}
	/* local parts are case-sensitive (RFC 5321 2.4): a relayed or held
	 * copy keeps it as received, only the domain is lowercased; local
	 * look-ups and the session's own list use the lowercase form */
	memcpy(asis, addr, sizeof asis);
	if ((at = strrchr(asis, '@')) != NULL)
		ascii_lower(at);
	ascii_lower(addr);
	for (i = 0; i < s->nrcpt; i++)
		if (!strcmp(s->rcpt[i].addr, addr)) {
			reply_arg(s, R_RCPT_OK, addr);     /* already there */
			return R_NONE;
		}
	if (s->nrcpt >= s->cfg->max_rcpts)
		return R_TOO_MANY_RCPTS;
	if ((r = rcpt_add(s, asis)) != R_NONE) {
		log_msg(LOG_INFO, "RCPT <%s> refused: %d", addr, reply_code(r));
		return r;
	}
	memcpy(s->rcpt[s->nrcpt].addr, addr, strlen(addr) + 1);
	s->rcpt[s->nrcpt].notify = notify;
	memcpy(s->rcpt[s->nrcpt].orcpt, orcpt, sizeof orcpt);
	s->nrcpt++;
	enter_state(s, ST_RCPT);
	reply_arg(s, R_RCPT_OK, addr);
	return R_NONE;
}
