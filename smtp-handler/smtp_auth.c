/* smtp_auth.c - AUTH (RFC 4954): PLAIN and LOGIN with a password (only
 * where --auth has "password" and the line is TLS, loopback or a pipe),
 * CRAM-MD5 (RFC 2195) with the user's apop= secret on the same terms but
 * only with --odmr, EXTERNAL with a verified client certificate
 * ("certificate").
 * Secrets are wiped right after use; a failure is delayed, and too many
 * failures end the session. The verification itself is lib/auth's. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "base64.h"
#include "cram.h"
#include "log.h"
#include "sasl.h"
#include "smtp.h"
#include "throttle.h"
#include "util.h"

enum step { STEP_OK, STEP_CANCEL, STEP_LONG, STEP_GONE };

/* Sends "334 challenge" and reads the client's response line. */
static enum step
challenge(struct session *s, const char *b64, size_t *len_r)
{
	int n, flags;

	io_printf(&s->io, "334 %s\r\n", b64);
	n = io_getline(&s->io, s->line, sizeof s->line, &flags);
	io_wipe_consumed(&s->io);
	if (n == IO_TOOLONG)
		return STEP_LONG;
	if (n < 0) {
		if (n == IO_TIMEOUT)
			reply_arg(s, R_TIMEOUT, s->cfg->hostname);
		s->quit = 1;
		return STEP_GONE;
	}
	if (!strcmp(s->line, "*"))
		return STEP_CANCEL;
	*len_r = (size_t)n;
	return STEP_OK;
}

static enum reply
step_reply(enum step st)
{
	switch (st) {
	case STEP_CANCEL: return R_AUTH_CANCEL;
	case STEP_LONG: return R_AUTH_LINE_LONG;
	default: return R_NONE;
	}
}

/* The end of every AUTH. pending: throttle_attempt() recorded this
 * attempt as a pending failure; it stays one only for a rejection. */
static enum reply
finish(struct session *s, enum auth_result res, const char *user,
    const char *mech, const struct userdb_entry *e, int pending)
{
	if (pending && res != AUTH_REJECTED)
		throttle_withdraw(s->cfg->throttle, s->peer.addr);
	switch (res) {
	case AUTH_OK:
		copy_str(s->auth_user, sizeof s->auth_user, e->key);
		s->auth_mech = mech;
		log_msg(LOG_INFO, "AUTH %s: %s authenticated", mech, e->key);
		return R_AUTH_OK;
	case AUTH_TEMPFAIL:
		log_msg(LOG_ERR, "AUTH %s: temporary failure for %s", mech, user);
		return R_AUTH_TEMP;
	default:
		break;
	}
	log_msg(LOG_NOTICE, "AUTH %s: failed for %s (%s)", mech, user,
	    res == AUTH_BARRED ? "nosmtp" : res == AUTH_LOCKED ? "locked"
	    : "rejected");
	if (res == AUTH_REJECTED && !pending)
		throttle_failed(s->cfg->throttle, s->peer.addr);
	s->auth_failures++;
	if (s->cfg->auth_delay_ms)
		poll(NULL, 0, (int)s->cfg->auth_delay_ms);
	if (s->auth_failures >= SMTP_AUTH_TRIES) {
		reply_arg(s, R_TOO_MANY_AUTH, s->cfg->hostname);
		s->quit = 1;
		return R_NONE;
	}
	return R_AUTH_BAD;
}

/* While the client's address has too many recent failed logins (on any
 * connection, POP3 included: the state is shared), nothing is verified.
 * Else the attempt is recorded as a pending failure (*pending_r) in the
 * same step, so that parallel sessions cannot all slip in. */
static int
throttled(struct session *s, int *pending_r)
{
	unsigned d = throttle_attempt(s->cfg->throttle, s->peer.addr,
	    pending_r);

	if (d == 0)
		return 0;
	log_msg(LOG_NOTICE, "AUTH refused: peer %s throttled for %u s",
	    s->peer.addr, d);
	return 1;
}

/* The client's response: the initial one on the AUTH line, else its
 * answer to an empty challenge (then in s->line). */
static enum step
response(struct session *s, const char *initial, const char **b64,
    size_t *len)
{
	*b64 = initial;
	*len = strlen(initial);
	if (*initial)
		return STEP_OK;
	*b64 = s->line;
	return challenge(s, "", len);
}

static enum reply
auth_plain(struct session *s, char *initial)
{
	struct sasl_plain p;
	struct userdb_entry e;
	const char *err;
	const char *b64;
	size_t len;
	enum auth_result res;
	enum step st;
	int pending;

	if ((st = response(s, initial, &b64, &len)) != STEP_OK)
		return step_reply(st);
	if (sasl_plain_decode(b64, len, &p, &err) < 0) {
		wipe(s->line, sizeof s->line);
		wipe(&p, sizeof p);
		return R_AUTH_B64;
	}
	wipe(s->line, sizeof s->line);
	if (throttled(s, &pending)) {
		wipe(&p, sizeof p);
		return R_AUTH_THROTTLED;
	}
	if (p.authzid[0] && strcasecmp(p.authzid, p.authcid)) {
		/* acting for another user is not supported */
		res = AUTH_REJECTED;
	} else
		res = auth_password(s->cfg->users, AUTH_SMTP, p.authcid,
		    p.passwd, &e);
	wipe(p.passwd, sizeof p.passwd);
	return finish(s, res, p.authcid, "PLAIN", &e, pending);
}

static enum reply
auth_login(struct session *s, char *initial)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];
	struct userdb_entry e;
	enum auth_result res;
	enum step st;
	size_t len;
	long n;
	int pending;

	if (*initial) {
		n = sasl_login_field(initial, strlen(initial), user, sizeof user);
	} else {
		if ((st = challenge(s, "VXNlcm5hbWU6", &len)) != STEP_OK)
			return step_reply(st);
		n = sasl_login_field(s->line, len, user, sizeof user);
	}
	if (n <= 0 || n >= (long)sizeof user || memchr(user, '\0', (size_t)n))
		return R_AUTH_B64;
	user[n] = '\0';
	if ((st = challenge(s, "UGFzc3dvcmQ6", &len)) != STEP_OK) {
		wipe(s->line, sizeof s->line);
		return step_reply(st);
	}
	n = sasl_login_field(s->line, len, pass, sizeof pass);
	wipe(s->line, sizeof s->line);
	if (n <= 0 || n >= (long)sizeof pass || memchr(pass, '\0', (size_t)n)) {
		wipe(pass, sizeof pass);
		return R_AUTH_B64;
	}
	pass[n] = '\0';
	if (throttled(s, &pending)) {
		wipe(pass, sizeof pass);
		return R_AUTH_THROTTLED;
	}
	res = auth_password(s->cfg->users, AUTH_SMTP, user, pass, &e);
	wipe(pass, sizeof pass);
	return finish(s, res, user, "LOGIN", &e, pending);
}

/* RFC 2195: the server speaks first (no initial response); the answer is
 * "user SP hex HMAC-MD5(apop= secret, challenge)". A user without apop=
 * costs the same computation and gets the same 535 (lib/auth). */
static enum reply
smtp_auth_cram(struct session *s, const char *initial)
{
	char ch[CRAM_CHALLENGE_MAX], ch64[CRAM_CHALLENGE_MAX / 3 * 4 + 8];
	struct cram_response r;
	struct userdb_entry e;
	const char *err;
	enum auth_result res;
	enum step st;
	size_t len;
	long n;
	int pending;

	if (*initial)
		return R_SYNTAX;
	n = cram_challenge(ch, sizeof ch, s->cfg->hostname);
	if (n < 0 || base64_encode((const unsigned char *)ch, (size_t)n, ch64,
	    sizeof ch64) < 0) {
		log_msg(LOG_ERR, "AUTH CRAM-MD5: no challenge: %m");
		return R_AUTH_TEMP;
	}
	if ((st = challenge(s, ch64, &len)) != STEP_OK)
		return step_reply(st);
	if (cram_response_decode(s->line, len, &r, &err) < 0) {
		wipe(s->line, sizeof s->line);
		return R_AUTH_B64;
	}
	wipe(s->line, sizeof s->line);
	if (throttled(s, &pending)) {
		wipe(&r, sizeof r);
		return R_AUTH_THROTTLED;
	}
	res = auth_cram(s->cfg->users, r.user, ch, r.digest, &e);
	wipe(r.digest, sizeof r.digest);
	return finish(s, res, r.user, "CRAM-MD5", &e, pending);
}

static enum reply
auth_external(struct session *s, char *initial)
{
	char authz[SASL_FIELD_MAX];
	struct userdb_entry e;
	const char *b64;
	size_t len;
	enum auth_result res;
	enum step st;

	if ((st = response(s, initial, &b64, &len)) != STEP_OK)
		return step_reply(st);
	if (sasl_external_decode(b64, len, authz, sizeof authz) < 0)
		return R_AUTH_B64;
	if (authz[0] && strcasecmp(authz, s->cert_user))
		res = AUTH_REJECTED;
	else
		res = auth_identity(s->cfg->users, AUTH_SMTP, s->cert_user, &e);
	return finish(s, res, s->cert_user, "EXTERNAL", &e, 0);
}

static enum reply
auth_start(struct session *s, char *args)
{
	char *mech = args, *initial;

	if (s->auth_user[0])
		return R_SEQ_AUTHED;
	if (!(s->cfg->ways & (WAY_PASSWORD | WAY_CERT)))
		return R_AUTH_NONE;
	if (s->cfg->require_tls && !s->tls_on)
		return R_NEED_TLS;
	if (!*mech)
		return R_SYNTAX;
	initial = strchr(mech, ' ');
	if (initial) {
		*initial++ = '\0';
		while (*initial == ' ')
			initial++;
		if (strchr(initial, ' '))
			return R_SYNTAX;
	} else
		initial = mech + strlen(mech);
	if (strlen(initial) > SMTP_AUTH_LINE_MAX - 20)
		return R_AUTH_LINE_LONG;
	if (!strcasecmp(mech, "PLAIN") || !strcasecmp(mech, "LOGIN")) {
		if (!(s->cfg->ways & WAY_PASSWORD))
			return R_AUTH_MECH;
		if (!auth_password_available(s))
			return R_AUTH_ENCRYPT;
		return (mech[0] | 0x20) == 'p' ? auth_plain(s, initial)
		    : auth_login(s, initial);
	}
	if (!strcasecmp(mech, "CRAM-MD5") && s->cfg->odmr && s->apop_users &&
	    (s->cfg->ways & WAY_PASSWORD)) {
		if (!auth_cram_available(s))
			return R_AUTH_ENCRYPT;
		return smtp_auth_cram(s, initial);
	}
	if (!strcasecmp(mech, "EXTERNAL") && auth_external_available(s))
		return auth_external(s, initial);
	return R_AUTH_MECH;
}

enum reply
smtp_auth(struct session *s, char *args)
{
	enum reply r;

	/* the command line may carry an initial response: no copy of it
	 * stays in the input buffers, nor in s->line afterwards */
	io_wipe_consumed(&s->io);
	r = auth_start(s, args);
	wipe(s->line, sizeof s->line);
	return r;
}
